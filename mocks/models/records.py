"""A provider's own truth: what it authorised, settled, refunded and had charged back.

Reconciliation compares the wallet's ledger against this, so it is computed
from the provider's decisions alone, never from anything the wallet said.
Every view is "as of now": a chargeback planned for day 40 is not in a day-1
report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mocks.models.compiled import Compiled
from mocks.models.types import APPROVED, Decision


@dataclass(frozen=True, slots=True)
class Line:
    """One settlement line; amounts in minor units of ``currency``, signed for the merchant."""

    at: float
    kind: str  # payment | refund | chargeback | payout | payout_return
    provider_ref: str
    reference: str
    currency: str
    gross: int
    fee: int
    net: int
    reason: str | None = None


class ProviderRecords:
    """Decisions the provider acted on, with fees fixed at decision time."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._decisions: dict[str, Decision] = {}
        self._fees: dict[str, tuple[int, int]] = {}  # provider_ref -> (fee, chargeback fee)
        self._refunds: list[Line] = []

    def add(self, decision: Decision, cp: Compiled) -> None:
        if not decision.processed or decision.provider_ref in self._decisions:
            return
        self._decisions[decision.provider_ref] = decision
        currency, amount = settled_amount(decision)
        self._fees[decision.provider_ref] = (cp.fee(amount, currency),
                                             cp.chargeback_fee.get(currency, 0))

    def get(self, provider_ref: str) -> Decision | None:
        return self._decisions.get(provider_ref)

    def refund(self, provider_ref: str, amount: int, at: float) -> Line:
        """A merchant-initiated refund of an approved payment (at most what is left)."""
        d = self._decisions[provider_ref]
        left = self.refundable(provider_ref, at)
        if amount <= 0 or amount > left:
            raise ValueError(f"refund must be between 1 and {left}")
        line = Line(at, "refund", provider_ref, d.reference, d.currency, -amount, 0, -amount)
        self._refunds.append(line)
        return line

    def refundable(self, provider_ref: str, now: float) -> int:
        d = self._decisions[provider_ref]
        if d.final_outcome != APPROVED or d.final_at > now or d.operation != "deposit":
            return 0
        taken = sum(-ln.gross for ln in self.lines(now) if ln.provider_ref == provider_ref
                    and ln.kind in ("refund", "chargeback"))
        return d.amount - taken

    def decisions(self) -> list[Decision]:
        return list(self._decisions.values())

    def lines(self, now: float) -> list[Line]:
        """Every settlement line that has happened by ``now``, in time order."""
        out = [ln for ln in self._refunds if ln.at <= now]
        for ref, d in self._decisions.items():
            if not settled(d) or d.final_at > now:
                continue
            fee, cb_fee = self._fees[ref]
            currency, amount = settled_amount(d)
            if d.operation == "payout":
                out.append(Line(d.final_at, "payout", ref, d.reference, currency, -amount, fee,
                                -amount - fee))
                if d.returned_at is not None and d.returned_at <= now:
                    out.append(Line(d.returned_at, "payout_return", ref, d.reference, currency,
                                    amount, 0, amount, d.return_reason))
                continue
            out.append(Line(d.final_at, "payment", ref, d.reference, currency, amount, fee,
                            amount - fee))
            if d.refund_at is not None and d.refund_at <= now:
                out.append(Line(d.refund_at, "refund", ref, d.reference, currency, -amount, 0,
                                -amount))
            if d.chargeback_at is not None and d.chargeback_at <= now:
                out.append(Line(d.chargeback_at, "chargeback", ref, d.reference, currency, -amount,
                                cb_fee, -amount - cb_fee))
        out.sort(key=lambda ln: (ln.at, ln.provider_ref, ln.kind))
        return out

    def settlement(self, now: float) -> dict[str, Any]:
        """The settlement report: per-line gross, fee, net, and totals per currency."""
        lines = self.lines(now)
        totals: dict[str, dict[str, int]] = {}
        for ln in lines:
            t = totals.setdefault(ln.currency, {"gross": 0, "fee": 0, "net": 0, "count": 0})
            t["gross"] += ln.gross
            t["fee"] += ln.fee
            t["net"] += ln.net
            t["count"] += 1
        return {"provider": self.provider, "as_of": now, "lines": [asdict(ln) for ln in lines],
                "totals": totals}

    def summary(self, now: float) -> dict[str, Any]:
        """Counts by outcome, what was authorised, what is still pending."""
        counts: dict[str, int] = {}
        authorised: list[str] = []
        for d in self._decisions.values():
            state = d.outcome_at(now)
            counts[state] = counts.get(state, 0) + 1
            if state == APPROVED:
                authorised.append(d.provider_ref)
        return {"provider": self.provider, "as_of": now, "by_outcome": counts,
                "authorised": sorted(authorised)}


def settled(d: Decision) -> bool:
    """Money reached the provider for us: an approval, or coins paid short of an invoice that
    then expired (BTCPay's PaidPartial: the coins are in the store's wallet all the same)."""
    if d.final_outcome == APPROVED:
        return True
    return d.kind == "crypto" and d.decline_code == "underpaid" and int(d.extra.get("paid", 0)) > 0


def settled_amount(d: Decision) -> tuple[str, int]:
    """(currency, amount) the provider settles: crypto settles what was paid, in the asset."""
    if d.kind == "crypto":
        return str(d.extra.get("asset", d.currency)), int(d.extra.get("paid", d.amount))
    return d.currency, d.amount
