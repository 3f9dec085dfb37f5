"""'paywave' e-wallet dialect, Adyen-like.

JSON with ``amount: {value, currency}`` in minor units, HTTP Basic auth, an
optional ``Idempotency-Key`` (else ``merchantReference``), a redirect action,
and notifications batched several to a POST, each item carrying its own
``additionalData.hmacSignature`` over ordered fields; the wallet must answer
``[accepted]``.

    POST /checkout/sessions
    GET  /checkout/sessions/{pspReference}
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from mocks.apps.base import MockContext, dumps, render, require
from mocks.apps.signing import sign_paywave_item
from mocks.models.types import Decision, Event, PaymentRequest

BATCH = True
EVENT_CODE = {  # canonical event -> (eventCode, success)
    "payment.pending": ("PENDING", "true"), "payment.succeeded": ("AUTHORISATION", "true"),
    "payment.failed": ("AUTHORISATION", "false"), "payment.expired": ("OFFER_CLOSED", "true"),
    "refund.succeeded": ("REFUND", "true"), "chargeback.created": ("CHARGEBACK", "true"),
}
RESULT = {"approved": "Authorised", "declined": "Refused", "pending": "RedirectShopper",
          "expired": "Cancelled", "error": "Error"}


class Amount(BaseModel):
    value: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)


class SessionIn(BaseModel):
    merchantAccount: str
    merchantReference: str = Field(min_length=1)
    shopperReference: str = Field(min_length=1)
    amount: Amount
    countryCode: str = ""
    returnUrl: str = ""
    notificationUrl: str = ""


def session(d: Decision, result: str) -> dict[str, Any]:
    body: dict[str, Any] = {"pspReference": d.provider_ref, "merchantReference": d.reference,
                            "resultCode": result,
                            "amount": {"value": d.amount, "currency": d.currency}}
    if result == "RedirectShopper":
        body["action"] = {"type": "redirect", "method": "GET", "url": d.extra["redirect_url"]}
    if result == "Refused":
        body["refusalReason"] = d.decline_code
    return body


def webhook(ctx: MockContext) -> Any:
    def sign(events: list[Event], attempt: int) -> tuple[bytes, dict[str, str]]:
        items = []
        for ev in events:
            d = ctx.runtime.records.get(ev.provider_ref)
            code, success = EVENT_CODE.get(ev.type, (ev.type.upper(), "true"))
            item: dict[str, Any] = {
                "eventCode": code, "success": success, "pspReference": ev.provider_ref,
                "originalReference": "", "eventId": ev.id, "merchantAccountCode": "CasinoSandbox",
                "merchantReference": ev.reference, "eventDate": ctx.clock.wall(ev.created_at),
                "amount": {"value": ev.data.get("amount", d.amount if d else 0),
                           "currency": d.currency if d else ""},
                "reason": ev.data.get("decline_code") or "", "sequence": ev.sequence}
            item["additionalData"] = {"hmacSignature": sign_paywave_item(ctx.secret, item)}
            items.append({"NotificationRequestItem": item})
        return dumps({"live": "false", "notificationItems": items}), {
            "content-type": "application/json"}
    return sign


def register(app: FastAPI, ctx: MockContext) -> None:
    basic = "Basic " + base64.b64encode(ctx.api_key.encode()).decode()

    @app.post("/checkout/sessions")
    async def create(request: Request, body: SessionIn,
                     idempotency_key: str | None = Header(None)) -> Response:
        require(request, "authorization", basic)
        req = PaymentRequest(body.merchantReference, idempotency_key or body.merchantReference,
                             body.shopperReference, body.amount.value,
                             body.amount.currency.upper(), "ewallet", body.notificationUrl,
                             country=body.countryCode)
        decision = ctx.decide(req)
        return await render(ctx, decision, lambda d: JSONResponse(session(d, RESULT[d.outcome])))

    @app.get("/checkout/sessions/{psp_reference}")
    async def get(request: Request, psp_reference: str) -> dict[str, Any]:
        require(request, "authorization", basic)
        d = ctx.runtime.get(psp_reference)
        return session(d, RESULT[d.outcome_at(ctx.clock.now())])
