"""The mock providers' request endpoints, fed any body by an authenticated client: with
their random faults off, an answer is a 2xx or a 4xx, never a 5xx (a 5xx from a mock must
always be an injected fault, or a load test would blame the wallet for the mock's bug)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mocks.apps.server import API_KEYS
from tests.integration.fuzz_values import json_values
from tests.integration.mock_harness import QUIET, make

# dialect -> (kind, path, auth headers, a valid body to mutate)
ENDPOINTS: dict[str, tuple[str, str, dict[str, str], dict[str, Any]]] = {
    "acme": ("card", "/v1/payments", {"Authorization": f"Bearer {API_KEYS['acme']}"},
             {"amount": 2500, "currency": "EUR", "reference": "r1",
              "customer": {"id": "u1", "country": "DE"},
              "payment_method": {"type": "card", "card": {"number": "4111111111111111",
                                                          "exp_month": 12, "exp_year": 2030,
                                                          "cvc": "123"}}}),
    "globex": ("card", "/api/charge", {"X-Globex-Key": API_KEYS["globex"]},
               {"merchant_ref": "r1", "customer_id": "u1", "amount": "25.00", "currency": "eur",
                "card[number]": "4111111111111111", "card[cvv]": "123"}),
    "paywave": ("ewallet", "/checkout/sessions",
                {"Authorization": "Basic " + base64.b64encode(API_KEYS["paywave"].encode()).decode()},
                {"merchantAccount": "m", "merchantReference": "r1", "shopperReference": "u1",
                 "amount": {"value": 2500, "currency": "EUR"}, "countryCode": "DE"}),
    "openbank": ("bank", "/v1/payment-requests",
                 {"Authorization": f"Bearer {API_KEYS['openbank']}", "X-Idempotency-Key": "k1"},
                 {"data": {"type": "payment-requests", "attributes": {
                     "end_to_end_id": "r1", "amount": {"value": "25.00", "currency": "EUR"},
                     "party": {"id": "u1"}, "country": "DE"}}}),
    "chainpay": ("crypto", "/api/v1/stores/s1/invoices",
                 {"Authorization": f"token {API_KEYS['chainpay']}"},
                 {"amount": "25.00", "currency": "EUR", "metadata": {"orderId": "r1", "buyerId": "u1"}}),
    "verifyme": ("kyc", "/resources/applicants", {"X-App-Token": API_KEYS["verifyme"]},
                 {"externalUserId": "u1", "info": {"country": "DE", "dob": "1990-01-01"}}),
}


@st.composite
def bodies(draw: st.DrawFn, dialect: str) -> tuple[bytes, str]:
    valid = ENDPOINTS[dialect][3]
    how = draw(st.sampled_from(["field", "field", "drop", "shape", "bytes"]))
    body: Any = json.loads(json.dumps(valid))
    if how == "field":
        name = draw(st.sampled_from(sorted(body)))
        body[name] = draw(json_values)
    elif how == "drop":
        body.pop(draw(st.sampled_from(sorted(body))))
    elif how == "shape":
        body = draw(json_values)
    if how == "bytes":
        return draw(st.binary(max_size=80)), "application/json"
    if dialect == "globex":  # a form post, as Stripe's API takes
        if not isinstance(body, dict):
            return json.dumps(body).encode(), "application/x-www-form-urlencoded"
        form = "&".join(f"{k}={v}" for k, v in body.items() if not isinstance(v, dict | list))
        return form.encode(), "application/x-www-form-urlencoded"
    return json.dumps(body).encode(), "application/json"


@pytest.mark.parametrize("dialect", sorted(ENDPOINTS))
def test_any_request_body_gets_a_2xx_or_a_4xx(dialect):
    kind, path, auth, _ = ENDPOINTS[dialect]
    _, client, _ = make(dialect, {"kind": kind, **QUIET})

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(case=bodies(dialect), key=st.text(st.characters(min_codepoint=33, max_codepoint=126),
                                               min_size=1, max_size=20))
    def check(case: tuple[bytes, str], key: str) -> None:
        raw, content_type = case
        headers = {**auth, "Content-Type": content_type, "Idempotency-Key": key}
        r = asyncio.run(client.post(path, content=raw, headers=headers))
        assert r.status_code < 500, (dialect, raw, r.status_code, r.text)

    check()
