"""Live webhook delivery: POST signed events at their planned (scaled) times, retry non-2xx.

The plan comes from the model (delays, duplicates, reorderings, losses are
already in it); this only does the I/O. A payment's deliveries go out one at a
time, each after the previous one was answered, so the wallet sees them in the
plan's order however slowly it answers (two sends racing on the network would add
reorderings the plan does not hold, and live runs would part from simulated ones);
different payments go out concurrently. Non-2xx and network errors are retried
on the profile's schedule (a retry queues behind what the payment has in flight),
410 Gone stops retries (Standard Webhooks). The HTTP transport is injectable so
tests can deliver into an in-process wallet.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

import httpx

from mocks.apps.base import Clock
from mocks.models.retry import next_attempt_at
from mocks.models.types import Event, Planned

# (events, attempt) -> (body, headers); a dialect may put several events in one body.
Signer = Callable[[list[Event], int], tuple[bytes, dict[str, str]]]


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    url: str = field(compare=False)
    events: list[Event] = field(compare=False)
    attempt: int = field(compare=False, default=0)


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt, as recorded in the dispatcher's log."""

    at: float
    url: str
    event_ids: tuple[str, ...]
    attempt: int
    status: int | None  # None: network error
    error: str = ""


class Dispatcher:
    def __init__(self, clock: Clock, sign: Signer, schedule: Callable[[], tuple[float, ...]],
                 *, transport: httpx.AsyncBaseTransport | None = None, batch: bool = False,
                 timeout_s: float = 10.0) -> None:
        self.clock = clock
        self.sign = sign
        self.schedule_of = schedule  # read at retry time: a runtime profile change applies
        self.batch = batch
        self.log: list[Attempt] = []
        self._heap: list[_Due] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout_s)
        self._inflight: set[asyncio.Task[None]] = set()
        self._last: dict[tuple[str, str], asyncio.Task[None]] = {}  # the latest send per payment

    def schedule(self, url: str, planned: Iterable[Planned]) -> None:
        if not url:
            return  # nowhere to deliver: the wallet has to poll
        for p in planned:
            heapq.heappush(self._heap, _Due(p.deliver_at, next(self._seq), url, [p.event]))
        self._kick()

    def redeliver(self, url: str, event: Event, at: float | None = None) -> None:
        if not url:
            return
        now = self.clock.now() if at is None else at
        heapq.heappush(self._heap, _Due(now, next(self._seq), url, [event]))
        self._kick()

    @property
    def pending(self) -> int:
        return len(self._heap) + len(self._inflight)

    def due_by(self, at: float) -> int:
        """Deliveries planned at or before model time ``at`` still queued, plus those being
        sent: a run that ends at ``at`` waits for this to reach zero (far-off refunds and
        chargebacks planned days ahead do not count)."""
        return sum(1 for d in list(self._heap) if d.at <= at) + len(self._inflight)

    def _kick(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._wake.set()

    async def _run(self) -> None:
        clock = self.clock
        while True:
            self._wake.clear()
            if not self._heap:
                await self._wake.wait()
                continue
            delay = self._heap[0].at - clock.now()
            if delay > 0:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns the event's
                # result when the wake-up and a cancellation coincide, swallowing the
                # cancellation; this loop then waited on _wake forever and hung shutdown.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay / clock.scale):
                        await self._wake.wait()
                continue
            due = [heapq.heappop(self._heap)]
            while self._heap and self._heap[0].at <= clock.now():
                due.append(heapq.heappop(self._heap))
            for item in self._group(due):
                self._start(item)

    def _start(self, item: _Due) -> None:
        # a batch body mixes payments: a batching dialect delivers to its URL one body at a time
        key = (item.url, "" if self.batch else item.events[0].reference)
        task = asyncio.get_running_loop().create_task(self._send_after(self._last.get(key), item))
        self._last[key] = task
        self._inflight.add(task)
        task.add_done_callback(partial(self._finished, key))

    def _finished(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if self._last.get(key) is task:
            del self._last[key]

    async def _send_after(self, before: asyncio.Task[None] | None, item: _Due) -> None:
        if before is not None:
            await asyncio.wait([before])  # only its end matters here, not how it ended
        await self._send(item)

    def _group(self, due: list[_Due]) -> list[_Due]:
        if not self.batch:
            return due
        by_url: dict[tuple[str, int], _Due] = {}
        for d in due:
            key = (d.url, d.attempt)
            if key in by_url:
                by_url[key].events.extend(d.events)
            else:
                by_url[key] = d
        return list(by_url.values())

    async def _send(self, item: _Due) -> None:
        body, headers = self.sign(item.events, item.attempt)
        status: int | None = None
        error = ""
        try:
            response = await self._client.post(item.url, content=body, headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        now = self.clock.now()
        self.log.append(Attempt(now, item.url, tuple(e.id for e in item.events), item.attempt,
                                status, error))
        if status is not None and (200 <= status < 300 or status == 410):
            return
        nxt = next_attempt_at(self.schedule_of(), item.attempt + 1, now)
        if nxt is not None:
            heapq.heappush(self._heap, _Due(nxt, next(self._seq), item.url, item.events,
                                            item.attempt + 1))
            self._wake.set()

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait until nothing is due or in flight (tests; graceful shutdown)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while (self._heap or self._inflight) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()
