"""The gateway over HTTP: start deposits and payouts, read a payment and its journal, take
an operator's controls decision, and receive providers' webhooks.

Webhooks carry no API key: the provider's signature on the raw body is the
authentication, so the route reads bytes before anything parses them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from wallet.adapters.live_gateway import Instrument, LiveGateway
from wallet.adapters.providers import Card
from wallet.adapters.webhooks import SignatureError
from wallet.api.auth import Operator
from wallet.api.errors import ApiError
from wallet.api.schemas import (
    ControlsIn,
    DepositIntentIn,
    JournalOut,
    PaymentIdPath,
    PaymentOut,
    PayoutIntentIn,
)
from wallet.domain import errors
from wallet.domain.payments import events as e
from wallet.domain.payments.model import Payment
from wallet.service.gateway import Step

router = APIRouter(tags=["gateway"])
webhooks = APIRouter(tags=["webhooks"])


def _live(request: Request) -> LiveGateway:
    live: LiveGateway | None = getattr(request.app.state, "gateway", None)
    if live is None:
        raise ApiError(404, "gateway_disabled", "this wallet runs without a gateway")
    return live


def _out(p: Payment, duplicate: bool = False) -> dict[str, Any]:
    return {"payment_id": p.id, "kind": p.kind, "player_id": p.player_id, "state": p.state.value,
            "amount": p.amount, "currency": p.currency, "method": p.method,
            "provider": p.provider, "attempt": p.attempt, "tried": list(p.tried),
            "credited": p.credited, "last_decline": p.last_decline, "duplicate": duplicate}


def _answer(step: Step, response: Response) -> dict[str, Any]:
    assert step.payment is not None
    response.status_code = 200 if step.duplicate else 201
    return _out(step.payment, step.duplicate)


@router.post("/gateway/deposits", status_code=201, response_model=PaymentOut)
async def deposit(body: DepositIntentIn, request: Request, response: Response, who: Operator) -> Any:
    """Start a deposit. The same ``payment_id`` again replays (200) and changes nothing."""
    if body.method == "card" and body.card is None:
        raise errors.InvalidInput("a card deposit needs the card", field="card")
    card = Card(**body.card.model_dump()) if body.card else None
    step = await _live(request).deposit(
        body.payment_id, body.player_id, body.amount, body.currency, body.method,
        instrument=Instrument(card=card), country=body.country or "", provider=body.provider)
    return _answer(step, response)


@router.post("/gateway/payouts", status_code=201, response_model=PaymentOut)
async def payout(body: PayoutIntentIn, request: Request, response: Response, who: Operator) -> Any:
    """Hold the funds and pay them out; refused (nothing held) when the player cannot afford it."""
    step = await _live(request).payout(
        body.withdrawal_id, body.player_id, body.amount, body.currency, body.method, body.provider,
        instrument=Instrument(party_name=body.party_name, iban=body.iban))
    return _answer(step, response)


@router.get("/gateway/payments/{payment_id}", response_model=PaymentOut)
async def get_payment(payment_id: PaymentIdPath, request: Request, who: Operator) -> Any:
    return _out(await run_in_threadpool(_live(request).gateway.payment, payment_id))


@router.get("/gateway/payments/{payment_id}/journal", response_model=list[JournalOut])
async def get_journal(payment_id: PaymentIdPath, request: Request, who: Operator) -> Any:
    """Every transition with its event, commands, anomalies and routing reasons."""
    gateway = _live(request).gateway
    await run_in_threadpool(gateway.payment, payment_id)  # 404 for an unknown payment
    return [j.to_dict() for j in await run_in_threadpool(gateway.journal, payment_id)]


@router.post("/gateway/payments/{payment_id}/controls", response_model=PaymentOut)
async def decide(payment_id: PaymentIdPath, body: ControlsIn, request: Request, who: Operator) -> Any:
    """An operator's decision on a payment held for review."""
    live = _live(request)
    step = await run_in_threadpool(live.gateway.handle, payment_id,
                                   e.ControlsDecided(body.decision, body.reason))
    step = await live.run(step)
    assert step.payment is not None
    return _out(step.payment)


@webhooks.post("/webhooks/{provider}", include_in_schema=True)
async def webhook(provider: str, request: Request) -> dict[str, Any]:
    """2xx for anything authentic (new or duplicate); 401 for anything else, applied never."""
    live = _live(request)
    body = await request.body()
    try:
        new = await live.webhook(provider, body, request.headers,
                                 (live.wall or live.gateway.wallet.clock).now())
    except SignatureError as err:
        raise ApiError(401, "invalid_signature", str(err)) from None
    return {"received": True, "applied": new}
