"""Crypto deposits: confirmations, reorgs, under- and over-payment, payment after expiry.

Policy (documented choices, see :class:`Policy`):

- credit only when the transaction has the required confirmations (the invoice's own
  requirement, raised by ``policy.min_confirmations``) or the processor says settled with
  that many;
- the amount credited is what arrived, converted at the invoice's locked quote:
  ``amount * paid // due`` (rounded down: never credit value that did not arrive). Over-payment
  credits the larger amount; under-payment credits the smaller one (``credit_received``) or
  fails (``fail``); both are flagged;
- a payment after the invoice expired is flagged and, by default, credited at the locked
  quote (``paid_late="credit"``); ``flag_only`` leaves it to an operator;
- a reorg before the credit resets the confirmations (the transaction may be re-included);
  a reorg or double spend after the credit reverses it (ReverseTransaction) and is flagged.
"""

from __future__ import annotations

from wallet.domain.payments import commands as k
from wallet.domain.payments.declines import canonical
from wallet.domain.payments.flow import (
    Out,
    declined,
    expire,
    fail,
    flag,
    move,
    reverse_credit,
    settle,
)
from wallet.domain.payments.model import CREDIT_RECEIVED, FLAG_ONLY, Payment, Policy
from wallet.domain.payments.states import WAITING, State

S = State


def seen(p: Payment, paid: int | None, policy: Policy, out: Out, provider: str) -> None:
    """The transaction is in the mempool (0 confirmations)."""
    if p.state is S.EXPIRED and not p.credited and not p.ever_reversed:
        p.paid_late = True
        flag(p, out, k.PAID_AFTER_EXPIRY, f"{paid} paid after the invoice expired")
        if policy.paid_late == FLAG_ONLY:
            return
        move(p, S.PENDING, out)
    confirm(p, 0, paid, policy, out, provider, "payment_seen")


def confirm(p: Payment, n: int, paid: int | None, policy: Policy, out: Out, provider: str,
            source: str, settled: bool = False) -> None:
    """``settled``: the processor declares it final under its own speed policy, which is
    enough when the invoice reply (and so the requirement) has not arrived yet; bare
    confirmation counts are not."""
    if paid is not None:
        p.paid = paid
    required = p.confirmations_required
    if required is None:
        required = policy.min_confirmations if settled else None
    else:
        required = max(required, policy.min_confirmations)
    if p.credited or p.ever_reversed:
        if p.ever_reversed and required is not None and n >= required:
            settle(p, provider, p.amount, out, source)  # flags settled_after_reversal
        return
    if p.state in (S.AUTHORIZING, S.UNKNOWN):  # the webhook outran the invoice reply
        move(p, S.PENDING, out)
    if p.state is not S.PENDING:
        if p.state is S.EXPIRED and policy.paid_late == FLAG_ONLY:
            return
        flag(p, out, k.STALE_EVENT, f"{source} ({n} confirmations) in {p.state.value}")
        return
    p.confirmations = max(p.confirmations, n)
    if required is not None and p.confirmations >= required:
        credit_received(p, policy, out, provider, source)


def credit_received(p: Payment, policy: Policy, out: Out, provider: str, source: str) -> None:
    due, paid = p.amount_due, p.paid
    amount = p.amount
    if due and paid is not None:
        amount = p.amount * paid // due
        if paid < due:
            if policy.underpaid != CREDIT_RECEIVED or amount <= 0:
                fail(p, canonical("underpaid"), out)
                flag(p, out, k.UNDERPAID, f"paid {paid} of {due}: failed by policy")
                return
            flag(p, out, k.UNDERPAID, f"paid {paid} of {due}: crediting {amount}")
        elif paid > due:
            flag(p, out, k.OVERPAID, f"paid {paid} of {due}: crediting {amount}")
    settle(p, provider, amount, out, source)


def invoice_expired(p: Payment, data: dict[str, object], policy: Policy, out: Out,
                    provider: str) -> None:
    """Expiry with a partial payment is BTCPay's PaidPartial: the coins did arrive."""
    paid = data.get("paid")
    if data.get("exception") == "paid_partial" and isinstance(paid, int) and paid > 0:
        p.paid = paid
        if p.state in WAITING:
            credit_received(p, policy, out, provider, "invoice.expired(paid_partial)")
            return
        if p.state is S.EXPIRED and not p.credited and not p.ever_reversed:
            # A poll saw "expired" first; the coins still arrived: the paid-late rule applies.
            if policy.paid_late == FLAG_ONLY:
                flag(p, out, k.UNDERPAID, f"paid {paid} of {p.amount_due} after expiry: for an operator")
                return
            credit_received(p, policy, out, provider, "invoice.expired(paid_partial)")
            return
    if p.credited:
        if data.get("exception") != "paid_partial":  # else: the short payment we credited
            flag(p, out, k.CONFLICTING_OUTCOME, "invoice expired after settlement; credit kept")
        return
    expire(p, out, "expired")


def reorged(p: Payment, out: Out) -> None:
    if p.state is S.SUCCEEDED:
        reverse_credit(p, out, "reorg")
    elif p.state in WAITING:
        p.confirmations = 0  # may be re-included; the deadline or "invalid" ends it otherwise
    elif p.state is not S.REVERSED:
        flag(p, out, k.STALE_EVENT, f"reorg in {p.state.value}")


def invalid(p: Payment, reason: str, attempt: int, policy: Policy, out: Out) -> None:
    """Double spend or re-orged out for good."""
    if p.state is S.SUCCEEDED:
        reverse_credit(p, out, reason)
    elif p.state is S.REVERSED:
        return  # the reorg we already reversed on, now final
    elif p.credited:
        flag(p, out, k.CONFLICTING_OUTCOME, f"invoice invalid ({reason}) in {p.state.value}")
    else:
        declined(p, attempt, reason, reason, policy, out, "invoice.invalid")
