"""The live webhook dispatcher keeps each payment's deliveries in plan order, however
slowly the wallet answers, without holding other payments back."""

from __future__ import annotations

import asyncio
import json

import httpx

from mocks.apps.base import Clock
from mocks.apps.dispatcher import Dispatcher
from mocks.models.types import Event, Planned

URL = "http://wallet.test/v1/webhooks/acme"


def planned(event_id: str, reference: str, at: float) -> Planned:
    return Planned(at, Event(event_id, "payment.processing", f"ref-{reference}", reference, 1, at))


def sign(events: list[Event], attempt: int) -> tuple[bytes, dict[str, str]]:
    return json.dumps([e.id for e in events]).encode(), {"content-type": "application/json"}


def test_a_slow_answer_holds_back_its_payment_only() -> None:
    log: list[str] = []

    async def wallet(request: httpx.Request) -> httpx.Response:
        [event_id] = json.loads(request.content)
        log.append(f"{event_id} in")
        if event_id == "a1":
            await asyncio.sleep(0.3)  # the wallet is slow on this one
        log.append(f"{event_id} answered")
        return httpx.Response(204)

    async def main() -> None:
        dispatcher = Dispatcher(Clock(scale=1000.0), sign, lambda: (),
                                transport=httpx.MockTransport(wallet))
        # model seconds: a1, then a2 one (wall) millisecond later, b1 in between
        dispatcher.schedule(URL, [planned("a1", "A", 0.0), planned("a2", "A", 1.0)])
        dispatcher.schedule(URL, [planned("b1", "B", 0.5)])
        await dispatcher.drain()
        await dispatcher.aclose()

    asyncio.run(main())
    assert log.index("a2 in") > log.index("a1 answered")  # A's second waits for its first
    assert log.index("b1 answered") < log.index("a1 answered")  # B is not held back by A
    assert sorted(log) == sorted(f"{e} {what}" for e in ("a1", "a2", "b1") for what in ("in", "answered"))


def test_a_retry_queues_behind_what_its_payment_has_in_flight() -> None:
    log: list[str] = []
    refused = set()

    async def wallet(request: httpx.Request) -> httpx.Response:
        [event_id] = json.loads(request.content)
        log.append(event_id)
        if event_id == "a1" and event_id not in refused:
            refused.add(event_id)
            return httpx.Response(503)  # retried 2 model seconds later (2 ms of wall time)
        if event_id == "a2":
            await asyncio.sleep(0.2)
        return httpx.Response(204)

    async def main() -> None:
        dispatcher = Dispatcher(Clock(scale=1000.0), sign, lambda: (0.0, 2.0),
                                transport=httpx.MockTransport(wallet))
        dispatcher.schedule(URL, [planned("a1", "A", 0.0), planned("a2", "A", 0.5)])
        await dispatcher.drain()
        await dispatcher.aclose()
        assert [(a.event_ids, a.status) for a in dispatcher.log] == [
            (("a1",), 503), (("a2",), 204), (("a1",), 204)]

    asyncio.run(main())
    assert log == ["a1", "a2", "a1"]
