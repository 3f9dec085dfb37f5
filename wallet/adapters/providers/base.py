"""What every provider client shares: the canonical request, the transport-fault map, and
bounded retries with the SAME idempotency key.

Fault map (a client answers with a domain event, never an exception):

- connect error, 429, 503: retried with the SAME key, then ``ProviderFailed`` (the
  provider showed or said it did not process the call);
- 400/401/403/404/422: ``ProviderFailed`` without retry (refused before processing);
- read timeout, reset mid-response, 409 (in flight), 500/502/504, an empty or malformed
  2xx body: ``ProviderTimedOut`` (it may have acted: inquire, never resend blindly or
  cascade).

Clients are async (``httpx.AsyncClient``) so a test can inject ``httpx.ASGITransport`` to
call a mock app in-process, or ``httpx.MockTransport`` to script faults.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from wallet.domain.payments.events import (
    UNKNOWN,
    ProviderFailed,
    ProviderReplied,
    ProviderTimedOut,
    StatusPolled,
)

RETRY_STATUSES = frozenset({429, 503})
UNKNOWN_STATUSES = frozenset({409, 500, 502, 504})


def backoff_s(retry: int) -> float:
    """The wait before retry ``retry`` (1-based) with the same key: 1, 2, 4 s, at most 5."""
    return min(2.0 ** (retry - 1), 5.0)


@dataclass(frozen=True, slots=True)
class Card:
    """Sandbox test cards only: the PAN goes to the provider and nowhere else."""

    number: str
    exp_month: int = 12
    exp_year: int = 2030
    cvc: str = "123"
    holder_name: str = ""


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """The canonical call: amounts in minor units of ``currency``."""

    payment_id: str
    idempotency_key: str  # per attempt (wallet.domain.payments.attempt_key)
    user_id: str
    amount: int
    currency: str
    method: str
    callback_url: str = ""
    operation: str = "deposit"  # deposit | payout
    country: str = ""
    card: Card | None = None
    party_name: str = ""  # bank payouts
    iban: str = ""


class Malformed(Exception):
    """A 2xx body we cannot read: the provider may have acted."""


Reply = ProviderReplied | ProviderFailed | ProviderTimedOut
Sleep = Callable[[float], Awaitable[None]]


class ProviderClient:
    """Base: subclasses build requests and parse bodies; this class owns the network rules."""

    dialect = ""

    def __init__(self, provider: str, base_url: str, *, api_key: str,
                 transport: httpx.AsyncBaseTransport | None = None, timeout_s: float = 30.0,
                 max_retries: int = 2, sleep: Sleep | None = None) -> None:
        self.provider = provider
        self.api_key = api_key
        self.max_retries = max_retries
        self._sleep = sleep or asyncio.sleep
        self.http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout_s)

    async def aclose(self) -> None:
        await self.http.aclose()

    # --- subclass hooks -------------------------------------------------------------------
    def build(self, req: PaymentRequest) -> tuple[str, str, dict[str, Any]]:
        """(method, path, httpx request kwargs) of the create call."""
        raise NotImplementedError

    def parse(self, body: Any, req: PaymentRequest, attempt: int) -> ProviderReplied:
        raise NotImplementedError

    def status_path(self, provider_ref: str, req: PaymentRequest) -> str:
        raise NotImplementedError

    def parse_status(self, body: Any, req: PaymentRequest) -> StatusPolled:
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        return {}

    # --- the network rules ----------------------------------------------------------------
    async def create(self, req: PaymentRequest, attempt: int) -> Reply:
        method, path, kwargs = self.build(req)
        result = await self._send(method, path, kwargs)
        if isinstance(result, str):
            return (ProviderFailed(attempt, result) if not result.startswith("unknown:")
                    else ProviderTimedOut(attempt))
        try:
            return self.parse(result, req, attempt)
        except (Malformed, KeyError, TypeError, ValueError):
            return ProviderTimedOut(attempt)

    async def inquire(self, provider_ref: str | None, req: PaymentRequest,
                      attempt: int) -> StatusPolled:
        """GET the payment by ref; without a ref, replay the create call with the SAME key
        (the provider's idempotency returns the first answer, or runs it exactly once)."""
        if provider_ref is None:
            reply = await self.create(req, attempt)
            if isinstance(reply, ProviderReplied):
                return StatusPolled(reply.outcome, reply.provider_ref, reply.decline_code,
                                    reply.raw_code)
            return StatusPolled(UNKNOWN)
        result = await self._send("GET", self.status_path(provider_ref, req), {})
        if isinstance(result, str):
            return StatusPolled("not_found" if result == "http_404" else UNKNOWN, provider_ref)
        try:
            return self.parse_status(result, req)
        except (Malformed, KeyError, TypeError, ValueError):
            return StatusPolled(UNKNOWN, provider_ref)

    async def _send(self, method: str, path: str, kwargs: dict[str, Any]) -> Any:
        """The parsed JSON body, or a reason string: ``unknown:...`` when it may have acted."""
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        reason = "no_attempt"
        for retry in range(self.max_retries + 1):
            if retry:
                await self._sleep(backoff_s(retry))
            try:
                response = await self.http.request(method, path, headers=headers, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                reason = "connect_error"
                continue  # nothing reached the provider
            except (httpx.TimeoutException, httpx.TransportError, OSError):
                return "unknown:transport"  # sent; the answer is lost
            status = response.status_code
            if status in RETRY_STATUSES:
                reason = f"http_{status}"
                continue
            if status in UNKNOWN_STATUSES:
                return f"unknown:http_{status}"
            if status >= 400:
                return f"http_{status}"
            try:
                return response.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return "unknown:malformed"
        return reason
