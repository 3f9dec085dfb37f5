"""Payouts: the wallet already holds the funds; pay them, release them, or take a return.

The rule that matters: a payout whose outcome is unknown is NEVER released on our own
clock. Releasing the hold and then learning the bank paid it would pay the player twice,
so UNKNOWN waits for an answer (polling) and an operator, not for a deadline.
"""

from __future__ import annotations

from wallet.domain.commands import CompleteWithdrawal, ReleaseWithdrawal, ReturnPayout
from wallet.domain.payments import commands as k
from wallet.domain.payments.commands import MarkFailed
from wallet.domain.payments.declines import canonical
from wallet.domain.payments.events import (
    ALLOW,
    APPROVED,
    BLOCK,
    DECLINED,
    EXPIRED,
    NOT_FOUND,
    PENDING,
    REVIEW,
    STEP_UP,
    PayoutRequested,
)
from wallet.domain.payments.flow import Out, call, flag, inquire, move, post, schedule_poll
from wallet.domain.payments.model import Payment, Policy
from wallet.domain.payments.states import State

S = State
_OPEN = frozenset({S.REQUESTED, S.HELD, S.SENT, S.UNKNOWN})


def requested(p: Payment, ev: PayoutRequested, out: Out) -> None:
    p.provider = ev.provider
    controls(p, ev.controls, "", out)


def controls(p: Payment, decision: str | None, reason: str, out: Out) -> None:
    if decision is None:
        return  # wait in REQUESTED for ControlsDecided
    if p.state not in (S.REQUESTED, S.HELD):
        flag(p, out, k.ILLEGAL_TRANSITION, f"controls {decision} in {p.state.value}")
    elif decision == ALLOW:
        call(p, p.provider or "", out)
    elif decision in (REVIEW, STEP_UP):
        move(p, S.HELD, out)
    elif decision == BLOCK:
        failed(p, reason or "blocked_by_controls", out)
    else:
        flag(p, out, k.ILLEGAL_TRANSITION, f"unknown controls decision {decision!r}")


def paid(p: Payment, out: Out, source: str) -> None:
    if p.state in (S.SENT, S.UNKNOWN):
        move(p, S.PAID, out)
        post(p, out, CompleteWithdrawal, p.id)
    elif p.state is S.FAILED:
        flag(p, out, k.PAID_AFTER_RELEASE, f"{source} after the hold was released")
    elif p.state not in (S.PAID, S.RETURNED):
        flag(p, out, k.ILLEGAL_TRANSITION, f"{source} in {p.state.value}")


def failed(p: Payment, reason: str, out: Out) -> None:
    if p.state in _OPEN:
        move(p, S.FAILED, out)
        post(p, out, ReleaseWithdrawal, p.id, reason)
        out.append(MarkFailed(p.id, reason, canonical(reason).message))
    elif p.state in (S.PAID, S.RETURNED):
        flag(p, out, k.CONFLICTING_OUTCOME, f"{reason} after paid; not released")


def returned(p: Payment, reason: str, out: Out) -> None:
    if p.state is S.PAID:
        move(p, S.RETURNED, out)
        post(p, out, ReturnPayout, p.id, reason)
    elif p.state is not S.RETURNED:
        flag(p, out, k.ILLEGAL_TRANSITION, f"payout returned in {p.state.value}")


def outcome(p: Payment, result: str, code: str | None, now: float, policy: Policy,
            out: Out, source: str, polled: bool = False) -> None:
    """A reply or a poll for the current attempt."""
    if result == APPROVED:
        paid(p, out, source)
    elif result in (DECLINED, EXPIRED, NOT_FOUND):
        if p.state in (S.SENT, S.UNKNOWN):
            failed(p, canonical(code).code if result == DECLINED else
                   ("provider_unavailable" if result == NOT_FOUND else "expired"), out)
        elif p.state in (S.PAID, S.RETURNED):
            flag(p, out, k.CONFLICTING_OUTCOME, f"{source} {result} after paid")
    elif p.state in (S.SENT, S.UNKNOWN):  # pending or unknown: keep asking
        was = p.state
        if result == PENDING:
            move(p, S.SENT, out)
        if polled or was is S.SENT:  # one polling chain: a late reply joins the running one
            schedule_poll(p, now, policy, out)


def timed_out(p: Payment, now: float, policy: Policy, out: Out) -> None:
    if p.state is S.SENT:
        move(p, S.UNKNOWN, out)
        schedule_poll(p, now, policy, out)


def poll_due(p: Payment, out: Out) -> None:
    if p.state in (S.SENT, S.UNKNOWN):
        inquire(p, out)


def deadline(p: Payment, out: Out) -> None:
    if p.state in (S.SENT, S.UNKNOWN):
        flag(p, out, k.UNRESOLVED, f"payout still {p.state.value} at the deadline; not released")
