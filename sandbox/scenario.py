"""Scenario files: what a simulated (or live) run plays, validated before anything runs.

A scenario names its players and their behaviour, the providers and their fault
profiles (with a timeline of outages, approval drops, slow spells and duplicate
storms), the routing strategy, the controls, how long to run, the seed, and the
expectations that decide the exit code. ``load`` turns any problem into one
:class:`ScenarioError` naming the file, the field and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mocks.cli import DEFAULT_PROFILE
from mocks.models.profile import FaultProfile, ProfileFile, Window, deep_merge, load_profile_file
from wallet.domain.errors import DomainError
from wallet.domain.money import minor_units
from wallet.domain.routing import InvalidRoutingConfig, Strategy, make_strategy

HOUR = 3600.0


class ScenarioError(Exception):
    """A scenario that must not run: the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Amount(_Strict):
    """A lognormal amount in MAJOR units (what people write), clipped to [min, max]."""

    p50: float = Field(gt=0)
    p99: float = Field(gt=0)
    min: float = Field(0.01, gt=0)
    max: float = Field(1e9, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Amount:
        if not self.min <= self.p50 <= self.p99 <= self.max:
            raise ValueError("expected min <= p50 <= p99 <= max")
        return self


class Session(_Strict):
    rounds: int = Field(30, ge=0, le=10_000)  # bets per session
    bet: Amount = Amount(p50=1.0, p99=10.0, min=0.1, max=500.0)
    rtp: float = Field(0.96, gt=0, le=1.5)  # the game's return to player
    win_probability: float = Field(0.3, gt=0, le=1)
    rollback_probability: float = Field(0.002, ge=0, le=1)  # the aggregator rolls a bet back
    rollback_first_probability: float = Field(0.0, ge=0, le=1)  # ... and the rollback overtakes it
    gap_s: float = Field(8.0, ge=0)  # seconds between rounds


class Players(_Strict):
    count: int = Field(ge=1, le=1_000_000)
    arrival: Literal["poisson", "uniform"] = "poisson"
    currencies: dict[str, float] = Field(default_factory=lambda: {"EUR": 1.0})
    countries: dict[str, float] = Field(default_factory=lambda: {"DE": 1.0})
    methods: dict[str, float] = Field(default_factory=lambda: {
        "card": 0.6, "ewallet": 0.2, "bank": 0.1, "crypto": 0.1})
    deposit: Amount = Amount(p50=40.0, p99=500.0, min=10.0, max=5_000.0)
    deposits: int = Field(1, ge=1, le=100)  # deposit attempts per player (one per session)
    session: Session = Session()
    withdrawal_probability: float = Field(0.3, ge=0, le=1)  # after a session with a balance
    play_after_withdrawal: int = Field(0, ge=0, le=1_000)  # rounds bet at once, 1 s apart
    bonus_uptake: float = Field(0.0, ge=0, le=1)  # takes a 100 % first-deposit match
    bonus_wagering: int = Field(30, ge=0, le=200)
    fx_probability: float = Field(0.0, ge=0, le=1)  # converts part of the balance to another currency
    cards: int = Field(0, ge=0)  # distinct cards in the population (0: one per player)

    @model_validator(mode="after")
    def _weights(self) -> Players:
        for name in ("currencies", "countries", "methods"):
            weights = getattr(self, name)
            if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
                raise ValueError(f"{name} must map names to non-negative weights, not all zero")
        bad = set(self.methods) - {"card", "ewallet", "bank", "crypto"}
        if bad:
            raise ValueError(f"unknown methods {sorted(bad)}: expected card, ewallet, bank, crypto")
        return self


class TimelineEntry(_Strict):
    """A provider's bad spell, in hours from the start: an outage, an approval drop, ..."""

    provider: str
    kind: Literal["approval", "outage", "latency", "duplicate_storm"]
    at_h: float = Field(ge=0)
    for_h: float = Field(gt=0)
    approval_rate: float = Field(0.0, ge=0, le=1)
    fault: str = "http_5xx"
    extra_latency_s: float = Field(0.0, ge=0)
    duplicate_probability: float = Field(1.0, ge=0, le=1)
    duplicate_count: int = Field(3, ge=0)

    def window(self) -> Window:
        body = self.model_dump(exclude={"provider", "at_h", "for_h"})
        return Window(start=self.at_h * HOUR, end=(self.at_h + self.for_h) * HOUR, **body)


class Providers(_Strict):
    profile: str = "default"  # "default" or a path to a mock profile file
    only: list[str] | None = None  # providers the gateway may use (default: all of the file's)
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)  # merged per provider
    timeline: list[TimelineEntry] = Field(default_factory=list)


class Routing(_Strict):
    strategy: str = "static"
    params: dict[str, Any] = Field(default_factory=dict)
    eliminate: bool | dict[str, Any] = False

    def build(self) -> Strategy:
        return make_strategy(self.strategy, eliminate=self.eliminate, **self.params)


class Controls(_Strict):
    payout_review_at: dict[str, str] = Field(default_factory=lambda: {"EUR": "2000"})


class Gateway(_Strict):
    max_attempts: int = Field(3, ge=1, le=10)
    client_timeout_s: float = Field(30.0, gt=0)


class Expectations(_Strict):
    """What decides the exit code beyond the consistency checks (which must always pass)."""

    deposit_approval_min: float | None = Field(None, ge=0, le=1)
    deposit_approval_max: float | None = Field(None, ge=0, le=1)
    p99_time_to_credit_max_s: float | None = Field(None, gt=0)
    anomalies_max: dict[str, int] = Field(default_factory=dict)  # kind -> at most this many
    anomalies_min: dict[str, int] = Field(default_factory=dict)  # kind -> at least (it happened)


class Scenario(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_\-]+$")
    purpose: str = Field(min_length=1)
    seed: int = 1
    duration_h: float = Field(24.0, gt=0, le=24 * 90)  # players arrive in this window
    drain_h: float = Field(48.0, ge=0)  # then the run continues for late webhooks, polls, returns
    players: Players
    providers: Providers = Providers()
    routing: Routing = Routing()
    controls: Controls = Controls()
    gateway: Gateway = Gateway()
    expectations: Expectations = Expectations()

    @property
    def end_s(self) -> float:
        return (self.duration_h + self.drain_h) * HOUR

    def profiles(self, base: Path | None = None) -> dict[str, FaultProfile]:
        """The providers' fault profiles with this scenario's overrides and timeline applied."""
        pf = _profile_file(self.providers.profile, base)
        bodies = {name: deep_merge(pf.defaults, body) for name, body in pf.providers.items()}
        for name, patch in self.providers.overrides.items():
            if name not in bodies:
                raise ValueError(f"providers.overrides.{name}: no such provider in the profile")
            bodies[name] = deep_merge(bodies[name], patch)
        profiles = {name: FaultProfile.model_validate(body) for name, body in bodies.items()}
        for entry in self.providers.timeline:
            if entry.provider not in profiles:
                raise ValueError(f"providers.timeline: no such provider {entry.provider!r}")
            profiles[entry.provider] = profiles[entry.provider].with_window(entry.window())
        keep = self.providers.only
        return {n: p for n, p in profiles.items() if p.kind != "kyc" and (keep is None or n in keep)}

    def payout_review_at(self) -> dict[str, int]:
        return {c: minor_units(v, c) for c, v in self.controls.payout_review_at.items()}


def _profile_file(name: str, base: Path | None) -> ProfileFile:
    if name == "default":
        return load_profile_file(DEFAULT_PROFILE)
    path = Path(name)
    if not path.is_absolute() and base is not None:
        path = base / path
    return load_profile_file(path)


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def load(path: str | Path, **overrides: Any) -> Scenario:
    """Read, validate and check a scenario (profiles and strategy are built once to prove
    they can be). Raises ScenarioError naming the file and the field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: expected a mapping of scenario fields at the top level")
    try:
        scenario = Scenario.model_validate({**raw, **overrides})
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ScenarioError(f"{path}: {_where(first['loc'])}: {first['msg']}{more}") from None
    try:
        scenario.profiles(path.parent)
        scenario.routing.build()
        scenario.payout_review_at()
    except InvalidRoutingConfig as exc:
        raise ScenarioError(f"{path}: routing.{exc.field or 'params'}: {exc.message}") from None
    except DomainError as exc:
        raise ScenarioError(f"{path}: controls.payout_review_at: {exc.message}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ScenarioError(f"{path}: providers: {_where(first['loc'])}: {first['msg']}") from None
    except (ValueError, OSError) as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    return scenario
