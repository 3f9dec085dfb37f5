"""The circuit breaker: opens on failures, holds for the cool-down, probes once, closes on success."""

from __future__ import annotations

import random

import pytest

from wallet.domain.routing import (
    Candidate,
    Circuit,
    CircuitBreaker,
    Decision,
    InvalidRoutingConfig,
    Outcome,
    RouteRequest,
    make_strategy,
)

CANDS = [Candidate("acme", "card", "EUR", priority=0), Candidate("globex", "card", "EUR", priority=1)]
E, S, D = Outcome.ERROR, Outcome.SUCCESS, Outcome.SOFT_DECLINE


def breaker(**params: object) -> CircuitBreaker:
    strategy = make_strategy("static", eliminate={"cooldown": 30.0, **params})
    assert isinstance(strategy, CircuitBreaker)
    return strategy


def pay(i: int) -> RouteRequest:
    return RouteRequest(f"pay-{i}", 1_000, "EUR", "card")


def feed(b: CircuitBreaker, outcomes: list[Outcome], now: float = 0.0, provider: str = "acme") -> None:
    for i, outcome in enumerate(outcomes):
        b.observe(provider, pay(1_000 + i), outcome, now)


def choose(b: CircuitBreaker, now: float, i: int = 0) -> Decision:
    return b.choose(pay(i), CANDS, random.Random(i), now)


def test_opens_after_consecutive_failures_and_says_so() -> None:
    b = breaker(max_consecutive_failures=3, min_samples=20)
    feed(b, [E, E, S, E, E], now=10.0)  # the success resets the streak
    assert b.circuit("acme") is Circuit.CLOSED
    assert choose(b, 10.0).provider == "acme"
    feed(b, [E], now=12.0)
    assert b.circuit("acme") is Circuit.OPEN
    d = choose(b, 12.0)
    assert d.provider == "globex"
    assert d.reason == ("priority: globex (priority 1, first of 1 eligible); "
                        "acme eliminated: 3 consecutive failures, circuit open until t=42")


def test_opens_on_failure_ratio_in_window() -> None:
    b = breaker(max_consecutive_failures=99, window=10, min_samples=10, failure_ratio=0.5)
    feed(b, [E, S] * 4 + [S])  # 4 of 9: too few samples and under the ratio
    assert b.circuit("acme") is Circuit.CLOSED
    feed(b, [E])  # 5 of 10
    assert b.circuit("acme") is Circuit.OPEN
    assert "acme eliminated: 5/10 failures" in choose(b, 1.0).reason


def test_declines_prove_the_provider_is_up_unless_configured() -> None:
    lenient = breaker(max_consecutive_failures=3)
    feed(lenient, [D, D, D, Outcome.HARD_DECLINE, D])
    assert lenient.circuit("acme") is Circuit.CLOSED
    strict = breaker(max_consecutive_failures=3, declines_are_failures=True)
    feed(strict, [D, D, D])
    assert strict.circuit("acme") is Circuit.OPEN


def test_stays_open_for_the_cooldown_then_lets_exactly_one_probe_through() -> None:
    b = breaker(max_consecutive_failures=2)
    feed(b, [E, E], now=100.0)
    assert choose(b, 129.9).provider == "globex"  # still cooling down
    probe = choose(b, 130.0, i=1)
    assert probe.provider == "acme"
    assert "probe of half-open acme" in probe.reason
    assert b.circuit("acme") is Circuit.HALF_OPEN
    d = choose(b, 131.0, i=2)
    assert d.provider == "globex"  # one probe at a time
    assert "acme half-open, probe pay-1 in flight" in d.reason


def test_a_successful_probe_closes_the_circuit() -> None:
    b = breaker(max_consecutive_failures=2)
    feed(b, [E, E], now=0.0)
    assert choose(b, 30.0, i=7).provider == "acme"
    b.observe("acme", pay(1_000), S, 31.0)  # a stale result of an older payment changes nothing
    assert b.circuit("acme") is Circuit.HALF_OPEN
    b.observe("acme", pay(7), D, 32.0)  # the probe was answered (declined): the provider is up
    assert b.circuit("acme") is Circuit.CLOSED
    d = choose(b, 32.0, i=8)
    assert (d.provider, d.reason) == ("acme", "priority: acme (priority 0, first of 2 eligible)")


def test_a_failed_probe_reopens_for_another_cooldown() -> None:
    b = breaker(max_consecutive_failures=2)
    feed(b, [E, E], now=0.0)
    assert choose(b, 40.0, i=7).provider == "acme"
    b.observe("acme", pay(7), E, 45.0)
    assert b.circuit("acme") is Circuit.OPEN
    d = choose(b, 70.0)
    assert d.provider == "globex"
    assert "acme eliminated: half-open probe failed, circuit open until t=75" in d.reason
    assert choose(b, 75.0, i=9).provider == "acme"  # next probe
    assert b.snapshot()["acme"]["trips"] == 2


def test_a_lost_probe_is_replaced_after_the_probe_timeout() -> None:
    b = breaker(max_consecutive_failures=2, probe_timeout=10.0)
    feed(b, [E, E], now=0.0)
    assert choose(b, 30.0, i=1).provider == "acme"
    assert choose(b, 39.0, i=2).provider == "globex"
    assert choose(b, 40.0, i=3).provider == "acme"  # no answer for pay-1: probe again


def test_every_provider_eliminated_fails_closed_by_default_or_open_when_asked() -> None:
    closed, opened = breaker(max_consecutive_failures=1), breaker(max_consecutive_failures=1, fail_open=True)
    for b in (closed, opened):
        feed(b, [E], provider="acme")
        feed(b, [E], provider="globex")
    d = choose(closed, 1.0)
    assert d.provider is None
    assert d.reason.startswith("every eligible provider eliminated; acme eliminated: 1 consecutive failure,")
    d = choose(opened, 1.0)
    assert d.provider == "acme"
    assert "failing open" in d.reason


def test_the_inner_strategy_learns_from_every_outcome() -> None:
    b = make_strategy("sr_window", eliminate={"max_consecutive_failures": 2})
    feed(b, [E, E, E, S], provider="acme")  # the last two arrive while open: stale for health, not for SR
    snap = b.snapshot()
    assert snap["acme"]["window_n"] == 4
    assert snap["acme"]["circuit"] == float(Circuit.OPEN)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"cooldown": -1}, "cooldown"), ({"failure_ratio": 2}, "failure_ratio"),
     ({"window": 5, "min_samples": 6}, "min_samples"),
     ({"max_consecutive_failures": 0}, "max_consecutive_failures"), ({"cooldwn": 5}, "cooldwn")],
)
def test_bad_breaker_parameters_name_themselves(params: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRoutingConfig) as err:
        make_strategy("thompson", eliminate=params)
    assert err.value.field == field
