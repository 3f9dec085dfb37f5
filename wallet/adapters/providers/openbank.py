"""openbank (pay-by-bank deposits, payouts): JSON:API envelopes, decimal amounts, bearer
token, ``X-Idempotency-Key``. The end-to-end id (max 35 chars) is our payment id."""

from __future__ import annotations

from typing import Any

from wallet.adapters.providers.base import Malformed, PaymentRequest, ProviderClient
from wallet.domain.money import format_minor
from wallet.domain.payments.declines import classify
from wallet.domain.payments.events import (
    APPROVED,
    DECLINED,
    EXPIRED,
    PENDING,
    ProviderReplied,
    StatusPolled,
)

OUTCOME = {"AWAITING_CONSENT": PENDING, "PENDING": PENDING, "EXECUTED": APPROVED,
           "REJECTED": DECLINED, "EXPIRED": EXPIRED, "RETURNED": APPROVED}


class OpenbankClient(ProviderClient):
    dialect = "openbank"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def _path(self, req: PaymentRequest) -> str:
        return "/v1/payouts" if req.operation == "payout" else "/v1/payment-requests"

    def build(self, req: PaymentRequest) -> tuple[str, str, dict[str, Any]]:
        attrs = {"amount": {"value": format_minor(req.amount, req.currency),
                            "currency": req.currency},
                 "end_to_end_id": req.payment_id,
                 "party": {"id": req.user_id, "name": req.party_name, "iban": req.iban},
                 "country": req.country, "webhook_url": req.callback_url}
        kind = "payout" if req.operation == "payout" else "payment_request"
        return "POST", self._path(req), {
            "json": {"data": {"type": kind, "attributes": attrs}},
            "headers": {"X-Idempotency-Key": req.idempotency_key}}

    def _outcome(self, body: dict[str, Any]) -> tuple[str, str, str | None, str | None]:
        data = body["data"]
        attrs = data["attributes"]
        status = attrs["status"]
        if status not in OUTCOME:
            raise Malformed(status)
        if OUTCOME[status] != DECLINED:
            return OUTCOME[status], str(data["id"]), None, None
        raw = str(attrs.get("reason") or "")
        return DECLINED, str(data["id"]), classify(self.dialect, raw).decline.code, raw

    def parse(self, body: Any, req: PaymentRequest, attempt: int) -> ProviderReplied:
        outcome, ref, code, raw = self._outcome(body)
        consent = body["data"]["attributes"].get("consent_url")
        return ProviderReplied(attempt, outcome, ref, code, raw, redirect_url=consent)

    def status_path(self, provider_ref: str, req: PaymentRequest) -> str:
        return f"{self._path(req)}/{provider_ref}"

    def parse_status(self, body: Any, req: PaymentRequest) -> StatusPolled:
        outcome, ref, code, raw = self._outcome(body)
        return StatusPolled(outcome, ref, code, raw)
