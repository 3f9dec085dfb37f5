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
bet on its event loop without a worker-thread hop (``wallet.api.hot_bets``). Under load
it places the bets that queue up behind its calls together, in one transaction
(``wallet_place_bets``, migration 0006), each exactly as ``wallet_place_bet`` would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
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

# wallet_place_bet's arguments in order, with their types; then the accounts (text[])
_ARGS = (("scope", "text"), ("key", "text"), ("fp", "text"), ("player", "text"), ("currency", "text"),
         ("gid", "text"), ("round", "text"), ("amount", "bigint"), ("game", "text"), ("now", "float8"),
         ("actor", "text"), ("action", "text"), ("request_id", "text"), ("payload", "text"),
         ("stream_json", "text"), ("tail", "text"), ("txn", "text"), ("house", "text"))
_SQL = ("SELECT cash, bonus, pending, receivable FROM wallet_place_bet("
        + "".join(f"%({name})s::{kind}, " for name, kind in _ARGS) + "%(accounts)s::text[])")
# migration 0006: one element per bet, the accounts flattened (five per bet)
_BATCH_SQL = ("SELECT ord, cash, bonus, pending, receivable FROM wallet_place_bets("
              + "".join(f"%({name})s::{kind}[], " for name, kind in _ARGS) + "%(accounts)s::text[])")
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
    """The same bets on a psycopg ``AsyncConnectionPool`` (autocommit connections), for a
    server that takes bets on its event loop; opened and closed with the server.

    At most ``calls`` calls run at once. A bet that arrives while they are all busy waits
    for the next free one, which places every bet waiting by then (up to ``max_batch``)
    in one ``wallet_place_bets`` call, one transaction (migration 0006). Under light load
    each bet is a call of its own and waits for nothing; under heavy load the commits and
    round trips are shared: about two fifths of the database's time per bet. Each answer
    comes only after its commit.

    One call per process placed the most bets on a 2-core machine: with 16 clients, about
    2,800 bets/s against 2,400 to 2,500 with two or three (fewer, larger batches; the
    server's processes give the parallelism)."""

    def __init__(self, url: str | sa.URL, *, max_size: int = 2, calls: int = 1,
                 max_batch: int = 32, on_batch: Callable[[int], None] | None = None) -> None:
        from psycopg_pool import AsyncConnectionPool

        conninfo = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool: AsyncConnectionPool = AsyncConnectionPool(
            conninfo, min_size=2, max_size=max_size, open=False,
            kwargs={"autocommit": True, "application_name": APPLICATION_NAME})
        self.available = False  # until opened
        self.calls = calls
        self.max_batch = max_batch
        self.on_batch = on_batch  # told each call's number of bets
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[Row | None]]] = []
        self._busy = 0  # calls running; counted down by the call itself, with no await between
        # its last look at the queue and the count, so that no bet is left waiting
        self._callers: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        await self._pool.open()
        self.available = True

    async def close(self) -> None:
        self.available = False
        await asyncio.gather(*self._callers, return_exceptions=True)  # let the bets taken finish
        await self._pool.close()

    async def place_bet(self, cmd: PlaceBet, *, idempotency: IdempotencyKey | None, actor: str,
                        request_id: str | None, now: float) -> dict[str, Any] | None:
        """As ``FastBets.place_bet``; if the connection failed, the error is raised (the bet
        may have committed: the unit of work's replay tells)."""
        if not self.available:
            return None
        params = bet_params(cmd, idempotency=idempotency, actor=actor, request_id=request_id, now=now)
        answer: asyncio.Future[Row | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((params, answer))
        if self._busy < self.calls:
            self._busy += 1
            caller = asyncio.create_task(self._call_while_waiting())
            self._callers.add(caller)
            caller.add_done_callback(self._callers.discard)
        row = await answer
        return None if row is None else bet_answer(params, row)

    async def _call_while_waiting(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:self.max_batch]
                del self._waiting[:self.max_batch]
                try:
                    await self._place(batch)
                except BaseException as exc:  # cancelled: nobody is left waiting for ever
                    for _, answer in batch:
                        _settle(answer, exc=exc)
                    raise
        finally:
            self._busy -= 1

    async def _place(self, batch: list[tuple[dict[str, Any], asyncio.Future[Row | None]]]) -> None:
        if self.on_batch is not None:
            self.on_batch(len(batch))
        if len(batch) > 1:
            try:
                rows = await self._call_batch([params for params, _ in batch])
            except Exception as exc:  # rolled back, or (the connection lost) a bet's own call tells
                self._batch_failed(exc)
            else:
                for (_, answer), row in zip(batch, rows, strict=True):
                    _settle(answer, row)
                return
        for params, answer in batch:
            try:
                _settle(answer, await self._call_one(params))
            except Exception as exc:
                _settle(answer, exc=exc)

    async def _call_one(self, params: dict[str, Any]) -> Row | None:
        try:
            async with self._pool.connection() as conn, conn.cursor() as cur:
                await cur.execute(_SQL, params)
                return await cur.fetchone()
        except Exception as exc:
            if not self._refused(exc):
                raise
            return None

    async def _call_batch(self, batch: list[dict[str, Any]]) -> list[Row | None]:
        """Each bet's row, or None: sorted by player, so that concurrent batches take the
        players' locks in one order and cannot deadlock on them."""
        order = sorted(range(len(batch)), key=lambda i: batch[i]["player"])
        args: dict[str, Any] = {name: [batch[i][name] for i in order] for name, _ in _ARGS}
        args["accounts"] = [a for i in order for a in batch[i]["accounts"]]
        async with self._pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(_BATCH_SQL, args)
            placed = await cur.fetchall()
        rows: list[Row | None] = [None] * len(batch)
        for ord_, *row in placed:
            rows[order[ord_ - 1]] = tuple(row)
        return rows

    def _batch_failed(self, exc: Exception) -> None:
        """Each bet is then placed on its own: one the batch did commit (the connection
        died in the commit) finds its own record there, and goes to the unit of work."""
        state = getattr(exc, "sqlstate", None)
        if state == _UNDEFINED_FUNCTION:
            log.warning("wallet_place_bets is missing (migration 0006 not applied): bets are "
                        "placed one call each")
            self.max_batch = 1
        elif not (state or "").startswith(_FALL_BACK_CLASSES):
            log.warning("wallet_place_bets failed (%s: %s): each bet is placed on its own",
                        state or type(exc).__name__, str(exc).strip())


def _settle(answer: asyncio.Future[Row | None], row: Row | None = None, *,
            exc: BaseException | None = None) -> None:
    if answer.done():  # its request was cancelled (the client went away)
        return
    if isinstance(exc, asyncio.CancelledError):
        answer.cancel()
    elif exc is None:
        answer.set_result(row)
    else:
        answer.set_exception(exc)
