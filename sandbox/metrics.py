"""What a run measured, from the gateway's journal and the shell's call log (never from the
providers' records: those are the checker's independent truth).

Latency percentiles per provider, time to credit and to payout, approval on the first
attempt and after cascading, fees per successful deposit, provider share and approval
per hour (for the plots).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.scenario import HOUR, Scenario
from wallet.domain.ledger import AccountType, house
from wallet.domain.payments.flow import deposit_txn_id
from wallet.domain.payments.journal import JournalEntry
from wallet.domain.payments.model import DEPOSIT, PAYOUT
from wallet.service.gateway import Gateway


def nearest_rank(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted values by the nearest-rank method: a value that happened."""
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99/max."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    s = sorted(values)
    return {"n": len(s), **{f"p{round(q * 100)}": round(nearest_rank(s, q), 6)
                            for q in (0.50, 0.95, 0.99)}, "max": round(s[-1], 6)}


@dataclass
class Metrics:
    deposits: int = 0
    succeeded: int = 0
    first_attempt_success: int = 0
    reached_provider: int = 0
    payouts: int = 0
    payouts_paid: int = 0
    time_to_credit: list[float] = field(default_factory=list)
    time_to_payout: list[float] = field(default_factory=list)
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    call_results: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    succeeded_by_currency: Counter[str] = field(default_factory=Counter)
    deposit_fees: Counter[str] = field(default_factory=Counter)  # booked on credited deposits
    currency_fees: dict[str, int] = field(default_factory=dict)  # all fees: payouts, chargebacks too
    share: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    approval_by_hour: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    by_provider: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    decline_reasons: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        d = self.deposits or 1
        return {
            "deposits": {
                "count": self.deposits, "succeeded": self.succeeded,
                "approval_first_attempt": round(self.first_attempt_success / d, 4),
                "approval_after_cascade": round(self.succeeded / d, 4),
                "by_provider": {p: {"attempts": n, "approved": ok,
                                    "approval": round(ok / n, 4) if n else None}
                                for p, (n, ok) in sorted(self.by_provider.items())},
                "decline_reasons": dict(self.decline_reasons.most_common()),
            },
            "payouts": {"count": self.payouts, "paid": self.payouts_paid},
            "time_to_credit_s": percentiles(self.time_to_credit),
            "time_to_payout_s": percentiles(self.time_to_payout),
            "provider_latency_s": {p: percentiles(v) for p, v in sorted(self.latency.items())},
            "provider_calls": {p: dict(c) for p, c in sorted(self.call_results.items())},
            "provider_share_by_hour": {str(h): dict(sorted(c.items()))
                                       for h, c in sorted(self.share.items())},
            "approval_by_hour": {str(h): round(ok / n, 4) if n else None
                                 for h, (n, ok) in sorted(self.approval_by_hour.items())},
            "fees_per_successful_deposit": {cur: round(self.deposit_fees[cur] / n)
                                            for cur, n in sorted(self.succeeded_by_currency.items())},
            "fees_total": dict(sorted(self.currency_fees.items())),
        }


def measure(scenario: Scenario, gateway: Gateway, calls: Sequence[tuple[str, float, float, str]],
            journal: list[JournalEntry]) -> Metrics:
    """``calls``: the shell's provider calls, (provider, start, end, result) in model time."""
    m = Metrics()
    by_payment: dict[str, list[JournalEntry]] = defaultdict(list)
    for j in journal:
        by_payment[j.payment_id].append(j)
        if j.event == "Routed" and j.detail.get("provider"):
            m.share[int(j.at // HOUR)][j.detail["provider"]] += 1
    credited: list[tuple[str, str]] = []  # (deposit transaction, currency)
    for p in gateway.payments():
        entries = by_payment.get(p.id, [])
        start = entries[0].at if entries else p.created_at
        done = next((j.at for j in entries if j.state_to in ("succeeded", "paid")), None)
        if p.kind == DEPOSIT:
            m.deposits += 1
            hour = m.approval_by_hour[int(start // HOUR)]
            hour[0] += 1
            if p.tried:
                m.reached_provider += 1
            for i, provider in enumerate(p.tried):
                won = p.credited > 0 and p.credit_provider == provider
                m.by_provider[provider][0] += 1
                m.by_provider[provider][1] += won
                if won and i == 0:
                    m.first_attempt_success += 1
            if p.credited:
                m.succeeded += 1
                m.succeeded_by_currency[p.currency] += 1
                credited.append((deposit_txn_id(p.credit_provider or "", p.id), p.currency))
                hour[1] += 1
                if done is not None:
                    m.time_to_credit.append(done - start)
            elif p.last_decline:
                m.decline_reasons[p.last_decline] += 1
        elif p.kind == PAYOUT:
            m.payouts += 1
            if done is not None:
                m.payouts_paid += 1
                m.time_to_payout.append(done - start)
    for provider, t0, t1, result in calls:
        m.latency[provider].append(t1 - t0)
        m.call_results[provider][result] += 1
    with gateway.store.unit_of_work(read_only=True) as uow:
        currencies = {c for cands in gateway.candidates for c in cands.currencies}
        ids = [house(AccountType.FEES, c) for c in sorted(currencies)]
        for account, balance in uow.balances(ids).items():
            m.currency_fees[account.rsplit(":", 1)[1]] = -balance
        for txn_id, currency in credited:
            txn = uow.get_transaction(txn_id)
            fees = house(AccountType.FEES, currency)
            m.deposit_fees[currency] -= sum(q.amount for q in txn.postings if q.account == fees) if txn else 0
    return m
