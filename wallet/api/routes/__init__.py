"""Routes by area; each is parse -> command -> ``Wallet.execute`` -> response."""

from __future__ import annotations

from fastapi import APIRouter

from wallet.api.routes import accounts, admin, game, gateway, payments, players, system
from wallet.api.schemas import problem_responses

v1 = APIRouter(prefix="/v1", responses=problem_responses(400, 401, 403, 404, 409, 422))
for _module in (game, players, accounts, payments, admin, gateway):  # the hot path matches first
    v1.include_router(_module.router)
v1.include_router(gateway.webhooks)

__all__ = ["system", "v1"]
