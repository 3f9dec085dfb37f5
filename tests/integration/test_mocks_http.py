"""Every dialect over HTTP: requests, responses and signed webhooks round-trip, and
the server gives the same outcomes as the model for the same seed."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest

from mocks.apps.base import tokenise
from mocks.apps.signing import (
    SignatureError,
    sign_globex,
    sign_openbank,
    sign_standard,
    verify_acme,
    verify_chainpay,
    verify_globex,
    verify_openbank,
    verify_paywave,
    verify_verifyme,
)
from mocks.models import FaultProfile, PaymentRequest, ProviderRuntime
from sandbox.randomness import Dice
from tests.integration.mock_harness import QUIET, make

ACME_AUTH = {"Authorization": "Bearer sk_test_acme"}
PAN = "4111111111111111"


def acme_body(ref: str, amount: int = 2500, pan: str = PAN, holder: str = "Jo Player") -> dict:
    return {"amount": amount, "currency": "EUR", "reference": ref,
            "customer": {"id": "u1", "country": "DE"},
            "payment_method": {"type": "card", "card": {"number": pan, "exp_month": 12,
                                                        "exp_year": 2030, "cvc": "123",
                                                        "holder_name": holder}},
            "callback_url": "http://wallet/hooks/acme"}


def flip(body: bytes) -> bytes:
    return body[:-2] + bytes([body[-2] ^ 1]) + body[-1:]


def test_server_and_model_agree_for_the_same_seed():
    profile = FaultProfile.model_validate({"errors": {"http_5xx": 0.05, "http_429": 0.05,
                                                      "reset": 0, "empty": 0.03,
                                                      "malformed": 0.03}})

    async def main() -> None:
        app, client, _ = make("acme", profile, seed=77)
        model = ProviderRuntime("acme", profile, Dice(77))
        secret = app.state.mock.secret
        for i in range(200):
            r = await client.post("/v1/payments", json=acme_body(f"dep-{i}"),
                                  headers={**ACME_AUTH, "Idempotency-Key": f"key-{i}"})
            expected = model.handle(PaymentRequest(
                f"dep-{i}", f"key-{i}", "u1", 2500, "EUR", "card", "http://wallet/hooks/acme",
                country="DE", card=tokenise(PAN, secret, holder_name="Jo Player")), 0.0)
            if expected.fault == "http_5xx":
                assert r.status_code == 503
            elif expected.fault == "http_429":
                assert r.status_code == 429
            elif expected.fault == "empty":
                assert r.status_code == 200 and r.content == b""
            elif expected.fault == "malformed":
                with pytest.raises(json.JSONDecodeError):
                    r.json()
            else:
                body = r.json()
                assert body["id"] == expected.provider_ref
                assert (body["status"], body["decline_code"]) == (
                    {"approved": "succeeded", "declined": "declined",
                     "pending": "requires_action"}[expected.outcome],
                    expected.decline_code if expected.outcome == "declined" else None)
                assert float(r.headers["X-Mock-Latency"]) == pytest.approx(expected.latency,
                                                                          abs=1e-6)
        await client.aclose()

    asyncio.run(main())


def test_acme_round_trip_idempotency_and_standard_webhooks():
    async def main() -> None:
        app, client, wallet = make("acme", {**QUIET, "approval_rate": 1.0,
                                            "three_ds": {"challenge_probability": 0}})
        ctx = app.state.mock
        h = {**ACME_AUTH, "Idempotency-Key": "k-1"}
        first = await client.post("/v1/payments", json=acme_body("dep-1"), headers=h)
        assert first.status_code == 201 and first.json()["status"] == "succeeded"
        again = await client.post("/v1/payments", json=acme_body("dep-1"), headers=h)
        assert again.json() == first.json()
        changed = await client.post("/v1/payments", json=acme_body("dep-1", 9999), headers=h)
        assert changed.status_code == 422
        missing = await client.post("/v1/payments", json=acme_body("dep-2"), headers=ACME_AUTH)
        assert missing.status_code == 400
        unauth = await client.post("/v1/payments", json=acme_body("dep-3"),
                                   headers={"Idempotency-Key": "k-3"})
        assert unauth.status_code == 401
        await ctx.dispatcher.drain()
        types = []
        for rec in wallet.received:
            payload = verify_acme(ctx.secret, rec.body, rec.headers)
            assert rec.headers["webhook-id"] == payload["id"]
            assert payload["data"]["reference"] == "dep-1"
            types.append(payload["type"])
        assert types == ["payment.processing", "payment.succeeded"]
        rec = wallet.received[-1]
        with pytest.raises(SignatureError):
            verify_acme(ctx.secret, flip(rec.body), rec.headers)
        wrong = "whsec_" + base64.b64encode(b"not-the-secret-at-all-xx").decode()
        with pytest.raises(SignatureError):
            verify_acme(wrong, rec.body, rec.headers)
        stale = sign_standard(ctx.secret, "evt_x", rec.body, time.time() - 600)
        with pytest.raises(SignatureError):
            verify_acme(ctx.secret, rec.body, stale)
        polled = await client.get(f"/v1/payments/{first.json()['id']}", headers=ACME_AUTH)
        assert polled.json()["status"] == "succeeded"
        await client.aclose()

    asyncio.run(main())


def test_pan_and_cvc_never_leave_the_edge():
    async def main() -> None:
        app, client, wallet = make("acme", QUIET)
        h = {**ACME_AUTH, "Idempotency-Key": "k-pan"}
        r = await client.post("/v1/payments", json=acme_body("dep-pan"), headers=h)
        bad = acme_body("dep-bad", pan="4111111111111112")  # fails Luhn
        r2 = await client.post("/v1/payments", json=bad, headers={**h, "Idempotency-Key": "b"})
        bad_cvc = acme_body("dep-cvc")
        bad_cvc["payment_method"]["card"]["cvc"] = "12x"
        r3 = await client.post("/v1/payments", json=bad_cvc,
                               headers={**h, "Idempotency-Key": "c"})
        assert r2.status_code == 400 and r3.status_code == 400
        await app.state.mock.dispatcher.drain()
        ctx = app.state.mock
        everything = (r.text + r2.text + r3.text + repr(ctx.runtime.records.decisions())
                      + repr(ctx.runtime.records.settlement(1e9))
                      + "".join(x.body.decode() for x in wallet.received))
        assert PAN not in everything and "4111111111111112" not in everything
        assert "12x" not in r3.text
        assert "411111" in everything and "1111" in everything  # BIN + last 4 are fine
        await client.aclose()

    asyncio.run(main())


def test_globex_form_request_decimal_amounts_and_stripe_like_signature():
    async def main() -> None:
        app, client, wallet = make("globex", {**QUIET, "approval_rate": 0.0,
                                              "decline_mix": {"insufficient_funds": 1.0},
                                              "three_ds": {"challenge_probability": 0}})
        ctx = app.state.mock
        form = {"merchant_ref": "g-1", "customer_id": "u9", "amount": "25.00", "currency": "EUR",
                "card[number]": PAN, "card[cvv]": "123", "notify_url": "http://wallet/g"}
        r = await client.post("/api/charge", data=form, headers={"X-Globex-Key": "gk_test_globex"})
        body = r.json()
        assert body["result"] == {"code": "DECLINED", "reason": "51",
                                  "message": "Insufficient funds"}
        assert body["transaction"]["amount"] == "25.00"
        assert body["transaction"]["card"]["masked"] == "411111******1111"
        replay = await client.post("/api/charge", data=form,
                                   headers={"X-Globex-Key": "gk_test_globex"})
        assert replay.json() == body  # dedupes on merchant_ref
        bad = await client.post("/api/charge", data={**form, "amount": "25.001"},
                                headers={"X-Globex-Key": "gk_test_globex"})
        assert bad.status_code in (400, 422)
        await ctx.dispatcher.drain()
        rec = wallet.received[-1]
        payload = verify_globex(ctx.secret, rec.body, rec.headers["x-globex-signature"])
        assert payload["transaction"]["status"] == "DECLINED"
        assert payload["transaction"]["reason"] == "51"
        header = rec.headers["x-globex-signature"]
        with pytest.raises(SignatureError):
            verify_globex(ctx.secret, flip(rec.body), header)
        with pytest.raises(SignatureError):
            verify_globex("wrong", rec.body, header)
        old = sign_globex(ctx.secret, rec.body, time.time() - 301)["X-Globex-Signature"]
        with pytest.raises(SignatureError):
            verify_globex(ctx.secret, rec.body, old)
        verify_globex(ctx.secret, rec.body, old, now=time.time() - 300)  # inside tolerance then
        await client.aclose()

    asyncio.run(main())


def test_paywave_redirect_and_batched_hmac_notifications():
    async def main() -> None:
        app, client, wallet = make("paywave", {**QUIET, "kind": "ewallet", "approval_rate": 1.0,
                                               "ewallet": {"abandon_probability": 0}})
        ctx = app.state.mock
        auth = {"Authorization": "Basic " + base64.b64encode(b"ws_test:paywave").decode()}
        r = await client.post("/checkout/sessions", headers=auth, json={
            "merchantAccount": "Casino", "merchantReference": "pw-1", "shopperReference": "u1",
            "amount": {"value": 1500, "currency": "EUR"},
            "notificationUrl": "http://wallet/pw"})
        body = r.json()
        assert body["resultCode"] == "RedirectShopper" and body["action"]["type"] == "redirect"
        await ctx.dispatcher.drain()
        items = [i for rec in wallet.received for i in verify_paywave(ctx.secret, rec.body)]
        assert [(i["eventCode"], i["success"]) for i in items] == [("PENDING", "true"),
                                                                   ("AUTHORISATION", "true")]
        assert all(i["pspReference"] == body["pspReference"] for i in items)
        rec = wallet.received[-1]
        with pytest.raises(SignatureError):
            verify_paywave(ctx.secret, rec.body.replace(b'"value":1500', b'"value":1501'))
        with pytest.raises(SignatureError):
            verify_paywave("00" * 32, rec.body)
        await client.aclose()

    asyncio.run(main())


def test_openbank_payout_and_signed_webhooks():
    async def main() -> None:
        app, client, wallet = make("openbank", {**QUIET, "kind": "bank", "approval_rate": 1.0})
        ctx = app.state.mock
        env = {"data": {"type": "payout", "attributes": {
            "amount": {"value": "100.50", "currency": "EUR"}, "end_to_end_id": "po-1",
            "party": {"id": "u1", "name": "Jo", "iban": "DE00"},
            "webhook_url": "http://wallet/ob"}}}
        headers = {"Authorization": "Bearer ob_test_token", "X-Idempotency-Key": "po-1"}
        r = await client.post("/v1/payouts", json=env, headers=headers)
        assert r.status_code == 201
        assert r.json()["data"]["attributes"]["amount"] == {"value": "100.50", "currency": "EUR"}
        await ctx.dispatcher.drain()
        statuses = [verify_openbank(ctx.secret, rec.body, rec.headers)["resource"]["status"]
                    for rec in wallet.received]
        assert statuses == ["PENDING", "EXECUTED"]
        rec = wallet.received[-1]
        with pytest.raises(SignatureError):
            verify_openbank(ctx.secret, flip(rec.body), rec.headers)
        with pytest.raises(SignatureError):
            verify_openbank("wrong", rec.body, rec.headers)
        with pytest.raises(SignatureError):
            verify_openbank(ctx.secret, rec.body, sign_openbank(ctx.secret, rec.body,
                                                                time.time() - 900))
        await client.aclose()

    asyncio.run(main())


def test_chainpay_invoice_settles_with_confirmations():
    async def main() -> None:
        app, client, wallet = make("chainpay-eth", {**QUIET, "kind": "crypto", "chain": {
            "asset": "ETH", "block_time_s": 12, "block_time_kind": "fixed",
            "confirmations_required": 3, "rate": {"EUR": "3000"}, "abandon_probability": 0,
            "late_probability": 0, "underpay_probability": 0, "overpay_probability": 0,
            "reorg_probability": 0, "double_spend_probability": 0}})
        ctx = app.state.mock
        r = await client.post("/api/v1/stores/casino/invoices",
                               headers={"Authorization": "token cp_test_token"},
                               json={"amount": "30.00", "currency": "EUR",
                                     "metadata": {"orderId": "c-1", "buyerId": "u1"},
                                     "notificationUrl": "http://wallet/cp"})
        inv = r.json()
        assert inv["status"] == "New"
        assert inv["paymentMethods"][0]["due"] == "0.010000000000000000"
        await ctx.dispatcher.drain()
        payloads = [verify_chainpay(ctx.secret, rec.body, rec.headers["btcpay-sig"])
                    for rec in wallet.received]
        assert [p["type"] for p in payloads] == ["InvoiceReceivedPayment", "InvoiceProcessing",
                                                 "InvoiceSettled"]
        with pytest.raises(SignatureError):
            verify_chainpay(ctx.secret, flip(wallet.received[0].body),
                            wallet.received[0].headers["btcpay-sig"])
        await client.aclose()

    asyncio.run(main())


def test_verifyme_kyc_rejects_minor_with_signed_result():
    async def main() -> None:
        app, client, wallet = make("verifyme", {**QUIET, "kind": "kyc"})
        ctx = app.state.mock
        r = await client.post("/resources/applicants", headers={"X-App-Token": "vm_test_token"},
                              json={"externalUserId": "kid-1",
                                    "info": {"dob": "2015-01-01", "country": "DE"},
                                    "webhookUrl": "http://wallet/kyc"})
        assert r.status_code == 201
        await ctx.dispatcher.drain()
        last = verify_verifyme(ctx.secret, wallet.received[-1].body, wallet.received[-1].headers)
        assert last["reviewResult"] == {"reviewAnswer": "RED", "rejectLabels": ["UNDERAGE"]}
        with pytest.raises(SignatureError):
            verify_verifyme("wrong", wallet.received[-1].body, wallet.received[-1].headers)
        await client.aclose()

    asyncio.run(main())
