"""``WebhookReceived``: dedupe on the provider's event id, find the attempt, then apply the
same rules as the synchronous path.

A webhook can arrive before the API reply, twice, or after a newer one. Duplicates
(same event id) change nothing. An event older than one already applied (lower
``sequence``, or marked superseded) is stale: reported as ``stale_event``, not applied,
even when it is a failure arriving after the credit, since the provider itself says
it is old news. A failure the provider still stands by after settlement (the credited
attempt's own refusal) is a ``conflicting_outcome`` for a human. Dispatch is a dict
on the canonical type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wallet.domain.payments import chain, disputes, payouts
from wallet.domain.payments import commands as k
from wallet.domain.payments import events as e
from wallet.domain.payments.flow import (
    Out,
    attempt_of,
    declined,
    expire,
    flag,
    move,
    note_ref,
    provider_of,
    schedule_poll,
    settle,
)
from wallet.domain.payments.model import PAYOUT, Payment, Policy
from wallet.domain.payments.states import State

S = State


def webhook_received(p: Payment, ev: e.WebhookReceived, now: float, policy: Policy,
                     out: Out) -> None:
    eid = ev.event_id
    if eid:
        if eid in p.seen:
            return
        p.seen.add(eid)
    attempt = attempt_of(p, ev.provider, ev.provider_ref)
    if attempt == 0:
        flag(p, out, k.ILLEGAL_TRANSITION, f"{ev.type} from {ev.provider}, never called")
        return
    note_ref(p, attempt, ev.provider_ref)
    stale = False
    if ev.sequence is not None and attempt == p.attempt:
        stale = ev.sequence < p.seq
        p.seq = max(p.seq, ev.sequence)
    handler = _BY_TYPE.get(ev.type)
    if handler is None:
        flag(p, out, k.ILLEGAL_TRANSITION, f"unknown webhook type {ev.type!r}")
        return
    handler(p, ev, attempt, stale, now, policy, out)


def _succeeded(p: Payment, ev: e.WebhookReceived, attempt: int, stale: bool, now: float,
               policy: Policy, out: Out) -> None:
    if p.kind == PAYOUT:
        payouts.paid(p, out, ev.type)
    else:
        settle(p, provider_of(p, attempt), p.amount, out, ev.type)


def _failed(p: Payment, ev: e.WebhookReceived, attempt: int, stale: bool, now: float,
            policy: Policy, out: Out) -> None:
    code = ev.data.get("decline_code")
    if stale or ev.data.get("superseded"):  # older news, by the provider's own word: no conflict
        flag(p, out, k.STALE_EVENT, f"stale {ev.type} ({code}) in {p.state.value}")
    elif p.kind == PAYOUT:
        if attempt == p.attempt:
            payouts.failed(p, code or "do_not_honor", out)
    else:
        declined(p, attempt, code, ev.data.get("raw_code"), policy, out, ev.type)


def _info(p: Payment, ev: e.WebhookReceived, attempt: int, stale: bool, now: float,
          policy: Policy, out: Out) -> None:
    if attempt != p.attempt or p.awaiting_route:
        return
    if p.kind == PAYOUT:
        if p.state is S.UNKNOWN:
            move(p, S.SENT, out)
    elif p.state in (S.AUTHORIZING, S.UNKNOWN):  # may outrun the reply (3-D Secure, redirect)
        was = p.state
        move(p, S.PENDING, out)
        if was is S.AUTHORIZING:
            schedule_poll(p, now, policy, out)
    elif p.state is not S.PENDING:
        flag(p, out, k.STALE_EVENT, f"{ev.type} in {p.state.value}")


def _expired(p: Payment, ev: e.WebhookReceived, attempt: int, stale: bool, now: float,
             policy: Policy, out: Out) -> None:
    if p.credited:
        flag(p, out, k.CONFLICTING_OUTCOME, f"{ev.type} after settlement; credit kept")
    elif attempt == p.attempt and not p.awaiting_route:
        expire(p, out, "expired")


def _refund(p: Payment, ev: e.WebhookReceived, attempt: int, stale: bool, now: float,
            policy: Policy, out: Out) -> None:
    disputes.refund(p, e.RefundConfirmed(ev.event_id, _int(ev.data.get("amount"))), out)


def _chargeback(p: Payment, ev: e.WebhookReceived, attempt: int, stale: bool, now: float,
                policy: Policy, out: Out) -> None:
    d = ev.data
    disputes.chargeback(p, e.ChargebackReceived(
        _int(d.get("amount")), _int(d.get("fee")) or 0, str(d.get("reason") or "fraud")), out)


def _returned(p: Payment, ev: e.WebhookReceived, attempt: int, stale: bool, now: float,
              policy: Policy, out: Out) -> None:
    if p.kind != PAYOUT:
        flag(p, out, k.ILLEGAL_TRANSITION, "payout returned for a deposit")
    else:
        payouts.returned(p, str(ev.data.get("reason") or "returned"), out)


def _seen(p: Payment, ev: e.WebhookReceived, attempt: int, stale: bool, now: float,
          policy: Policy, out: Out) -> None:
    chain.seen(p, _int(ev.data.get("paid")), policy, out, provider_of(p, attempt))


def _confirmed(p: Payment, ev: e.WebhookReceived, attempt: int, stale: bool, now: float,
               policy: Policy, out: Out) -> None:
    n = _int(ev.data.get("confirmations"))
    chain.confirm(p, 1 if n is None else n, _int(ev.data.get("paid")), policy, out,
                  provider_of(p, attempt), ev.type)


def _settled(p: Payment, ev: e.WebhookReceived, attempt: int, stale: bool, now: float,
             policy: Policy, out: Out) -> None:
    n = _int(ev.data.get("confirmations"))
    if p.state is S.EXPIRED and not p.paid_late:  # settled without a "seen": late all the same
        chain.seen(p, _int(ev.data.get("paid")), policy, out, provider_of(p, attempt))
    if n is None:
        n = p.confirmations_required or 0
    chain.confirm(p, n, _int(ev.data.get("paid")), policy, out, provider_of(p, attempt), ev.type,
                  settled=True)


def _invoice_expired(p: Payment, ev: e.WebhookReceived, attempt: int, stale: bool,
                     now: float, policy: Policy, out: Out) -> None:
    chain.invoice_expired(p, ev.data, policy, out, provider_of(p, attempt))


def _invalid(p: Payment, ev: e.WebhookReceived, attempt: int, stale: bool, now: float,
             policy: Policy, out: Out) -> None:
    chain.invalid(p, str(ev.data.get("reason") or "double_spend"), attempt, policy, out)


def _reorged(p: Payment, ev: e.WebhookReceived, attempt: int, stale: bool, now: float,
             policy: Policy, out: Out) -> None:
    chain.reorged(p, out)


def _int(value: object) -> int | None:
    return value if type(value) is int else None


_Handler = Callable[[Payment, e.WebhookReceived, int, bool, float, Policy, Out], Any]
_BY_TYPE: dict[str, _Handler] = {
    **dict.fromkeys(e.WH_SUCCEEDED, _succeeded),
    **dict.fromkeys(e.WH_FAILED, _failed),
    **dict.fromkeys(e.WH_INFO, _info),
    **dict.fromkeys(e.WH_EXPIRED, _expired),
    e.WH_REFUND: _refund,
    e.WH_CHARGEBACK: _chargeback,
    e.WH_PAYOUT_RETURNED: _returned,
    e.WH_SEEN: _seen,
    e.WH_CONFIRMED: _confirmed,
    e.WH_SETTLED: _settled,
    e.WH_INVOICE_EXPIRED: _invoice_expired,
    e.WH_INVALID: _invalid,
    e.WH_REORGED: _reorged,
}
