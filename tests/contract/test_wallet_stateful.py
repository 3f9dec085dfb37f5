"""Random operation sequences against a deliberately simple model of the wallet.

Hypothesis drives deposits, bets, wins, rollbacks (including rollbacks that arrive
before their bet), withdrawals, bonuses, chargebacks and replays of idempotency
keys; after every step the wallet's balances must equal the model's, and the
ledger invariants (balanced transactions, balances = postings, floors) must hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from wallet.domain import commands as c
from wallet.domain import errors
from wallet.domain.idempotency import IdempotencyKey
from wallet.service.clock import ManualClock
from wallet.service.unit_of_work import Store
from wallet.service.wallet import Wallet

PLAYERS = ("alice", "bob")
AMOUNTS = st.integers(min_value=1, max_value=5_000)


@dataclass
class Bet:
    player: str
    amount: int
    cash: int
    bonus: int
    won: bool = False
    rolled_back: bool = False


@dataclass
class Account:
    cash: int = 0
    bonus: int = 0
    hold: int = 0
    receivable: int = 0
    locked: bool = False
    bonus_active: bool = False
    wagered: int = 0
    required: int = 0


@dataclass
class Model:
    acc: dict[str, Account] = field(default_factory=lambda: {p: Account() for p in PLAYERS})
    bets: dict[str, Bet] = field(default_factory=dict)
    tombstones: set[str] = field(default_factory=set)
    held: dict[str, tuple[str, int]] = field(default_factory=dict)
    deposits: dict[str, tuple[str, int]] = field(default_factory=dict)
    charged_back: set[str] = field(default_factory=set)

    def wager(self, a: Account, amount: int) -> None:
        if a.bonus_active:
            a.wagered += amount
            if a.wagered >= a.required:
                a.cash, a.bonus, a.bonus_active = a.cash + a.bonus, 0, False

    def forfeit(self, a: Account) -> None:
        a.bonus, a.bonus_active = 0, False


class WalletMachine(RuleBasedStateMachine):
    def __init__(self, make_store: Callable[[], Store]) -> None:
        super().__init__()
        self.wallet = Wallet(make_store(), ManualClock(0.0))
        self.model = Model()
        self.n = 0
        self.remembered: list[tuple[c.Command, IdempotencyKey, Any]] = []

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def run(self, cmd: c.Command, expect: type[errors.DomainError] | None = None,
            key: IdempotencyKey | None = None) -> dict[str, Any] | None:
        """Execute and check the outcome kind the model predicted."""
        try:
            out = self.wallet.execute(cmd, idempotency=key)
        except errors.DomainError as exc:
            if expect is None or not isinstance(exc, expect):
                raise AssertionError(f"{cmd}: unexpected {exc!r}") from exc
            if key:
                self.remembered.append((cmd, key, exc.code))
            return None
        assert expect is None, f"{cmd}: expected {expect.__name__}, got success"
        if key:
            self.remembered.append((cmd, key, out))
        return out

    @initialize()
    def open_players(self) -> None:
        for p in PLAYERS:
            self.wallet.execute(c.OpenPlayer(p, "EUR"))

    @rule(player=st.sampled_from(PLAYERS), amount=AMOUNTS)
    def deposit(self, player: str, amount: int) -> None:
        pay = self.fresh("pay")
        self.run(c.CreditDeposit(player, "acme", pay, amount, "EUR"))
        a = self.model.acc[player]
        repay = min(-a.receivable, amount)
        a.receivable += repay
        a.cash += amount - repay
        self.model.deposits[pay] = (player, amount)

    @rule(player=st.sampled_from(PLAYERS), amount=AMOUNTS, use_tombstone=st.booleans(),
          keyed=st.booleans())
    def bet(self, player: str, amount: int, use_tombstone: bool, keyed: bool) -> None:
        m, a = self.model, self.model.acc[player]
        bet_id = sorted(m.tombstones)[0] if use_tombstone and m.tombstones else self.fresh("bet")
        # a tombstoned id may be tried by several players: no key, or it would be a reuse
        key = IdempotencyKey("game:agg", bet_id) if keyed and bet_id not in m.tombstones else None
        cmd = c.PlaceBet("agg", bet_id, player, bet_id, amount, "EUR")
        if a.locked:
            self.run(cmd, errors.PlayerLocked, key)
        elif bet_id in m.tombstones:
            self.run(cmd, errors.BetRolledBack, key)
        elif amount > a.cash + a.bonus:
            self.run(cmd, errors.InsufficientFunds, key)
        else:
            self.run(cmd, None, key)
            from_cash = min(a.cash, amount)
            m.bets[bet_id] = Bet(player, amount, from_cash, amount - from_cash)
            a.cash -= from_cash
            a.bonus -= amount - from_cash
            m.wager(a, amount)

    @precondition(lambda self: any(not b.won and not b.rolled_back for b in self.model.bets.values()))
    @rule(data=st.data(), win=st.integers(min_value=0, max_value=20_000))
    def win(self, data: st.DataObject, win: int) -> None:
        open_bets = sorted(k for k, b in self.model.bets.items() if not b.won and not b.rolled_back)
        bet_id = data.draw(st.sampled_from(open_bets))
        b = self.model.bets[bet_id]
        a = self.model.acc[b.player]
        self.run(c.SettleWin("agg", self.fresh("win"), b.player, bet_id, bet_id, win, "EUR"))
        b.won = True
        to_bonus = win * b.bonus // b.amount if a.bonus_active else 0
        a.bonus += to_bonus
        a.cash += win - to_bonus

    @rule(data=st.data(), player=st.sampled_from(PLAYERS), unknown=st.booleans())
    def rollback(self, data: st.DataObject, player: str, unknown: bool) -> None:
        m = self.model
        mine = sorted(k for k, b in m.bets.items() if b.player == player and not b.rolled_back)
        if unknown or not mine:
            bet_id = self.fresh("ghost")
            self.run(c.RollbackBet("agg", self.fresh("rb"), player, bet_id))
            m.tombstones.add(bet_id)
            return
        bet_id = data.draw(st.sampled_from(mine))
        b, a = m.bets[bet_id], m.acc[player]
        cmd = c.RollbackBet("agg", self.fresh("rb"), player, bet_id)
        if b.won:
            self.run(cmd, errors.Conflict)
            return
        self.run(cmd)
        b.rolled_back = True
        a.cash += b.cash
        if a.bonus_active:
            a.bonus += b.bonus
            a.wagered = max(0, a.wagered - b.amount)
        else:
            a.cash += b.bonus

    @rule(player=st.sampled_from(PLAYERS), amount=AMOUNTS, keyed=st.booleans())
    def withdraw(self, player: str, amount: int, keyed: bool) -> None:
        a = self.model.acc[player]
        wid = self.fresh("wd")
        cmd = c.RequestWithdrawal(player, wid, amount, "EUR", "acme")
        key = IdempotencyKey("operator", wid) if keyed else None
        if a.locked:
            self.run(cmd, errors.PlayerLocked, key)
        elif amount > a.cash:
            self.run(cmd, errors.InsufficientFunds, key)
        else:
            self.run(cmd, None, key)
            self.model.forfeit(a)
            a.cash -= amount
            a.hold += amount
            self.model.held[wid] = (player, amount)

    @precondition(lambda self: self.model.held)
    @rule(data=st.data(), paid=st.booleans())
    def finish_withdrawal(self, data: st.DataObject, paid: bool) -> None:
        wid = data.draw(st.sampled_from(sorted(self.model.held)))
        player, amount = self.model.held.pop(wid)
        a = self.model.acc[player]
        a.hold -= amount
        if paid:
            self.run(c.CompleteWithdrawal(wid))
        else:
            self.run(c.ReleaseWithdrawal(wid))
            a.cash += amount
        with pytest.raises(errors.IllegalTransition):
            self.wallet.execute(c.ReleaseWithdrawal(wid))

    @rule(player=st.sampled_from(PLAYERS), amount=AMOUNTS, multiplier=st.integers(0, 3))
    def grant_bonus(self, player: str, amount: int, multiplier: int) -> None:
        a = self.model.acc[player]
        cmd = c.GrantBonus(player, self.fresh("bonus"), amount, "EUR", multiplier)
        if a.locked:
            self.run(cmd, errors.PlayerLocked)
        elif a.bonus_active:
            self.run(cmd, errors.Conflict)
        else:
            self.run(cmd)
            a.bonus += amount
            a.bonus_active, a.wagered, a.required = True, 0, amount * multiplier
            self.model.wager(a, 0)

    @precondition(lambda self: set(self.model.deposits) - self.model.charged_back)
    @rule(data=st.data())
    def chargeback(self, data: st.DataObject) -> None:
        pay = data.draw(st.sampled_from(sorted(set(self.model.deposits) - self.model.charged_back)))
        player, amount = self.model.deposits[pay]
        self.run(c.Chargeback("acme", pay, amount))
        self.model.charged_back.add(pay)
        a = self.model.acc[player]
        from_cash = min(a.cash, amount)
        a.cash -= from_cash
        a.receivable -= amount - from_cash
        a.locked = True

    @precondition(lambda self: any(a.locked for a in self.model.acc.values()))
    @rule()
    def unlock(self) -> None:
        for p, a in self.model.acc.items():
            if a.locked:
                self.run(c.UnlockPlayer(p))
                a.locked = False

    @precondition(lambda self: self.remembered)
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        cmd, key, first = data.draw(st.sampled_from(self.remembered))
        try:
            again: Any = self.wallet.execute(cmd, idempotency=key)
        except errors.DomainError as exc:
            again = exc.code
        assert again == first
        with pytest.raises(errors.IdempotencyKeyReused):
            self.wallet.execute(c.UnlockPlayer("someone-else"), idempotency=key)

    @invariant()
    def balances_match_model(self) -> None:
        for p, a in self.model.acc.items():
            bal = self.wallet.balance(p, "EUR")
            assert (bal["available"], bal["bonus"], bal["pending"], bal["receivable"]) == (
                a.cash, a.bonus, a.hold, a.receivable), p
            assert self.wallet.player(p).locked == a.locked

    def teardown(self) -> None:
        assert self.wallet.ledger_violations() == []
        assert self.wallet.verify_audit() == []


@pytest.mark.slow
def test_wallet_matches_model(store: Store, request: pytest.FixtureRequest) -> None:
    memory = request.node.callspec.params["store"] == "memory"

    def make_store() -> Store:
        if hasattr(store, "truncate_all"):
            store.truncate_all()
        elif not memory:
            raise AssertionError("SQL store without truncate_all")
        else:
            from wallet.adapters.memory import MemoryStore

            return MemoryStore()
        return store

    run_state_machine_as_test(
        lambda: WalletMachine(make_store),
        settings=settings(
            max_examples=300 if memory else 12,
            stateful_step_count=40 if memory else 25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
