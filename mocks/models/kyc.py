"""KYC behaviour: asynchronous verification with age and geolocation checks.

Hard rules first (under age, blocked or disallowed country, IP country not the
declared one), then the automated check: approved, rejected with a reason, or
sent to manual review that resolves hours later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from mocks.models.common import Transport, event, failed_call, plan_webhooks, provider_ref
from mocks.models.compiled import pick
from mocks.models.types import APPROVED, DECLINED, PENDING, Decision, KycRequest

if TYPE_CHECKING:
    from mocks.models.profile import FaultProfile
    from sandbox.randomness import Dice

KIND: Final = "kyc"


def decide(req: KycRequest, dice: Dice, now: float, profile: FaultProfile, *,
           provider: str = "kyc", attempt: int = 0) -> Decision:
    cp = profile.compiled
    k = cp.kyc
    ref = req.reference
    t = Transport(cp, dice, provider, ref, attempt=attempt, now=now)
    latency = t.latency(cp, dice, provider, ref, attempt)
    pref = provider_ref("kyc", provider, req.idempotency_key)
    if not t.processed:
        return failed_call(provider, KIND, req, pref, now=now, latency=latency, fault=t.fault)
    answered = now + latency
    decided_at = answered + cp.kyc_time(dice.uniform(provider, ref, "kyc_time"))
    review = False
    reason: str | None = None
    if req.age_years < k.min_age:
        reason = "underage"
    elif (req.country in k.blocked_countries
          or (k.allowed_countries and req.country not in k.allowed_countries)):
        reason = "geo_blocked"
    elif req.ip_country and req.ip_country != req.country and k.ip_mismatch != "ignore":
        if k.ip_mismatch == "reject":
            reason = "geo_mismatch"
        else:
            review = True
    if reason is None and not review:
        u = dice.uniform(provider, ref, "kyc")
        if u >= k.approve_probability + k.reject_probability:
            review = True
        elif u >= k.approve_probability:
            reason = pick(cp.kyc_reject_mix, dice.uniform(provider, ref, "kyc_reason"))
    events = [event(pref, "kyc.pending", ref, 1, answered)]
    final_at = decided_at
    if review:
        events.append(event(pref, "kyc.review", ref, 2, decided_at))
        final_at = decided_at + cp.review_time(dice.uniform(provider, ref, "review_time"))
        if dice.uniform(provider, ref, "review") >= k.review_approve_probability:
            reason = "manual_review_rejected"
    final = APPROVED if reason is None else DECLINED
    events.append(event(pref, "kyc.approved" if final == APPROVED else "kyc.rejected", ref,
                        len(events) + 1, final_at, reason=reason, reviewed=review))
    final_index = len(events) - 1
    reorder = cp.reorder_p > 0 and dice.uniform(provider, ref, "reorder") < cp.reorder_p
    return Decision(
        provider, KIND, ref, req.idempotency_key, pref, "kyc", 0, "", now, latency, t.fault, True,
        PENDING, reason, final, final_at,
        plan_webhooks(cp, dice, provider, events, final_index=final_index, transport=t,
                      reorder=reorder),
        tuple(events), events[final_index].id, extra={"review": review},
    )
