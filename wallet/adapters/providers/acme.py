"""acme (card, Stripe-like): JSON, bearer token, minor units, ``Idempotency-Key`` header."""

from __future__ import annotations

from typing import Any

from wallet.adapters.providers.base import Malformed, PaymentRequest, ProviderClient
from wallet.domain.payments.declines import classify
from wallet.domain.payments.events import (
    APPROVED,
    DECLINED,
    PENDING,
    ProviderReplied,
    StatusPolled,
)

OUTCOME = {"succeeded": APPROVED, "declined": DECLINED, "requires_action": PENDING,
           "processing": PENDING, "refunded": APPROVED, "disputed": APPROVED}


class AcmeClient(ProviderClient):
    dialect = "acme"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def build(self, req: PaymentRequest) -> tuple[str, str, dict[str, Any]]:
        if req.card is None:
            raise ValueError("acme takes cards only")
        c = req.card
        body = {"amount": req.amount, "currency": req.currency, "reference": req.payment_id,
                "customer": {"id": req.user_id, "country": req.country},
                "payment_method": {"type": "card", "card": {
                    "number": c.number, "exp_month": c.exp_month, "exp_year": c.exp_year,
                    "cvc": c.cvc, "holder_name": c.holder_name}},
                "callback_url": req.callback_url}
        return "POST", "/v1/payments", {"json": body,
                                        "headers": {"Idempotency-Key": req.idempotency_key}}

    def _outcome(self, body: dict[str, Any]) -> tuple[str, str | None, str | None]:
        status = body["status"]
        if status not in OUTCOME:
            raise Malformed(status)
        outcome = OUTCOME[status]
        if outcome != DECLINED:
            return outcome, None, None
        raw = body.get("decline_code") or ""
        return outcome, classify(self.dialect, raw).decline.code, raw

    def parse(self, body: Any, req: PaymentRequest, attempt: int) -> ProviderReplied:
        outcome, code, raw = self._outcome(body)
        action = body.get("next_action") or {}
        return ProviderReplied(attempt, outcome, str(body["id"]), code, raw,
                               redirect_url=action.get("url"))

    def status_path(self, provider_ref: str, req: PaymentRequest) -> str:
        return f"/v1/payments/{provider_ref}"

    def parse_status(self, body: Any, req: PaymentRequest) -> StatusPolled:
        outcome, code, raw = self._outcome(body)
        return StatusPolled(outcome, str(body["id"]), code, raw)
