"""The routing comparison's grids, plots and headline sentences, so notebook cells only call.

Two grid sizes, chosen by one setting (``SANDBOX_GRID=small|full`` or the notebook's
parameter cell): ``small`` runs in the test suite in seconds, ``full`` is the
comparison worth reading (every routing scenario, every strategy with and without
cascading, five seeds at full size; several minutes on two cores).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from sandbox.stats import mean_ci, paired_difference, summarize
from sandbox.sweep import LEARNERS, STRATEGIES, Executor, StrategySpec, strategy_grid, sweep

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NON_STATIONARY = "drift_and_drop"
STATIONARY = "stationary_best"
BASELINE = "static"


@dataclass(frozen=True)
class GridSpec:
    scenarios: tuple[str, ...]
    strategies: tuple[StrategySpec, ...]
    seeds: tuple[int, ...]
    scale: float


_SMALL = [s for s in STRATEGIES if s.label in ("static", "sr_window", "thompson", "sw_ucb")]
# Learners that keep statistics per country, for the segment scenario.
BY_COUNTRY = StrategySpec("thompson_by_country", "thompson", {"segment_by": ["country"]})
GRIDS: dict[str, GridSpec] = {
    "small": GridSpec((NON_STATIONARY, STATIONARY), tuple(strategy_grid(_SMALL)), (1, 2, 3), 0.25),
    "full": GridSpec((STATIONARY, NON_STATIONARY, "outage_recovery", "segment_approval",
                      "cost_tradeoff"), tuple(strategy_grid([*STRATEGIES, BY_COUNTRY])),
                     (1, 2, 3, 4, 5), 1.0),
}


def grid_size(default: str = "small") -> str:
    """The grid size from ``SANDBOX_GRID`` (small or full)."""
    size = os.environ.get("SANDBOX_GRID", default)
    if size not in GRIDS:
        raise ValueError(f"SANDBOX_GRID must be one of {sorted(GRIDS)}, not {size!r}")
    return size


def run_comparison(size: str = "small", *, executor: Executor | None = None,
                   workers: int | None = None, progress: bool = True) -> pd.DataFrame:
    """The routing comparison grid of ``size``: one row per run (see :func:`sandbox.sweep.sweep`)."""
    g = GRIDS[size]
    return sweep(g.scenarios, g.strategies, g.seeds, scale=g.scale, executor=executor,
                 workers=workers, progress=progress)


def plot_metric(df: pd.DataFrame, metric: str, *, title: str | None = None,
                confidence: float = 0.95) -> Figure:
    """One panel per scenario: the mean of ``metric`` per strategy with its t-interval across
    seeds, with cascading (filled) and without (open)."""
    import matplotlib.pyplot as plt

    scenarios = list(dict.fromkeys(df["scenario"]))
    fig, axes = plt.subplots(1, len(scenarios), figsize=(4.2 * len(scenarios), 3.6), squeeze=False)
    table = summarize(df, metric, confidence=confidence)
    for ax, scenario in zip(axes[0], scenarios, strict=True):
        part = table[table["scenario"] == scenario]
        labels = list(dict.fromkeys(part["strategy"]))
        for cascade, offset, face in ((True, -0.12, None), (False, 0.12, "none")):
            rows = part[part["cascade"] == cascade].set_index("strategy").reindex(labels)
            xs = [i + offset for i in range(len(labels))]
            err = [(rows["mean"] - rows["ci_low"]).fillna(0), (rows["ci_high"] - rows["mean"]).fillna(0)]
            ax.errorbar(xs, rows["mean"], yerr=err, fmt="o", capsize=3, mfc=face,
                        label="cascade" if cascade else "1 attempt")
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_title(scenario)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(metric)
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(title or f"{metric}: mean and {confidence:.0%} t-interval across seeds")
    fig.tight_layout()
    return fig


def _learners(df: pd.DataFrame, scenario: str) -> list[str]:
    present = set(df.loc[df["scenario"] == scenario, "strategy"])
    return [s for s in LEARNERS if s in present]


def improvement(df: pd.DataFrame, scenario: str = NON_STATIONARY,
                metric: str = "approval_after_cascade") -> pd.DataFrame:
    """How much the learners beat static priority in ``scenario``, paired by seed: each learner,
    and their mean, with and without cascading (difference in approval, with its interval)."""
    rows = []
    learners = _learners(df, scenario)
    for cascade in (True, False):
        if not ((df["scenario"] == scenario) & (df["cascade"] == cascade)).any():
            continue
        for name in [*learners, "all learners"]:
            treat = learners if name == "all learners" else name
            d = paired_difference(df, metric, treat, BASELINE, scenario=scenario, cascade=cascade)
            rows.append({"strategy": name, "cascade": cascade, **d})
    return pd.DataFrame(rows)


def headline_nonstationary(df: pd.DataFrame, scenario: str = NON_STATIONARY) -> str:
    """The sentence the notebook prints: learners vs static on the non-stationary scenario."""
    table = improvement(df, scenario)
    parts = []
    for cascade in (False, True):
        row = table[(table["strategy"] == "all learners") & (table["cascade"] == cascade)]
        if row.empty:
            continue
        r = row.iloc[0]
        parts.append(f"{'with' if cascade else 'without'} cascading {_pts(r['mean'])} approval points "
                     f"(95% CI {_pts(r['ci_low'])} to {_pts(r['ci_high'])}, {r['n']} seeds)")
    names = ", ".join(_learners(df, scenario))
    return (f"On {scenario}, success-rate and bandit routing ({names}) beat static priority by "
            + "; ".join(parts) + ", paired by seed on identical traffic.")


def convergence(df: pd.DataFrame, scenario: str = STATIONARY) -> pd.DataFrame:
    """On the stationary scenario, per learner: where its last quarter of first attempts went,
    the share that went to the best provider, and its regret per decision (with intervals)."""
    rows = []
    part = df[(df["scenario"] == scenario)]
    for (strategy, cascade), g in part.groupby(["strategy", "cascade"], sort=False):
        share = mean_ci(g["best_share_final"])
        regret = mean_ci(g["regret"])
        rows.append({"strategy": strategy, "cascade": cascade,
                     "final_choice": "/".join(sorted(set(g["final_choice"]))),
                     "best_share_final": share[0], "regret": regret[0],
                     "regret_ci_low": regret[1], "regret_ci_high": regret[2],
                     "regret_total": g["regret_total"].mean(), "seeds": len(g)})
    return pd.DataFrame(rows)


def headline_stationary(df: pd.DataFrame, scenario: str = STATIONARY) -> str:
    """The sentence the notebook prints: do learners converge to the best provider, at what regret."""
    table = convergence(df, scenario)
    learners = table[table["strategy"].isin(LEARNERS) & table["cascade"]]
    static = table[(table["strategy"] == BASELINE) & table["cascade"]]
    lines = [f"On {scenario} (the best provider is fixed), in the last quarter of the day:"]
    for r in learners.itertuples():
        lines.append(f"  {r.strategy}: {r.best_share_final:.0%} of first attempts to the best provider "
                     f"(final choice {r.final_choice}); regret {r.regret:.4f} per decision "
                     f"(95% CI {r.regret_ci_low:.4f} to {r.regret_ci_high:.4f})")
    if not static.empty:
        s = static.iloc[0]
        lines.append(f"  static priority: final choice {s['final_choice']}, regret {s['regret']:.4f} "
                     "per decision")
    return "\n".join(lines)


def _pts(x: Any) -> str:
    return f"{100 * float(x):+.1f}"
