"""Crypto confirmations, reorgs, under/over/late payment; payouts paid, failed, returned."""

from __future__ import annotations

from wallet.domain.commands import (
    CompleteWithdrawal,
    CreditDeposit,
    ReleaseWithdrawal,
    ReturnPayout,
    ReverseTransaction,
)
from wallet.domain.payments import (
    DEFAULT_POLICY,
    CallProvider,
    ConfirmationSeen,
    ControlsDecided,
    Expired,
    PayoutRequested,
    PayoutReturned,
    Policy,
    ProviderFailed,
    ProviderReplied,
    ProviderTimedOut,
    Reorged,
    StatusPolled,
    WebhookReceived,
    start,
)
from wallet.domain.payments.events import DEADLINE, POLL
from wallet.domain.payments.model import FAIL, FLAG_ONLY

from .payments_helpers import Run, deposit

DUE = 50_000  # satoshi quoted for EUR 30.00


def invoice(policy: Policy = DEFAULT_POLICY, required: int = 2) -> Run:
    run = deposit("chainpay-btc", "crypto", amount=3000, policy=policy)
    run.feed(ProviderReplied(1, "pending", "inv_1", confirmations_required=required,
                             amount_due=DUE))
    return run


def cp(type_: str, eid: str, **data: object) -> WebhookReceived:
    return WebhookReceived(type_, eid, "inv_1", "chainpay-btc", "dep-1", 0, data)


def test_credit_only_after_the_required_confirmations():
    run = invoice()
    run.feed(cp("invoice.payment_seen", "s", paid=DUE, confirmations=0),
             cp("invoice.confirmed", "c1", paid=DUE, confirmations=1))
    assert run.credits() == [] and run.state == "pending"
    run.feed(ConfirmationSeen(2, DUE))
    assert run.credits() == [CreditDeposit("u1", "chainpay-btc", "dep-1", 3000, "EUR")]
    run.feed(cp("invoice.settled", "st", paid=DUE, confirmations=2), ConfirmationSeen(3, DUE))
    assert len(run.credits()) == 1


def test_policy_can_demand_more_confirmations_than_the_invoice():
    run = invoice(Policy(min_confirmations=6))
    run.feed(cp("invoice.settled", "st", paid=DUE, confirmations=2))
    assert run.credits() == []
    run.feed(ConfirmationSeen(6, DUE))
    assert len(run.credits()) == 1


def test_reorg_before_confirmation_resets_and_never_credits():
    run = invoice()
    run.feed(cp("invoice.payment_seen", "s", paid=DUE), cp("invoice.confirmed", "c1", paid=DUE,
                                                            confirmations=1))
    run.feed(cp("invoice.reorged", "r", paid=DUE, confirmations=0))
    assert run.state == "pending" and run.payment.confirmations == 0 and run.credits() == []
    run.feed(cp("invoice.invalid", "x", reason="reorged_out"))
    assert run.state == "failed" and run.credits() == []


def test_reorg_before_confirmation_then_deadline_expires_without_credit():
    run = invoice()
    run.feed(ConfirmationSeen(1, DUE), Reorged(), Expired(DEADLINE))
    assert run.state == "expired" and run.credits() == []


def test_reorg_after_credit_reverses_and_flags():
    run = invoice(required=1)
    run.feed(cp("invoice.settled", "st", paid=DUE, confirmations=1))
    assert len(run.credits()) == 1
    run.feed(cp("invoice.reorged", "r", confirmations=0), Reorged(event_id="r"))
    assert run.ledger(ReverseTransaction) == [
        ReverseTransaction("deposit:chainpay-btc:dep-1", "reorg", owe_shortfall=True)]
    assert run.state == "reversed" and "reorg_after_credit" in run.anomalies()
    run.feed(cp("invoice.settled", "st2", paid=DUE, confirmations=1))  # re-included
    assert len(run.credits()) == 1 and "settled_after_reversal" in run.anomalies()


def test_double_spend_after_zero_conf_credit_reverses():
    run = invoice(required=0)
    run.feed(cp("invoice.payment_seen", "s", paid=DUE, confirmations=0))
    assert len(run.credits()) == 1
    run.feed(cp("invoice.invalid", "x", reason="double_spend"))
    assert run.state == "reversed" and len(run.ledger(ReverseTransaction)) == 1


def test_underpayment_credits_what_arrived_by_default():
    run = invoice()
    run.feed(cp("invoice.payment_seen", "s", paid=DUE // 2),
             cp("invoice.expired", "e", paid=DUE // 2, exception="paid_partial"))
    assert run.credits()[0].amount == 1500 and "underpaid" in run.anomalies()


def test_partial_payment_reported_after_a_poll_expired_the_invoice_is_still_credited():
    run = invoice()
    run.feed(StatusPolled("expired", "inv_1"))  # webhooks lost: a poll expires it first
    assert run.state == "expired" and run.credits() == []
    run.feed(cp("invoice.expired", "e", paid=DUE // 2, exception="paid_partial"))
    assert run.credits()[0].amount == 1500
    assert {"underpaid", "paid_after_expiry"} <= set(run.anomalies())
    flagged = invoice(Policy(paid_late=FLAG_ONLY))
    flagged.feed(StatusPolled("expired", "inv_1"),
                 cp("invoice.expired", "e", paid=DUE // 2, exception="paid_partial"))
    assert flagged.credits() == [] and "underpaid" in flagged.anomalies()


def test_underpayment_fails_when_the_policy_says_so():
    run = invoice(Policy(underpaid=FAIL))
    run.feed(ConfirmationSeen(2, DUE - 1))
    assert run.state == "failed" and run.credits() == [] and "underpaid" in run.anomalies()


def test_overpayment_credits_the_amount_received():
    run = invoice()
    run.feed(cp("invoice.settled", "st", paid=DUE * 11 // 10, confirmations=2))
    assert run.credits()[0].amount == 3300 and "overpaid" in run.anomalies()


def test_payment_after_expiry_is_flagged_and_credited_by_default():
    run = invoice()
    run.feed(cp("invoice.expired", "e", paid=0))
    assert run.state == "expired"
    run.feed(cp("invoice.payment_seen", "s", paid=DUE), cp("invoice.confirmed", "c", paid=DUE,
                                                            confirmations=1),
             cp("invoice.settled", "st", paid=DUE, confirmations=2, exception="paid_late"))
    assert len(run.credits()) == 1 and run.anomalies().count("paid_after_expiry") == 1


def test_payment_after_expiry_only_flagged_under_flag_only():
    run = invoice(Policy(paid_late=FLAG_ONLY))
    run.feed(cp("invoice.expired", "e", paid=0), cp("invoice.payment_seen", "s", paid=DUE),
             cp("invoice.settled", "st", paid=DUE, confirmations=2))
    assert run.state == "expired" and run.credits() == []
    assert "paid_after_expiry" in run.anomalies()


def test_crypto_webhook_before_invoice_reply():
    run = deposit("chainpay-btc", "crypto", amount=3000)
    run.feed(cp("invoice.payment_seen", "s", paid=DUE))
    assert run.state == "pending" and run.credits() == []


# --- payouts --------------------------------------------------------------------------------

def payout(**kw: object) -> Run:
    p, cmds = start(PayoutRequested("wd-1", "u1", 10_050, "EUR", "bank", "openbank", **kw), 0.0)
    return Run(p, list(cmds))


def ob(type_: str, eid: str, **data: object) -> WebhookReceived:
    return WebhookReceived(type_, eid, "po_1", "openbank", "wd-1", 0, data)


def test_payout_paid_then_returned_days_later():
    run = payout()
    assert run.of(CallProvider) == [CallProvider("wd-1", "openbank", 1, "wd-1-a1")]
    run.feed(ProviderReplied(1, "pending", "po_1"), ob("payout.paid", "p"), ob("payout.paid", "p"))
    assert run.ledger(CompleteWithdrawal) == [CompleteWithdrawal("wd-1")]
    run.feed(ob("payout.returned", "r", reason="account_closed"), dt=3 * 86400)
    run.feed(PayoutReturned("account_closed", event_id="r"))
    assert run.ledger(ReturnPayout) == [ReturnPayout("wd-1", "account_closed")]
    assert run.state == "returned"


def test_payout_declined_releases_the_hold():
    run = payout()
    run.feed(ProviderReplied(1, "declined", "po_1", "do_not_honor"))
    assert run.ledger(ReleaseWithdrawal) == [ReleaseWithdrawal("wd-1", "do_not_honor")]
    run.feed(ob("payout.paid", "p"))  # the bank paid anyway: never silently
    assert "paid_after_release" in run.anomalies() and run.ledger(CompleteWithdrawal) == []


def test_payout_provider_failure_releases_but_timeout_never_does():
    failed = payout()
    failed.feed(ProviderFailed(1, "http_429"))
    assert failed.state == "failed" and len(failed.ledger(ReleaseWithdrawal)) == 1
    unknown = payout()
    unknown.feed(ProviderTimedOut(1), Expired(POLL), StatusPolled("unknown"), Expired(DEADLINE))
    assert unknown.state == "unknown" and unknown.ledger() == []
    assert "unresolved" in unknown.anomalies()
    unknown.feed(Expired(POLL), StatusPolled("approved", "po_1"))
    assert unknown.state == "paid" and len(unknown.ledger(CompleteWithdrawal)) == 1


def test_payout_failure_after_paid_is_flagged_not_released():
    run = payout()
    run.feed(ProviderReplied(1, "approved", "po_1"), ob("payout.failed", "f"))
    assert run.state == "paid" and run.ledger(ReleaseWithdrawal) == []
    assert "conflicting_outcome" in run.anomalies()


def test_payout_controls_hold_and_block():
    held = payout(controls="review")
    assert held.state == "held" and not held.of(CallProvider)
    held.feed(ControlsDecided("allow"))
    assert held.state == "sent" and len(held.of(CallProvider)) == 1
    blocked = payout(controls=None)
    blocked.feed(ControlsDecided("block", "aml_structuring"))
    assert blocked.ledger(ReleaseWithdrawal) == [ReleaseWithdrawal("wd-1", "aml_structuring")]
