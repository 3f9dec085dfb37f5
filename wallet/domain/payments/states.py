"""Payment states and the table of legal transitions.

The table is the single place that says which moves exist. Handlers in
:mod:`wallet.domain.payments.machine` pick a target state; ``allowed`` is the
guard every move goes through, so a handler bug surfaces as an
``illegal_transition`` anomaly instead of a silently corrupted payment.
Staying in the same state is always allowed (a cascade re-enters AUTHORIZING).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class State(StrEnum):
    # deposits
    CREATED = "created"
    SCREENING = "screening"  # waiting for the controls (KYC / AML / fraud) to decide
    AUTHORIZING = "authorizing"  # a provider call is in flight (or being routed)
    PENDING = "pending"  # 3-D Secure, redirect, consent, awaiting confirmations
    UNKNOWN = "unknown"  # the call timed out: outcome unknown until an inquiry answers
    SUCCEEDED = "succeeded"  # credited
    FAILED = "failed"  # deposits: declined; payouts: failed and released
    EXPIRED = "expired"
    REVERSED = "reversed"  # credited, then re-orged out / invalidated: credit reversed
    CHARGED_BACK = "charged_back"
    REFUNDED = "refunded"
    # payouts (FAILED and UNKNOWN are shared)
    REQUESTED = "requested"  # funds already held by the wallet; controls pending
    HELD = "held"  # held for manual review
    SENT = "sent"
    PAID = "paid"
    RETURNED = "returned"  # paid, then returned by the receiving bank days later


S = State

LEGAL: Final[dict[State, frozenset[State]]] = {
    S.CREATED: frozenset({S.SCREENING, S.AUTHORIZING, S.FAILED, S.EXPIRED}),
    S.SCREENING: frozenset({S.AUTHORIZING, S.FAILED, S.EXPIRED}),
    S.AUTHORIZING: frozenset({S.PENDING, S.UNKNOWN, S.SUCCEEDED, S.FAILED, S.EXPIRED}),
    S.PENDING: frozenset({S.AUTHORIZING, S.UNKNOWN, S.SUCCEEDED, S.FAILED, S.EXPIRED}),
    S.UNKNOWN: frozenset({S.AUTHORIZING, S.PENDING, S.SUCCEEDED, S.FAILED, S.EXPIRED,
                          S.SENT, S.PAID}),
    S.SUCCEEDED: frozenset({S.REVERSED, S.CHARGED_BACK, S.REFUNDED}),
    # Money truth wins: a provider that settles after we gave up is credited (and flagged).
    S.FAILED: frozenset({S.SUCCEEDED}),
    S.EXPIRED: frozenset({S.PENDING, S.SUCCEEDED}),  # crypto paid late
    S.REVERSED: frozenset(),
    S.CHARGED_BACK: frozenset(),
    S.REFUNDED: frozenset({S.CHARGED_BACK}),  # partially refunded, then disputed
    S.REQUESTED: frozenset({S.HELD, S.SENT, S.FAILED}),
    S.HELD: frozenset({S.SENT, S.FAILED}),
    S.SENT: frozenset({S.UNKNOWN, S.PAID, S.FAILED}),
    S.PAID: frozenset({S.RETURNED}),
    S.RETURNED: frozenset(),
}

# Deposit states in which no provider call is outstanding and no credit can be in doubt.
SETTLED: Final = frozenset({S.SUCCEEDED, S.REVERSED, S.CHARGED_BACK, S.REFUNDED})
WAITING: Final = frozenset({S.AUTHORIZING, S.PENDING, S.UNKNOWN})  # on the provider
UNDECIDED: Final = frozenset({S.CREATED, S.SCREENING}) | WAITING  # no outcome yet
AFTER_CREDIT: Final = frozenset({S.SUCCEEDED, S.REFUNDED})  # the credit stands
FINAL: Final = frozenset({S.SUCCEEDED, S.FAILED, S.EXPIRED, S.REVERSED, S.CHARGED_BACK,
                          S.REFUNDED, S.PAID, S.RETURNED})


def allowed(current: State, new: State) -> bool:
    return new is current or new in LEGAL[current]
