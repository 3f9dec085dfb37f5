"""A seeded casino day played straight into the wallet, then checked and reported.

The smaller main job until the SimPy scenario runner exists: players deposit,
bet and win (a slot with a set return-to-player), take bonuses, withdraw; the
aggregator retries bets, and sometimes rolls a bet back before the bet itself
arrives; a few deposits are charged back. Every draw is keyed by (seed, player,
step), so the same seed gives the same day.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.randomness import Dice
from wallet.domain import commands as c
from wallet.domain.errors import DomainError
from wallet.domain.idempotency import IdempotencyKey
from wallet.domain.ledger import AccountType, parse_account_id
from wallet.service.clock import ManualClock
from wallet.service.wallet import Wallet

DAY = 86_400.0
RTP = 0.96  # slot return-to-player; typical published RTPs sit between 94% and 97%
DEPOSITS = (1_000, 2_000, 2_500, 5_000, 10_000, 20_000, 50_000)  # EUR cents
STAKES = (10, 20, 50, 100, 200, 500)


@dataclass
class DayResult:
    seed: int
    players: int
    operations: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    replays_identical: int = 0
    replays_different: int = 0
    ggr_over_time: list[tuple[float, int]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(ch["passed"] for ch in self.checks) and self.replays_different == 0


class _Player:
    """One player's day as a small script over keyed dice."""

    def __init__(self, pid: str, dice: Dice, wallet: Wallet, clock: ManualClock, out: DayResult) -> None:
        self.pid, self.dice, self.wallet, self.clock, self.out = pid, dice, wallet, clock, out
        self.step = 0

    def u(self, what: str) -> float:
        self.step += 1
        return self.dice.uniform(self.pid, what, self.step)

    def pick(self, what: str, options: tuple[int, ...]) -> int:
        return options[int(self.u(what) * len(options))]

    def do(self, cmd: c.Command, key: IdempotencyKey | None = None) -> dict[str, Any] | None:
        self.out.operations[cmd.action] += 1
        try:
            return self.wallet.execute(cmd, idempotency=key, actor="demo")
        except DomainError as exc:
            self.out.refusals[exc.code] += 1
            return None

    def play(self) -> None:
        pid = self.pid
        self.do(c.OpenPlayer(pid, "EUR", country="MT"))
        for n in range(1 + int(self.u("deposits") * 3)):
            self.clock.advance(self.u("gap") * 1_800)
            self.do(c.CreditDeposit(pid, "acme", f"{pid}-d{n}", self.pick("dep", DEPOSITS), "EUR", fee=25))
        if self.u("bonus") < 0.25:
            self.do(c.GrantBonus(pid, f"{pid}-bonus", 2_000, "EUR", wagering_multiplier=10))
        for r in range(int(self.u("rounds") * 120)):
            self.clock.advance(self.u("think") * 20)
            self.round(r)
        if self.u("withdraw") < 0.3:
            cash = self.wallet.balance(pid, "EUR")["available"]
            if cash:
                wid = f"{pid}-w"
                self.do(c.RequestWithdrawal(pid, wid, cash, "EUR", "acme"), IdempotencyKey("cashier", wid))
                paid = self.u("payout") < 0.9
                self.do(c.CompleteWithdrawal(wid, fee=50) if paid else c.ReleaseWithdrawal(wid))
        if self.u("chargeback") < 0.02:
            self.do(c.Chargeback("acme", f"{pid}-d0", self._first_deposit(), fee=1_500))

    def round(self, r: int) -> None:
        pid, bet_id = self.pid, f"{self.pid}-b{r}"
        stake = self.pick("stake", STAKES)
        if self.u("early_rollback") < 0.01:  # network failure: the rollback overtakes its bet
            self.do(c.RollbackBet("hub", f"{bet_id}-rb", pid, bet_id))
        bet = c.PlaceBet("hub", bet_id, pid, f"{pid}-r{r}", stake, "EUR", game_id="slot-96")
        key = IdempotencyKey("game:hub", bet_id)
        first = self.do(bet, key)
        if self.u("retry") < 0.05:  # the aggregator did not hear the answer and retries
            again = self.do(bet, key)
            ok = again == first
            self.out.replays_identical += ok
            self.out.replays_different += not ok
        if first is None:
            return
        if self.u("rollback") < 0.01:
            self.do(c.RollbackBet("hub", f"{bet_id}-rb", pid, bet_id))
            return
        hit = self.u("hit")
        win = int(stake * RTP / 0.3) if hit < 0.3 else 0  # 30% hit rate at RTP
        self.do(c.SettleWin("hub", f"{bet_id}-w", pid, f"{pid}-r{r}", bet_id, win, "EUR"))

    def _first_deposit(self) -> int:
        txn = self.wallet.transaction(f"deposit:acme:{self.pid}-d0")
        return next(-p.amount for p in txn.postings if p.account.startswith("provider_clearing"))


def play_day(wallet: Wallet, clock: ManualClock, *, players: int, seed: int,
             progress: Callable[[int], None] = lambda _: None) -> DayResult:
    """Players arrive across the day at seeded times and play their session from there."""
    out = DayResult(seed=seed, players=players)
    dice = Dice(seed)
    start = clock.now()
    ids = [f"p{i:05d}" for i in range(players)]
    arrivals = sorted((dice.uniform(pid, "arrival") * DAY, pid) for pid in ids)
    every = max(1, players // 60)
    for n, (at, pid) in enumerate(arrivals):
        clock.t = start + at
        if n % every == 0:
            out.ggr_over_time.append((clock.t, _house(wallet, AccountType.HOUSE_GAME)))
        _Player(pid, dice, wallet, clock, out).play()
        progress(1)
    out.ggr_over_time.append((start + DAY, _house(wallet, AccountType.HOUSE_GAME)))
    _check(wallet, out)
    return out


def _house(wallet: Wallet, kind: AccountType) -> int:
    with wallet.store.unit_of_work(read_only=True) as uow:
        return uow.balances([f"{kind.value}:casino:EUR"]).get(f"{kind.value}:casino:EUR", 0)


def _check(wallet: Wallet, out: DayResult) -> None:
    violations = wallet.ledger_violations()
    by_kind: dict[str, list[str]] = {}
    for v in violations:
        by_kind.setdefault(v.kind, []).extend(v.ids)
    breaks = wallet.verify_audit()
    out.checks = [
        {"name": "transactions_balance", "passed": not {"unbalanced", "too_few_postings"} & set(by_kind),
         "ids": by_kind.get("unbalanced", [])[:20]},
        {"name": "balances_equal_postings", "passed": "balance_mismatch" not in by_kind,
         "ids": by_kind.get("balance_mismatch", [])[:20]},
        {"name": "no_forbidden_negative", "passed": "negative_balance" not in by_kind,
         "ids": by_kind.get("negative_balance", [])[:20]},
        {"name": "money_conserved", "passed": "currency_not_conserved" not in by_kind,
         "ids": by_kind.get("currency_not_conserved", [])},
        {"name": "audit_chain_intact", "passed": not breaks,
         "ids": [f"{b.stream}#{b.seq}" for b in breaks[:20]]},
        {"name": "idempotent_replays_identical", "passed": out.replays_different == 0, "ids": []},
    ]
    with wallet.store.unit_of_work(read_only=True) as uow:
        txns = list(uow.all_transactions())
    totals: Counter[str] = Counter()
    for t in txns:
        for p in t.postings:
            kind, _, _ = parse_account_id(p.account)
            totals[kind.value] += p.amount
    out.totals = dict(sorted(totals.items()))


def write_report(out: DayResult, folder: Path, *, db_url: str, seconds: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    results = {
        "job": "wallet-demo-day", "seed": out.seed, "players": out.players, "database": db_url,
        "passed": out.passed, "checks": out.checks, "operations": dict(out.operations),
        "refusals": dict(out.refusals), "replays_identical": out.replays_identical,
        "account_totals_cents": out.totals, "wall_seconds": round(seconds, 2),
    }
    (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    _plot(out, folder / "ggr.png")
    ops = sum(out.operations.values())
    lines = [
        f"# Wallet demo day (seed {out.seed})", "",
        f"{out.players} players, {ops} wallet operations on `{db_url}` in {seconds:.1f} s "
        f"({ops / max(seconds, 1e-9):,.0f} ops/s).", "",
        f"**Result: {'PASS' if out.passed else 'FAIL'}**", "",
        "| check | passed | ids to look at |", "|---|---|---|",
        *[f"| {ch['name']} | {'yes' if ch['passed'] else '**no**'} | {', '.join(ch['ids']) or '-'} |"
          for ch in out.checks],
        "", "## Operations", "", "| command | calls |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in sorted(out.operations.items())],
        "", "## Refusals (expected business outcomes)", "", "| code | count |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in sorted(out.refusals.items())],
        "", f"Aggregator retries replayed identically: {out.replays_identical}.", "",
        "## Where the money is (sum of postings per account type, EUR cents)", "",
        "| account type | total |", "|---|---|",
        *[f"| {k} | {v:,} |" for k, v in out.totals.items()],
        "", "![gross gaming revenue over the day](ggr.png)", "",
    ]
    report = folder / "report.md"
    report.write_text("\n".join(lines))
    return report


def _plot(out: DayResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    t0 = out.ggr_over_time[0][0] if out.ggr_over_time else 0.0
    ax.plot([(t - t0) / 3600 for t, _ in out.ggr_over_time], [g / 100 for _, g in out.ggr_over_time])
    ax.set_xlabel("hour of the simulated day (players arriving)")
    ax.set_ylabel("house game account (EUR)")
    ax.set_title("Gross gaming revenue as the day is played")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
