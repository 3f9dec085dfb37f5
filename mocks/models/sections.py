"""Kind-specific parts of a fault profile (3-D Secure, redirect, bank, chain, KYC).

Defaults without a public source are labelled ASSUMPTION; see docs/mocks.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a YAML profile must not silently do nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Dist(Strict):
    """A duration distribution in seconds (or days where the field says so).

    lognormal is given by its median and 99th percentile, the two numbers
    people actually know about a latency.
    """

    kind: Literal["fixed", "uniform", "lognormal", "exponential"] = "fixed"
    value: float = Field(0.0, ge=0)  # fixed
    low: float = Field(0.0, ge=0)  # uniform
    high: float = Field(0.0, ge=0)
    p50: float = Field(0.3, gt=0)  # lognormal
    p99: float = Field(0.9, gt=0)
    mean: float = Field(1.0, gt=0)  # exponential

    @model_validator(mode="after")
    def _ordered(self) -> Dist:
        if self.kind == "uniform" and self.high < self.low:
            raise ValueError("uniform needs low <= high")
        if self.kind == "lognormal" and self.p99 < self.p50:
            raise ValueError("lognormal needs p50 <= p99")
        return self


def fixed(value: float) -> Dist:
    return Dist(kind="fixed", value=value)


def lognormal(p50: float, p99: float) -> Dist:
    return Dist(kind="lognormal", p50=p50, p99=p99)


class ThreeDS(Strict):
    """3-D Secure step-up: the call answers 'pending' and a later event resolves it."""

    challenge_probability: float = Field(0.25, ge=0, le=1)  # ASSUMPTION
    extra_latency_s: float = Field(0.2, ge=0)  # vendor guidance: <300 ms, <500 ms with 3DS
    challenge_time: Dist = lognormal(30.0, 240.0)  # ASSUMPTION: a person typing an OTP


class EWalletFlow(Strict):
    """Redirect / approval flow: the player approves in the wallet's own page."""

    abandon_probability: float = Field(0.10, ge=0, le=1)  # ASSUMPTION
    approval_time: Dist = lognormal(20.0, 180.0)  # ASSUMPTION
    session_timeout_s: float = Field(900.0, gt=0)  # ASSUMPTION: 15 min like crypto invoices


class BankFlow(Strict):
    """Pay-by-bank with consent for deposits; instant payouts that may bounce days later."""

    consent_abandon_probability: float = Field(0.12, ge=0, le=1)  # ASSUMPTION
    consent_time: Dist = lognormal(40.0, 300.0)  # ASSUMPTION
    consent_timeout_s: float = Field(900.0, gt=0)  # ASSUMPTION
    payout_latency: Dist = lognormal(2.0, 10.0)  # instant rails settle in seconds (ASSUMPTION)
    payout_return_probability: float = Field(0.01, ge=0, le=1)  # ASSUMPTION
    payout_return_days: Dist = Dist(kind="uniform", low=1.0, high=5.0)  # ASSUMPTION
    return_reason_mix: dict[str, float] = Field(
        default_factory=lambda: {"account_closed": 0.6, "name_mismatch": 0.4})


class ChainParams(Strict):
    """One blockchain as a crypto processor sees it (BTCPay-like invoices)."""

    asset: str = "BTC"
    block_time_s: float = Field(600.0, gt=0)  # Bitcoin ~10 min; Ethereum 12 s; TRON 3 s
    block_time_kind: Literal["exponential", "fixed"] = "exponential"
    confirmations_required: int = Field(2, ge=0)  # BTCPay speed policies: 0, 1, 2 or 6
    invoice_expiry_s: float = Field(900.0, gt=0)  # BTCPay default 15 min
    rate: dict[str, str] = Field(default_factory=lambda: {"EUR": "60000", "USD": "65000"})
    rate_volatility_daily: float = Field(0.03, ge=0)  # ASSUMPTION: 3 %/day, one sigma
    pay_time: Dist = lognormal(90.0, 600.0)  # ASSUMPTION
    abandon_probability: float = Field(0.10, ge=0, le=1)  # ASSUMPTION
    late_probability: float = Field(0.02, ge=0, le=1)  # ASSUMPTION
    underpay_probability: float = Field(0.02, ge=0, le=1)  # ASSUMPTION
    overpay_probability: float = Field(0.01, ge=0, le=1)  # ASSUMPTION
    payment_tolerance_pct: float = Field(0.0, ge=0, le=100)  # BTCPay "payment tolerance"
    reorg_probability: float = Field(0.005, ge=0, le=1)  # ASSUMPTION: per seen tx
    reorg_reinclude_probability: float = Field(0.5, ge=0, le=1)  # ASSUMPTION
    double_spend_probability: float = Field(0.002, ge=0, le=1)  # ASSUMPTION


class KycParams(Strict):
    """Asynchronous identity verification: approved, rejected with a reason, or manual review."""

    min_age: int = Field(18, ge=0)
    allowed_countries: list[str] = Field(default_factory=list)  # empty: all
    blocked_countries: list[str] = Field(default_factory=lambda: ["US", "FR"])  # ASSUMPTION
    ip_mismatch: Literal["ignore", "review", "reject"] = "review"
    approve_probability: float = Field(0.85, ge=0, le=1)  # ASSUMPTION
    reject_probability: float = Field(0.07, ge=0, le=1)  # ASSUMPTION (rest: manual review)
    reject_reason_mix: dict[str, float] = Field(default_factory=lambda: {
        "document_expired": 0.3, "document_unreadable": 0.3, "face_mismatch": 0.2,
        "duplicate_account": 0.15, "sanctions_hit": 0.05})
    decision_time: Dist = lognormal(45.0, 600.0)  # ASSUMPTION: automated checks
    review_time: Dist = lognormal(3600.0, 8 * 3600.0)  # ASSUMPTION: a person in office hours
    review_approve_probability: float = Field(0.7, ge=0, le=1)  # ASSUMPTION

    @model_validator(mode="after")
    def _probabilities(self) -> KycParams:
        if self.approve_probability + self.reject_probability > 1:
            raise ValueError("approve_probability + reject_probability must be <= 1")
        return self
