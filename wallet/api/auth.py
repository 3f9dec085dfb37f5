"""Who is calling: API keys with scopes, and stateless HMAC-signed player tokens.

Keys are looked up by their SHA-256 digest, so the lookup time says nothing
about how close a guess was, and the plain key is never stored or logged.
Player tokens (``pt1.<payload>.<signature>``) bind one player id and an expiry;
they need no storage, so every worker can verify them with the shared secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from wallet.api.errors import ApiError
from wallet.api.settings import ApiKeySpec
from wallet.service.clock import Clock

ADMIN, OPERATOR = "admin", "operator"
TOKEN_PREFIX = "pt1"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="wallet"'}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. ``name`` never contains ':' for keys, so the
    idempotency scopes of keys, players and aggregators cannot collide."""

    name: str
    scopes: frozenset[str]
    player_id: str | None = None  # set for player tokens only

    @property
    def actor(self) -> str:
        return f"player:{self.player_id}" if self.player_id else f"key:{self.name}"

    @property
    def idempotency_scope(self) -> str:
        return f"player:{self.player_id}" if self.player_id else self.name

    @property
    def aggregator(self) -> str | None:
        return next((s.split(":", 1)[1] for s in self.scopes if s.startswith("game:")), None)

    def has(self, *scopes: str) -> bool:
        return not self.scopes.isdisjoint(scopes)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Authenticator:
    def __init__(self, keys: Mapping[str, ApiKeySpec], token_secret: bytes, clock: Clock) -> None:
        self._keys = {hashlib.sha256(k.encode()).digest(): spec for k, spec in keys.items()}
        self._secret = token_secret
        self._clock = clock

    def issue_token(self, player_id: str, ttl_seconds: int) -> tuple[str, int]:
        expires = int(self._clock.now()) + ttl_seconds
        payload = _b64(json.dumps({"sub": player_id, "exp": expires}, separators=(",", ":")).encode())
        return f"{TOKEN_PREFIX}.{payload}.{self._sign(payload)}", expires

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, f"{TOKEN_PREFIX}.{payload}".encode(), "sha256").digest())

    def _player(self, token: str) -> Principal:
        parts = token.split(".")
        given = parts[-1].encode("utf-8", "replace")  # bytes: compare_digest refuses non-ASCII str
        if len(parts) != 3 or not hmac.compare_digest(self._sign(parts[1]).encode(), given):
            raise ApiError(401, "unauthenticated", "invalid player token", headers=_CHALLENGE)
        try:
            claims = json.loads(_unb64(parts[1]))
            player_id, expires = str(claims["sub"]), int(claims["exp"])
        except (ValueError, KeyError, TypeError, OverflowError, binascii.Error):
            raise ApiError(401, "unauthenticated", "invalid player token", headers=_CHALLENGE) from None
        if expires <= self._clock.now():
            raise ApiError(401, "unauthenticated", "player token expired", headers=_CHALLENGE)
        return Principal(f"player:{player_id}", frozenset({"player"}), player_id)

    def authenticate(self, credential: str | None) -> Principal:
        if not credential:
            raise ApiError(
                401, "unauthenticated", "send an API key (X-API-Key) or a bearer token", headers=_CHALLENGE
            )
        if credential.startswith(TOKEN_PREFIX + "."):
            return self._player(credential)
        spec = self._keys.get(hashlib.sha256(credential.encode("utf-8", "replace")).digest())
        if spec is None:
            raise ApiError(401, "unauthenticated", "unknown API key", headers=_CHALLENGE)
        return Principal(spec.name, frozenset(spec.scopes))


_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key")
_bearer = HTTPBearer(auto_error=False, description="an API key or a player token")


async def principal(
    request: Request,
    api_key: Annotated[str | None, Security(_api_key)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Principal:
    credential = api_key or (bearer.credentials if bearer else None)
    return request.app.state.auth.authenticate(credential)


def require(*scopes: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting callers that hold any of ``scopes``."""

    async def check(p: Annotated[Principal, Depends(principal)]) -> Principal:
        if not p.has(*scopes):
            raise ApiError(403, "forbidden", f"requires scope {' or '.join(scopes)}")
        return p

    return check


async def player_or_operator(player_id: str, p: Annotated[Principal, Depends(principal)]) -> Principal:
    """Operators see every player; a player token only its own. The refusal is the
    same whether the other player exists or not, so ids cannot be probed."""
    if p.has(OPERATOR, ADMIN) or (p.player_id is not None and p.player_id == player_id):
        return p
    raise ApiError(403, "forbidden", "not allowed for this player")


async def aggregator(p: Annotated[Principal, Depends(principal)]) -> Principal:
    """Game calls act for the aggregator named in the key's scope, never in the body."""
    if p.aggregator is None:
        raise ApiError(403, "forbidden", "requires scope game:<aggregator>")
    return p


Admin = Annotated[Principal, Depends(require(ADMIN))]
Operator = Annotated[Principal, Depends(require(OPERATOR, ADMIN))]
PlayerOrOperator = Annotated[Principal, Depends(player_or_operator)]
Aggregator = Annotated[Principal, Depends(aggregator)]
Anyone = Annotated[Principal, Depends(principal)]
