"""Bank / open-banking behaviour: pay-by-bank deposits with consent, instant payouts.

Deposits wait for the player's consent in their bank app (abandoned consents
expire). Payouts settle in seconds on instant rails but a share come back days
later (``account_closed``, ``name_mismatch``): money the wallet already
considered paid out, which it must re-credit. Bank payments are not charged
back; refunds are separate payouts, so none are planned here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from mocks.models.common import (
    Transport,
    approve,
    event,
    failed_call,
    plan_webhooks,
    provider_ref,
)
from mocks.models.compiled import pick
from mocks.models.types import APPROVED, DECLINED, EXPIRED, PENDING, Decision, PaymentRequest

if TYPE_CHECKING:
    from mocks.models.profile import FaultProfile
    from sandbox.randomness import Dice

KIND: Final = "bank"


def decide(req: PaymentRequest, dice: Dice, now: float, profile: FaultProfile, *,
           provider: str = "bank", attempt: int = 0) -> Decision:
    cp = profile.compiled
    ref = req.reference
    t = Transport(cp, dice, provider, ref, attempt=attempt, now=now)
    latency = t.latency(cp, dice, provider, ref, attempt)
    payout = req.operation == "payout"
    pref = provider_ref("po" if payout else "pbb", provider, req.idempotency_key)
    if not t.processed:
        return failed_call(provider, KIND, req, pref, now=now, latency=latency, fault=t.fault)
    answered = now + latency
    flow = cp.bank
    returned_at = return_reason = None
    reorder = cp.reorder_p > 0 and dice.uniform(provider, ref, "reorder") < cp.reorder_p
    code = approve(cp, dice, provider, req, t.approval_cap)
    final = APPROVED if code is None else DECLINED
    if payout:
        final_at = answered + cp.payout_latency(dice.uniform(provider, ref, "payout_time"))
        events = [event(pref, "payout.pending", ref, 1, answered, amount=req.amount),
                  event(pref, "payout.paid" if final == APPROVED else "payout.failed", ref, 2,
                        final_at, amount=req.amount, decline_code=code)]
        if final == APPROVED and dice.uniform(provider, ref, "return") < \
                flow.payout_return_probability:
            returned_at = final_at + cp.payout_return_delay(
                dice.uniform(provider, ref, "return_delay"))
            return_reason = pick(cp.return_mix, dice.uniform(provider, ref, "return_reason"))
            events.append(event(pref, "payout.returned", ref, 3, returned_at, amount=req.amount,
                                reason=return_reason))
    else:
        if dice.uniform(provider, ref, "abandon") < flow.consent_abandon_probability:
            final, code, final_at = EXPIRED, "expired", answered + flow.consent_timeout_s
        else:
            final_at = answered + min(cp.consent_time(dice.uniform(provider, ref, "consent")),
                                      flow.consent_timeout_s)
        final_type = {APPROVED: "payment.succeeded", DECLINED: "payment.failed",
                      EXPIRED: "payment.expired"}[final]
        events = [event(pref, "payment.pending", ref, 1, answered, amount=req.amount,
                        consent_url=f"https://{provider}.example/consent/{pref}"),
                  event(pref, final_type, ref, 2, final_at, amount=req.amount, decline_code=code)]
    return Decision(
        provider, KIND, ref, req.idempotency_key, pref, req.operation, req.amount, req.currency,
        now, latency, t.fault, True, PENDING, code, final, final_at,
        plan_webhooks(cp, dice, provider, events, final_index=1, transport=t, reorder=reorder),
        tuple(events), events[1].id,
        returned_at=returned_at, return_reason=return_reason,
        extra={} if payout else {"consent_url": f"https://{provider}.example/consent/{pref}"},
    )
