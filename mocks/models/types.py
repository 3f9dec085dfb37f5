"""Plain value types the behaviour models take and return.

Slotted dataclasses, not pydantic: ``decide`` runs about a million times per
simulated day, so validation happens once at the edge (the apps, the profile
loader) and the hot path only reads attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

# Canonical outcome vocabulary shared by every provider kind; dialects translate it.
APPROVED: Final = "approved"
DECLINED: Final = "declined"
PENDING: Final = "pending"
EXPIRED: Final = "expired"
ERROR: Final = "error"  # nothing decided: the call failed before the provider processed it

# Canonical faults: what the transport does to one call.
TIMEOUT: Final = "timeout"  # hangs past the client's timeout; may still be processed
HTTP_5XX: Final = "http_5xx"
HTTP_429: Final = "http_429"
RESET: Final = "reset"  # connection dropped mid-response
EMPTY: Final = "empty"  # 200 with an empty body
MALFORMED: Final = "malformed"  # 200 with a body that does not parse
FAULTS: Final = (TIMEOUT, HTTP_5XX, HTTP_429, RESET, EMPTY, MALFORMED)
# Faults where the response is lost but the provider may have acted on the request.
RESPONSE_LOST: Final = frozenset({TIMEOUT, RESET, EMPTY, MALFORMED})
# The HTTP status a fault answers with (the others lose the response instead).
FAULT_STATUS: Final = {HTTP_5XX: 503, HTTP_429: 429}


@dataclass(frozen=True, slots=True)
class CardInfo:
    """A tokenised card: never the PAN or CVV (PCI DSS 3.3.1, 3.4.1)."""

    bin: str  # first 6 digits
    last4: str
    fingerprint: str = ""  # keyed hash of the PAN, stable per card
    funding: str = "debit"  # debit | credit | prepaid
    issuer: str = ""
    country: str = ""
    holder_name: str = ""


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """One call to a payment provider, in canonical form (amount in minor units)."""

    reference: str  # the merchant's payment id: the key of the dice
    idempotency_key: str
    user_id: str
    amount: int
    currency: str
    method: str  # card | ewallet | bank | crypto
    callback_url: str = ""
    operation: str = "deposit"  # deposit | payout
    country: str = ""
    card: CardInfo | None = None

    def fingerprint(self) -> tuple[object, ...]:
        """What must match for a repeated idempotency key to be a replay (IETF draft: else 422)."""
        card = (self.card.fingerprint or f"{self.card.bin}{self.card.last4}") if self.card else ""
        return (self.reference, self.user_id, self.amount, self.currency, self.method,
                self.operation, card)


@dataclass(frozen=True, slots=True)
class KycRequest:
    """An identity check: age and location come in as facts, the provider decides."""

    reference: str
    idempotency_key: str
    user_id: str
    country: str
    age_years: int
    ip_country: str = ""
    document_type: str = "passport"
    callback_url: str = ""

    def fingerprint(self) -> tuple[object, ...]:
        return (self.reference, self.user_id, self.country, self.age_years, self.ip_country,
                self.document_type)


@dataclass(frozen=True, slots=True)
class Event:
    """A provider event. ``id`` is stable across duplicates and retries (the webhook-id)."""

    id: str
    type: str  # canonical, e.g. payment.succeeded; dialects rename it
    provider_ref: str
    reference: str
    sequence: int  # per payment, increasing: lets a wallet spot a stale event
    created_at: float
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Planned:
    """One planned delivery attempt of an event; duplicates share the event."""

    deliver_at: float
    event: Event


@dataclass(frozen=True, slots=True)
class Decision:
    """Everything a provider decided about one call, fixed at arrival time.

    ``outcome`` is what the synchronous response says; ``final_outcome`` is
    where the payment ends up at ``final_at`` (the same for synchronous
    approvals). ``processed`` is False when the provider never acted (429, 5xx,
    outage): then there is no record and no webhook.
    """

    provider: str
    kind: str
    reference: str
    idempotency_key: str
    provider_ref: str
    operation: str
    amount: int
    currency: str
    received_at: float
    latency: float
    fault: str | None
    processed: bool
    outcome: str
    decline_code: str | None
    final_outcome: str
    final_at: float
    webhooks: tuple[Planned, ...] = ()
    events: tuple[Event, ...] = ()  # the provider-side truth, whether delivered or not
    final_event_id: str = ""
    refund_at: float | None = None
    chargeback_at: float | None = None
    returned_at: float | None = None  # payouts returned by the receiving bank
    return_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def outcome_at(self, now: float) -> str:
        """The canonical outcome a poll sees at ``now`` (the fallback when webhooks are lost)."""
        if not self.processed:
            return ERROR
        return self.final_outcome if now >= self.final_at else self.outcome

    def last_event(self, now: float) -> Event | None:
        """The latest event that has happened by ``now``: what a status poll reports."""
        last = None
        for ev in self.events:
            if ev.created_at <= now and (last is None or ev.sequence >= last.sequence):
                last = ev
        return last

    @property
    def responded_at(self) -> float:
        return self.received_at + self.latency
