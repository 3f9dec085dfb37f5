"""Strategies that do not learn: priority with failover, volume split, least cost.

They are the baselines every learning strategy must beat (a rule-based router
is what the published A/B tests compare against), and the fallbacks when
learning is not wanted.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from wallet.domain.routing.base import Candidate, Decision, RouteRequest, Strategy
from wallet.domain.routing.params import InvalidRoutingConfig, non_negative


def by_priority(pool: Sequence[Candidate]) -> Candidate:
    """Lowest ``priority`` value; ties keep the configured order. O(n), no sort."""
    best = pool[0]
    for c in pool:
        if c.priority < best.priority:
            best = c
    return best


def _tried_note(request: RouteRequest) -> str:
    return f" (after {', '.join(sorted(request.tried))})" if request.tried else ""


class StaticPriority(Strategy):
    """First eligible provider in priority order; failover comes from ``tried`` when cascading."""

    name = "static"

    def decide(self, request: RouteRequest, pool: Sequence[Candidate], rng: random.Random,
               now: float) -> Decision:
        best = by_priority(pool)
        scores = {c.name: float(-c.priority) for c in pool}
        verb = "priority failover" if request.tried else "priority"
        return Decision(best.name, f"{verb}: {best.name} (priority {best.priority}, "
                        f"first of {len(pool)} eligible){_tried_note(request)}", scores, self.name)


class WeightedSplit(Strategy):
    """Volume split by weight, renormalised over the eligible candidates.

    One ``rng.random()`` per decision, so the split is exact in expectation and
    reproducible from the caller's seed. ``weights`` overrides ``Candidate.weight``.
    When every eligible weight is zero the split falls back to uniform.
    """

    name = "split"

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        super().__init__()
        if weights is not None and not isinstance(weights, Mapping):
            raise InvalidRoutingConfig("weights must map provider name to a number", field="weights")
        self.weights = {str(k): non_negative(f"weights[{k!r}]", v) for k, v in (weights or {}).items()}

    def decide(self, request: RouteRequest, pool: Sequence[Candidate], rng: random.Random,
               now: float) -> Decision:
        get = self.weights.get
        ws = [get(c.name, c.weight) for c in pool]
        total = sum(ws)
        u = rng.random()
        if total <= 0:
            pick = pool[int(u * len(pool))]
            return Decision(pick.name, f"split: every eligible weight is 0, uniform pick {pick.name}",
                            {c.name: 0.0 for c in pool}, self.name)
        target, acc = u * total, 0.0
        pick, w = pool[-1], ws[-1]
        for c, cw in zip(pool, ws, strict=True):
            acc += cw
            if target < acc:
                pick, w = c, cw
                break
        scores = {c.name: cw / total for c, cw in zip(pool, ws, strict=True)}
        return Decision(pick.name, f"split: {pick.name} (weight {w:g} of {total:g}, {w / total:.0%})"
                        f"{_tried_note(request)}", scores, self.name)


class LeastCost(Strategy):
    """Cheapest provider for this amount and currency; ties by priority, then configured order.

    ``scores`` hold the fee in minor units (lower is better).
    """

    name = "least_cost"

    def decide(self, request: RouteRequest, pool: Sequence[Candidate], rng: random.Random,
               now: float) -> Decision:
        amount, currency = request.amount, request.currency
        best, best_fee = pool[0], pool[0].fee_for(amount, currency)
        scores = {best.name: float(best_fee)}
        second: tuple[str, int] | None = None
        for c in pool[1:]:
            fee = c.fee_for(amount, currency)
            scores[c.name] = float(fee)
            if fee < best_fee or (fee == best_fee and c.priority < best.priority):
                second = (best.name, best_fee)
                best, best_fee = c, fee
            elif second is None or fee < second[1]:
                second = (c.name, fee)
        tail = f" < {second[0]} {second[1]}" if second else " (only eligible)"
        return Decision(best.name, f"least-cost: {best.name} fee {best_fee}{tail} "
                        f"({currency} minor units on {amount}){_tried_note(request)}", scores, self.name)
