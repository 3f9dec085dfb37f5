"""Withdrawals: funds are held, then paid out or released; a paid payout may come back."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from wallet.domain.errors import IllegalTransition


class WithdrawalStatus(StrEnum):
    HELD = "held"
    PAID = "paid"
    RELEASED = "released"  # the payout failed: funds back to cash
    RETURNED = "returned"  # paid, then returned by the bank days later


LEGAL: dict[WithdrawalStatus, frozenset[WithdrawalStatus]] = {
    WithdrawalStatus.HELD: frozenset({WithdrawalStatus.PAID, WithdrawalStatus.RELEASED}),
    WithdrawalStatus.PAID: frozenset({WithdrawalStatus.RETURNED}),
    WithdrawalStatus.RELEASED: frozenset(),
    WithdrawalStatus.RETURNED: frozenset(),
}


@dataclass(slots=True)
class Withdrawal:
    id: str
    player_id: str
    currency: str
    amount: int
    provider: str
    status: WithdrawalStatus
    created_at: float
    updated_at: float
    version: int = 0

    def move_to(self, new: WithdrawalStatus, now: float) -> None:
        if new not in LEGAL[self.status]:
            raise IllegalTransition(
                f"withdrawal {self.id} is {self.status}, cannot become {new}", field="status"
            )
        self.status = new
        self.updated_at = now
