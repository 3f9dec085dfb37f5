"""Bonus money: grant, wagering progress, conversion to cash, forfeit."""

from __future__ import annotations

from wallet.domain import commands as c
from wallet.domain.errors import (
    AlreadyExists,
    Conflict,
)
from wallet.domain.ledger import (
    Transaction,
    TxnKind,
    house,
    transfer,
)
from wallet.domain.players import (
    Bonus,
    BonusStatus,
)
from wallet.service.handlers.common import (
    Outcome,
    T,
    acc,
    done,
    locked_player,
    require_active,
)
from wallet.service.unit_of_work import UnitOfWork


def forfeit_bonus(uow: UnitOfWork, player_id: str, currency: str, now: float) -> str | None:
    bonus = uow.active_bonus(player_id, currency)
    if bonus is None:
        return None
    bonus_acc = acc(T.PLAYER_BONUS, player_id, currency)
    left = uow.balances([bonus_acc]).get(bonus_acc, 0)
    bonus.status = BonusStatus.FORFEITED
    uow.save_bonus(bonus)
    if not left:
        return None
    txn = Transaction(
        f"bonus_forfeit:{bonus.id}",
        TxnKind.BONUS_FORFEIT,
        transfer(bonus_acc, house(T.HOUSE_BONUS, currency), left, currency),
        now,
        player_id,
        reference=bonus.id,
    )
    uow.post(txn)
    return txn.id


def progress_wagering(uow: UnitOfWork, player_id: str, currency: str, amount: int, now: float) -> bool:
    """Count a bet toward the active bonus; when the requirement is met the bonus
    balance becomes cash in the same unit of work."""
    bonus = uow.active_bonus(player_id, currency)
    if bonus is None:
        return False
    bonus.wagered += amount
    if bonus.met:
        convert_bonus(uow, bonus, now)
    uow.save_bonus(bonus)
    return bonus.status is BonusStatus.CONVERTED


def convert_bonus(uow: UnitOfWork, bonus: Bonus, now: float) -> None:
    bonus_acc = acc(T.PLAYER_BONUS, bonus.player_id, bonus.currency)
    left = uow.balances([bonus_acc]).get(bonus_acc, 0)
    bonus.status = BonusStatus.CONVERTED
    if left:
        uow.post(
            Transaction(
                f"bonus_convert:{bonus.id}",
                TxnKind.BONUS_CONVERT,
                transfer(
                    bonus_acc, acc(T.PLAYER_CASH, bonus.player_id, bonus.currency), left, bonus.currency
                ),
                now,
                bonus.player_id,
                reference=bonus.id,
            )
        )


def grant_bonus(cmd: c.GrantBonus, uow: UnitOfWork, now: float) -> Outcome:
    player = locked_player(uow, cmd.player_id, cmd.currency)
    require_active(player)
    if uow.get_bonus(cmd.bonus_id) is not None:
        raise AlreadyExists(f"bonus {cmd.bonus_id} exists", field="bonus_id")
    if uow.active_bonus(cmd.player_id, cmd.currency) is not None:
        raise Conflict(f"player already has an active {cmd.currency} bonus", field="bonus_id")
    bonus = Bonus(cmd.bonus_id, cmd.player_id, cmd.currency, cmd.amount, cmd.amount * cmd.wagering_multiplier)
    txn = Transaction(
        f"bonus_grant:{cmd.bonus_id}",
        TxnKind.BONUS_GRANT,
        transfer(
            house(T.HOUSE_BONUS, cmd.currency),
            acc(T.PLAYER_BONUS, cmd.player_id, cmd.currency),
            cmd.amount,
            cmd.currency,
        ),
        now,
        cmd.player_id,
        reference=cmd.bonus_id,
    )
    uow.post(txn)
    if bonus.met:  # a zero wagering requirement converts at once
        convert_bonus(uow, bonus, now)
    uow.save_bonus(bonus)
    return done(
        uow,
        cmd.player_id,
        cmd.currency,
        txn.id,
        bonus_id=bonus.id,
        wagering_required=bonus.wagering_required,
        bonus_status=bonus.status.value,
    )
