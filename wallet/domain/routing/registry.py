"""Strategies by name, for scenarios and notebooks: ``make_strategy("thompson", gamma=0.99)``.

Parameters are checked before anything is built; an unknown or ill-typed one
raises ``InvalidRoutingConfig`` naming it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from wallet.domain.routing.bandits import DiscountedUcb, SlidingWindowUcb, Thompson
from wallet.domain.routing.base import Strategy
from wallet.domain.routing.greedy import EpsilonGreedy, SuccessRateWindow
from wallet.domain.routing.health import CircuitBreaker
from wallet.domain.routing.params import InvalidRoutingConfig
from wallet.domain.routing.rules import RuleBased
from wallet.domain.routing.static import LeastCost, StaticPriority, WeightedSplit

STRATEGIES: Mapping[str, type[Strategy]] = {
    "static": StaticPriority,
    "split": WeightedSplit,
    "rules": RuleBased,
    "least_cost": LeastCost,
    "sr_window": SuccessRateWindow,
    "epsilon_greedy": EpsilonGreedy,
    "thompson": Thompson,
    "sw_ucb": SlidingWindowUcb,
    "d_ucb": DiscountedUcb,
}


def _accepted(factory: Callable[..., object], skip: tuple[str, ...] = ()) -> list[str]:
    return [p for p in inspect.signature(factory).parameters if p not in ("self", *skip)]


def _check_names(what: str, params: Mapping[str, Any], accepted: list[str]) -> None:
    for key in params:
        if key not in accepted:
            raise InvalidRoutingConfig(
                f"{what} has no parameter {key!r} (accepted: {', '.join(accepted) or 'none'})", field=key)


def make_strategy(name: str, *, eliminate: bool | Mapping[str, Any] = False, **params: Any) -> Strategy:
    """Build the strategy ``name`` with ``params``; ``eliminate`` wraps it in a circuit breaker.

    ``eliminate`` is True for the default breaker or a mapping of breaker
    parameters (``{"cooldown": 60}``). For ``rules``, ``fallback`` may be a
    Strategy, a strategy name, or a mapping ``{"name": ..., **params}``.
    """
    cls = STRATEGIES.get(name)
    if cls is None:
        known = ", ".join(STRATEGIES)
        raise InvalidRoutingConfig(f"unknown strategy {name!r} (known: {known})", field="name")
    _check_names(f"strategy {name!r}", params, _accepted(cls))
    if name == "rules":
        if "rules" not in params:
            raise InvalidRoutingConfig("strategy 'rules' needs parameter 'rules'", field="rules")
        params = {**params, "fallback": _fallback(params.get("fallback"))}
    strategy = cls(**params)
    if eliminate is False:
        return strategy
    if eliminate is True:
        return CircuitBreaker(strategy)
    if not isinstance(eliminate, Mapping):
        raise InvalidRoutingConfig("eliminate must be a bool or a mapping of breaker parameters",
                                   field="eliminate")
    _check_names("eliminate", eliminate, _accepted(CircuitBreaker, skip=("inner",)))
    return CircuitBreaker(strategy, **eliminate)


def _fallback(value: object) -> Strategy | None:
    if value is None or isinstance(value, Strategy):
        return value
    if isinstance(value, str):
        return make_strategy(value)
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        rest = {k: v for k, v in value.items() if k != "name"}
        return make_strategy(value["name"], **rest)
    raise InvalidRoutingConfig("fallback must be a Strategy, a strategy name or a mapping with 'name'",
                               field="fallback")
