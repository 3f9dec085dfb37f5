"""The gateway-payment part of the store port, on every store (memory, SQLite, PostgreSQL).

The memory store is the reference: a SQL store must give back the same payments and
journal entries (JSON round trip included), in the same orders, with the same unit
of work atomicity, and its payment row lock must really serialise two writers.
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from wallet.adapters.sql import SqlStore
from wallet.domain.idempotency import IdempotencyRecord
from wallet.domain.payments import DepositRequested, ProviderReplied, WebhookReceived, start, transition
from wallet.domain.payments.journal import JournalEntry, entry
from wallet.domain.payments.model import Payment
from wallet.service.unit_of_work import Store

T0 = 1_700_000_000.0


def _payment(pid: str = "dep-1", *, timers: list[tuple[float, str]] | None = None) -> Payment:
    """A deposit a few transitions in: a provider reference, a seen webhook, timers."""
    p, _ = start(DepositRequested(pid, "p1", 2_500, "EUR", "card", "acme", country="MT", bin="411111"), T0)
    p, _ = transition(p, ProviderReplied(1, "pending", f"ref-{pid}"), T0 + 1)
    p, _ = transition(p, WebhookReceived("payment.processing", f"evt-{pid}", f"ref-{pid}", "acme", pid, 1),
                      T0 + 2)
    p.timers = [(T0 + 31.5, "poll"), (T0 + 1_800, "deadline")] if timers is None else timers
    return p


def _entries(pid: str, n: int, at: float = T0) -> list[JournalEntry]:
    return [entry(pid, i + 1, at + i, ProviderReplied(i + 1, "pending", f"r{i}"), "authorizing", "pending",
                  [], reason=f"step {i}") for i in range(n)]


def _save(store: Store, *payments: Payment) -> None:
    with store.unit_of_work() as uow:
        for p in payments:
            uow.save_payment(p)
        uow.commit()


def _get(store: Store, pid: str) -> Payment | None:
    with store.unit_of_work(read_only=True) as uow:
        return uow.get_payment(pid)


def _record(scope: str, key: str, created_at: float) -> IdempotencyRecord:
    return IdempotencyRecord(scope, key, "fp", {"ok": {"key": key}}, created_at)


# --- payments --------------------------------------------------------------------------------


def test_save_and_get_round_trip(store: Store) -> None:
    p = _payment()
    assert (p.refs, p.seen, p.tried) == ({"ref-dep-1": "acme"}, {"evt-dep-1"}, ["acme"])  # set up
    _save(store, p)
    got = _get(store, "dep-1")
    assert got == p
    assert got is not p
    assert got.to_dict() == p.to_dict()
    assert _get(store, "nope") is None
    with store.unit_of_work() as uow:
        assert uow.get_payment("nope", lock=True) is None
        assert uow.get_payment("dep-1", lock=True) == p


def test_save_overwrites(store: Store) -> None:
    p = _payment()
    _save(store, p)
    p, _ = transition(p, ProviderReplied(1, "approved", "ref-dep-1"), T0 + 5)
    p.timers = []
    _save(store, p)
    got = _get(store, "dep-1")
    assert got == p
    assert got.state.value == p.state.value
    assert [q.id for q in _all(store)] == ["dep-1"]


def test_get_returns_a_copy(store: Store) -> None:
    _save(store, _payment())
    original = _get(store, "dep-1")
    with store.unit_of_work() as uow:
        p = uow.get_payment("dep-1", lock=True)
        assert p is not None
        p.polls += 7
        p.seen.add("evt-new")
        p.refs["x"] = "y"
        p.tried.append("zeta")
        p.timers.append((T0, "poll"))
        assert uow.get_payment("dep-1") == original  # not saved: the store is unchanged
        uow.commit()
    assert _get(store, "dep-1") == original


def test_rollback_discards_payments_and_journal(store: Store) -> None:
    first = _payment()
    with store.unit_of_work() as uow:
        uow.save_payment(first)
        uow.add_journal(_entries("dep-1", 2))
        uow.commit()
    changed = first.copy()
    changed.polls += 1
    with store.unit_of_work() as uow:
        uow.save_payment(changed)
        uow.save_payment(_payment("dep-2"))
        uow.add_journal(_entries("dep-1", 1, at=T0 + 50) + _entries("dep-2", 1))
        assert uow.get_payment("dep-1") == changed  # a unit reads its own writes
        assert len(uow.journal()) == 4
        uow.rollback()
    assert _get(store, "dep-1") == first
    assert _get(store, "dep-2") is None
    with store.unit_of_work(read_only=True) as uow:
        assert uow.journal() == _entries("dep-1", 2)
        assert uow.journal("dep-2") == []
    with store.unit_of_work() as uow:  # leaving the block without commit rolls back too
        uow.save_payment(_payment("dep-3"))
        uow.add_journal(_entries("dep-3", 1))
    assert _get(store, "dep-3") is None


def _all(store: Store) -> list[Payment]:
    with store.unit_of_work(read_only=True) as uow:
        return sorted(uow.all_payments(), key=lambda p: p.id)


def test_all_payments(store: Store) -> None:
    assert _all(store) == []
    ps = [_payment(f"dep-{i}") for i in range(3)]
    _save(store, *ps)
    assert _all(store) == ps


def test_due_payments_order_limit_and_null_timers(store: Store) -> None:
    _save(store,
          _payment("late", timers=[(T0 + 90, "deadline"), (T0 + 30, "poll")]),  # min is not the first
          _payment("b-tie", timers=[(T0 + 10, "poll")]),
          _payment("a-tie", timers=[(T0 + 10, "deadline")]),
          _payment("B-tie", timers=[(T0 + 10, "poll")]),  # code point order: "B" < "a" < "b"
          _payment("early", timers=[(T0 + 5, "poll")]),
          _payment("future", timers=[(T0 + 1_000, "poll")]),
          _payment("none", timers=[]))
    with store.unit_of_work(read_only=True) as uow:
        assert uow.due_payments(T0) == []
        assert uow.due_payments(T0 + 30) == ["early", "B-tie", "a-tie", "b-tie", "late"]
        assert uow.due_payments(T0 + 30, limit=2) == ["early", "B-tie"]
        assert uow.due_payments(T0 + 10, limit=100) == ["early", "B-tie", "a-tie", "b-tie"]
        assert uow.due_payments(T0 + 5) == ["early"]  # at or before now
        assert uow.due_payments(T0 + 10**6) == ["early", "B-tie", "a-tie", "b-tie", "late", "future"]
    # saving moves the wake-up time, and no timers take the payment off the sweep
    with store.unit_of_work() as uow:
        early = uow.get_payment("early", lock=True)
        assert early is not None
        early.timers = []
        uow.save_payment(early)
        future = uow.get_payment("future", lock=True)
        assert future is not None
        future.timers = [(T0 + 1, "poll")]
        uow.save_payment(future)
        assert uow.due_payments(T0 + 10) == ["future", "B-tie", "a-tie", "b-tie"]
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.due_payments(T0 + 10**6) == ["future", "B-tie", "a-tie", "b-tie", "late"]


# --- journal ---------------------------------------------------------------------------------


def test_journal_per_payment_and_global_insertion_order(store: Store) -> None:
    a, b = _entries("pay-a", 3), _entries("pay-b", 2, at=T0 - 100)  # b's are older: order is insertion
    with store.unit_of_work() as uow:
        uow.add_journal([a[0], b[0]])
        uow.add_journal([])
        uow.commit()
    with store.unit_of_work() as uow:
        uow.add_journal([a[1], b[1], a[2]])
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.journal("pay-a") == a
        assert uow.journal("pay-b") == b
        assert uow.journal("pay-c") == []
        assert uow.journal() == [a[0], b[0], a[1], b[1], a[2]]
        assert uow.journal(None) == uow.journal()


def test_journal_round_trips_a_real_transition(store: Store) -> None:
    p, cmds = start(DepositRequested("dep-1", "p1", 2_500, "EUR", "card", "acme"), T0)
    e1 = entry("dep-1", p.version, T0, DepositRequested("dep-1", "p1", 2_500, "EUR", "card", "acme"),
               "", p.state.value, cmds)
    ev = WebhookReceived("payment.succeeded", "evt-1", "ref-1", "acme", "dep-1", 3, {"amount": 2_500,
                                                                                   "nested": {"k": [1, 2]}})
    before = p.state.value
    p, cmds = transition(p, ev, T0 + 1)
    e2 = entry("dep-1", p.version, T0 + 1, ev, before, p.state.value, cmds, reason="webhook")
    with store.unit_of_work() as uow:
        uow.add_journal([e1, e2])
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.journal("dep-1") == [e1, e2]


@pytest.mark.parametrize("statement", ["UPDATE payment_journal SET event = 'Forged'",
                                       "DELETE FROM payment_journal"])
def test_journal_is_append_only_in_sql(sql_store: Store, statement: str) -> None:
    assert isinstance(sql_store, SqlStore)
    with sql_store.unit_of_work() as uow:
        uow.add_journal(_entries("dep-1", 2))
        uow.commit()
    with pytest.raises(sa.exc.IntegrityError, match="append-only"), sql_store.engine.begin() as conn:
        conn.execute(sa.text(statement))
    with sql_store.unit_of_work(read_only=True) as uow:
        assert uow.journal() == _entries("dep-1", 2)


# --- idempotency retention -------------------------------------------------------------------


def test_purge_idempotency_by_prefix_and_age(store: Store) -> None:
    records = [
        _record("gateway:acme", "old", T0 - 100),
        _record("gateway:acme", "edge", T0),  # created_at == before: kept
        _record("gateway:zeta", "old", T0 - 1),
        _record("gateway:acme", "new", T0 + 1),
        _record("cashier", "old", T0 - 100),  # another scope: kept
        _record("gatewayx", "old", T0 - 100),  # "gateway:" is the prefix, not "gateway"
        _record("a_b%", "old", T0 - 100),  # LIKE wildcards in a scope are plain characters
        _record("axbyz", "old", T0 - 100),
        _record("A_B%", "old", T0 - 100),  # the prefix is case-sensitive
    ]
    with store.unit_of_work() as uow:
        for r in records:
            uow.add_idempotency(r)
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.purge_idempotency("gateway:", T0) == 2
        assert uow.purge_idempotency("gateway:", T0) == 0
        assert uow.purge_idempotency("a_b%", T0) == 1
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        kept = {(r.scope, r.key) for r in records if uow.get_idempotency(r.scope, r.key) == r}
    assert kept == {("gateway:acme", "edge"), ("gateway:acme", "new"), ("cashier", "old"),
                    ("gatewayx", "old"), ("axbyz", "old"), ("A_B%", "old")}
    with store.unit_of_work() as uow:  # the empty prefix is every scope; a rollback keeps them
        assert uow.purge_idempotency("", T0 + 10) == 6
        assert uow.get_idempotency("cashier", "old") is None
    with store.unit_of_work(read_only=True) as uow:
        assert uow.get_idempotency("cashier", "old") is not None


def test_purge_sees_the_units_own_records(store: Store) -> None:
    """A record this unit added (looked up first, the SQL store's deferred path) is purged too."""
    with store.unit_of_work() as uow:
        assert uow.get_idempotency("gateway:acme", "k1") is None
        uow.add_idempotency(_record("gateway:acme", "k1", T0 - 10))
        assert uow.purge_idempotency("gateway:", T0) == 1
        assert uow.get_idempotency("gateway:acme", "k1") is None
        uow.add_idempotency(_record("gateway:acme", "k1", T0 + 10))  # the key is free again
        uow.commit()
    with store.unit_of_work(read_only=True) as uow:
        assert uow.get_idempotency("gateway:acme", "k1") == _record("gateway:acme", "k1", T0 + 10)


# --- real concurrency ------------------------------------------------------------------------

ROUNDS = 20


def test_payment_lock_serialises_read_modify_write(store: Store) -> None:
    """Two threads increment one payment's counter under ``get_payment(lock=True)``, sleeping
    while they hold it: without the row lock (PostgreSQL) or the write lock (SQLite, memory)
    the increments would overwrite each other."""
    p = _payment()
    p.polls = 0
    _save(store, p)
    start_together = threading.Barrier(2)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start_together.wait(timeout=10)
            for _ in range(ROUNDS):
                with store.unit_of_work() as uow:
                    p = uow.get_payment("dep-1", lock=True)
                    assert p is not None
                    p.polls += 1
                    time.sleep(0.002)  # the other thread is now waiting for the lock
                    uow.save_payment(p)
                    uow.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    p = _get(store, "dep-1")
    assert p is not None
    assert p.polls == 2 * ROUNDS
