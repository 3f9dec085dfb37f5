"""E-wallet behaviour: the call returns a redirect, the player approves (or walks away) later.

The final outcome (approval rate and decline mix of the segment) is drawn
first, like the card model; abandonment then turns some of them into
'expired' at the session timeout, which is why the observed approval rate is
``approval_rate * (1 - abandon_probability)``.
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
from mocks.models.types import APPROVED, DECLINED, EXPIRED, PENDING, Decision, PaymentRequest

if TYPE_CHECKING:
    from mocks.models.profile import FaultProfile
    from sandbox.randomness import Dice

KIND: Final = "ewallet"


def decide(req: PaymentRequest, dice: Dice, now: float, profile: FaultProfile, *,
           provider: str = "ewallet", attempt: int = 0) -> Decision:
    cp = profile.compiled
    flow = cp.ewallet
    ref = req.reference
    t = Transport(cp, dice, provider, ref, attempt=attempt, now=now)
    latency = t.latency(cp, dice, provider, ref, attempt)
    pref = provider_ref("ew", provider, req.idempotency_key)
    if not t.processed:
        return failed_call(provider, KIND, req, pref, now=now, latency=latency, fault=t.fault)
    answered = now + latency
    code: str | None
    if dice.uniform(provider, ref, "abandon") < flow.abandon_probability:
        final, code, final_at = EXPIRED, "expired", answered + flow.session_timeout_s
    else:
        code = approve(cp, dice, provider, req, t.approval_cap)
        final = APPROVED if code is None else DECLINED
        final_at = answered + min(cp.ewallet_time(dice.uniform(provider, ref, "approve_time")),
                                  flow.session_timeout_s)
    final_type = {APPROVED: "payment.succeeded", DECLINED: "payment.failed",
                  EXPIRED: "payment.expired"}[final]
    events = [event(pref, "payment.pending", ref, 1, answered, amount=req.amount),
              event(pref, final_type, ref, 2, final_at, amount=req.amount, decline_code=code)]
    reorder = cp.reorder_p > 0 and dice.uniform(provider, ref, "reorder") < cp.reorder_p
    refund_at = chargeback_at = None
    if final == APPROVED:
        refund_at, chargeback_at = disputes(cp, dice, provider, ref, final_at)
        events += dispute_events(pref, ref, req.amount, seq=3, refund_at=refund_at,
                                 chargeback_at=chargeback_at)
    return Decision(
        provider, KIND, ref, req.idempotency_key, pref, req.operation, req.amount, req.currency,
        now, latency, t.fault, True, PENDING, code, final, final_at,
        plan_webhooks(cp, dice, provider, events, final_index=1, transport=t, reorder=reorder),
        tuple(events), events[1].id,
        refund_at, chargeback_at,
        extra={"redirect_url": f"https://{provider}.example/approve/{pref}"},
    )
