"""Run a scenario in SimPy virtual time and check it: the main job engineers run.

Everything random is keyed from the seed (players by id, providers by name,
routing by payment and attempt), so the same scenario and seed give the same
``results.json``. The wallet runs on the in-memory store; the gateway, routing
and mock behaviour are the code the live mode runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import simpy

from mocks.models.profile import FaultProfile
from mocks.models.runtime import ProviderRuntime
from sandbox.checks import Check, failing_anomalies, run_checks
from sandbox.engine.sim import SimClock, SimShell, relaxed_gc
from sandbox.metrics import Metrics, measure
from sandbox.randomness import Dice
from sandbox.scenario import HOUR, Scenario
from sandbox.variants import VARIANTS, Deferring, build
from sandbox.workload import History, Population
from wallet.adapters.memory import MemoryStore
from wallet.domain.payments.model import DEFAULT_POLICY, Policy
from wallet.domain.routing import Candidate, Fee, Strategy
from wallet.service.controls import Controls, DefaultControls
from wallet.service.unit_of_work import Store

Progress = Callable[[float, float], None]  # (virtual seconds done, total)


@dataclass
class RunResult:
    scenario: Scenario
    seed: int
    variant: str
    checks: list[Check]
    expectations: list[Check]
    anomalies: dict[str, int]
    metrics: Metrics
    mode: str = "sim"
    extra: dict[str, Any] = field(default_factory=dict)
    # The finished simulation, for analyses that need the journal or the calls (sandbox.sweep's
    # oracle regret); never serialised.
    shell: SimShell | None = field(default=None, repr=False, compare=False)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks) and all(c.passed for c in self.expectations)

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario.name, "purpose": self.scenario.purpose,
                "seed": self.seed, "mode": self.mode, "wallet_variant": self.variant,
                "passed": self.passed, "checks": [c.to_dict() for c in self.checks],
                "expectations": [c.to_dict() for c in self.expectations],
                "anomalies": self.anomalies, "metrics": self.metrics.summary(), **self.extra}


def candidates(profiles: dict[str, FaultProfile]) -> list[Candidate]:
    """The gateway's contract with each provider: what it takes and what it charges (the
    provider's own published fees, so a clean run reconciles)."""
    out: list[Candidate] = []
    for name, p in profiles.items():
        if p.kind == "crypto":
            currencies = sorted(p.chain.rate) if p.chain else ["EUR"]
        else:
            currencies = sorted(set(p.fees.fixed) | {"EUR"})
        bps = int(p.fees.percent * 100)
        fees = {c: Fee(bps, p.compiled.fee(0, c)) for c in currencies}
        out.append(Candidate(name, frozenset({p.kind}), frozenset(currencies), fees=fees,
                             priority=len(out)))
    return out


def simulation(env: simpy.Environment, profiles: dict[str, FaultProfile], dice: Dice,
               strategy: Strategy, *, seed: int, variant: str = "reference",
               store: Store | None = None, policy: Policy = DEFAULT_POLICY,
               controls: Controls | None = None, client_timeout_s: float = 30.0) -> SimShell:
    """The wallet and gateway of ``variant`` against the providers' behaviour models, ready
    for traffic: every provider rolls its own dice, keyed by its name."""
    runtimes = {n: ProviderRuntime(n, p, dice.child("provider", n)) for n, p in profiles.items()}
    gateway = build(variant, store or MemoryStore(), SimClock(env), candidates(profiles),
                    strategy, seed=seed, policy=policy, controls=controls or DefaultControls())
    shell = SimShell(env, gateway, runtimes, client_timeout_s=client_timeout_s)
    if isinstance(gateway, Deferring):
        gateway.executor = shell.execute
    return shell


def run_scenario(scenario: Scenario, *, seed: int | None = None, variant: str = "reference",
                 store: Store | None = None, base: Path | None = None,
                 progress: Progress | None = None) -> RunResult:
    """Play ``scenario`` on ``store`` (default: in memory) and check it."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown wallet variant {variant!r}; known: {', '.join(VARIANTS)}")
    seed = scenario.seed if seed is None else seed
    env = simpy.Environment()
    dice = Dice(seed)
    profiles = scenario.profiles(base)
    shell = simulation(env, profiles, dice, scenario.routing.build(), seed=seed, variant=variant,
                       store=store, policy=Policy(max_attempts=scenario.gateway.max_attempts),
                       controls=DefaultControls(scenario.payout_review_at()),
                       client_timeout_s=scenario.gateway.client_timeout_s)
    gateway = shell.gateway
    history = History(gateway.wallet)
    payout = next((n for n, p in profiles.items() if p.kind == "bank"), None)
    Population(env, scenario, shell, history, dice.child("workload"), payout).start()
    end = scenario.end_s
    with relaxed_gc():
        while env.now < end:
            env.run(until=min(env.now + HOUR, end))
            if progress:
                progress(float(env.now), end)
    decisions = [d for rt in shell.runtimes.values() for d in rt.records.decisions()]
    journal = gateway.journal()
    checks, anomalies = run_checks(gateway.wallet, journal, decisions, history, end)
    metrics = measure(scenario, gateway, shell.calls, journal)
    expectations = expect(scenario, metrics, anomalies)
    return RunResult(scenario, seed, variant, checks, expectations, anomalies, metrics,
                     extra={"virtual_hours": end / HOUR, "deliveries": shell.deliveries,
                            "operations": len(history.ops)}, shell=shell)


def expect(scenario: Scenario, m: Metrics, anomalies: dict[str, int]) -> list[Check]:
    """The scenario's expectations, each a pass/fail with the measured value."""
    e = scenario.expectations
    out: list[Check] = []
    approval = m.summary()["deposits"]["approval_after_cascade"]
    if e.deposit_approval_min is not None:
        out.append(Check("deposit_approval_min", approval >= e.deposit_approval_min,
                         detail=f"{approval:.3f} >= {e.deposit_approval_min}"))
    if e.deposit_approval_max is not None:
        out.append(Check("deposit_approval_max", approval <= e.deposit_approval_max,
                         detail=f"{approval:.3f} <= {e.deposit_approval_max}"))
    if e.p99_time_to_credit_max_s is not None:
        p99 = m.summary()["time_to_credit_s"]["p99"]
        out.append(Check("p99_time_to_credit", p99 is not None and p99 <= e.p99_time_to_credit_max_s,
                         detail=f"{p99:.1f} s <= {e.p99_time_to_credit_max_s} s" if p99 is not None
                         else "no deposit was credited"))
    failing = failing_anomalies(anomalies)
    for kind, limit in e.anomalies_max.items():
        n = anomalies.get(kind, 0)
        out.append(Check(f"anomalies_max:{kind}", n <= limit, detail=f"{n} <= {limit}"))
    for kind, least in e.anomalies_min.items():
        n = anomalies.get(kind, 0)
        out.append(Check(f"anomalies_min:{kind}", n >= least, detail=f"{n} >= {least}"))
    unexpected = {k: v for k, v in failing.items()
                  if k not in e.anomalies_max and k not in e.anomalies_min}
    out.append(Check("no_unexpected_anomalies", not unexpected,
                     [f"{k}={v}" for k, v in sorted(unexpected.items())], len(unexpected),
                     "every anomaly kind that needs a human is one the scenario expects"))
    return out
