"""Cascading retries and the strategy registry."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wallet.domain.routing import (
    STRATEGIES,
    Candidate,
    CircuitBreaker,
    InvalidRoutingConfig,
    Outcome,
    RouteRequest,
    RuleBased,
    SuccessRateWindow,
    Thompson,
    make_strategy,
    next_attempt,
)

CANDS = [Candidate(n, "card", "EUR", priority=i)
         for i, n in enumerate(["acme", "globex", "paywave", "openbank"])]


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(list(STRATEGIES)), seed=st.integers(0, 2**32),
       outcomes=st.lists(st.sampled_from(list(Outcome)), min_size=6, max_size=6),
       retryable=st.lists(st.booleans(), min_size=6, max_size=6), max_attempts=st.integers(1, 6))
def test_a_cascade_never_repeats_a_provider_and_respects_its_bounds(
        name: str, seed: int, outcomes: list[Outcome], retryable: list[bool], max_attempts: int) -> None:
    strategy = make_strategy(name, **({"rules": []} if name == "rules" else {}))
    rng = random.Random(seed)
    request: RouteRequest | None = RouteRequest("pay-1", 2_500, "EUR", "card")
    used: list[str] = []
    last = None
    while request is not None:
        decision = strategy.choose(request, CANDS, rng, 0.0)
        assert decision.provider is not None  # the cascade stops before candidates run out
        used.append(decision.provider)
        last = outcomes[len(used) - 1]
        strategy.observe(decision.provider, request, last, 0.0)
        retry = next_attempt(request, decision.provider, last, decline_retryable=retryable[len(used) - 1],
                             max_attempts=max_attempts, candidates=CANDS)
        assert retry.reason
        request = retry.request
    assert len(used) == len(set(used))
    assert len(used) <= max_attempts
    if len(used) < min(max_attempts, len(CANDS)):  # stopped early: only for a reason
        assert last in (Outcome.SUCCESS, Outcome.HARD_DECLINE) or (
            last is Outcome.SOFT_DECLINE and not retryable[len(used) - 1])


def test_soft_declines_and_errors_cascade_to_another_provider() -> None:
    request = RouteRequest("pay-1", 100, "EUR", "card")
    soft = next_attempt(request, "acme", Outcome.SOFT_DECLINE, decline_retryable=True, max_attempts=3)
    assert soft.retry
    assert soft.request == RouteRequest("pay-1", 100, "EUR", "card", attempt=2, tried=frozenset({"acme"}))
    assert soft.request is not None
    error = next_attempt(soft.request, "globex", Outcome.ERROR, decline_retryable=False, max_attempts=3)
    assert error.request is not None
    assert error.request.tried == {"acme", "globex"}
    assert error.reason == "globex error: cascade to attempt 3, excluding acme, globex"


@pytest.mark.parametrize(
    ("outcome", "retryable", "attempt", "error_retryable", "why"),
    [
        (Outcome.SUCCESS, True, 1, True, "approved"),
        (Outcome.HARD_DECLINE, True, 1, True, "hard decline"),
        (Outcome.SOFT_DECLINE, False, 1, True, "not retryable"),
        (Outcome.ERROR, True, 1, False, "may have been processed"),
        (Outcome.SOFT_DECLINE, True, 3, True, "attempt 3 of 3, giving up"),
    ],
)
def test_when_a_cascade_stops(outcome: Outcome, retryable: bool, attempt: int, error_retryable: bool,
                              why: str) -> None:
    request = RouteRequest("pay-1", 100, "EUR", "card", attempt=attempt)
    retry = next_attempt(request, "acme", outcome, decline_retryable=retryable, max_attempts=3,
                         error_retryable=error_retryable)
    assert not retry.retry
    assert why in retry.reason


def test_a_cascade_stops_when_no_other_provider_is_eligible() -> None:
    request = RouteRequest("pay-1", 100, "EUR", "card", attempt=1, tried=frozenset({"acme"}))
    retry = next_attempt(request, "globex", Outcome.ERROR, decline_retryable=True, max_attempts=5,
                         candidates=CANDS[:2])
    assert (retry.request, retry.reason) == (None, "globex error: no other eligible provider left")


def test_max_attempts_is_validated() -> None:
    with pytest.raises(InvalidRoutingConfig) as err:
        next_attempt(RouteRequest("p", 1, "EUR", "card"), "a", Outcome.ERROR, decline_retryable=True,
                     max_attempts=0)
    assert err.value.field == "max_attempts"


def test_registry_builds_every_strategy_with_its_parameters() -> None:
    assert isinstance(make_strategy("thompson", gamma=0.99), Thompson)
    assert make_strategy("thompson", gamma=0.99).gamma == 0.99  # type: ignore[attr-defined]
    wrapped = make_strategy("sr_window", eliminate=True, window=50, hedge=0.01)
    assert isinstance(wrapped, CircuitBreaker)
    assert isinstance(wrapped.inner, SuccessRateWindow)
    assert (wrapped.inner.window, wrapped.inner.hedge, wrapped.name) == (50, 0.01, "sr_window+eliminate")
    rules = make_strategy("rules", rules=[], fallback={"name": "thompson", "gamma": 0.9, "eliminate": True})
    assert isinstance(rules, RuleBased)
    assert isinstance(rules.fallback, CircuitBreaker)
    names = {make_strategy(n, **({"rules": []} if n == "rules" else {})).name for n in STRATEGIES}
    assert names == set(STRATEGIES)


@pytest.mark.parametrize(
    ("name", "params", "field", "fragment"),
    [
        ("thompsen", {}, "name", "unknown strategy 'thompsen'"),
        ("thompson", {"gama": 0.9}, "gama", "has no parameter 'gama'"),
        ("thompson", {"gamma": 0}, "gamma", "gamma must be in (0, 1]"),
        ("sr_window", {"hedge": 5}, "hedge", "a share, not a percent"),
        ("sr_window", {"window": 0}, "window", "window must be an int >= 1"),
        ("sw_ucb", {"window": 2.5}, "window", "window must be an int >= 1"),
        ("d_ucb", {"c": -1}, "c", "c must be >= 0"),
        ("epsilon_greedy", {"epsilon": "0.1"}, "epsilon", "finite number"),
        ("epsilon_greedy", {"segment_by": ["payment_id"]}, "segment_by", "must list fields among"),
        ("split", {"weights": {"acme": -1}}, "weights['acme']", ">= 0"),
        ("rules", {}, "rules", "needs parameter 'rules'"),
        ("rules", {"rules": [], "fallback": 3}, "fallback", "fallback must be"),
        ("static", {"eliminate": "yes"}, "eliminate", "eliminate must be"),
    ],
)
def test_registry_errors_name_the_parameter(name: str, params: dict[str, object], field: str,
                                            fragment: str) -> None:
    with pytest.raises(InvalidRoutingConfig) as err:
        make_strategy(name, **params)  # type: ignore[arg-type]
    assert err.value.field == field
    assert fragment in str(err.value)
    assert isinstance(err.value, ValueError)
