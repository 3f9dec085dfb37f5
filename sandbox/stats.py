"""Confidence intervals across seeds for sweep results: summaries, paired differences, ranks.

Seeds are the replications. Because every strategy meets the same players and the same
provider dice (common random numbers), the difference between two strategies is best
estimated *paired by seed*: the seed-to-seed noise they share cancels, so the interval
is much narrower than the one from two independent means. The Student t quantile is
computed here (exact for integer degrees of freedom) so the package needs no SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

KEYS = ("scenario", "strategy", "cascade")


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with integer ``df`` (Abramowitz & Stegun 26.7.3-4)."""
    if df < 1:
        raise ValueError("degrees of freedom must be >= 1")
    theta = math.atan(abs(t) / math.sqrt(df))
    c2, s = math.cos(theta) ** 2, math.sin(theta)
    if df % 2:  # odd
        term, acc = math.cos(theta), 0.0
        if df > 1:
            acc = term
            for k in range(3, df - 1, 2):
                term *= c2 * (k - 1) / k
                acc += term
        inside = (2 / math.pi) * (theta + s * acc)
    else:
        term = acc = 1.0
        for k in range(2, df - 1, 2):
            term *= c2 * (k - 1) / k
            acc += term
        inside = s * acc
    return 0.5 + math.copysign(inside / 2, t)


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (bisection)."""
    if not 0 < p < 1:
        raise ValueError("p must be in (0, 1)")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def mean_ci(values: Sequence[float] | pd.Series, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean with its two-sided Student t interval; NaNs are dropped.
    One value gives an interval of NaN (no spread to estimate)."""
    xs = [float(v) for v in values if not pd.isna(v)]
    n = len(xs)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = sum(xs) / n
    if n == 1:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def summarize(df: pd.DataFrame, metric: str, by: Sequence[str] = KEYS,
              confidence: float = 0.95) -> pd.DataFrame:
    """Mean and t-interval of ``metric`` across seeds, one row per group of ``by``, in the
    frame's own order (the grid order)."""
    rows = []
    for key, group in df.groupby(list(by), sort=False):
        mean, low, high = mean_ci(group[metric], confidence)
        keys = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, keys, strict=True)), "n": int(group[metric].notna().sum()),
                     "mean": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def paired_difference(df: pd.DataFrame, metric: str, treatment: Sequence[str] | str,
                      baseline: str, *, scenario: str, cascade: bool = True,
                      confidence: float = 0.95) -> dict[str, float]:
    """How much ``treatment`` (a strategy, or the mean of several) beats ``baseline`` on
    ``metric`` in ``scenario``, paired by seed: mean difference, its interval, and n seeds."""
    treatment = [treatment] if isinstance(treatment, str) else list(treatment)
    cells = df[(df["scenario"] == scenario) & (df["cascade"] == cascade)]
    table = cells.pivot_table(index="seed", columns="strategy", values=metric, aggfunc="mean")
    missing = [s for s in [*treatment, baseline] if s not in table.columns]
    if missing:
        raise KeyError(f"no runs of {missing} in {scenario!r} (cascade={cascade})")
    diffs = table[treatment].mean(axis=1) - table[baseline]
    mean, low, high = mean_ci(diffs, confidence)
    return {"mean": mean, "ci_low": low, "ci_high": high, "n": int(diffs.notna().sum())}


def rank(df: pd.DataFrame, metric: str = "approval_after_cascade", *, higher_is_better: bool = True,
         confidence: float = 0.95) -> pd.DataFrame:
    """Strategies ranked per scenario by the mean of ``metric`` (1 = best), with intervals."""
    table = summarize(df, metric, confidence=confidence)
    table["rank"] = (table.groupby("scenario", sort=False)["mean"]
                     .rank(ascending=not higher_is_better, method="min").astype(int))
    order = {s: i for i, s in enumerate(dict.fromkeys(df["scenario"]))}
    return (table.sort_values(["scenario", "rank"], key=lambda c: c.map(order) if c.name == "scenario"
                              else c, kind="stable").reset_index(drop=True))
