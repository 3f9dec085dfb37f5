"""'globex' card PSP dialect: a legacy acquirer.

Form-encoded requests (``card[number]=...``), an API key header, amounts as
decimal strings, upper-case statuses and ISO 8583-style reason codes, no
idempotency header (it dedupes on ``merchant_ref``, unique per attempt; the optional
``order_id`` names the merchant's payment across attempts and keys its dice), and webhooks
signed Stripe-style: ``X-Globex-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``.

    POST /api/charge              application/x-www-form-urlencoded
    GET  /api/transaction/{id}
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from mocks.apps.base import MockContext, dumps, luhn_ok, render, require, tokenise
from mocks.apps.signing import sign_globex
from mocks.models.types import Decision, Event, PaymentRequest
from wallet.domain.errors import InvalidInput
from wallet.domain.money import format_minor, minor_units

RESULT = {"approved": "APPROVED", "declined": "DECLINED", "pending": "PENDING_3DS",
          "error": "ERROR"}
EVENT_STATUS = {"payment.processing": "PROCESSING", "payment.requires_action": "PENDING_3DS",
                "payment.succeeded": "APPROVED", "payment.failed": "DECLINED",
                "refund.succeeded": "REFUNDED", "chargeback.created": "CHARGEBACK"}
REASON = {  # canonical decline code -> (ISO 8583-style code, message)
    "insufficient_funds": ("51", "Insufficient funds"), "do_not_honor": ("05", "Do not honor"),
    "suspected_fraud": ("59", "Suspected fraud"), "three_ds_failed": ("R3", "3DS failed"),
    "expired_card": ("54", "Expired card"), "restricted_region": ("62", "Restricted card"),
    "unsupported_method": ("58", "Not permitted to terminal"),
    "gambling_mcc_blocked": ("57", "Not permitted to cardholder"),
    "lost_card": ("41", "Lost card"), "stolen_card": ("43", "Stolen card"),
    "incorrect_cvc": ("N7", "CVV2 mismatch"), "processing_error": ("96", "System malfunction"),
    "referral": ("01", "Refer to issuer"), "blocked_card": ("78", "Blocked card"),
}
REQUIRED = ("merchant_ref", "customer_id", "amount", "currency", "card[number]", "card[cvv]")


def transaction(d: Decision, status: str) -> dict[str, Any]:
    code, message = REASON.get(d.decline_code or "", ("00", "Approved"))
    if status != "DECLINED":
        code, message = ("00", "Approved") if status == "APPROVED" else ("", status.title())
    body: dict[str, Any] = {
        "result": {"code": status, "reason": code, "message": message},
        "transaction": {"id": d.provider_ref, "merchant_ref": d.idempotency_key,
                        "order_id": d.reference,
                        "amount": format_minor(d.amount, d.currency), "currency": d.currency,
                        "card": {"masked": f"{d.extra.get('bin')}******{d.extra.get('last4')}"}}}
    if status == "PENDING_3DS":
        body["redirect"] = {"acs_url": f"https://globex.example/acs/{d.provider_ref}"}
    return body


def webhook(ctx: MockContext) -> Any:
    def sign(events: list[Event], attempt: int) -> tuple[bytes, dict[str, str]]:
        ev = events[0]
        d = ctx.runtime.records.get(ev.provider_ref)
        currency = d.currency if d else ""
        amount = ev.data.get("amount")
        reason = REASON.get(ev.data.get("decline_code") or "", ("", ""))[0]
        body = dumps({
            "notification": {"id": ev.id, "kind": "TRANSACTION_STATUS", "attempt": attempt + 1,
                             "sent_at": int(ctx.clock.wall(ctx.clock.now()))},
            "transaction": {"id": ev.provider_ref,
                            "merchant_ref": d.idempotency_key if d else ev.reference,
                            "order_id": ev.reference,
                            "status": EVENT_STATUS.get(ev.type, ev.type.upper()),
                            "reason": reason, "sequence": ev.sequence, "currency": currency,
                            "amount": format_minor(amount, currency)
                            if isinstance(amount, int) and currency else None}})
        return body, sign_globex(ctx.secret, body, ctx.clock.wall(ctx.clock.now()))
    return sign


def parse(raw: bytes, ctx: MockContext) -> PaymentRequest:
    try:
        form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        raise InvalidInput("the form body is not UTF-8", field="body") from None
    missing = [f for f in REQUIRED if not form.get(f)]
    if missing:
        raise InvalidInput(f"missing fields {missing}", field=missing[0])
    pan = form.pop("card[number]")
    form.pop("card[cvv]")  # checked for presence only, never kept
    if not luhn_ok(pan):
        raise InvalidInput("card number fails the Luhn check", field="card[number]")
    currency = form["currency"].upper()
    card = tokenise(pan, ctx.secret, holder_name=form.get("card[holder]", ""),
                    funding=form.get("card[funding]", "debit"), issuer=form.get("card[issuer]", ""))
    return PaymentRequest(form.get("order_id") or form["merchant_ref"], form["merchant_ref"],
                          form["customer_id"],
                          minor_units(form["amount"], currency), currency, "card",
                          form.get("notify_url", ""), country=form.get("country", ""), card=card)


def register(app: FastAPI, ctx: MockContext) -> None:
    @app.post("/api/charge")
    async def charge(request: Request) -> Response:
        require(request, "x-globex-key", ctx.api_key)
        decision = ctx.decide(parse(await request.body(), ctx))
        return await render(ctx, decision,
                            lambda d: JSONResponse(transaction(d, RESULT[d.outcome])))

    @app.get("/api/transaction/{tx_id}")
    async def get(request: Request, tx_id: str) -> dict[str, Any]:
        require(request, "x-globex-key", ctx.api_key)
        d = ctx.runtime.get(tx_id)
        ev = d.last_event(ctx.clock.now())
        return transaction(d, EVENT_STATUS.get(ev.type, "PROCESSING") if ev else "PROCESSING")
