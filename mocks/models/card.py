"""Card PSP behaviour: issuer approval by segment, 3-D Secure step-up, magic test cards.

The approval draw fixes the final outcome first (so observed approval matches
the profile exactly); 3-D Secure only decides the path: a challenged payment
answers 'pending' and a later event carries the final outcome. A
``three_ds_failed`` decline is always challenged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from mocks.models.common import (
    Transport,
    approve,
    dispute_events,
    disputes,
    event,
    failed_call,
    plan_webhooks,
    provider_ref,
)
from mocks.models.types import APPROVED, DECLINED, PENDING, Decision, PaymentRequest

if TYPE_CHECKING:
    from mocks.models.profile import FaultProfile
    from sandbox.randomness import Dice

KIND: Final = "card"
TEST_BIN: Final = "400000"
# Stripe-style magic numbers 4000 0000 0000 xxxx, matched on BIN + last 4 only.
MAGIC_LAST4: Final[dict[str, str]] = {
    "0002": "do_not_honor", "9995": "insufficient_funds", "9987": "lost_card",
    "9979": "stolen_card", "0069": "expired_card", "0127": "incorrect_cvc",
    "0119": "processing_error",
}
FORCE_3DS_LAST4: Final = "3155"  # 4000 0025 0000 3155 in Stripe: always challenged
# Adyen-style triggers through the card holder's name.
HOLDER_TRIGGERS: Final[dict[str, str]] = {
    "DECLINED": "do_not_honor", "REFERRAL": "referral", "ERROR": "processing_error",
    "BLOCK_CARD": "blocked_card", "CARD_EXPIRED": "expired_card",
}


def magic(req: PaymentRequest) -> tuple[bool, str | None, bool]:
    """(is a test trigger, forced decline code or None for approve, force 3-D Secure)."""
    card = req.card
    if card is None:
        return False, None, False
    code = HOLDER_TRIGGERS.get(card.holder_name.strip().upper())
    if code is not None:
        return True, code, False
    if card.bin == TEST_BIN:
        if card.last4 in MAGIC_LAST4:
            return True, MAGIC_LAST4[card.last4], False
        if card.last4 == FORCE_3DS_LAST4:
            return True, None, True
    return False, None, False


def decide(req: PaymentRequest, dice: Dice, now: float, profile: FaultProfile, *,
           provider: str = "card", attempt: int = 0) -> Decision:
    """Decide one card payment at ``now``; pure in (request, dice, now, profile, attempt)."""
    cp = profile.compiled
    ref = req.reference
    t = Transport(cp, dice, provider, ref, attempt=attempt, now=now)
    latency = t.latency(cp, dice, provider, ref, attempt)
    pref = provider_ref("pay", provider, req.idempotency_key)
    if not t.processed:
        return failed_call(provider, KIND, req, pref, now=now, latency=latency, fault=t.fault)
    card = req.card
    triggered, code, force_3ds = magic(req)
    if not triggered:
        code = approve(cp, dice, provider, req, t.approval_cap)
    challenged = force_3ds or code == "three_ds_failed" or (
        cp.challenge_p > 0 and dice.uniform(provider, ref, "3ds") < cp.challenge_p)
    final = APPROVED if code is None else DECLINED
    if challenged and t.fault is None:
        latency += cp.three_ds_latency
    answered = now + latency
    final_at = answered + cp.challenge_time(dice.uniform(provider, ref, "3ds_time")) if challenged \
        else answered
    reorder = cp.reorder_p > 0 and dice.uniform(provider, ref, "reorder") < cp.reorder_p
    events = []
    if reorder and final == APPROVED:  # a superseded attempt's failure, delivered late
        events.append(event(pref, "payment.failed", ref, 0, now, decline_code="do_not_honor",
                            superseded=True))
    first = "payment.requires_action" if challenged else "payment.processing"
    events.append(event(pref, first, ref, 1, answered, amount=req.amount))
    final_type = "payment.succeeded" if final == APPROVED else "payment.failed"
    events.append(event(pref, final_type, ref, 2, final_at, amount=req.amount, decline_code=code))
    final_index = len(events) - 1
    refund_at = chargeback_at = None
    if final == APPROVED and req.operation == "deposit":
        refund_at, chargeback_at = disputes(cp, dice, provider, ref, final_at)
        events += dispute_events(pref, ref, req.amount, seq=3, refund_at=refund_at,
                                 chargeback_at=chargeback_at)
    return Decision(
        provider, KIND, ref, req.idempotency_key, pref, req.operation, req.amount, req.currency,
        now, latency, t.fault, True, PENDING if challenged else final, code, final, final_at,
        plan_webhooks(cp, dice, provider, events, final_index=final_index, transport=t,
                      reorder=reorder),
        tuple(events), events[final_index].id,
        refund_at, chargeback_at,
        extra={"three_ds": challenged, "bin": card.bin if card else "",
               "last4": card.last4 if card else ""},
    )
