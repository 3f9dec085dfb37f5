"""The failure-scenario library as data, for the engineers' notebook: time to credit when
webhooks are late, lost, duplicated or reordered, and what the checker reports for each
deliberately broken wallet variant. Runs go through :func:`sandbox.sweep.run_many`, so
they use every core (or a given executor) and come back in order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sandbox.checks import failing_anomalies
from sandbox.engine.run import run_scenario
from sandbox.scenario import load
from sandbox.sweep import Executor, collect, run_many, scaled
from sandbox.variants import CAUGHT_BY

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LIBRARY = Path(__file__).resolve().parents[1] / "scenarios"
# Scenarios whose webhooks misbehave, against the ordinary day.
WEBHOOK_SCENARIOS: tuple[str, ...] = ("baseline", "duplicate_webhook_storm", "out_of_order_webhooks",
                                      "lost_webhooks_polling", "slow_psp_timeouts")


@dataclass(frozen=True)
class Job:
    """One library run: picklable, for a worker process."""

    scenario: str
    variant: str = "reference"
    scale: float = 1.0
    seed: int | None = None


def play(job: Job) -> dict[str, Any]:
    """Run one library scenario (in memory) and keep what the notebook plots."""
    path = LIBRARY / f"{job.scenario}.yaml"
    result = run_scenario(scaled(load(path), job.scale), seed=job.seed, variant=job.variant,
                          base=LIBRARY)
    row = {"scenario": job.scenario, "variant": job.variant, "passed": result.passed,
           "failed_checks": [c.name for c in result.checks if not c.passed],
           "anomalies": dict(failing_anomalies(result.anomalies)),
           "time_to_credit_s": sorted(result.metrics.time_to_credit),
           "deposits": result.metrics.deposits}
    del result
    collect()
    return row


def time_to_credit(scenarios: Iterable[str] = WEBHOOK_SCENARIOS, *, scale: float = 1.0,
                   executor: Executor | None = None, workers: int | None = None,
                   progress: bool = True) -> pd.DataFrame:
    """Long form: one row per credited deposit (scenario, seconds from request to credit)."""
    runs = run_many(play, [Job(s, scale=scale) for s in scenarios], executor=executor,
                    workers=workers, progress=progress)
    return pd.DataFrame([{"scenario": r["scenario"], "seconds": t}
                         for r in runs for t in r["time_to_credit_s"]])


def variant_catches(*, scale: float = 1.0, executor: Executor | None = None,
                    workers: int | None = None, progress: bool = True) -> pd.DataFrame:
    """One row per broken variant on the scenario that exposes it: whether the run failed,
    whether the expected check is among the failures, and the anomalies by kind."""
    jobs = [Job(scenario, variant, scale) for variant, (scenario, _) in CAUGHT_BY.items()]
    runs = run_many(play, jobs, executor=executor, workers=workers, progress=progress)
    rows = []
    for r in runs:
        check = CAUGHT_BY[r["variant"]][1]
        rows.append({"variant": r["variant"], "scenario": r["scenario"], "expected_check": check,
                     "caught": not r["passed"] and check in r["failed_checks"],
                     "failed_checks": ", ".join(r["failed_checks"]),
                     "anomalies": sum(r["anomalies"].values()), **{
                         f"anomaly:{k}": v for k, v in sorted(r["anomalies"].items())}})
    return pd.DataFrame(rows).fillna(0)


def plot_time_to_credit(df: pd.DataFrame) -> Figure:
    """Empirical CDF of time to credit per scenario (log seconds): where late, lost and
    reordered webhooks put the tail, and how polling bounds it."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for scenario, group in df.groupby("scenario", sort=False):
        xs = sorted(group["seconds"])
        ax.step(xs, [(i + 1) / len(xs) for i in range(len(xs))], where="post", label=scenario)
    ax.set_xscale("log")
    ax.set_xlabel("seconds from deposit request to credit")
    ax.set_ylabel("share of credited deposits")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_variant_anomalies(df: pd.DataFrame) -> Figure:
    """Anomalies by kind for each broken variant, on the scenario that exposes it (stacked)."""
    import matplotlib.pyplot as plt

    kinds = [c for c in df.columns if c.startswith("anomaly:")]
    fig, ax = plt.subplots(figsize=(8, 4))
    bottom = [0.0] * len(df)
    for kind in kinds:
        ax.barh(df["variant"], df[kind], left=bottom, label=kind.removeprefix("anomaly:"))
        bottom = [b + v for b, v in zip(bottom, df[kind], strict=True)]
    ax.set_xlabel("anomalies the checker reports (by kind)")
    ax.invert_yaxis()
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
