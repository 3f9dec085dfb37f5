"""Players in virtual time: arrive, deposit, play sessions through the game aggregator's
bet / win / rollback calls, take bonuses, convert currency, withdraw.

Each player draws from its own keyed stream (``dice.child("player", id)``), so
adding a player or changing the routing strategy changes nobody else's choices.
Every wallet call goes through :class:`History`, which records invoke and outcome
(ok, fail, unknown) with the idempotency key: the checker replays them afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Protocol

import simpy

from mocks.models.types import CardInfo
from sandbox.randomness import Dice
from sandbox.scenario import Amount, Scenario
from wallet.domain import commands as c
from wallet.domain.errors import DomainError
from wallet.domain.idempotency import IdempotencyKey
from wallet.domain.money import exponent
from wallet.service.unit_of_work import Store

AGGREGATOR = "hub88"
_Z99 = NormalDist().inv_cdf(0.99)
_N = NormalDist()
SETTLED = frozenset({"succeeded", "failed", "expired", "reversed", "refunded", "charged_back"})


class Ledger(Protocol):
    """The wallet as the workload calls it and the checker reads it: in process
    (:class:`wallet.service.wallet.Wallet`) or over HTTP (``sandbox.engine.live.HttpWallet``)."""

    @property
    def store(self) -> Store: ...
    def execute(self, cmd: c.Command, *, idempotency: IdempotencyKey | None = None,
                actor: str = ...) -> dict[str, Any]: ...
    def balance(self, player_id: str, currency: str) -> dict[str, Any]: ...
    def ledger_violations(self) -> list[Any]: ...


class _Named(Protocol):
    @property
    def value(self) -> str: ...


class PaymentStatus(Protocol):
    """What the cashier page shows of a payment."""

    @property
    def state(self) -> _Named: ...
    @property
    def credited(self) -> int: ...


class Cashier(Protocol):
    """The gateway as the player's cashier page polls it."""

    @property
    def wallet(self) -> Ledger: ...
    def payment(self, payment_id: str) -> PaymentStatus: ...


class Shell(Protocol):
    """Where the workload sends deposits and payouts: the SimPy shell calls the gateway in
    process (``sandbox.engine.sim.SimShell``), the live one posts to its HTTP API."""

    @property
    def gateway(self) -> Cashier: ...
    def deposit(self, payment_id: str, player_id: str, amount: int, currency: str, method: str,
                *, country: str = ..., card: CardInfo | None = ...) -> object: ...
    def payout(self, withdrawal_id: str, player_id: str, amount: int, currency: str, method: str,
               provider: str) -> object: ...


@dataclass(slots=True)
class Op:
    """One call as the client saw it (Jepsen-style history)."""

    id: int
    kind: str  # the command's class name
    key: str  # the idempotency key
    command: c.Command
    invoked_at: float
    outcome: str = "invoke"  # ok | fail | unknown
    result: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class History:
    wallet: Ledger
    scope: str = "workload"
    ops: list[Op] = field(default_factory=list)

    def call(self, cmd: c.Command, key: str, now: float) -> dict[str, Any] | None:
        op = Op(len(self.ops), cmd.action, key, cmd, now)
        self.ops.append(op)
        try:
            op.result = self.wallet.execute(cmd, idempotency=IdempotencyKey(self.scope, key),
                                            actor="workload")
        except DomainError as err:
            op.outcome, op.error = "fail", err.code
            return None
        except Exception as err:  # a broken variant: the client cannot tell what happened
            op.outcome, op.error = "unknown", type(err).__name__
            return None
        op.outcome = "ok"
        return op.result


def lognormal_minor(a: Amount, u: float, currency: str) -> int:
    """A draw from the lognormal with the given median and 99th percentile, in minor units."""
    sigma = max(math.log(a.p99 / a.p50) / _Z99, 1e-9)
    z = _N.inv_cdf(min(max(u, 1e-12), 1 - 1e-12))
    major = min(max(a.p50 * math.exp(sigma * z), a.min), a.max)
    return max(round(major * 10 ** exponent(currency)), 1)


def pick(weights: Mapping[str, float], u: float) -> str:
    total = sum(weights.values())
    acc = 0.0
    for name, w in weights.items():
        acc += w / total
        if u < acc:
            return name
    return next(reversed(list(weights)))


@dataclass
class Population:
    """Spawns the scenario's players and keeps what the report needs."""

    env: simpy.Environment
    scenario: Scenario
    shell: Shell
    history: History
    dice: Dice
    payout_provider: str | None
    deposits_started: int = 0
    withdrawals_started: int = 0

    def start(self) -> None:
        self.env.process(self._arrivals())

    def _arrivals(self) -> Generator[simpy.Event, Any, None]:
        spec = self.scenario.players
        window = self.scenario.duration_h * 3600.0
        arrivals = self.dice.child("arrivals")
        t = 0.0
        for i in range(spec.count):
            if spec.arrival == "uniform":
                at = window * i / spec.count
            else:
                t += -math.log(1.0 - arrivals.uniform(i)) * window / spec.count
                at = t
            if at >= window:
                break
            yield self.env.timeout(max(at - self.env.now, 0.0))
            self.env.process(self._player(f"p{i:06d}"))

    # --- one player ---------------------------------------------------------------------------

    def _player(self, pid: str) -> Generator[simpy.Event, Any, None]:
        spec = self.scenario.players
        d = self.dice.child("player", pid)
        currency = pick(spec.currencies, d.uniform("currency"))
        country = pick(spec.countries, d.uniform("country"))
        if self._call(c.OpenPlayer(pid, currency, country), f"{pid}:open") is None:
            return
        card_no = int(d.uniform("card") * spec.cards) if spec.cards else int(d.uniform("pan") * 1e9)
        card = CardInfo("411111", f"{card_no % 10_000:04d}", fingerprint=f"fp_{card_no}",
                        country=country)
        for n in range(spec.deposits):
            credited = yield from self._deposit(pid, n, d, currency, country, card)
            if credited and n == 0 and d.uniform("bonus") < spec.bonus_uptake:
                self._call(c.GrantBonus(pid, f"{pid}-b0", credited, currency, spec.bonus_wagering),
                           f"{pid}:bonus")
            yield from self._session(pid, n, d, currency)
            if d.uniform("fx", n) < spec.fx_probability:
                self._convert(pid, n, currency)
            if d.uniform("withdraw", n) < spec.withdrawal_probability:
                self._withdraw(pid, n, currency)
                if spec.play_after_withdrawal:  # racing the payout: bets while it is in flight
                    yield from self._session(pid, n, d, currency, spec.play_after_withdrawal, 1.0,
                                             tag="w")

    def _deposit(self, pid: str, n: int, d: Dice, currency: str, country: str,
                 card: CardInfo) -> Generator[simpy.Event, Any, int]:
        spec = self.scenario.players
        method = pick(spec.methods, d.uniform("method", n))
        amount = lognormal_minor(spec.deposit, d.uniform("deposit", n), currency)
        payment_id = f"{pid}-d{n}"
        self.deposits_started += 1
        try:
            self.shell.deposit(payment_id, pid, amount, currency, method, country=country,
                               card=card if method == "card" else None)
        except DomainError:
            return 0
        for _ in range(60):  # the player watches the cashier for up to ten minutes
            yield self.env.timeout(10.0)
            p = self.shell.gateway.payment(payment_id)
            if p.state.value in SETTLED:
                return p.credited
        return 0

    def _session(self, pid: str, n: int, d: Dice, currency: str, rounds: int | None = None,
                 gap_s: float | None = None, tag: str = "s") -> Generator[simpy.Event, Any, None]:
        s = self.scenario.players.session
        for r in range(s.rounds if rounds is None else rounds):
            yield self.env.timeout(s.gap_s if gap_s is None else gap_s)
            available = self.shell.gateway.wallet.balance(pid, currency)
            funds = available["available"] + available["bonus"]
            bet = min(lognormal_minor(s.bet, d.uniform(tag, "bet", n, r), currency), funds)
            if bet <= 0:
                return
            round_id, tx = f"{pid}-{tag}{n}-r{r}", f"{pid}-{tag}{n}-r{r}-bet"
            if d.uniform(tag, "rollback_first", n, r) < s.rollback_first_probability:
                self._call(c.RollbackBet(AGGREGATOR, f"{tx}-rb", pid, tx, round_id), f"{tx}-rb")
            placed = self._call(c.PlaceBet(AGGREGATOR, tx, pid, round_id, bet, currency), tx)
            if placed is None:
                continue
            if d.uniform(tag, "rollback", n, r) < s.rollback_probability:
                self._call(c.RollbackBet(AGGREGATOR, f"{tx}-rb", pid, tx, round_id), f"{tx}-rb")
                continue
            won = d.uniform(tag, "win", n, r) < s.win_probability
            win = int(bet * s.rtp / s.win_probability * 2 * d.uniform(tag, "size", n, r)) if won else 0
            self._call(c.SettleWin(AGGREGATOR, f"{tx}-win", pid, round_id, tx, win, currency),
                       f"{tx}-win")

    def _withdraw(self, pid: str, n: int, currency: str) -> None:
        if self.payout_provider is None:
            return
        cash = self.shell.gateway.wallet.balance(pid, currency)["available"]
        if cash < 1_000:
            return
        self.withdrawals_started += 1
        try:
            self.shell.payout(f"{pid}-w{n}", pid, cash, currency, "bank", self.payout_provider)
        except DomainError:
            return

    def _convert(self, pid: str, n: int, currency: str) -> None:
        to = "USD" if currency != "USD" else "EUR"
        cash = self.shell.gateway.wallet.balance(pid, currency)["available"]
        if cash < 200:
            return
        self._call(c.OpenCurrency(pid, to), f"{pid}:open:{to}")
        self._call(c.ConvertCurrency(pid, f"{pid}-fx{n}", currency, to, cash // 2, "1.08"),
                   f"{pid}-fx{n}")

    def _call(self, cmd: c.Command, key: str) -> dict[str, Any] | None:
        return self.history.call(cmd, key, float(self.env.now))
