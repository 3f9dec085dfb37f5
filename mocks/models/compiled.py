"""A fault profile compiled into plain tables for the hot path.

``decide`` is called about a million times per simulated day, so it must not
touch pydantic: everything here is tuples, floats and small closures built once
per profile. Every sampler maps one uniform draw ``u`` in [0, 1) to a value by
the inverse CDF, so one keyed die gives one value (common random numbers).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from statistics import NormalDist
from typing import TYPE_CHECKING

from mocks.models.types import EMPTY, HTTP_5XX, HTTP_429, MALFORMED, RESET, TIMEOUT
from wallet.domain.money import EXPONENTS, minor_units

if TYPE_CHECKING:
    from mocks.models.profile import FaultProfile, SegmentRule
    from mocks.models.sections import Dist
    from mocks.models.types import PaymentRequest

Sampler = Callable[[float], float]
_INV = NormalDist().inv_cdf
Z99 = NormalDist().inv_cdf(0.99)
DAY = 86400.0


def sampler(dist: Dist, scale: float = 1.0) -> Sampler:
    """Inverse-CDF sampler for a :class:`Dist`; ``scale`` converts units (days -> s)."""
    if dist.kind == "fixed":
        value = dist.value * scale
        return lambda u: value
    if dist.kind == "uniform":
        low, span = dist.low * scale, (dist.high - dist.low) * scale
        return lambda u: low + span * u
    if dist.kind == "exponential":
        mean = dist.mean * scale
        return lambda u: -mean * math.log1p(-u)
    mu = math.log(dist.p50 * scale)
    sigma = (math.log(dist.p99) - math.log(dist.p50)) / Z99
    if sigma == 0:
        value = dist.p50 * scale
        return lambda u: value
    return lambda u: math.exp(mu + sigma * _INV(min(max(u, 1e-12), 1 - 1e-12)))


def cumulative(mix: dict[str, float]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Normalised cumulative weights, for picking a category with one uniform draw."""
    total = sum(mix.values())
    codes, cum, acc = [], [], 0.0
    for code, weight in mix.items():
        if weight > 0:
            acc += weight / total
            codes.append(code)
            cum.append(acc)
    cum[-1] = 1.0
    return tuple(codes), tuple(cum)


def pick(table: tuple[tuple[str, ...], tuple[float, ...]], u: float) -> str:
    codes, cum = table
    return codes[min(bisect_right(cum, u), len(codes) - 1)]


def _minor_table(amounts: dict[str, str]) -> dict[str, int]:
    return {cur: minor_units(text, cur) for cur, text in amounts.items() if cur in EXPONENTS}


class Rule:
    """A compiled :class:`SegmentRule`: sets for membership, None for 'any'."""

    __slots__ = ("approval", "bins", "countries", "currencies", "funding", "issuers", "max_amount",
                 "methods", "min_amount", "mix", "operations")

    def __init__(self, rule: SegmentRule, base_mix: tuple[tuple[str, ...], tuple[float, ...]],
                 base_approval: float) -> None:
        self.currencies = frozenset(rule.currencies) or None
        self.countries = frozenset(rule.countries) or None
        self.methods = frozenset(rule.methods) or None
        self.operations = frozenset(rule.operations) or None
        self.issuers = frozenset(rule.issuers) or None
        self.funding = frozenset(rule.funding) or None
        self.bins = tuple(rule.bins) or None
        self.min_amount, self.max_amount = rule.min_amount, rule.max_amount
        self.approval = base_approval if rule.approval_rate is None else rule.approval_rate
        self.mix = base_mix if rule.decline_mix is None else cumulative(rule.decline_mix)

    def matches(self, req: PaymentRequest) -> bool:
        card = req.card
        bin_, issuer, funding = (card.bin, card.issuer, card.funding) if card else ("", "", "")
        currency, country, amount = req.currency, req.country, req.amount
        method, operation = req.method, req.operation
        return not (
            (self.currencies is not None and currency not in self.currencies)
            or (self.countries is not None and country not in self.countries)
            or (self.methods is not None and method not in self.methods)
            or (self.operations is not None and operation not in self.operations)
            or (self.issuers is not None and issuer not in self.issuers)
            or (self.funding is not None and funding not in self.funding)
            or (self.bins is not None and not bin_.startswith(self.bins))
            or (self.min_amount is not None and amount < self.min_amount)
            or (self.max_amount is not None and amount >= self.max_amount)
        )


class Compiled:
    """Plain attributes read by ``decide``; built once per :class:`FaultProfile`."""

    def __init__(self, p: FaultProfile) -> None:
        self.kind = p.kind
        self.approval = p.approval_rate
        self.mix = cumulative(p.decline_mix)
        self.rules = tuple(Rule(r, self.mix, p.approval_rate) for r in p.rules)
        self.latency = sampler(p.latency)
        self.client_timeout = p.timeout.client_timeout_s
        self.hang = max(p.timeout.hang_s, p.timeout.client_timeout_s)
        e = p.errors
        acc, faults = 0.0, []
        for fault, rate in ((TIMEOUT, p.timeout.probability), (HTTP_5XX, e.http_5xx),
                            (HTTP_429, e.http_429), (RESET, e.reset), (EMPTY, e.empty),
                            (MALFORMED, e.malformed)):
            if rate > 0:
                acc += rate
                faults.append((acc, fault))
        self.faults = tuple(faults)
        self.fault_total = acc
        self.processed_on = {TIMEOUT: p.timeout.processed_probability,
                             HTTP_5XX: e.processed_on_5xx, HTTP_429: 0.0,
                             RESET: e.processed_on_lost_response,
                             EMPTY: e.processed_on_lost_response,
                             MALFORMED: e.processed_on_lost_response}
        self.windows = tuple(sorted(p.windows, key=lambda w: w.start))
        self.fail_first_n = p.fail_first_n
        self.fail_first_fault = p.fail_first_fault
        w = p.webhooks
        self.wh_delay = sampler(w.delay)
        self.dup_p, self.dup_count = w.duplicate_probability, w.duplicate_count
        self.dup_spread = sampler(w.duplicate_spread)
        self.reorder_p, self.loss_p = w.reorder_probability, w.loss_probability
        from mocks.models.profile import RETRY_PRESETS

        self.retry_schedule = (RETRY_PRESETS[w.retry_schedule] if isinstance(w.retry_schedule, str)
                               else tuple(w.retry_schedule))
        d = p.disputes
        self.chargeback_p, self.refund_p = d.chargeback_probability, d.refund_probability
        self.chargeback_delay = sampler(d.chargeback_delay_days, DAY)
        self.refund_delay = sampler(d.refund_delay_days, DAY)
        self.chargeback_fee = _minor_table(d.chargeback_fee)
        self.fee_percent = Decimal(p.fees.percent)
        self.fee_fixed = _minor_table(p.fees.fixed)
        self.challenge_p = p.three_ds.challenge_probability
        self.three_ds_latency = p.three_ds.extra_latency_s
        self.challenge_time = sampler(p.three_ds.challenge_time)
        self.ewallet = p.ewallet
        self.ewallet_time = sampler(p.ewallet.approval_time)
        self.bank = p.bank
        self.consent_time = sampler(p.bank.consent_time)
        self.payout_latency = sampler(p.bank.payout_latency)
        self.payout_return_delay = sampler(p.bank.payout_return_days, DAY)
        self.return_mix = cumulative(p.bank.return_reason_mix)
        self.chain = p.chain
        self.pay_time = sampler(p.chain.pay_time)
        self.kyc = p.kyc
        self.kyc_time = sampler(p.kyc.decision_time)
        self.review_time = sampler(p.kyc.review_time)
        self.kyc_reject_mix = cumulative(p.kyc.reject_reason_mix)

    def segment(self, req: PaymentRequest) -> tuple[float, tuple[tuple[str, ...], tuple[float, ...]]]:
        """(approval rate, decline mix) for a request's segment: the first matching rule wins."""
        for rule in self.rules:
            if rule.matches(req):
                return rule.approval, rule.mix
        return self.approval, self.mix

    def fee(self, amount: int, currency: str) -> int:
        """Percentage (half-up to the minor unit) plus the fixed fee for the currency."""
        pct = (Decimal(amount) * self.fee_percent / 100).quantize(Decimal(1), ROUND_HALF_UP)
        return int(pct) + self.fee_fixed.get(currency, 0)
