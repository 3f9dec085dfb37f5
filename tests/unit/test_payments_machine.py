"""The card / e-wallet / bank races, each through the state machine."""

from __future__ import annotations

from wallet.domain.commands import Chargeback, CreditDeposit, Refund
from wallet.domain.payments import (
    LEGAL,
    CallProvider,
    ChargebackReceived,
    ControlsDecided,
    Expired,
    FlagAnomaly,
    InquireStatus,
    MarkFailed,
    ProviderFailed,
    ProviderReplied,
    ProviderTimedOut,
    RefundConfirmed,
    Routed,
    RouteNext,
    ScheduleTimeout,
    State,
    StatusPolled,
    WebhookReceived,
    attempt_key,
    payment_of_key,
)
from wallet.domain.payments.events import DEADLINE, POLL

from .payments_helpers import deposit


def wh(type_: str, eid: str, provider: str = "acme", ref: str = "pay_1", seq: int | None = None,
       **data: object) -> WebhookReceived:
    return WebhookReceived(type_, eid, ref, provider, "dep-1", seq, data)


def test_request_calls_the_provider_with_a_deterministic_key_and_schedules_a_deadline():
    run = deposit()
    call = run.of(CallProvider)
    assert call == [CallProvider("dep-1", "acme", 1, "dep-1-a1")]
    assert call[0].idempotency_key == attempt_key("dep-1", 1)
    assert payment_of_key("dep-1-a1") == "dep-1"
    assert [t.kind for t in run.of(ScheduleTimeout)] == [DEADLINE]
    assert run.state == "authorizing"


def test_synchronous_approval_credits_once():
    run = deposit()
    run.feed(ProviderReplied(1, "approved", "pay_1"))
    assert run.credits() == [CreditDeposit("u1", "acme", "dep-1", 2500, "EUR")]
    run.feed(ProviderReplied(1, "approved", "pay_1"), wh("payment.succeeded", "e2", seq=2))
    assert len(run.credits()) == 1
    assert run.state == "succeeded"


def test_webhook_before_the_api_response():
    run = deposit()
    run.feed(wh("payment.succeeded", "e2", seq=2))
    assert run.state == "succeeded" and len(run.credits()) == 1
    run.feed(ProviderReplied(1, "approved", "pay_1"))
    assert len(run.credits()) == 1 and run.anomalies() == []


def test_duplicate_webhooks_are_a_no_op():
    run = deposit()
    run.feed(wh("payment.succeeded", "e2", seq=2))
    before = run.payment.version
    out = run.feed(wh("payment.succeeded", "e2", seq=2), wh("payment.succeeded", "e2", seq=2))
    assert out == [] and len(run.credits()) == 1
    assert run.payment.version == before + 2  # seen, but nothing emitted


def test_late_failure_after_success_is_flagged_and_never_uncredits():
    run = deposit()
    run.feed(ProviderReplied(1, "approved", "pay_1"), wh("payment.succeeded", "e2", seq=2))
    out = run.feed(wh("payment.failed", "e0", seq=0, decline_code="do_not_honor", superseded=True),
                   wh("payment.failed", "e3", seq=3, decline_code="do_not_honor"))
    assert run.state == "succeeded"
    # the superseded attempt's failure is old news; the credited attempt's own refusal is not
    assert sorted(run.anomalies()) == ["conflicting_outcome", "stale_event"]
    assert not [c for c in out if not isinstance(c, FlagAnomaly)]
    assert len(run.credits()) == 1


def test_stale_processing_after_success_is_reported_not_applied():
    run = deposit()
    run.feed(wh("payment.succeeded", "e2", seq=2), wh("payment.processing", "e1", seq=1))
    assert run.state == "succeeded" and "stale_event" in run.anomalies()


def test_stale_failure_before_success_does_not_decline():
    run = deposit()
    run.feed(wh("payment.requires_action", "e1", seq=1),
             wh("payment.failed", "e0", seq=0, decline_code="do_not_honor", superseded=True))
    assert run.state == "pending" and not run.of(MarkFailed) and not run.of(RouteNext)
    run.feed(wh("payment.succeeded", "e2", seq=2))
    assert len(run.credits()) == 1


def test_sequence_zero_is_a_sequence():
    """globex numbers a payment's events from 0 and has no superseded flag: its superseded
    attempt's failure (0) after the success (2) is old news, not a conflict."""
    run = deposit()
    run.feed(ProviderReplied(1, "approved", "pay_1"), wh("payment.succeeded", "e2", seq=2))
    run.feed(wh("payment.failed", "e0", seq=0, decline_code="do_not_honor"))
    assert run.state == "succeeded" and len(run.credits()) == 1
    assert run.anomalies() == ["stale_event"]
    run.feed(wh("payment.failed", "e9", decline_code="do_not_honor"))  # no sequence: it stands
    assert run.anomalies() == ["stale_event", "conflicting_outcome"]


def test_timeout_then_inquiry_then_late_success_credited_once():
    run = deposit()
    run.feed(ProviderTimedOut(1))
    assert run.state == "unknown" and not run.of(RouteNext)
    polls = [t for t in run.of(ScheduleTimeout) if t.kind == POLL]
    assert len(polls) == 1
    run.feed(Expired(POLL))
    assert run.of(InquireStatus) == [InquireStatus("dep-1", "acme", None, "dep-1-a1", 1)]
    run.feed(StatusPolled("pending", "pay_1"))
    assert run.state == "pending" and run.payment.provider_ref == "pay_1"
    run.feed(Expired(POLL), StatusPolled("approved", "pay_1"))
    run.feed(ProviderReplied(1, "approved", "pay_1"), wh("payment.succeeded", "e2", seq=2))
    assert len(run.credits()) == 1 and run.state == "succeeded"


def test_timeout_inquiry_without_an_answer_keeps_polling_and_never_cascades():
    run = deposit()
    run.feed(ProviderTimedOut(1), Expired(POLL), StatusPolled("unknown"), Expired(POLL),
             StatusPolled("unknown"))
    assert run.state == "unknown" and not run.of(RouteNext) and not run.of(MarkFailed)
    assert len([t for t in run.of(ScheduleTimeout) if t.kind == POLL]) == 3
    run.feed(Expired(DEADLINE))
    assert run.state == "expired" and "unresolved" in run.anomalies()
    run.feed(wh("payment.succeeded", "e2", seq=2))  # money truth wins, flagged
    assert len(run.credits()) == 1 and "paid_after_expiry" in run.anomalies()


def test_timeout_then_not_found_cascades_safely():
    run = deposit()
    run.feed(ProviderTimedOut(1), Expired(POLL), StatusPolled("not_found"))
    assert run.of(RouteNext) == [RouteNext("dep-1", ("acme",), "provider_unavailable")]


def test_lost_webhook_found_by_polling():
    run = deposit(provider="paywave", method="ewallet")
    run.feed(ProviderReplied(1, "pending", "ew_1", redirect_url="https://pw/approve"))
    assert run.state == "pending"
    assert [t.kind for t in run.of(ScheduleTimeout)] == [DEADLINE, POLL]
    run.feed(Expired(POLL), StatusPolled("pending", "ew_1"), Expired(POLL),
             StatusPolled("approved", "ew_1"))
    assert len(run.of(InquireStatus)) == 2
    assert run.credits() == [CreditDeposit("u1", "paywave", "dep-1", 2500, "EUR")]


def test_three_ds_pending_then_resolved_by_webhook():
    run = deposit()
    run.feed(ProviderReplied(1, "pending", "pay_1", redirect_url="https://acme/3ds"))
    assert run.state == "pending" and run.credits() == []
    run.feed(wh("payment.requires_action", "e1", seq=1), wh("payment.succeeded", "e2", seq=2))
    assert run.state == "succeeded" and len(run.credits()) == 1


def test_three_ds_failure_is_a_hard_decline():
    run = deposit()
    run.feed(ProviderReplied(1, "pending", "pay_1"),
             wh("payment.failed", "e2", seq=2, decline_code="three_ds_failed"))
    assert run.state == "failed" and not run.of(RouteNext)
    assert run.of(MarkFailed)[0].reason == "three_ds_failed"


def test_soft_decline_cascades_to_another_provider_bounded_and_never_twice():
    run = deposit()
    run.feed(ProviderReplied(1, "declined", "pay_1", "do_not_honor"))
    assert run.of(RouteNext) == [RouteNext("dep-1", ("acme",), "do_not_honor")]
    run.feed(wh("payment.failed", "e2", seq=2, decline_code="do_not_honor"))  # same news again
    assert len(run.of(RouteNext)) == 1
    run.feed(Routed("globex"))
    assert run.of(CallProvider)[-1] == CallProvider("dep-1", "globex", 2, "dep-1-a2")
    run.feed(ProviderFailed(2, "http_503"))
    assert run.of(RouteNext)[-1].exclude == ("acme", "globex")
    run.feed(Routed("acme"))  # the router offered a provider already tried
    assert run.state == "failed" and "illegal_transition" in run.anomalies()
    assert [c.provider for c in run.of(CallProvider)] == ["acme", "globex"]


def test_cascade_stops_at_max_attempts():
    run = deposit()
    for attempt, provider in enumerate(["globex", "paywave"], start=2):
        run.feed(ProviderReplied(attempt - 1, "declined", f"r{attempt}", "processing_error"))
        run.feed(Routed(provider))
    run.feed(ProviderReplied(3, "declined", "r4", "processing_error"))
    assert len(run.of(CallProvider)) == 3 and len(run.of(RouteNext)) == 2
    assert run.state == "failed" and run.of(MarkFailed)[0].reason == "processing_error"


def test_hard_and_fraud_declines_fail_without_cascading():
    for code in ("insufficient_funds", "suspected_fraud", "stolen_card", "expired_card"):
        run = deposit()
        run.feed(ProviderReplied(1, "declined", "pay_1", code))
        assert run.state == "failed" and not run.of(RouteNext), code


def test_unknown_decline_code_is_hard_and_reported():
    run = deposit()
    run.feed(ProviderReplied(1, "declined", "pay_1", "mystery", raw_code="Z9"))
    assert run.state == "failed" and not run.of(RouteNext)
    assert "unknown_decline_code" in run.anomalies()


def test_late_success_from_a_superseded_attempt_is_credited_and_a_second_is_flagged():
    run = deposit()
    run.feed(ProviderReplied(1, "declined", "pay_1", "do_not_honor"), Routed("globex"))
    run.feed(wh("payment.succeeded", "eA", provider="acme", ref="pay_1", seq=3))
    assert run.credits()[0].provider == "acme"
    run.feed(ProviderReplied(2, "approved", "g_1"))
    assert len(run.credits()) == 1 and "double_settlement" in run.anomalies()


def test_late_decline_of_an_attempt_already_cascaded_from_is_no_conflict():
    run = deposit()
    run.feed(ProviderReplied(1, "declined", "pay_1", "do_not_honor"), Routed("globex"))
    run.feed(ProviderReplied(2, "approved", "g_1"))
    run.feed(wh("payment.failed", "eA", provider="acme", ref="pay_1", seq=2,
                decline_code="do_not_honor"))
    assert "conflicting_outcome" not in run.anomalies() and len(run.credits()) == 1
    run.feed(wh("payment.failed", "eG", provider="globex", ref="g_1", seq=5,
                decline_code="do_not_honor"))  # the credited attempt's own refusal
    assert "conflicting_outcome" in run.anomalies() and run.state == "succeeded"


def test_a_poll_answer_for_an_attempt_already_cascaded_from_does_not_fail_the_next():
    """Found by the checker (lost_webhooks_polling): the poll for attempt 1 came back after
    its webhook had already cascaded to globex, and declined attempt 2 with attempt 1's news."""
    run = deposit()
    run.feed(ProviderReplied(1, "pending", "pay_1"))
    run.feed(wh("payment.failed", "e1", seq=2, decline_code="do_not_honor"), Routed("globex"))
    run.feed(StatusPolled("declined", "pay_1", "do_not_honor", attempt=1))
    assert run.state == "authorizing" and len(run.of(RouteNext)) == 1
    run.feed(ProviderReplied(2, "approved", "g_1"))
    assert run.credits()[0].provider == "globex"


def test_no_first_provider_asks_the_router():
    run = deposit(provider=None)
    assert run.of(RouteNext) == [RouteNext("dep-1", (), "initial")]
    run.feed(Routed(None))
    assert run.state == "failed"


def test_controls_seam_review_then_allow_block_and_step_up():
    run = deposit(controls=None)
    assert run.state == "screening" and not run.of(CallProvider)
    run.feed(ControlsDecided("review", "aml"))
    assert run.state == "screening" and not run.of(CallProvider)
    run.feed(ControlsDecided("allow"))
    assert run.of(CallProvider)[0].step_up is False
    blocked = deposit(controls="block")
    assert blocked.state == "failed" and not blocked.of(CallProvider)
    stepped = deposit(controls="step_up")
    assert stepped.of(CallProvider)[0].step_up is True


def test_chargeback_and_refund_after_credit():
    run = deposit()
    run.feed(ProviderReplied(1, "approved", "pay_1"))
    run.feed(RefundConfirmed("r1", 1000), RefundConfirmed("r1", 1000))
    assert run.ledger(Refund) == [Refund("acme", "dep-1", "r1", 1000)]
    assert run.state == "succeeded"
    run.feed(wh("chargeback.created", "cb1", amount=2500, fee=1500),
             wh("chargeback.created", "cb1", amount=2500, fee=1500))
    assert run.ledger(Chargeback) == [Chargeback("acme", "dep-1", 1500, 1500, "fraud")]
    assert run.state == "charged_back"


def test_full_refund_by_webhook_and_chargeback_without_credit_is_flagged():
    run = deposit()
    run.feed(ProviderReplied(1, "approved", "pay_1"), wh("refund.succeeded", "rf", amount=2500))
    assert run.state == "refunded" and run.ledger(Refund)[0].refund_id == "rf"
    never = deposit()
    never.feed(ChargebackReceived(2500))
    assert never.ledger() == [] and "not_credited" in never.anomalies()


def test_timer_that_no_longer_applies_is_ignored_silently():
    run = deposit()
    run.feed(ProviderReplied(1, "approved", "pay_1"))
    assert run.feed(Expired(POLL), Expired(DEADLINE)) == []
    assert run.state == "succeeded"


def test_illegal_event_changes_nothing_and_is_flagged():
    run = deposit()
    run.feed(ProviderReplied(1, "declined", "pay_1", "insufficient_funds"))
    out = run.feed(Routed("globex"), ProviderReplied(7, "approved", "x"))
    assert run.state == "failed" and run.credits() == []
    assert [c.kind for c in out] == ["illegal_transition", "illegal_transition"]


def test_the_legal_table_is_closed():
    for state, targets in LEGAL.items():
        assert targets <= set(State), state
    assert set(LEGAL) == set(State)
    assert State.SUCCEEDED not in LEGAL[State.REVERSED]
