"""The routing comparison (issue #7) end to end: common random numbers, deterministic and
executor-independent sweeps, and the behaviour the notebooks report: learners beat static
priority when a provider degrades, and find the best provider when nothing changes.

Small grids (a third of each routing scenario's players) keep this under half a minute on
two cores; the margins below are several standard errors wide at that size."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from sandbox.engine.run import run_scenario
from sandbox.scenario import load
from sandbox.sweep import (
    LEARNERS,
    ROUTING_SCENARIOS,
    STRATEGIES,
    StrategySpec,
    paired_difference,
    scaled,
    strategy_grid,
    sweep,
)

SPECS = {s.label: s for s in STRATEGIES}
LEARNING = [SPECS[name] for name in ("sr_window", "thompson", "sw_ucb")]


def _runs(scenario: str, *labels: str, scale: float = 0.2, seed: int = 1):
    spec = scaled(load(ROUTING_SCENARIOS / f"{scenario}.yaml"), scale)
    return {label: run_scenario(SPECS[label].apply(spec), seed=seed) for label in labels}


def test_common_random_numbers_same_payment_same_provider_same_dice():
    runs = _runs("stationary_best", "static", "split")
    outcomes = {}
    for label, result in runs.items():
        assert result.shell is not None
        outcomes[label] = {(d.provider, d.reference): (d.final_outcome, d.decline_code, d.latency)
                           for rt in result.shell.runtimes.values() for d in rt.records.decisions()
                           if d.operation == "deposit"}
    shared = outcomes["static"].keys() & outcomes["split"].keys()
    assert len(shared) > 100  # both strategies sent many of the same payments to the same PSP
    assert {k: outcomes["static"][k] for k in shared} == {k: outcomes["split"][k] for k in shared}
    # ... and the workload is the same: every deposit with its amount, method, country and card,
    # and the first deposit of each player at the same instant (later ones follow the player's
    # session, which depends on whether the first was credited).
    workloads = []
    for result in runs.values():
        payments = [p for p in result.shell.gateway.payments() if p.kind == "deposit"]
        workloads.append(sorted((p.id, p.player_id, p.amount, p.currency, p.method, p.country, p.bin,
                                 p.created_at if p.id.endswith("-d0") else None) for p in payments))
    assert workloads[0] == workloads[1]
    assert len(workloads[0]) > 300


def _small(**kwargs) -> pd.DataFrame:
    specs = strategy_grid([SPECS["static"], SPECS["thompson"]], (False,))
    return sweep(["stationary_best"], specs, seeds=(1, 2), scale=0.15, progress=False, **kwargs)


def test_the_same_grid_gives_the_same_frame_serial_pool_and_any_executor():
    serial = _small(workers=1)
    assert list(serial[["strategy", "seed"]].itertuples(index=False, name=None)) == [
        ("static", 1), ("static", 2), ("thompson", 1), ("thompson", 2)]  # grid order
    pd.testing.assert_frame_equal(_small(workers=2), serial)
    with ThreadPoolExecutor(2) as pool:
        pd.testing.assert_frame_equal(_small(executor=pool), serial)

    class Submitter:  # the smallest executor: submit() and a future with result()
        def submit(self, fn, *args):
            value = fn(*args)
            return type("Done", (), {"result": lambda self: value})()

    pd.testing.assert_frame_equal(_small(executor=Submitter()), serial)
    again = _small(workers=1)
    pd.testing.assert_frame_equal(again, serial)
    assert serial["passed"].all()
    assert (serial["checks_passed"] == serial["checks_total"]).all()


@pytest.fixture(scope="module")
def comparison() -> pd.DataFrame:
    specs = strategy_grid([SPECS["static"], *LEARNING], (False,))
    return sweep(["drift_and_drop", "stationary_best"], specs, seeds=(1, 2), scale=0.33,
                 progress=False)


def test_learners_beat_static_priority_when_a_provider_degrades(comparison):
    diff = paired_difference(comparison, "approval_after_cascade", [s.label for s in LEARNING],
                             "static", scenario="drift_and_drop", cascade=False)
    # acme falls from 0.72 to 0.30 over the day: static stays, learners move to globex (0.60).
    assert diff["mean"] > 0.05
    drift = comparison[comparison["scenario"] == "drift_and_drop"].set_index(["strategy", "seed"])
    for spec in LEARNING:
        for seed in (1, 2):
            assert drift.loc[(spec.label, seed), "approval_after_cascade"] > \
                drift.loc[("static", seed), "approval_after_cascade"] + 0.03
            assert drift.loc[(spec.label, seed), "regret"] < drift.loc[("static", seed), "regret"]
            assert drift.loc[(spec.label, seed), "final_choice"] == "globex"


def test_learners_converge_to_the_best_provider_when_nothing_changes(comparison):
    still = comparison[comparison["scenario"] == "stationary_best"]
    static = still[still["strategy"] == "static"]
    assert (static["final_choice"] == "acme").all()
    assert static["regret"].round(6).eq(0.17).all()  # 0.72 - 0.55 on every decision
    learners = still[still["strategy"].isin(LEARNERS)]
    assert (learners["final_choice"] == "globex").all()
    assert (learners["best_share_final"] > 0.85).all()
    assert (learners["regret"] < 0.07).all()  # well under static's 0.17 per decision
    assert still["time_to_detect_s"].isna().all()  # no outage in this scenario
    assert set(comparison.columns) >= {
        "approval_first_attempt", "approval_after_cascade", "regret", "fees_per_success_eur",
        "latency_p99_s", "attempts_per_deposit", "time_to_detect_s", "anomalies", "checks_passed"}


def test_time_to_detect_an_outage_and_route_around_it():
    specs = [StrategySpec("static", "static", cascade=False),
             StrategySpec("static-no-breaker", "static", cascade=False, eliminate=False)]
    df = sweep([ROUTING_SCENARIOS / "outage_recovery.yaml"], specs, seeds=(1,), progress=False)
    rows = df.set_index("strategy")
    assert rows.loc["static", "outage_detected"]  # the scenario's circuit breaker opens ...
    assert 0 <= rows.loc["static", "time_to_detect_s"] < 3600  # ... within the hour
    blind = rows.loc["static-no-breaker"]
    assert not blind["outage_detected"] and blind["time_to_detect_s"] == 3 * 3600  # censored


@pytest.mark.parametrize("path", sorted(ROUTING_SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_each_routing_scenario_passes_its_checks_with_its_own_routing(path):
    spec = load(path)
    assert spec.name == path.stem and spec.purpose
    assert run_scenario(scaled(spec, 0.25), base=ROUTING_SCENARIOS).passed
