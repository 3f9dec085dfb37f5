"""Properties for ANY order, permutation and duplication of a payment's events.

Each test draws a sequence from a pool of everything a provider, the network,
the router and the clock could tell one payment (conflicting stories included)
and checks the money rules after every step.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wallet.domain.commands import (
    CompleteWithdrawal,
    CreditDeposit,
    ReleaseWithdrawal,
    ReturnPayout,
    ReverseTransaction,
)
from wallet.domain.payments import (
    LEGAL,
    CallProvider,
    ChargebackReceived,
    ConfirmationSeen,
    ControlsDecided,
    DepositRequested,
    Event,
    Expired,
    MarkFailed,
    PayoutRequested,
    PayoutReturned,
    PostToLedger,
    ProviderFailed,
    ProviderReplied,
    ProviderTimedOut,
    RefundConfirmed,
    Reorged,
    Routed,
    State,
    StatusPolled,
    WebhookReceived,
    start,
    transition,
)
from wallet.domain.payments.events import DEADLINE, POLL


def wh(type_: str, eid: str, provider: str = "acme", ref: str = "pay_1", seq: int = 0,
       **data: object) -> WebhookReceived:
    return WebhookReceived(type_, eid, ref, provider, "dep-1", seq, data)


CARD_POOL: list[Event] = [
    ProviderReplied(1, "approved", "pay_1"), ProviderReplied(1, "declined", "pay_1", "do_not_honor"),
    ProviderReplied(1, "declined", "pay_1", "insufficient_funds"),
    ProviderReplied(1, "pending", "pay_1"), ProviderReplied(1, "declined", "pay_1", "weird"),
    ProviderFailed(1, "http_429"), ProviderTimedOut(1),
    ProviderReplied(2, "approved", "g_1"), ProviderReplied(2, "declined", "g_1", "processing_error"),
    ProviderTimedOut(2), ProviderFailed(2, "reset"),
    StatusPolled("approved", "pay_1"), StatusPolled("declined", "pay_1", "do_not_honor"),
    StatusPolled("pending"), StatusPolled("unknown"), StatusPolled("not_found"),
    StatusPolled("expired"),
    wh("payment.processing", "e1", seq=1), wh("payment.requires_action", "e1b", seq=1),
    wh("payment.succeeded", "e2", seq=2),
    wh("payment.failed", "e0", seq=0, decline_code="do_not_honor", superseded=True),
    wh("payment.failed", "e3", seq=2, decline_code="do_not_honor"),
    wh("payment.expired", "e4", seq=2),
    wh("payment.succeeded", "g2", provider="globex", ref="g_1", seq=2),
    wh("payment.failed", "g3", provider="globex", ref="g_1", seq=2, decline_code="51"),
    wh("payment.succeeded", "x9", provider="paywave", ref="pw_1", seq=2),
    wh("refund.succeeded", "rf", amount=1000), wh("chargeback.created", "cb", amount=2500),
    RefundConfirmed("r2", 500), ChargebackReceived(None, 1500),
    Routed("globex"), Routed("acme"), Routed(None),
    Expired(POLL), Expired(DEADLINE), ControlsDecided("allow"), ControlsDecided("block"),
    DepositRequested("dep-1", "u1", 2500, "EUR", "card", "acme"),
]
SETTLING = (ProviderReplied, StatusPolled, WebhookReceived, ConfirmationSeen)
UNDONE = frozenset({State.SUCCEEDED, State.REFUNDED, State.CHARGED_BACK, State.REVERSED})


def _is_positive(ev: Event) -> bool:
    if isinstance(ev, ProviderReplied | StatusPolled):
        return ev.outcome == "approved"
    if isinstance(ev, WebhookReceived):
        return ev.type in ("payment.succeeded", "invoice.settled", "invoice.confirmed",
                           "invoice.payment_seen", "invoice.expired")
    return isinstance(ev, ConfirmationSeen)


def _run(first: DepositRequested | PayoutRequested, events: list[Event]) -> list[tuple]:
    """Feed every event; check each state change against the table; (event, commands) log."""
    p, cmds = start(first, 0.0)
    log: list[tuple] = [(first, cmds)]
    for i, ev in enumerate(events, start=1):
        before = p.state
        _, cmds = transition(p, ev, float(i))
        assert p.state is before or p.state in LEGAL[before], (before, p.state, ev)
        log.append((ev, cmds))
    return log


def _ledger(log: list[tuple]) -> list[tuple[Event, object]]:
    return [(ev, c.command) for ev, cmds in log for c in cmds if isinstance(c, PostToLedger)]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(CARD_POOL), max_size=30))
def test_card_any_order_at_most_one_credit_only_on_settlement_never_uncredited(events):
    log = _run(DepositRequested("dep-1", "u1", 2500, "EUR", "card", "acme"), events)
    credits = [(ev, c) for ev, c in _ledger(log) if isinstance(c, CreditDeposit)]
    assert len(credits) <= 1
    for ev, _ in credits:
        assert isinstance(ev, SETTLING) and _is_positive(ev)
    assert not [c for _, c in _ledger(log) if isinstance(c, ReverseTransaction)]
    credited = False
    for _, cmds in log:
        if credited:  # after the credit: no failure, no second credit, ever
            assert not [c for c in cmds if isinstance(c, MarkFailed)]
        credited |= any(isinstance(c, PostToLedger) and isinstance(c.command, CreditDeposit)
                        for c in cmds)
    calls = [c for _, cmds in log for c in cmds if isinstance(c, CallProvider)]
    assert len(calls) <= 3
    assert len({c.provider for c in calls}) == len(calls)  # never the same provider twice
    assert len({c.idempotency_key for c in calls}) == len(calls)


def cp(type_: str, eid: str, **data: object) -> WebhookReceived:
    return WebhookReceived(type_, eid, "inv_1", "chainpay-btc", "c-1", 0, data)


DUE = 50_000
CRYPTO_POOL: list[Event] = [
    ProviderReplied(1, "pending", "inv_1", confirmations_required=2, amount_due=DUE),
    cp("invoice.payment_seen", "s", paid=DUE, confirmations=0),
    cp("invoice.payment_seen", "s2", paid=DUE // 3, confirmations=0),
    cp("invoice.confirmed", "c1", paid=DUE, confirmations=1),
    cp("invoice.settled", "st", paid=DUE, confirmations=2),
    cp("invoice.settled", "st2", paid=DUE * 2, confirmations=2, exception="paid_over"),
    cp("invoice.expired", "ex", paid=0),
    cp("invoice.expired", "exp", paid=DUE // 2, exception="paid_partial"),
    cp("invoice.invalid", "inv", reason="double_spend"),
    cp("invoice.invalid", "inv2", reason="reorged_out"),
    cp("invoice.reorged", "rg", confirmations=0), Reorged(), Reorged(event_id="rg"),
    ConfirmationSeen(1, DUE), ConfirmationSeen(2, DUE), ConfirmationSeen(6),
    StatusPolled("approved", "inv_1"), StatusPolled("pending"), StatusPolled("expired"),
    ProviderTimedOut(1), Expired(POLL), Expired(DEADLINE),
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(CRYPTO_POOL), max_size=30))
def test_crypto_any_order_at_most_one_credit_and_reversal_only_after_a_credit(events):
    log = _run(DepositRequested("c-1", "u1", 3000, "EUR", "crypto", "chainpay-btc"), events)
    ledger = [c for _, c in _ledger(log)]
    credits = [c for c in ledger if isinstance(c, CreditDeposit)]
    reversals = [c for c in ledger if isinstance(c, ReverseTransaction)]
    assert len(credits) <= 1 and len(reversals) <= len(credits)
    if reversals:
        assert ledger.index(reversals[0]) > ledger.index(credits[0])
    for ev, c in _ledger(log):
        if isinstance(c, CreditDeposit):
            assert _is_positive(ev) and c.amount > 0


PAYOUT_POOL: list[Event] = [
    ProviderReplied(1, "pending", "po_1"), ProviderReplied(1, "approved", "po_1"),
    ProviderReplied(1, "declined", "po_1", "do_not_honor"), ProviderFailed(1, "http_429"),
    ProviderTimedOut(1), StatusPolled("approved"), StatusPolled("declined"),
    StatusPolled("unknown"), StatusPolled("not_found"),
    WebhookReceived("payout.pending", "p0", "po_1", "openbank"),
    WebhookReceived("payout.paid", "p1", "po_1", "openbank"),
    WebhookReceived("payout.failed", "p2", "po_1", "openbank"),
    WebhookReceived("payout.returned", "p3", "po_1", "openbank", data={"reason": "account_closed"}),
    PayoutReturned("name_mismatch"), Expired(POLL), Expired(DEADLINE),
    ControlsDecided("allow"), ControlsDecided("block"),
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PAYOUT_POOL), max_size=25))
def test_payout_any_order_paid_or_released_never_both(events):
    log = _run(PayoutRequested("wd-1", "u1", 10_000, "EUR", "bank", "openbank"), events)
    ledger = [c for _, c in _ledger(log)]
    done = [c for c in ledger if isinstance(c, CompleteWithdrawal | ReleaseWithdrawal)]
    assert len(done) <= 1
    returns = [c for c in ledger if isinstance(c, ReturnPayout)]
    assert len(returns) <= 1
    if returns:
        assert isinstance(done[0], CompleteWithdrawal)
    released_on_timeout = [ev for ev, c in _ledger(log) if isinstance(c, ReleaseWithdrawal)
                           and isinstance(ev, ProviderTimedOut | Expired)]
    assert released_on_timeout == []
