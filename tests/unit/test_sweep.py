"""The sweep's statistics and the oracle, on made-up numbers (no simulation)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from mocks.models.profile import FaultProfile, Window
from mocks.models.types import PaymentRequest
from sandbox.oracle import FirstAttempt, regret_metrics, time_to_detect, true_rate
from sandbox.scenario import Players, Providers, Scenario, TimelineEntry
from sandbox.stats import mean_ci, paired_difference, rank, summarize, t_quantile


@pytest.mark.parametrize(("df", "expected"), [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262),
                                               (30, 2.042), (120, 1.980)])
def test_t_quantile_matches_the_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)
    assert t_quantile(0.025, df) == pytest.approx(-expected, abs=5e-4)


def test_mean_ci_and_summaries_keep_the_grid_order():
    mean, _, high = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and high - mean == pytest.approx(4.303 / math.sqrt(3), abs=1e-3)
    assert math.isnan(mean_ci([5.0])[1]) and math.isnan(mean_ci([])[0])
    df = pd.DataFrame({"scenario": ["b"] * 4 + ["a"] * 4, "strategy": ["x", "x", "y", "y"] * 2,
                       "cascade": True, "seed": [1, 2] * 4,
                       "m": [0.5, 0.6, 0.7, 0.9, 0.2, 0.2, 0.1, 0.1]})
    table = summarize(df, "m")
    assert list(zip(table["scenario"], table["strategy"], strict=True)) == [
        ("b", "x"), ("b", "y"), ("a", "x"), ("a", "y")]
    ranked = rank(df, "m")
    assert list(zip(ranked["scenario"], ranked["strategy"], ranked["rank"], strict=True)) == [
        ("b", "y", 1), ("b", "x", 2), ("a", "x", 1), ("a", "y", 2)]
    diff = paired_difference(df, "m", "y", "x", scenario="b")
    assert diff["mean"] == pytest.approx(0.25) and diff["n"] == 2
    assert diff["ci_low"] < 0.25 < diff["ci_high"]
    with pytest.raises(KeyError):
        paired_difference(df, "m", "z", "x", scenario="b")


def _request(country: str = "DE") -> PaymentRequest:
    return PaymentRequest("pay1", "k", "p1", 5_000, "EUR", "card", country=country)


def test_true_rate_reads_segment_rules_approval_windows_and_outages():
    profile = FaultProfile.model_validate({
        "kind": "card", "approval_rate": 0.7,
        "rules": [{"countries": ["IE"], "approval_rate": 0.05}],
        "windows": [Window(start=100, end=200, kind="approval", approval_rate=0.3).model_dump(),
                    Window(start=300, end=400, kind="outage").model_dump()]})
    assert true_rate(profile, _request(), 0) == 0.7
    assert true_rate(profile, _request("IE"), 0) == 0.05
    assert true_rate(profile, _request(), 150) == 0.3
    assert true_rate(profile, _request("IE"), 150) == 0.05  # a cap never raises a rate
    assert true_rate(profile, _request(), 350) == 0.0
    assert true_rate(profile, _request(), 400) == 0.7


def _decisions(chosen: list[str], start: float = 0.0) -> list[FirstAttempt]:
    return [FirstAttempt(start + 60 * i, f"p{i}", c, {"acme": 0.7, "globex": 0.6})
            for i, c in enumerate(chosen)]


def test_regret_is_the_true_rate_given_up_per_decision():
    got = regret_metrics(_decisions(["acme"] * 6 + ["globex"] * 2))
    assert got["regret"] == pytest.approx(0.1 * 2 / 8) and got["oracle_approval"] == pytest.approx(0.7)
    assert got["final_choice"] == "globex" and got["best_share_final"] == 0.0
    assert math.isnan(regret_metrics([])["regret"])


def _scenario(outage: bool) -> Scenario:
    timeline = [TimelineEntry(provider="acme", kind="outage", at_h=1, for_h=1)] if outage else []
    return Scenario(name="s", purpose="p", players=Players(count=1), providers=Providers(timeline=timeline))


def test_time_to_detect_dates_the_switch_away_from_the_failing_provider():
    chosen = ["acme"] * 70 + ["globex"] * 50  # one decision a minute; outage from minute 60 to 120
    # the first window of ten with at most two acme: minutes 68..77 (two acme, then globex)
    assert time_to_detect(_decisions(chosen), _scenario(True)) == (480.0, True)
    assert time_to_detect(_decisions(["acme"] * 130), _scenario(True)) == (3600.0, False)
    got, detected = time_to_detect(_decisions(chosen), _scenario(False))
    assert math.isnan(got) and not detected
