"""The payment journal: one entry per transition, as it happened.

It is the history the checker replays against the LEGAL table (an illegal move
shows up as an anomaly in the entry, never as a silently changed state), and the
record an engineer reads to learn why a payment went where it went: routing
decisions are ``Routed`` entries carrying the router's reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from wallet.domain.payments.commands import FlagAnomaly, GatewayCommand
from wallet.domain.payments.events import Event
from wallet.domain.records import shallow_dict


@dataclass(frozen=True, slots=True)
class JournalEntry:
    payment_id: str
    seq: int  # the payment's version after this transition: 1, 2, ...
    at: float
    event: str  # the event's class name
    detail: dict[str, Any]  # the event's fields, plus ``reason`` for a routing decision
    state_from: str
    state_to: str
    commands: tuple[str, ...] = ()
    anomalies: tuple[tuple[str, str], ...] = field(default=())  # (kind, detail)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["anomalies"] = [list(a) for a in self.anomalies]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JournalEntry:
        return cls(**{**d, "commands": tuple(d["commands"]),
                      "anomalies": tuple((str(k), str(v)) for k, v in d["anomalies"])})


def entry(payment_id: str, seq: int, at: float, event: Event, state_from: str, state_to: str,
          commands: list[GatewayCommand], **extra: Any) -> JournalEntry:
    detail = shallow_dict(event)  # WebhookReceived.data is shared: nothing mutates it
    detail.update(extra)
    return JournalEntry(
        payment_id, seq, at, type(event).__name__, detail, state_from, state_to,
        tuple(type(c).__name__ for c in commands),
        tuple((c.kind, c.detail) for c in commands if isinstance(c, FlagAnomaly)))
