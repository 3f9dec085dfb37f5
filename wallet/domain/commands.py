"""Commands: what a caller asks the wallet to do. Imperative names; validated on
construction so an invalid command never reaches a handler (and changes nothing).

Amounts are integer minor units. Ids come from the caller (payment, withdrawal,
aggregator transaction ids), which is what makes every operation idempotent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from wallet.domain.errors import InvalidInput
from wallet.domain.money import exponent, positive
from wallet.domain.players import Funding
from wallet.domain.records import shallow_dict


def check_id(value: str, name: str) -> None:
    """Every caller-chosen id: printable, 1-200 characters, no ':' (account ids use it)."""
    if not isinstance(value, str) or not 0 < len(value) <= 200 or ":" in value or not value.isprintable():
        raise InvalidInput(f"{name} must be 1-200 printable characters without ':'", field=name)


@dataclass(frozen=True)
class Command:
    """Base: checks ids, currencies and amounts by field name convention."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_id") or f.name in {"provider", "aggregator"}:
                if value is not None:
                    check_id(value, f.name)
            elif f.name.endswith("currency"):
                exponent(value)
            elif f.name == "amount":
                positive(value)
            elif f.name == "fee" and (type(value) is not int or value < 0):
                raise InvalidInput("fee must be non-negative integer minor units", field="fee")

    @property
    def action(self) -> str:
        return type(self).__name__

    def payload(self) -> dict[str, Any]:
        """``asdict(self)``, without its recursive deep copy when every field is a plain
        scalar, as in almost every command: the payload is built for each audit entry
        and idempotency fingerprint."""
        values = shallow_dict(self)
        return values if all(type(v) in _SCALARS for v in values.values()) else asdict(self)


_SCALARS = frozenset({str, int, float, bool, type(None)})


@dataclass(frozen=True)
class OpenPlayer(Command):
    player_id: str
    currency: str
    country: str | None = None
    funding: Funding = Funding.CASH_FIRST


@dataclass(frozen=True)
class OpenCurrency(Command):
    player_id: str
    currency: str


@dataclass(frozen=True)
class CreditDeposit(Command):
    """Credit a payment the provider confirmed as settled (the gateway's job to decide)."""

    player_id: str
    provider: str
    payment_id: str
    amount: int
    currency: str
    fee: int = 0


@dataclass(frozen=True)
class RequestWithdrawal(Command):
    player_id: str
    withdrawal_id: str
    amount: int
    currency: str
    provider: str


@dataclass(frozen=True)
class CompleteWithdrawal(Command):
    withdrawal_id: str
    fee: int = 0


@dataclass(frozen=True)
class ReleaseWithdrawal(Command):
    withdrawal_id: str
    reason: str = "payout_failed"


@dataclass(frozen=True)
class ReturnPayout(Command):
    withdrawal_id: str
    reason: str = "returned"


@dataclass(frozen=True)
class InstantPayout(Command):
    player_id: str
    withdrawal_id: str
    amount: int
    currency: str
    provider: str
    fee: int = 0


@dataclass(frozen=True)
class PlaceBet(Command):
    aggregator: str
    transaction_id: str
    player_id: str
    round_id: str
    amount: int
    currency: str
    game_id: str | None = None


@dataclass(frozen=True)
class SettleWin(Command):
    """A win of 0 is legal: it closes a losing round."""

    aggregator: str
    transaction_id: str
    player_id: str
    round_id: str
    bet_transaction_id: str
    win: int
    currency: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if type(self.win) is not int or self.win < 0:
            raise InvalidInput("win must be non-negative integer minor units", field="win")


@dataclass(frozen=True)
class RollbackBet(Command):
    aggregator: str
    transaction_id: str
    player_id: str
    bet_transaction_id: str
    round_id: str | None = None


@dataclass(frozen=True)
class GrantBonus(Command):
    player_id: str
    bonus_id: str
    amount: int
    currency: str
    wagering_multiplier: int = 30

    def __post_init__(self) -> None:
        super().__post_init__()
        if type(self.wagering_multiplier) is not int or not 0 <= self.wagering_multiplier <= 200:
            raise InvalidInput("wagering_multiplier must be an integer 0-200", field="wagering_multiplier")


@dataclass(frozen=True)
class Chargeback(Command):
    provider: str
    payment_id: str
    amount: int
    fee: int = 0
    reason: str = "fraud"


@dataclass(frozen=True)
class Refund(Command):
    provider: str
    payment_id: str
    refund_id: str
    amount: int


MIN_RATE, MAX_RATE = Decimal("1e-18"), Decimal("1e12")


@dataclass(frozen=True)
class ConvertCurrency(Command):
    """FX at a quoted rate (units of ``to_currency`` per unit of ``from_currency``)."""

    player_id: str
    conversion_id: str
    from_currency: str
    to_currency: str
    amount: int
    rate: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.from_currency == self.to_currency:
            raise InvalidInput("from_currency and to_currency must differ", field="to_currency")
        try:  # bounded: "1e999999999" overflowed Decimal (a 500), "1e99999" minted a huge credit
            ok = MIN_RATE <= Decimal(self.rate) <= MAX_RATE
        except (InvalidOperation, TypeError):
            ok = False
        if not ok or isinstance(self.rate, float):
            raise InvalidInput(f"rate must be a decimal string from {MIN_RATE} to {MAX_RATE}", field="rate")


@dataclass(frozen=True)
class ReverseTransaction(Command):
    """``owe_shortfall``: a deposit the chain took back after the player spent it; cash pays
    what it can and the rest is owed (a receivable), instead of the reversal being refused."""

    transaction_id: str
    reason: str
    owe_shortfall: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.transaction_id, str) or not self.transaction_id:
            raise InvalidInput("transaction_id is required", field="transaction_id")


@dataclass(frozen=True)
class LockPlayer(Command):
    player_id: str
    reason: str


@dataclass(frozen=True)
class UnlockPlayer(Command):
    player_id: str


@dataclass(frozen=True)
class WriteOffReceivable(Command):
    player_id: str
    currency: str
    write_off_id: str
