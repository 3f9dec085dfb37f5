"""Routing vocabulary: candidates, requests, outcomes, decisions, and the strategy contract.

A strategy has no clock and no randomness of its own: ``now`` (seconds, virtual
or wall) and a ``random.Random`` come in with every call. The caller seeds that
generator per payment (seed + payment id), so a decision is a pure function of
the seed, the observations so far and the request, and the SimPy shell and the
live shell route the same payment the same way.
"""

from __future__ import annotations

import enum
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from wallet.domain.routing.params import InvalidRoutingConfig, strings


class Outcome(enum.Enum):
    """What one attempt at a provider came to.

    Learning strategies count SUCCESS against everything else (a soft decline
    at one acquirer is often an approval at another, which is what routing is
    for). Health (the circuit breaker) counts only ERROR: a decline proves the
    provider is up and answering.
    """

    SUCCESS = "success"
    SOFT_DECLINE = "soft_decline"  # insufficient funds, do not honor: may pass elsewhere or later
    HARD_DECLINE = "hard_decline"  # stolen card, invalid account: final for this payment
    ERROR = "error"  # provider error or timeout: the issuer never said anything


DECLINES = frozenset({Outcome.SOFT_DECLINE, Outcome.HARD_DECLINE})


def fee(amount: int, bps: int, fixed: int) -> int:
    """``fixed + bps/10,000 of amount``, the percentage rounded half up to a minor unit."""
    return fixed + (amount * bps + 5_000) // 10_000


@dataclass(frozen=True, slots=True)
class Fee:
    """Basis points of the amount plus a fixed part, both in the payment's minor units."""

    bps: int = 0
    fixed: int = 0

    def __post_init__(self) -> None:
        for name in ("bps", "fixed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidRoutingConfig(f"fee {name} must be a non-negative int, got {value!r}",
                                           field=name)

    def of(self, amount: int) -> int:
        """The fee for ``amount`` minor units, the percentage rounded half up to a minor unit."""
        return fee(amount, self.bps, self.fixed)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A provider the gateway may send this kind of payment to.

    ``countries`` empty means any country. ``fees`` overrides ``fee_bps`` and
    ``fee_fixed`` per currency, because a fixed fee only means something in one
    currency. ``priority``: lower goes first. ``weight``: share for volume split.
    """

    name: str
    methods: frozenset[str]
    currencies: frozenset[str]
    countries: frozenset[str] = frozenset()
    fee_bps: int = 0
    fee_fixed: int = 0
    fees: Mapping[str, Fee] = field(default_factory=dict, hash=False)
    weight: float = 1.0
    priority: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidRoutingConfig("candidate name must be a non-empty string", field="name")
        object.__setattr__(self, "methods", frozenset(strings("methods", self.methods)))
        object.__setattr__(self, "currencies", frozenset(strings("currencies", self.currencies)))
        object.__setattr__(self, "countries", frozenset(strings("countries", self.countries)))
        Fee(self.fee_bps, self.fee_fixed)  # validates both
        fees = dict(self.fees)
        if not all(isinstance(f, Fee) for f in fees.values()):
            raise InvalidRoutingConfig("fees must map currency to Fee", field="fees")
        object.__setattr__(self, "fees", MappingProxyType(fees))
        if isinstance(self.weight, bool) or not isinstance(self.weight, int | float) or not self.weight >= 0:
            raise InvalidRoutingConfig(f"weight must be a number >= 0, got {self.weight!r}", field="weight")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise InvalidRoutingConfig(f"priority must be an int, got {self.priority!r}", field="priority")

    def fee_for(self, amount: int, currency: str) -> int:
        """What this provider charges for ``amount`` minor units of ``currency``."""
        override = self.fees.get(currency)
        if override is None:
            return fee(amount, self.fee_bps, self.fee_fixed)
        return override.of(amount)


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """One routing question: where should this attempt of this payment go?

    ``bin`` is the card's first 6 (or 8) digits, empty for other methods.
    ``attempt`` counts from 1; ``tried`` holds the providers earlier attempts
    of the same payment already went to (cascading never repeats one).
    """

    payment_id: str
    amount: int
    currency: str
    method: str
    country: str = ""
    bin: str = ""
    attempt: int = 1
    tried: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 0:
            raise InvalidRoutingConfig(f"amount must be int minor units >= 0, got {self.amount!r}",
                                       field="amount")
        if isinstance(self.attempt, bool) or not isinstance(self.attempt, int) or self.attempt < 1:
            raise InvalidRoutingConfig(f"attempt must be an int >= 1, got {self.attempt!r}", field="attempt")
        if self.bin and not (self.bin.isdigit() and 6 <= len(self.bin) <= 8):
            raise InvalidRoutingConfig(f"bin must be 6 to 8 digits, got {self.bin!r}", field="bin")
        if not isinstance(self.tried, frozenset):
            object.__setattr__(self, "tried", frozenset(strings("tried", self.tried)))


@dataclass(frozen=True, slots=True)
class Decision:
    """Where to send the attempt (None: nowhere eligible) and why.

    ``scores`` are per provider, for analysis; their meaning is the
    strategy's (estimated success rate, posterior draw, UCB index, fee).
    ``explored`` marks a choice made to learn rather than to exploit.
    """

    provider: str | None
    reason: str
    scores: Mapping[str, float] = field(default_factory=dict, hash=False)
    strategy: str = ""
    explored: bool = False


def eligible(request: RouteRequest, candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates that support this payment and were not tried for it yet, in the given order."""
    method, currency, country, tried = request.method, request.currency, request.country, request.tried
    return [c for c in candidates
            if method in c.methods and currency in c.currencies
            and (not c.countries or country in c.countries) and c.name not in tried]


def no_eligible(strategy: str, request: RouteRequest, candidates: Sequence[Candidate]) -> Decision:
    """The decision when nothing fits, saying which filter removed what."""
    if not candidates:
        return Decision(None, "no eligible provider: no candidates configured", {}, strategy)
    why = []
    for c in candidates:
        if request.method not in c.methods:
            why.append(f"{c.name} lacks {request.method}")
        elif request.currency not in c.currencies:
            why.append(f"{c.name} lacks {request.currency}")
        elif c.countries and request.country not in c.countries:
            why.append(f"{c.name} not in {request.country or 'unknown country'}")
        else:
            why.append(f"{c.name} already tried")
    return Decision(None, "no eligible provider: " + ", ".join(why), {}, strategy)


class Strategy(ABC):
    """A routing policy. Subclasses implement ``decide`` over already-eligible candidates.

    ``observe`` is called when an attempt's outcome is known, possibly after
    other ``choose`` calls (delayed feedback); strategies learn from nothing else.
    """

    name: str = "strategy"

    def __init__(self) -> None:
        self._tally: dict[str, list[int]] = {}

    def choose(self, request: RouteRequest, candidates: Sequence[Candidate], rng: random.Random,
               now: float) -> Decision:
        """Filter by eligibility (shared by every strategy), then decide."""
        pool = eligible(request, candidates)
        if not pool:
            return no_eligible(self.name, request, candidates)
        return self.decide(request, pool, rng, now)

    @abstractmethod
    def decide(self, request: RouteRequest, pool: Sequence[Candidate], rng: random.Random,
               now: float) -> Decision:
        """Pick one of ``pool`` (non-empty, every member eligible)."""

    def observe(self, provider: str, request: RouteRequest, outcome: Outcome, now: float) -> None:
        """Record an attempt's outcome. The base class only keeps lifetime tallies for snapshots."""
        tally = self._tally.get(provider)
        if tally is None:
            tally = self._tally[provider] = [0, 0]
        tally[0] += 1
        if outcome is Outcome.SUCCESS:
            tally[1] += 1

    def reset(self) -> None:
        """Forget everything observed (a fresh run with the same configuration)."""
        self._tally.clear()

    def snapshot(self) -> dict[str, dict[str, float]]:
        """Per-provider statistics for plots: lifetime tallies plus the strategy's own state."""
        return {p: {"observed": float(n), "successes": float(s), "success_rate": s / n if n else 0.0}
                for p, (n, s) in self._tally.items()}
