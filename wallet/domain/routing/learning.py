"""Shared machinery of the learning strategies: O(1) statistics and segmentation.

Every update is constant time (a deque with running counters, or lazily
discounted counts), so ``observe`` costs the same after a million outcomes as
after ten. The learners count SUCCESS as reward 1 and every other outcome as
0: the router's goal is approvals, whatever the reason for a non-approval.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from operator import attrgetter
from typing import Generic, TypeVar

from wallet.domain.routing.base import Candidate, Outcome, RouteRequest, Strategy
from wallet.domain.routing.params import segment_fields

S = TypeVar("S")


class WindowRate:
    """Success rate over one provider's last ``size`` outcomes (Juspay-style bucket)."""

    __slots__ = ("outcomes", "size", "successes")

    def __init__(self, size: int) -> None:
        self.size = size
        self.outcomes: deque[int] = deque(maxlen=size)
        self.successes = 0

    def add(self, reward: int) -> None:
        q = self.outcomes
        if len(q) == self.size:
            self.successes -= q[0]
        q.append(reward)
        self.successes += reward


class SharedWindow:
    """The last ``size`` outcomes across all providers, with per-provider counts (SW-UCB's window)."""

    __slots__ = ("events", "n", "s", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.events: deque[tuple[str, int]] = deque()
        self.n: dict[str, int] = {}
        self.s: dict[str, int] = {}

    def add(self, arm: str, reward: int) -> None:
        events = self.events
        if len(events) == self.size:
            old, old_reward = events.popleft()
            self.n[old] -= 1
            self.s[old] -= old_reward
        events.append((arm, reward))
        self.n[arm] = self.n.get(arm, 0) + 1
        self.s[arm] = self.s.get(arm, 0) + reward


class Discounted:
    """Success and failure counts discounted by ``gamma`` per observed outcome, lazily.

    Every outcome in the segment ages every provider's counts by one step, as in
    Garivier & Moulines' D-UCB; storing the step of the last update and
    applying ``gamma ** age`` on read makes that O(1) instead of O(providers).
    """

    __slots__ = ("arms", "gamma", "step", "total")

    def __init__(self, gamma: float) -> None:
        self.gamma = gamma
        self.step = 0
        self.total = 0.0  # discounted number of outcomes over all providers
        self.arms: dict[str, list[float]] = {}  # provider -> [successes, failures, step of last update]

    def add(self, arm: str, reward: int) -> None:
        self.step += 1
        g = self.gamma
        self.total = self.total * g + 1.0
        a = self.arms.get(arm)
        if a is None:
            self.arms[arm] = [float(reward), 1.0 - reward, self.step]
            return
        k = g ** (self.step - a[2])
        a[0] = a[0] * k + reward
        a[1] = a[1] * k + (1 - reward)
        a[2] = self.step

    def counts(self, arm: str) -> tuple[float, float]:
        """(discounted successes, discounted failures) as of now."""
        a = self.arms.get(arm)
        if a is None:
            return 0.0, 0.0
        k = self.gamma ** (self.step - a[2])
        return a[0] * k, a[1] * k


class Segments(Generic[S]):
    """One state per request segment (e.g. per method and currency), or a single one."""

    def __init__(self, factory: Callable[[], S], fields: tuple[str, ...]) -> None:
        self._factory = factory
        self.fields = fields
        self._key = attrgetter(*fields) if fields else None
        self._states: dict[object, S] = {}
        self._root = factory()

    def get(self, request: RouteRequest) -> S:
        if self._key is None:
            return self._root
        key = self._key(request)
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = self._factory()
        return state

    def items(self) -> Iterator[tuple[str, S]]:
        """(label, state); the label is empty when unsegmented, else e.g. ``"card/EUR"``."""
        if self._key is None:
            yield "", self._root
            return
        for key, state in self._states.items():
            parts = key if isinstance(key, tuple) else (key,)
            yield "/".join(map(str, parts)), state


def top_two(pool: Sequence[Candidate], scores: Sequence[float]) -> tuple[int, int]:
    """Indices of the best and runner-up score (-1 if none); ties go to lower priority, then order."""
    best, second = -1, -1
    for i, c in enumerate(pool):
        s = scores[i]
        if best < 0 or s > scores[best] or (s == scores[best] and c.priority < pool[best].priority):
            best, second = i, best
        elif second < 0 or s > scores[second] or (s == scores[second] and c.priority < pool[second].priority):
            second = i
    return best, second


class Learner(Strategy, Generic[S]):
    """A strategy that keeps per-segment statistics and learns from observed outcomes only."""

    def __init__(self, segment_by: Sequence[str] | str = ()) -> None:
        super().__init__()
        self._segments: Segments[S] = Segments(self._new_state, segment_fields("segment_by", segment_by))

    @abstractmethod
    def _new_state(self) -> S:
        """Fresh statistics for one segment."""

    @abstractmethod
    def _learn(self, state: S, provider: str, reward: int) -> None:
        """Fold one outcome (reward 1 for success, else 0) into ``state``."""

    @abstractmethod
    def _stats(self, state: S, provider: str) -> dict[str, float]:
        """This strategy's view of one provider, for snapshots."""

    @abstractmethod
    def _providers(self, state: S) -> Iterator[str]:
        """Providers ``state`` knows about."""

    def observe(self, provider: str, request: RouteRequest, outcome: Outcome, now: float) -> None:
        super().observe(provider, request, outcome, now)
        self._learn(self._segments.get(request), provider, 1 if outcome is Outcome.SUCCESS else 0)

    def reset(self) -> None:
        super().reset()
        self._segments = Segments(self._new_state, self._segments.fields)

    def snapshot(self) -> dict[str, dict[str, float]]:
        out = super().snapshot()
        for label, state in self._segments.items():
            for provider in self._providers(state):
                key = f"{provider}@{label}" if label else provider
                out.setdefault(key, {}).update(self._stats(state, provider))
        return out
