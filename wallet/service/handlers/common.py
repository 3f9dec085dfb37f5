"""What every handler shares: the outcome type, account naming, the balance view,
and the lock-read-decide-write helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wallet.domain.errors import (
    AlreadyExists,
    InvalidInput,
    PlayerLocked,
    PlayerNotFound,
)
from wallet.domain.ledger import (
    PLAYER_ACCOUNT_TYPES,
    Account,
    AccountType,
    Posting,
    Transaction,
    account_id,
)
from wallet.domain.players import (
    Player,
    PlayerStatus,
)
from wallet.service.unit_of_work import UnitOfWork

T = AccountType


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a handler did: the answer to return and what the audit log records."""

    result: dict[str, Any]
    player_id: str | None
    txn_id: str | None = None


def acc(kind: AccountType, player_id: str, currency: str) -> str:
    return account_id(kind, player_id, currency)


def balance_view(uow: UnitOfWork, player_id: str, currency: str) -> dict[str, Any]:
    """Available (cash), bonus, pending (held for payouts, unconfirmed deposits),
    receivable (owed after a chargeback, <= 0) and their total."""
    ids = {kind: acc(kind, player_id, currency) for kind in PLAYER_ACCOUNT_TYPES}
    b = uow.balances(ids.values())
    cash, bonus = b.get(ids[T.PLAYER_CASH], 0), b.get(ids[T.PLAYER_BONUS], 0)
    pending = b.get(ids[T.WITHDRAWAL_HOLD], 0) + b.get(ids[T.PENDING_DEPOSIT], 0)
    receivable = b.get(ids[T.RECEIVABLE], 0)
    return {
        "currency": currency,
        "available": cash,
        "bonus": bonus,
        "pending": pending,
        "receivable": receivable,
        "total": cash + bonus + pending + receivable,
    }


def locked_player(uow: UnitOfWork, player_id: str, currency: str | None = None) -> Player:
    player = uow.lock_player(player_id)
    if player is None:
        raise PlayerNotFound(f"player {player_id} not found", field="player_id")
    if currency is not None and currency not in player.currencies:
        raise InvalidInput(
            f"player {player_id} has no {currency} account (has {', '.join(player.currencies)})",
            field="currency",
        )
    return player


def require_active(player: Player) -> None:
    if player.locked:
        raise PlayerLocked(f"player {player.id} is locked: {player.lock_reason}", field="player_id")


def take_from_cash(uow: UnitOfWork, player: Player, amount: int,
                   currency: str) -> tuple[list[Posting], int]:
    """Take money back from a player (chargeback, chain reorg): cash pays what it can, the
    rest becomes a receivable. Returns the player-side postings and what is owed."""
    cash = acc(T.PLAYER_CASH, player.id, currency)
    from_cash = min(max(uow.balances([cash]).get(cash, 0), 0), amount)
    owed = amount - from_cash
    postings = [Posting(cash, -from_cash, currency)] if from_cash else []
    if owed:
        postings.append(Posting(acc(T.RECEIVABLE, player.id, currency), -owed, currency))
    return postings, owed


def lock(uow: UnitOfWork, player: Player, reason: str) -> None:
    player.status, player.lock_reason = PlayerStatus.LOCKED, reason
    uow.save_player(player)


def post_new(uow: UnitOfWork, txn: Transaction) -> None:
    if uow.get_transaction(txn.id) is not None:
        raise AlreadyExists(f"transaction {txn.id} already posted", field="id")
    uow.post(txn)


def done(uow: UnitOfWork, player_id: str, currency: str, txn_id: str | None, **extra: Any) -> Outcome:
    result = {"player_id": player_id, "transaction_id": txn_id, **extra}
    result["balance"] = balance_view(uow, player_id, currency)
    return Outcome(result, player_id, txn_id)


def player_accounts(player_id: str, currency: str) -> list[Account]:
    return [Account.of(kind, player_id, currency) for kind in PLAYER_ACCOUNT_TYPES]
