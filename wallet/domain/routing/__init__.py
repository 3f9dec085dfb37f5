"""Pluggable payment routing strategies: pure, deterministic, standard library only.

The gateway asks ``strategy.choose(request, candidates, rng, now)`` for each
attempt and reports back with ``strategy.observe(provider, request, outcome,
now)`` whenever the outcome is known. See docs/routing.md.
"""

from wallet.domain.routing.bandits import DiscountedUcb, SlidingWindowUcb, Thompson
from wallet.domain.routing.base import (
    DECLINES,
    Candidate,
    Decision,
    Fee,
    Outcome,
    RouteRequest,
    Strategy,
    eligible,
)
from wallet.domain.routing.greedy import EpsilonGreedy, SuccessRateWindow
from wallet.domain.routing.health import Circuit, CircuitBreaker
from wallet.domain.routing.params import InvalidRoutingConfig
from wallet.domain.routing.registry import STRATEGIES, make_strategy
from wallet.domain.routing.rules import Rule, RuleBased
from wallet.domain.routing.static import LeastCost, StaticPriority, WeightedSplit

__all__ = [
    "DECLINES",
    "STRATEGIES",
    "Candidate",
    "Circuit",
    "CircuitBreaker",
    "Decision",
    "DiscountedUcb",
    "EpsilonGreedy",
    "Fee",
    "InvalidRoutingConfig",
    "LeastCost",
    "Outcome",
    "RouteRequest",
    "Rule",
    "RuleBased",
    "SlidingWindowUcb",
    "StaticPriority",
    "Strategy",
    "SuccessRateWindow",
    "Thompson",
    "WeightedSplit",
    "eligible",
    "make_strategy",
]
