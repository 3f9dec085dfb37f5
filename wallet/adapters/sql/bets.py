"""PostgreSQL: a plain bet in one round trip, through migration 0003's ``wallet_place_bet``.

Round trips are the cost of a bet (see ``uow.py``): the unit of work needs 8 for one
with an idempotency key, this needs one, its commit included (the call runs in its
own autocommit transaction, ``synchronous_commit`` as configured). The rules stay in
Python: this module computes the account ids, the idempotency fingerprint, the
audit payload and the hash input, and the answer it returns is the one the unit of
work would have returned (and stored, so a replay is identical). The function only
takes the plain case; for anything else, or a lost race, it writes nothing and
``place_bet`` returns None: the caller then runs ``Wallet.execute``, which answers,
refuses, replays or retries exactly as before.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from wallet.domain.audit import canonical
from wallet.domain.commands import PlaceBet
from wallet.domain.game import game_txn_id
from wallet.domain.idempotency import IdempotencyKey, fingerprint
from wallet.domain.ledger import PLAYER_ACCOUNT_TYPES, AccountType, account_id, house
from wallet.domain.ledger import TxnKind as K

if TYPE_CHECKING:
    from wallet.adapters.sql.store import SqlStore

log = logging.getLogger(__name__)

# the order wallet_place_bet expects its account ids in
_ACCOUNT_ORDER = (AccountType.PLAYER_CASH, AccountType.PLAYER_BONUS, AccountType.WITHDRAWAL_HOLD,
                  AccountType.PENDING_DEPOSIT, AccountType.RECEIVABLE)
assert set(_ACCOUNT_ORDER) == set(PLAYER_ACCOUNT_TYPES), "wallet_place_bet reads every player account"

_SQL = (
    "SELECT cash, bonus, pending, receivable FROM wallet_place_bet("
    "%(scope)s::text, %(key)s::text, %(fp)s::text, %(player)s::text, %(currency)s::text, %(gid)s::text, "
    "%(round)s::text, %(amount)s::bigint, %(game)s::text, %(now)s::float8, %(actor)s::text, "
    "%(action)s::text, %(request_id)s::text, %(payload)s::text, %(stream_json)s::text, "
    "%(tail)s::text, %(txn)s::text, %(house)s::text, %(accounts)s::text[])"
)
# lost races (unique keys), serialization failures and deadlocks: the unit of work sorts them
# out; any other error with a SQLSTATE also rolled the call back, and is logged as well
_FALL_BACK_CLASSES = ("23", "40")
_UNDEFINED_FUNCTION = "42883"


class FastBets:
    """One-statement bets for a PostgreSQL ``SqlStore``; off until the function is found."""

    def __init__(self, store: SqlStore) -> None:
        self._engine = store.engine
        self._available: bool | None = None  # unknown until the first call

    def place_bet(self, cmd: PlaceBet, *, idempotency: IdempotencyKey | None, actor: str,
                  request_id: str | None, now: float) -> dict[str, Any] | None:
        """The bet's answer, committed; or None, having written nothing: use the unit of work."""
        if self._available is False:
            return None
        gid = game_txn_id(cmd.aggregator, cmd.transaction_id)
        txn = f"{K.BET.value}:{gid}"
        payload = cmd.payload()
        stream = cmd.player_id  # the audit stream of a player's operation (Wallet._audit)
        params = {
            "scope": idempotency.scope if idempotency else None,
            "key": idempotency.key if idempotency else None,
            "fp": fingerprint(cmd.action, payload),
            "player": cmd.player_id, "currency": cmd.currency, "gid": gid, "round": cmd.round_id,
            "amount": cmd.amount, "game": cmd.game_id, "now": now, "actor": actor,
            "action": cmd.action, "request_id": request_id, "payload": canonical(payload),
            # entry_hash's canonical list, split around prev_hash and seq, which the database adds
            "stream_json": canonical(stream),
            "tail": canonical([repr(float(now)), actor, cmd.action, request_id, txn, canonical(payload)])[1:],
            "txn": txn, "house": house(AccountType.HOUSE_GAME, cmd.currency),
            "accounts": [account_id(k, cmd.player_id, cmd.currency) for k in _ACCOUNT_ORDER],
        }
        row = self._call(params)
        if row is None:
            return None
        cash, bonus, pending, receivable = row
        balance = {"available": cash, "bonus": bonus, "currency": cmd.currency, "pending": pending,
                   "receivable": receivable, "total": cash + bonus + pending + receivable}
        # as Wallet.execute returns it: keys sorted, as they come back from storage
        return {"balance": balance, "bonus_converted": False, "player_id": cmd.player_id,
                "transaction_id": txn}

    def _call(self, params: dict[str, Any]) -> tuple[int, int, int, int] | None:
        raw = self._engine.raw_connection()
        dbapi: Any = raw.driver_connection
        try:
            dbapi.autocommit = True  # the call is its own transaction: one round trip
            try:
                with dbapi.cursor() as cur:
                    cur.execute(_SQL, params)
                    row = cur.fetchone()
            finally:
                if not dbapi.closed:
                    dbapi.autocommit = False
        except Exception as exc:
            state = getattr(exc, "sqlstate", None) or ""
            if state == _UNDEFINED_FUNCTION:
                log.warning("wallet_place_bet is missing (migration 0003 not applied): bets use the "
                            "unit of work")
                self._available = False
                return None
            if not state:  # the connection itself failed: do not hand it back to the pool
                raw.invalidate(exc)
                raise
            if not state.startswith(_FALL_BACK_CLASSES):  # e.g. an amount beyond BIGINT (22003)
                log.warning("wallet_place_bet failed (%s: %s): the unit of work takes the bet",
                            state, str(exc).strip())
            return None  # rolled back, nothing written: the unit of work answers as it would
        finally:
            raw.close()
        self._available = True
        return None if row is None else (row[0], row[1], row[2], row[3])

