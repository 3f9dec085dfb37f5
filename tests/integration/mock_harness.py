"""Helpers for driving the mock apps in-process: a recording wallet and clients."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from mocks.apps.base import Clock
from mocks.apps.server import build_mock
from mocks.models import FaultProfile
from sandbox.randomness import Dice

SCALE = 20_000.0  # model seconds per wall second: a 30 s webhook delay takes 1.5 ms
QUIET = {"errors": {"http_5xx": 0, "http_429": 0, "reset": 0, "empty": 0, "malformed": 0},
         "timeout": {"probability": 0},
         "webhooks": {"duplicate_probability": 0, "reorder_probability": 0}}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeWallet:
    """An ASGI app that records every webhook and answers from a script of statuses."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    reply: str = "ok"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        self.received.append(Received(request.url.path, dict(request.headers), body))
        status = self.statuses.pop(0) if self.statuses else 200
        await PlainTextResponse(self.reply, status_code=status)(scope, receive, send)


def make(name: str, profile: dict | FaultProfile, seed: int = 1,
         wallet: FakeWallet | None = None) -> tuple[object, httpx.AsyncClient, FakeWallet]:
    wallet = wallet or FakeWallet()
    prof = profile if isinstance(profile, FaultProfile) else FaultProfile.model_validate(profile)
    app = build_mock(name, prof, Dice(seed), clock=Clock(SCALE),
                     transport=httpx.ASGITransport(app=wallet))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock")
    return app, client, wallet
