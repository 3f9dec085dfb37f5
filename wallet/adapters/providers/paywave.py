"""paywave (e-wallet, Adyen-like): Basic auth, ``amount{value,currency}`` in minor units,
an ``Idempotency-Key`` header, a redirect the player approves later."""

from __future__ import annotations

import base64
from typing import Any

from wallet.adapters.providers.base import Malformed, PaymentRequest, ProviderClient
from wallet.domain.payments.declines import classify
from wallet.domain.payments.events import (
    APPROVED,
    DECLINED,
    EXPIRED,
    PENDING,
    ProviderReplied,
    StatusPolled,
)

OUTCOME = {"Authorised": APPROVED, "Refused": DECLINED, "RedirectShopper": PENDING,
           "Pending": PENDING, "Received": PENDING, "Cancelled": EXPIRED}


class PaywaveClient(ProviderClient):
    dialect = "paywave"

    def headers(self) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(self.api_key.encode()).decode()}

    def build(self, req: PaymentRequest) -> tuple[str, str, dict[str, Any]]:
        body = {"merchantAccount": "Casino", "merchantReference": req.payment_id,
                "shopperReference": req.user_id,
                "amount": {"value": req.amount, "currency": req.currency},
                "countryCode": req.country, "notificationUrl": req.callback_url}
        return "POST", "/checkout/sessions", {
            "json": body, "headers": {"Idempotency-Key": req.idempotency_key}}

    def _outcome(self, body: dict[str, Any]) -> tuple[str, str | None, str | None]:
        result = body["resultCode"]
        if result not in OUTCOME:
            raise Malformed(result)
        if OUTCOME[result] != DECLINED:
            return OUTCOME[result], None, None
        raw = str(body.get("refusalReason") or "")
        return DECLINED, classify(self.dialect, raw).decline.code, raw

    def parse(self, body: Any, req: PaymentRequest, attempt: int) -> ProviderReplied:
        outcome, code, raw = self._outcome(body)
        return ProviderReplied(attempt, outcome, str(body["pspReference"]), code, raw,
                               redirect_url=(body.get("action") or {}).get("url"))

    def status_path(self, provider_ref: str, req: PaymentRequest) -> str:
        return f"/checkout/sessions/{provider_ref}"

    def parse_status(self, body: Any, req: PaymentRequest) -> StatusPolled:
        outcome, code, raw = self._outcome(body)
        return StatusPolled(outcome, str(body["pspReference"]), code, raw)
