"""Real threads against the same few players: bets, wins, withdrawals and duplicate keys.

Funds are deliberately short so overdraft refusals race with each other. At the
end the balances must equal exactly what the accepted operations imply: no lost
update, no double application of a duplicate, no negative cash.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from sandbox.randomness import Dice
from wallet.domain import commands as c
from wallet.domain import errors
from wallet.domain.idempotency import IdempotencyKey
from wallet.service.clock import SystemClock
from wallet.service.unit_of_work import Store
from wallet.service.wallet import Wallet

THREADS = 50
OPS_PER_THREAD = 24
PLAYERS = ("p0", "p1", "p2")
DEPOSIT = 20_000


def _plan(thread: int) -> list[tuple[str, c.Command, IdempotencyKey]]:
    """A thread's operations. Bet ids are drawn from a small shared pool so that
    threads send the same bet concurrently, as a retrying aggregator would."""
    dice = Dice(1234)
    ops: list[tuple[str, c.Command, IdempotencyKey]] = []
    for i in range(OPS_PER_THREAD):
        u = dice.uniform("op", thread, i)
        shared = int(dice.uniform("bet", thread, i) * THREADS * 8)  # ~3 senders per bet id
        player = PLAYERS[shared % len(PLAYERS)]
        amount = 100 + shared * 7 % 900
        if u < 0.7:
            bid = f"b{shared}"
            ops.append(("bet", c.PlaceBet("agg", bid, player, f"r{shared}", amount, "EUR"),
                        IdempotencyKey("game:agg", bid)))
        elif u < 0.9:
            wid = f"w{shared}"
            ops.append(("win", c.SettleWin("agg", wid, player, f"r{shared}", f"b{shared}", amount * 2, "EUR"),
                        IdempotencyKey("game:agg", wid)))
        else:
            wd = f"wd{shared}"
            ops.append(("withdraw", c.RequestWithdrawal(player, wd, amount, "EUR", "acme"),
                        IdempotencyKey("cashier", wd)))
    return ops


@pytest.mark.slow
def test_fifty_threads_keep_balances_exact(store: Store) -> None:
    wallet = Wallet(store, SystemClock(), max_attempts=50)
    for p in PLAYERS:
        wallet.execute(c.OpenPlayer(p, "EUR"))
        wallet.execute(c.CreditDeposit(p, "acme", f"dep-{p}", DEPOSIT, "EUR"))

    outcomes: dict[tuple[str, str], list[Any]] = {}
    unexpected: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker(thread: int) -> None:
        start.wait()
        for kind, cmd, key in _plan(thread):
            try:
                result: Any = wallet.execute(cmd, idempotency=key)
            except (errors.InsufficientFunds, errors.TransactionNotFound) as refusal:
                result = refusal.code
            except BaseException as exc:  # anything else is a bug (a 5xx over HTTP)
                with lock:
                    unexpected.append(exc)
                continue
            with lock:
                outcomes.setdefault((key.scope, key.key), []).append((kind, cmd, result))

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))

    assert unexpected == []
    expected = Counter({p: DEPOSIT for p in PLAYERS})
    held = Counter()
    duplicates = 0
    for results in outcomes.values():
        kind, cmd, first = results[0]
        assert all(r == first for _, _, r in results), f"replays differ for {cmd}"
        duplicates += len(results) - 1
        if isinstance(first, str):  # a refusal, replayed identically
            continue
        if kind == "bet":
            expected[cmd.player_id] -= cmd.amount
        elif kind == "win":
            expected[cmd.player_id] += cmd.win
        else:
            expected[cmd.player_id] -= cmd.amount
            held[cmd.player_id] += cmd.amount
    refusals = Counter(r[0][2] for r in outcomes.values() if isinstance(r[0][2], str))
    assert duplicates > 100  # the test really raced duplicates ...
    assert refusals["insufficient_funds"] > 10  # ... and overdrafts
    for p in PLAYERS:
        bal = wallet.balance(p, "EUR")
        assert bal["available"] == expected[p] >= 0
        assert bal["pending"] == held[p]
    assert wallet.ledger_violations() == []
    assert wallet.verify_audit() == []


@pytest.mark.slow
def test_a_bet_and_a_tombstone_for_its_id_never_both_succeed(store: Store) -> None:
    """Bet ids are per aggregator but locks are per player: a rollback naming another
    player's bet id must still exclude the bet, or the aggregator believes a bet was
    rolled back that the wallet kept."""
    wallet = Wallet(store, SystemClock(), max_attempts=50)
    for p in ("pa", "pb"):
        wallet.execute(c.OpenPlayer(p, "EUR"))
        wallet.execute(c.CreditDeposit(p, "acme", f"dep-{p}", 100_000, "EUR"))

    def bet(i: int, gate: threading.Barrier) -> bool:
        gate.wait()
        try:
            wallet.execute(c.PlaceBet("agg", f"x{i}", "pa", f"r{i}", 10, "EUR"))
        except errors.BetRolledBack:
            return False
        return True

    def tombstone(i: int, gate: threading.Barrier) -> bool:
        gate.wait()
        try:
            return wallet.execute(c.RollbackBet("agg", f"rb{i}", "pb", f"x{i}"))["tombstone"]
        except errors.TransactionNotFound:  # the bet won: it is not pb's to roll back
            return False

    both = 0
    with ThreadPoolExecutor(2) as pool:
        for i in range(40):
            gate = threading.Barrier(2)
            placed, buried = pool.submit(bet, i, gate), pool.submit(tombstone, i, gate)
            both += placed.result() and buried.result()
    assert both == 0
    assert wallet.ledger_violations() == []
