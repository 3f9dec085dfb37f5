"""How many sweep runs per minute one core and all cores do, on a fixed small grid.

The grid: ``stationary_best`` at a quarter of its players (about 750 deposits a run),
four strategies without cascading, three seeds: twelve runs. Pool start-up is counted,
as a user of :func:`sandbox.sweep.sweep` pays it too.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass

from sandbox.sweep import STRATEGIES, strategy_grid, sweep

BENCH_STRATEGIES = [s for s in STRATEGIES if s.label in ("static", "sr_window", "thompson", "sw_ucb")]


@dataclass(frozen=True)
class Figure:
    workers: int
    runs: int
    seconds: float

    @property
    def per_minute(self) -> float:
        return 60 * self.runs / self.seconds


def measure(workers: int, seeds: tuple[int, ...] = (1, 2, 3), scale: float = 0.25) -> Figure:
    """One timing of the fixed grid on ``workers`` processes (1: in this process)."""
    started = time.perf_counter()
    df = sweep(["stationary_best"], strategy_grid(BENCH_STRATEGIES, (False,)), seeds,
               workers=workers, scale=scale, progress=False)
    return Figure(workers, len(df), time.perf_counter() - started)


def bench(repeat: int = 3, workers: int | None = None) -> tuple[Figure, Figure]:
    """(one core, all cores): the median of ``repeat`` timings each."""
    many = workers or os.cpu_count() or 1
    ones = [measure(1) for _ in range(repeat)]
    alls = [measure(many) for _ in range(repeat)]

    def median(figs: list[Figure]) -> Figure:
        return Figure(figs[0].workers, figs[0].runs, statistics.median(f.seconds for f in figs))

    return median(ones), median(alls)
