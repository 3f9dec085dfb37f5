"""Money in and out: deposits, withdrawals, instant payouts, chargebacks, refunds.

The gateway decides what a provider settled; these routes only post it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from wallet.api.auth import Operator, PlayerOrOperator
from wallet.api.deps import IdemKey, run
from wallet.api.schemas import (
    ChargebackIn,
    CompleteIn,
    DepositIn,
    OperationOut,
    PayoutIn,
    PlayerIdPath,
    RefundIn,
    ReleaseIn,
    ReturnIn,
    WithdrawalIdPath,
    WithdrawalIn,
)
from wallet.domain import commands as c

router = APIRouter(tags=["payments"])


@router.post("/deposits", status_code=201, response_model=OperationOut)
def credit_deposit(body: DepositIn, request: Request, who: Operator, key: IdemKey) -> Any:
    """Called by the gateway once the provider confirmed settlement."""
    return run(request, who, key, c.CreditDeposit, **body.model_dump())


@router.post("/players/{player_id}/withdrawals", status_code=201, response_model=OperationOut)
def request_withdrawal(
    player_id: PlayerIdPath,
    body: WithdrawalIn,
    request: Request,
    who: PlayerOrOperator,
    key: IdemKey,
) -> Any:
    """Holds the funds until the payout completes or is released. Players may call it."""
    return run(request, who, key, c.RequestWithdrawal, player_id=player_id, **body.model_dump())


@router.post("/withdrawals/{withdrawal_id}/complete", response_model=OperationOut)
def complete_withdrawal(
    withdrawal_id: WithdrawalIdPath,
    request: Request,
    who: Operator,
    key: IdemKey,
    body: Annotated[CompleteIn | None, Body()] = None,
) -> Any:
    return run(
        request,
        who,
        key,
        c.CompleteWithdrawal,
        withdrawal_id=withdrawal_id,
        **(body or CompleteIn()).model_dump(),
    )


@router.post("/withdrawals/{withdrawal_id}/release", response_model=OperationOut)
def release_withdrawal(
    withdrawal_id: WithdrawalIdPath,
    request: Request,
    who: Operator,
    key: IdemKey,
    body: Annotated[ReleaseIn | None, Body()] = None,
) -> Any:
    """The payout failed: the held funds go back to the player's cash."""
    return run(
        request,
        who,
        key,
        c.ReleaseWithdrawal,
        withdrawal_id=withdrawal_id,
        **(body or ReleaseIn()).model_dump(),
    )


@router.post("/withdrawals/{withdrawal_id}/return", response_model=OperationOut)
def return_payout(
    withdrawal_id: WithdrawalIdPath,
    request: Request,
    who: Operator,
    key: IdemKey,
    body: Annotated[ReturnIn | None, Body()] = None,
) -> Any:
    """The bank sent a paid payout back days later."""
    return run(
        request, who, key, c.ReturnPayout, withdrawal_id=withdrawal_id, **(body or ReturnIn()).model_dump()
    )


@router.post("/players/{player_id}/payouts", status_code=201, response_model=OperationOut)
def instant_payout(
    player_id: PlayerIdPath, body: PayoutIn, request: Request, who: Operator, key: IdemKey
) -> Any:
    """One step, no hold, for rails that confirm synchronously."""
    return run(request, who, key, c.InstantPayout, player_id=player_id, **body.model_dump())


@router.post("/chargebacks", status_code=201, response_model=OperationOut)
def chargeback(body: ChargebackIn, request: Request, who: Operator, key: IdemKey) -> Any:
    return run(request, who, key, c.Chargeback, **body.model_dump())


@router.post("/refunds", status_code=201, response_model=OperationOut)
def refund(body: RefundIn, request: Request, who: Operator, key: IdemKey) -> Any:
    return run(request, who, key, c.Refund, **body.model_dump())
