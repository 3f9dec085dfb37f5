"""'openbank' pay-by-bank dialect: JSON:API-style envelopes, decimal amounts, consent URLs.

Deposits are payment requests the player consents to in their bank; payouts
are instant credit transfers that can come back days later (RETURNED).
Webhooks carry ``Digest`` and an HTTP-signature-style ``Signature`` header
(HMAC-SHA512 over ``(created)`` and ``digest``).

    POST /v1/payment-requests   X-Idempotency-Key required
    POST /v1/payouts            X-Idempotency-Key required
    GET  /v1/payment-requests/{id} | /v1/payouts/{id}
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from mocks.apps.base import MockContext, dumps, render, require
from mocks.apps.signing import sign_openbank
from mocks.models.types import Decision, Event, PaymentRequest
from wallet.domain.errors import InvalidInput
from wallet.domain.money import format_minor, minor_units

EVENT_STATUS = {"payment.pending": "AWAITING_CONSENT", "payment.succeeded": "EXECUTED",
                "payment.failed": "REJECTED", "payment.expired": "EXPIRED",
                "payout.pending": "PENDING", "payout.paid": "EXECUTED",
                "payout.failed": "REJECTED", "payout.returned": "RETURNED"}
FIRST = {"deposit": "AWAITING_CONSENT", "payout": "PENDING"}


class Money(BaseModel):
    value: str = Field(pattern=r"^\d+(\.\d+)?$")
    currency: str = Field(min_length=3, max_length=3)


class Party(BaseModel):
    id: str = Field(min_length=1)
    name: str = ""
    iban: str = ""


class Attributes(BaseModel):
    amount: Money
    end_to_end_id: str = Field(min_length=1, max_length=35)
    party: Party
    country: str = ""
    webhook_url: str = ""


class Data(BaseModel):
    type: str
    attributes: Attributes


class Envelope(BaseModel):
    data: Data


def resource(d: Decision, status: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "status": status, "end_to_end_id": d.reference,
        "amount": {"value": format_minor(d.amount, d.currency), "currency": d.currency}}
    if "consent_url" in d.extra and status == "AWAITING_CONSENT":
        attrs["consent_url"] = d.extra["consent_url"]
    if d.decline_code and status in ("REJECTED", "EXPIRED"):
        attrs["reason"] = d.decline_code.upper()
    return {"data": {"id": d.provider_ref,
                     "type": "payout" if d.operation == "payout" else "payment_request",
                     "attributes": attrs}}


def webhook(ctx: MockContext) -> Any:
    def sign(events: list[Event], attempt: int) -> tuple[bytes, dict[str, str]]:
        ev = events[0]
        status = EVENT_STATUS.get(ev.type, ev.type.upper())
        kind = "payout" if ev.type.startswith("payout") else "payment_request"
        body = dumps({"event_id": ev.id, "event_type": f"{kind}.{status.lower()}",
                      "created_at": ctx.clock.wall(ev.created_at), "sequence": ev.sequence,
                      "resource": {"id": ev.provider_ref, "end_to_end_id": ev.reference,
                                   "status": status,
                                   "reason": (ev.data.get("reason") or ev.data.get("decline_code")
                                              or None)}})
        return body, sign_openbank(ctx.secret, body, ctx.clock.wall(ctx.clock.now()))
    return sign


def register(app: FastAPI, ctx: MockContext) -> None:
    auth = f"Bearer {ctx.api_key}"

    async def create(request: Request, body: Envelope, key: str | None,
                     operation: str) -> Response:
        require(request, "authorization", auth)
        if not key:
            raise InvalidInput("X-Idempotency-Key header is required", field="X-Idempotency-Key")
        a = body.data.attributes
        currency = a.amount.currency.upper()
        req = PaymentRequest(a.end_to_end_id, key, a.party.id, minor_units(a.amount.value, currency),
                             currency, "bank", a.webhook_url, operation=operation,
                             country=a.country)
        decision = ctx.decide(req)
        return await render(ctx, decision, lambda d: JSONResponse(
            resource(d, FIRST[operation] if d.processed else "ERROR"), status_code=201))

    @app.post("/v1/payment-requests", status_code=201)
    async def deposit(request: Request, body: Envelope,
                      x_idempotency_key: str | None = Header(None)) -> Response:
        return await create(request, body, x_idempotency_key, "deposit")

    @app.post("/v1/payouts", status_code=201)
    async def payout(request: Request, body: Envelope,
                     x_idempotency_key: str | None = Header(None)) -> Response:
        return await create(request, body, x_idempotency_key, "payout")

    @app.get("/v1/payment-requests/{rid}")
    @app.get("/v1/payouts/{rid}")
    async def get(request: Request, rid: str) -> dict[str, Any]:
        require(request, "authorization", auth)
        d = ctx.runtime.get(rid)
        ev = d.last_event(ctx.clock.now())
        return resource(d, EVENT_STATUS.get(ev.type, "PENDING") if ev else "PENDING")
