"""Seamless game-wallet records (Hub88-style bet / win / rollback)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class GameTxnKind(StrEnum):
    BET = "bet"
    WIN = "win"
    ROLLBACK = "rollback"


@dataclass(frozen=True, slots=True)
class GameTxn:
    """One aggregator call, keyed by the aggregator's own transaction id.

    A rollback whose bet the wallet never saw is still stored (``ledger_txn`` is
    None): it is the tombstone that makes a late-arriving bet with that id fail.
    """

    id: str  # "<aggregator>:<transaction uuid>"
    kind: GameTxnKind
    player_id: str
    currency: str
    round_id: str
    amount: int
    cash: int = 0
    bonus: int = 0
    reference: str | None = None  # the bet a win or rollback refers to
    ledger_txn: str | None = None
    game: str | None = None
    created_at: float = 0.0


def game_txn_id(aggregator: str, transaction_uuid: str) -> str:
    return f"{aggregator}:{transaction_uuid}"
