"""Non-learning strategies: priority with failover, volume split, least cost, rules."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.domain.routing import (
    Candidate,
    Fee,
    InvalidRoutingConfig,
    Outcome,
    RouteRequest,
    Rule,
    RuleBased,
    make_strategy,
)

ACME = Candidate("acme", {"card"}, {"EUR", "USD"}, fee_bps=290, fee_fixed=25, priority=2, weight=1)
GLOBEX = Candidate("globex", {"card"}, {"EUR", "JPY"}, fee_bps=200, fee_fixed=30, priority=1, weight=3)
PAYWAVE = Candidate("paywave", {"card", "ewallet"}, {"EUR"}, countries={"DE", "AT"}, fee_bps=150,
                    fee_fixed=60, priority=3, weight=0)
ALL = [ACME, GLOBEX, PAYWAVE]


def req(amount: int = 1_000, currency: str = "EUR", country: str = "DE", method: str = "card", bin: str = "",
        tried: frozenset[str] = frozenset()) -> RouteRequest:
    return RouteRequest("pay-1", amount, currency, method, country, bin, 1 + len(tried), tried)


def test_static_priority_fails_over_in_priority_order() -> None:
    static = make_strategy("static")
    order = []
    tried: frozenset[str] = frozenset()
    while (d := static.choose(req(tried=tried), ALL, random.Random(0), 0.0)).provider is not None:
        order.append(d.provider)
        tried |= {d.provider}
        assert d.reason.startswith("priority failover" if len(tried) > 1 else "priority: ")
    assert order == ["globex", "acme", "paywave"]


def test_static_ties_keep_configured_order() -> None:
    a, b = Candidate("a", "card", "EUR"), Candidate("b", "card", "EUR")
    assert make_strategy("static").choose(req(), [b, a], random.Random(0), 0.0).provider == "b"


def test_split_follows_weights_and_renormalises_over_eligible() -> None:
    split = make_strategy("split")
    counts = {"acme": 0, "globex": 0, "paywave": 0}
    for i in range(4_000):
        counts[split.choose(req(), ALL, random.Random(i), 0.0).provider or ""] += 1
    assert counts["paywave"] == 0  # weight 0
    assert counts["globex"] / 4_000 == pytest.approx(0.75, abs=0.03)
    only_acme = split.choose(req(currency="USD"), ALL, random.Random(1), 0.0)
    assert only_acme.provider == "acme"
    assert "100%" in only_acme.reason


def test_split_weights_parameter_overrides_candidates() -> None:
    split = make_strategy("split", weights={"paywave": 1.0, "acme": 0, "globex": 0})
    assert {split.choose(req(), ALL, random.Random(i), 0.0).provider for i in range(50)} == {"paywave"}


def test_split_with_only_zero_weights_is_uniform() -> None:
    split = make_strategy("split", weights={"acme": 0, "globex": 0, "paywave": 0})
    picks = {split.choose(req(), ALL, random.Random(i), 0.0).provider for i in range(200)}
    assert picks == {"acme", "globex", "paywave"}


@given(amount=st.integers(0, 10**8))
def test_least_cost_picks_the_cheapest_fee_for_the_amount(amount: int) -> None:
    d = make_strategy("least_cost").choose(req(amount), ALL, random.Random(0), 0.0)
    fees = {c.name: c.fee_for(amount, "EUR") for c in ALL}
    assert fees[d.provider or ""] == min(fees.values())
    assert d.scores == {k: float(v) for k, v in fees.items()}


def test_least_cost_depends_on_amount_and_breaks_ties_by_priority() -> None:
    least = make_strategy("least_cost")
    assert least.choose(req(100), ALL, random.Random(0), 0.0).provider == "acme"  # fixed fee dominates
    assert least.choose(req(1_000_000), ALL, random.Random(0), 0.0).provider == "paywave"  # percentage does
    twins = [Candidate("b", "card", "EUR", fee_bps=100, priority=5),
             Candidate("a", "card", "EUR", fee_bps=100)]
    d = least.choose(req(10_000), twins, random.Random(0), 0.0)
    assert (d.provider, d.reason) == ("a", "least-cost: a fee 100 < b 100 (EUR minor units on 10000)")


def test_least_cost_uses_the_currency_fee_table() -> None:
    cheap_in_jpy = Candidate("acme", "card", {"EUR", "JPY"}, fee_bps=500, fees={"JPY": Fee(bps=10)})
    d = make_strategy("least_cost").choose(req(10_000, "JPY"), [GLOBEX, cheap_in_jpy], random.Random(0), 0.0)
    assert d.provider == "acme"


RULES = [
    {"name": "JPY→globex", "currency": "JPY", "providers": ["globex"]},
    {"name": "AT wallets", "country": "AT", "method": "ewallet", "providers": ["paywave"]},
    {"name": "big EUR", "currency": "EUR", "min_amount": 100_000, "max_amount": 1_000_000,
     "providers": ["paywave", "acme"]},
    {"name": "mastercard", "bin_prefixes": ["51", "52", "53", "54", "55"], "providers": ["acme"]},
    {"name": "catch-all EUR", "currency": "EUR", "providers": ["globex"]},
]


@pytest.mark.parametrize(
    ("request_", "provider", "rule"),
    [
        (req(500, "JPY", "JP"), "globex", "JPY→globex"),
        (req(500, "EUR", "AT", method="ewallet"), "paywave", "AT wallets"),
        (req(100_000, "EUR", "DE"), "paywave", "big EUR"),  # band is inclusive at the bottom
        (req(100_000, "EUR", "FR"), "acme", "big EUR"),  # paywave not in FR: next provider of the rule
        (req(1_000_000, "EUR", "DE", bin="552000"), "acme", "mastercard"),  # exclusive at the top
        (req(99_999, "EUR", "DE", bin="552000"), "acme", "mastercard"),
        (req(500, "EUR", "DE", bin="411111"), "globex", "catch-all EUR"),
    ],
)
def test_rules_match_in_order(request_: RouteRequest, provider: str, rule: str) -> None:
    d = make_strategy("rules", rules=RULES).choose(request_, ALL, random.Random(0), 0.0)
    assert (d.provider, d.reason) == (provider, f"rule {rule!r}: {provider}")


def test_unmatched_requests_fall_back() -> None:
    d = make_strategy("rules", rules=RULES[:2]).choose(req(500, "USD", "US"), ALL, random.Random(0), 0.0)
    assert d.provider == "acme"
    assert d.reason.startswith("no rule matched; fallback priority: acme")


def test_a_matched_rule_without_eligible_provider_falls_through() -> None:
    rules = [{"name": "JPY→globex", "currency": "JPY", "providers": ["globex"]}]
    cands = [*ALL, Candidate("yen", "card", "JPY")]
    d = make_strategy("rules", rules=rules, fallback="least_cost").choose(
        req(500, "JPY", tried=frozenset({"globex"})), cands, random.Random(0), 0.0)
    assert d.provider == "yen"
    assert d.reason.startswith("rules 'JPY→globex' matched but no listed provider is eligible; "
                               "fallback least-cost: yen")


def test_a_learning_fallback_sees_every_outcome() -> None:
    rules = RuleBased([Rule("JPY", ("globex",), currencies=frozenset({"JPY"}))],
                      fallback=make_strategy("sr_window"))
    rules.observe("acme", req(), Outcome.SUCCESS, 0.0)
    assert rules.fallback.snapshot()["acme"]["window_n"] == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "x", "providers": []}, "providers"),
        ({"name": "x", "providers": ["a"], "currencyy": "EUR"}, "currencyy"),
        ({"name": "x", "providers": ["a"], "min_amount": 10, "max_amount": 10}, "min_amount"),
        ({"name": "x", "providers": ["a"], "min_amount": 1.5}, "min_amount"),
        ({"name": "x", "providers": ["a"], "bin_prefix": "4x"}, "bin_prefixes"),
        ({"providers": ["a"]}, "name"),
        (0, "rules"),  # not a mapping: found by the scenario-file property (an AttributeError)
        (["a"], "rules"),
    ],
)
def test_bad_rules_name_their_field(data: object, field: str) -> None:
    with pytest.raises(InvalidRoutingConfig) as err:
        make_strategy("rules", rules=[data])
    assert err.value.field == field
