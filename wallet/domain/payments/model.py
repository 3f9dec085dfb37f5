"""The Payment aggregate and the policy knobs the state machine reads.

``Payment`` is mutable and slotted: ``transition`` updates it in place and
returns it (the h11 way: the connection object *is* the protocol state), so a
transition allocates nothing but the commands it emits. A store that needs
snapshots copies with :meth:`Payment.copy`, which is shallow but for the
containers a transition mutates (``tried``, ``refs``, ``seen``, ``timers``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Final

from wallet.domain.payments.states import State

DEPOSIT: Final = "deposit"
PAYOUT: Final = "payout"
CREDIT_RECEIVED: Final = "credit_received"
FAIL: Final = "fail"
CREDIT: Final = "credit"
FLAG_ONLY: Final = "flag_only"


@dataclass(frozen=True, slots=True)
class Policy:
    """Defaults are assumptions, labelled as such in docs; every shell passes the same one.

    - ``max_attempts``: provider attempts per payment (cascade bound).
    - ``poll_delays``: seconds after which a pending/unknown payment is polled again; the
      last entry repeats until the deadline (a lost webhook is found by polling).
    - ``deadline_s``: per method, how long to wait for a final answer before EXPIRED
      (3-D Secure and redirects ~15 min; crypto: BTCPay's 15 min expiry + 24 h monitoring).
    - ``underpaid``: ``credit_received`` (default: the coins arrived; returning them costs
      fees and an address we do not have) or ``fail``.
    - ``paid_late``: ``credit`` (default, at the invoice's locked rate) or ``flag_only``.
    - ``min_confirmations``: raises the invoice's own confirmation requirement.
    """

    max_attempts: int = 3
    poll_delays: tuple[float, ...] = (30.0, 120.0, 600.0, 3600.0)
    deadline_s: tuple[tuple[str, float], ...] = (
        ("card", 1800.0), ("ewallet", 1800.0), ("bank", 1800.0), ("crypto", 900.0 + 86400.0))
    default_deadline_s: float = 3600.0
    underpaid: str = CREDIT_RECEIVED
    paid_late: str = CREDIT
    min_confirmations: int = 0

    def deadline(self, method: str) -> float:
        for m, s in self.deadline_s:
            if m == method:
                return s
        return self.default_deadline_s

    def poll_delay(self, polls: int) -> float:
        d = self.poll_delays
        return d[polls] if polls < len(d) else d[-1]


DEFAULT_POLICY: Final = Policy()


@dataclass(slots=True)
class Payment:
    id: str
    kind: str  # deposit | payout
    player_id: str
    amount: int  # minor units of ``currency``
    currency: str
    method: str
    created_at: float
    country: str = ""  # routing inputs (rules by country and BIN)
    bin: str = ""
    state: State = State.CREATED
    provider: str | None = None  # provider of the current attempt
    attempt: int = 0  # number of the current attempt (1-based once called)
    tried: list[str] = field(default_factory=list)
    provider_ref: str | None = None
    refs: dict[str, str] = field(default_factory=dict)  # provider_ref -> provider, every attempt
    seen: set[str] = field(default_factory=set)  # provider event ids already applied
    seq: int = 0  # highest provider sequence applied
    step_up: bool = False
    awaiting_route: bool = False  # RouteNext sent, Routed not yet received
    last_decline: str | None = None
    polls: int = 0
    deadline_at: float = 0.0
    # money
    credited: int = 0  # amount credited (minor units of currency); 0 = never
    credit_provider: str | None = None
    refunded: int = 0
    ever_reversed: bool = False
    # crypto
    confirmations: int = 0
    confirmations_required: int | None = None  # None until the invoice reply says
    amount_due: int | None = None  # asset minor units quoted by the invoice
    paid: int | None = None  # asset minor units seen on chain
    paid_late: bool = False
    updated_at: float = 0.0
    version: int = 0  # transitions applied (optimistic locking for stores)
    # kept by the gateway service, never read by the machine
    timers: list[tuple[float, str]] = field(default_factory=list)  # durable ScheduleTimeouts
    reported: int = 0  # attempts whose outcome the router has been told

    def copy(self) -> Payment:
        return _copy(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what a SQL store keeps in the payment's ``data`` column."""
        d = {name: getattr(self, name) for name in self.__slots__}
        d["state"] = self.state.value
        d["seen"] = sorted(self.seen)
        d["timers"] = [list(t) for t in self.timers]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Payment:
        return cls(**{**d, "state": State(d["state"]), "seen": set(d["seen"]),
                      "timers": [(float(at), str(kind)) for at, kind in d["timers"]]})


_CONTAINERS: Final = {"tried": "list", "refs": "dict", "seen": "set", "timers": "list"}


def _compile_copy() -> Any:
    """A store snapshots a payment on every read, so the copy is hot: one straight-line
    function generated from the fields (a loop of getattr/setattr cost 4x as much).
    Shallow, but for the containers a transition mutates."""
    lines = ["def _copy(p):", "    c = new(Payment)"]
    for f in fields(Payment):
        kind = _CONTAINERS.get(f.name)
        lines.append(f"    c.{f.name} = {kind}(p.{f.name})" if kind else f"    c.{f.name} = p.{f.name}")
    lines.append("    return c")
    scope: dict[str, Any] = {"new": object.__new__, "Payment": Payment}
    exec("\n".join(lines), scope)  # code built from our own field names only
    return scope["_copy"]


_copy: Final = _compile_copy()
