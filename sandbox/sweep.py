"""Run a scenario, or a grid of scenarios x strategies x seeds, and get one tidy row per run.

The routing comparison of issue #7: every cell of the grid plays the same scenario and
seed with another routing strategy (and with or without cascading), on the in-memory
store, and returns the report's metrics plus the oracle's regret and the time to route
around an outage (:mod:`sandbox.oracle`). Randomness is keyed by entity, never
sequential, so every strategy meets the same players, payments and provider dice
(common random numbers): differences between rows of one seed are the strategies'.

Cells run on a process pool over all cores by default, or on any executor with
``submit`` (a ``ThreadPoolExecutor``, a Dask ``Client``); rows come back in grid order,
whatever order the runs finish in, so the same grid gives the same frame.
"""

from __future__ import annotations

import gc
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from sandbox.checks import failing_anomalies
from sandbox.engine.run import RunResult, run_scenario
from sandbox.metrics import percentiles
from sandbox.oracle import first_attempts, regret_metrics, time_to_detect
from sandbox.scenario import Gateway, Routing, Scenario, load
from sandbox.stats import mean_ci, paired_difference, rank, summarize, t_quantile

__all__ = [
    "DEFAULT_RULES", "LEARNERS", "ROUTING_SCENARIOS", "STRATEGIES", "Cell", "StrategySpec", "grid",
    "mean_ci", "paired_difference", "rank", "run_cell", "run_many", "scaled", "strategy_grid", "summarize",
    "sweep", "t_quantile",
]

ROUTING_SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios" / "routing"
# A rule set a team would write for the segment scenario: Irish and British cards to globex.
DEFAULT_RULES: list[dict[str, Any]] = [
    {"name": "ie-gb-to-globex", "countries": ["IE", "GB"], "providers": ["globex", "acme"]}]


@dataclass(frozen=True)
class StrategySpec:
    """One routing configuration of the grid. ``eliminate`` None keeps the scenario's
    circuit-breaker setting (the scenario decides the health layer, the grid the strategy);
    ``cascade`` False sets the gateway's ``max_attempts`` to 1."""

    label: str
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    cascade: bool = True
    eliminate: bool | Mapping[str, Any] | None = None

    def apply(self, scenario: Scenario) -> Scenario:
        """The scenario with this routing, without touching its file."""
        eliminate = scenario.routing.eliminate if self.eliminate is None else self.eliminate
        routing = Routing(strategy=self.name, params=dict(self.params), eliminate=eliminate)
        attempts = scenario.gateway.max_attempts if self.cascade else 1
        gateway = Gateway(max_attempts=attempts, client_timeout_s=scenario.gateway.client_timeout_s)
        return scenario.model_copy(update={"routing": routing, "gateway": gateway})


# The strategies compared (names of wallet.domain.routing's registry), default parameters.
STRATEGIES: tuple[StrategySpec, ...] = (
    StrategySpec("static", "static"),
    StrategySpec("split", "split"),
    StrategySpec("rules", "rules", {"rules": DEFAULT_RULES, "fallback": "static"}),
    StrategySpec("least_cost", "least_cost"),
    StrategySpec("sr_window", "sr_window"),
    StrategySpec("epsilon_greedy", "epsilon_greedy"),
    StrategySpec("thompson", "thompson"),
    StrategySpec("sw_ucb", "sw_ucb"),
)
# Success-rate based and bandit strategies: the ones that learn from outcomes.
LEARNERS: tuple[str, ...] = ("sr_window", "epsilon_greedy", "thompson", "sw_ucb")


def strategy_grid(strategies: Iterable[StrategySpec] = STRATEGIES,
                  cascade: Sequence[bool] = (True, False)) -> list[StrategySpec]:
    """Every strategy with and without cascading (in that order)."""
    return [StrategySpec(s.label, s.name, s.params, c, s.eliminate)
            for s in strategies for c in cascade]


@dataclass(frozen=True)
class Cell:
    """One run of the grid: picklable, so it can travel to a worker process or a cluster."""

    index: int
    scenario: Scenario
    base: str | None  # folder that relative profile paths in the scenario resolve against
    strategy: StrategySpec
    seed: int


ScenarioLike = str | Path | Scenario


def _scenario(item: ScenarioLike) -> tuple[Scenario, str | None]:
    if isinstance(item, Scenario):
        return item, None
    path = Path(item)
    if not path.suffix and not path.exists():  # a name from the routing set
        path = ROUTING_SCENARIOS / f"{path}.yaml"
    return load(path), str(path.parent)


def scaled(scenario: Scenario, scale: float) -> Scenario:
    """The scenario with ``scale`` times its players (at least one): a quicker, noisier run
    with the same shape, for small grids in tests."""
    if scale == 1:
        return scenario
    players = scenario.players.model_copy(update={"count": max(1, round(scenario.players.count * scale))})
    return scenario.model_copy(update={"players": players})


def grid(scenarios: Iterable[ScenarioLike], strategies: Iterable[StrategySpec] | None = None,
         seeds: Iterable[int] = (1, 2, 3), *, scale: float = 1.0) -> list[Cell]:
    """Cells in grid order: scenario, then strategy, then seed. A scenario is a path, a
    name from ``scenarios/routing/`` or a :class:`Scenario`; ``scale`` scales its players."""
    specs = list(strategies) if strategies is not None else strategy_grid()
    seeds = list(seeds)
    loaded = [(scaled(sc, scale), base) for sc, base in map(_scenario, scenarios)]
    return [Cell(i, sc, base, spec, seed) for i, (sc, base, spec, seed) in enumerate(
        (sc, base, spec, seed) for sc, base in loaded for spec in specs for seed in seeds)]


def run_cell(cell: Cell) -> dict[str, Any]:
    """Play one cell (in-memory store, no report files) and measure it: one row."""
    scenario = cell.strategy.apply(cell.scenario)
    result = run_scenario(scenario, seed=cell.seed,
                          base=Path(cell.base) if cell.base is not None else None)
    row = {"scenario": cell.scenario.name, "strategy": cell.strategy.label,
           "cascade": cell.strategy.cascade, "max_attempts": scenario.gateway.max_attempts,
           "seed": cell.seed, **measure_run(result, scenario)}
    del result
    collect()
    return row


def collect() -> None:
    """Free the finished run now. The simulation freezes the collector while it runs
    (``relaxed_gc``), so a worker that plays run after run would otherwise carry every
    previous run's cyclic garbage frozen with it: about 60 MB per full-size run."""
    gc.collect()


def measure_run(result: RunResult, scenario: Scenario) -> dict[str, Any]:
    """The report's figures for one run, flat, plus the oracle's regret and time to detect."""
    m = result.metrics
    s = m.summary()
    deposits = max(m.deposits, 1)
    shell = result.shell
    if shell is None:
        raise ValueError("the run kept no simulation to measure (RunResult.shell is None)")
    profiles = {name: rt.profile for name, rt in shell.runtimes.items()}
    decisions = first_attempts(shell, shell.gateway.journal(), profiles)
    ttd, detected = time_to_detect(decisions, scenario)
    latency = percentiles([t1 - t0 for _, t0, t1, _ in shell.calls])
    credit = s["time_to_credit_s"]
    attempts = sum(n for n, _ in m.by_provider.values())
    return {
        "deposits": m.deposits,
        "approval_first_attempt": m.first_attempt_success / deposits,
        "approval_after_cascade": m.succeeded / deposits,
        **regret_metrics(decisions),
        "fees_per_success_eur": m.deposit_fees["EUR"] / max(m.succeeded_by_currency["EUR"], 1) / 100,
        "attempts_per_deposit": attempts / deposits,
        "latency_p50_s": _num(latency["p50"]), "latency_p95_s": _num(latency["p95"]),
        "latency_p99_s": _num(latency["p99"]),
        "time_to_credit_p50_s": _num(credit["p50"]), "time_to_credit_p95_s": _num(credit["p95"]),
        "time_to_credit_p99_s": _num(credit["p99"]),
        "time_to_detect_s": ttd, "outage_detected": detected,
        "anomalies": sum(failing_anomalies(result.anomalies).values()),
        "checks_passed": sum(c.passed for c in result.checks), "checks_total": len(result.checks),
        "passed": result.passed,
    }


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


class Executor(Protocol):
    """Anything with ``submit(fn, *args)`` returning a future with ``result()``:
    ``concurrent.futures`` executors, a Dask distributed ``Client``, ..."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...


def sweep(scenarios: ScenarioLike | Iterable[ScenarioLike],
          strategies: Iterable[StrategySpec] | None = None, seeds: Iterable[int] = (1, 2, 3), *,
          executor: Executor | None = None, workers: int | None = None, scale: float = 1.0,
          progress: bool = True) -> pd.DataFrame:
    """Run the grid and return one row per run, in grid order.

    ``executor``: any object with ``submit`` (default: a process pool of ``workers``
    processes, all cores when None; ``workers=1`` runs in this process). ``scale``
    multiplies every scenario's player count. ``progress`` shows a rich progress bar.
    """
    if isinstance(scenarios, str | Path | Scenario):
        scenarios = [scenarios]
    cells = grid(scenarios, strategies, seeds, scale=scale)
    return pd.DataFrame(run_many(run_cell, cells, executor=executor, workers=workers,
                                 progress=progress))


def run_many(fn: Callable[[Any], Any], items: Sequence[Any], *, executor: Executor | None = None,
             workers: int | None = None, progress: bool = True) -> list[Any]:
    """``[fn(item) for item in items]`` on an executor, results in the items' order whatever
    order they finish in. ``fn`` must be importable (picklable) for a process pool."""
    out: list[Any] = [None] * len(items)
    with _bar(len(items), progress) as advance:
        if executor is None and (workers or os.cpu_count() or 1) == 1:
            for i, item in enumerate(items):
                out[i] = fn(item)
                advance()
        elif executor is None:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                _collect(pool, fn, items, out, advance)
        else:
            _collect(executor, fn, items, out, advance)
    return out


def _collect(executor: Executor, fn: Callable[[Any], Any], items: Sequence[Any], out: list[Any],
             advance: Callable[[], None]) -> None:
    futures = {executor.submit(fn, item): i for i, item in enumerate(items)}
    if all(isinstance(f, Future) for f in futures):
        done: Iterable[Any] = as_completed(futures)
    else:  # e.g. Dask futures: wait in grid order
        done = list(futures)
    for future in done:
        out[futures[future]] = future.result()
        advance()


class _bar:
    """A rich progress bar over runs; in a notebook without ipywidgets, a line per tenth."""

    def __init__(self, total: int, show: bool) -> None:
        self.total, self.show = total, show
        self.progress: Any = None

    def __enter__(self) -> Callable[[], None]:
        if not self.show:
            return lambda: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        if Console().is_jupyter and not _has("ipywidgets"):
            return self._lines()
        self.progress = Progress("[progress.description]{task.description}", BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn())
        self.progress.start()
        task = self.progress.add_task("runs", total=self.total)
        return lambda: self.progress.advance(task)

    def _lines(self) -> Callable[[], None]:
        import time

        started, done = time.perf_counter(), [0]
        step = max(1, self.total // 10)

        def advance() -> None:
            done[0] += 1
            if done[0] % step == 0 or done[0] == self.total:
                print(f"runs {done[0]}/{self.total} ({time.perf_counter() - started:.0f} s)", flush=True)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
