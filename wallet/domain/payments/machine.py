"""``transition(payment, event, now) -> (payment, commands)``: the gateway's sans-I/O core.

No I/O, no clock, no randomness: both shells (SimPy and live HTTP) feed the same
events and execute the returned commands, so the simulation cannot drift from
the live system. Dispatch is one dict lookup on the event's type; the payment is
updated in place (see :mod:`model`).

Invariants (property-tested for any order, permutation and duplication of events):

- at most one ``CreditDeposit`` per payment, and only after a provider said approved /
  settled (the gate is :func:`flow.settle`);
- nothing after a credit ever un-credits it, except a chain reorg / invalidation, which
  emits an explicit ``ReverseTransaction`` and an anomaly;
- an event the table does not allow changes nothing and is reported (``FlagAnomaly``),
  never raised: the event is not lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wallet.domain.payments import chain, disputes, payouts
from wallet.domain.payments import commands as k
from wallet.domain.payments import events as e
from wallet.domain.payments.commands import RouteNext, ScheduleTimeout
from wallet.domain.payments.declines import canonical
from wallet.domain.payments.flow import (
    Out,
    attempt_of,
    call,
    declined,
    expire,
    fail,
    flag,
    inquire,
    move,
    note_ref,
    provider_of,
    schedule_poll,
    settle,
)
from wallet.domain.payments.model import DEFAULT_POLICY, DEPOSIT, PAYOUT, Payment, Policy
from wallet.domain.payments.states import AFTER_CREDIT, WAITING, State
from wallet.domain.payments.webhooks import webhook_received

S = State


def start(event: e.DepositRequested | e.PayoutRequested, now: float,
          policy: Policy = DEFAULT_POLICY) -> tuple[Payment, list[k.GatewayCommand]]:
    """A new payment from its request event."""
    is_payout = isinstance(event, e.PayoutRequested)
    p = Payment(event.payment_id, PAYOUT if is_payout else DEPOSIT, event.player_id,
                event.amount, event.currency, event.method, now,
                state=S.REQUESTED if is_payout else S.CREATED)
    if isinstance(event, e.DepositRequested):
        p.country, p.bin = event.country, event.bin
    return transition(p, event, now, policy)


def transition(payment: Payment, event: e.Event, now: float,
               policy: Policy = DEFAULT_POLICY) -> tuple[Payment, list[k.GatewayCommand]]:
    out: Out = []
    handler = _HANDLERS.get(type(event))
    if handler is None:
        flag(payment, out, k.ILLEGAL_TRANSITION, f"unknown event {type(event).__name__}")
    else:
        handler(payment, event, now, policy, out)
    payment.version += 1
    payment.updated_at = now
    return payment, out


# --- requests, controls, routing -------------------------------------------------------------

def _requested(p: Payment, ev: Any, now: float, policy: Policy, out: Out) -> None:
    if p.version:  # the same request again: an idempotent replay changes nothing
        if (ev.payment_id, ev.player_id, ev.amount, ev.currency) != (p.id, p.player_id,
                                                                     p.amount, p.currency):
            flag(p, out, k.ILLEGAL_TRANSITION, "a different request reused this payment id")
        return
    p.deadline_at = now + policy.deadline(p.method)
    out.append(ScheduleTimeout(p.id, p.deadline_at, e.DEADLINE))
    if p.kind == PAYOUT:
        payouts.requested(p, ev, out)
        return
    p.provider = ev.provider
    if ev.controls is None:
        move(p, S.SCREENING, out)
    else:
        _controls(p, ev.controls, "", out)


def _controls(p: Payment, decision: str, reason: str, out: Out) -> None:
    if p.state not in (S.CREATED, S.SCREENING):
        flag(p, out, k.ILLEGAL_TRANSITION, f"controls {decision} in {p.state.value}")
    elif decision in (e.ALLOW, e.STEP_UP):
        p.step_up = decision == e.STEP_UP
        if p.provider:
            call(p, p.provider, out)
        else:
            move(p, S.AUTHORIZING, out)
            p.awaiting_route = True
            out.append(RouteNext(p.id, (), "initial"))
    elif decision == e.REVIEW:
        move(p, S.SCREENING, out)
    elif decision == e.BLOCK:
        fail(p, canonical(reason or "suspected_fraud"), out)
    else:
        flag(p, out, k.ILLEGAL_TRANSITION, f"unknown controls decision {decision!r}")


def _controls_decided(p: Payment, ev: e.ControlsDecided, now: float, policy: Policy,
                      out: Out) -> None:
    if p.kind == PAYOUT:
        payouts.controls(p, ev.decision, ev.reason, out)
    else:
        _controls(p, ev.decision, ev.reason, out)


def _routed(p: Payment, ev: e.Routed, now: float, policy: Policy, out: Out) -> None:
    if not p.awaiting_route or p.state is not S.AUTHORIZING:
        flag(p, out, k.ILLEGAL_TRANSITION, f"routed to {ev.provider} in {p.state.value}")
        return
    p.awaiting_route = False
    if ev.provider is None or ev.provider in p.tried:
        if ev.provider is not None:
            flag(p, out, k.ILLEGAL_TRANSITION, f"router offered {ev.provider} again")
        fail(p, canonical(p.last_decline or "provider_unavailable"), out)
        return
    call(p, ev.provider, out)


# --- the provider's answers ------------------------------------------------------------------

def _outcome(p: Payment, attempt: int, result: str, code: str | None, raw: str | None,
             ref: str, now: float, policy: Policy, out: Out, source: str,
             polled: bool = False) -> None:
    """Shared by the synchronous reply and the status inquiry (same meaning, same rules)."""
    note_ref(p, attempt, ref)
    if p.kind == PAYOUT:
        if attempt == p.attempt:
            payouts.outcome(p, result, code, now, policy, out, source, polled)
        return
    if result == e.APPROVED:
        settle(p, provider_of(p, attempt), p.amount, out, source)
    elif result == e.DECLINED:
        declined(p, attempt, code, raw, policy, out, source)
    elif result == e.EXPIRED:
        if attempt == p.attempt:
            expire(p, out, "expired")
    elif result == e.NOT_FOUND:  # the provider never processed the key: safe to move on
        if attempt == p.attempt and p.state is S.UNKNOWN:
            declined(p, attempt, "provider_unavailable", None, policy, out, source)
    elif attempt != p.attempt or p.awaiting_route:
        return
    elif p.state in WAITING:  # pending, or an inquiry that got no answer
        was = p.state
        if result == e.PENDING:
            move(p, S.PENDING, out)
        # One polling chain per payment: started on leaving AUTHORIZING, continued by polls.
        if polled or was is S.AUTHORIZING:
            schedule_poll(p, now, policy, out)
    elif result == e.PENDING and p.state in AFTER_CREDIT:
        flag(p, out, k.STALE_EVENT, f"{source} pending after settlement")


def _replied(p: Payment, ev: e.ProviderReplied, now: float, policy: Policy, out: Out) -> None:
    if not 0 < ev.attempt <= p.attempt:
        flag(p, out, k.ILLEGAL_TRANSITION, f"reply for attempt {ev.attempt} of {p.attempt}")
        return
    if ev.attempt == p.attempt and ev.confirmations_required is not None:
        p.confirmations_required = max(ev.confirmations_required, policy.min_confirmations)
        p.amount_due = ev.amount_due
    _outcome(p, ev.attempt, ev.outcome, ev.decline_code, ev.raw_code, ev.provider_ref, now,
             policy, out, "reply")


def _failed(p: Payment, ev: e.ProviderFailed, now: float, policy: Policy, out: Out) -> None:
    """Nothing was processed: cascading is safe (a deposit) and releasing is safe (a payout)."""
    if ev.attempt != p.attempt or p.state not in (S.AUTHORIZING, S.SENT) or p.awaiting_route:
        return
    if p.kind == PAYOUT:
        payouts.failed(p, "provider_unavailable", out)
    else:
        declined(p, ev.attempt, "provider_unavailable", ev.reason, policy, out, "transport")


def _timed_out(p: Payment, ev: e.ProviderTimedOut, now: float, policy: Policy, out: Out) -> None:
    """Outcome unknown: never cascade or release before an inquiry says what happened."""
    if ev.attempt != p.attempt:
        return
    if p.kind == PAYOUT:
        payouts.timed_out(p, now, policy, out)
    elif p.state is S.AUTHORIZING and not p.awaiting_route:
        move(p, S.UNKNOWN, out)
        schedule_poll(p, now, policy, out)


def _polled(p: Payment, ev: e.StatusPolled, now: float, policy: Policy, out: Out) -> None:
    """An answer about an earlier attempt (the poll left before a cascade) is that attempt's
    news: a decline of it must not decline the attempt now running elsewhere."""
    attempt = ev.attempt or p.attempt
    if not 0 < attempt <= p.attempt:
        flag(p, out, k.ILLEGAL_TRANSITION, f"status for attempt {attempt} of {p.attempt}")
        return
    _outcome(p, attempt, ev.outcome, ev.decline_code, ev.raw_code, ev.provider_ref, now,
             policy, out, "poll", polled=attempt == p.attempt)


def _expired(p: Payment, ev: e.Expired, now: float, policy: Policy, out: Out) -> None:
    if p.kind == PAYOUT:
        if ev.kind == e.POLL:
            payouts.poll_due(p, out)
        elif ev.kind == e.DEADLINE:
            payouts.deadline(p, out)
    elif ev.kind == e.POLL:
        if p.state in (S.PENDING, S.UNKNOWN):
            inquire(p, out)
    elif ev.kind == e.DEADLINE and p.state in (S.CREATED, S.SCREENING, S.AUTHORIZING,
                                               S.PENDING, S.UNKNOWN):
        if p.state is S.UNKNOWN:
            flag(p, out, k.UNRESOLVED, "outcome still unknown at the deadline")
        p.awaiting_route = False
        expire(p, out, "expired")


# --- after settlement ------------------------------------------------------------------------

def _chargeback(p: Payment, ev: e.ChargebackReceived, now: float, policy: Policy,
                out: Out) -> None:
    disputes.chargeback(p, ev, out)


def _refund(p: Payment, ev: e.RefundConfirmed, now: float, policy: Policy, out: Out) -> None:
    disputes.refund(p, ev, out)


def _payout_returned(p: Payment, ev: e.PayoutReturned, now: float, policy: Policy,
                     out: Out) -> None:
    if ev.event_id:
        if ev.event_id in p.seen:
            return
        p.seen.add(ev.event_id)
    if p.kind != PAYOUT:
        flag(p, out, k.ILLEGAL_TRANSITION, "payout returned for a deposit")
    else:
        payouts.returned(p, ev.reason, out)


def _confirmation(p: Payment, ev: e.ConfirmationSeen, now: float, policy: Policy,
                  out: Out) -> None:
    if ev.event_id:
        if ev.event_id in p.seen:
            return
        p.seen.add(ev.event_id)
    chain.confirm(p, ev.n, ev.paid, policy, out, p.provider or "", "confirmation")


def _reorged(p: Payment, ev: e.Reorged, now: float, policy: Policy, out: Out) -> None:
    if ev.event_id:
        if ev.event_id in p.seen:
            return
        p.seen.add(ev.event_id)
    chain.reorged(p, out)


Handler = Callable[[Payment, Any, float, Policy, Out], None]
_HANDLERS: dict[type, Handler] = {
    e.DepositRequested: _requested,
    e.PayoutRequested: _requested,
    e.ControlsDecided: _controls_decided,
    e.Routed: _routed,
    e.ProviderReplied: _replied,
    e.ProviderFailed: _failed,
    e.ProviderTimedOut: _timed_out,
    e.StatusPolled: _polled,
    e.Expired: _expired,
    e.ChargebackReceived: _chargeback,
    e.RefundConfirmed: _refund,
    e.PayoutReturned: _payout_returned,
    e.ConfirmationSeen: _confirmation,
    e.Reorged: _reorged,
    e.WebhookReceived: webhook_received,
}

__all__ = ["attempt_of", "start", "transition"]
