"""After settlement: chargebacks and refunds, bounded by what was credited and not yet returned.

Both are deduplicated (chargeback by event id, refund by refund id) before the
wallet's own transaction-id idempotency, and neither is emitted for a payment
that was never credited: that is reported instead (``not_credited``).
"""

from __future__ import annotations

from wallet.domain.commands import Chargeback, Refund
from wallet.domain.payments import commands as k
from wallet.domain.payments import events as e
from wallet.domain.payments.flow import Out, flag, move, post
from wallet.domain.payments.model import Payment
from wallet.domain.payments.states import AFTER_CREDIT, State

S = State


def chargeback(p: Payment, ev: e.ChargebackReceived, out: Out) -> None:
    if ev.event_id:
        if ev.event_id in p.seen:
            return
        p.seen.add(ev.event_id)
    outstanding = p.credited - p.refunded
    if p.state not in AFTER_CREDIT or outstanding <= 0:
        flag(p, out, k.NOT_CREDITED if not p.credited else k.ILLEGAL_TRANSITION,
             f"chargeback in {p.state.value}")
        return
    amount = min(ev.amount or outstanding, outstanding)
    if move(p, S.CHARGED_BACK, out):
        post(p, out, Chargeback, p.credit_provider or "", p.id, amount, ev.fee, ev.reason)


def refund(p: Payment, ev: e.RefundConfirmed, out: Out) -> None:
    key = "refund:" + ev.refund_id
    if key in p.seen:
        return
    p.seen.add(key)
    outstanding = p.credited - p.refunded
    if p.state is not S.SUCCEEDED or outstanding <= 0:
        flag(p, out, k.NOT_CREDITED if not p.credited else k.ILLEGAL_TRANSITION,
             f"refund in {p.state.value}")
        return
    amount = min(ev.amount or outstanding, outstanding)
    if not post(p, out, Refund, p.credit_provider or "", p.id, ev.refund_id, amount):
        return
    p.refunded += amount
    if p.refunded >= p.credited:
        move(p, S.REFUNDED, out)
