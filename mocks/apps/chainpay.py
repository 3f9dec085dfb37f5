"""'chainpay' crypto dialect, BTCPay-like; one mount per chain (chainpay-btc, -eth, -tron).

Invoices in fiat with a quoted crypto amount; statuses New / Processing /
Settled / Expired / Invalid with exceptions; webhooks with ``BTCPay-Sig:
sha256=<hex>`` over the body and a ``deliveryId`` per attempt (BTCPay has no
timestamp in the signature: dedupe on the event id). There is no idempotency
header: a repeated ``metadata.orderId`` (unique per attempt) replays the first invoice; the
optional ``metadata.paymentId`` names the merchant's payment across attempts and keys its
dice.

    POST /api/v1/stores/{store_id}/invoices      Authorization: token <key>
    GET  /api/v1/stores/{store_id}/invoices/{id}
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from mocks.apps.base import MockContext, dumps, render, require
from mocks.apps.signing import sign_chainpay
from mocks.models.common import short_hash
from mocks.models.types import Decision, Event, PaymentRequest
from wallet.domain.money import format_minor, minor_units

TYPE = {"invoice.payment_seen": "InvoiceReceivedPayment", "invoice.confirmed": "InvoiceProcessing",
        "invoice.settled": "InvoiceSettled", "invoice.expired": "InvoiceExpired",
        "invoice.invalid": "InvoiceInvalid", "invoice.reorged": "InvoicePaymentReorged"}
STATUS = {"invoice.payment_seen": "Processing", "invoice.confirmed": "Processing",
          "invoice.settled": "Settled", "invoice.expired": "Expired",
          "invoice.invalid": "Invalid", "invoice.reorged": "New"}


class Metadata(BaseModel):
    orderId: str = Field(min_length=1)
    buyerId: str = Field(min_length=1)
    paymentId: str | None = Field(default=None, min_length=1)


def metadata(d: Decision | None, reference: str) -> dict[str, str]:
    """As the merchant sent it: the order id is the key without its store prefix."""
    order = d.idempotency_key.partition(":")[2] if d else reference
    return {"orderId": order, "paymentId": reference}


class InvoiceIn(BaseModel):
    amount: str = Field(pattern=r"^\d+(\.\d+)?$")
    currency: str = Field(min_length=3, max_length=4)
    metadata: Metadata
    notificationUrl: str = ""


def invoice(d: Decision, status: str, store_id: str) -> dict[str, Any]:
    x = d.extra
    asset = str(x.get("asset", ""))
    return {"id": d.provider_ref, "storeId": store_id, "status": status,
            "amount": format_minor(d.amount, d.currency), "currency": d.currency,
            "metadata": metadata(d, d.reference),
            "checkoutLink": f"https://chainpay.example/i/{d.provider_ref}",
            "expirationTime": x.get("expires_at"),
            "paymentMethods": [{"asset": asset, "rate": x.get("rate"),
                                "due": format_minor(int(x.get("due", 0)), asset) if asset else None,
                                "confirmationsRequired": x.get("confirmations_required")}]}


def webhook(ctx: MockContext) -> Any:
    def sign(events: list[Event], attempt: int) -> tuple[bytes, dict[str, str]]:
        ev = events[0]
        d = ctx.runtime.records.get(ev.provider_ref)
        asset = str(d.extra.get("asset", "")) if d else ""
        paid = ev.data.get("paid")
        exception = ev.data.get("exception")
        body = dumps({
            "deliveryId": f"dlv_{short_hash(ev.id, attempt)}", "eventId": ev.id,
            "isRedelivery": attempt > 0, "type": TYPE.get(ev.type, ev.type),
            "timestamp": int(ctx.clock.wall(ev.created_at)), "storeId": ctx.name,
            "invoiceId": ev.provider_ref, "metadata": metadata(d, ev.reference),
            "sequence": ev.sequence, "afterExpiration": exception == "paid_late",
            "overPaid": exception == "paid_over", "partiallyPaid": exception == "paid_partial",
            "payment": {"asset": asset, "confirmations": ev.data.get("confirmations"),
                        "value": format_minor(paid, asset) if isinstance(paid, int) and asset
                        else None}})
        return body, sign_chainpay(ctx.secret, body)
    return sign


def register(app: FastAPI, ctx: MockContext) -> None:
    auth = f"token {ctx.api_key}"

    @app.post("/api/v1/stores/{store_id}/invoices")
    async def create(request: Request, store_id: str, body: InvoiceIn) -> Response:
        require(request, "authorization", auth)
        currency = body.currency.upper()
        meta = body.metadata
        req = PaymentRequest(meta.paymentId or meta.orderId, f"{store_id}:{meta.orderId}",
                             meta.buyerId, minor_units(body.amount, currency), currency,
                             "crypto", body.notificationUrl)
        decision = ctx.decide(req)
        return await render(ctx, decision, lambda d: JSONResponse(invoice(d, "New", store_id)))

    @app.get("/api/v1/stores/{store_id}/invoices/{invoice_id}")
    async def get(request: Request, store_id: str, invoice_id: str) -> dict[str, Any]:
        require(request, "authorization", auth)
        d = ctx.runtime.get(invoice_id)
        ev = d.last_event(ctx.clock.now())
        return invoice(d, STATUS.get(ev.type, "New") if ev else "New", store_id)
