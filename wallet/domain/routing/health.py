"""Elimination: a circuit breaker wrapped around any strategy.

A provider that answers with errors or timeouts (not declines: a decline
proves it is up) is taken out of the pool for a cool-down when it has
``max_consecutive_failures`` in a row, or when at least ``failure_ratio`` of
its last ``window`` health outcomes failed (once ``min_samples`` are in).
After the cool-down it is half-open: the inner strategy may route one probe
payment to it; the probe's outcome closes or re-opens the circuit. Outcomes
of other payments that arrive while it is open or half-open are stale (they
were routed before it opened) and do not move the state. Learning is
untouched: the inner strategy observes every outcome.
"""

from __future__ import annotations

import enum
import random
from collections import deque
from collections.abc import Sequence

from wallet.domain.routing.base import DECLINES, Candidate, Decision, Outcome, RouteRequest, Strategy
from wallet.domain.routing.params import InvalidRoutingConfig, non_negative, positive_int, probability


class Circuit(enum.IntEnum):
    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class _Health:
    __slots__ = ("consecutive", "failures", "open_until", "probe", "probe_at", "recent", "state", "trips",
                 "why")

    def __init__(self, window: int) -> None:
        self.state = Circuit.CLOSED
        self.consecutive = 0
        self.recent: deque[int] = deque(maxlen=window)
        self.failures = 0
        self.open_until = 0.0
        self.probe: tuple[str, int] | None = None  # (payment id, attempt) of the probe in flight
        self.probe_at = 0.0
        self.trips = 0
        self.why = ""


class CircuitBreaker(Strategy):
    """Wraps ``inner``; decisions say which providers are eliminated and until when."""

    def __init__(self, inner: Strategy, max_consecutive_failures: int = 5, failure_ratio: float = 0.5,
                 window: int = 20, min_samples: int = 10, cooldown: float = 30.0,
                 probe_timeout: float | None = None, declines_are_failures: bool = False,
                 fail_open: bool = False) -> None:
        super().__init__()
        if not isinstance(inner, Strategy) or isinstance(inner, CircuitBreaker):
            raise InvalidRoutingConfig("inner must be a Strategy that is not already wrapped", field="inner")
        self.inner = inner
        self.name = f"{inner.name}+eliminate"
        self.max_consecutive_failures = positive_int("max_consecutive_failures", max_consecutive_failures)
        self.failure_ratio = probability("failure_ratio", failure_ratio)
        self.window = positive_int("window", window)
        self.min_samples = positive_int("min_samples", min_samples)
        if self.min_samples > self.window:
            raise InvalidRoutingConfig(f"min_samples {min_samples} cannot exceed window {window}",
                                       field="min_samples")
        self.cooldown = non_negative("cooldown", cooldown)
        self.probe_timeout = self.cooldown if probe_timeout is None else non_negative("probe_timeout",
                                                                                        probe_timeout)
        self.declines_are_failures = bool(declines_are_failures)
        self.fail_open = bool(fail_open)
        self._health: dict[str, _Health] = {}
        self._unhealthy = 0  # providers not CLOSED: lets the common case skip the filter

    def decide(self, request: RouteRequest, pool: Sequence[Candidate], rng: random.Random,
               now: float) -> Decision:
        if not self._unhealthy:
            return self._relabel(self.inner.decide(request, pool, rng, now), "")
        allowed: list[Candidate] = []
        half_open: set[str] = set()
        notes: list[str] = []
        for c in pool:
            h = self._health.get(c.name)
            if h is None or h.state is Circuit.CLOSED:
                allowed.append(c)
                continue
            if h.state is Circuit.OPEN and now >= h.open_until:
                h.state, h.probe = Circuit.HALF_OPEN, None
            if h.state is Circuit.HALF_OPEN:
                if h.probe is None or now - h.probe_at >= self.probe_timeout:
                    allowed.append(c)
                    half_open.add(c.name)
                else:
                    notes.append(f"{c.name} half-open, probe {h.probe[0]} in flight")
            else:
                notes.append(h.why)
        note = "; " + "; ".join(notes) if notes else ""
        if not allowed:
            if not self.fail_open:
                return Decision(None, "every eligible provider eliminated" + note, {}, self.name)
            inner = self.inner.decide(request, pool, rng, now)
            return self._relabel(inner, "; failing open, every eligible provider eliminated" + note)
        inner = self.inner.decide(request, allowed, rng, now)
        if inner.provider in half_open:
            h = self._health[inner.provider]
            h.probe, h.probe_at = (request.payment_id, request.attempt), now
            note = f"; probe of half-open {inner.provider}" + note
        return self._relabel(inner, note)

    def _relabel(self, inner: Decision, note: str) -> Decision:
        return Decision(inner.provider, inner.reason + note, inner.scores, self.name, inner.explored)

    def observe(self, provider: str, request: RouteRequest, outcome: Outcome, now: float) -> None:
        self.inner.observe(provider, request, outcome, now)
        failed = outcome is Outcome.ERROR or (self.declines_are_failures and outcome in DECLINES)
        h = self._health.get(provider)
        if h is None:
            h = self._health[provider] = _Health(self.window)
        if h.state is Circuit.CLOSED:
            recent = h.recent
            if len(recent) == self.window:
                h.failures -= recent[0]
            recent.append(int(failed))
            h.failures += int(failed)
            h.consecutive = h.consecutive + 1 if failed else 0
            if h.consecutive >= self.max_consecutive_failures:
                plural = "s" if h.consecutive > 1 else ""
                self._trip(provider, h, now, f"{h.consecutive} consecutive failure{plural}")
            elif failed and (n := len(recent)) >= self.min_samples and h.failures >= self.failure_ratio * n:
                self._trip(provider, h, now, f"{h.failures}/{n} failures")
        elif h.state is Circuit.HALF_OPEN and h.probe == (request.payment_id, request.attempt):
            if failed:
                self._trip(provider, h, now, "half-open probe failed")
            else:
                h.state, h.probe, h.consecutive, h.failures = Circuit.CLOSED, None, 0, 0
                h.recent.clear()
                self._unhealthy -= 1

    def _trip(self, provider: str, h: _Health, now: float, detail: str) -> None:
        if h.state is Circuit.CLOSED:
            self._unhealthy += 1
        h.state, h.probe, h.trips = Circuit.OPEN, None, h.trips + 1
        h.open_until = now + self.cooldown
        h.why = f"{provider} eliminated: {detail}, circuit open until t={h.open_until:g}"

    def circuit(self, provider: str) -> Circuit:
        """The provider's state as last updated (OPEN turns HALF_OPEN lazily, at the next decision)."""
        h = self._health.get(provider)
        return Circuit.CLOSED if h is None else h.state

    def reset(self) -> None:
        super().reset()
        self.inner.reset()
        self._health.clear()
        self._unhealthy = 0

    def snapshot(self) -> dict[str, dict[str, float]]:
        out = self.inner.snapshot()
        for provider, h in self._health.items():
            out.setdefault(provider, {}).update({
                "circuit": float(h.state), "trips": float(h.trips), "open_until": h.open_until,
                "health_failures": float(h.failures), "health_window_n": float(len(h.recent))})
        return out
