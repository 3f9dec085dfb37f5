"""The gateway's configuration: providers (where, with which keys, at what price) and routing.

Validated with pydantic so a bad file is refused at start-up naming the field.
``WALLET_GATEWAY_CONFIG`` points at a YAML file; the default (``gateway.yaml`` next
to this module) targets the local mock servers.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from wallet.adapters.live_gateway import LiveGateway
from wallet.adapters.providers import client_for
from wallet.domain.money import minor_units
from wallet.domain.payments.model import Policy
from wallet.domain.routing import Candidate, Fee, Strategy, make_strategy
from wallet.service.gateway import Gateway
from wallet.service.wallet import Wallet

DEFAULT_PATH = Path(__file__).with_name("gateway.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeeSchedule(_Strict):
    percent: Decimal = Field(Decimal(0), ge=0, le=100)
    fixed: dict[str, str] = Field(default_factory=dict)  # currency -> major units, "0.25"

    @field_validator("percent")
    @classmethod
    def _whole_basis_points(cls, v: Decimal) -> Decimal:
        if (v * 100) != (v * 100).to_integral_value():
            raise ValueError("percent must be a whole number of basis points (two decimals)")
        return v

    def fees(self, currencies: list[str]) -> dict[str, Fee]:
        bps = int(self.percent * 100)
        return {c: Fee(bps, minor_units(self.fixed.get(c, "0"), c)) for c in currencies}


class ProviderConfig(_Strict):
    base_url: str
    api_key: str
    webhook_secret: str
    methods: list[str] = Field(min_length=1)
    currencies: list[str] = Field(min_length=1)
    countries: list[str] = Field(default_factory=list)
    fees: FeeSchedule = FeeSchedule()
    priority: int = 0
    weight: float = Field(1.0, ge=0)
    timeout_s: float = Field(10.0, gt=0)


class RoutingConfig(_Strict):
    strategy: str = "static"
    params: dict[str, Any] = Field(default_factory=dict)
    eliminate: bool | dict[str, Any] = False
    seed: int = 0

    def build(self) -> Strategy:
        return make_strategy(self.strategy, eliminate=self.eliminate, **self.params)


class GatewayConfig(_Strict):
    callback_base_url: str = "http://127.0.0.1:8000"
    routing: RoutingConfig = RoutingConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    max_attempts: int = Field(3, ge=1, le=10)  # provider attempts per payment (cascade bound)

    @classmethod
    def load(cls, path: str | Path | None = None) -> GatewayConfig:
        text = Path(path or DEFAULT_PATH).read_text()
        return cls.model_validate(yaml.safe_load(text) or {})

    def build(self, wallet: Wallet, *, policy: Policy | None = None,
              transport: httpx.AsyncBaseTransport | None = None) -> LiveGateway:
        """The gateway service and its live shell (``transport``: call mocks in-process;
        ``policy``: timings other than the production defaults, for tests)."""
        policy = replace(policy or Policy(), max_attempts=self.max_attempts)
        gateway = Gateway(wallet, self.candidates(), self.routing.build(), seed=self.routing.seed,
                          policy=policy)
        clients = {name: client_for(name, p.base_url, api_key=p.api_key, transport=transport,
                                    timeout_s=p.timeout_s)
                   for name, p in self.providers.items()}
        secrets = {name: p.webhook_secret for name, p in self.providers.items()}
        return LiveGateway(gateway, clients, secrets, self.callback_base_url)

    def candidates(self) -> list[Candidate]:
        return [Candidate(name, frozenset(p.methods), frozenset(p.currencies),
                          frozenset(p.countries), fees=p.fees.fees(p.currencies),
                          weight=p.weight, priority=p.priority)
                for name, p in self.providers.items()]
