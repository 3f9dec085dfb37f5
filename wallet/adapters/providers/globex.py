"""globex (card, legacy acquirer): form-encoded, ``X-Globex-Key``, decimal amounts,
ISO 8583-style reason codes. No idempotency header: it dedupes on ``merchant_ref``, so the
per-attempt idempotency key is sent AS the merchant reference, and the payment id as
``order_id`` (the provider's view of one payment across attempts)."""

from __future__ import annotations

from typing import Any

from wallet.adapters.providers.base import Malformed, PaymentRequest, ProviderClient
from wallet.domain.money import format_minor
from wallet.domain.payments.declines import classify
from wallet.domain.payments.events import (
    APPROVED,
    DECLINED,
    PENDING,
    ProviderReplied,
    StatusPolled,
)

OUTCOME = {"APPROVED": APPROVED, "DECLINED": DECLINED, "PENDING_3DS": PENDING,
           "PROCESSING": PENDING, "REFUNDED": APPROVED, "CHARGEBACK": APPROVED}


class GlobexClient(ProviderClient):
    dialect = "globex"

    def headers(self) -> dict[str, str]:
        return {"X-Globex-Key": self.api_key}

    def build(self, req: PaymentRequest) -> tuple[str, str, dict[str, Any]]:
        if req.card is None:
            raise ValueError("globex takes cards only")
        form = {"merchant_ref": req.idempotency_key, "order_id": req.payment_id,
                "customer_id": req.user_id,
                "amount": format_minor(req.amount, req.currency), "currency": req.currency,
                "country": req.country, "card[number]": req.card.number,
                "card[cvv]": req.card.cvc, "card[holder]": req.card.holder_name,
                "notify_url": req.callback_url}
        return "POST", "/api/charge", {"data": form}

    def _outcome(self, body: dict[str, Any]) -> tuple[str, str | None, str | None]:
        code = body["result"]["code"]
        if code not in OUTCOME:
            raise Malformed(code)
        if OUTCOME[code] != DECLINED:
            return OUTCOME[code], None, None
        raw = str(body["result"].get("reason") or "")
        return DECLINED, classify(self.dialect, raw).decline.code, raw

    def parse(self, body: Any, req: PaymentRequest, attempt: int) -> ProviderReplied:
        outcome, code, raw = self._outcome(body)
        redirect = (body.get("redirect") or {}).get("acs_url")
        return ProviderReplied(attempt, outcome, str(body["transaction"]["id"]), code, raw,
                               redirect_url=redirect)

    def status_path(self, provider_ref: str, req: PaymentRequest) -> str:
        return f"/api/transaction/{provider_ref}"

    def parse_status(self, body: Any, req: PaymentRequest) -> StatusPolled:
        outcome, code, raw = self._outcome(body)
        return StatusPolled(outcome, str(body["transaction"]["id"]), code, raw)
