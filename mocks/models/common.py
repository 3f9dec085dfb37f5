"""Steps every provider kind shares: transport faults, timeline windows, webhook plans.

Keys for the dice: outcome draws use (provider, reference, purpose), so a
retried payment meets the same card-holder dice; transport draws add the
attempt number, so a retry after a 503 is a fresh roll of the network.
"""

from __future__ import annotations

import hashlib
from operator import attrgetter
from typing import TYPE_CHECKING, Final

from mocks.models.types import (
    APPROVED,
    ERROR,
    TIMEOUT,
    Decision,
    Event,
    KycRequest,
    PaymentRequest,
    Planned,
)

if TYPE_CHECKING:
    from mocks.models.compiled import Compiled
    from sandbox.randomness import Dice

TERMINAL_EVENTS: Final = frozenset({
    "payment.succeeded", "payment.failed", "payment.expired", "payout.paid", "payout.failed",
    "invoice.settled", "invoice.expired", "invoice.invalid", "kyc.approved", "kyc.rejected",
})
_AT = attrgetter("deliver_at")


def short_hash(*parts: object) -> str:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).hexdigest()


def provider_ref(prefix: str, provider: str, idempotency_key: str) -> str:
    """The provider's own id: one per idempotency key (a new key is a new payment)."""
    return f"{prefix}_{short_hash(provider, idempotency_key)}"


def event(provider_ref: str, type_: str, reference: str, sequence: int, at: float,
          **data: object) -> Event:
    return Event(f"evt_{short_hash(provider_ref, sequence, type_)}", type_, provider_ref,
                 reference, sequence, at, data)


class Transport:
    """What the network and the timeline do to one call, before any business decision."""

    __slots__ = ("approval_cap", "duplicates", "extra_latency", "fault", "processed")

    def __init__(self, cp: Compiled, dice: Dice, provider: str, reference: str, *,
                 attempt: int, now: float) -> None:
        fault: str | None = None
        extra, cap, dup = 0.0, None, None
        for w in cp.windows:
            if w.start <= now < w.end:
                if w.kind == "outage":
                    fault = fault or w.fault
                elif w.kind == "approval":
                    cap = w.approval_rate if cap is None else min(cap, w.approval_rate)
                elif w.kind == "latency":
                    extra += w.extra_latency_s
                else:
                    dup = (w.duplicate_probability, w.duplicate_count)
            elif w.start > now:
                break
        if fault is None and attempt < cp.fail_first_n:
            fault = cp.fail_first_fault
        if fault is None and cp.faults:
            u = dice.uniform(provider, reference, attempt, "fault")
            if u < cp.fault_total:
                fault = next(f for threshold, f in cp.faults if u < threshold)
        processed = True
        if fault is not None:
            p = cp.processed_on[fault]
            processed = p > 0 and dice.uniform(provider, reference, attempt, "processed") < p
        self.fault, self.processed, self.extra_latency = fault, processed, extra
        self.approval_cap, self.duplicates = cap, dup

    def latency(self, cp: Compiled, dice: Dice, provider: str, reference: str,
                attempt: int) -> float:
        if self.fault == TIMEOUT:
            return cp.hang
        return cp.latency(dice.uniform(provider, reference, attempt, "latency")) + self.extra_latency


def approve(cp: Compiled, dice: Dice, provider: str, req: PaymentRequest,
            cap: float | None) -> str | None:
    """None when approved, else the decline code, from the segment's rate and mix."""
    rate, mix = cp.segment(req)
    if cap is not None and cap < rate:
        rate = cap
    if dice.uniform(provider, req.reference, "approve") < rate:
        return None
    from mocks.models.compiled import pick

    return pick(mix, dice.uniform(provider, req.reference, "reason"))


def plan_webhooks(cp: Compiled, dice: Dice, provider: str, events: list[Event], *,
                  final_index: int, transport: Transport,
                  reorder: bool = False) -> tuple[Planned, ...]:
    """Deliveries for ``events``: delayed, maybe duplicated, lost, or reordered.

    First deliveries arrive in creation order; ``reorder`` moves every event
    created before the final one (index ``final_index``) to after the final
    one's first delivery: the wallet then sees, say, 'processing' or a
    superseded 'failed' after 'succeeded'. Duplicates come later than their
    original and so may also land after a newer event.
    """
    reference = events[0].reference
    dup_p, dup_n = transport.duplicates or (cp.dup_p, cp.dup_count)
    loss_p = cp.loss_p
    times, last = [], 0.0
    for i, ev in enumerate(events):  # first deliveries keep creation order unless reordered
        last = max(last, ev.created_at + cp.wh_delay(dice.uniform(provider, reference, i,
                                                                  "wh_delay")))
        times.append(last)
    if reorder and 0 < final_index < len(events):
        anchor = times[final_index]
        for i in range(final_index):
            times[i] = anchor + cp.dup_spread(dice.uniform(provider, reference, i, "wh_reorder"))
    out: list[Planned] = []
    for i, ev in enumerate(events):
        if loss_p and dice.uniform(provider, reference, i, "wh_loss") < loss_p:
            continue
        at = times[i]
        out.append(Planned(at, ev))
        if dup_p and dup_n and dice.uniform(provider, reference, i, "wh_dup") < dup_p:
            out.extend(
                Planned(at + cp.dup_spread(dice.uniform(provider, reference, i, k, "wh_spread")), ev)
                for k in range(dup_n))
    out.sort(key=_AT)
    return tuple(out)


def disputes(cp: Compiled, dice: Dice, provider: str, reference: str, final_at: float,
             *, chargebacks: bool = True) -> tuple[float | None, float | None]:
    """(refund_at, chargeback_at) for an approved deposit; a refunded payment is not disputed."""
    refund_at = chargeback_at = None
    if cp.refund_p and dice.uniform(provider, reference, "refund") < cp.refund_p:
        refund_at = final_at + cp.refund_delay(dice.uniform(provider, reference, "refund_delay"))
    elif (chargebacks and cp.chargeback_p
          and dice.uniform(provider, reference, "chargeback") < cp.chargeback_p):
        chargeback_at = final_at + cp.chargeback_delay(
            dice.uniform(provider, reference, "chargeback_delay"))
    return refund_at, chargeback_at


def dispute_events(pref: str, reference: str, amount: int, *, seq: int,
                   refund_at: float | None, chargeback_at: float | None) -> list[Event]:
    out = []
    if refund_at is not None:
        out.append(event(pref, "refund.succeeded", reference, seq, refund_at, amount=amount))
    if chargeback_at is not None:
        out.append(event(pref, "chargeback.created", reference, seq, chargeback_at, amount=amount))
    return out


def failed_call(provider: str, kind: str, req: PaymentRequest | KycRequest, pref: str, *,
                now: float, latency: float, fault: str | None) -> Decision:
    """The decision for a call the provider never acted on: no record, no webhook."""
    return Decision(provider, kind, req.reference, req.idempotency_key, pref,
                    getattr(req, "operation", "kyc"), getattr(req, "amount", 0),
                    getattr(req, "currency", ""), now, latency, fault, False, ERROR, None, ERROR,
                    now + latency)


def is_approved(outcome: str) -> bool:
    return outcome == APPROVED
