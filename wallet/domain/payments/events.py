"""Events into the payment state machine: facts, named in the past tense.

Both shells produce them: the live shell from HTTP replies and verified
webhooks (``wallet.adapters``), the SimPy shell from the mock models'
decisions. Slotted and frozen: about ten of them per payment, a million
payments per simulated day.

Outcomes and webhook types use the canonical vocabulary the provider adapters
translate every dialect into (the same strings the mock models speak).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

# Canonical outcomes (ProviderReplied, StatusPolled).
APPROVED: Final = "approved"
DECLINED: Final = "declined"
PENDING: Final = "pending"
EXPIRED: Final = "expired"
NOT_FOUND: Final = "not_found"  # inquiry: the provider never processed this key
UNKNOWN: Final = "unknown"  # inquiry: no answer (timeout, 5xx); try again later

# Controls decisions (KYC / AML / fraud plug in here).
ALLOW: Final = "allow"
REVIEW: Final = "review"
BLOCK: Final = "block"
STEP_UP: Final = "step_up"

# Timer kinds (ScheduleTimeout -> Expired).
POLL: Final = "poll"  # time to ask the provider (a pending or unknown payment)
DEADLINE: Final = "deadline"  # give up waiting; a later settlement is still credited

# Canonical webhook types, grouped by what they mean to the machine.
WH_INFO: Final = frozenset({"payment.processing", "payment.requires_action", "payment.pending",
                            "payout.pending"})
WH_SUCCEEDED: Final = frozenset({"payment.succeeded", "payout.paid"})
WH_FAILED: Final = frozenset({"payment.failed", "payout.failed"})
WH_EXPIRED: Final = frozenset({"payment.expired"})
WH_REFUND: Final = "refund.succeeded"
WH_CHARGEBACK: Final = "chargeback.created"
WH_PAYOUT_RETURNED: Final = "payout.returned"
WH_SEEN: Final = "invoice.payment_seen"
WH_CONFIRMED: Final = "invoice.confirmed"
WH_SETTLED: Final = "invoice.settled"
WH_INVOICE_EXPIRED: Final = "invoice.expired"
WH_INVALID: Final = "invoice.invalid"
WH_REORGED: Final = "invoice.reorged"


class Event:
    """Marker base (no fields, no slots cost)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class DepositRequested(Event):
    """A player asked to deposit. ``provider`` is the router's first choice (None: ask it).
    ``controls`` is a decision already taken synchronously (default allow); None makes the
    payment wait in SCREENING for a :class:`ControlsDecided`."""

    payment_id: str
    player_id: str
    amount: int  # minor units of ``currency``
    currency: str
    method: str  # card | ewallet | bank | crypto
    provider: str | None = None
    controls: str | None = ALLOW
    country: str = ""  # routing inputs
    bin: str = ""


@dataclass(frozen=True, slots=True)
class PayoutRequested(Event):
    """The wallet already holds the funds (RequestWithdrawal, the refusable step); pay them out."""

    payment_id: str  # = the wallet's withdrawal id
    player_id: str
    amount: int
    currency: str
    method: str
    provider: str
    controls: str | None = ALLOW


@dataclass(frozen=True, slots=True)
class ControlsDecided(Event):
    decision: str  # allow | review | block | step_up
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Routed(Event):
    """The router's answer to RouteNext; None when no eligible provider is left."""

    provider: str | None


@dataclass(frozen=True, slots=True)
class ProviderReplied(Event):
    """The synchronous answer to a CallProvider, already in canonical form."""

    attempt: int
    outcome: str  # approved | declined | pending | expired
    provider_ref: str = ""
    decline_code: str | None = None  # canonical (see declines.py)
    raw_code: str | None = None  # the provider's own code, for reports
    redirect_url: str | None = None
    confirmations_required: int | None = None  # crypto invoices
    amount_due: int | None = None  # crypto: asset minor units quoted for the invoice


@dataclass(frozen=True, slots=True)
class ProviderFailed(Event):
    """5xx, 429, connection refused, after the adapter's own bounded retries: nothing processed."""

    attempt: int
    reason: str


@dataclass(frozen=True, slots=True)
class ProviderTimedOut(Event):
    """No answer in time (or the answer was lost): the provider may or may not have acted."""

    attempt: int


@dataclass(frozen=True, slots=True)
class StatusPolled(Event):
    """The answer to an InquireStatus; ``outcome`` may also be not_found or unknown."""

    outcome: str
    provider_ref: str = ""
    decline_code: str | None = None
    raw_code: str | None = None
    attempt: int = 0  # the attempt asked about (InquireStatus.attempt); 0: the current one


@dataclass(frozen=True, slots=True)
class WebhookReceived(Event):
    """A verified provider notification. ``event_id`` is stable across duplicates and retries."""

    type: str  # canonical, e.g. payment.succeeded, invoice.confirmed
    event_id: str
    provider_ref: str = ""
    provider: str = ""
    reference: str = ""  # our payment id (or the per-attempt key the dialect echoes)
    sequence: int | None = None  # per provider payment, increasing (0 is a sequence); None: not given
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConfirmationSeen(Event):
    """The payment's transaction has ``n`` confirmations; ``paid`` in asset minor units."""

    n: int
    paid: int | None = None
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class Reorged(Event):
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class ChargebackReceived(Event):
    amount: int | None = None  # None: the whole outstanding amount
    fee: int = 0
    reason: str = "fraud"
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class RefundConfirmed(Event):
    refund_id: str
    amount: int | None = None  # None: the whole outstanding amount


@dataclass(frozen=True, slots=True)
class PayoutReturned(Event):
    reason: str = "returned"
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class Expired(Event):
    """A ScheduleTimeout came due. Timers are never cancelled: one that no longer applies
    is ignored without comment."""

    kind: str  # poll | deadline
