"""The gateway service on every store: one unit of work per call, the webhook inbox in the
same transaction as the posting, fees from the contract, durable timers, controls, and the
router told about each attempt once."""

from __future__ import annotations

import threading

import pytest

from wallet.domain import errors
from wallet.domain.commands import CreditDeposit, LockPlayer, OpenPlayer, RequestWithdrawal
from wallet.domain.ledger import AccountType, clearing, house
from wallet.domain.payments import (
    CallProvider,
    ControlsDecided,
    InquireStatus,
    ProviderReplied,
    WebhookReceived,
)
from wallet.domain.routing import Candidate, make_strategy
from wallet.service.clock import ManualClock
from wallet.service.gateway import LEDGER_REFUSED, UNKNOWN_PAYMENT, Gateway
from wallet.service.wallet import Wallet

CARD = frozenset({"card"})
EUR = frozenset({"EUR"})
CANDIDATES = [Candidate("acme", CARD, EUR, fee_bps=250, fee_fixed=25),
              Candidate("globex", CARD, EUR, fee_bps=320, fee_fixed=20, priority=1),
              Candidate("openbank", frozenset({"bank"}), EUR, fee_bps=50, fee_fixed=10)]


def gateway(store, clock, strategy: str = "static", seed: int = 1) -> Gateway:
    wallet = Wallet(store, clock)
    for pid in ("p1", "p2"):
        wallet.execute(OpenPlayer(pid, "EUR"))
    return Gateway(wallet, CANDIDATES, make_strategy(strategy), seed=seed)


def succeeded(pid: str, provider: str = "acme", event_id: str = "ev-ok", attempt: int = 1):
    return WebhookReceived("payment.succeeded", event_id, f"ref-{pid}", provider, f"{pid}-a{attempt}")


def calls(step) -> list[CallProvider]:
    return [c for c in step.commands if isinstance(c, CallProvider)]


def test_deposit_routes_calls_and_credits_with_the_contracted_fee(store, clock):
    g = gateway(store, clock)
    step = g.deposit("d1", "p1", 10_000, "EUR", "card", country="DE", bin="411111")
    assert [(c.provider, c.idempotency_key) for c in calls(step)] == [("acme", "d1-a1")]
    step = g.handle("d1", ProviderReplied(1, "approved", "ref-d1"))
    assert step.payment.state == "succeeded" and step.payment.credited == 10_000
    wallet = g.wallet
    assert wallet.balance("p1", "EUR")["available"] == 10_000
    txn = wallet.transaction("deposit:acme:d1")
    fee = 25 + 250  # 2.5 % of 100.00 EUR + 0.25
    def net(account: str) -> int:
        return sum(p.amount for p in txn.postings if p.account == account)

    assert net(house(AccountType.FEES, "EUR")) == -fee  # the house pays the provider's fee
    assert net(clearing("acme", "EUR")) == -10_000 + fee  # the provider owes us the net
    assert wallet.ledger_violations() == [] and wallet.verify_audit() == []
    events = [j.event for j in g.journal("d1")]
    assert events == ["DepositRequested", "ControlsDecided", "Routed", "ProviderReplied"]
    routed = g.journal("d1")[2]
    assert routed.detail["provider"] == "acme" and "priority" in routed.detail["reason"]


def test_a_repeated_request_replays_and_a_different_one_is_refused(store, clock):
    g = gateway(store, clock)
    first = g.deposit("d1", "p1", 500, "EUR", "card")
    again = g.deposit("d1", "p1", 500, "EUR", "card")
    assert again.duplicate and again.commands == [] and again.payment.version == first.payment.version
    with pytest.raises(errors.IdempotencyKeyReused):
        g.deposit("d1", "p1", 501, "EUR", "card")
    assert len(g.journal("d1")) == len(first.payment.tried) + 2


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"amount": 0}, "amount"), ({"method": "cheque"}, "method"), ({"provider": "nope"}, "provider"),
    ({"currency": "XXXX"}, "currency"), ({"player_id": "ghost"}, "player_id"),
    ({"payment_id": "a:b"}, "payment_id"),
])
def test_bad_input_is_refused_naming_the_field_and_stores_nothing(store, clock, kwargs, field):
    g = gateway(store, clock)
    args = {"payment_id": "d1", "player_id": "p1", "amount": 500, "currency": "EUR",
            "method": "card", **kwargs}
    provider = args.pop("provider", None)
    with pytest.raises(errors.DomainError) as info:
        g.deposit(**args, provider=provider)
    assert info.value.field == field
    assert g.payments() == [] and g.journal() == []


def test_webhook_inbox_dedupes_in_the_same_transaction_and_survives_purge(store, clock):
    g = gateway(store, clock)
    g.deposit("d1", "p1", 700, "EUR", "card")
    assert not g.webhook(succeeded("d1")).duplicate
    assert g.webhook(succeeded("d1")).duplicate
    with store.unit_of_work(read_only=True) as uow:
        assert uow.get_idempotency("webhook:acme", "ev-ok") is not None
    clock.advance(36 * 86_400)
    assert g.purge_inbox() == 1
    again = g.webhook(succeeded("d1"))  # the inbox forgot; the payment's own memory did not
    assert not again.duplicate and again.commands == []
    assert g.wallet.balance("p1", "EUR")["available"] == 700


def test_a_webhook_for_no_payment_is_acknowledged_and_reported(store, clock):
    g = gateway(store, clock)
    step = g.webhook(WebhookReceived("payment.succeeded", "ev-x", "ref-x", "acme", "ghost"))
    assert step.payment is None and step.commands[0].kind == UNKNOWN_PAYMENT
    assert g.webhook(WebhookReceived("payment.succeeded", "ev-x", "ref-x", "acme", "ghost")).duplicate
    (orphan,) = g.journal("ghost")
    assert orphan.anomalies[0][0] == UNKNOWN_PAYMENT


def test_a_ledger_refusal_is_rolled_back_and_reported_never_half_applied(store, clock):
    g = gateway(store, clock)
    g.deposit("d1", "p1", 1_000, "EUR", "card")
    g.webhook(succeeded("d1"))
    g.wallet.execute(RequestWithdrawal("p1", "w1", 1_000, "EUR", "openbank"))  # all cash held
    refund = WebhookReceived("refund.succeeded", "ev-rf", "ref-d1", "acme", "d1", data={"amount": 400})
    step = g.webhook(refund)
    assert [c.kind for c in step.commands if hasattr(c, "kind")] == [LEDGER_REFUSED]
    assert "insufficient_funds" in step.commands[0].detail
    assert g.journal("d1")[-1].anomalies[-1][0] == LEDGER_REFUSED
    assert g.webhook(refund).duplicate  # acknowledged: the provider stops retrying
    assert g.wallet.balance("p1", "EUR")["available"] == 0
    assert g.wallet.ledger_violations() == []


def test_timers_are_durable_and_fire_once(store, clock):
    g = gateway(store, clock)
    g.deposit("d1", "p1", 900, "EUR", "card")
    g.handle("d1", ProviderReplied(1, "pending", "ref-d1"))
    assert g.due() == []
    clock.advance(31)  # the first poll is due after 30 s
    assert g.due() == ["d1"]
    step = g.fire("d1")
    assert [type(c) for c in step.commands if isinstance(c, InquireStatus)] == [InquireStatus]
    assert g.fire("d1").commands == []  # a second sweeper finds nothing due


def test_a_call_that_never_reports_back_becomes_a_timeout_and_an_inquiry(store, clock):
    g = gateway(store, clock)
    g.deposit("d1", "p1", 900, "EUR", "card")
    clock.advance(g.call_timeout_s + 1)
    assert g.due() == ["d1"]
    step = g.fire("d1")
    assert step.payment.state == "unknown"
    assert "ProviderTimedOut" in [j.event for j in g.journal("d1")]


def test_soft_decline_cascades_and_the_router_learns_each_attempt_once(store, clock):
    g = gateway(store, clock, strategy="sr_window")
    step = g.deposit("d1", "p1", 900, "EUR", "card")
    first = calls(step)[0].provider
    step = g.handle("d1", ProviderReplied(1, "declined", "r1", "do_not_honor"))
    second = calls(step)[0].provider
    assert second != first
    g.handle("d1", ProviderReplied(1, "declined", "r1", "do_not_honor"))  # told twice: learnt once
    g.handle("d1", ProviderReplied(2, "approved", "r2"))
    stats = g.strategy.snapshot()
    assert stats[first]["observed"] == 1 and stats[first]["successes"] == 0
    assert stats[second]["observed"] == 1 and stats[second]["successes"] == 1


def test_routing_is_deterministic_given_the_seed(clock):
    from wallet.adapters.memory import MemoryStore

    def run(seed: int) -> list[str]:
        g = gateway(MemoryStore(), ManualClock(clock.now()), strategy="split", seed=seed)
        return [calls(g.deposit(f"d{i}", "p1", 100, "EUR", "card"))[0].provider for i in range(40)]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_controls_block_a_locked_player_and_hold_a_large_payout_for_review(store, clock):
    g = gateway(store, clock)
    g.wallet.execute(CreditDeposit("p2", "acme", "seed", 500_000, "EUR"))
    g.wallet.execute(LockPlayer("p1", "chargeback"))
    blocked = g.deposit("d1", "p1", 900, "EUR", "card")
    assert blocked.payment.state == "failed" and calls(blocked) == []
    assert blocked.payment.last_decline == "blocked_by_controls"
    held = g.payout("w1", "p2", 250_000, "EUR", "bank", "openbank")
    assert held.payment.state == "held" and calls(held) == []
    assert g.wallet.balance("p2", "EUR")["available"] == 250_000
    sent = g.handle("w1", ControlsDecided("allow", "reviewed by ops"))
    assert [c.provider for c in calls(sent)] == ["openbank"]
    with pytest.raises(errors.InsufficientFunds):
        g.payout("w2", "p2", 250_001, "EUR", "bank", "openbank")
    assert [p.id for p in g.payments() if p.id == "w2"] == []


def test_payout_paid_books_the_fee_and_a_decline_releases_the_hold(store, clock):
    g = gateway(store, clock)
    g.wallet.execute(CreditDeposit("p2", "acme", "seed", 10_000, "EUR"))
    g.payout("w1", "p2", 4_000, "EUR", "bank", "openbank")
    g.handle("w1", ProviderReplied(1, "approved", "po-1"))
    g.payout("w2", "p2", 1_000, "EUR", "bank", "openbank")
    g.handle("w2", ProviderReplied(1, "declined", "po-2", "account_closed"))
    assert g.wallet.balance("p2", "EUR")["available"] == 6_000
    paid = g.wallet.transaction("withdrawal_paid:w1")
    fees = sum(p.amount for p in paid.postings if p.account == house(AccountType.FEES, "EUR"))
    assert fees == -30  # 0.5 % of 40.00 EUR + 0.10, from the contract
    assert g.wallet.ledger_violations() == []


def test_concurrent_copies_of_one_webhook_credit_once(sql_store):
    clock = ManualClock(1_700_000_000.0)
    g = gateway(sql_store, clock)
    g.deposit("d1", "p1", 1_234, "EUR", "card")
    results: list[bool] = []
    barrier = threading.Barrier(16)

    def deliver(i: int) -> None:
        barrier.wait()
        # half are the same event id (inbox), half are re-sent with new ids (the machine)
        results.append(g.webhook(succeeded("d1", event_id=f"ev-{i % 2 and i}")).duplicate)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 16
    assert g.wallet.balance("p1", "EUR")["available"] == 1_234
    credits = [t for t in g.wallet.history("p1")[0] if t.id.startswith("deposit:")]
    assert len(credits) == 1
    assert g.wallet.ledger_violations() == []
