"""The consistency checker: after every run, prove or refute that no money was lost,
doubled or made up. Simulated and live runs hand it the same things: the wallet, the
gateway's journal, the providers' own decisions, and the client's history.

Each check lists the ids that violate it, so a failure says where to look. The
providers' records are the independent truth: they come from the mock models'
decisions, never from anything the wallet said.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mocks.models.records import settled
from mocks.models.types import Decision
from sandbox.workload import History, Ledger
from wallet.domain.commands import PlaceBet
from wallet.domain.errors import DomainError
from wallet.domain.idempotency import IdempotencyKey
from wallet.domain.ledger import Transaction
from wallet.domain.payments.journal import JournalEntry
from wallet.domain.payments.states import State, allowed

MAX_IDS = 50  # ids listed per check; the count is always complete
# Gateway anomalies that are facts about the providers, not faults of the wallet.
OBSERVATIONS = frozenset({"stale_event", "unknown_decline_code", "underpaid", "overpaid",
                          "paid_after_expiry", "reorg_after_credit", "unresolved"})


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    violations: list[str] = field(default_factory=list)
    count: int = 0
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "count": self.count,
                "violations": self.violations, "detail": self.detail}


def _check(name: str, bad: Iterable[str], detail: str) -> Check:
    ids = sorted(set(bad))
    return Check(name, not ids, ids[:MAX_IDS], len(ids), detail)


# The wallet's own ledger validators, grouped into the checker's rules (rules 1 and 2).
LEDGER_CHECKS = (
    ("transactions_balance", "every transaction's postings sum to zero per currency"),
    ("balances_equal_postings", "every stored balance equals the sum of its postings"),
    ("no_forbidden_negative_balance", "no player balance below zero, no receivable above zero"),
    ("money_conserved", "players + house + provider clearing sum to zero in every currency"),
)
CHECK_OF_KIND = {"balance_mismatch": "balances_equal_postings",
                 "negative_balance": "no_forbidden_negative_balance",
                 "positive_receivable": "no_forbidden_negative_balance",
                 "currency_not_conserved": "money_conserved"}  # the rest: a transaction's


def ledger_checks(wallet: Ledger) -> list[Check]:
    return ledger_checks_of((v.kind, v.ids) for v in wallet.ledger_violations())


def ledger_checks_of(violations: Iterable[tuple[str, Iterable[str]]]) -> list[Check]:
    """The ledger rules from (kind, ids) pairs: the live checker has them over HTTP."""
    found: dict[str, list[str]] = defaultdict(list)
    for kind, ids in violations:
        found[CHECK_OF_KIND.get(kind, "transactions_balance")].extend(ids)
    return [_check(name, found[name], detail) for name, detail in LEDGER_CHECKS]


def settlement_checks(decisions: Iterable[Decision], txns: list[Transaction],
                      now: float) -> list[Check]:
    """Rule 3: what providers settled is credited exactly once; nothing else is credited."""
    return settlement_checks_of_ids(decisions, [t.id for t in txns], now)


def settlement_checks_of_ids(decisions: Iterable[Decision], txn_ids: Iterable[str],
                             now: float) -> list[Check]:
    """Rule 3 from transaction ids alone (all it reads): the live checker has them over HTTP."""
    ids = set(txn_ids)
    paid_in: Counter[tuple[str, str]] = Counter()
    paid: Counter[tuple[str, str]] = Counter()
    for d in decisions:
        if d.processed and settled(d) and d.final_at <= now:
            (paid if d.operation == "payout" else paid_in)[(d.provider, d.reference)] += 1
    credited: Counter[tuple[str, str]] = Counter()
    paid_out: set[str] = set()
    for tid in ids:
        kind, _, rest = tid.partition(":")
        if kind == "deposit" and f"reversal:{tid}" not in ids:
            provider, _, pid = rest.partition(":")
            credited[(provider, pid)] += 1
        elif kind == "withdrawal_paid":
            paid_out.add(rest)
    missing = [f"{p}:{r}" for (p, r), n in paid_in.items() if credited[(p, r)] < n]
    made_up = [f"{p}:{r}" for (p, r), n in credited.items() if paid_in[(p, r)] < n]
    payouts_done = {r for (_, r) in paid}
    unpaid = [r for r in payouts_done if r not in paid_out]
    invented = [r for r in paid_out if r not in payouts_done]
    return [
        _check("settled_deposits_credited", missing,
               "every deposit a provider settled is credited (once per settlement)"),
        _check("no_credit_without_settlement", made_up,
               "nothing is credited that no provider settled (reversed credits excluded)"),
        _check("payouts_match_provider", unpaid + invented,
               "a payout is booked paid exactly when the provider paid it"),
    ]


def history_checks(wallet: Ledger, history: History, txn_ids: set[str],
                   replay_limit: int = 5_000) -> list[Check]:
    """Rule 4: every acknowledged request is durable; every replay returns the first answer.
    Plus the game rule a rollback promises: a bet rolled back first is never charged."""
    lost, differing = [], []
    ops = history.ops
    step = max(len(ops) // replay_limit, 1)
    for op in ops[::step]:
        tid = op.result.get("transaction_id") if op.outcome == "ok" and op.result else None
        if tid and tid not in txn_ids:
            lost.append(f"{op.kind}:{op.key}")
        if op.outcome not in ("ok", "fail"):
            continue
        try:
            again = wallet.execute(op.command, idempotency=IdempotencyKey(history.scope, op.key))
            same = op.outcome == "ok" and again == op.result
        except DomainError as err:
            same = op.outcome == "fail" and err.code == op.error
        if not same:
            differing.append(f"{op.kind}:{op.key}")
    rolled_back: dict[str, int] = {}
    charged_after = []
    for op in ops:
        bet_id = getattr(op.command, "bet_transaction_id", None)
        if op.kind == "RollbackBet" and op.outcome == "ok" and bet_id:
            rolled_back.setdefault(bet_id, op.id)
        elif isinstance(op.command, PlaceBet) and op.outcome == "ok":
            tx = op.command.transaction_id
            if tx in rolled_back and rolled_back[tx] < op.id:
                charged_after.append(tx)
    return [
        _check("acknowledged_writes_durable", lost, "every 2xx answer's transaction exists"),
        _check("replays_identical", differing,
               f"a retry with the same key returns the first answer ({len(ops[::step])} replayed)"),
        _check("no_bet_after_its_rollback", charged_after,
               "a bet whose rollback was acknowledged first is refused, not charged"),
    ]


def journal_checks(journal: list[JournalEntry]) -> tuple[list[Check], Counter[str]]:
    """Rule 5: every payment moved only along the LEGAL table; anomalies counted by kind."""
    illegal, anomalies = [], Counter[str]()
    for j in journal:
        for kind, _ in j.anomalies:
            anomalies[kind] += 1
            if kind == "illegal_transition":
                illegal.append(j.payment_id)
        if j.state_from and j.state_to and not allowed(State(j.state_from), State(j.state_to)):
            illegal.append(j.payment_id)
    checks = [_check("legal_transitions_only", illegal,
                     "no payment took a move the state table does not allow")]
    return checks, anomalies


def run_checks(wallet: Ledger, journal: list[JournalEntry], decisions: Iterable[Decision],
               history: History, now: float) -> tuple[list[Check], dict[str, int]]:
    """Every check, and anomalies by kind (gateway flags plus one per violating id)."""
    with wallet.store.unit_of_work(read_only=True) as uow:
        txns = list(uow.all_transactions())
    checks = ledger_checks(wallet)
    checks += settlement_checks(decisions, txns, now)
    checks += history_checks(wallet, history, {t.id for t in txns})
    journal_part, anomalies = journal_checks(journal)
    checks += journal_part
    for c in checks:
        if c.count:
            anomalies[c.name] += c.count
    return checks, dict(sorted(anomalies.items()))


def failing_anomalies(anomalies: Mapping[str, int]) -> dict[str, int]:
    return {k: v for k, v in anomalies.items() if k not in OBSERVATIONS}
