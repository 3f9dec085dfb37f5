"""Greedy learners with a fixed exploration share: success-rate window and epsilon-greedy.

Both draw exactly one ``rng.random()`` per decision and reuse it, rescaled,
to pick the explored provider: rng consumption does not depend on the state,
which keeps runs comparable across strategies and configurations.
Providers never observed score 1.0 (optimistic), so each is tried early.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from wallet.domain.routing.base import Candidate, Decision, RouteRequest
from wallet.domain.routing.learning import Learner, WindowRate, top_two
from wallet.domain.routing.params import non_negative, positive_int, probability

UNTRIED = 1.0


class SuccessRateWindow(Learner[dict[str, WindowRate]]):
    """Best success rate over each provider's last ``window`` outcomes; ``hedge`` explores the rest.

    Defaults follow Juspay's open decision engine as documented: a bucket of
    200 outcomes for cards (50 generic, 1000 for UPI QR) and 5% hedging. The
    hedged share goes uniformly to the providers other than the current best.
    """

    name = "sr_window"

    def __init__(self, window: int = 200, hedge: float = 0.05, segment_by: Sequence[str] | str = ()) -> None:
        self.window = positive_int("window", window)
        self.hedge = probability("hedge", hedge, open_top=True)
        super().__init__(segment_by)

    def _new_state(self) -> dict[str, WindowRate]:
        return {}

    def _learn(self, state: dict[str, WindowRate], provider: str, reward: int) -> None:
        w = state.get(provider)
        if w is None:
            w = state[provider] = WindowRate(self.window)
        w.add(reward)

    def decide(self, request: RouteRequest, pool: Sequence[Candidate], rng: random.Random,
               now: float) -> Decision:
        state = self._segments.get(request)
        u = rng.random()
        scores, counts = [], []
        for c in pool:
            w = state.get(c.name)
            n = len(w.outcomes) if w is not None else 0
            counts.append(n)
            scores.append(w.successes / n if w is not None and n else UNTRIED)
        b, s = top_two(pool, scores)
        as_dict = {c.name: scores[i] for i, c in enumerate(pool)}
        best = pool[b].name
        if u < self.hedge and len(pool) > 1:
            others = [c for i, c in enumerate(pool) if i != b]
            pick = others[int(u / self.hedge * len(others))].name
            return Decision(pick, f"explore (hedging {self.hedge:.0%}): {pick} instead of {best} "
                            f"{_rate(scores[b], counts[b])}", as_dict, self.name, explored=True)
        tail = (f" > {pool[s].name} {_rate(scores[s], counts[s])}" if s >= 0 else " (only eligible)")
        if not counts[b]:
            return Decision(best, f"sr-window: {best} untried, every provider is tried first", as_dict,
                            self.name, explored=True)
        head = f"sr-window: {best} {_rate(scores[b], counts[b])}"
        return Decision(best, f"{head}{tail} over last {self.window}", as_dict, self.name)

    def _stats(self, state: dict[str, WindowRate], provider: str) -> dict[str, float]:
        w = state[provider]
        n = len(w.outcomes)
        return {"window_n": float(n), "window_rate": w.successes / n if n else 0.0}

    def _providers(self, state: dict[str, WindowRate]) -> Iterator[str]:
        return iter(state)


def _rate(score: float, n: float) -> str:
    return f"{score:.2f} (n={n:.0f})" if n else "untried"


class EpsilonGreedy(Learner[dict[str, list[int]]]):
    """Best lifetime success rate; with probability epsilon_t a uniform pick among all eligible.

    ``epsilon_t = epsilon / (1 + decay * t)`` with ``t`` the outcomes observed
    in the segment; ``decay=0`` (default) keeps it constant. No forgetting:
    this is the stationary baseline.
    """

    name = "epsilon_greedy"

    def __init__(self, epsilon: float = 0.05, decay: float = 0.0,
                 segment_by: Sequence[str] | str = ()) -> None:
        self.epsilon = probability("epsilon", epsilon)
        self.decay = non_negative("decay", decay)
        super().__init__(segment_by)

    def _new_state(self) -> dict[str, list[int]]:
        return {}

    def _learn(self, state: dict[str, list[int]], provider: str, reward: int) -> None:
        a = state.get(provider)
        if a is None:
            state[provider] = [1, reward]
        else:
            a[0] += 1
            a[1] += reward

    def _observed(self, state: dict[str, list[int]]) -> int:
        return sum(a[0] for a in state.values())  # a handful of providers: cheap

    def decide(self, request: RouteRequest, pool: Sequence[Candidate], rng: random.Random,
               now: float) -> Decision:
        state = self._segments.get(request)
        u = rng.random()
        eps = self.epsilon / (1.0 + self.decay * self._observed(state)) if self.decay else self.epsilon
        scores, counts = [], []
        for c in pool:
            a = state.get(c.name)
            counts.append(a[0] if a else 0)
            scores.append(a[1] / a[0] if a else UNTRIED)
        as_dict = {c.name: scores[i] for i, c in enumerate(pool)}
        if u < eps:
            pick = pool[int(u / eps * len(pool))].name
            return Decision(pick, f"explore (epsilon {eps:.3g}): uniform pick {pick}", as_dict, self.name,
                            explored=True)
        b, s = top_two(pool, scores)
        best = pool[b].name
        tail = f" > {pool[s].name} {_rate(scores[s], counts[s])}" if s >= 0 else " (only eligible)"
        if not counts[b]:
            return Decision(best, f"epsilon-greedy: {best} untried, every provider is tried first", as_dict,
                            self.name, explored=True)
        head = f"epsilon-greedy: {best} {_rate(scores[b], counts[b])}"
        return Decision(best, head + tail, as_dict, self.name)

    def _stats(self, state: dict[str, list[int]], provider: str) -> dict[str, float]:
        n, s = state[provider]
        return {"estimate": s / n, "n": float(n)}

    def _providers(self, state: dict[str, list[int]]) -> Iterator[str]:
        return iter(state)
