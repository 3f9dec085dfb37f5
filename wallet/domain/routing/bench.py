"""Micro-benchmark: routing decisions per second, ``choose`` + ``observe``, per strategy.

Run ``python -m wallet.domain.routing.bench [decisions]``. Not a test: the
numbers depend on the machine. Three card providers, outcomes drawn at fixed
rates, one shared generator (seeding a ``random.Random`` per payment costs
the caller another few microseconds and is measured on its own line).
"""

from __future__ import annotations

import random
import sys
import time

from wallet.domain.routing.base import Candidate, Outcome, RouteRequest
from wallet.domain.routing.registry import STRATEGIES, make_strategy

RATES = {"acme": 0.55, "globex": 0.70, "paywave": 0.62}
CANDIDATES = [Candidate(name, frozenset({"card"}), frozenset({"EUR"}), fee_bps=150 + 25 * i, priority=i)
              for i, name in enumerate(RATES)]
RULES = [{"name": "big EUR", "currency": "EUR", "min_amount": 100_000, "providers": ["globex"]}]


def measure(name: str, decisions: int, *, eliminate: bool = False, seed: int = 1) -> float:
    """Decisions per second for ``name`` over ``decisions`` choose + observe rounds."""
    strategy = make_strategy(name, eliminate=eliminate, **({"rules": RULES} if name == "rules" else {}))
    rng, env = random.Random(seed), random.Random(seed + 1)
    requests = [RouteRequest(f"p{i}", 1_000 + i, "EUR", "card") for i in range(1_000)]
    success, decline = Outcome.SUCCESS, Outcome.SOFT_DECLINE
    start = time.perf_counter()
    for i in range(decisions):
        request = requests[i % 1_000]
        provider = strategy.choose(request, CANDIDATES, rng, float(i)).provider
        assert provider is not None
        strategy.observe(provider, request, success if env.random() < RATES[provider] else decline, float(i))
    return decisions / (time.perf_counter() - start)


def main(argv: list[str]) -> None:
    decisions = int(argv[0]) if argv else 200_000
    print(f"{decisions:,} decisions each, best of 3 runs, 3 eligible providers (choose + observe)")
    for name in STRATEGIES:
        for eliminate in (False, True):
            rate = max(measure(name, decisions, eliminate=eliminate) for _ in range(3))
            label = name + ("+eliminate" if eliminate else "")
            print(f"  {label:<26} {rate:>10,.0f} decisions/s  {1e6 / rate:6.2f} us/decision")
    start = time.perf_counter()
    for i in range(decisions):
        random.Random(f"1:{i}")
    seeding = (time.perf_counter() - start) / decisions
    label = "(caller) Random(seed:id)"
    print(f"  {label:<26} {1 / seeding:>10,.0f} seedings/s     {seeding * 1e6:6.2f} us each")


if __name__ == "__main__":
    main(sys.argv[1:])
