"""Over 100,000 seeded decisions the model matches its profile within 5 sigma.

Bounds are binomial: an observed share of n trials with true rate p stays
within 5 * sqrt(p (1 - p) / n) of p except with probability ~6e-7, so these
tests do not flake; a wrong threshold, a swapped code or a skewed sampler moves
the share by far more than that at n = 100,000. The seed is fixed anyway.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest

from mocks.models import FaultProfile, PaymentRequest
from mocks.models.card import decide
from mocks.models.compiled import Z99
from mocks.models.types import CardInfo
from sandbox.randomness import Dice

N = 100_000
SIGMAS = 5.0
CARD = CardInfo("411111", "1111", funding="debit")


def bound(p: float, n: int) -> float:
    return SIGMAS * math.sqrt(max(p * (1 - p), 1e-12) / n)


def assert_rate(hits: int, n: int, p: float) -> None:
    assert n > 0
    assert abs(hits / n - p) <= bound(p, n), f"observed {hits / n:.5f}, expected {p} over {n}"


def requests(n: int, prefix: str = "p") -> list[PaymentRequest]:
    return [PaymentRequest(f"{prefix}{i}", f"k{i}", f"u{i % 977}", 2500, "EUR", "card",
                           country="DE", card=CARD) for i in range(n)]


PROFILE = FaultProfile.model_validate({
    "kind": "card", "approval_rate": 0.62,
    "decline_mix": {"insufficient_funds": 0.44, "suspected_fraud": 0.09, "do_not_honor": 0.30,
                    "gambling_mcc_blocked": 0.10, "expired_card": 0.07},
    "latency": {"kind": "lognormal", "p50": 0.3, "p99": 0.9},
    "timeout": {"probability": 0.01, "processed_probability": 0.5},
    "errors": {"http_5xx": 0.02, "http_429": 0.01, "reset": 0.005, "empty": 0.0,
               "malformed": 0.0},
    "three_ds": {"challenge_probability": 0.2, "extra_latency_s": 0.0},
    "webhooks": {"duplicate_probability": 0.05, "duplicate_count": 2,
                 "reorder_probability": 0.03, "loss_probability": 0.01},
})


@pytest.fixture(scope="module")
def sample():
    dice = Dice(20240601)
    return [decide(r, dice, 0.0, PROFILE, provider="acme") for r in requests(N)]


def test_fault_rates_match_profile(sample):
    faults = Counter(d.fault for d in sample)
    assert_rate(faults["timeout"], N, 0.01)
    assert_rate(faults["http_5xx"], N, 0.02)
    assert_rate(faults["http_429"], N, 0.01)
    assert_rate(faults["reset"], N, 0.005)
    timeouts = [d for d in sample if d.fault == "timeout"]
    assert_rate(sum(d.processed for d in timeouts), len(timeouts), 0.5)
    assert not any(d.processed for d in sample if d.fault in ("http_5xx", "http_429"))
    assert all(d.latency == PROFILE.timeout.hang_s for d in timeouts)


def test_approval_rate_and_decline_mix_match_profile(sample):
    processed = [d for d in sample if d.processed]
    approved = sum(d.final_outcome == "approved" for d in processed)
    assert_rate(approved, len(processed), 0.62)
    declines = Counter(d.decline_code for d in processed if d.final_outcome == "declined")
    n_declined = sum(declines.values())
    for code, weight in PROFILE.decline_mix.items():
        assert_rate(declines[code], n_declined, weight)
    assert set(declines) == set(PROFILE.decline_mix)


def test_three_ds_share_and_pending_path(sample):
    processed = [d for d in sample if d.processed]
    challenged = [d for d in processed if d.extra["three_ds"]]
    assert_rate(len(challenged), len(processed), 0.2)
    assert all(d.outcome == "pending" and d.final_at > d.responded_at for d in challenged)
    plain = [d for d in processed if not d.extra["three_ds"]]
    assert all(d.outcome == d.final_outcome and d.final_at == d.responded_at for d in plain)


def test_latency_percentiles_match_lognormal(sample):
    # The share of samples below the true p50 / p99 is binomial: test it, not the quantile.
    lat = [d.latency for d in sample if d.fault is None]
    n = len(lat)
    p50, p99 = 0.3, 0.9
    assert_rate(sum(x <= p50 for x in lat), n, 0.50)
    assert_rate(sum(x <= p99 for x in lat), n, 0.99)
    # and a value between: the lognormal CDF at 0.5 s
    sigma = (math.log(p99) - math.log(p50)) / Z99
    cdf = 0.5 * (1 + math.erf((math.log(0.5) - math.log(p50)) / (sigma * math.sqrt(2))))
    assert_rate(sum(x <= 0.5 for x in lat), n, cdf)


def test_webhook_duplicates_losses_and_reorders_match_profile(sample):
    per_event: Counter[str] = Counter()
    events = set()
    for d in sample:
        if d.processed:
            events.update(ev.id for ev in d.events)
            per_event.update(p.event.id for p in d.webhooks)
    n = len(events)
    lost = sum(1 for e in events if per_event[e] == 0)
    assert_rate(lost, n, 0.01)
    delivered = n - lost
    duplicated = sum(1 for c in per_event.values() if c > 1)
    assert_rate(duplicated, delivered, 0.05)
    assert set(per_event.values()) == {1, 3}  # one delivery, or one plus duplicate_count = 2


def test_reordered_plans_deliver_an_earlier_event_after_the_final(sample):
    complete = reordered = 0
    for d in sample:
        if not d.processed:
            continue
        first: dict[str, float] = {}
        for p in d.webhooks:  # sorted by time: the first seen is the first delivery
            first.setdefault(p.event.id, p.deliver_at)
        if any(ev.id not in first for ev in d.events):
            continue  # a lost event cannot show an order
        complete += 1
        final = next(ev for ev in d.events if ev.id == d.final_event_id)
        if any(ev.created_at <= final.created_at and ev.id != final.id
               and first[ev.id] > first[final.id] for ev in d.events):
            reordered += 1
    assert_rate(reordered, complete, 0.03)
    stale = [d for d in sample if any(p.event.data.get("superseded") for p in d.webhooks)]
    assert stale and all(d.final_outcome == "approved" for d in stale)


def test_outage_and_approval_windows_apply_only_inside_them():
    profile = FaultProfile.model_validate({
        "approval_rate": 0.8,
        "errors": {"http_5xx": 0.0, "http_429": 0.0, "reset": 0.0, "empty": 0.0,
                   "malformed": 0.0},
        "timeout": {"probability": 0.0},
        "windows": [{"start": 100, "end": 200, "kind": "outage", "fault": "http_5xx"},
                    {"start": 300, "end": 400, "kind": "approval", "approval_rate": 0.3},
                    {"start": 500, "end": 600, "kind": "latency", "extra_latency_s": 2.0}],
    })
    dice = Dice(7)
    by_phase: dict[str, list] = {"before": [], "outage": [], "drop": [], "slow": [], "after": []}
    for i, req in enumerate(requests(N, "w")):
        now = float(i % 700)
        phase = ("outage" if 100 <= now < 200 else "drop" if 300 <= now < 400 else
                 "slow" if 500 <= now < 600 else "after" if now >= 600 else "before")
        by_phase[phase].append(decide(req, dice, now, profile, provider="acme"))
    assert all(d.fault == "http_5xx" and not d.processed for d in by_phase["outage"])
    for phase, rate in (("before", 0.8), ("drop", 0.3), ("after", 0.8), ("slow", 0.8)):
        ds = by_phase[phase]
        assert all(d.fault is None for d in ds)
        assert_rate(sum(d.final_outcome == "approved" for d in ds), len(ds), rate)
    assert min(d.latency for d in by_phase["slow"]) > 2.0
    assert_rate(sum(d.latency > 2.0 for d in by_phase["before"]), len(by_phase["before"]),
                _lognormal_sf(2.0, 0.3, 0.9))


def _lognormal_sf(x: float, p50: float, p99: float) -> float:
    sigma = (math.log(p99) - math.log(p50)) / Z99
    return 0.5 * math.erfc((math.log(x) - math.log(p50)) / (sigma * math.sqrt(2)))


def test_segment_rule_overrides_base_for_matching_cards_only():
    profile = FaultProfile.model_validate({
        "approval_rate": 0.7,
        "errors": {"http_5xx": 0, "http_429": 0, "reset": 0, "empty": 0, "malformed": 0},
        "timeout": {"probability": 0},
        "rules": [{"countries": ["GB"], "funding": ["credit"], "approval_rate": 0.0,
                   "decline_mix": {"gambling_mcc_blocked": 1.0}},
                  {"currencies": ["EUR"], "min_amount": 100_000, "approval_rate": 0.4}],
    })
    dice = Dice(11)
    n = 20_000
    uk_credit = CardInfo("552000", "0001", funding="credit")
    gb = [decide(PaymentRequest(f"g{i}", f"g{i}", "u", 500, "GBP", "card", country="GB",
                                card=uk_credit), dice, 0.0, profile, provider="acme")
          for i in range(n)]
    assert {(d.final_outcome, d.decline_code) for d in gb} == {("declined", "gambling_mcc_blocked")}
    big = [decide(PaymentRequest(f"b{i}", f"b{i}", "u", 150_000, "EUR", "card", country="DE",
                                 card=CARD), dice, 0.0, profile, provider="acme") for i in range(n)]
    assert_rate(sum(d.final_outcome == "approved" for d in big), n, 0.4)
    small = [decide(PaymentRequest(f"s{i}", f"s{i}", "u", 99_999, "EUR", "card", country="DE",
                                   card=CARD), dice, 0.0, profile, provider="acme")
             for i in range(n)]
    assert_rate(sum(d.final_outcome == "approved" for d in small), n, 0.7)


def test_fail_first_n_then_normal_per_reference():
    profile = FaultProfile.model_validate({"fail_first_n": 2, "fail_first_fault": "http_429",
                                           "errors": {"http_5xx": 0, "http_429": 0, "reset": 0,
                                                      "empty": 0, "malformed": 0},
                                           "timeout": {"probability": 0}})
    dice = Dice(5)
    req = requests(1)[0]
    faults = [decide(req, dice, 0.0, profile, provider="acme", attempt=a).fault for a in range(4)]
    assert faults == ["http_429", "http_429", None, None]
