"""Players: open, read, add a currency, and issue player tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from wallet.api.auth import Operator, PlayerOrOperator
from wallet.api.deps import OptionalIdemKey, WalletDep, run
from wallet.api.schemas import (
    OpenCurrencyIn,
    OpenPlayerIn,
    OperationOut,
    PlayerIdPath,
    PlayerOut,
    TokenIn,
    TokenOut,
)
from wallet.domain import commands as c
from wallet.domain.players import Player

router = APIRouter(tags=["players"])


def player_out(player: Player) -> dict[str, Any]:
    return {
        "id": player.id,
        "currencies": list(player.currencies),
        "status": player.status.value,
        "lock_reason": player.lock_reason,
        "funding": player.funding.value,
        "country": player.country,
        "created_at": player.created_at,
    }


@router.post("/players", status_code=201, response_model=OperationOut)
def open_player(body: OpenPlayerIn, request: Request, who: Operator, key: OptionalIdemKey) -> Any:
    """Idempotency-Key is optional here: a second open of the same id is a 409 anyway."""
    return run(request, who, key, c.OpenPlayer, **body.model_dump())


@router.get("/players/{player_id}", response_model=PlayerOut)
def get_player(player_id: PlayerIdPath, who: PlayerOrOperator, wallet: WalletDep) -> Any:
    return player_out(wallet.player(player_id))


@router.post("/players/{player_id}/currencies", status_code=201, response_model=OperationOut)
def open_currency(
    player_id: PlayerIdPath,
    body: OpenCurrencyIn,
    request: Request,
    who: Operator,
    key: OptionalIdemKey,
) -> Any:
    return run(request, who, key, c.OpenCurrency, player_id=player_id, currency=body.currency)


@router.post("/players/{player_id}/tokens", status_code=201, response_model=TokenOut)
def issue_token(
    player_id: PlayerIdPath,
    request: Request,
    who: Operator,
    wallet: WalletDep,
    body: TokenIn | None = None,
) -> Any:
    """A short-lived token the operator's front end hands to the player's browser."""
    wallet.player(player_id)  # 404 for an unknown player: never sign for nobody
    ttl = (body.ttl_seconds if body else None) or request.app.state.settings.token_ttl_seconds
    token, expires = request.app.state.auth.issue_token(player_id, ttl)
    return {"token": token, "player_id": player_id, "expires_at": expires}
