"""Bets placed in batches (``AsyncFastBets`` over ``wallet_place_bets``): as if one at a time.

Real concurrency on PostgreSQL: bets gathered on one event loop queue behind the pool's
calls and share a transaction. They must leave the answers, ledger, audit chain (hashes
included) and idempotency records of the same bets placed one by one through the unit
of work. A batch the database refuses is placed bet by bet; a connection killed
mid-batch leaves nothing of it behind, and the pool recovers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.api_harness import START, build_store
from tests.integration.test_api_hot_bets import state
from wallet.adapters.sql import SqlStore, upgrade
from wallet.adapters.sql.bets import APPLICATION_NAME, AsyncFastBets
from wallet.adapters.sql.scratch import scratch_database
from wallet.domain import commands as c
from wallet.domain.errors import DomainError
from wallet.domain.idempotency import IdempotencyKey
from wallet.service.clock import ManualClock
from wallet.service.wallet import Wallet

pytestmark = pytest.mark.postgres
PLAYERS = [f"p{i:02}" for i in range(12)]
ARRIVAL = [PLAYERS[5 * i % 12] for i in range(12)]  # not the order a batch is placed in (by player)
ACTOR = "aggregator:hub88"


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    s = build_store("postgres", request, tmp_path_factory)
    yield s
    s.close()


def cash(player: str) -> int:
    """Each player's deposit differs, so that an answer given to the wrong bet shows."""
    return 10_000 + 1_000 * PLAYERS.index(player)


def fund(store: SqlStore) -> None:
    wallet = Wallet(store, ManualClock(START))
    for p in PLAYERS:
        wallet.execute(c.OpenPlayer(p, "EUR"))
        wallet.execute(c.CreditDeposit(p, "acme", f"d-{p}", cash(p), "EUR"))


def wave(n: int) -> list[c.PlaceBet]:
    return [c.PlaceBet("hub88", f"{p}-{n}", p, f"r-{p}-{n}", 100 + n, "EUR", "slots") for p in ARRIVAL]


def key(cmd: c.PlaceBet) -> IdempotencyKey:
    return IdempotencyKey("game:hub88", cmd.transaction_id)


def place(bets: AsyncFastBets, cmds: list[c.PlaceBet], now: float) -> Any:
    """All of ``cmds`` at once, as concurrent requests would place them."""
    return asyncio.gather(*(bets.place_bet(cmd, idempotency=key(cmd), actor=ACTOR,
                                           request_id=f"req-{cmd.transaction_id}", now=now)
                            for cmd in cmds), return_exceptions=True)


def hot(url: str | sa.URL, sizes: list[int]) -> AsyncFastBets:
    """One call at a time, so that whatever arrives meanwhile is batched."""
    return AsyncFastBets(url, max_size=4, calls=1, on_batch=sizes.append)


def test_batched_bets_leave_what_the_unit_of_work_leaves_one_by_one(store: SqlStore) -> None:
    fund(store)
    clock = ManualClock(START)
    wallet = Wallet(store, clock)
    expected = []
    for n in range(3):
        clock.advance(10)
        expected += [wallet.execute(cmd, idempotency=key(cmd), actor=ACTOR,
                                    request_id=f"req-{cmd.transaction_id}") for cmd in wave(n)]
    one_by_one = state(store)
    store.truncate_all()
    fund(store)
    sizes: list[int] = []

    async def run() -> list[Any]:
        bets = hot(store.engine.url, sizes)
        await bets.open()
        try:
            return [a for n in range(3) for a in await place(bets, wave(n), START + 10 * (n + 1))]
        finally:
            await bets.close()

    answers = asyncio.run(run())
    assert max(sizes) > 1 and sum(sizes) == 36, sizes  # the bets did share calls
    assert answers == expected
    assert state(store) == one_by_one
    assert Wallet(store, clock).verify_audit() == []


def test_a_refused_batch_is_placed_bet_by_bet(store: SqlStore) -> None:
    """One bet in the batch fails inside the database (as a lost race would): the batch
    rolls back whole, the others are placed on their own, the failed one goes to the unit
    of work (None), and nothing is written twice."""
    fund(store)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("""
            CREATE FUNCTION test_lost_race() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.player_id = 'p05' THEN
                RAISE EXCEPTION 'a concurrent unit stored it first' USING ERRCODE = 'unique_violation';
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER test_lost_race BEFORE INSERT ON game_txns
              FOR EACH ROW EXECUTE FUNCTION test_lost_race();""")
    sizes: list[int] = []

    async def run() -> list[Any]:
        bets = hot(store.engine.url, sizes)
        await bets.open()
        try:
            return await place(bets, wave(0), START)
        finally:
            await bets.close()

    try:
        answers = asyncio.run(run())
    finally:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER test_lost_race ON game_txns; DROP FUNCTION test_lost_race()")
    assert sizes == [12]
    assert [a is None for a in answers] == [p == "p05" for p in ARRIVAL]
    wallet = Wallet(store, ManualClock(START))
    for p, answer in zip(ARRIVAL, answers, strict=True):
        assert wallet.balance(p, "EUR")["available"] == cash(p) - (0 if p == "p05" else 100)
        if answer is not None:
            assert answer["balance"]["available"] == cash(p) - 100
    assert wallet.ledger_violations() == [] and wallet.verify_audit() == []


def test_a_batch_whose_connection_is_killed_is_placed_bet_by_bet(store: SqlStore) -> None:
    """A real fault: the batch waits on a player's row lock held from outside, and the
    server terminates its connection. Nothing of the batch stays; each bet is placed on
    its own (the locked player's once the lock goes), and each is debited once."""
    fund(store)
    blocker = store.engine.connect()
    blocker.exec_driver_sql("SELECT 1 FROM players WHERE id = 'p00' FOR UPDATE")
    sizes: list[int] = []

    async def run() -> list[Any]:
        bets = hot(store.engine.url, sizes)
        await bets.open()
        try:
            batch = asyncio.ensure_future(place(bets, wave(0), START))
            assert await asyncio.to_thread(waiting_on_lock, store, kill=True) == 1
            await asyncio.to_thread(waiting_on_lock, store, kill=False)  # p00's own call
            with store.engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT count(*) FROM game_txns").scalar_one() == 0
            blocker.rollback()
            return await batch
        finally:
            await bets.close()

    try:
        answers = asyncio.run(run())
    finally:
        blocker.close()
    assert sizes == [12]
    assert [a["balance"]["available"] for a in answers] == [cash(p) - 100 for p in ARRIVAL], answers
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM game_txns").scalar_one() == 12


def waiting_on_lock(store: SqlStore, *, kill: bool) -> int:
    """Once the hot path's connection waits on a lock: how many do (terminated if ``kill``)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with store.engine.connect() as conn:  # a fresh snapshot of pg_stat_activity each time
            waiting = conn.exec_driver_sql(
                f"SELECT count({'pg_terminate_backend(pid)' if kill else '*'}) FROM pg_stat_activity "
                "WHERE application_name = %(n)s AND wait_event_type = 'Lock'", {"n": APPLICATION_NAME}
            ).scalar_one()
        if waiting:
            return waiting
        time.sleep(0.02)
    raise AssertionError("the hot path never waited on the lock")


def test_without_the_batch_function_bets_are_placed_one_call_each(pg_url: str) -> None:
    """A database migrated to 0005 only: every bet is still placed, one call each."""
    with scratch_database(pg_url, "sandbox_test_nobatch") as url:
        upgrade(url)
        store = SqlStore(url)
        try:
            fund(store)
            with store.engine.begin() as conn:
                conn.exec_driver_sql("DROP FUNCTION wallet_place_bets")
            sizes: list[int] = []

            async def run() -> tuple[list[Any], int]:
                bets = hot(url, sizes)
                await bets.open()
                try:
                    first = await place(bets, wave(0), START)
                    return first + await place(bets, wave(1), START + 1), bets.max_batch
                finally:
                    await bets.close()

            answers, max_batch = asyncio.run(run())
            assert max_batch == 1
            assert all(a is not None and not isinstance(a, Exception) for a in answers), answers
            assert sizes[0] == 12 and set(sizes[1:]) == {1}  # refused once, then one at a time
            assert Wallet(store, ManualClock(START)).balance("p03", "EUR")["available"] == cash("p03") - 201
        finally:
            store.close()


def test_bets_placed_one_after_another_each_find_a_call(store: SqlStore) -> None:
    """A bet that arrives just as the last call ends must start a new one, not wait for ever."""
    fund(store)

    async def run() -> list[Any]:
        bets = hot(store.engine.url, [])
        await bets.open()
        try:
            async with asyncio.timeout(10):  # in this task: no task switch hides the race
                return [await bets.place_bet(cmd, idempotency=key(cmd), actor=ACTOR, request_id=None,
                                             now=START) for cmd in wave(0)]
        finally:
            await bets.close()

    answers = asyncio.run(run())
    assert [a["balance"]["available"] for a in answers] == [cash(p) - 100 for p in ARRIVAL]


# a wave: per player (each at most once) a new bet of some amount, or a retry of an earlier
# bet's id, with its own amount (a replay) or another (a reused key)
_bet = st.tuples(st.integers(1, 16_000), st.sampled_from(["new", "replay", "reuse"]))
_waves = st.lists(st.dictionaries(st.sampled_from(PLAYERS[:6]), _bet, min_size=1), min_size=1, max_size=3)


@settings(max_examples=12, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(waves=_waves)
def test_any_waves_of_bets_end_as_the_unit_of_work_one_by_one(store: SqlStore,
                                                               waves: list[dict[str, Any]]) -> None:
    """Whatever bets arrive together (too big for the cash, replayed, a key reused with
    another amount), the batched hot path, with the unit of work taking what it leaves (as
    the route does), answers and records what the unit of work alone does one by one."""
    plan: list[list[c.PlaceBet]] = []
    placed: dict[str, c.PlaceBet] = {}
    for n, bets in enumerate(waves):
        cmds = []
        for p, (amount, kind) in sorted(bets.items(), key=lambda kv: ARRIVAL.index(kv[0])):
            earlier = placed.get(p)
            if kind == "new" or earlier is None:
                cmd = c.PlaceBet("hub88", f"{p}-{n}", p, f"r-{p}-{n}", amount, "EUR")
            else:
                cmd = earlier if kind == "replay" else dataclasses.replace(earlier, amount=amount + 1)
            placed.setdefault(p, cmd)
            cmds.append(cmd)
        plan.append(cmds)

    def outcome(wallet: Wallet, cmd: c.PlaceBet) -> Any:
        try:
            return wallet.execute(cmd, idempotency=key(cmd), actor=ACTOR, request_id=None)
        except DomainError as exc:
            return exc.code

    store.truncate_all()
    fund(store)
    clock = ManualClock(START)
    wallet = Wallet(store, clock)
    expected = []
    for cmds in plan:
        clock.advance(10)
        expected.append([outcome(wallet, cmd) for cmd in cmds])
    one_by_one = state(store)
    store.truncate_all()
    fund(store)
    clock = ManualClock(START)
    wallet = Wallet(store, clock)

    async def run() -> list[list[Any]]:
        bets = hot(store.engine.url, [])
        await bets.open()
        try:
            got = []
            for cmds in plan:
                clock.advance(10)
                answers = await asyncio.gather(*(bets.place_bet(
                    cmd, idempotency=key(cmd), actor=ACTOR, request_id=None, now=clock.now())
                    for cmd in cmds))
                got.append([outcome(wallet, cmd) if a is None else a
                            for cmd, a in zip(cmds, answers, strict=True)])
            return got
        finally:
            await bets.close()

    assert asyncio.run(run()) == expected
    assert state(store) == one_by_one


def test_concurrent_batches_take_the_players_locks_in_one_order(store: SqlStore) -> None:
    """Two calls at once, each a batch over the same twelve players, arriving in opposite
    orders: placed by player, the second waits for the first instead of deadlocking."""
    fund(store)
    failed: list[Exception] = []

    async def run() -> list[Any]:
        bets = AsyncFastBets(store.engine.url, max_size=4, calls=2, max_batch=12)
        bets._batch_failed = failed.append  # type: ignore[method-assign]
        await bets.open()
        try:
            return await place(bets, wave(0) + wave(1)[::-1], START)
        finally:
            await bets.close()

    answers = asyncio.run(run())
    assert failed == []
    assert None not in answers
    wallet = Wallet(store, ManualClock(START))
    assert [wallet.balance(p, "EUR")["available"] for p in PLAYERS] == [cash(p) - 201 for p in PLAYERS]
