"""Webhook signing schemes of the mock dialects, with the matching ``verify_*`` helpers.

Each pair is pure (bytes and headers in, headers or parsed body out) so a wallet
can import the verifier, and tests can show that a one-byte change, a wrong
secret or a stale timestamp fails. Comparisons are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

TOLERANCE_S = 300  # Stripe and Standard Webhooks: 5 minutes


class SignatureError(Exception):
    """The webhook is not authentic or too old; answer 400/401 and do not process it."""


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def _fresh(timestamp: str, now: float | None, tolerance: float) -> None:
    try:
        ts = float(timestamp)
    except ValueError:
        raise SignatureError("bad timestamp") from None
    if not abs(_now(now) - ts) <= tolerance:  # "nan" parses, and compares false with anything
        raise SignatureError("timestamp outside tolerance")


def _same(expected: str, given: str) -> bool:
    """Constant-time equality for any header text (``compare_digest`` raises TypeError on
    str with non-ASCII characters, which a forged header may hold)."""
    return hmac.compare_digest(expected.encode(), given.encode())


# --- acme: Standard Webhooks (webhook-id / webhook-timestamp / webhook-signature) -----------

def sign_standard(secret: str, msg_id: str, body: bytes, timestamp: float) -> dict[str, str]:
    ts = datetime.fromtimestamp(int(timestamp), tz=UTC)
    sig = Webhook(secret).sign(msg_id, ts, body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(timestamp)),
            "webhook-signature": sig, "content-type": "application/json"}


def verify_acme(secret: str, body: bytes, headers: dict[str, str]) -> Any:
    """Standard Webhooks v1 via the ``standardwebhooks`` package (±5 min of wall clock)."""
    try:
        return Webhook(secret).verify(body, dict(headers))
    except WebhookVerificationError as exc:
        raise SignatureError(str(exc)) from None
    except UnicodeDecodeError:  # the library decodes the body before it checks anything
        raise SignatureError("body is not UTF-8") from None


# --- globex: Stripe-like "t=...,v1=hex" over "t.body" ----------------------------------------

def sign_globex(secret: str, body: bytes, timestamp: float) -> dict[str, str]:
    t = str(int(timestamp))
    mac = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Globex-Signature": f"t={t},v1={mac}", "content-type": "application/json"}


def verify_globex(secret: str, body: bytes, header: str, *, now: float | None = None,
                  tolerance: float = TOLERANCE_S) -> Any:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts:
        raise SignatureError("missing t or v1")
    _fresh(parts["t"], now, tolerance)
    mac = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    if not _same(mac, parts["v1"]):
        raise SignatureError("signature mismatch")
    return json.loads(body)


# --- paywave: Adyen-like HMAC over ordered fields inside each notification item ---------------

PAYWAVE_FIELDS = ("pspReference", "originalReference", "merchantAccountCode",
                  "merchantReference", "value", "currency", "eventCode", "success")


def _paywave_payload(item: dict[str, Any]) -> bytes:
    values = {**item, "value": str(item.get("amount", {}).get("value", "")),
              "currency": item.get("amount", {}).get("currency", "")}
    return ":".join(str(values.get(f, "")) for f in PAYWAVE_FIELDS).encode()


def sign_paywave_item(hex_key: str, item: dict[str, Any]) -> str:
    mac = hmac.new(bytes.fromhex(hex_key), _paywave_payload(item), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def verify_paywave(hex_key: str, body: bytes) -> list[dict[str, Any]]:
    """Verify every item of a notification batch; returns the items."""
    try:
        items = [n["NotificationRequestItem"] for n in json.loads(body)["notificationItems"]]
        for item in items:
            given = str((item.get("additionalData") or {}).get("hmacSignature", ""))
            if not _same(sign_paywave_item(hex_key, item), given):
                raise SignatureError(f"bad hmacSignature on {item.get('pspReference')}")
    except (ValueError, KeyError, TypeError, AttributeError):  # not JSON, not a batch
        raise SignatureError("not a notification batch") from None
    return items


# --- openbank: Digest + HTTP-signature-style header over (created) and digest -----------------

def _ob_string(created: str, digest: str) -> bytes:
    return f"(created): {created}\ndigest: {digest}".encode()


def sign_openbank(secret: str, body: bytes, timestamp: float) -> dict[str, str]:
    created = str(int(timestamp))
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    mac = hmac.new(secret.encode(), _ob_string(created, digest), hashlib.sha512).digest()
    sig = (f'keyId="openbank",algorithm="hmac-sha512",created={created},'
           f'headers="(created) digest",signature="{base64.b64encode(mac).decode()}"')
    return {"Digest": digest, "Signature": sig, "content-type": "application/json"}


def verify_openbank(secret: str, body: bytes, headers: dict[str, str], *,
                    now: float | None = None, tolerance: float = TOLERANCE_S) -> Any:
    h = {k.lower(): v for k, v in headers.items()}
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    if not _same(digest, h.get("digest", "")):
        raise SignatureError("digest mismatch")
    params = dict(p.split("=", 1) for p in h.get("signature", "").split(",") if "=" in p)
    created = params.get("created", "")
    _fresh(created, now, tolerance)
    mac = hmac.new(secret.encode(), _ob_string(created, digest), hashlib.sha512).digest()
    if not _same(base64.b64encode(mac).decode(), params.get("signature", "").strip('"')):
        raise SignatureError("signature mismatch")
    return json.loads(body)


# --- chainpay: BTCPay-like "sha256=hex" over the body (no timestamp: dedupe by deliveryId) ----

def sign_chainpay(secret: str, body: bytes) -> dict[str, str]:
    mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"BTCPay-Sig": f"sha256={mac}", "content-type": "application/json"}


def verify_chainpay(secret: str, body: bytes, header: str) -> Any:
    mac = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not _same(mac, header):
        raise SignatureError("signature mismatch")
    return json.loads(body)


# --- verifyme: Sumsub-like X-Payload-Digest (hex HMAC-SHA256 of the body) ---------------------

def sign_verifyme(secret: str, body: bytes) -> dict[str, str]:
    mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Payload-Digest": mac, "X-Payload-Digest-Alg": "HMAC_SHA256_HEX",
            "content-type": "application/json"}


def verify_verifyme(secret: str, body: bytes, headers: dict[str, str]) -> Any:
    h = {k.lower(): v for k, v in headers.items()}
    if h.get("x-payload-digest-alg", "HMAC_SHA256_HEX") != "HMAC_SHA256_HEX":
        raise SignatureError("unsupported digest algorithm")
    mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not _same(mac, h.get("x-payload-digest", "")):
        raise SignatureError("signature mismatch")
    return json.loads(body)
