"""Withdrawals: hold, pay, release, return; and the one-step instant payout."""

from __future__ import annotations

from wallet.domain import commands as c
from wallet.domain.errors import (
    AlreadyExists,
    InsufficientFunds,
    TransactionNotFound,
)
from wallet.domain.ledger import (
    Posting,
    Transaction,
    TxnKind,
    clearing,
    house,
    transfer,
)
from wallet.domain.players import (
    Player,
)
from wallet.domain.withdrawals import Withdrawal, WithdrawalStatus
from wallet.service.handlers.bonus import forfeit_bonus
from wallet.service.handlers.common import (
    Outcome,
    T,
    acc,
    done,
    locked_player,
    require_active,
)
from wallet.service.unit_of_work import UnitOfWork


def request_withdrawal(cmd: c.RequestWithdrawal, uow: UnitOfWork, now: float) -> Outcome:
    """Hold the funds; an active bonus is forfeited (the usual casino terms)."""
    hold = acc(T.WITHDRAWAL_HOLD, cmd.player_id, cmd.currency)
    return _take_out(cmd, uow, now, TxnKind.WITHDRAWAL_HOLD, hold, WithdrawalStatus.HELD, fee=0)


def _take_out(
    cmd: c.RequestWithdrawal | c.InstantPayout,
    uow: UnitOfWork,
    now: float,
    kind: TxnKind,
    to: str,
    status: WithdrawalStatus,
    *,
    fee: int,
) -> Outcome:
    """The checks and postings a hold and an instant payout share: active player, new id,
    enough cash, the active bonus forfeited, cash moved to ``to``."""
    player = locked_player(uow, cmd.player_id, cmd.currency)
    require_active(player)
    if uow.get_withdrawal(cmd.withdrawal_id) is not None:
        raise AlreadyExists(f"withdrawal {cmd.withdrawal_id} exists", field="withdrawal_id")
    cash = acc(T.PLAYER_CASH, cmd.player_id, cmd.currency)
    available = uow.balances([cash]).get(cash, 0)
    if available < cmd.amount:
        raise InsufficientFunds(
            f"{kind.value.split('_')[0]} {cmd.amount} exceeds available {available}", field="amount"
        )
    forfeited = forfeit_bonus(uow, cmd.player_id, cmd.currency, now)
    postings = (
        *transfer(cash, to, cmd.amount, cmd.currency),
        *_fee_postings(cmd.provider, cmd.currency, fee),
    )
    txn = Transaction(
        f"{kind.value}:{cmd.withdrawal_id}", kind, postings, now, cmd.player_id, reference=cmd.withdrawal_id
    )
    uow.post(txn)
    uow.save_withdrawal(
        Withdrawal(cmd.withdrawal_id, cmd.player_id, cmd.currency, cmd.amount, cmd.provider, status, now, now)
    )
    return done(
        uow,
        cmd.player_id,
        cmd.currency,
        txn.id,
        withdrawal_id=cmd.withdrawal_id,
        status=status.value,
        bonus_forfeit_txn=forfeited,
    )


def _withdrawal(uow: UnitOfWork, withdrawal_id: str) -> tuple[Withdrawal, Player]:
    w = uow.get_withdrawal(withdrawal_id)
    if w is None:
        raise TransactionNotFound(f"withdrawal {withdrawal_id} not found", field="withdrawal_id")
    player = locked_player(uow, w.player_id)
    w = uow.get_withdrawal(withdrawal_id) or w  # re-read under the player's lock
    return w, player


def _fee_postings(provider: str, currency: str, fee: int) -> tuple[Posting, ...]:
    return transfer(house(T.FEES, currency), clearing(provider, currency), fee, currency) if fee else ()


def complete_withdrawal(cmd: c.CompleteWithdrawal, uow: UnitOfWork, now: float) -> Outcome:
    w, _ = _withdrawal(uow, cmd.withdrawal_id)
    w.move_to(WithdrawalStatus.PAID, now)
    hold = acc(T.WITHDRAWAL_HOLD, w.player_id, w.currency)
    postings = (
        *transfer(hold, clearing(w.provider, w.currency), w.amount, w.currency),
        *_fee_postings(w.provider, w.currency, cmd.fee),
    )
    txn = Transaction(
        f"withdrawal_paid:{w.id}", TxnKind.WITHDRAWAL_PAID, postings, now, w.player_id, reference=w.id
    )
    uow.post(txn)
    uow.save_withdrawal(w)
    return done(uow, w.player_id, w.currency, txn.id, withdrawal_id=w.id, status=w.status.value)


def release_withdrawal(cmd: c.ReleaseWithdrawal, uow: UnitOfWork, now: float) -> Outcome:
    w, _ = _withdrawal(uow, cmd.withdrawal_id)
    w.move_to(WithdrawalStatus.RELEASED, now)
    hold = acc(T.WITHDRAWAL_HOLD, w.player_id, w.currency)
    txn = Transaction(
        f"withdrawal_released:{w.id}",
        TxnKind.WITHDRAWAL_RELEASED,
        transfer(hold, acc(T.PLAYER_CASH, w.player_id, w.currency), w.amount, w.currency),
        now,
        w.player_id,
        reference=w.id,
        meta={"reason": cmd.reason},
    )
    uow.post(txn)
    uow.save_withdrawal(w)
    return done(uow, w.player_id, w.currency, txn.id, withdrawal_id=w.id, status=w.status.value)


def return_payout(cmd: c.ReturnPayout, uow: UnitOfWork, now: float) -> Outcome:
    """The bank sent a paid payout back (account closed, name mismatch): re-credit cash."""
    w, _ = _withdrawal(uow, cmd.withdrawal_id)
    w.move_to(WithdrawalStatus.RETURNED, now)
    txn = Transaction(
        f"payout_returned:{w.id}",
        TxnKind.PAYOUT_RETURNED,
        transfer(
            clearing(w.provider, w.currency),
            acc(T.PLAYER_CASH, w.player_id, w.currency),
            w.amount,
            w.currency,
        ),
        now,
        w.player_id,
        reference=w.id,
        meta={"reason": cmd.reason},
    )
    uow.post(txn)
    uow.save_withdrawal(w)
    return done(uow, w.player_id, w.currency, txn.id, withdrawal_id=w.id, status=w.status.value)


def instant_payout(cmd: c.InstantPayout, uow: UnitOfWork, now: float) -> Outcome:
    """One step, no hold: for rails that confirm synchronously (instant bank payouts)."""
    return _take_out(
        cmd,
        uow,
        now,
        TxnKind.PAYOUT,
        clearing(cmd.provider, cmd.currency),
        WithdrawalStatus.PAID,
        fee=cmd.fee,
    )
