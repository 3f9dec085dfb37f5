"""Benchmark of the SimPy mode: simulated payments per second against a bare SimPy loop.

A payment here is the full deposit flow: routing, the mock provider's decision, the
reply after its latency, every planned webhook (duplicates included), the timers, and
the ledger posting with its audit entry, on the in-memory store. The baseline is a
bare SimPy loop that schedules the same number of events doing nothing, measured in
the same run: the ratio says what the payment logic costs over SimPy itself.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import simpy

from mocks.cli import DEFAULT_PROFILE
from mocks.models.profile import load_profile_file
from mocks.models.types import CardInfo
from sandbox.engine.run import simulation
from sandbox.engine.sim import relaxed_gc
from sandbox.randomness import Dice
from wallet.domain.commands import OpenPlayer
from wallet.domain.routing import make_strategy

METHODS = ("card", "card", "card", "ewallet", "bank", "crypto")
PLAYERS = 1_000


@dataclass(frozen=True)
class SimFigure:
    payments: int
    seconds: float
    events: int

    @property
    def per_second(self) -> float:
        return self.payments / self.seconds


def payments(n: int, seed: int = 1) -> SimFigure:
    """``n`` deposits, one every 2 virtual seconds, then a day for webhooks and polls."""
    env = simpy.Environment()
    profiles = {k: p for k, p in load_profile_file(DEFAULT_PROFILE).profiles().items()
                if p.kind != "kyc"}
    shell = simulation(env, profiles, Dice(seed), make_strategy("static"), seed=seed)
    wallet = shell.gateway.wallet
    for i in range(PLAYERS):
        wallet.execute(OpenPlayer(f"p{i}", "EUR"))
    cards = [CardInfo("411111", f"{i:04d}", fingerprint=f"fp{i}") for i in range(PLAYERS)]

    def traffic():  # noqa: ANN202 - a SimPy process
        for i in range(n):
            method = METHODS[i % len(METHODS)]
            shell.deposit(f"d{i}", f"p{i % PLAYERS}", 1_000 + i % 50_000, "EUR", method,
                          country="DE", card=cards[i % PLAYERS] if method == "card" else None)
            yield env.timeout(2.0)

    env.process(traffic())
    counter = _count_events(env)
    started = time.perf_counter()
    with relaxed_gc():
        env.run(until=n * 2.0 + 86_400)
    elapsed = time.perf_counter() - started  # with the final full collection: a run pays it too
    return SimFigure(n, elapsed, counter[0])


def _count_events(env: simpy.Environment) -> list[int]:
    """Count processed events by wrapping ``step`` (SimPy keeps no public counter)."""
    counter = [0]
    step = env.step

    def counted() -> None:
        counter[0] += 1
        step()

    env.step = counted  # type: ignore[method-assign]
    return counter


def bare_loop(events: int) -> float:
    """Events per second of SimPy scheduling ``events`` timeouts and nothing else."""
    env = simpy.Environment()

    def proc():  # noqa: ANN202
        for _ in range(events):
            yield env.timeout(1.0)

    env.process(proc())
    started = time.perf_counter()
    env.run()
    return events / (time.perf_counter() - started)


def sweep(n: int, seeds: list[int], processes: int) -> list[SimFigure]:
    """Several seeds at once, one process each: how a parameter sweep uses every core."""
    with ProcessPoolExecutor(processes) as pool:
        return list(pool.map(payments, [n] * len(seeds), seeds))
