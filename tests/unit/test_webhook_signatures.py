"""Webhook signatures, for any body: the wallet's verifier (``wallet.adapters.webhooks``)
accepts what the mock provider signs (``mocks.apps.signing``, written separately), and
refuses, with ``SignatureError`` and nothing else (a 401, never a 500):

- any one-byte change to a body the scheme signs whole (acme, globex, openbank, chainpay);
- a change to a field paywave's per-item HMAC covers (Adyen signs chosen fields only);
- another secret, and a timestamp outside the tolerance;
- any bytes with any values in the scheme's headers."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mocks.apps import signing
from mocks.apps.server import DEFAULT_SECRETS
from wallet.adapters import webhooks as w

NOW = 1_750_000_000.0
SECRET = {"acme": DEFAULT_SECRETS["acme"], "globex": "globex_sandbox_secret",
          "openbank": "openbank_sandbox_secret", "chainpay": "chainpay_sandbox_secret",
          "paywave": DEFAULT_SECRETS["paywave"]}
OTHER = {"acme": "whsec_" + base64.b64encode(b"another-secret-of-24-byte").decode(),
         "globex": "x", "openbank": "x", "chainpay": "x", "paywave": "00" * 32}

JSON = st.dictionaries(
    st.text(max_size=6),
    st.none() | st.booleans() | st.integers() | st.text(max_size=10)
    | st.lists(st.integers(), max_size=3),
    max_size=5)
LATIN1 = st.text(st.characters(max_codepoint=255), max_size=40)

# dialect -> sign(secret, body, timestamp) -> headers
SIGN: dict[str, Callable[[str, bytes, float], dict[str, str]]] = {
    "acme": lambda s, b, t: signing.sign_standard(s, "evt_1", b, t),
    "globex": signing.sign_globex,
    "openbank": signing.sign_openbank,
    "chainpay": lambda s, b, t: signing.sign_chainpay(s, b),
}
# dialect -> verify(secret, body, headers, now) -> payload
VERIFY: dict[str, Callable[[str, bytes, dict[str, str], float], Any]] = {
    "acme": lambda s, b, h, now: w.verify_acme(s, b, h),  # standardwebhooks reads the clock
    "globex": w.verify_globex,
    "openbank": w.verify_openbank,
    "chainpay": lambda s, b, h, now: w.verify_chainpay(s, b, h),
}
HEADERS = {"acme": ["webhook-id", "webhook-timestamp", "webhook-signature"],
           "globex": ["x-globex-signature"], "openbank": ["digest", "signature"],
           "chainpay": ["btcpay-sig"], "paywave": []}


def now_for(dialect: str) -> float:
    return time.time() if dialect == "acme" else NOW


def refused(dialect: str, secret: str, body: bytes, headers: dict[str, str], now: float) -> bool:
    """True when the wallet's webhook entry point refuses the delivery as not authentic."""
    try:
        w.receive(dialect, secret, body, headers, now=now)
    except w.SignatureError:
        return True
    return False


@pytest.mark.parametrize("dialect", sorted(SIGN))
@given(payload=JSON, data=st.data())
def test_a_signed_body_is_accepted_and_any_byte_changed_is_refused(dialect, payload, data):
    body = json.dumps(payload, ensure_ascii=False).encode()
    now = now_for(dialect)
    headers = SIGN[dialect](SECRET[dialect], body, now)
    assert VERIFY[dialect](SECRET[dialect], body, headers, now) == payload

    i = data.draw(st.integers(0, len(body) - 1), label="position")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != body[i]), label="byte")
    tampered = body[:i] + bytes([byte]) + body[i + 1:]
    assert refused(dialect, SECRET[dialect], tampered, headers, now)
    assert refused(dialect, OTHER[dialect], body, headers, now)


@pytest.mark.parametrize("dialect", ["acme", "globex", "openbank"])
@given(payload=JSON, skew=st.floats(w.TOLERANCE_S + 1, 10 * 86_400), late=st.booleans())
def test_a_timestamp_outside_the_tolerance_is_refused(dialect, payload, skew, late):
    body = json.dumps(payload).encode()
    now = now_for(dialect)
    headers = SIGN[dialect](SECRET[dialect], body, now - skew if late else now + skew)
    assert refused(dialect, SECRET[dialect], body, headers, now)


PAYWAVE_SIGNED = ["pspReference", "originalReference", "merchantAccountCode",
                  "merchantReference", "eventCode", "success", "value", "currency"]


def paywave_item(psp: str, ref: str, value: int, success: str) -> dict[str, Any]:
    item: dict[str, Any] = {"pspReference": psp, "originalReference": "", "merchantAccountCode": "m",
                            "merchantReference": ref, "eventCode": "AUTHORISATION",
                            "success": success, "amount": {"value": value, "currency": "EUR"},
                            "additionalData": {}}
    item["additionalData"]["hmacSignature"] = signing.sign_paywave_item(SECRET["paywave"], item)
    return item


@given(psp=st.text(min_size=1, max_size=8), ref=st.text(max_size=8), value=st.integers(0, 10**9),
       success=st.sampled_from(["true", "false"]), field=st.sampled_from(PAYWAVE_SIGNED),
       other=st.text(min_size=1, max_size=8))
def test_paywave_items_are_accepted_and_a_changed_signed_field_is_refused(
        psp, ref, value, success, field, other):
    item = paywave_item(psp, ref, value, success)
    body = json.dumps({"notificationItems": [{"NotificationRequestItem": item}]}).encode()
    assert w.verify_paywave(SECRET["paywave"], body) == [item]
    assert refused("paywave", OTHER["paywave"], body, {}, NOW)

    changed = json.loads(body)
    target = changed["notificationItems"][0]["NotificationRequestItem"]
    if field in ("value", "currency"):
        target["amount"][field] = value + 1 if field == "value" else "USD"
    else:
        target[field] = target[field] + other
    assert refused("paywave", SECRET["paywave"], json.dumps(changed).encode(), {}, NOW)


@pytest.mark.parametrize("dialect", sorted(HEADERS))
@given(body=st.binary(max_size=64), values=st.lists(LATIN1, min_size=3, max_size=3))
def test_any_headers_and_bytes_are_refused_with_a_signature_error(dialect, body, values):
    """Forged deliveries never raise anything else: the route answers 401, not 500."""
    headers = dict(zip(HEADERS[dialect], values, strict=False))
    assert refused(dialect, SECRET[dialect], body, headers, now_for(dialect))


def test_examples_that_once_raised_something_else_or_passed_a_check():
    """Each was a 500 (or a skipped freshness check) before the verifier was fixed."""
    body = b'{"type": "x"}'
    assert refused("acme", SECRET["acme"], b"\x80", signing.sign_standard(
        SECRET["acme"], "evt_1", body, time.time()), time.time())  # UnicodeDecodeError
    assert refused("chainpay", SECRET["chainpay"], body, {"btcpay-sig": "sha256=\x80"}, NOW)
    assert refused("globex", SECRET["globex"], body,
                   {"x-globex-signature": f"t={int(NOW)},v1=\xe9"}, NOW)  # TypeError
    with pytest.raises(w.SignatureError, match="outside tolerance"):
        w._fresh("nan", NOW, w.TOLERANCE_S)  # float("nan") parses, and compared as fresh


# The mocks' own verifiers (``mocks.apps.signing``), offered to integrators: the same promise.
MOCK_VERIFY: dict[str, Callable[[str, bytes, list[str]], Any]] = {
    "acme": lambda s, b, v: signing.verify_acme(s, b, dict(zip(HEADERS["acme"], v, strict=True))),
    "globex": lambda s, b, v: signing.verify_globex(s, b, v[0], now=NOW),
    "openbank": lambda s, b, v: signing.verify_openbank(
        s, b, dict(zip(HEADERS["openbank"], v[:2], strict=True)), now=NOW),
    "chainpay": lambda s, b, v: signing.verify_chainpay(s, b, v[0]),
    "paywave": lambda s, b, v: signing.verify_paywave(s, b),
    "verifyme": lambda s, b, v: signing.verify_verifyme(
        s, b, {"x-payload-digest": v[0], "x-payload-digest-alg": v[1]}),
}


@pytest.mark.parametrize("dialect", sorted(MOCK_VERIFY))
@given(body=st.binary(max_size=64), values=st.lists(LATIN1, min_size=3, max_size=3))
def test_the_mocks_verifiers_refuse_any_forgery_with_a_signature_error(dialect, body, values):
    with pytest.raises(signing.SignatureError):
        MOCK_VERIFY[dialect](SECRET.get(dialect, "verifyme_sandbox_secret"), body, values)
