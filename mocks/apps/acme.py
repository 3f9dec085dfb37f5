"""'acme' card PSP dialect: JSON, bearer token, minor units, Standard Webhooks.

    POST /v1/payments            Idempotency-Key required (400 without it)
    GET  /v1/payments/{id}       status as of now (the fallback when webhooks are lost)
    POST /v1/payments/{id}/refunds
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from mocks.apps.base import MockContext, dumps, luhn_ok, render, require, tokenise
from mocks.apps.signing import sign_standard
from mocks.models.types import Decision, Event, PaymentRequest
from wallet.domain.errors import InvalidInput

STATUS = {"approved": "succeeded", "declined": "declined", "pending": "requires_action",
          "error": "error"}
EVENT_STATUS = {"payment.processing": "processing", "payment.requires_action": "requires_action",
                "payment.succeeded": "succeeded", "payment.failed": "declined",
                "refund.succeeded": "refunded", "chargeback.created": "disputed"}


class Card(BaseModel):
    number: str = Field(min_length=12, max_length=23)
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)
    cvc: str = Field(min_length=3, max_length=4, pattern=r"^\d+$")
    holder_name: str = ""
    funding: Literal["debit", "credit", "prepaid"] = "debit"
    issuer: str = ""


class PaymentMethod(BaseModel):
    type: Literal["card"] = "card"
    card: Card


class Customer(BaseModel):
    id: str = Field(min_length=1)
    country: str = ""


class PaymentIn(BaseModel):
    amount: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    reference: str = Field(min_length=1, max_length=255)
    customer: Customer
    payment_method: PaymentMethod
    callback_url: str = ""


class RefundIn(BaseModel):
    amount: int = Field(gt=0)


def payment_json(d: Decision, status: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": d.provider_ref, "object": "payment", "status": status, "amount": d.amount,
        "currency": d.currency, "reference": d.reference, "decline_code": None,
        "card": {"bin": d.extra.get("bin"), "last4": d.extra.get("last4")}}
    if status == "declined":
        body["decline_code"] = d.decline_code
    if status == "requires_action":
        body["next_action"] = {"type": "three_ds", "url": f"https://acme.example/3ds/{d.provider_ref}"}
    return body


def webhook(ctx: MockContext) -> Any:
    def sign(events: list[Event], attempt: int) -> tuple[bytes, dict[str, str]]:
        ev = events[0]
        body = dumps({"id": ev.id, "type": ev.type, "created": int(ctx.clock.wall(ev.created_at)),
                      "data": {"id": ev.provider_ref, "reference": ev.reference,
                               "status": EVENT_STATUS.get(ev.type, ev.type),
                               "sequence": ev.sequence, **ev.data}})
        now = ctx.clock.wall(ctx.clock.now())
        return body, sign_standard(ctx.secret, ev.id, body, now)
    return sign


def register(app: FastAPI, ctx: MockContext) -> None:
    @app.post("/v1/payments", status_code=201)
    async def create(request: Request, body: PaymentIn,
                     idempotency_key: str | None = Header(None)) -> Response:
        require(request, "authorization", f"Bearer {ctx.api_key}")
        if not idempotency_key:
            raise InvalidInput("Idempotency-Key header is required", field="Idempotency-Key")
        card = body.payment_method.card
        if not luhn_ok(card.number):
            raise InvalidInput("card number fails the Luhn check", field="card.number")
        info = tokenise(card.number, ctx.secret, holder_name=card.holder_name,
                        funding=card.funding, issuer=card.issuer)
        req = PaymentRequest(body.reference, idempotency_key, body.customer.id, body.amount,
                             body.currency.upper(), "card", body.callback_url,
                             country=body.customer.country, card=info)
        decision = ctx.decide(req)
        return await render(ctx, decision, lambda d: JSONResponse(
            payment_json(d, STATUS[d.outcome]), status_code=201))

    @app.get("/v1/payments/{payment_id}")
    async def get(request: Request, payment_id: str) -> dict[str, Any]:
        require(request, "authorization", f"Bearer {ctx.api_key}")
        d = ctx.runtime.get(payment_id)
        ev = d.last_event(ctx.clock.now())
        status = EVENT_STATUS.get(ev.type, "processing") if ev else "processing"
        return payment_json(d, status)

    @app.post("/v1/payments/{payment_id}/refunds", status_code=201)
    async def refund(request: Request, payment_id: str, body: RefundIn) -> dict[str, Any]:
        require(request, "authorization", f"Bearer {ctx.api_key}")
        ctx.runtime.get(payment_id)
        try:
            line = ctx.runtime.records.refund(payment_id, body.amount, ctx.clock.now())
        except ValueError as exc:
            raise InvalidInput(str(exc), field="amount") from None
        planned = ctx.runtime.trigger("refund.succeeded", ctx.clock.now(), payment_id,
                                      amount=body.amount)
        ctx.dispatcher.schedule(ctx.callbacks.get(payment_id, ""), [planned])
        return {"id": planned.event.id, "payment": payment_id, "amount": -line.gross,
                "status": "succeeded"}
