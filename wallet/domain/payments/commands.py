"""Commands out of the payment state machine: what the shell must do next. Imperative names.

The machine never performs I/O; each shell (SimPy or live) executes these in
order. ``PostToLedger`` wraps a wallet command (``wallet.domain.commands``),
whose own idempotency (transaction ids derived from provider and payment id)
is the second fence against a double credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from wallet.domain.commands import Command as WalletCommand

# Anomaly kinds (FlagAnomaly.kind), for the checker's report by kind.
ILLEGAL_TRANSITION: Final = "illegal_transition"
STALE_EVENT: Final = "stale_event"  # older information than what we already applied
CONFLICTING_OUTCOME: Final = "conflicting_outcome"  # e.g. "failed" after "succeeded"
SETTLED_AFTER_FAILURE: Final = "settled_after_failure"  # credited anyway: money truth wins
DOUBLE_SETTLEMENT: Final = "double_settlement"  # two attempts settled: refund one by hand
REORG_AFTER_CREDIT: Final = "reorg_after_credit"
SETTLED_AFTER_REVERSAL: Final = "settled_after_reversal"
UNDERPAID: Final = "underpaid"
OVERPAID: Final = "overpaid"
PAID_AFTER_EXPIRY: Final = "paid_after_expiry"
UNKNOWN_DECLINE_CODE: Final = "unknown_decline_code"
NOT_CREDITED: Final = "not_credited"  # chargeback / refund for a payment never credited
PAID_AFTER_RELEASE: Final = "paid_after_release"  # payout paid after we released the hold
UNRESOLVED: Final = "unresolved"  # inquiries exhausted, outcome still unknown


class GatewayCommand:
    __slots__ = ()
    payment_id: str  # every command's own field: the payment it is for


@dataclass(frozen=True, slots=True)
class CallProvider(GatewayCommand):
    """Send the payment to ``provider``. ``idempotency_key`` is derived from payment id and
    attempt (:func:`attempt_key`), so re-sending the same attempt can never charge twice."""

    payment_id: str
    provider: str
    attempt: int
    idempotency_key: str
    step_up: bool = False  # ask for 3-D Secure / strong authentication


@dataclass(frozen=True, slots=True)
class InquireStatus(GatewayCommand):
    """Ask the provider what happened. Without ``provider_ref`` (the call timed out before we
    learnt it) the adapter re-sends the original request with the SAME key: a replay."""

    payment_id: str
    provider: str
    provider_ref: str | None
    idempotency_key: str
    attempt: int


@dataclass(frozen=True, slots=True)
class ScheduleTimeout(GatewayCommand):
    """Feed ``Expired(kind)`` back at ``at`` (shell clock seconds)."""

    payment_id: str
    at: float
    kind: str


@dataclass(frozen=True, slots=True)
class PostToLedger(GatewayCommand):
    payment_id: str
    command: WalletCommand


@dataclass(frozen=True, slots=True)
class RouteNext(GatewayCommand):
    """Ask the router for the next eligible provider, never one in ``exclude``; answer Routed."""

    payment_id: str
    exclude: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class MarkFailed(GatewayCommand):
    """Tell the player (and metrics) the payment failed; ``reason`` is a canonical code."""

    payment_id: str
    reason: str
    user_message: str = ""


@dataclass(frozen=True, slots=True)
class FlagAnomaly(GatewayCommand):
    payment_id: str
    kind: str
    detail: str


def attempt_key(payment_id: str, attempt: int) -> str:
    """The provider idempotency key of one attempt: deterministic, so a crash-and-retry of the
    shell re-sends the same key. (Dialects that dedupe on the merchant reference get this
    key as their reference; :func:`payment_of_key` maps it back for reconciliation.)"""
    return f"{payment_id}-a{attempt}"


def payment_of_key(key: str) -> str:
    head, sep, tail = key.rpartition("-a")
    return head if sep and tail.isdigit() else key
