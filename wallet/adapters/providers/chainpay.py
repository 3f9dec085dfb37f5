"""chainpay (crypto, BTCPay-like invoices): ``Authorization: token``, fiat decimal amounts.
No idempotency header: a repeated ``orderId`` replays the invoice, so the per-attempt key
is sent as the order id, and the payment id as ``paymentId`` (the provider's view of one
payment across attempts). The reply carries the quote: asset amount due (minor units of the
asset) and the confirmations the store's speed policy requires."""

from __future__ import annotations

from typing import Any

from wallet.adapters.providers.base import Malformed, PaymentRequest, ProviderClient
from wallet.domain.money import format_minor, minor_units
from wallet.domain.payments.events import (
    APPROVED,
    DECLINED,
    EXPIRED,
    PENDING,
    ProviderReplied,
    StatusPolled,
)

OUTCOME = {"New": PENDING, "Processing": PENDING, "Settled": APPROVED, "Expired": EXPIRED,
           "Invalid": DECLINED}


class ChainpayClient(ProviderClient):
    dialect = "chainpay"

    def __init__(self, provider: str, base_url: str, *, store_id: str = "casino",
                 **kw: Any) -> None:
        super().__init__(provider, base_url, **kw)
        self.store_id = store_id

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.api_key}"}

    def build(self, req: PaymentRequest) -> tuple[str, str, dict[str, Any]]:
        body = {"amount": format_minor(req.amount, req.currency), "currency": req.currency,
                "metadata": {"orderId": req.idempotency_key, "paymentId": req.payment_id,
                             "buyerId": req.user_id},
                "notificationUrl": req.callback_url}
        return "POST", f"/api/v1/stores/{self.store_id}/invoices", {"json": body}

    def _outcome(self, body: dict[str, Any]) -> tuple[str, str | None]:
        status = body["status"]
        if status not in OUTCOME:
            raise Malformed(status)
        return OUTCOME[status], ("double_spend" if status == "Invalid" else None)

    def parse(self, body: Any, req: PaymentRequest, attempt: int) -> ProviderReplied:
        outcome, code = self._outcome(body)
        method = (body.get("paymentMethods") or [{}])[0]
        asset, due = method.get("asset"), method.get("due")
        need = method.get("confirmationsRequired")
        return ProviderReplied(
            attempt, outcome, str(body["id"]), code, code,
            redirect_url=body.get("checkoutLink"),
            confirmations_required=int(need) if need is not None else None,
            amount_due=minor_units(due, asset) if asset and due else None)

    def status_path(self, provider_ref: str, req: PaymentRequest) -> str:
        return f"/api/v1/stores/{self.store_id}/invoices/{provider_ref}"

    def parse_status(self, body: Any, req: PaymentRequest) -> StatusPolled:
        outcome, code = self._outcome(body)
        return StatusPolled(outcome, str(body["id"]), code, code)
