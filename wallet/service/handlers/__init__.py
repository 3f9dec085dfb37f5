"""Use cases: one handler per command, run inside a unit of work.

Every handler follows the same order: lock the player, read, decide (raising a
DomainError before any write), then write. So a refused request leaves nothing
behind, and the facade can store the refusal for idempotent replay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wallet.domain import commands as c
from wallet.service.handlers import bonus, corrections, game, payments, players, withdrawals
from wallet.service.handlers.common import Outcome, balance_view
from wallet.service.unit_of_work import UnitOfWork

Handler = Callable[[Any, UnitOfWork, float], Outcome]

HANDLERS: dict[type[c.Command], Handler] = {
    c.OpenPlayer: players.open_player,
    c.OpenCurrency: players.open_currency,
    c.LockPlayer: players.lock_player,
    c.UnlockPlayer: players.unlock_player,
    c.CreditDeposit: payments.credit_deposit,
    c.Chargeback: payments.chargeback,
    c.Refund: payments.refund,
    c.WriteOffReceivable: payments.write_off_receivable,
    c.RequestWithdrawal: withdrawals.request_withdrawal,
    c.CompleteWithdrawal: withdrawals.complete_withdrawal,
    c.ReleaseWithdrawal: withdrawals.release_withdrawal,
    c.ReturnPayout: withdrawals.return_payout,
    c.InstantPayout: withdrawals.instant_payout,
    c.PlaceBet: game.place_bet,
    c.SettleWin: game.settle_win,
    c.RollbackBet: game.rollback_bet,
    c.GrantBonus: bonus.grant_bonus,
    c.ConvertCurrency: corrections.convert_currency,
    c.ReverseTransaction: corrections.reverse_transaction,
}

__all__ = ["HANDLERS", "Handler", "Outcome", "balance_view"]
