"""Provider clients and webhook verification against the REAL mock apps, in-process.

Each dialect: a deposit request becomes a canonical reply; a declined magic card gets the
right canonical category; the mock's signed webhook is accepted, and a one-byte change,
a wrong secret and a stale timestamp are rejected. Transport faults are scripted with
``httpx.MockTransport``.
"""

from __future__ import annotations

import asyncio
import base64
import time

import httpx
import pytest

from mocks.apps.signing import sign_globex, sign_openbank, sign_standard
from tests.integration.mock_harness import QUIET, make
from wallet.adapters.providers import Card, PaymentRequest, client_for
from wallet.adapters.webhooks import Replayed, ReplayGuard, SignatureError, receive
from wallet.domain.commands import CreditDeposit
from wallet.domain.payments import (
    DepositRequested,
    PostToLedger,
    ProviderFailed,
    ProviderReplied,
    ProviderTimedOut,
    StatusPolled,
    attempt_key,
    canonical,
    start,
    transition,
)

KEYS = {"acme": "sk_test_acme", "globex": "gk_test_globex", "paywave": "ws_test:paywave",
        "openbank": "ob_test_token", "chainpay-btc": "cp_test_token"}
VISA = Card("4111111111111111", holder_name="Jo Player")


def flip(body: bytes) -> bytes:
    return body[:-2] + bytes([body[-2] ^ 1]) + body[-1:]


def req(pid: str = "dep-1", *, card: Card | None = VISA, method: str = "card",
        amount: int = 2500, operation: str = "deposit") -> PaymentRequest:
    return PaymentRequest(pid, attempt_key(pid, 1), "u1", amount, "EUR", method,
                          "http://wallet/hooks", operation, "DE", card, "Jo Player", "DE00")


def client(name: str, app: object):
    return client_for(name, "http://mock", api_key=KEYS[name],
                      transport=httpx.ASGITransport(app=app), sleep=_no_sleep)


async def _no_sleep(_: float) -> None:
    return None


def test_acme_deposit_webhooks_credit_once_and_signatures_hold():
    async def main() -> None:
        app, _, wallet = make("acme", {**QUIET, "approval_rate": 1.0,
                                       "three_ds": {"challenge_probability": 0}})
        ctx = app.state.mock
        c = client("acme", app)
        reply = await c.create(req(), 1)
        assert isinstance(reply, ProviderReplied) and reply.outcome == "approved"
        assert reply.provider_ref.startswith("pay_")
        polled = await c.inquire(reply.provider_ref, req(), 1)
        assert polled == StatusPolled("approved", reply.provider_ref)
        replayed = await c.inquire(None, req(), 1)  # no ref: same key replays the first answer
        assert replayed.provider_ref == reply.provider_ref and replayed.outcome == "approved"
        await ctx.dispatcher.drain()
        events = [ev for r in wallet.received
                  for ev in receive("acme", ctx.secret, r.body, r.headers, now=time.time())]
        assert [e.type for e in events] == ["payment.processing", "payment.succeeded"]
        assert {e.reference for e in events} == {"dep-1"}
        p, _ = start(DepositRequested("dep-1", "u1", 2500, "EUR", "card", "acme"), 0.0)
        cmds = []
        for ev in [*events, reply, *events]:
            cmds += transition(p, ev, 1.0)[1]
        credits = [c.command for c in cmds if isinstance(c, PostToLedger)]
        assert credits == [CreditDeposit("u1", "acme", "dep-1", 2500, "EUR")]
        rec = wallet.received[-1]
        with pytest.raises(SignatureError):
            receive("acme", ctx.secret, flip(rec.body), rec.headers, now=time.time())
        wrong = "whsec_" + base64.b64encode(b"not-the-secret-at-all-xx").decode()
        with pytest.raises(SignatureError):
            receive("acme", wrong, rec.body, rec.headers, now=time.time())
        stale = sign_standard(ctx.secret, rec.headers["webhook-id"], rec.body, time.time() - 600)
        with pytest.raises(SignatureError):
            receive("acme", ctx.secret, rec.body, stale, now=time.time())
        guard = ReplayGuard()
        receive("acme", ctx.secret, rec.body, rec.headers, now=time.time(), guard=guard)
        with pytest.raises(Replayed):
            receive("acme", ctx.secret, rec.body, rec.headers, now=time.time(), guard=guard)
        await c.aclose()

    asyncio.run(main())


@pytest.mark.parametrize(("pan", "code", "category"), [
    ("4000000000009995", "insufficient_funds", "soft"),
    ("4000000000000002", "do_not_honor", "soft"),
    ("4000000000009979", "stolen_card", "fraud"),
    ("4000000000000069", "expired_card", "hard"),
    ("4000000000000119", "processing_error", "technical"),
])
def test_acme_magic_cards_map_to_the_canonical_category(pan, code, category):
    async def main() -> None:
        app, _, _ = make("acme", QUIET)
        c = client("acme", app)
        reply = await c.create(req(card=Card(pan)), 1)
        assert isinstance(reply, ProviderReplied) and reply.outcome == "declined"
        assert reply.decline_code == code and canonical(code).category == category
        await c.aclose()

    asyncio.run(main())


def test_globex_superseded_failure_keeps_its_sequence_zero():
    """globex has no superseded flag: its sequence, 0 for the superseded attempt's failure,
    is what tells the wallet the failure is older than the success."""
    async def main() -> None:
        app, _, wallet = make("globex", {**QUIET, "approval_rate": 1.0,
                                         "three_ds": {"challenge_probability": 0},
                                         "webhooks": {**QUIET["webhooks"], "reorder_probability": 1.0}})
        ctx = app.state.mock
        c = client("globex", app)
        assert (await c.create(req(), 1)).outcome == "approved"
        await ctx.dispatcher.drain()
        events = [ev for rec in wallet.received
                  for ev in receive("globex", ctx.secret, rec.body, rec.headers, now=time.time())]
        assert [(ev.type, ev.sequence) for ev in events][-1] == ("payment.failed", 0)
        assert ("payment.succeeded", 2) in [(ev.type, ev.sequence) for ev in events]
        await c.aclose()

    asyncio.run(main())


def test_globex_iso_codes_and_stripe_like_signature():
    async def main() -> None:
        app, _, wallet = make("globex", {**QUIET, "approval_rate": 0.0,
                                         "decline_mix": {"gambling_mcc_blocked": 1.0},
                                         "three_ds": {"challenge_probability": 0}})
        ctx = app.state.mock
        c = client("globex", app)
        reply = await c.create(req(), 1)
        assert isinstance(reply, ProviderReplied)
        assert (reply.outcome, reply.raw_code, reply.decline_code) == (
            "declined", "57", "gambling_mcc_blocked")
        assert canonical(reply.decline_code).category == "hard"
        await ctx.dispatcher.drain()
        now = time.time()
        rec = wallet.received[-1]
        [ev] = receive("globex", ctx.secret, rec.body, rec.headers, now=now)
        assert (ev.type, ev.reference, ev.data["decline_code"], ev.data["amount"]) == (
            "payment.failed", "dep-1", "gambling_mcc_blocked", 2500)
        with pytest.raises(SignatureError):
            receive("globex", ctx.secret, flip(rec.body), rec.headers, now=now)
        with pytest.raises(SignatureError):
            receive("globex", "wrong", rec.body, rec.headers, now=now)
        with pytest.raises(SignatureError):
            receive("globex", ctx.secret, rec.body, rec.headers, now=now + 301)
        old = sign_globex(ctx.secret, rec.body, now - 400)
        with pytest.raises(SignatureError):
            receive("globex", ctx.secret, rec.body, old, now=now)
        await c.aclose()

    asyncio.run(main())


def test_paywave_redirect_and_batched_notifications():
    async def main() -> None:
        app, _, wallet = make("paywave", {**QUIET, "kind": "ewallet", "approval_rate": 1.0,
                                          "ewallet": {"abandon_probability": 0}})
        ctx = app.state.mock
        c = client("paywave", app)
        reply = await c.create(req(card=None, method="ewallet", amount=1500), 1)
        assert isinstance(reply, ProviderReplied) and reply.outcome == "pending"
        assert reply.redirect_url and reply.provider_ref.startswith("ew_")
        await ctx.dispatcher.drain()
        events = [ev for r in wallet.received
                  for ev in receive("paywave", ctx.secret, r.body, r.headers, now=time.time())]
        assert [e.type for e in events] == ["payment.pending", "payment.succeeded"]
        rec = wallet.received[-1]
        tampered = rec.body.replace(b'"value":1500', b'"value":1501')
        assert tampered != rec.body
        with pytest.raises(SignatureError):
            receive("paywave", ctx.secret, tampered, rec.headers, now=time.time())
        with pytest.raises(SignatureError):
            receive("paywave", "00" * 32, rec.body, rec.headers, now=time.time())
        await c.aclose()

    asyncio.run(main())


def test_openbank_deposit_consent_and_payout_webhooks():
    async def main() -> None:
        app, _, wallet = make("openbank", {**QUIET, "kind": "bank", "approval_rate": 1.0,
                                           "bank": {"consent_abandon_probability": 0}})
        ctx = app.state.mock
        c = client("openbank", app)
        dep = await c.create(req("dep-2", card=None, method="bank"), 1)
        assert isinstance(dep, ProviderReplied) and dep.outcome == "pending"
        assert dep.redirect_url and "consent" in dep.redirect_url
        po = await c.create(req("wd-1", card=None, method="bank", amount=10_050,
                                operation="payout"), 1)
        assert isinstance(po, ProviderReplied) and po.outcome == "pending"
        await ctx.dispatcher.drain()
        now = time.time()
        events = [ev for r in wallet.received
                  for ev in receive("openbank", ctx.secret, r.body, r.headers, now=now)]
        by_ref = {(e.reference, e.type) for e in events}
        assert {("dep-2", "payment.succeeded"), ("wd-1", "payout.paid")} <= by_ref
        rec = wallet.received[-1]
        with pytest.raises(SignatureError):
            receive("openbank", ctx.secret, flip(rec.body), rec.headers, now=now)
        with pytest.raises(SignatureError):
            receive("openbank", "wrong", rec.body, rec.headers, now=now)
        stale = sign_openbank(ctx.secret, rec.body, now - 900)
        with pytest.raises(SignatureError):
            receive("openbank", ctx.secret, rec.body, stale, now=now)
        await c.aclose()

    asyncio.run(main())


def test_chainpay_invoice_quote_and_confirmations_credit_through_the_machine():
    async def main() -> None:
        app, _, wallet = make("chainpay-btc", {**QUIET, "kind": "crypto", "chain": {
            "asset": "BTC", "block_time_s": 600, "block_time_kind": "fixed",
            "confirmations_required": 2, "rate": {"EUR": "60000"}, "abandon_probability": 0,
            "late_probability": 0, "underpay_probability": 0, "overpay_probability": 0,
            "reorg_probability": 0, "double_spend_probability": 0}})
        ctx = app.state.mock
        c = client("chainpay-btc", app)
        reply = await c.create(req("c-1", card=None, method="crypto", amount=3000), 1)
        assert isinstance(reply, ProviderReplied) and reply.outcome == "pending"
        assert (reply.confirmations_required, reply.amount_due) == (2, 50_000)
        await ctx.dispatcher.drain()
        events = [ev for r in wallet.received
                  for ev in receive("chainpay-btc", ctx.secret, r.body, r.headers, now=0.0)]
        assert [e.type for e in events] == ["invoice.payment_seen", "invoice.confirmed",
                                            "invoice.settled"]
        p, _ = start(DepositRequested("c-1", "u1", 3000, "EUR", "crypto", "chainpay-btc"), 0.0)
        credits = []
        for ev in [reply, *events]:
            credits += [c.command for c in transition(p, ev, 1.0)[1]
                        if isinstance(c, PostToLedger)]
        assert credits == [CreditDeposit("u1", "chainpay-btc", "c-1", 3000, "EUR")]
        rec = wallet.received[0]
        with pytest.raises(SignatureError):
            receive("chainpay-btc", ctx.secret, flip(rec.body), rec.headers, now=0.0)
        with pytest.raises(SignatureError):
            receive("chainpay-btc", "wrong", rec.body, rec.headers, now=0.0)
        await c.aclose()

    asyncio.run(main())


# --- transport faults, scripted -----------------------------------------------------------------

def scripted(*answers: object) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        a = queue.pop(0)
        if isinstance(a, Exception):
            raise a
        return a  # type: ignore[return-value]

    return httpx.MockTransport(handler), seen


OK = {"id": "pay_1", "status": "succeeded", "decline_code": None}


@pytest.mark.parametrize(("answers", "expected", "calls"), [
    ([httpx.Response(503), httpx.Response(429), httpx.Response(201, json=OK)], "approved", 3),
    ([httpx.Response(503)] * 3, ProviderFailed, 3),
    ([httpx.ConnectError("refused")] * 3, ProviderFailed, 3),
    ([httpx.Response(400, json={"error": "invalid"})], ProviderFailed, 1),
    ([httpx.ReadTimeout("slow")], ProviderTimedOut, 1),
    ([httpx.RemoteProtocolError("reset")], ProviderTimedOut, 1),
    ([httpx.Response(500)], ProviderTimedOut, 1),
    ([httpx.Response(409)], ProviderTimedOut, 1),
    ([httpx.Response(200, content=b"")], ProviderTimedOut, 1),
    ([httpx.Response(200, content=b'{"status": "succ<html>')], ProviderTimedOut, 1),
    ([httpx.Response(200, json={"id": "x", "status": "weird"})], ProviderTimedOut, 1),
])
def test_transport_faults_map_to_events_and_retries_keep_the_key(answers, expected, calls):
    async def main() -> None:
        transport, seen = scripted(*answers)
        c = client_for("acme", "http://acme", api_key="k", transport=transport, sleep=_no_sleep)
        reply = await c.create(req(), 1)
        if isinstance(expected, str):
            assert isinstance(reply, ProviderReplied) and reply.outcome == expected
        else:
            assert isinstance(reply, expected)
        assert len(seen) == calls
        assert {r.headers["Idempotency-Key"] for r in seen} == {"dep-1-a1"}
        await c.aclose()

    asyncio.run(main())
