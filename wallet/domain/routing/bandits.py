"""Bandit baselines for non-stationary providers: discounted Thompson, SW-UCB, D-UCB.

Provider approval rates drift and collapse (outages, issuer rule changes), so
each strategy forgets: Thompson and D-UCB discount every count by ``gamma``
per observed outcome, SW-UCB looks only at the last ``window`` outcomes
(Garivier & Moulines 2008). The "clock" of forgetting is the number of
observed outcomes, not seconds, so a decision does not depend on how fast
the shell delivers feedback, only on what it delivered.

UCB index: ``mean + c * sqrt(log(n) / n_i)``. Garivier & Moulines write the
bonus as ``B * sqrt(xi * log(n) / n_i)`` (SW-UCB) and ``2B * sqrt(...)``
(D-UCB) with rewards bounded by B; for Bernoulli approvals near 0.5, whose
variance is at most 1/4, ``c = 0.5`` (UCB1-Tuned's bound) explores far less
than the worst-case constants while still detecting a collapse.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from typing import TypeVar

from wallet.domain.routing.base import Candidate, Decision, RouteRequest
from wallet.domain.routing.learning import Discounted, Learner, SharedWindow, top_two
from wallet.domain.routing.params import discount, non_negative, positive, positive_int

INF = math.inf
S = TypeVar("S", SharedWindow, Discounted)


def _leader(pool: Sequence[Candidate], means: Sequence[float]) -> int:
    return top_two(pool, means)[0]


class Thompson(Learner[Discounted]):
    """Thompson sampling with Beta(prior + discounted successes, prior + discounted failures).

    ``gamma=1`` is plain Thompson sampling; below 1 it is discounted Thompson
    sampling, with an effective memory of about ``1 / (1 - gamma)`` outcomes
    per segment. One ``rng.betavariate`` per eligible provider, in pool order.
    ``explored`` marks picks that are not the posterior-mean leader.
    """

    name = "thompson"

    def __init__(self, gamma: float = 0.999, prior_alpha: float = 1.0, prior_beta: float = 1.0,
                 segment_by: Sequence[str] | str = ()) -> None:
        self.gamma = discount("gamma", gamma)
        self.prior_alpha = positive("prior_alpha", prior_alpha)
        self.prior_beta = positive("prior_beta", prior_beta)
        super().__init__(segment_by)

    def _new_state(self) -> Discounted:
        return Discounted(self.gamma)

    def _learn(self, state: Discounted, provider: str, reward: int) -> None:
        state.add(provider, reward)

    def decide(self, request: RouteRequest, pool: Sequence[Candidate], rng: random.Random,
               now: float) -> Decision:
        state = self._segments.get(request)
        a0, b0, beta = self.prior_alpha, self.prior_beta, rng.betavariate
        draws, means, ns = [], [], []
        for c in pool:
            s, f = state.counts(c.name)
            a, b = a0 + s, b0 + f
            draws.append(beta(a, b))
            means.append(a / (a + b))
            ns.append(s + f)
        i, j = top_two(pool, draws)
        lead = _leader(pool, means)
        best = pool[i].name
        tail = (f" > {pool[j].name} {draws[j]:.3f} (mean {means[j]:.2f}, n~{ns[j]:.0f})" if j >= 0
                else " (only eligible)")
        head = f"thompson: {best} drew {draws[i]:.3f} (mean {means[i]:.2f}, n~{ns[i]:.0f})"
        return Decision(best, head + tail, {c.name: draws[k] for k, c in enumerate(pool)}, self.name,
                        explored=i != lead)

    def _stats(self, state: Discounted, provider: str) -> dict[str, float]:
        s, f = state.counts(provider)
        a, b = self.prior_alpha + s, self.prior_beta + f
        return {"alpha": a, "beta": b, "mean": a / (a + b), "n_eff": s + f}

    def _providers(self, state: Discounted) -> Iterator[str]:
        return iter(state.arms)


class _Ucb(Learner[S]):
    """Shared selection for the UCB variants: highest index; never-seen providers first."""

    label = "ucb"

    def __init__(self, c: float, segment_by: Sequence[str] | str) -> None:
        self.c = non_negative("c", c)
        super().__init__(segment_by)

    def _moments(self, state: S, provider: str) -> tuple[float, float]:
        """(successes, count) as this variant sees them now."""
        raise NotImplementedError

    def _horizon(self, state: S) -> float:
        """The (effective) number of outcomes the index's log term counts."""
        raise NotImplementedError

    def decide(self, request: RouteRequest, pool: Sequence[Candidate], rng: random.Random,
               now: float) -> Decision:
        state = self._segments.get(request)
        log_n = math.log(max(self._horizon(state), 2.0))
        c = self.c
        index, means, ns = [], [], []
        for cand in pool:
            s, n = self._moments(state, cand.name)
            if n < 1e-9:
                index.append(INF)
                means.append(0.0)
            else:
                m = s / n
                index.append(m + c * math.sqrt(log_n / n))
                means.append(m)
            ns.append(n)
        i, j = top_two(pool, index)
        best = pool[i].name
        scores = {cand.name: index[k] for k, cand in enumerate(pool)}
        if index[i] == INF:
            return Decision(best, f"{self.label}: {best} not yet observed{self._scope()}", scores, self.name,
                            explored=True)
        tail = f" > {pool[j].name} {self._fmt(index[j], means[j], ns[j])}" if j >= 0 else " (only eligible)"
        head = f"{self.label}: {best} {self._fmt(index[i], means[i], ns[i])}"
        return Decision(best, head + tail + self._scope(), scores, self.name,
                        explored=i != _leader(pool, means))

    @staticmethod
    def _fmt(idx: float, mean: float, n: float) -> str:
        return "untried" if idx == INF else f"{idx:.3f} (mean {mean:.2f}, n~{n:.0f})"

    def _scope(self) -> str:
        return ""

    def _stats(self, state: S, provider: str) -> dict[str, float]:
        s, n = self._moments(state, provider)
        return {"mean": s / n if n else 0.0, "n_eff": n}


class SlidingWindowUcb(_Ucb[SharedWindow]):
    """SW-UCB: means and counts over the last ``window`` outcomes of the segment (all providers).

    A provider absent from the window gets an infinite index and is probed,
    which is how SW-UCB notices that a neglected provider recovered.
    """

    name = "sw_ucb"
    label = "sw-ucb"

    def __init__(self, window: int = 1000, c: float = 0.5, segment_by: Sequence[str] | str = ()) -> None:
        self.window = positive_int("window", window)
        super().__init__(c, segment_by)

    def _new_state(self) -> SharedWindow:
        return SharedWindow(self.window)

    def _learn(self, state: SharedWindow, provider: str, reward: int) -> None:
        state.add(provider, reward)

    def _moments(self, state: SharedWindow, provider: str) -> tuple[float, float]:
        return float(state.s.get(provider, 0)), float(state.n.get(provider, 0))

    def _horizon(self, state: SharedWindow) -> float:
        return float(len(state.events))

    def _scope(self) -> str:
        return f" over last {self.window}"

    def _providers(self, state: SharedWindow) -> Iterator[str]:
        return iter(state.n)


class DiscountedUcb(_Ucb[Discounted]):
    """D-UCB: means and counts discounted by ``gamma`` per observed outcome."""

    name = "d_ucb"
    label = "d-ucb"

    def __init__(self, gamma: float = 0.999, c: float = 0.5, segment_by: Sequence[str] | str = ()) -> None:
        self.gamma = discount("gamma", gamma)
        super().__init__(c, segment_by)

    def _new_state(self) -> Discounted:
        return Discounted(self.gamma)

    def _learn(self, state: Discounted, provider: str, reward: int) -> None:
        state.add(provider, reward)

    def _moments(self, state: Discounted, provider: str) -> tuple[float, float]:
        s, f = state.counts(provider)
        return s, s + f

    def _horizon(self, state: Discounted) -> float:
        return state.total

    def _scope(self) -> str:
        return f" (gamma {self.gamma:g})"

    def _providers(self, state: Discounted) -> Iterator[str]:
        return iter(state.arms)
