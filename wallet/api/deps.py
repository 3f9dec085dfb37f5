"""What every route shares: the wallet, the Idempotency-Key header, and ``run``.

``run`` is the only place a route touches the service layer for writes: it
builds the command (so invalid input is counted too), executes it with the
caller's idempotency scope, actor and request id, and counts the outcome.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from wallet.api.auth import Principal, principal
from wallet.api.errors import ApiError
from wallet.api.metrics import Metrics
from wallet.domain.commands import Command, PlaceBet
from wallet.domain.errors import DomainError
from wallet.domain.idempotency import IdempotencyKey
from wallet.service.unit_of_work import RetryableStoreError
from wallet.service.wallet import Wallet

DECLINED = "hot_bet_declined"  # request.state flag set by wallet.api.hot_bets
_KEY_DOC = "client-chosen unique key; a retry with the same key replays the first answer"


def get_wallet(request: Request) -> Wallet:
    return request.app.state.wallet


async def required_key(
    p: Annotated[Principal, Depends(principal)],
    key: Annotated[str | None, Header(alias="Idempotency-Key", description=_KEY_DOC)] = None,
) -> IdempotencyKey:
    """Keys are scoped to the caller (IETF draft): two clients may pick the same key."""
    if not key:
        raise ApiError(
            400,
            "idempotency_key_missing",
            "this operation changes money: send an Idempotency-Key header",
            field="Idempotency-Key",
        )
    return IdempotencyKey(p.idempotency_scope, key)


async def optional_key(
    p: Annotated[Principal, Depends(principal)],
    key: Annotated[str | None, Header(alias="Idempotency-Key", description=_KEY_DOC)] = None,
) -> IdempotencyKey | None:
    return IdempotencyKey(p.idempotency_scope, key) if key else None


IdemKey = Annotated[IdempotencyKey, Depends(required_key)]
OptionalIdemKey = Annotated[IdempotencyKey | None, Depends(optional_key)]
WalletDep = Annotated[Wallet, Depends(get_wallet)]


def run(
    request: Request,
    who: Principal,
    key: IdempotencyKey | None,
    command: type[Command],
    **fields: Any,
) -> dict[str, Any]:
    metrics: Metrics = request.app.state.metrics
    name = command.__name__
    try:
        cmd = command(**fields)
        wallet: Wallet = request.app.state.wallet
        # the hot path already offered this bet to the one-statement call: straight to the unit of work
        run_it = wallet.execute if getattr(request.state, DECLINED, False) else partial(execute, wallet)
        result = run_it(cmd, idempotency=key, actor=who.actor, request_id=request.state.request_id)
    except DomainError as err:
        metrics.operation(name, err.code)
        raise
    except RetryableStoreError:
        metrics.operation(name, "busy")
        raise
    metrics.operation(name, "ok")
    return result


def execute(wallet: Wallet, cmd: Command, *, idempotency: IdempotencyKey | None = None,
            actor: str = "system", request_id: str | None = None) -> dict[str, Any]:
    """``wallet.execute``, with a plain bet first offered to the store's one-round-trip path
    (``SqlStore.fast_bets`` on PostgreSQL): it answers as the unit of work would, or
    returns None having written nothing, and the unit of work runs as always."""
    fast = getattr(wallet.store, "fast_bets", None)
    if fast is not None and type(cmd) is PlaceBet:
        result = fast.place_bet(cmd, idempotency=idempotency, actor=actor, request_id=request_id,
                                now=wallet.clock.now())
        if result is not None:
            return result
    return wallet.execute(cmd, idempotency=idempotency, actor=actor, request_id=request_id)
