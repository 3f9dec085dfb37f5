"""Verify each dialect's webhook on the RAW body, then parse it into canonical
``WebhookReceived`` events (paywave batches several per POST).

Verification never touches parsed JSON first: the signature covers bytes, and a
re-serialised body would not match. Rejections raise :class:`SignatureError`
(answer 400/401, process nothing). :class:`ReplayGuard` rejects an identical
signed delivery seen before within the tolerance window with :class:`Replayed`
(answer 2xx without processing: a provider's duplicate is re-signed with a new
timestamp, and the state machine dedupes event ids anyway). Schemes with a
timestamp take ``now`` as a parameter; ``standardwebhooks`` (acme) reads the
wall clock itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from wallet.domain.money import minor_units
from wallet.domain.payments.commands import payment_of_key
from wallet.domain.payments.declines import classify, dialect_of
from wallet.domain.payments.events import WebhookReceived

TOLERANCE_S = 300.0


class SignatureError(Exception):
    """Not authentic, tampered with, or too old."""


class Replayed(SignatureError):
    """Authentic, but this exact delivery was already accepted."""


class ReplayGuard:
    """Remembers signatures for ``window_s``; bounded so a flood cannot grow it forever."""

    def __init__(self, window_s: float = 2 * TOLERANCE_S, max_entries: int = 100_000) -> None:
        self.window_s, self.max_entries = window_s, max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()

    def check(self, key: str, now: float) -> None:
        while self._seen and (next(iter(self._seen.values())) < now - self.window_s
                              or len(self._seen) > self.max_entries):
            self._seen.popitem(last=False)
        if key in self._seen:
            raise Replayed("this delivery was already accepted")
        self._seen[key] = now


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _fresh(timestamp: str, now: float, tolerance: float) -> None:
    try:
        ts = float(timestamp)
    except ValueError:
        raise SignatureError("bad timestamp") from None
    if not abs(now - ts) <= tolerance:  # "nan" parses, and compares false with anything
        raise SignatureError("timestamp outside tolerance")


def _same(expected: str, given: str) -> bool:
    """Constant-time equality for any header text: ``compare_digest`` refuses str with
    non-ASCII characters (TypeError, a 500), and a forged header may hold them."""
    return hmac.compare_digest(expected.encode(), given.encode())


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise SignatureError("body is not JSON") from None


# --- verification per dialect -----------------------------------------------------------------

def verify_acme(secret: str, body: bytes, headers: Mapping[str, str]) -> Any:
    """Standard Webhooks v1 (``webhook-id``/``-timestamp``/``-signature``), ±5 min."""
    try:
        return Webhook(secret).verify(body, _lower(headers))
    except WebhookVerificationError as exc:
        raise SignatureError(str(exc)) from None
    except UnicodeDecodeError:  # the library decodes the body before it checks anything
        raise SignatureError("body is not UTF-8") from None


def verify_globex(secret: str, body: bytes, headers: Mapping[str, str], now: float,
                  tolerance: float = TOLERANCE_S) -> Any:
    """Stripe-like ``t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``."""
    header = _lower(headers).get("x-globex-signature", "")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        raise SignatureError("missing t or v1")
    _fresh(parts["t"], now, tolerance)
    mac = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    if not _same(mac, parts["v1"]):
        raise SignatureError("signature mismatch")
    return _json(body)


PAYWAVE_FIELDS = ("pspReference", "originalReference", "merchantAccountCode",
                  "merchantReference", "value", "currency", "eventCode", "success")


def _paywave_mac(hex_key: str, item: Mapping[str, Any]) -> str:
    amount = item.get("amount") or {}
    values = {**item, "value": str(amount.get("value", "")), "currency": amount.get("currency", "")}
    payload = ":".join(str(values.get(f, "")) for f in PAYWAVE_FIELDS).encode()
    return base64.b64encode(hmac.new(bytes.fromhex(hex_key), payload, hashlib.sha256)
                            .digest()).decode()


def verify_paywave(hex_key: str, body: bytes) -> list[dict[str, Any]]:
    """Adyen-like: an HMAC inside EVERY item of the batch; one bad item rejects the POST."""
    try:
        items = [n["NotificationRequestItem"] for n in _json(body)["notificationItems"]]
    except (KeyError, TypeError):
        raise SignatureError("not a notification batch") from None
    for item in items:
        given = (item.get("additionalData") or {}).get("hmacSignature", "")
        if not _same(_paywave_mac(hex_key, item), str(given)):
            raise SignatureError(f"bad hmacSignature on {item.get('pspReference')}")
    return items


def verify_openbank(secret: str, body: bytes, headers: Mapping[str, str], now: float,
                    tolerance: float = TOLERANCE_S) -> Any:
    """``Digest: SHA-256=<b64>`` + HMAC-SHA512 over ``(created)`` and ``digest``."""
    h = _lower(headers)
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    if not _same(digest, h.get("digest", "")):
        raise SignatureError("digest mismatch")
    params = dict(p.split("=", 1) for p in h.get("signature", "").split(",") if "=" in p)
    created = params.get("created", "")
    _fresh(created, now, tolerance)
    signed = f"(created): {created}\ndigest: {digest}".encode()
    mac = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha512).digest()).decode()
    if not _same(mac, params.get("signature", "").strip('"')):
        raise SignatureError("signature mismatch")
    return _json(body)


def verify_chainpay(secret: str, body: bytes, headers: Mapping[str, str]) -> Any:
    """BTCPay-like ``BTCPay-Sig: sha256=<hex>``; no timestamp, so dedupe on event ids."""
    mac = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not _same(mac, _lower(headers).get("btcpay-sig", "")):
        raise SignatureError("signature mismatch")
    return _json(body)


# --- parsing: dialect payloads -> canonical WebhookReceived ------------------------------------
# ``reference`` is our payment id. globex and chainpay echo the per-attempt key (they dedupe
# on the merchant reference, so the key is sent there): only those go through payment_of_key.
# ``data`` is canonical too: ``amount`` and ``paid`` in minor units, ``decline_code`` through
# the decline taxonomy (``raw_code`` keeps the provider's), ``exception`` one of
# ``paid_late`` / ``paid_over`` / ``paid_partial``.

GLOBEX_TYPE = {"APPROVED": "payment.succeeded", "DECLINED": "payment.failed",
               "PENDING_3DS": "payment.requires_action", "PROCESSING": "payment.processing",
               "REFUNDED": "refund.succeeded", "CHARGEBACK": "chargeback.created"}
PAYWAVE_TYPE = {("AUTHORISATION", "true"): "payment.succeeded",
                ("AUTHORISATION", "false"): "payment.failed", ("PENDING", "true"): "payment.pending",
                ("OFFER_CLOSED", "true"): "payment.expired", ("REFUND", "true"): "refund.succeeded",
                ("CHARGEBACK", "true"): "chargeback.created"}
OPENBANK_TYPE = {
    ("payment_request", "AWAITING_CONSENT"): "payment.pending",
    ("payment_request", "EXECUTED"): "payment.succeeded",
    ("payment_request", "REJECTED"): "payment.failed",
    ("payment_request", "EXPIRED"): "payment.expired",
    ("payout", "PENDING"): "payout.pending", ("payout", "EXECUTED"): "payout.paid",
    ("payout", "REJECTED"): "payout.failed", ("payout", "RETURNED"): "payout.returned"}
CHAINPAY_TYPE = {"InvoiceReceivedPayment": "invoice.payment_seen",
                 "InvoiceProcessing": "invoice.confirmed", "InvoiceSettled": "invoice.settled",
                 "InvoiceExpired": "invoice.expired", "InvoiceInvalid": "invoice.invalid",
                 "InvoicePaymentReorged": "invoice.reorged"}


def _decline(dialect: str, raw: object, data: dict[str, Any]) -> None:
    if raw:
        data["raw_code"] = str(raw)
        data["decline_code"] = classify(dialect, str(raw)).decline.code


def _sequence(fields: Any) -> int | None:
    """The provider's event sequence; 0 is one (a mock numbers a payment's events from 0)."""
    value = fields.get("sequence")
    return None if value is None else int(value)


def _acme(provider: str, p: Any) -> list[WebhookReceived]:
    d = dict(p["data"])
    raw = d.pop("decline_code", None)
    _decline("acme", raw, d)
    return [WebhookReceived(p["type"], p["id"], d["id"], provider,
                            d.get("reference", ""), _sequence(d), d)]


def _globex(provider: str, p: Any) -> list[WebhookReceived]:
    t = p["transaction"]
    data: dict[str, Any] = {}
    if t.get("amount") and t.get("currency"):
        data["amount"] = minor_units(t["amount"], t["currency"])
    _decline("globex", t.get("reason"), data)
    return [WebhookReceived(GLOBEX_TYPE.get(t["status"], t["status"].lower()),
                            p["notification"]["id"], t["id"], provider,
                            payment_of_key(t.get("merchant_ref", "")), _sequence(t),
                            data)]


def _paywave(provider: str, items: list[dict[str, Any]]) -> list[WebhookReceived]:
    out = []
    for it in items:
        data: dict[str, Any] = {"amount": (it.get("amount") or {}).get("value")}
        _decline("paywave", it.get("reason"), data)
        kind = PAYWAVE_TYPE.get((it["eventCode"], str(it["success"])), it["eventCode"].lower())
        out.append(WebhookReceived(kind, it["eventId"], it["pspReference"], provider,
                                   it.get("merchantReference", ""),
                                   _sequence(it), data))
    return out


def _openbank(provider: str, p: Any) -> list[WebhookReceived]:
    r = p["resource"]
    kind = p["event_type"].split(".", 1)[0]
    canonical = OPENBANK_TYPE.get((kind, r["status"]), p["event_type"])
    data: dict[str, Any] = {}
    if canonical == "payout.returned":
        data["reason"] = str(r.get("reason") or "returned").lower()
    else:
        _decline("openbank", r.get("reason"), data)
    return [WebhookReceived(canonical, p["event_id"], r["id"], provider,
                            r.get("end_to_end_id", ""), _sequence(p),
                            data)]


def _chainpay(provider: str, p: Any) -> list[WebhookReceived]:
    pay = p.get("payment") or {}
    data: dict[str, Any] = {"confirmations": pay.get("confirmations")}
    if pay.get("value") and pay.get("asset"):
        data["paid"] = minor_units(pay["value"], pay["asset"])
    for flag_name, exception in (("afterExpiration", "paid_late"), ("overPaid", "paid_over"),
                                 ("partiallyPaid", "paid_partial")):
        if p.get(flag_name):
            data["exception"] = exception
    return [WebhookReceived(CHAINPAY_TYPE.get(p["type"], p["type"]), p["eventId"], p["invoiceId"],
                            provider, payment_of_key((p.get("metadata") or {}).get("orderId", "")),
                            _sequence(p), data)]


def receive(provider: str, secret: str, body: bytes, headers: Mapping[str, str], *,
            now: float, guard: ReplayGuard | None = None) -> list[WebhookReceived]:
    """Verify ``body`` for ``provider``'s dialect and parse it. Raises SignatureError."""
    dialect = dialect_of(provider)
    parse: Callable[[str, Any], list[WebhookReceived]]
    if dialect == "acme":
        payload: Any = verify_acme(secret, body, headers)
        parse = _acme
    elif dialect == "globex":
        payload, parse = verify_globex(secret, body, headers, now), _globex
    elif dialect == "paywave":
        payload, parse = verify_paywave(secret, body), _paywave
    elif dialect == "openbank":
        payload, parse = verify_openbank(secret, body, headers, now), _openbank
    elif dialect == "chainpay":
        payload, parse = verify_chainpay(secret, body, headers), _chainpay
    else:
        raise SignatureError(f"no webhook scheme for {provider!r}")
    if guard is not None:
        h = {k.lower(): v for k, v in headers.items()}
        sig = (h.get("webhook-signature") or h.get("x-globex-signature") or h.get("signature")
               or h.get("btcpay-sig") or "")
        guard.check(f"{provider}|{sig}|{hashlib.sha256(body).hexdigest()}", now)
    try:
        return parse(provider, payload)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SignatureError(f"authentic but unreadable payload: {exc!r}") from None
