"""Double-entry ledger: typed accounts, immutable transactions, pure validators.

Sign convention: a posting adds its signed amount to its account's balance, and
the postings of every transaction sum to zero per currency, so the sum of all
balances in a currency is always zero. Player accounts are positive when the
casino owes the player; a provider's clearing account is negative while the
provider owes the casino; the house game account holds gross gaming revenue.

The validators here are the same rules the SQL schema enforces with
constraints and triggers; the checker runs them after every scenario.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from wallet.domain.errors import InvalidInput, UnbalancedTransaction
from wallet.domain.money import exponent


class AccountType(StrEnum):
    PLAYER_CASH = "player_cash"
    PLAYER_BONUS = "player_bonus"
    WITHDRAWAL_HOLD = "withdrawal_hold"  # player funds reserved for a payout in flight
    PENDING_DEPOSIT = "pending_deposit"  # seen but not final (crypto before confirmations)
    RECEIVABLE = "receivable"  # what a player owes after a chargeback (zero or negative)
    PROVIDER_CLEARING = "provider_clearing"  # per provider; negative while it owes the casino
    HOUSE_GAME = "house_game"
    HOUSE_BONUS = "house_bonus"  # cost of bonus money granted
    FEES = "fees"
    CHARGEBACK_LOSS = "chargeback_loss"
    FX = "fx"

    @property
    def player_owned(self) -> bool:
        return self in _PLAYER_OWNED

    @property
    def floor(self) -> int | None:
        """Lowest balance allowed, or None when unbounded below."""
        return 0 if self in _NON_NEGATIVE else None

    @property
    def ceiling(self) -> int | None:
        return 0 if self is AccountType.RECEIVABLE else None


_PLAYER_OWNED = frozenset(
    {
        AccountType.PLAYER_CASH,
        AccountType.PLAYER_BONUS,
        AccountType.WITHDRAWAL_HOLD,
        AccountType.PENDING_DEPOSIT,
        AccountType.RECEIVABLE,
    }
)
_NON_NEGATIVE = frozenset(
    {
        AccountType.PLAYER_CASH,
        AccountType.PLAYER_BONUS,
        AccountType.WITHDRAWAL_HOLD,
        AccountType.PENDING_DEPOSIT,
    }
)
PLAYER_ACCOUNT_TYPES: tuple[AccountType, ...] = tuple(t for t in AccountType if t.player_owned)
HOUSE_OWNER = "casino"


def account_id(kind: AccountType, owner: str, currency: str) -> str:
    """Accounts are named ``type:owner:currency`` so the id alone says what it is."""
    if ":" in owner or not owner:
        raise InvalidInput(f"owner id must be non-empty and contain no ':': {owner!r}", field="owner")
    return f"{kind.value}:{owner}:{currency}"


def parse_account_id(acc_id: str) -> tuple[AccountType, str, str]:
    kind, owner, currency = acc_id.split(":")
    return AccountType(kind), owner, currency


def house(kind: AccountType, currency: str) -> str:
    return account_id(kind, HOUSE_OWNER, currency)


def clearing(provider: str, currency: str) -> str:
    return account_id(AccountType.PROVIDER_CLEARING, provider, currency)


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    type: AccountType
    owner: str
    currency: str

    @classmethod
    def of(cls, kind: AccountType, owner: str, currency: str) -> Account:
        exponent(currency)
        return cls(account_id(kind, owner, currency), kind, owner, currency)

    @property
    def materialized(self) -> bool:
        """Player accounts keep a stored balance row (locked per player); house and
        provider accounts do not, so no single hot row serialises every bet."""
        return self.type.player_owned


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount: int  # signed minor units
    currency: str


class TxnKind(StrEnum):
    DEPOSIT = "deposit"
    DEPOSIT_PENDING = "deposit_pending"
    WITHDRAWAL_HOLD = "withdrawal_hold"
    WITHDRAWAL_PAID = "withdrawal_paid"
    WITHDRAWAL_RELEASED = "withdrawal_released"
    PAYOUT = "payout"
    PAYOUT_RETURNED = "payout_returned"
    BET = "bet"
    WIN = "win"
    ROLLBACK = "rollback"
    BONUS_GRANT = "bonus_grant"
    BONUS_CONVERT = "bonus_convert"
    BONUS_FORFEIT = "bonus_forfeit"
    CHARGEBACK = "chargeback"
    REFUND = "refund"
    FEE = "fee"
    FX = "fx"
    REVERSAL = "reversal"
    WRITE_OFF = "write_off"


@dataclass(frozen=True, slots=True)
class Transaction:
    """Immutable once posted. Ids are derived from the business operation
    (``deposit:psp:pay_1``), so a second credit of the same payment collides."""

    id: str
    kind: TxnKind
    postings: tuple[Posting, ...]
    created_at: float
    player_id: str | None = None
    reference: str | None = None
    reverses: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)

    def sums(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for p in self.postings:
            out[p.currency] += p.amount
        return dict(out)

    def reversal(self, txn_id: str, created_at: float, reason: str) -> Transaction:
        """The correcting transaction: same postings, opposite signs."""
        return Transaction(
            id=txn_id,
            kind=TxnKind.REVERSAL,
            postings=tuple(Posting(p.account, -p.amount, p.currency) for p in self.postings),
            created_at=created_at,
            player_id=self.player_id,
            reference=self.reference,
            reverses=self.id,
            meta={"reason": reason},
        )


def transfer(debit: str, credit: str, amount: int, currency: str) -> tuple[Posting, Posting]:
    """Move ``amount`` out of ``debit`` into ``credit``."""
    return Posting(debit, -amount, currency), Posting(credit, amount, currency)


# --- validators: pure, shared by the stores (before writing) and the checker (after runs)


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str
    ids: tuple[str, ...]
    detail: str


def transaction_violations(txn: Transaction) -> list[Violation]:
    out: list[Violation] = []
    if len(txn.postings) < 2:
        out.append(Violation("too_few_postings", (txn.id,), f"{len(txn.postings)} posting(s)"))
    for p in txn.postings:
        if type(p.amount) is not int or p.amount == 0:
            out.append(Violation("bad_posting_amount", (txn.id, p.account), repr(p.amount)))
        if p.account.rsplit(":", 1)[-1] != p.currency:
            out.append(Violation("currency_mismatch", (txn.id, p.account), p.currency))
    for currency, total in txn.sums().items():
        if total != 0:
            out.append(Violation("unbalanced", (txn.id,), f"{currency} sums to {total}"))
    return out


def validate(txn: Transaction) -> Transaction:
    """Raise before anything is written if the transaction breaks a ledger rule."""
    problems = transaction_violations(txn)
    if problems:
        raise UnbalancedTransaction("; ".join(f"{v.kind}: {v.detail}" for v in problems))
    return txn


def sum_postings(txns: Iterable[Transaction]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for t in txns:
        for p in t.postings:
            out[p.account] += p.amount
    return dict(out)


def balance_violations(stored: Mapping[str, int], txns: Iterable[Transaction]) -> list[Violation]:
    """Stored balances must equal the sum of postings; floors and ceilings must hold;
    each currency must sum to zero across all accounts."""
    derived = sum_postings(txns)
    out: list[Violation] = []
    for acc, bal in stored.items():
        if derived.get(acc, 0) != bal:
            out.append(
                Violation("balance_mismatch", (acc,), f"stored {bal} != postings {derived.get(acc, 0)}")
            )
    per_currency: dict[str, int] = defaultdict(int)
    for acc, bal in derived.items():
        kind, _, currency = parse_account_id(acc)
        per_currency[currency] += bal
        if kind.floor is not None and bal < kind.floor:
            out.append(Violation("negative_balance", (acc,), f"{bal} below {kind.floor}"))
        if kind.ceiling is not None and bal > kind.ceiling:
            out.append(Violation("positive_receivable", (acc,), f"{bal} above {kind.ceiling}"))
    for currency, total in per_currency.items():
        if total != 0:
            out.append(Violation("currency_not_conserved", (currency,), f"sums to {total}"))
    return out
