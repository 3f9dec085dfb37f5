"""SQL-specific behaviour of the store, on SQLite and PostgreSQL.

* The ledger invariants hold in the database itself: each constraint and trigger
  fires when raw SQL bypasses the Python validation.
* Database failures reach the port as the errors it promises.
* Locking: a unit that waited for a player's lock sees what the holder committed.
* Migrations go up and down cleanly, and ``tables.py`` mirrors them.
* Real threads against the same three players keep every balance exact.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.conftest import PG_URL, make_store
from wallet.adapters.sql import SqlStore, downgrade, upgrade
from wallet.adapters.sql.scratch import scratch_database
from wallet.adapters.sql.tables import ALL_TABLES, metadata
from wallet.domain import commands as c
from wallet.domain import errors
from wallet.domain.audit import GENESIS, next_entry
from wallet.domain.game import GameTxn, GameTxnKind
from wallet.domain.idempotency import IdempotencyRecord
from wallet.domain.ledger import Account, AccountType, Posting, Transaction, TxnKind
from wallet.service.clock import ManualClock
from wallet.service.unit_of_work import RetryableStoreError
from wallet.service.wallet import Wallet

CASH = "player_cash:p1:EUR"
RECEIVABLE = "receivable:p1:EUR"
CLEARING = "provider_clearing:acme:EUR"


@pytest.fixture
def sqlite_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[SqlStore]:
    store = make_store("sqlite", request, tmp_path_factory)
    yield store  # type: ignore[misc]
    store.close()


@pytest.fixture
def pg_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    store = make_store("postgres", request, tmp_path_factory)
    yield store  # type: ignore[misc]
    store.close()


def _fund(store: SqlStore) -> Wallet:
    wallet = Wallet(store, ManualClock(1_700_000_000.0))
    wallet.execute(c.OpenPlayer("p1", "EUR"))
    wallet.execute(c.CreditDeposit("p1", "acme", "pay-1", 10_000, "EUR"))
    return wallet


@pytest.fixture
def funded(sql_store: SqlStore) -> Wallet:
    """Player p1 with 10_000 EUR cash (and the acme clearing account registered)."""
    return _fund(sql_store)


def sql(wallet: Wallet) -> SqlStore:
    assert isinstance(wallet.store, SqlStore)
    return wallet.store


class Raw:
    """Plain SQL on the store's engine: what a careless script or a buggy adapter could send."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def run(self, *steps: tuple[str, dict[str, Any]]) -> None:
        with self.store.engine.begin() as conn:
            for sql, params in steps:
                conn.execute(sa.text(sql), params)

    @staticmethod
    def posting(txn: str, pos: int, account: str, amount: int, currency: str = "EUR"
                ) -> tuple[str, dict[str, Any]]:
        sql = "INSERT INTO postings (txn_id, pos, account_id, amount, currency) VALUES (:t, :pos, :a, :m, :c)"
        return sql, {"t": txn, "pos": pos, "a": account, "m": amount, "c": currency}

    def header(self, txn: str) -> tuple[str, dict[str, Any]]:
        if self.store.sqlite:  # no identity column on SQLite: the adapter computes seq
            return ("INSERT INTO transactions (id, seq, kind, created_at, meta) VALUES "
                    "(:t, (SELECT coalesce(max(seq), 0) + 1 FROM transactions), 'fee', 0, '{}')", {"t": txn})
        return "INSERT INTO transactions (id, kind, created_at, meta) VALUES (:t, 'fee', 0, '{}')", {"t": txn}

    def transfer(self, txn: str, debit: str, credit: str, amount: int) -> None:
        self.run(self.posting(txn, 0, debit, -amount), self.posting(txn, 1, credit, amount), self.header(txn))


def cash(wallet: Wallet) -> int:
    return wallet.balance("p1", "EUR")["available"]


# --- the raw path works, so the refusals below are the constraints' doing --------------


def test_raw_balanced_transaction_commits_and_updates_stored_balance(funded: Wallet) -> None:
    Raw(sql(funded)).transfer("raw-ok", CLEARING, CASH, 250)
    assert cash(funded) == 10_250  # the postings trigger maintained the stored balance
    assert funded.transaction("raw-ok").sums() == {"EUR": 0}
    assert funded.ledger_violations() == []


# --- balanced transactions ----------------------------------------------------------------


def test_unbalanced_transaction_refused(funded: Wallet) -> None:
    raw = Raw(sql(funded))
    with pytest.raises(sa.exc.IntegrityError, match="unbalanced"):
        raw.run(raw.posting("t", 0, CLEARING, -5), raw.posting("t", 1, CASH, 4), raw.header("t"))
    assert cash(funded) == 10_000


def test_each_currency_balances_on_its_own(funded: Wallet) -> None:
    funded.execute(c.OpenCurrency("p1", "USD"))
    raw = Raw(sql(funded))
    with pytest.raises(sa.exc.IntegrityError, match="unbalanced"):  # -5 EUR + 5 USD is not zero
        raw.run(raw.posting("t", 0, CASH, -5), raw.posting("t", 1, "player_cash:p1:USD", 5, "USD"),
                raw.header("t"))


def test_header_needs_two_postings(funded: Wallet) -> None:
    raw = Raw(sql(funded))
    with pytest.raises(sa.exc.IntegrityError, match="unbalanced"):
        raw.run(raw.header("empty"))


def test_postings_without_header_fail_at_commit(funded: Wallet) -> None:
    raw = Raw(sql(funded))
    with pytest.raises(sa.exc.IntegrityError, match=r"(?i)foreign key"):
        raw.run(raw.posting("orphan", 0, CLEARING, -5), raw.posting("orphan", 1, CASH, 5))
    assert cash(funded) == 10_000


def test_posted_transaction_is_sealed(funded: Wallet) -> None:
    raw = Raw(sql(funded))
    with pytest.raises(sa.exc.IntegrityError, match="sealed"):
        raw.run(raw.posting("deposit:acme:pay-1", 7, CLEARING, -5),
                raw.posting("deposit:acme:pay-1", 8, CASH, 5))


@pytest.mark.parametrize("table", ["postings", "transactions", "audit_log"])
@pytest.mark.parametrize("statement", ["UPDATE {table} SET {column} = {column}", "DELETE FROM {table}"])
def test_ledger_and_audit_are_append_only(funded: Wallet, table: str, statement: str) -> None:
    column = {"postings": "amount", "transactions": "kind", "audit_log": "actor"}[table]
    with pytest.raises(sa.exc.IntegrityError, match="append-only"):
        Raw(sql(funded)).run((statement.format(table=table, column=column), {}))
    assert funded.ledger_violations() == []
    assert funded.verify_audit() == []


# --- postings ------------------------------------------------------------------------------


def test_zero_amount_refused(funded: Wallet) -> None:
    raw = Raw(sql(funded))
    with pytest.raises(sa.exc.IntegrityError, match="ck_postings_amount_nonzero"):
        raw.run(raw.posting("t", 0, CLEARING, 0), raw.posting("t", 1, CASH, 0), raw.header("t"))


def test_posting_currency_must_be_the_accounts(funded: Wallet) -> None:
    raw = Raw(sql(funded))
    with pytest.raises(sa.exc.IntegrityError, match=r"currency_matches_account|not in that currency"):
        raw.run(raw.posting("t", 0, CLEARING, -5, "USD"), raw.posting("t", 1, CASH, 5, "USD"),
                raw.header("t"))


def test_posting_to_unknown_player_account_refused(funded: Wallet) -> None:
    raw = Raw(sql(funded))
    with pytest.raises(sa.exc.IntegrityError, match="unknown account"):
        raw.transfer("t", CLEARING, "player_cash:ghost:EUR", 5)


def test_house_account_ids_must_name_a_known_type(funded: Wallet) -> None:
    """House and provider accounts are registered on first use, but only well-formed ones."""
    raw = Raw(sql(funded))
    with pytest.raises(sa.exc.IntegrityError, match="ck_accounts_type"):
        raw.transfer("t", "house_gaem:casino:EUR", CASH, 5)
    raw.transfer("t", "house_game:casino:EUR", CASH, 5)
    assert cash(funded) == 10_005


# --- balances ------------------------------------------------------------------------------


def test_cash_cannot_go_negative(funded: Wallet) -> None:
    with pytest.raises(sa.exc.IntegrityError, match="ck_accounts_floor"):
        Raw(sql(funded)).transfer("t", CASH, CLEARING, 10_001)
    assert cash(funded) == 10_000


def test_receivable_cannot_go_positive(funded: Wallet) -> None:
    with pytest.raises(sa.exc.IntegrityError, match="ck_accounts_ceiling"):
        Raw(sql(funded)).transfer("t", CLEARING, RECEIVABLE, 1)


def test_accounts_open_at_zero(funded: Wallet) -> None:
    with pytest.raises(sa.exc.IntegrityError, match="zero balance"):
        Raw(sql(funded)).run((
            "INSERT INTO accounts (id, type, owner, player_id, currency, balance) "
            "VALUES ('player_bonus:p1:JPY', 'player_bonus', 'p1', 'p1', 'JPY', 100)", {}))


def test_house_accounts_store_no_balance(funded: Wallet) -> None:
    with pytest.raises(sa.exc.IntegrityError, match="ck_accounts_materialized"):
        Raw(sql(funded)).run((
            "INSERT INTO accounts (id, type, owner, currency, balance) "
            "VALUES ('fees:casino:JPY', 'fees', 'casino', 'JPY', 0)", {}))


UPDATE_BALANCE = ("UPDATE accounts SET balance = balance + 1 WHERE id = :a", {"a": CASH})


@pytest.mark.postgres
def test_stored_balance_is_not_written_directly_on_postgresql(pg_store: SqlStore) -> None:
    wallet = _fund(pg_store)
    with pytest.raises(sa.exc.IntegrityError, match="maintained from postings"):
        Raw(pg_store).run(UPDATE_BALANCE)
    assert wallet.ledger_violations() == []


def test_sqlite_direct_balance_write_is_caught_by_the_checker(sqlite_store: SqlStore) -> None:
    """SQLite cannot tell a trigger's write from a client's, so there the checker is
    the line of defence against a hand-edited balance."""
    wallet = _fund(sqlite_store)
    Raw(sqlite_store).run(UPDATE_BALANCE)
    assert [v.kind for v in wallet.ledger_violations()] == ["balance_mismatch"]


# --- game records and bonuses ------------------------------------------------------------


def _game_row(gid: str, kind: str, reference: str) -> tuple[str, dict[str, Any]]:
    return ("INSERT INTO game_txns (id, kind, player_id, currency, round_id, amount, cash, bonus, "
            "reference, created_at) VALUES (:g, :k, 'p1', 'EUR', 'r', 0, 0, 0, :ref, 0)",
            {"g": gid, "k": kind, "ref": reference})


def test_at_most_one_rollback_per_bet(funded: Wallet) -> None:
    raw = Raw(sql(funded))
    raw.run(_game_row("agg:rb1", "rollback", "agg:b1"), _game_row("agg:w1", "win", "agg:b1"),
            _game_row("agg:w2", "win", "agg:b1"))  # wins are not limited by the schema
    with pytest.raises(sa.exc.IntegrityError):
        raw.run(_game_row("agg:rb2", "rollback", "agg:b1"))


def test_at_most_one_active_bonus_per_currency(funded: Wallet) -> None:
    funded.execute(c.GrantBonus("p1", "bn1", 100, "EUR"))
    with pytest.raises(sa.exc.IntegrityError):
        Raw(sql(funded)).run((
            "INSERT INTO bonuses (id, player_id, currency, granted, wagering_required, wagered, status, "
            "version) VALUES ('bn2', 'p1', 'EUR', 1, 1, 0, 'active', 0)", {}))


# --- database errors reach the port as the errors it promises ------------------------------


def _fee(txn_id: str, debit: str, credit: str, amount: int) -> Transaction:
    return Transaction(txn_id, TxnKind.FEE, (Posting(debit, -amount, "EUR"), Posting(credit, amount, "EUR")),
                       0.0, "p1")


def test_overdraft_past_the_handlers_is_insufficient_funds(funded: Wallet) -> None:
    with funded.store.unit_of_work() as uow, pytest.raises(errors.InsufficientFunds):
        uow.post(_fee("overdraft", CASH, CLEARING, 10_001))
    assert cash(funded) == 10_000


@pytest.mark.parametrize("account", ["player_cash:ghost:EUR", "house_gaem:casino:EUR"])
def test_posting_to_no_such_account_is_account_not_found(funded: Wallet, account: str) -> None:
    with funded.store.unit_of_work() as uow, pytest.raises(errors.AccountNotFound):
        uow.post(_fee("t", CLEARING, account, 5))


def test_house_accounts_are_registered_on_first_use(funded: Wallet) -> None:
    with funded.store.unit_of_work() as uow:
        uow.post(_fee("t", "fx:casino:EUR", CASH, 5))
        uow.commit()
    with funded.store.unit_of_work() as uow:
        assert uow.balances(["fx:casino:EUR", "fx:casino:USD", CASH]) == {"fx:casino:EUR": -5, CASH: 10_005}
    store = sql(funded)
    with store.engine.connect() as conn:
        kinds = dict(conn.execute(sa.text("SELECT id, type FROM accounts WHERE balance IS NULL")).all())
    assert kinds == {CLEARING: "provider_clearing", "fx:casino:EUR": "fx"}


def test_duplicates_leave_the_unit_usable(funded: Wallet) -> None:
    store, p1 = funded.store, funded.player("p1")
    with store.unit_of_work() as uow:
        with pytest.raises(errors.AlreadyExists):
            uow.add_player(p1, [])
        with pytest.raises(errors.AlreadyExists):
            uow.post(_fee("deposit:acme:pay-1", CLEARING, CASH, 5))
        uow.post(_fee("after-duplicates", CLEARING, CASH, 5))
        uow.commit()
    assert cash(funded) == 10_005


def test_a_unit_reads_its_own_deferred_writes(funded: Wallet) -> None:
    """Headers, game records, audit entries and idempotency records are sent just before
    COMMIT; every read of their tables inside the unit still sees them."""
    record = IdempotencyRecord("op", "k", "fp", {"ok": {}}, 1.0)
    with funded.store.unit_of_work() as uow:
        assert uow.get_game_txn("agg:b") is None
        assert uow.get_idempotency("op", "k") is None
        head = uow.last_audit("p1")
        assert head is not None
        uow.post(_fee("t1", CLEARING, CASH, 5))
        uow.post(_fee("t2", CLEARING, CASH, 6))
        bet = GameTxn("agg:b", GameTxnKind.BET, "p1", "EUR", "r", 5, 5, 0, ledger_txn="t1")
        uow.add_game_txn(bet)
        entry = next_entry(head, stream="p1", at=2.0, actor="a", action="x", request_id=None,
                           txn_id="t1", payload="{}")
        uow.add_audit(entry)
        uow.add_idempotency(record)
        assert uow.get_transaction("t2") == _fee("t2", CLEARING, CASH, 6)
        assert [t.id for _, t in uow.player_transactions("p1")][-2:] == ["t1", "t2"]  # posting order
        assert uow.get_game_txn("agg:b") == bet
        rollback = GameTxn("agg:rb", GameTxnKind.ROLLBACK, "p1", "EUR", "r", 0, reference="agg:ghost")
        uow.add_game_txn(rollback)
        assert uow.rollback_for("agg:ghost") == rollback
        assert uow.last_audit("p1") == entry
        assert uow.get_idempotency("op", "k") == record
        uow.commit()
    with funded.store.unit_of_work() as uow:
        assert uow.get_game_txn("agg:b") == bet
        assert uow.last_audit("p1") == entry
        assert uow.get_idempotency("op", "k") == record
    assert cash(funded) == 10_011


def test_same_unit_duplicate_post_is_already_exists(funded: Wallet) -> None:
    with funded.store.unit_of_work() as uow:
        uow.post(_fee("once", CLEARING, CASH, 5))
        with pytest.raises(errors.AlreadyExists):
            uow.post(_fee("once", CLEARING, CASH, 5))
        uow.commit()
    assert cash(funded) == 10_005


@pytest.mark.postgres
def test_deferred_insert_that_lost_a_race_is_retryable(pg_store: SqlStore) -> None:
    """Two units look the same keys up, both find nothing; the second to commit retries."""
    wallet = _fund(pg_store)
    first, second = pg_store.unit_of_work(), pg_store.unit_of_work()
    for uow in (first, second):
        assert uow.get_idempotency("op", "k") is None
        assert uow.get_game_txn("agg:t") is None
    for uow in (first, second):
        uow.add_idempotency(IdempotencyRecord("op", "k", "fp", {"ok": {}}, 1.0))
        uow.add_game_txn(GameTxn("agg:t", GameTxnKind.BET, "p1", "EUR", "r", 0))
    first.commit()
    with pytest.raises(RetryableStoreError, match="game_txns, idempotency"):
        second.commit()
    second.rollback()  # a no-op: the failed commit already ended the unit
    assert wallet.ledger_violations() == []


def test_concurrent_duplicate_keys_are_retryable(funded: Wallet) -> None:
    """A second unit storing the same idempotency key or audit position lost a race."""
    store = funded.store
    record = IdempotencyRecord("op", "k", "fp", {"ok": {"x": 1}}, 1.0)
    entry = next_entry(None, stream="s", at=1.0, actor="a", action="x", request_id=None, txn_id=None,
                       payload="{}")
    for _ in range(2):
        with store.unit_of_work() as uow:
            try:
                uow.add_idempotency(record)
                uow.add_audit(entry)
            except RetryableStoreError:
                assert _ == 1
                continue
            uow.commit()
    with store.unit_of_work() as uow:
        assert uow.get_idempotency("op", "k") == record
        assert uow.last_audit("s") == entry
        assert entry.prev_hash == GENESIS


def test_int_clock_keeps_audit_chain_verifiable(sql_store: SqlStore) -> None:
    """Times come back from the database as floats; the audit hash must not depend on
    whether the clock handed out 0 or 0.0."""
    wallet = Wallet(sql_store, ManualClock(0))
    wallet.execute(c.OpenPlayer("p1", "EUR"))
    assert wallet.verify_audit() == []


def test_amount_beyond_64_bits_is_invalid_amount(funded: Wallet) -> None:
    with funded.store.unit_of_work() as uow, pytest.raises(errors.InvalidAmount):
        uow.post(_fee("huge", CLEARING, CASH, 2**63))


def test_nested_write_unit_in_one_thread_fails_fast_on_sqlite(sqlite_store: SqlStore) -> None:
    with sqlite_store.unit_of_work():
        with pytest.raises(RuntimeError, match="nested"):
            sqlite_store.unit_of_work()
        with sqlite_store.unit_of_work(read_only=True) as reader:  # readers may nest
            assert reader.get_player("nobody") is None


def test_busy_database_is_retryable_on_sqlite(sqlite_store: SqlStore) -> None:
    url = sqlite_store.engine.url
    other = sqlite3.connect(url.database or "", isolation_level=None)  # another process, in effect
    other.execute("BEGIN IMMEDIATE")
    impatient = SqlStore(url, busy_timeout=0.05)
    try:
        with pytest.raises(RetryableStoreError):
            impatient.unit_of_work()
        with impatient.unit_of_work(read_only=True) as uow:  # WAL readers do not wait for writers
            assert uow.get_player("nobody") is None
    finally:
        other.rollback()
        other.close()
        impatient.close()


@pytest.mark.postgres
def test_deadlock_is_retryable_on_postgresql(pg_store: SqlStore) -> None:
    wallet = _fund(pg_store)
    wallet.execute(c.OpenPlayer("p2", "EUR"))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def lock(first: str, second: str) -> None:
        with pg_store.unit_of_work() as uow:
            uow.lock_player(first)
            barrier.wait()
            try:
                uow.lock_player(second)
                outcomes.append("ok")
            except RetryableStoreError:
                outcomes.append("retry")

    threads = [threading.Thread(target=lock, args=pair) for pair in (("p1", "p2"), ("p2", "p1"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "retry"]


def test_read_only_unit(funded: Wallet) -> None:
    """SQLite: a deferred BEGIN, not queued behind writers. PostgreSQL: READ ONLY."""
    store = sql(funded)
    with store.unit_of_work(read_only=True) as uow:
        assert uow.balances([CASH]) == {CASH: 10_000}
        if not store.sqlite:
            with pytest.raises(sa.exc.DBAPIError, match="read-only"):
                uow.post(_fee("t", CLEARING, CASH, 5))


# --- locking: what a unit reads after waiting for a lock ------------------------------------


def _wait_behind(store: SqlStore, holder_commits: Any, read: Any) -> Any:
    """Run ``read(uow)`` in a unit that has to wait for the player's lock, held by the caller
    until ``holder_commits()``; return what it read."""
    seen: dict[str, Any] = {}

    def waiter() -> None:
        with store.unit_of_work() as uow:
            uow.lock_player("p1")
            seen["value"] = read(uow)

    t = threading.Thread(target=waiter, daemon=True)
    t.start()
    try:
        _until_blocked(store)
        assert "value" not in seen, "the waiter did not wait for the lock"
    except BaseException:
        holder_commits.__self__.rollback()  # never leave the lock held: the waiter would hang
        t.join(timeout=30)
        raise
    holder_commits()
    t.join()
    return seen["value"]


def _until_blocked(store: SqlStore) -> None:
    """PostgreSQL shows the waiter in pg_stat_activity; SQLite's waiter queues in-process."""
    if store.sqlite:
        time.sleep(0.2)
        return
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()")
    with store.engine.connect() as conn:
        for _ in range(1500):  # up to 30 s: a loaded 2-core machine may start the thread late
            if conn.execute(query).scalar():
                return
            conn.rollback()  # the activity view is a snapshot per transaction: take a new one
            time.sleep(0.02)
    raise AssertionError("no unit is waiting for the lock")


def test_lock_waiter_sees_the_holders_postings(funded: Wallet) -> None:
    store = sql(funded)
    holder = store.unit_of_work()
    holder.lock_player("p1")
    holder.post(_fee("while-locked", CLEARING, CASH, 500))
    assert _wait_behind(store, holder.commit, lambda uow: uow.balances([CASH])) == {CASH: 10_500}


def test_lock_waiter_sees_accounts_opened_meanwhile(funded: Wallet) -> None:
    store = sql(funded)
    holder = store.unit_of_work()
    player = holder.lock_player("p1")
    assert player is not None
    holder.add_accounts([Account.of(kind, "p1", "USD") for kind in AccountType if kind.player_owned])
    player.currencies = (*player.currencies, "USD")
    holder.save_player(player)
    usd = "player_cash:p1:USD"
    assert _wait_behind(store, holder.commit, lambda uow: uow.balances([usd, CASH])) == {usd: 0, CASH: 10_000}


# --- history cursor and housekeeping ----------------------------------------------------


def test_history_cursor_is_a_global_seq(funded: Wallet) -> None:
    funded.execute(c.OpenPlayer("p2", "EUR"))
    funded.execute(c.CreditDeposit("p2", "acme", "pay-2", 100, "EUR"))
    for i in range(3):
        funded.execute(c.PlaceBet("agg", f"b{i}", "p1", f"r{i}", 10, "EUR"))
        funded.execute(c.PlaceBet("agg", f"x{i}", "p2", f"r{i}", 10, "EUR"))
    with funded.store.unit_of_work() as uow:
        first = uow.player_transactions("p1", limit=2)
        rest = uow.player_transactions("p1", after_seq=first[-1][0], limit=10)
    seqs = [s for s, _ in first + rest]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert [t.id for _, t in first + rest] == ["deposit:acme:pay-1", "bet:agg:b0", "bet:agg:b1", "bet:agg:b2"]


def test_truncate_all_keeps_the_constraints(funded: Wallet) -> None:
    store = sql(funded)
    store.truncate_all()
    with store.engine.connect() as conn:
        assert all(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() == 0 for t in ALL_TABLES)
    wallet = Wallet(store, ManualClock(0.0))
    wallet.execute(c.OpenPlayer("p1", "EUR"))
    wallet.execute(c.CreditDeposit("p1", "acme", "pay-1", 10, "EUR"))  # re-registers the clearing account
    with pytest.raises(sa.exc.IntegrityError, match="append-only"):
        Raw(store).run(("DELETE FROM postings", {}))
    with store.unit_of_work() as uow:
        assert [seq for seq, _ in uow.player_transactions("p1")] == [1]  # identity restarted


def test_store_survives_another_store_emptying_the_database(funded: Wallet) -> None:
    """House accounts are registered by the database itself, so no store caches a
    registry that another one could make stale."""
    store = sql(funded)
    other = SqlStore(store.engine.url)
    other.truncate_all()
    other.close()
    funded.execute(c.OpenPlayer("p1", "EUR"))
    funded.execute(c.CreditDeposit("p1", "acme", "pay-1", 10, "EUR"))
    assert cash(funded) == 10


# --- migrations ---------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database with nothing in it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('mig') / 'm.sqlite3'}"
        return
    request.getfixturevalue("pg_url")  # skips (or fails under CI) when PostgreSQL is absent
    with scratch_database(PG_URL, "sandbox_mig") as url:
        yield url


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_round_trip_and_match_tables_py(empty_url: str) -> None:
    upgrade(empty_url)
    assert _tables(empty_url) == {t.name for t in ALL_TABLES}
    engine = sa.create_engine(empty_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={
                "compare_type": True,
                "include_name": lambda name, kind, _parent: name != "alembic_version",
            })
            assert compare_metadata(ctx, metadata) == []
        inspector = sa.inspect(engine)  # alembic does not compare CHECK constraints: names will do
        for table in ALL_TABLES:
            in_db = {ck["name"] for ck in inspector.get_check_constraints(table.name)}
            declared = {ck.name for ck in table.constraints if isinstance(ck, sa.CheckConstraint)}
            assert in_db == declared, table.name
    finally:
        engine.dispose()
    downgrade(empty_url)
    assert _tables(empty_url) == set()
    upgrade(empty_url)
    store = SqlStore(empty_url)
    try:
        wallet = Wallet(store, ManualClock(0.0))
        wallet.execute(c.OpenPlayer("p1", "EUR"))
        wallet.execute(c.CreditDeposit("p1", "acme", "pay-1", 10, "EUR"))
        assert wallet.ledger_violations() == []
    finally:
        store.close()


# --- real concurrency ------------------------------------------------------------------------

THREADS = 50
OPS = 12
PLAYERS = ("p0", "p1", "p2")
DEPOSIT = 30_000
EXPECTED_REFUSALS = (errors.InsufficientFunds, errors.AlreadyExists, errors.BetRolledBack,
                     errors.Conflict, errors.TransactionNotFound)


def _ops(thread: int) -> list[c.Command]:
    """Bets, wins and rollbacks over a shared pool of bet ids, so the same bet is placed,
    won and rolled back (even before it exists) by different threads at once."""
    rng = random.Random(thread)
    ops: list[c.Command] = []
    for _ in range(OPS):
        n = rng.randrange(120)
        player, amount = PLAYERS[n % 3], 100 + n * 37 % 900
        kind = rng.choices(("bet", "win", "rollback"), (6, 2, 2))[0]
        if kind == "bet":
            ops.append(c.PlaceBet("agg", f"b{n}", player, f"r{n}", amount, "EUR"))
        elif kind == "win":
            ops.append(c.SettleWin("agg", f"w{n}", player, f"r{n}", f"b{n}", n % 4 * amount, "EUR"))
        else:
            ops.append(c.RollbackBet("agg", f"rb{n}", player, f"b{n}"))
    return ops


@pytest.mark.slow
def test_fifty_threads_bets_wins_rollbacks_exact(sql_store: SqlStore) -> None:
    wallet = Wallet(sql_store, max_attempts=50)
    for p in PLAYERS:
        wallet.execute(c.OpenPlayer(p, "EUR"))
        wallet.execute(c.CreditDeposit(p, "acme", f"dep-{p}", DEPOSIT, "EUR"))
    accepted: list[tuple[c.Command, dict[str, Any]]] = []
    refused: Counter[str] = Counter()
    unexpected: list[BaseException] = []
    guard = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker(thread: int) -> None:
        start.wait()
        for cmd in _ops(thread):
            try:
                out = wallet.execute(cmd)
            except EXPECTED_REFUSALS as refusal:
                with guard:
                    refused[refusal.code] += 1
                continue
            except BaseException as exc:
                with guard:
                    unexpected.append(exc)
                continue
            with guard:
                accepted.append((cmd, out))

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))

    assert unexpected == []
    expected = Counter({p: DEPOSIT for p in PLAYERS})
    for cmd, out in accepted:
        if isinstance(cmd, c.PlaceBet):
            expected[cmd.player_id] -= cmd.amount
        elif isinstance(cmd, c.SettleWin):
            expected[cmd.player_id] += cmd.win
        elif isinstance(cmd, c.RollbackBet) and not out["tombstone"]:
            bet = wallet.transaction(f"bet:agg:{cmd.bet_transaction_id}")
            expected[cmd.player_id] -= sum(p.amount for p in bet.postings if p.account.startswith("player_"))
    assert refused["already_exists"] > 0 and len(accepted) > THREADS  # it really raced
    for p in PLAYERS:
        assert wallet.balance(p, "EUR")["available"] == expected[p] >= 0
    assert wallet.ledger_violations() == []
    assert wallet.verify_audit() == []


def test_wallet_reads_do_not_queue_behind_an_open_write(sql_store: SqlStore) -> None:
    """The facade's reads use read-only units: on SQLite a balance answers while
    another thread holds the write lock (it would wait out the busy timeout otherwise)."""
    wallet = Wallet(sql_store, ManualClock(0))
    wallet.execute(c.OpenPlayer("reader", "EUR"))
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with sql_store.unit_of_work() as uow:
            uow.lock_player("reader")
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(5)
        started = time.monotonic()
        assert wallet.balance("reader", "EUR")["total"] == 0
        assert time.monotonic() - started < 5.0  # a queued read would wait out the 10 s busy timeout
    finally:
        release.set()
        thread.join()
