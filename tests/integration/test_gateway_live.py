"""The gateway's races over real HTTP: the wallet and the mock providers each under uvicorn,
webhooks signed by the mocks and verified by the wallet, timers fired by the sweeper.

Every test ends on the wallet's own invariants (balanced ledger, stored balances equal to
the postings, an unbroken audit chain covering every transaction). Model times below are
mock seconds: at TIME_SCALE 1000, ``fixed(300)`` is 0.3 s of wall time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mocks.apps.signing import sign_globex
from tests.integration.gateway_harness import (
    Stack,
    acme_webhook,
    mock_event_id,
    mock_ref,
    profile,
    secret,
    stack,
)
from wallet.adapters.memory import MemoryStore
from wallet.domain.payments.model import Policy

APPROVE = {"kind": "card", "approval_rate": 1.0, "three_ds": {"challenge_probability": 0}}
DECLINE = {"kind": "card", "approval_rate": 0.0, "three_ds": {"challenge_probability": 0}}


def fixed(seconds: float) -> dict[str, Any]:
    return {"kind": "fixed", "value": seconds}


def three_ds(challenge: float, **over: Any) -> dict[str, Any]:
    """3-D Secure on every acme payment; the cardholder answers after ``challenge`` model
    seconds. Webhooks take 50 s, so the reply is handled before 'requires_action' lands."""
    return {**APPROVE, "three_ds": {"challenge_probability": 1.0,
                                    "challenge_time": fixed(challenge)},
            "webhooks": {"delay": fixed(50)}, **over}


LOST = {"loss_probability": 1.0}  # every webhook of the provider is lost: the wallet must poll


@pytest.fixture
def mem():
    return MemoryStore()


# --- journal helpers ---------------------------------------------------------------------------

def entries(journal: list[dict[str, Any]], event: str, type_: str | None = None) -> list[dict]:
    return [j for j in journal if j["event"] == event
            and (type_ is None or j["detail"].get("type") == type_)]


def anomalies(journal: list[dict[str, Any]]) -> list[str]:
    return [kind for j in journal for kind, _ in j["anomalies"]]


def credits(journal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries whose transition posted to the ledger while moving into SUCCEEDED."""
    return [j for j in journal if "PostToLedger" in j["commands"] and j["state_to"] == "succeeded"]


def late_processing(journal: list[dict[str, Any]], provider: str) -> None:
    """The only anomaly a synchronously approved card payment may carry. The mock creates
    'payment.processing' at the instant it answers: when the webhook lands after the
    reply has credited, it is older news, flagged ``stale_event``; when it beats the reply
    (a loaded machine), it just moves the payment to PENDING, unflagged."""
    [processing] = entries(journal, "WebhookReceived", "payment.processing")
    assert processing["detail"]["provider"] == provider
    flagged = [j for j in journal if j["anomalies"]]
    if processing["state_from"] == "succeeded":
        assert flagged == [processing]
        assert processing["anomalies"] == [["stale_event", "payment.processing in succeeded"]]
    else:
        assert (processing["state_from"], processing["state_to"]) == ("authorizing", "pending")
        assert flagged == []


def routes(journal: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    return [(j["detail"]["provider"], j["detail"]["reason"]) for j in entries(journal, "Routed")]


# --- 1. the webhook outruns the API response ---------------------------------------------------

def test_webhook_before_the_api_response_credits_once(mem):
    """acme answers after 0.6 s; its own planned ``payment.succeeded`` event is delivered
    while our call is still in flight (the mock's redelivery of the very same event id).
    The webhook credits, the late reply changes nothing, the planned copy is deduplicated."""
    pf = profile(acme={**APPROVE, "latency": fixed(600), "webhooks": {"delay": fixed(100)}})
    with stack(mem, pf) as s, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(s.deposit, "dep-1")
        ref = mock_ref("acme", "dep-1")
        s.wait(lambda: ref in s.inspect("acme", "records")["authorised"])  # decided, not answered
        succeeded = mock_event_id(ref, "payment.succeeded", 2)
        s.control("acme", f"events/{succeeded}/redeliver")
        s.wait(lambda: s.payment("dep-1")["credited"] == 2500)
        assert not pending.done()  # credited by the webhook while the API call still waits
        r = pending.result()
        assert r.status_code == 201, r.text
        assert r.json()["state"] == "succeeded"
        s.quiet("acme")
        assert s.balance() == 2500
        journal = s.journal("dep-1")
        order = [(j["event"], j["detail"].get("type"), j["state_from"], j["state_to"])
                 for j in journal[3:]]
        assert order == [
            ("WebhookReceived", "payment.succeeded", "authorizing", "succeeded"),
            ("ProviderReplied", None, "succeeded", "succeeded"),
            ("WebhookReceived", "payment.processing", "succeeded", "succeeded"),
        ]
        assert credits(journal) == [journal[3]]
        assert journal[4]["commands"] == []  # the reply posts nothing
        assert anomalies(journal) == ["stale_event"]  # "processing" after the credit
        delivered = Counter(i for d in s.deliveries("acme") for i in d["event_ids"])
        assert delivered[succeeded] == 2  # the early copy and the planned one, applied once
        assert all(d["status"] == 200 for d in s.deliveries("acme"))
        s.assert_invariants()


# --- 2. duplicates, storms, redelivery, concurrent copies --------------------------------------

def test_card_deposit_credited_once_despite_duplicate_webhooks(mem):
    pf = profile(acme={**APPROVE, "webhooks": {"duplicate_probability": 1.0, "duplicate_count": 2,
                                               "reorder_probability": 0}})
    with stack(mem, pf) as s:
        r = s.deposit("dep-1")
        assert r.status_code == 201, r.text
        assert r.json()["state"] == "succeeded"
        s.quiet("acme")
        assert s.balance() == 2500
        applied = [j for j in s.journal("dep-1") if j["event"] == "WebhookReceived"]
        assert len(applied) == 2  # processing + succeeded; the four copies were not applied
        s.assert_invariants()


def test_duplicate_storm_and_redelivery_of_an_applied_event_apply_once(mem):
    pf = profile(acme=APPROVE)
    with stack(mem, pf) as s:
        s.control("acme", "duplicate-storm", {"duplicate_count": 3})
        assert s.deposit("dep-1").json()["state"] == "succeeded"
        s.quiet("acme")
        log = s.deliveries("acme")
        assert len(log) == 8 and len({i for d in log for i in d["event_ids"]}) == 2
        assert {d["status"] for d in log} == {200}  # every copy acknowledged
        journal = s.journal("dep-1")
        applied = {j["detail"]["type"]: j for j in entries(journal, "WebhookReceived")}
        assert len(entries(journal, "WebhookReceived")) == 2  # of the 8 deliveries
        assert set(applied) == {"payment.processing", "payment.succeeded"}
        succeeded = applied["payment.succeeded"]["detail"]["event_id"]
        assert succeeded == mock_event_id(s.ref("dep-1"), "payment.succeeded", 2)
        # An event already applied, delivered again days later by the provider's support desk.
        s.control("acme", f"events/{succeeded}/redeliver")
        s.quiet("acme")
        assert len(s.deliveries("acme")) == 9 and s.deliveries("acme")[-1]["status"] == 200
        assert s.journal("dep-1") == journal  # nothing applied, nothing journaled
        assert s.balance() == 2500
        assert len(credits(journal)) == 1
        s.assert_invariants()


def _race(n: int, post: Any) -> list[Any]:
    """Run ``post(i)`` on n threads released at the same instant."""
    barrier = threading.Barrier(n)

    def go(i: int) -> Any:
        barrier.wait()
        return post(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(go, range(n)))


def test_concurrent_copies_of_one_signed_webhook_credit_once(store):
    """20 threads POST the same ``payment.succeeded`` (the event the mock planned and lost)
    at once: first each copy signed at its own second, so all of them pass the signature
    replay guard and race through the webhook inbox in the store; then 20 byte-identical
    deliveries. Every POST is acknowledged; exactly one credits."""
    n = 20
    pf = profile(acme=three_ds(100_000, webhooks=LOST))  # the cardholder never comes back
    with stack(store, pf) as s:
        assert s.deposit("dep-1").json()["state"] == "pending"
        ref = s.ref("dep-1")
        event_id = mock_event_id(ref, "payment.succeeded", 2)
        now = time.time()
        deliveries = [acme_webhook(event_id, "payment.succeeded", ref, "dep-1", 2, amount=2500,
                                   created=now - 60, timestamp=now - i) for i in range(n)]
        assert len({b for b, _ in deliveries}) == 1  # the same body, signed n times

        resigned = _race(n, lambda i: s.post_webhook("acme", *deliveries[i]))
        assert [r.status_code for r in resigned] == [200] * n, [r.text for r in resigned]
        assert sum(r.json()["applied"] for r in resigned) == 1

        identical = _race(n, lambda i: s.post_webhook("acme", *deliveries[0]))
        assert [r.status_code for r in identical] == [200] * n
        assert sum(r.json()["applied"] for r in identical) == 0

        assert s.payment("dep-1")["state"] == "succeeded"
        assert s.balance() == 2500
        journal = s.journal("dep-1")
        assert len(entries(journal, "WebhookReceived", "payment.succeeded")) == 1
        assert len(credits(journal)) == 1
        s.assert_invariants()


# --- 3. out-of-order webhooks ------------------------------------------------------------------

def test_reordered_webhooks_never_uncredit(mem):
    """Every acme plan is reordered: 'succeeded' first, then the superseded attempt's
    'failed' and the older 'processing'. The credit stands; both are reported as stale."""
    pf = profile(acme={**APPROVE, "webhooks": {"reorder_probability": 1.0,
                                               "duplicate_spread": fixed(100)}})
    with stack(mem, pf) as s:
        assert s.deposit("dep-1").json()["state"] == "succeeded"
        s.quiet("acme")
        journal = s.journal("dep-1")
        hooks = entries(journal, "WebhookReceived")
        assert hooks[0]["detail"]["type"] == "payment.succeeded"  # first delivered ...
        assert {j["detail"]["type"] for j in hooks[1:]} == {"payment.failed",
                                                            "payment.processing"}  # ... then
        assert all(j["state_to"] == "succeeded" for j in hooks)
        assert sorted(anomalies(journal)) == ["stale_event", "stale_event"]
        [failed] = entries(journal, "WebhookReceived", "payment.failed")
        assert failed["detail"]["data"]["superseded"] is True
        assert failed["anomalies"] == [["stale_event", "stale payment.failed (do_not_honor) in succeeded"]]
        assert failed["commands"] == ["FlagAnomaly"]
        [processing] = entries(journal, "WebhookReceived", "payment.processing")
        assert processing["anomalies"] == [["stale_event", "payment.processing in succeeded"]]
        assert len(credits(journal)) == 1
        assert s.payment("dep-1")["credited"] == 2500 and s.balance() == 2500
        s.assert_invariants()


def test_failure_triggered_after_success_is_flagged_and_not_applied(mem):
    pf = profile(acme=APPROVE)
    with stack(mem, pf) as s:
        assert s.deposit("dep-1").json()["state"] == "succeeded"
        s.quiet("acme")
        before = len(s.journal("dep-1"))
        s.control("acme", "trigger", {"type": "payment.failed", "provider_ref": s.ref("dep-1"),
                                      "data": {"decline_code": "do_not_honor"}})
        s.quiet("acme")
        journal = s.journal("dep-1")
        assert len(journal) == before + 1
        last = journal[-1]
        assert (last["event"], last["detail"]["type"]) == ("WebhookReceived", "payment.failed")
        assert (last["state_from"], last["state_to"]) == ("succeeded", "succeeded")
        assert last["commands"] == ["FlagAnomaly"]
        assert last["anomalies"] == [["conflicting_outcome", "do_not_honor (payment.failed, "
                                      "attempt 1) after settlement; credit kept"]]
        assert s.payment("dep-1")["state"] == "succeeded" and s.balance() == 2500
        s.assert_invariants()


# --- 4. timeout, inquiry, late success ---------------------------------------------------------

SLOW_ACME = {**APPROVE, "latency": fixed(800)}  # answers after 0.8 s; the client waits 0.25 s


def _timed_out_then(s: Stack) -> list[tuple[str, str | None, str, str]]:
    """Deposit at the slow acme; check the timeout, the first inquiry and that nothing
    cascaded; return what happened after that first inquiry."""
    r = s.deposit("dep-1")
    assert r.status_code == 201 and r.json()["state"] == "unknown", r.text
    s.wait_state("dep-1", "succeeded", timeout=5)
    s.quiet("acme")
    journal = s.journal("dep-1")
    steps = [(j["event"], j["detail"].get("outcome") or j["detail"].get("type"), j["state_to"],
              ",".join(j["commands"])) for j in journal[3:]]
    assert steps[:3] == [
        ("ProviderTimedOut", None, "unknown", "ScheduleTimeout"),  # outcome unknown: wait
        ("Expired", None, "unknown", "InquireStatus"),  # the sweeper's poll timer: ask
        # a replay of the same key while the first call still runs: 409, still unknown
        ("StatusPolled", "unknown", "unknown", "ScheduleTimeout"),
    ]
    assert len(credits(journal)) == 1 and s.balance() == 2500
    # never cascaded meanwhile: one route, one provider, globex never saw the payment
    assert [p for p, _ in routes(journal)] == ["acme"]
    assert s.payment("dep-1")["tried"] == ["acme"]
    assert s.processed("globex") == {}
    return steps[3:]


def test_timeout_then_inquiry_then_late_success_by_webhook(mem):
    pf = profile(acme=SLOW_ACME, globex=APPROVE)
    with stack(mem, pf, timeout_s=0.25) as s:
        after = _timed_out_then(s)
        # acme creates 'processing' and 'succeeded' at the same instant: either may land first
        if after[0][1] == "payment.processing":
            assert after == [
                ("WebhookReceived", "payment.processing", "pending", ""),
                ("WebhookReceived", "payment.succeeded", "succeeded", "PostToLedger")]
            assert anomalies(s.journal("dep-1")) == []
        else:
            assert after == [
                ("WebhookReceived", "payment.succeeded", "succeeded", "PostToLedger"),
                ("WebhookReceived", "payment.processing", "succeeded", "FlagAnomaly")]
            assert anomalies(s.journal("dep-1")) == ["stale_event"]
        s.assert_invariants()


def test_timeout_then_inquiry_finds_the_late_success_when_webhooks_are_lost(mem):
    """Only the inquiry can learn the outcome: its replay of the same key must get the first
    answer once it exists, not sleep the first call's latency again (see mocks/apps/base.py)."""
    pf = profile(acme={**SLOW_ACME, "webhooks": LOST}, globex=APPROVE)
    with stack(mem, pf, timeout_s=0.25) as s:
        assert _timed_out_then(s) == [
            ("Expired", None, "unknown", "InquireStatus"),
            ("StatusPolled", "approved", "succeeded", "PostToLedger"),
        ]
        assert s.deliveries("acme") == []
        assert anomalies(s.journal("dep-1")) == []
        s.assert_invariants()


# --- 5. a lost webhook found by polling --------------------------------------------------------

@pytest.mark.parametrize("provider", ["acme", "openbank"])
def test_lost_webhooks_found_by_polling(mem, provider):
    """A pending flow (3-D Secure at acme, bank consent at openbank) whose webhooks are all
    lost: the poll timer asks the provider and credits on its answer."""
    if provider == "acme":
        pf = profile(acme=three_ds(100, webhooks=LOST))
        body: dict[str, Any] = {"payment_id": "dep-1"}
    else:
        pf = profile(openbank={"kind": "bank", "approval_rate": 1.0, "webhooks": LOST,
                               "bank": {"consent_abandon_probability": 0,
                                        "consent_time": fixed(100)}})
        body = {"payment_id": "dep-1", "method": "bank", "card": None}
    with stack(mem, pf) as s:
        r = s.deposit(**body)
        assert r.status_code == 201 and r.json()["state"] == "pending", r.text
        s.wait_state("dep-1", "succeeded", timeout=5)
        journal = s.journal("dep-1")
        assert entries(journal, "WebhookReceived") == []
        [credit] = credits(journal)
        assert credit["event"] == "StatusPolled" and credit["detail"]["outcome"] == "approved"
        assert credit["state_from"] == "pending"
        assert entries(journal, "Expired")[0]["commands"] == ["InquireStatus"]
        assert s.deliveries(provider) == []
        assert s.balance() == 2500
        assert anomalies(journal) == []
        s.assert_invariants()


# --- 6. 3-D Secure -----------------------------------------------------------------------------

@pytest.mark.parametrize("outcome", ["approved", "three_ds_failed"])
def test_three_ds_pending_then_resolved_by_webhook(mem, outcome):
    over = {} if outcome == "approved" else {"approval_rate": 0.0,
                                              "decline_mix": {"three_ds_failed": 1.0}}
    pf = profile(acme=three_ds(100, **over), globex=APPROVE)
    final = "succeeded" if outcome == "approved" else "failed"
    with stack(mem, pf) as s:
        r = s.deposit("dep-1")
        assert r.status_code == 201 and r.json()["state"] == "pending", r.text
        s.wait_state("dep-1", final, timeout=5)
        s.quiet("acme")
        journal = s.journal("dep-1")
        steps = [(j["event"], j["detail"].get("type"), j["state_to"]) for j in journal[3:]]
        last = "payment.succeeded" if outcome == "approved" else "payment.failed"
        assert steps == [("ProviderReplied", None, "pending"),
                         ("WebhookReceived", "payment.requires_action", "pending"),
                         ("WebhookReceived", last, final)]
        assert journal[3]["detail"]["outcome"] == "pending"
        assert anomalies(journal) == []
        p = s.payment("dep-1")
        assert p["tried"] == ["acme"]  # a hard decline after 3-D Secure is not cascaded
        if outcome == "approved":
            assert len(credits(journal)) == 1 and s.balance() == 2500
        else:
            assert p["last_decline"] == "three_ds_failed" and s.balance() == 0
            assert "MarkFailed" in journal[-1]["commands"]
            assert s.processed("globex") == {}
        s.assert_invariants()


# --- 7. soft decline cascades, hard decline does not -------------------------------------------

FIRST_ROUTE = "priority: acme (priority 0, first of 2 eligible)"
FAILOVER = "priority failover: globex (priority 1, first of 1 eligible) (after acme)"


def test_soft_decline_cascades_to_the_second_provider_with_the_routers_reasons(mem):
    # acme's webhooks about attempt 1 come 0.1 s after its reply (so the reply cascades),
    # while globex, answering after 0.3 s, still holds attempt 2
    pf = profile(acme={**DECLINE, "decline_mix": {"do_not_honor": 1.0},
                       "webhooks": {"delay": fixed(100)}},
                 globex={**APPROVE, "latency": fixed(300)})
    with stack(mem, pf) as s:
        r = s.deposit("dep-1")
        assert r.status_code == 201, r.text
        assert r.json()["state"] == "succeeded" and r.json()["tried"] == ["acme", "globex"]
        s.quiet("acme", "globex")
        journal = s.journal("dep-1")
        assert routes(journal) == [("acme", FIRST_ROUTE), ("globex", FAILOVER)]
        declined, approved = entries(journal, "ProviderReplied")
        assert (declined["detail"]["outcome"], declined["detail"]["decline_code"]) == \
            ("declined", "do_not_honor")
        assert declined["commands"] == ["RouteNext"]  # soft: ask the router for another
        failover = entries(journal, "Routed")[1]
        assert journal.index(failover) == journal.index(declined) + 1  # in the same unit
        assert failover["commands"] == ["CallProvider"]
        assert failover["detail"]["strategy"] == "static"
        assert failover["detail"]["explored"] is False
        assert approved["detail"]["attempt"] == 2 and approved["detail"]["outcome"] == "approved"
        [credit] = credits(journal)
        assert credit["event"] == "ProviderReplied" and credit["detail"]["attempt"] == 2
        assert s.stored("dep-1").credit_provider == "globex"
        assert s.wallet.transaction("deposit:globex:dep-1").player_id == "p1"
        acme_hooks = [j for j in entries(journal, "WebhookReceived")
                      if j["detail"]["provider"] == "acme"]
        assert {j["detail"]["type"] for j in acme_hooks} == {"payment.processing",
                                                              "payment.failed"}
        assert all(j["commands"] == [] for j in acme_hooks)  # attempt 1 is over: no-ops
        late_processing([j for j in journal if j not in acme_hooks], "globex")
        assert all(not j["anomalies"] for j in acme_hooks)
        assert s.balance() == 2500
        s.assert_invariants()


def test_late_decline_webhook_of_a_cascaded_attempt_is_not_a_conflict(mem):
    """acme's webhooks come 0.3 s late, after globex credited attempt 2: acme's refusal of
    attempt 1 was already acted on (the cascade) and contradicts nothing."""
    pf = profile(acme={**DECLINE, "decline_mix": {"do_not_honor": 1.0},
                       "webhooks": {"delay": fixed(300)}},
                 globex=APPROVE)
    with stack(mem, pf) as s:
        assert s.deposit("dep-1").json()["state"] == "succeeded"
        s.quiet("acme", "globex")
        journal = s.journal("dep-1")
        [late] = entries(journal, "WebhookReceived", "payment.failed")
        assert late["detail"]["provider"] == "acme" and late["state_from"] == "succeeded"
        assert credits(journal)[0]["seq"] < late["seq"]  # it came after globex's credit
        assert s.balance() == 2500
        assert late["anomalies"] == [] and late["commands"] == []
        late_processing([j for j in journal if j["detail"].get("provider") != "acme"
                         or j["event"] != "WebhookReceived"], "globex")
        s.assert_invariants()


def test_hard_decline_does_not_cascade(mem):
    pf = profile(acme={**DECLINE, "decline_mix": {"expired_card": 1.0},
                       "webhooks": {"delay": fixed(100)}}, globex=APPROVE)
    with stack(mem, pf) as s:
        r = s.deposit("dep-1")
        assert r.status_code == 201, r.text
        p = r.json()
        assert (p["state"], p["tried"], p["last_decline"]) == ("failed", ["acme"], "expired_card")
        s.quiet("acme")
        journal = s.journal("dep-1")
        assert routes(journal) == [("acme", FIRST_ROUTE)]
        reply = entries(journal, "ProviderReplied")[0]
        assert reply["commands"] == ["MarkFailed"] and reply["state_to"] == "failed"
        [told_again] = entries(journal, "WebhookReceived", "payment.failed")
        assert told_again["commands"] == [] and told_again["state_to"] == "failed"  # no-op
        [stale] = entries(journal, "WebhookReceived", "payment.processing")
        assert stale["anomalies"] == [["stale_event", "payment.processing in failed"]]
        assert anomalies(journal) == ["stale_event"]
        assert s.processed("globex") == {}
        assert credits(journal) == [] and s.balance() == 0
        s.assert_invariants()


# --- 8. crypto ---------------------------------------------------------------------------------

def chain(**over: Any) -> dict[str, Any]:
    """A BTC-like chain in fast model time: paid 30 s after the invoice opens, 20 s blocks,
    2 confirmations, 100 s invoice expiry, no random exceptions, a fixed rate. Webhooks take
    a fixed 1 s, so they arrive in the order the chain made them (for ``c-1`` the first
    block comes 17 s after the payment is seen)."""
    params = {"asset": "BTC", "block_time_s": 20, "block_time_kind": "fixed",
              "confirmations_required": 2, "invoice_expiry_s": 100, "rate": {"EUR": "60000"},
              "rate_volatility_daily": 0, "pay_time": fixed(30), "abandon_probability": 0,
              "late_probability": 0, "underpay_probability": 0, "overpay_probability": 0,
              "reorg_probability": 0, "double_spend_probability": 0, **over}
    return {"kind": "crypto", "chain": params, "webhooks": {"delay": fixed(1)}}


CRYPTO = {"method": "crypto", "card": None}
# Tests that assert the order webhooks arrive in: at the default scale the chain's events
# are 17 ms of wall time apart, less than a delivery can take on a loaded machine (the
# dispatcher keeps one payment's deliveries in order, but the wallet's polls could then
# overtake them). At 100x they are 170 ms apart, the invoice's whole life takes under 2 s,
# and the polls come after it.
ORDERED = {"time_scale": 100.0, "policy": Policy(poll_delays=(3.0, 5.0), deadline_s=(),
                                                 default_deadline_s=20.0)}
DUE = 50_000  # satoshi for EUR 30.00 at 60 000 EUR/BTC


@pytest.mark.parametrize("after", ["invoice.reorged", "invoice.invalid"])
def test_crypto_credited_after_confirmations_then_reversed_by_a_reorg(mem, after):
    pf = profile(chainpay_btc=chain())
    with stack(mem, pf, **ORDERED) as s:
        r = s.deposit("c-1", 3000, **CRYPTO)
        assert r.status_code == 201 and r.json()["state"] == "pending", r.text
        s.wait_state("c-1", "succeeded", timeout=5)
        s.quiet("chainpay-btc")
        journal = s.journal("c-1")
        reply = entries(journal, "ProviderReplied")[0]
        assert (reply["detail"]["confirmations_required"], reply["detail"]["amount_due"]) == \
            (2, DUE)
        hooks = [(j["detail"]["sequence"], j["detail"]["type"], j["detail"]["data"]["confirmations"],
                  j["state_to"]) for j in entries(journal, "WebhookReceived")]
        assert hooks == [(1, "invoice.payment_seen", 0, "pending"),  # in the mempool: wait
                         (2, "invoice.confirmed", 1, "pending"),  # one block: still wait
                         (3, "invoice.settled", 2, "succeeded")]  # two: credit
        assert len(credits(journal)) == 1 and s.balance() == 3000
        data = {"reason": "double_spend"} if after == "invoice.invalid" else {}
        s.control("chainpay-btc", "trigger", {"type": after, "provider_ref": s.ref("c-1"),
                                              "data": data})
        s.wait_state("c-1", "reversed", timeout=5)
        last = s.journal("c-1")[-1]
        assert (last["detail"]["type"], last["state_from"]) == (after, "succeeded")
        assert last["commands"] == ["PostToLedger", "FlagAnomaly"]
        reason = "reorg" if after == "invoice.reorged" else "double_spend"
        assert last["anomalies"] == [["reorg_after_credit", f"{reason}; credited 3000 reversed"]]
        assert s.balance() == 0
        txns, _ = s.wallet.history("p1")
        assert [t.id for t in txns] == ["deposit:chainpay-btc:c-1",
                                        "reversal:deposit:chainpay-btc:c-1"]
        s.assert_invariants()


@pytest.mark.parametrize("case", ["underpaid", "overpaid", "paid_late"])
def test_crypto_paid_amount_exceptions_are_credited_as_received_and_flagged(mem, case):
    """BTCPay's PaidPartial, PaidOver and PaidLate: what arrived is credited at the
    invoice's locked quote (the default policy), and flagged."""
    over = {"underpaid": {"underpay_probability": 1.0}, "overpaid": {"overpay_probability": 1.0},
            "paid_late": {"late_probability": 1.0}}[case]
    pf = profile(chainpay_btc=chain(**over))
    with stack(mem, pf, **ORDERED) as s:
        assert s.deposit("c-1", 3000, **CRYPTO).json()["state"] == "pending"
        s.wait_state("c-1", "succeeded", timeout=5)
        s.quiet("chainpay-btc")
        p = s.stored("c-1")
        assert p.amount_due == DUE and p.paid is not None
        expected = 3000 * p.paid // DUE  # what arrived, at the invoice's locked quote
        if case == "underpaid":
            assert p.paid < DUE and expected < 3000
        elif case == "overpaid":
            assert p.paid > DUE and expected > 3000
        else:
            assert p.paid == DUE and expected == 3000
        journal = s.journal("c-1")
        hooks = [(j["detail"]["type"], j["state_to"], j["commands"], j["anomalies"])
                 for j in entries(journal, "WebhookReceived")]
        flag = [f"paid {p.paid} of {DUE}: crediting {expected}"]
        if case == "underpaid":  # the invoice expires partially paid: credit what arrived
            assert hooks == [
                ("invoice.payment_seen", "pending", [], []),
                ("invoice.confirmed", "pending", [], []),
                ("invoice.expired", "succeeded", ["FlagAnomaly", "PostToLedger"],
                 [["underpaid", *flag]])]
        elif case == "overpaid":
            assert hooks == [
                ("invoice.payment_seen", "pending", [], []),
                ("invoice.confirmed", "pending", [], []),
                ("invoice.settled", "succeeded", ["FlagAnomaly", "PostToLedger"],
                 [["overpaid", *flag]])]
        else:  # expired unpaid (the player is told), then the coins arrive after all
            assert hooks == [
                ("invoice.expired", "expired", ["MarkFailed"], []),
                ("invoice.payment_seen", "pending", ["FlagAnomaly"],
                 [["paid_after_expiry", f"{DUE} paid after the invoice expired"]]),
                ("invoice.confirmed", "pending", [], []),
                ("invoice.settled", "succeeded", ["PostToLedger"], [])]
        assert len(credits(journal)) == 1
        assert p.credited == expected and s.balance() == expected
        s.assert_invariants()


def test_partially_paid_invoice_already_expired_by_a_poll_is_still_credited(mem):
    """The poll sees 'Expired' (the mock's invoice status says nothing of a partial
    payment) and expires the deposit; then the provider's InvoiceExpired webhook arrives
    with partiallyPaid: the coins are here, so they must be credited, or at least flagged."""
    pf = profile(chainpay_btc={**chain(underpay_probability=1.0), "webhooks": LOST})
    with stack(mem, pf) as s:
        assert s.deposit("c-1", 3000, **CRYPTO).json()["state"] == "pending"
        s.wait_state("c-1", "expired", timeout=5)
        polled = entries(s.journal("c-1"), "StatusPolled")
        assert [(j["detail"]["outcome"], j["state_to"]) for j in polled] == [("expired", "expired")]
        # the final webhook, lost so far, comes through at last
        s.control("chainpay-btc", f"events/{mock_event_id(s.ref('c-1'), 'invoice.expired', 3)}"
                                  "/redeliver")
        s.quiet("chainpay-btc")
        last = s.journal("c-1")[-1]
        assert last["detail"]["data"]["exception"] == "paid_partial"
        s.assert_invariants()
        paid = last["detail"]["data"]["paid"]
        assert 0 < paid < DUE
        assert "underpaid" in [k for k, _ in last["anomalies"]]  # fails: no anomaly at all
        assert s.payment("c-1")["state"] == "succeeded"
        assert s.balance() == 3000 * paid // DUE


# --- 9. payouts --------------------------------------------------------------------------------

def bank(**over: Any) -> dict[str, Any]:
    """Payouts settle 50 s after they are accepted; webhooks take 20 s, so the reply,
    'payout.pending' and the outcome arrive in that order, all before the first poll."""
    return {"kind": "bank", "approval_rate": 1.0, "webhooks": {"delay": fixed(20)},
            "bank": {"payout_return_probability": 0, "payout_latency": fixed(50)}, **over}


def test_payout_paid_then_returned_days_later(mem):
    pf = profile(openbank=bank())
    with stack(mem, pf) as s:
        s.fund(10_000)
        r = s.payout("wd-1", 3000)
        assert r.status_code == 201 and r.json()["state"] == "sent", r.text
        s.wait_state("wd-1", "paid", timeout=5)
        s.quiet("openbank")
        assert s.balances()["available"] == 7000 and s.balances()["pending"] == 0
        assert s.wallet.transaction("withdrawal_paid:wd-1").player_id == "p1"
        # days later the receiving bank sends it back
        s.control("openbank", "trigger", {"type": "payout.returned", "provider_ref": s.ref("wd-1"),
                                          "data": {"reason": "account_closed"}})
        s.wait_state("wd-1", "returned", timeout=5)
        journal = s.journal("wd-1")
        steps = [(j["event"], j["detail"].get("type"), j["state_to"], j["commands"])
                 for j in journal if j["event"] in ("ProviderReplied", "WebhookReceived")]
        assert steps == [
            ("ProviderReplied", None, "sent", ["ScheduleTimeout"]),
            ("WebhookReceived", "payout.pending", "sent", []),
            ("WebhookReceived", "payout.paid", "paid", ["PostToLedger"]),
            ("WebhookReceived", "payout.returned", "returned", ["PostToLedger"]),
        ]
        assert journal[-1]["detail"]["data"]["reason"] == "account_closed"
        b = s.balances()
        assert (b["available"], b["pending"]) == (10_000, 0)
        assert s.wallet.transaction("payout_returned:wd-1").meta["reason"] == "account_closed"
        assert anomalies(journal) == []
        s.assert_invariants()


def test_payout_declined_releases_the_hold(mem):
    # the bank refuses 0.15 s after accepting the payout: long enough to see the hold,
    # well before the first poll (0.3 s)
    pf = profile(openbank=bank(approval_rate=0.0, decline_mix={"do_not_honor": 1.0},
                               bank={"payout_return_probability": 0,
                                     "payout_latency": fixed(150)}))
    with stack(mem, pf) as s:
        s.fund(10_000)
        assert s.payout("wd-1", 3000).json()["state"] == "sent"
        assert (s.balances()["available"], s.balances()["pending"]) == (7000, 3000)  # held
        s.wait_state("wd-1", "failed", timeout=5)
        s.quiet("openbank")
        journal = s.journal("wd-1")
        last = journal[-1]
        assert (last["detail"]["type"], last["state_to"]) == ("payout.failed", "failed")
        assert last["commands"] == ["PostToLedger", "MarkFailed"]
        assert (s.balances()["available"], s.balances()["pending"]) == (10_000, 0)
        assert s.wallet.transaction("withdrawal_released:wd-1").meta["reason"] == "do_not_honor"
        assert anomalies(journal) == []
        s.assert_invariants()


# --- 10. refund and chargeback -----------------------------------------------------------------

def test_refund_then_chargeback_post_to_the_ledger_and_lock_the_player(mem):
    pf = profile(acme=APPROVE)
    with stack(mem, pf) as s:
        assert s.deposit("dep-1").json()["state"] == "succeeded"
        s.quiet("acme")
        ref = s.ref("dep-1")
        refund = s.control("acme", "trigger", {"type": "refund.succeeded", "provider_ref": ref,
                                               "data": {"amount": 1000}})
        s.quiet("acme")
        assert s.balance() == 1500 and s.payment("dep-1")["state"] == "succeeded"
        assert s.wallet.transaction(f"refund:acme:{refund['event_id']}").player_id == "p1"
        cb = s.control("acme", "trigger", {"type": "chargeback.created", "provider_ref": ref,
                                           "data": {"amount": 1500, "fee": 1500,
                                                    "reason": "fraud"}})
        s.wait_state("dep-1", "charged_back", timeout=5)
        s.control("acme", f"events/{cb['event_id']}/redeliver")  # applied once only
        s.quiet("acme")
        b = s.balances()
        assert (b["available"], b["receivable"]) == (0, 0)
        player = s.player()
        assert player["status"] == "locked" and player["lock_reason"] == "chargeback dep-1"
        journal = s.journal("dep-1")
        disputes = [(j["detail"]["type"], j["state_to"], j["commands"])
                    for j in journal[-2:]]
        assert disputes == [("refund.succeeded", "succeeded", ["PostToLedger"]),
                            ("chargeback.created", "charged_back", ["PostToLedger"])]
        assert s.wallet.transaction("chargeback:acme:dep-1").meta["reason"] == "fraud"
        # a locked player's next deposit is stopped by the controls, before any provider call
        before = s.processed("acme")
        r = s.deposit("dep-2")
        assert (r.json()["state"], r.json()["tried"]) == ("failed", [])
        blocked = entries(s.journal("dep-2"), "ControlsDecided")[0]
        assert blocked["detail"] == {"decision": "block", "reason": "blocked_by_controls"}
        assert blocked["commands"] == ["MarkFailed"] and blocked["state_to"] == "failed"
        assert s.processed("acme") == before
        late_processing(journal, "acme")
        assert anomalies(s.journal("dep-2")) == []
        s.assert_invariants()


# --- 11. bad signatures ------------------------------------------------------------------------

def test_bad_signature_or_tampered_body_is_refused_and_nothing_applied(mem):
    pf = profile(acme=three_ds(100_000, webhooks=LOST), globex=APPROVE)
    # no status poll within the test: on a slow machine the default one (after 0.3 s) could
    # add to the journal while the forgeries are posted, which is not what is checked here
    patient = Policy(poll_delays=(600.0,), deadline_s=(), default_deadline_s=1_200.0)
    with stack(mem, pf, policy=patient) as s:
        assert s.deposit("dep-1").json()["state"] == "pending"
        ref = s.ref("dep-1")
        event_id = mock_event_id(ref, "payment.succeeded", 2)
        body, headers = acme_webhook(event_id, "payment.succeeded", ref, "dep-1", 2, amount=2500)
        tampered = body.replace(b'"amount":2500', b'"amount":9500')
        assert tampered != body
        forged = [
            ("acme", tampered, headers),  # body changed after signing
            ("acme", *acme_webhook(event_id, "payment.succeeded", ref, "dep-1", 2, amount=2500,
                                   key="whsec_" + "QUJD" * 8)),  # wrong secret
            ("acme", *acme_webhook(event_id, "payment.succeeded", ref, "dep-1", 2, amount=2500,
                                   timestamp=time.time() - 3600)),  # an hour old
            ("acme", body, {"content-type": "application/json"}),  # unsigned
            ("acme", body, sign_globex(secret("globex"), body, time.time())),  # another scheme
            ("nope", body, headers),  # no such provider
            ("acme", b"\xff" + body, headers),  # not UTF-8: the verifier once raised on it (500)
            ("globex", body, {"x-globex-signature":  # a non-ASCII signature: once a TypeError
                              f"t={int(time.time())},v1=\xe9".encode("latin-1")}),
        ]
        journal = s.journal("dep-1")
        for provider, b, h in forged:
            r = s.post_webhook(provider, b, h)
            assert r.status_code == 401, (provider, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["code"] == "invalid_signature"
        assert s.journal("dep-1") == journal
        assert s.payment("dep-1")["state"] == "pending" and s.balance() == 0
        # the authentic delivery still goes through: nothing above poisoned the inbox
        r = s.post_webhook("acme", body, headers)
        assert r.status_code == 200 and r.json() == {"received": True, "applied": 1}
        assert s.payment("dep-1")["state"] == "succeeded" and s.balance() == 2500
        s.assert_invariants()


# --- 12. provider outage -----------------------------------------------------------------------

def test_provider_outage_fails_the_call_and_cascades_to_the_other_provider(mem):
    pf = profile(acme=APPROVE, globex=APPROVE)
    with stack(mem, pf) as s:
        s.control("acme", "outage", {"fault": "http_5xx"})
        r = s.deposit("dep-1")
        assert r.status_code == 201, r.text
        assert r.json()["state"] == "succeeded" and r.json()["tried"] == ["acme", "globex"]
        s.quiet("acme", "globex")
        journal = s.journal("dep-1")
        [failed] = entries(journal, "ProviderFailed")
        assert failed["detail"] == {"attempt": 1, "reason": "http_503"}
        assert failed["commands"] == ["RouteNext"]
        assert entries(journal, "Routed")[1]["commands"] == ["CallProvider"]
        assert routes(journal) == [("acme", FIRST_ROUTE), ("globex", FAILOVER)]
        assert s.processed("acme") == {} and s.deliveries("acme") == []  # acme did nothing
        assert s.stored("dep-1").credit_provider == "globex"
        assert s.balance() == 2500
        late_processing(journal, "globex")
        # the outage ends: the next payment goes to acme again
        assert s.stop("acme", "outage") == {"stopped": 1}
        r = s.deposit("dep-2")
        assert r.json()["state"] == "succeeded" and r.json()["tried"] == ["acme"]
        s.quiet("acme", "globex")
        assert s.balance() == 5000
        s.assert_invariants()

