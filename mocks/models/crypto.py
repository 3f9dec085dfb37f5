"""Crypto processor behaviour per chain (BTCPay-like invoices).

An invoice quotes an amount in the chain's asset at a rate locked until expiry
(15 min in BTCPay). The player pays some time later, maybe too little, too
much, or after expiry (exceptions PaidPartial, PaidOver, PaidLate); the tx is
seen in the mempool, then confirmed block by block until the speed policy's
confirmation count settles it. A seen tx can be double-spent, and a block can
be re-orged away after one confirmation: with ``confirmations_required <= 1``
that reverses an invoice already reported settled.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, Decimal
from statistics import NormalDist
from typing import TYPE_CHECKING, Final

from mocks.models.common import Transport, event, failed_call, plan_webhooks, provider_ref
from mocks.models.types import APPROVED, DECLINED, EXPIRED, PENDING, Decision, Event
from wallet.domain.money import exponent

if TYPE_CHECKING:
    import random

    from mocks.models.compiled import Compiled
    from mocks.models.profile import FaultProfile
    from mocks.models.sections import ChainParams
    from mocks.models.types import PaymentRequest
    from sandbox.randomness import Dice

KIND: Final = "crypto"
_INV = NormalDist().inv_cdf


def quote(amount: int, currency: str, asset: str, rates: dict[str, str]) -> tuple[int, Decimal]:
    """Amount due in the asset's minor units (rounded up) and the quoted rate (fiat per coin)."""
    if currency == asset:
        return amount, Decimal(1)
    rate = Decimal(rates[currency])
    due = (Decimal(amount).scaleb(exponent(asset) - exponent(currency)) / rate)
    return int(due.to_integral_value(ROUND_CEILING)), rate


def _block_gap(rng: random.Random, block_time: float, exponential: bool) -> float:
    return rng.expovariate(1 / block_time) if exponential else block_time


class _Timeline:
    """Events of one invoice, numbered as they are added."""

    def __init__(self, pref: str, reference: str) -> None:
        self.pref, self.reference = pref, reference
        self.events: list[Event] = []

    def add(self, type_: str, at: float, **data: object) -> Event:
        ev = event(self.pref, type_, self.reference, len(self.events) + 1, at, **data)
        self.events.append(ev)
        return ev


def decide(req: PaymentRequest, dice: Dice, now: float, profile: FaultProfile, *,
           provider: str = "crypto", attempt: int = 0) -> Decision:
    cp = profile.compiled
    ch = cp.chain
    ref = req.reference
    t = Transport(cp, dice, provider, ref, attempt=attempt, now=now)
    latency = t.latency(cp, dice, provider, ref, attempt)
    pref = provider_ref("inv", provider, req.idempotency_key)
    if not t.processed:
        return failed_call(provider, KIND, req, pref, now=now, latency=latency, fault=t.fault)
    opened = now + latency
    due, rate = quote(req.amount, req.currency, ch.asset, ch.rate)
    info: dict[str, object] = {
        "asset": ch.asset, "due": due, "rate": str(rate),
        "expires_at": opened + ch.invoice_expiry_s,
        "confirmations_required": ch.confirmations_required}
    tl = _Timeline(pref, ref)
    final, code, final_ev = _invoice(cp, dice, provider, tl, now=now, opened=opened, due=due,
                                     rate=rate, info=info)
    final_index = tl.events.index(final_ev)
    reorder = cp.reorder_p > 0 and dice.uniform(provider, ref, "reorder") < cp.reorder_p
    plan = plan_webhooks(cp, dice, provider, tl.events, final_index=final_index, transport=t,
                         reorder=reorder)
    return Decision(
        provider, KIND, ref, req.idempotency_key, pref, req.operation, req.amount, req.currency,
        now, latency, t.fault, True, PENDING, code, final, final_ev.created_at, plan,
        tuple(tl.events), final_ev.id, extra=info,
    )


def _paid_amount(ch: ChainParams, dice: Dice, provider: str, ref: str, due: int) -> int:
    u = dice.uniform(provider, ref, "amount")
    f = dice.uniform(provider, ref, "amount_fraction")
    if u < ch.underpay_probability:
        return int(due * (1 - (0.01 + 0.29 * f)))
    if u < ch.underpay_probability + ch.overpay_probability:
        return int(due * (1 + (0.01 + 0.09 * f)))
    return due


def _invoice(cp: Compiled, dice: Dice, provider: str, tl: _Timeline, *, now: float,
             opened: float, due: int, rate: Decimal,
             info: dict[str, object]) -> tuple[str, str | None, Event]:
    """The invoice's life: (final outcome, reason, final event); fills ``tl`` and ``info``."""
    ch = cp.chain
    ref = tl.reference
    expires = opened + ch.invoice_expiry_s
    if dice.uniform(provider, ref, "abandon") < ch.abandon_probability:
        return EXPIRED, "expired", tl.add("invoice.expired", expires, paid=0)
    late = dice.uniform(provider, ref, "late") < ch.late_probability
    wait = cp.pay_time(dice.uniform(provider, ref, "pay_time"))
    paid_at = expires + wait if late else opened + min(wait, ch.invoice_expiry_s * 0.99)
    paid = _paid_amount(ch, dice, provider, ref, due)
    z = _INV(min(max(dice.uniform(provider, ref, "rate_move"), 1e-12), 1 - 1e-12))
    drift = math.exp(ch.rate_volatility_daily * math.sqrt((paid_at - now) / 86400) * z)
    info |= {"paid": paid, "paid_at": paid_at, "rate_at_payment": f"{rate * Decimal(drift):.8f}"}
    if late:
        tl.add("invoice.expired", expires, paid=0)
    tl.add("invoice.payment_seen", paid_at, paid=paid, confirmations=0)
    rng = dice.rng(provider, ref, "blocks")
    exp_blocks = ch.block_time_kind == "exponential"
    block = paid_at + (rng.expovariate(1 / ch.block_time_s) if exp_blocks
                       else rng.uniform(0, ch.block_time_s))
    if dice.uniform(provider, ref, "double_spend") < ch.double_spend_probability:
        return DECLINED, "double_spend", tl.add("invoice.invalid", block, paid=paid,
                                                reason="double_spend")
    need = ch.confirmations_required
    if dice.uniform(provider, ref, "reorg") < ch.reorg_probability:
        if need <= 1:  # already reported settled: the reorg reverses it
            tl.add("invoice.settled", paid_at if need == 0 else block, paid=paid,
                   confirmations=need)
        else:
            tl.add("invoice.confirmed", block, paid=paid, confirmations=1)
        block += _block_gap(rng, ch.block_time_s, exp_blocks)
        tl.add("invoice.reorged", block, paid=paid, confirmations=0)
        if dice.uniform(provider, ref, "reinclude") >= ch.reorg_reinclude_probability:
            return DECLINED, "reorged_out", tl.add("invoice.invalid", block, paid=paid,
                                                   reason="reorged_out")
        block += _block_gap(rng, ch.block_time_s, exp_blocks)
    settle_at = paid_at if need == 0 else block
    if need >= 1:
        tl.add("invoice.confirmed", block, paid=paid, confirmations=1)
    for _ in range(max(need - 1, 0)):
        settle_at += _block_gap(rng, ch.block_time_s, exp_blocks)
    if paid < due * (1 - ch.payment_tolerance_pct / 100):
        return EXPIRED, "underpaid", tl.add("invoice.expired", max(expires, settle_at), paid=paid,
                                            exception="paid_partial")
    exception = "paid_late" if late else ("paid_over" if paid > due else None)
    return APPROVED, None, tl.add("invoice.settled", settle_at, paid=paid, confirmations=need,
                                  exception=exception)
