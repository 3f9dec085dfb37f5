"""Settings for the wallet's HTTP API, read from ``WALLET_*`` environment variables.

Secrets (API keys, the token secret) are excluded from ``repr`` so a settings
object can be logged. When no keys are configured a fixed development key set
is used: it is public (it is in this file and in docs/api.md), so it is
INSECURE and only fit for a laptop or a CI sandbox.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SCOPE_RE = re.compile(r"^(admin|operator|game:[A-Za-z0-9_.\-]{1,64})$")
MIN_KEY_LENGTH = 16
MIN_DB_CONNECTIONS = 4  # two for the store's pool, two for the bet hot path

# INSECURE: published development credentials, used only when WALLET_API_KEYS is unset.
DEV_API_KEYS: dict[str, dict[str, Any]] = {
    "dev-admin-key-INSECURE": {"name": "dev-admin", "scopes": ["admin"]},
    "dev-operator-key-INSECURE": {"name": "dev-operator", "scopes": ["operator"]},
    "dev-hub88-key-INSECURE": {"name": "dev-hub88", "scopes": ["game:hub88"]},
}
DEV_TOKEN_SECRET = "dev-player-token-secret-INSECURE"


class ApiKeySpec(BaseModel):
    """Who holds a key and what it may do. The name scopes idempotency keys and
    appears in the audit log; the key itself never does."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    scopes: tuple[str, ...] = Field(min_length=1)

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, scopes: tuple[str, ...]) -> tuple[str, ...]:
        bad = [s for s in scopes if not SCOPE_RE.match(s)]
        if bad:
            raise ValueError(f"unknown scope(s) {bad}: use admin, operator or game:<aggregator>")
        if sum(s.startswith("game:") for s in scopes) > 1:
            raise ValueError("a key may act for one aggregator only (one game:<aggregator> scope)")
        return scopes


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WALLET_", extra="ignore")

    database_url: str = "sqlite:///./wallet.sqlite3"  # "memory://" for the in-memory store
    migrate: bool = True  # run the SQL migrations at start-up
    api_keys: dict[str, ApiKeySpec] | None = Field(default=None, repr=False)
    token_secret: SecretStr | None = None
    token_ttl_seconds: int = Field(default=900, ge=1, le=86_400)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65_535)
    log_level: str = "info"
    gateway: bool = True  # serve /v1/gateway/* and /v1/webhooks/*
    hot_bets: bool = True  # PostgreSQL: answer plain bets on the event loop (wallet.api.hot_bets)
    # PostgreSQL: the most connections this process opens, the store's pool and the bet hot
    # path's together (wallet.api.app.pool_sizes); ``sandbox serve --workers`` fits it to the server
    db_connections: int = Field(default=32, ge=MIN_DB_CONNECTIONS)
    gateway_config: str | None = None  # YAML path; default: the local mocks (api/gateway.yaml)
    public_url: str | None = None  # where providers send webhooks; default: the config's
    sweep_interval_s: float = Field(default=1.0, gt=0)  # how often due payment timers fire
    # set by ``sandbox serve --workers``: a worker whose supervisor dies (kill -9) stops too
    supervisor_pid: int | None = None

    @field_validator("api_keys")
    @classmethod
    def _keys_unique_and_long(cls, keys: dict[str, ApiKeySpec] | None) -> dict[str, ApiKeySpec] | None:
        if keys is None:
            return None
        if any(len(k) < MIN_KEY_LENGTH for k in keys):
            raise ValueError(f"API keys must be at least {MIN_KEY_LENGTH} characters")
        names = [spec.name for spec in keys.values()]
        if len(set(names)) != len(names):
            raise ValueError("API key names must be unique (they scope idempotency keys)")
        return keys

    @property
    def using_dev_credentials(self) -> bool:
        return self.api_keys is None or self.token_secret is None

    def effective_api_keys(self) -> dict[str, ApiKeySpec]:
        if self.api_keys is not None:
            return self.api_keys
        return {k: ApiKeySpec.model_validate(v) for k, v in DEV_API_KEYS.items()}

    def effective_token_secret(self) -> bytes:
        secret = self.token_secret.get_secret_value() if self.token_secret else DEV_TOKEN_SECRET
        return secret.encode()
