"""A player's money: balances, history, one transaction, bonus grants, FX."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from wallet.api.auth import Anyone, Operator, PlayerOrOperator
from wallet.api.deps import IdemKey, WalletDep, run
from wallet.api.errors import ApiError
from wallet.api.schemas import (
    MAX_AMOUNT,
    BalanceOut,
    BalancesOut,
    BonusIn,
    ConversionIn,
    CurrencyPath,
    HistoryOut,
    OperationOut,
    PlayerIdPath,
    TransactionOut,
    TxnIdPath,
)
from wallet.domain import commands as c
from wallet.domain.errors import TransactionNotFound
from wallet.domain.ledger import Transaction

router = APIRouter(tags=["accounts"])


def txn_out(t: Transaction) -> dict[str, Any]:
    return {
        "id": t.id,
        "kind": t.kind.value,
        "created_at": t.created_at,
        "player_id": t.player_id,
        "reference": t.reference,
        "reverses": t.reverses,
        "meta": dict(t.meta),
        "postings": [{"account": p.account, "amount": p.amount, "currency": p.currency} for p in t.postings],
    }


@router.get("/players/{player_id}/balances", response_model=BalancesOut)
def balances(player_id: PlayerIdPath, who: PlayerOrOperator, wallet: WalletDep) -> Any:
    player = wallet.player(player_id)
    return {"player_id": player_id, "balances": [wallet.balance(player_id, cur) for cur in player.currencies]}


@router.get("/players/{player_id}/balances/{currency}", response_model=BalanceOut)
def balance(player_id: PlayerIdPath, currency: CurrencyPath, who: PlayerOrOperator, wallet: WalletDep) -> Any:
    return wallet.balance(player_id, currency)


@router.get("/players/{player_id}/transactions", response_model=HistoryOut)
def history(
    player_id: PlayerIdPath,
    who: PlayerOrOperator,
    wallet: WalletDep,
    after: Annotated[int, Query(ge=0, le=MAX_AMOUNT, description="cursor from `next`")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    page, cursor = wallet.history(player_id, after=after, limit=limit)
    return {"items": [txn_out(t) for t in page], "next": cursor}


@router.get("/transactions/{transaction_id}", response_model=TransactionOut)
def transaction(transaction_id: TxnIdPath, who: Anyone, wallet: WalletDep) -> Any:
    """Players see their own transactions; anyone else's reads as not found."""
    if who.player_id is None and not who.has("operator", "admin"):
        raise ApiError(403, "forbidden", "requires scope operator or admin, or a player token")
    txn = wallet.transaction(transaction_id)
    if who.player_id is not None and txn.player_id != who.player_id:
        raise TransactionNotFound(f"transaction {transaction_id} not found", field="transaction_id")
    return txn_out(txn)


@router.post("/players/{player_id}/bonuses", status_code=201, response_model=OperationOut)
def grant_bonus(player_id: PlayerIdPath, body: BonusIn, request: Request, who: Operator, key: IdemKey) -> Any:
    return run(request, who, key, c.GrantBonus, player_id=player_id, **body.model_dump())


@router.post("/players/{player_id}/conversions", status_code=201, response_model=OperationOut)
def convert(
    player_id: PlayerIdPath, body: ConversionIn, request: Request, who: Operator, key: IdemKey
) -> Any:
    return run(request, who, key, c.ConvertCurrency, player_id=player_id, **body.model_dump())
