"""The one-statement bet on PostgreSQL (migration 0003, ``wallet/adapters/sql/bets.py``).

It must be indistinguishable from the unit of work: the same answer, the same
stored idempotency record (a replay through ``Wallet.execute`` is identical), a
valid audit chain and ledger, and for anything but a plain bet no write at all,
so the unit of work answers (refuses, replays) exactly as before. Real threads
on their own connections mix both paths on the same players.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import make_store
from wallet.adapters.sql import SqlStore
from wallet.api.deps import execute
from wallet.domain import commands as c
from wallet.domain import errors
from wallet.domain.idempotency import IdempotencyKey
from wallet.service.clock import ManualClock
from wallet.service.wallet import Wallet

pytestmark = pytest.mark.postgres
KEY_SCOPE = "game:agg"


@pytest.fixture
def wallet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wallet]:
    store = make_store("postgres", request, tmp_path_factory)
    w = Wallet(store, ManualClock(1_700_000_000.25))
    for pid in ("p1", "p2"):
        w.execute(c.OpenPlayer(pid, "EUR"))
        w.execute(c.CreditDeposit(pid, "acme", f"pay-{pid}", 10_000, "EUR"))
    yield w
    store.close()


def bet(txn: str, amount: int = 100, player: str = "p1", **kw: Any) -> c.PlaceBet:
    return c.PlaceBet("agg", txn, player, kw.pop("round_id", f"r-{txn}"), amount, "EUR", **kw)


def key(txn: str) -> IdempotencyKey:
    return IdempotencyKey(KEY_SCOPE, txn)


def fast(wallet: Wallet, cmd: c.PlaceBet, *, actor: str = "key:hub88",
         request_id: str | None = "req-1") -> dict[str, Any] | None:
    store = wallet.store
    assert isinstance(store, SqlStore) and store.fast_bets is not None
    return store.fast_bets.place_bet(cmd, idempotency=key(cmd.transaction_id), actor=actor,
                                     request_id=request_id, now=wallet.clock.now())


def counts(wallet: Wallet) -> tuple[int, int, int]:
    """Ledger transactions, audit entries, idempotency records."""
    with wallet.store.unit_of_work(read_only=True) as uow:
        txns = len(list(uow.all_transactions()))
    store = wallet.store
    assert isinstance(store, SqlStore)
    with store.engine.connect() as conn:
        records = conn.exec_driver_sql("SELECT count(*) FROM idempotency").scalar_one()
    return txns, len(wallet.audit_log()), records


def intact(wallet: Wallet) -> None:
    assert wallet.verify_audit() == []
    assert wallet.ledger_violations() == []


def test_answers_as_the_unit_of_work_and_replays_identically(wallet: Wallet) -> None:
    first = fast(wallet, bet("t1", game_id="slots"))
    assert first is not None
    # the same bet through the unit of work alone, on the other player: the same shape and values
    store = wallet.store
    assert isinstance(store, SqlStore)
    slow = wallet.execute(bet("t2", player="p2", game_id="slots"), idempotency=key("t2"), actor="key:hub88")
    assert first == {**slow, "player_id": "p1", "transaction_id": "bet:agg:t1"}
    assert first["balance"] == {"available": 9_900, "bonus": 0, "currency": "EUR", "pending": 0,
                                "receivable": 0, "total": 9_900}
    # a retry is answered from the stored record, identically, by either path
    assert wallet.execute(bet("t1", game_id="slots"), idempotency=key("t1")) == first
    assert execute(wallet, bet("t1", game_id="slots"), idempotency=key("t1")) == first
    with pytest.raises(errors.IdempotencyKeyReused):
        execute(wallet, bet("t1", amount=101, game_id="slots"), idempotency=key("t1"))
    # the game record, the ledger transaction and its audit entry
    txn = wallet.transaction("bet:agg:t1")
    assert sorted((p.account, p.amount) for p in txn.postings) == [
        ("house_game:casino:EUR", 100), ("player_cash:p1:EUR", -100)]
    entry = next(e for e in wallet.audit_log() if e.txn_id == "bet:agg:t1")
    assert (entry.stream, entry.actor, entry.action, entry.request_id) == (
        "p1", "key:hub88", "PlaceBet", "req-1")
    intact(wallet)


def test_chains_on_the_unit_of_works_audit_entries(wallet: Wallet) -> None:
    """Entries of both paths alternate on one stream; the chain verifies, with and without
    a request id, and the first entry of a fresh stream starts from the genesis hash."""
    wallet.execute(c.OpenPlayer("p3", "EUR"))
    wallet.execute(c.CreditDeposit("p3", "acme", "pay-p3", 1_000, "EUR"))
    for i in range(6):
        cmd = bet(f"m{i}", player="p3")
        if i % 2:
            assert fast(wallet, cmd, request_id=None if i % 3 else f"rq-é-{i}") is not None
        else:
            wallet.execute(cmd, idempotency=key(cmd.transaction_id))
    assert wallet.balance("p3", "EUR")["available"] == 400
    intact(wallet)


@pytest.mark.parametrize("case", ["overdraft", "locked", "unknown_player", "other_currency",
                                  "bonus", "tombstone", "used_id", "replay"])
def test_anything_but_a_plain_bet_writes_nothing_and_the_unit_of_work_answers(
        wallet: Wallet, case: str) -> None:
    cmd = bet("t1")
    expected: type[errors.DomainError] | None = None
    if case == "overdraft":
        cmd, expected = bet("t1", amount=10_001), errors.InsufficientFunds
    elif case == "locked":
        wallet.execute(c.LockPlayer("p1", "fraud review"))
        expected = errors.PlayerLocked
    elif case == "unknown_player":
        cmd, expected = bet("t1", player="nobody"), errors.PlayerNotFound
    elif case == "other_currency":
        cmd, expected = c.PlaceBet("agg", "t1", "p1", "r", 100, "USD"), errors.InvalidInput
    elif case == "bonus":
        wallet.execute(c.GrantBonus("p1", "b1", 500, "EUR"))
    elif case == "tombstone":
        wallet.execute(c.RollbackBet("agg", "rb1", "p1", "t1"))
        expected = errors.BetRolledBack
    elif case == "used_id":
        wallet.execute(bet("t1", player="p2"))  # the same aggregator transaction id, no key
        expected = errors.AlreadyExists
    elif case == "replay":
        wallet.execute(cmd, idempotency=key("t1"))
    before = counts(wallet)
    assert fast(wallet, cmd) is None
    assert counts(wallet) == before
    if expected is None:
        answer = execute(wallet, cmd, idempotency=key("t1"))
        assert answer == execute(wallet, cmd, idempotency=key("t1"))
    else:
        with pytest.raises(expected):
            execute(wallet, cmd, idempotency=key("t1"))
        with pytest.raises(expected):  # a remembered refusal, or malformed input once more
            execute(wallet, cmd, idempotency=key("t1"))
    intact(wallet)


def test_runs_the_cash_down_to_zero_and_not_below(wallet: Wallet) -> None:
    for i in range(100):
        assert fast(wallet, bet(f"t{i}")) is not None
    assert fast(wallet, bet("t100")) is None
    assert wallet.balance("p1", "EUR")["available"] == 0
    intact(wallet)


def test_threads_mixing_both_paths_keep_balances_keys_and_chains_exact(wallet: Wallet) -> None:
    """8 threads, each on its own pooled connection, bet on two players through both paths,
    every bet sent twice (a retry racing its original): each applies once, every answer
    pair is identical, the funds run out exactly, and the chains verify."""
    n = 160  # 80 bets per player of 130 each: 10_400 > 10_000, so the last few are refused
    results: dict[str, list[Any]] = {}
    lock = threading.Lock()

    def one(i: int) -> None:
        txn = f"c{i // 2}"
        cmd = bet(txn, amount=130, player=f"p{1 + (i // 2) % 2}")
        try:
            if i % 3 == 0:  # the two sends of a bet may take different paths
                out: Any = wallet.execute(cmd, idempotency=key(txn))
            else:
                out = execute(wallet, cmd, idempotency=key(txn), actor="key:hub88")
        except errors.DomainError as err:
            out = type(err).__name__
        with lock:
            results.setdefault(txn, []).append(out)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(2 * n)))
    assert all(len(v) == 2 and v[0] == v[1] for v in results.values()), results
    applied = [t for t, v in results.items() if isinstance(v[0], dict)]
    refused = [t for t, v in results.items() if v[0] == "InsufficientFunds"]
    assert len(applied) + len(refused) == n
    assert len(applied) == 2 * (10_000 // 130)  # 76 per player
    for pid in ("p1", "p2"):
        assert wallet.balance(pid, "EUR")["available"] == 10_000 - 130 * (10_000 // 130)
    intact(wallet)


def test_plans_its_statements_once_per_connection_not_per_bet(wallet: Wallet) -> None:
    """Migration 0004: the balances read (``a.id = ANY (p_accounts)``) runs on the cached
    generic plan, not a custom plan made for each call's account ids. auto_explain shows
    which: a custom plan carries the call's ids as a literal array."""
    import psycopg

    from wallet.adapters.sql.bets import _SQL, bet_params

    store = wallet.store
    assert isinstance(store, SqlStore)
    url = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    plans: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute("LOAD 'auto_explain'")
        except psycopg.errors.InsufficientPrivilege:
            pytest.skip("auto_explain needs a superuser connection")
        for setting in ("auto_explain.log_min_duration = 0", "auto_explain.log_nested_statements = on",
                        "client_min_messages = log"):
            conn.execute(f"SET {setting}")
        conn.add_notice_handler(lambda diag: plans.append(diag.message_primary or ""))
        for i in range(8):  # past the plan cache's five custom plans
            cmd = bet(f"plan-{i}")
            params = bet_params(cmd, idempotency=key(cmd.transaction_id), actor="key:hub88",
                                request_id=None, now=wallet.clock.now())
            assert conn.execute(_SQL, params).fetchone() is not None
            reads = [p for p in plans if "FROM accounts a WHERE a.id = ANY (p_accounts)" in p]
            assert len(reads) == i + 1
            assert "{player_cash:p1:EUR" not in reads[-1], f"bet {i} was planned for its own ids"
    intact(wallet)
