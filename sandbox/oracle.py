"""What a router that knew the truth would have done: regret and time to detect an outage.

The mock providers' fault profiles are the ground truth of the simulation: each has a
base approval rate, segment rules (country, BIN, issuer, amount, ...) and a timeline of
approval drops and outages. At the instant of every first-attempt routing decision the
oracle reads the TRUE approval rate of every eligible provider for that payment's
segment and compares the best with the one the strategy chose. Computed after the run
from the gateway's journal (its ``Routed`` entries), so it costs the simulation nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mocks.models.profile import FaultProfile
from mocks.models.types import PaymentRequest
from sandbox.engine.sim import SimShell
from sandbox.scenario import Scenario
from wallet.domain.payments.journal import JournalEntry
from wallet.domain.payments.model import DEPOSIT
from wallet.domain.routing.base import RouteRequest, eligible


def true_rate(profile: FaultProfile, request: PaymentRequest, now: float) -> float:
    """The approval probability the provider's model applies to ``request`` at ``now``: the
    segment's rate, capped by any approval window, zero during an outage. Transport faults
    (about 0.4 % of calls by default, the same for every provider) are left out."""
    cp = profile.compiled
    rate, _ = cp.segment(request)
    for w in cp.windows:
        if w.start <= now < w.end:
            if w.kind == "outage":
                return 0.0
            if w.kind == "approval":
                rate = min(rate, w.approval_rate)
    return rate


@dataclass(frozen=True)
class FirstAttempt:
    """One first-attempt routing decision with what the oracle knew at that instant."""

    at: float
    payment_id: str
    chosen: str
    rates: Mapping[str, float]  # true approval rate of each eligible provider

    @property
    def best(self) -> str:
        return max(self.rates, key=lambda name: self.rates[name])

    @property
    def regret(self) -> float:
        return max(self.rates.values()) - self.rates.get(self.chosen, 0.0)


def first_attempts(shell: SimShell, journal: Sequence[JournalEntry],
                   profiles: Mapping[str, FaultProfile]) -> list[FirstAttempt]:
    """Every deposit's first routing decision, in time order, with the true rates."""
    gateway = shell.gateway
    seen: set[str] = set()
    out: list[FirstAttempt] = []
    for j in journal:
        provider = j.detail.get("provider") if j.event == "Routed" else None
        if not provider or j.payment_id in seen:
            continue
        seen.add(j.payment_id)
        p = gateway.payment(j.payment_id)
        if p.kind != DEPOSIT:
            continue
        instrument = shell.instruments.get(p.id)
        request = PaymentRequest(p.id, "", p.player_id, p.amount, p.currency, p.method,
                                 country=p.country, card=instrument.card if instrument else None)
        route = RouteRequest(p.id, p.amount, p.currency, p.method, p.country, p.bin)
        rates = {c.name: true_rate(profiles[c.name], request, j.at)
                 for c in eligible(route, gateway.candidates) if c.name in profiles}
        if rates:
            out.append(FirstAttempt(j.at, p.id, provider, rates))
    out.sort(key=lambda d: d.at)
    return out


def regret_metrics(decisions: Sequence[FirstAttempt], final_share: float = 0.25) -> dict[str, float | str]:
    """Mean regret per first attempt (in approval probability), the oracle's and the chosen
    providers' mean true rates, and where the last ``final_share`` of decisions went."""
    if not decisions:
        nan = math.nan
        return {"oracle_approval": nan, "chosen_true_approval": nan, "regret": nan,
                "regret_total": nan, "best_share_final": nan, "final_choice": ""}
    n = len(decisions)
    best = sum(max(d.rates.values()) for d in decisions)
    total = sum(d.regret for d in decisions)
    tail = decisions[n - max(1, round(n * final_share)):]
    counts: dict[str, int] = {}
    for d in tail:
        counts[d.chosen] = counts.get(d.chosen, 0) + 1
    return {"oracle_approval": best / n, "chosen_true_approval": (best - total) / n,
            "regret": total / n, "regret_total": total,
            "best_share_final": sum(d.chosen == d.best for d in tail) / len(tail),
            "final_choice": max(sorted(counts), key=lambda k: counts[k])}


def time_to_detect(decisions: Sequence[FirstAttempt], scenario: Scenario, *, window: int = 10,
                   threshold: float = 0.2) -> tuple[float, bool]:
    """Seconds from the first outage's start until routing has moved away from the failing
    provider: the earliest first attempt during the outage from which, over it and the next
    ``window - 1`` first attempts, the failing provider gets at most ``threshold`` of them.

    Forward-looking, so it dates the switch itself rather than the moment enough evidence
    had piled up. Returns (seconds, detected). No outage in the scenario: (NaN, False).
    Not detected while the outage lasted: (the outage's length, False), a censored value.
    """
    outage = next((t for t in scenario.providers.timeline if t.kind == "outage"), None)
    if outage is None:
        return math.nan, False
    span = outage.window()
    during = [d for d in decisions if span.start <= d.at < span.end]
    hits = [d.chosen == outage.provider for d in during]
    allowed = threshold * window
    for i in range(len(during) - window + 1):
        if sum(hits[i:i + window]) <= allowed:
            return during[i].at - span.start, True
    return span.end - span.start, False
