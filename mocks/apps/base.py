"""What every dialect app shares: the clock, fault rendering, errors, card tokenisation.

The live shell is thin on purpose: it parses the dialect, asks the
:class:`ProviderRuntime` for a decision, hands the webhook plan to the
dispatcher, sleeps the decided latency and renders the decided fault or answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from mocks.models.runtime import ProviderRuntime
from mocks.models.types import (
    EMPTY,
    FAULT_STATUS,
    HTTP_5XX,
    HTTP_429,
    MALFORMED,
    RESET,
    CardInfo,
    Decision,
)
from wallet.domain.errors import DomainError

if TYPE_CHECKING:  # the dispatcher imports this module
    from mocks.apps.dispatcher import Dispatcher

HTTP_STATUS = {"idempotency_key_reused": 422, "idempotency_in_flight": 409, "not_found": 404}


class Clock:
    """Model seconds since start; ``scale`` > 1 runs model time faster than the wall clock."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self._t0 = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.scale

    def wall(self, model_time: float) -> float:
        """Unix time of a model instant (for signature timestamps)."""
        return time.time() + (model_time - self.now()) / self.scale

    async def sleep(self, model_seconds: float) -> None:
        if model_seconds > 0:
            await asyncio.sleep(model_seconds / self.scale)


@dataclass
class MockContext:
    """Everything one mounted mock needs; kept on ``app.state.mock``."""

    name: str
    dialect: str
    runtime: ProviderRuntime
    clock: Clock
    secret: str
    api_key: str
    callbacks: dict[str, str] = field(default_factory=dict)  # provider_ref -> callback URL
    default_callback: str = ""
    dispatcher: Dispatcher = field(init=False)  # set by build_mock: it signs with this context

    def decide(self, req: Any) -> Decision:
        decision = self.runtime.handle(req, self.clock.now())
        if decision.processed and decision.provider_ref not in self.callbacks:
            url = getattr(req, "callback_url", "") or self.default_callback
            self.callbacks[decision.provider_ref] = url
            if url:
                self.dispatcher.schedule(url, decision.webhooks)
        return decision


def tokenise(pan: str, secret: str, **info: str) -> CardInfo:
    """Keep BIN, last 4 and a keyed fingerprint; the PAN itself goes no further."""
    digits = "".join(ch for ch in pan if ch.isdigit())
    fp = hmac.new(secret.encode(), digits.encode(), hashlib.sha256).hexdigest()[:24]
    return CardInfo(digits[:6], digits[-4:], fingerprint=f"fp_{fp}", **info)


def luhn_ok(pan: str) -> bool:
    digits = [int(c) for c in pan if c.isdigit()]
    if len(digits) < 12 or len(digits) > 19 or len(digits) != len(pan.replace(" ", "")):
        return False
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
                for i, d in enumerate(reversed(digits)))
    return total % 10 == 0


class ResetResponse(Response):
    """Starts a response, sends a fragment, then drops the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", b"512")]})
        await send({"type": "http.response.body", "body": b'{"status":', "more_body": True})
        raise ConnectionResetError("mock: connection reset by peer")


async def render(ctx: MockContext, decision: Decision, ok: Callable[[Decision], Response],
                 ) -> Response:
    """Sleep until the decided response time (a timeout sleeps past the client's), then
    answer or fail. A replayed idempotency key whose first answer is already out gets it at
    once, as from a real provider's idempotency cache: sleeping the full latency again would
    make a timed-out call's replay time out forever, so it could never learn the outcome."""
    await ctx.clock.sleep(decision.responded_at - ctx.clock.now())
    fault = decision.fault
    if fault == HTTP_5XX:
        return JSONResponse({"error": "service_unavailable"}, status_code=FAULT_STATUS[fault])
    if fault == HTTP_429:
        return JSONResponse({"error": "rate_limited"}, status_code=FAULT_STATUS[fault],
                            headers={"Retry-After": "1"})
    if fault == RESET:
        return ResetResponse()
    if fault == EMPTY:
        return Response(b"", status_code=200, media_type="application/json")
    if fault == MALFORMED:
        return Response(b'{"status": "succ<html>502 Bad Gateway', status_code=200,
                        media_type="application/json")
    response = ok(decision)  # a timed-out call that was processed still answers, too late
    response.headers["X-Mock-Latency"] = f"{decision.latency:.6f}"
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Domain errors to HTTP; validation errors without echoing input (it may hold a PAN)."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        status = next((s for code, s in HTTP_STATUS.items()
                       if exc.code == code or exc.code.endswith(code)), 400)
        return JSONResponse({"error": exc.code, "message": exc.message, "field": exc.field},
                            status_code=status)

    @app.exception_handler(ValidationError)
    async def _profile(request: Request, exc: ValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        return JSONResponse({"error": "invalid_profile", "errors": errors}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                  for e in exc.errors()]
        return JSONResponse({"error": "invalid_request", "errors": errors}, status_code=400)


def require(request: Request, header: str, expected: str) -> None:
    if request.headers.get(header, "") != expected:
        raise Unauthorized()


class Unauthorized(DomainError):
    code = "unauthorized"

    def __init__(self) -> None:
        super().__init__("missing or wrong credentials")


HTTP_STATUS["unauthorized"] = 401


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
