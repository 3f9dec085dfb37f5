"""Idempotency records (IETF Idempotency-Key draft semantics, Stripe-style storage).

The record is written in the same database transaction as the postings, so a
request is either fully applied and remembered, or neither. Business refusals
are remembered and replayed too; malformed input is not (nothing ran).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from wallet.domain.audit import canonical
from wallet.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    scope: str  # the client: keys of different clients never collide
    key: str

    def __post_init__(self) -> None:
        if not self.key or len(self.key) > 255:
            raise InvalidInput("idempotency key must be 1-255 characters", field="Idempotency-Key")


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    scope: str
    key: str
    fingerprint: str
    outcome: dict[str, Any]  # {"ok": result} or {"error": {"code", "message", "field"}}
    created_at: float


def fingerprint(action: str, payload: Any) -> str:
    return hashlib.sha256(canonical([action, payload]).encode()).hexdigest()
