"""Players, their bonus, and the pure rules that split bets and wins between cash and bonus."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from wallet.domain.errors import InsufficientFunds


class PlayerStatus(StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"  # after a chargeback, or by an operator: no bets, no withdrawals


class Funding(StrEnum):
    """Which balance a bet draws on first."""

    CASH_FIRST = "cash_first"
    BONUS_FIRST = "bonus_first"


@dataclass(slots=True)
class Player:
    id: str
    currencies: tuple[str, ...]
    created_at: float
    status: PlayerStatus = PlayerStatus.ACTIVE
    lock_reason: str | None = None
    funding: Funding = Funding.CASH_FIRST
    country: str | None = None
    version: int = 0

    @property
    def locked(self) -> bool:
        return self.status is PlayerStatus.LOCKED


class BonusStatus(StrEnum):
    ACTIVE = "active"
    CONVERTED = "converted"  # wagering met: the bonus balance became cash
    FORFEITED = "forfeited"  # withdrawal requested before wagering was met


@dataclass(slots=True)
class Bonus:
    """At most one active bonus per player and currency: its money sits in the
    player's bonus account; this record only tracks the wagering requirement."""

    id: str
    player_id: str
    currency: str
    granted: int
    wagering_required: int
    wagered: int = 0
    status: BonusStatus = BonusStatus.ACTIVE
    version: int = 0

    @property
    def met(self) -> bool:
        return self.wagered >= self.wagering_required


@dataclass(frozen=True, slots=True)
class Split:
    cash: int
    bonus: int


def split_bet(amount: int, cash: int, bonus: int, funding: Funding) -> Split:
    """How much of a bet comes from cash and how much from bonus; refuse if both fall short."""
    if amount > cash + bonus:
        raise InsufficientFunds(f"bet {amount} exceeds balance {cash} + bonus {bonus}", field="amount")
    if funding is Funding.CASH_FIRST:
        from_cash = min(cash, amount)
        return Split(from_cash, amount - from_cash)
    from_bonus = min(bonus, amount)
    return Split(amount - from_bonus, from_bonus)


def split_win(win: int, bet: Split) -> Split:
    """A win pays back in proportion to how its bet was funded (bonus-funded play
    wins bonus money), rounding in the player's favour toward cash."""
    total = bet.cash + bet.bonus
    to_bonus = win * bet.bonus // total if total else 0
    return Split(win - to_bonus, to_bonus)
