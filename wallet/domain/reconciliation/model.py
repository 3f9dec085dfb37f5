"""Value types of a reconciliation run: the provider's lines in, breaks and a report out.

Everything is plain data so the same report can go to results.json, to a markdown
summary for the engineer on call, and into assertions in tests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class SettlementLine:
    """One line of a provider's settlement report, in minor units, signed for the merchant.

    The same fields as the mocks' ``Line`` (the wallet must not import the mocks): a
    payment is ``+gross``, a refund, chargeback or payout ``-gross``, a payout return
    ``+gross``; ``fee`` is what the provider keeps (positive) and ``net = gross - fee``.
    """

    at: float
    kind: str  # payment | refund | chargeback | payout | payout_return
    provider_ref: str
    reference: str  # what the merchant sent: a payment / withdrawal id or an attempt key
    currency: str
    gross: int
    fee: int
    net: int
    reason: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SettlementLine:
        """From one parsed report row (``asdict`` of a mock line, a CSV row, JSON)."""
        return cls(
            float(data["at"]),
            str(data["kind"]),
            str(data["provider_ref"]),
            str(data["reference"]),
            str(data["currency"]),
            int(data["gross"]),
            int(data["fee"]),
            int(data["net"]),
            data.get("reason"),
        )


class BreakKind(StrEnum):
    MISSING_IN_WALLET = "missing_in_wallet"  # provider settled, wallet never booked: player owed
    MISSING_AT_PROVIDER = "missing_at_provider"  # wallet booked, provider has nothing: made up
    AMOUNT_MISMATCH = "amount_mismatch"  # gross (or currency) differs
    FEE_MISMATCH = "fee_mismatch"  # gross agrees, the fee booked differs from the provider's
    DUPLICATE_IN_WALLET = "duplicate_in_wallet"
    DUPLICATE_AT_PROVIDER = "duplicate_at_provider"
    TIMING = "timing"  # the other side's record lands just after the cut-off: clears itself
    UNRECOGNISED = "unrecognised"  # moves the clearing account but names no known operation


MATCHED = "matched"
# Breaks that need nobody: the counterpart is already there, just after the cut-off.
SELF_CLEARING = frozenset({BreakKind.TIMING})


@dataclass(frozen=True, slots=True)
class Amounts:
    """One side of one operation: what it says moved, and when."""

    gross: int
    fee: int
    net: int
    currency: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {"gross": self.gross, "fee": self.fee, "net": self.net, "currency": self.currency,
                "at": self.at}


@dataclass(frozen=True, slots=True)
class Break:
    """One difference, with the ids to open on both sides.

    ``delta`` is this break's share of the net settlement difference (provider net
    minus wallet net, per currency, counting only records inside the cut-off), so the
    breaks of a run add up to the difference on the clearing account.
    """

    kind: BreakKind
    provider: str
    operation: str  # payment | refund | chargeback | payout | payout_return | <txn kind>
    payment_id: str  # the wallet's payment or withdrawal id
    reference: str  # the provider's reference (may be an attempt key) or the wallet's
    wallet_txn_ids: tuple[str, ...] = ()
    provider_refs: tuple[str, ...] = ()
    wallet: Amounts | None = None
    at_provider: Amounts | None = None
    delta: Mapping[str, int] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value, "provider": self.provider, "operation": self.operation,
            "payment_id": self.payment_id, "reference": self.reference,
            "wallet_txn_ids": list(self.wallet_txn_ids), "provider_refs": list(self.provider_refs),
            "wallet": self.wallet.to_dict() if self.wallet else None,
            "provider_side": self.at_provider.to_dict() if self.at_provider else None,
            "delta": dict(self.delta), "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class CurrencySettlement:
    """Net settlement in one currency: what the provider says it owes vs the clearing account.

    ``wallet_net`` is minus the clearing account's movement (the account is negative while
    the provider owes the casino); ``unexplained`` is what no listed break accounts for and
    must be zero: anything else means a ledger entry or report line was lost in matching.
    """

    currency: str
    provider_net: int
    clearing_movement: int
    explained: int

    @property
    def wallet_net(self) -> int:
        return -self.clearing_movement

    @property
    def difference(self) -> int:
        return self.provider_net - self.wallet_net

    @property
    def unexplained(self) -> int:
        return self.difference - self.explained

    def to_dict(self) -> dict[str, Any]:
        return {"currency": self.currency, "provider_net": self.provider_net,
                "clearing_movement": self.clearing_movement, "wallet_net": self.wallet_net,
                "difference": self.difference, "explained_by_breaks": self.explained,
                "unexplained": self.unexplained}


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    provider: str
    as_of: float
    timing_tolerance: float
    matched: int
    breaks: tuple[Break, ...]
    settlement: Mapping[str, CurrencySettlement]

    @property
    def counts(self) -> dict[str, int]:
        """Matched operations and breaks by kind (every kind present, zero or not)."""
        found = Counter(b.kind for b in self.breaks)
        return {MATCHED: self.matched, **{k.value: found.get(k, 0) for k in BreakKind}}

    @property
    def actionable(self) -> tuple[Break, ...]:
        return tuple(b for b in self.breaks if b.kind not in SELF_CLEARING)

    @property
    def clean(self) -> bool:
        """Nothing for a human to chase: timing breaks clear at the next cut-off, so they are
        listed but do not make a run unclean; an unexplained settlement difference does."""
        return not self.actionable and all(s.unexplained == 0 for s in self.settlement.values())

    def of_kind(self, kind: BreakKind) -> list[Break]:
        return [b for b in self.breaks if b.kind is kind]

    def to_dict(self, max_breaks: int | None = None) -> dict[str, Any]:
        """For results.json. ``max_breaks`` caps the list (counts stay exact) for big runs."""
        shown = self.breaks if max_breaks is None else self.breaks[:max_breaks]
        return {
            "provider": self.provider, "as_of": self.as_of,
            "timing_tolerance": self.timing_tolerance, "clean": self.clean,
            "counts": self.counts,
            "settlement": {c: s.to_dict() for c, s in sorted(self.settlement.items())},
            "breaks": [b.to_dict() for b in shown],
            "breaks_omitted": len(self.breaks) - len(shown),
        }

    def to_markdown(self, max_rows: int = 50) -> str:
        """A summary naming the transactions to look at, actionable breaks first."""
        counts = ", ".join(f"{k} {n}" for k, n in self.counts.items() if n)
        out = [
            f"### Reconciliation: {self.provider} as of {self.as_of}"
            f" ({'clean' if self.clean else 'BREAKS'})",
            "",
            f"Counts: {counts or 'nothing to reconcile'}.",
            "",
            "| currency | provider net | wallet net | difference | explained | unexplained |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        out += [f"| {s.currency} | {s.provider_net} | {s.wallet_net} | {s.difference}"
                f" | {s.explained} | {s.unexplained} |"
                for _, s in sorted(self.settlement.items())]
        if self.breaks:
            ordered = sorted(self.breaks, key=lambda b: b.kind in SELF_CLEARING)  # stable: kind order
            out += ["", "| kind | operation | payment id | wallet txn | provider ref"
                    " | wallet gross/fee | provider gross/fee | note |", "|---|---|---|---|---|---|---|---|"]
            out += [_row(b) for b in ordered[:max_rows]]
            if len(ordered) > max_rows:
                out.append(f"\n… and {len(ordered) - max_rows} more (see results.json).")
        return "\n".join(out) + "\n"


def _money(a: Amounts | None) -> str:
    return "—" if a is None else f"{a.gross}/{a.fee} {a.currency}"


def _row(b: Break) -> str:
    cells = (b.kind.value, b.operation, b.payment_id, ", ".join(b.wallet_txn_ids) or "—",
             ", ".join(b.provider_refs) or "—", _money(b.wallet), _money(b.at_provider), b.note)
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
