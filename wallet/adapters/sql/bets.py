"""PostgreSQL: a plain bet in one round trip, through migration 0003's ``wallet_place_bet``.

Round trips are the cost of a bet (see ``uow.py``): the unit of work needs 8 for one
with an idempotency key, this needs one, its commit included (the call runs in its
own autocommit transaction, ``synchronous_commit`` as configured). The rules stay in
Python: ``bet_params`` computes the account ids, the idempotency fingerprint, the
audit payload and the hash input, and ``bet_answer`` builds the answer the unit of
work would have returned (and stored, so a replay is identical). The function only
takes the plain case; for anything else, or a lost race, it writes nothing and the
caller gets None: it then runs ``Wallet.execute``, which answers, refuses, replays or
retries exactly as before.

Two callers share that pure core: ``FastBets`` on the store's own (SQLAlchemy, sync)
pool, and ``AsyncFastBets`` on a psycopg async pool, which lets the HTTP server take a
bet on its event loop without a worker-thread hop (``wallet.api.hot_bets``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from wallet.domain.audit import canonical
from wallet.domain.commands import PlaceBet
from wallet.domain.game import game_txn_id
from wallet.domain.idempotency import IdempotencyKey, fingerprint
from wallet.domain.ledger import PLAYER_ACCOUNT_TYPES, AccountType, account_id, house
from wallet.domain.ledger import TxnKind as K

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

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
Row = tuple[int, int, int, int]
APPLICATION_NAME = "wallet-hot-bets"  # the async pool's connections, as pg_stat_activity shows them


def bet_params(cmd: PlaceBet, *, idempotency: IdempotencyKey | None, actor: str,
               request_id: str | None, now: float) -> dict[str, Any]:
    """``wallet_place_bet``'s arguments: every decision the domain makes, made here."""
    gid = game_txn_id(cmd.aggregator, cmd.transaction_id)
    txn = f"{K.BET.value}:{gid}"
    payload = cmd.payload()
    stream = cmd.player_id  # the audit stream of a player's operation (Wallet._audit)
    return {
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


def bet_answer(params: dict[str, Any], row: Row) -> dict[str, Any]:
    """As ``Wallet.execute`` returns it: keys sorted, as they come back from storage."""
    cash, bonus, pending, receivable = row
    balance = {"available": cash, "bonus": bonus, "currency": params["currency"], "pending": pending,
               "receivable": receivable, "total": cash + bonus + pending + receivable}
    return {"balance": balance, "bonus_converted": False, "player_id": params["player"],
            "transaction_id": params["txn"]}


class _OneStatementBets:
    available: bool

    def _refused(self, exc: Exception) -> bool:
        """True: the database refused the call and rolled it back, nothing written (the unit
        of work answers; a missing function turns this path off for good). False: the
        connection itself failed (do not reuse it)."""
        state = getattr(exc, "sqlstate", None) or None
        if state == _UNDEFINED_FUNCTION:
            log.warning("wallet_place_bet is missing (migration 0003 not applied): bets use the "
                        "unit of work")
            self.available = False
        elif state and not state.startswith(_FALL_BACK_CLASSES):  # e.g. beyond BIGINT (22003)
            log.warning("wallet_place_bet failed (%s: %s): the unit of work takes the bet",
                        state, str(exc).strip())
        return state is not None


class FastBets(_OneStatementBets):
    """One-statement bets on a PostgreSQL ``SqlStore``'s pool; off once the function is
    found missing."""

    def __init__(self, store: SqlStore) -> None:
        self._engine = store.engine
        self.available = True

    def place_bet(self, cmd: PlaceBet, *, idempotency: IdempotencyKey | None, actor: str,
                  request_id: str | None, now: float) -> dict[str, Any] | None:
        """The bet's answer, committed; or None, having written nothing: use the unit of work."""
        if not self.available:
            return None
        params = bet_params(cmd, idempotency=idempotency, actor=actor, request_id=request_id, now=now)
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
            if not self._refused(exc):  # do not hand a failed connection back to the pool
                raw.invalidate(exc)
                raise
            return None
        finally:
            raw.close()
        return None if row is None else bet_answer(params, row)


class AsyncFastBets(_OneStatementBets):
    """The same call on a psycopg ``AsyncConnectionPool`` (autocommit connections), for a
    server that takes bets on its event loop. Opened and closed with the server."""

    def __init__(self, url: str | sa.URL, *, max_size: int = 16) -> None:
        from psycopg_pool import AsyncConnectionPool

        conninfo = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool: AsyncConnectionPool = AsyncConnectionPool(
            conninfo, min_size=2, max_size=max_size, open=False,
            kwargs={"autocommit": True, "application_name": APPLICATION_NAME})
        self.available = False  # until opened

    async def open(self) -> None:
        await self._pool.open()
        self.available = True

    async def close(self) -> None:
        self.available = False
        await self._pool.close()

    async def place_bet(self, cmd: PlaceBet, *, idempotency: IdempotencyKey | None, actor: str,
                        request_id: str | None, now: float) -> dict[str, Any] | None:
        """As ``FastBets.place_bet``; a failed connection is discarded by the pool and the
        error propagates."""
        if not self.available:
            return None
        params = bet_params(cmd, idempotency=idempotency, actor=actor, request_id=request_id, now=now)
        try:
            async with self._pool.connection() as conn, conn.cursor() as cur:
                await cur.execute(_SQL, params)
                row = await cur.fetchone()
        except Exception as exc:
            if not self._refused(exc):
                raise
            return None
        return None if row is None else bet_answer(params, row)
