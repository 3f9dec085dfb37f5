"""Rules every strategy obeys: eligibility, reasons, determinism, no hidden randomness."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wallet.domain.routing import (
    STRATEGIES,
    Candidate,
    Decision,
    Fee,
    InvalidRoutingConfig,
    Outcome,
    RouteRequest,
    Strategy,
    eligible,
    make_strategy,
)

NAMES = ["acme", "globex", "paywave", "openbank", "chainpay"]
METHODS = ["card", "ewallet", "bank"]
CURRENCIES = ["EUR", "USD", "JPY"]
COUNTRIES = ["DE", "GB", "JP"]
RULES = [
    {"name": "JPY→globex", "currency": "JPY", "providers": ["globex", "chainpay"]},
    {"name": "big", "min_amount": 100_000, "providers": ["paywave"]},
    {"name": "visa", "bin_prefix": "4", "providers": ["acme", "nobody"]},
]


def build(name: str, eliminate: bool = False) -> Strategy:
    return make_strategy(name, eliminate=eliminate, **({"rules": RULES} if name == "rules" else {}))


def subset(items: list[str], min_size: int = 0) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(items), min_size=min_size)


@st.composite
def candidates(draw: st.DrawFn) -> list[Candidate]:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=len(NAMES)))
    return [Candidate(n, draw(subset(METHODS, 1)), draw(subset(CURRENCIES, 1)), draw(subset(COUNTRIES)),
                      fee_bps=draw(st.integers(0, 400)), fee_fixed=draw(st.integers(0, 50)),
                      weight=draw(st.sampled_from([0.0, 1.0, 2.5])), priority=draw(st.integers(-2, 2)))
            for n in names]


requests = st.builds(
    RouteRequest, payment_id=st.text("abc123-", min_size=1, max_size=8), amount=st.integers(0, 10**7),
    currency=st.sampled_from(CURRENCIES), method=st.sampled_from(METHODS), country=st.sampled_from(COUNTRIES),
    bin=st.sampled_from(["", "411111", "552000", "40000012"]), attempt=st.integers(1, 4),
    tried=subset(NAMES))
history = st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(list(Outcome)),
                             st.floats(0, 100)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(list(STRATEGIES)), eliminate=st.booleans(), cands=candidates(),
       request=requests, past=history, seed=st.integers(0, 2**32))
def test_never_picks_an_ineligible_or_tried_provider(
        name: str, eliminate: bool, cands: list[Candidate], request: RouteRequest,
        past: list[tuple[str, Outcome, float]], seed: int) -> None:
    strategy = build(name, eliminate)
    for provider, outcome, at in past:  # arbitrary prior learning, circuits possibly open
        strategy.observe(provider, request, outcome, at)
    decision = strategy.choose(request, cands, random.Random(seed), 50.0)
    allowed = {c.name for c in eligible(request, cands)}
    assert decision.reason.strip()
    if decision.provider is None:
        assert not allowed or eliminate  # only the breaker may refuse while something is eligible
    else:
        assert decision.provider in allowed
        assert decision.provider not in request.tried
    assert set(decision.scores) <= allowed


@settings(max_examples=100, deadline=None)
@given(cands=candidates(), request=requests)
def test_eligibility_filter_is_exact(cands: list[Candidate], request: RouteRequest) -> None:
    kept = eligible(request, cands)
    for c in cands:
        fits = (request.method in c.methods and request.currency in c.currencies
                and (not c.countries or request.country in c.countries) and c.name not in request.tried)
        assert (c in kept) == fits
    assert kept == [c for c in cands if c in kept]  # configured order kept


def test_no_eligible_provider_says_why() -> None:
    cands = [Candidate("acme", "card", "EUR"), Candidate("globex", "card", "USD", countries={"US"}),
             Candidate("paywave", "ewallet", "EUR")]
    request = RouteRequest("p", 100, "EUR", "card", country="DE", tried=frozenset({"acme"}))
    decision = make_strategy("thompson").choose(request, cands, random.Random(1), 0.0)
    assert decision.provider is None
    assert decision.reason == ("no eligible provider: acme already tried, globex lacks EUR, "
                               "paywave lacks card")


def drive(strategy: Strategy, seed: int, payments: int = 300) -> list[Decision]:
    """Route payments with a generator keyed by (seed, payment id), as the gateway does."""
    cands = [Candidate(n, "card", "EUR", fee_bps=100 + 10 * i, priority=i) for i, n in enumerate(NAMES[:3])]
    rates = {"acme": 0.5, "globex": 0.7, "paywave": 0.6}
    out = []
    for i in range(payments):
        request = RouteRequest(f"pay-{i}", 500 + i, "EUR", "card", bin="411111")
        decision = strategy.choose(request, cands, random.Random(f"{seed}:route:pay-{i}"), float(i))
        out.append(decision)
        assert decision.provider is not None
        u = random.Random(f"{seed}:env:pay-{i}").random()
        outcome = Outcome.SUCCESS if u < rates[decision.provider] else (
            Outcome.ERROR if u > 0.95 else Outcome.SOFT_DECLINE)
        strategy.observe(decision.provider, request, outcome, float(i) + 0.5)
    return out


@pytest.mark.parametrize("eliminate", [False, True])
@pytest.mark.parametrize("name", list(STRATEGIES))
def test_same_seed_same_decisions_and_reasons(name: str, eliminate: bool) -> None:
    first, second = drive(build(name, eliminate), 7), drive(build(name, eliminate), 7)
    assert [(d.provider, d.reason, dict(d.scores), d.explored) for d in first] == \
           [(d.provider, d.reason, dict(d.scores), d.explored) for d in second]


@pytest.mark.parametrize("name", ["split", "sr_window", "epsilon_greedy", "thompson"])
def test_the_seed_matters_for_randomised_strategies(name: str) -> None:
    assert [d.provider for d in drive(build(name), 7)] != [d.provider for d in drive(build(name), 8)]


def test_reset_forgets_everything() -> None:
    strategy = build("thompson", eliminate=True)
    fresh = drive(strategy, 3)
    strategy.reset()
    assert strategy.snapshot() == {}
    assert [d.reason for d in drive(strategy, 3)] == [d.reason for d in fresh]


def _forbidden(*_: object, **__: object) -> None:
    raise AssertionError("global random used")


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_no_global_random(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    state = random.getstate()
    for fn in ("random", "uniform", "choice", "choices", "shuffle", "sample", "randint", "randrange",
               "betavariate", "gammavariate", "getrandbits", "seed", "expovariate", "gauss"):
        monkeypatch.setattr(random, fn, _forbidden)
    drive(build(name, eliminate=True), 5, payments=100)
    assert random.getstate() == state


@pytest.mark.parametrize("name", ["sr_window", "epsilon_greedy", "thompson", "sw_ucb", "d_ucb"])
def test_segments_keep_separate_statistics(name: str) -> None:
    strategy = make_strategy(name, segment_by=("currency",))
    eur, usd = RouteRequest("a", 100, "EUR", "card"), RouteRequest("b", 100, "USD", "card")
    for _ in range(30):
        strategy.observe("acme", eur, Outcome.SUCCESS, 0.0)
        strategy.observe("acme", usd, Outcome.SOFT_DECLINE, 0.0)
    snap = strategy.snapshot()
    assert snap["acme"]["observed"] == 60  # lifetime tally over both segments
    assert {"acme@EUR", "acme@USD"} <= set(snap)
    rate = "window_rate" if name == "sr_window" else "estimate" if name == "epsilon_greedy" else "mean"
    assert snap["acme@EUR"][rate] > 0.9
    assert snap["acme@USD"][rate] < 0.1


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Candidate("", "card", "EUR"), "name"),
        (lambda: Candidate("a", "card", "EUR", fee_bps=-1), "bps"),
        (lambda: Candidate("a", "card", "EUR", weight=-1.0), "weight"),
        (lambda: Candidate("a", "card", [""]), "currencies"),
        (lambda: RouteRequest("p", -5, "EUR", "card"), "amount"),
        (lambda: RouteRequest("p", 5, "EUR", "card", bin="41x111"), "bin"),
        (lambda: RouteRequest("p", 5, "EUR", "card", attempt=0), "attempt"),
        (lambda: Fee(bps=1.5), "bps"),  # type: ignore[arg-type]
    ],
)
def test_bad_values_name_their_field(make: Callable[[], object], field: str) -> None:
    with pytest.raises(InvalidRoutingConfig) as err:
        make()
    assert err.value.field == field


def test_fees_per_currency_override_the_default() -> None:
    c = Candidate("acme", "card", {"EUR", "JPY"}, fee_bps=250, fee_fixed=25,
                  fees={"JPY": Fee(bps=300, fixed=30)})
    assert c.fee_for(10_000, "EUR") == 25 + 250
    assert c.fee_for(10_000, "JPY") == 30 + 300
    assert c.fee_for(1, "EUR") == 25  # 0.025 minor units rounds to 0
    assert c.fee_for(20, "EUR") == 25 + 1  # 0.5 rounds half up
