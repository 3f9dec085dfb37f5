"""The declarative fault profile of one provider (pydantic v2, loadable from YAML).

A profile is validated once and then compiled into plain tables
(:mod:`mocks.models.compiled`) that ``decide`` reads on the hot path. It is
immutable: a runtime change builds a new profile (``patched``), so a
simulation that holds the old one never sees a half-applied update.
Defaults are cited in docs/mocks.md; the ones without a public source are
marked ASSUMPTION.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from mocks.models.sections import (
    BankFlow,
    ChainParams,
    Dist,
    EWalletFlow,
    KycParams,
    Strict,
    ThreeDS,
    lognormal,
)
from mocks.models.types import FAULTS

if TYPE_CHECKING:  # compiled reads the profile
    from mocks.models.compiled import Compiled

# The canonical decline vocabulary; dialects translate it into their own codes.
DECLINE_CODES = frozenset({
    "insufficient_funds", "do_not_honor", "suspected_fraud", "three_ds_failed", "expired_card",
    "restricted_region", "unsupported_method", "gambling_mcc_blocked",
    # magic test cards / holder-name triggers and other kinds
    "lost_card", "stolen_card", "incorrect_cvc", "processing_error", "referral", "blocked_card",
    "consent_declined", "expired", "underpaid", "double_spend", "reorged_out",
})

# Card decline mix: ~44 % insufficient funds and ~9 % suspected fraud (Ethoca 2016,
# Spreedly 2018 "almost half"). The split of the remaining 47 % is an ASSUMPTION.
DEFAULT_DECLINE_MIX: dict[str, float] = {
    "insufficient_funds": 0.44, "suspected_fraud": 0.09, "do_not_honor": 0.25,
    "gambling_mcc_blocked": 0.08, "expired_card": 0.05, "three_ds_failed": 0.04,
    "restricted_region": 0.03, "unsupported_method": 0.02,
}

# Other kinds: ASSUMPTIONS (no public mix); bank consent and e-wallet balance dominate.
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "card": {"approval_rate": 0.70, "decline_mix": DEFAULT_DECLINE_MIX},
    "ewallet": {"approval_rate": 0.90, "decline_mix": {
        "insufficient_funds": 0.50, "suspected_fraud": 0.15, "restricted_region": 0.10,
        "do_not_honor": 0.25}},
    "bank": {"approval_rate": 0.92, "decline_mix": {
        "insufficient_funds": 0.45, "consent_declined": 0.25, "do_not_honor": 0.20,
        "suspected_fraud": 0.10}},
    "crypto": {"approval_rate": 1.0, "decline_mix": {"do_not_honor": 1.0}},
    "kyc": {"approval_rate": 1.0, "decline_mix": {"do_not_honor": 1.0}},
}

# Retry schedules: delay before each attempt, counted from the previous failed one.
RETRY_PRESETS: dict[str, tuple[float, ...]] = {
    # Standard Webhooks: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
    "standard_webhooks": (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400),
    # Adyen: 9, 18, 27 s, then 2, 5, 10, 15, 30 min, 1, 2, 4, 8 h.
    "adyen": (0, 9, 18, 27, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800),
    # Stripe: exponential backoff for up to 3 days; the exact steps are an ASSUMPTION.
    "stripe": (0, 60, 300, 1800, 3600, 7200, 14400, 28800, 57600, 86400, 86400),
    "none": (0,),
}


def _check_mix(mix: dict[str, float], known: frozenset[str] | None = DECLINE_CODES) -> None:
    if not all(0 <= w < math.inf for w in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError("mix weights must be finite and >= 0, and at least one above zero")
    if known is not None and (unknown := set(mix) - known):
        raise ValueError(f"unknown decline codes {sorted(unknown)}; known: {sorted(known)}")


class SegmentRule(Strict):
    """Overrides approval and decline mix for one segment; the first match wins.

    Empty lists match everything. Amounts are minor units of the payment's
    currency, so pair an amount band with ``currencies``.
    """

    currencies: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
    methods: list[str] = Field(default_factory=list)
    operations: list[str] = Field(default_factory=list)
    bins: list[str] = Field(default_factory=list)  # prefixes of the 6-digit BIN
    issuers: list[str] = Field(default_factory=list)
    funding: list[str] = Field(default_factory=list)  # debit | credit | prepaid
    min_amount: int | None = None  # inclusive
    max_amount: int | None = None  # exclusive
    approval_rate: float | None = Field(None, ge=0, le=1)
    decline_mix: dict[str, float] | None = None

    @field_validator("decline_mix")
    @classmethod
    def _mix(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is not None:
            _check_mix(v)
        return v


class TimeoutSpec(Strict):
    """The call hangs past the client's timeout; the provider may still act on it."""

    probability: float = Field(0.002, ge=0, le=1)  # ASSUMPTION
    client_timeout_s: float = Field(30.0, gt=0)  # SDK client timeouts are ~30 s
    hang_s: float = Field(35.0, gt=0)
    processed_probability: float = Field(0.5, ge=0, le=1)  # ASSUMPTION: acted on, answer lost


class ErrorRates(Strict):
    """Per-call HTTP and transport faults, drawn independently of the payment outcome."""

    http_5xx: float = Field(0.003, ge=0, le=1)  # ASSUMPTION
    http_429: float = Field(0.001, ge=0, le=1)  # ASSUMPTION
    reset: float = Field(0.0005, ge=0, le=1)  # ASSUMPTION
    empty: float = Field(0.0002, ge=0, le=1)  # ASSUMPTION
    malformed: float = Field(0.0002, ge=0, le=1)  # ASSUMPTION
    processed_on_5xx: float = Field(0.0, ge=0, le=1)  # a 5xx after the work was done
    processed_on_lost_response: float = Field(0.5, ge=0, le=1)  # reset / empty / malformed


class Window(Strict):
    """A timeline entry active for ``start <= now < end`` (seconds of model time)."""

    start: float
    end: float
    kind: Literal["approval", "outage", "latency", "duplicate_storm"]
    approval_rate: float = Field(0.0, ge=0, le=1)  # approval: the rate drops to this
    fault: str = "http_5xx"  # outage: every call fails this way
    extra_latency_s: float = Field(0.0, ge=0)  # latency: added to every call
    duplicate_probability: float = Field(1.0, ge=0, le=1)  # duplicate_storm
    duplicate_count: int = Field(3, ge=0)

    @model_validator(mode="after")
    def _valid(self) -> Window:
        if self.end < self.start:
            raise ValueError("window end must not be before start")
        if self.fault not in FAULTS:
            raise ValueError(f"fault must be one of {FAULTS}")
        return self


class WebhookSpec(Strict):
    """How events reach the merchant: late, twice, out of order, or never."""

    delay: Dist = lognormal(1.0, 30.0)  # ASSUMPTION
    duplicate_probability: float = Field(0.02, ge=0, le=1)  # no public rate: a knob
    duplicate_count: int = Field(1, ge=0)
    duplicate_spread: Dist = lognormal(5.0, 120.0)  # ASSUMPTION: gap before a duplicate
    reorder_probability: float = Field(0.01, ge=0, le=1)  # ASSUMPTION
    loss_probability: float = Field(0.0, ge=0, le=1)  # never delivered: the wallet must poll
    retry_schedule: str | list[float] = "standard_webhooks"

    @field_validator("retry_schedule")
    @classmethod
    def _schedule(cls, v: str | list[float]) -> str | list[float]:
        if isinstance(v, str) and v not in RETRY_PRESETS:
            raise ValueError(f"unknown preset {v!r}; known: {sorted(RETRY_PRESETS)}")
        if isinstance(v, list) and (not v or any(x < 0 for x in v)):
            raise ValueError("a retry schedule is a non-empty list of delays >= 0")
        return v


class DisputeSpec(Strict):
    """Money that comes back days later: refunds and chargebacks on approved payments."""

    chargeback_probability: float = Field(0.003, ge=0, le=1)  # ASSUMPTION
    chargeback_delay_days: Dist = Dist(kind="uniform", low=10.0, high=60.0)  # ASSUMPTION
    chargeback_fee: dict[str, str] = Field(default_factory=lambda: {"EUR": "15.00"})  # ASSUMP.
    refund_probability: float = Field(0.005, ge=0, le=1)  # ASSUMPTION
    refund_delay_days: Dist = Dist(kind="uniform", low=0.5, high=10.0)  # ASSUMPTION


class FeeSpec(Strict):
    """Provider fee per approved payment: percentage plus a fixed amount per currency."""

    percent: Decimal = Field(Decimal("2.5"), ge=0, le=100)  # ASSUMPTION, high-risk MCC pricing
    fixed: dict[str, str] = Field(default_factory=lambda: {"EUR": "0.25", "USD": "0.30",
                                                           "GBP": "0.20"})


class FaultProfile(Strict):
    """Everything about how one provider behaves, good days and bad."""

    kind: Literal["card", "ewallet", "bank", "crypto", "kyc"] = "card"
    # New Jersey online casinos saw card deposits accepted 42-46 % (2014) and the
    # regulator ~73 % Visa / ~44 % Mastercard: 0.70 is an ASSUMPTION between them.
    approval_rate: float = Field(0.70, ge=0, le=1)
    decline_mix: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_DECLINE_MIX))
    rules: list[SegmentRule] = Field(default_factory=list)
    latency: Dist = lognormal(0.3, 0.9)  # ASSUMPTION: p50 ~300 ms, p99 within 2-3x p50
    timeout: TimeoutSpec = TimeoutSpec()
    errors: ErrorRates = ErrorRates()
    windows: list[Window] = Field(default_factory=list)
    fail_first_n: int = Field(0, ge=0)  # per payment reference: attempts 1..N fail
    fail_first_fault: str = "http_5xx"
    webhooks: WebhookSpec = WebhookSpec()
    disputes: DisputeSpec = DisputeSpec()
    fees: FeeSpec = FeeSpec()
    three_ds: ThreeDS = ThreeDS()
    ewallet: EWalletFlow = EWalletFlow()
    bank: BankFlow = BankFlow()
    chain: ChainParams = ChainParams()
    kyc: KycParams = KycParams()

    _compiled: Any = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _kind_defaults(cls, data: Any) -> Any:
        """Fill approval rate and decline mix with the kind's defaults when not given."""
        if isinstance(data, dict):
            defaults = KIND_DEFAULTS.get(data.get("kind", "card"), {})
            data = {**{k: (dict(v) if isinstance(v, dict) else v) for k, v in defaults.items()},
                    **data}
        return data

    @field_validator("decline_mix")
    @classmethod
    def _mix(cls, v: dict[str, float]) -> dict[str, float]:
        _check_mix(v)
        return v

    @model_validator(mode="after")
    def _fault(self) -> FaultProfile:
        if self.fail_first_fault not in FAULTS:
            raise ValueError(f"fail_first_fault must be one of {FAULTS}")
        rates = self.errors
        total = (self.timeout.probability + rates.http_5xx + rates.http_429 + rates.reset
                 + rates.empty + rates.malformed)
        if total > 1:
            raise ValueError("fault probabilities sum to more than 1")
        return self

    def model_post_init(self, context: Any, /) -> None:
        from mocks.models.compiled import Compiled

        self._compiled = Compiled(self)

    @property
    def compiled(self) -> Compiled:
        """The plain-attribute tables ``decide`` reads (built once per profile)."""
        return self._compiled

    def patched(self, patch: dict[str, Any]) -> FaultProfile:
        """A new validated profile with ``patch`` deep-merged in (HTTP PATCH semantics)."""
        return FaultProfile.model_validate(deep_merge(self.model_dump(mode="json"), patch))

    def with_window(self, window: Window) -> FaultProfile:
        return self.model_copy(update={"windows": [*self.windows, window]}).revalidated()

    def revalidated(self) -> FaultProfile:
        return FaultProfile.model_validate(self.model_dump(mode="json"))


# Maps that are one value (weights, rates, fees per currency): a patch replaces them whole.
ATOMIC = frozenset({"decline_mix", "return_reason_mix", "reject_reason_mix", "rate", "fixed",
                    "chargeback_fee"})


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JSON-merge-patch style, except that mixes and per-currency tables are replaced."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ATOMIC:
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class ProfileFile(Strict):
    """A YAML file: shared defaults, then per-provider overrides merged onto them."""

    seed: int = 0
    defaults: dict[str, Any] = Field(default_factory=dict)
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)

    def profiles(self) -> dict[str, FaultProfile]:
        return {name: FaultProfile.model_validate(deep_merge(self.defaults, body))
                for name, body in self.providers.items()}


class ProfileError(ValueError):
    """A profile file that must not be served: the message names the file and the field."""


def load_profile_file(path: str | Path) -> ProfileFile:
    """The file, validated down to every provider's merged profile."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    try:
        pf = ProfileFile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_problem(path, (), exc)) from None
    for name, body in pf.providers.items():
        try:
            FaultProfile.model_validate(deep_merge(pf.defaults, body))
        except ValidationError as exc:
            raise ProfileError(_problem(path, ("providers", name), exc)) from None
    return pf


def _problem(path: Path, where: tuple[str, ...], exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in (*where, *first["loc"])) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{path}: {field}: {first['msg']}{more}"
