"""Admin-only: locks, corrections (reversal, write-off), the integrity checks and the reads
the live consistency checker needs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from wallet.api.auth import Admin
from wallet.api.deps import IdemKey, OptionalIdemKey, WalletDep, run
from wallet.api.schemas import (
    AuditOut,
    LedgerOut,
    LockIn,
    OperationOut,
    PlayerIdPath,
    ReversalIn,
    TxnIdPath,
    WriteOffIn,
)
from wallet.domain import commands as c

router = APIRouter(tags=["admin"])


@router.post("/players/{player_id}/lock", response_model=OperationOut)
def lock(player_id: PlayerIdPath, body: LockIn, request: Request, who: Admin, key: OptionalIdemKey) -> Any:
    """No bets or withdrawals while locked; deposits, wins and rollbacks still land."""
    return run(request, who, key, c.LockPlayer, player_id=player_id, reason=body.reason)


@router.post("/players/{player_id}/unlock", response_model=OperationOut)
def unlock(player_id: PlayerIdPath, request: Request, who: Admin, key: OptionalIdemKey) -> Any:
    return run(request, who, key, c.UnlockPlayer, player_id=player_id)


@router.post("/transactions/{transaction_id}/reversal", status_code=201, response_model=OperationOut)
def reverse(transaction_id: TxnIdPath, body: ReversalIn, request: Request, who: Admin, key: IdemKey) -> Any:
    """Posted records are immutable: a mistake is corrected by its mirror image."""
    return run(request, who, key, c.ReverseTransaction, transaction_id=transaction_id, reason=body.reason)


@router.post("/players/{player_id}/write-offs", status_code=201, response_model=OperationOut)
def write_off(player_id: PlayerIdPath, body: WriteOffIn, request: Request, who: Admin, key: IdemKey) -> Any:
    """Give up on what a player owes after a chargeback."""
    return run(request, who, key, c.WriteOffReceivable, player_id=player_id, **body.model_dump())


@router.get("/admin/audit/verify", response_model=AuditOut)
def verify_audit(who: Admin, wallet: WalletDep) -> Any:
    breaks = wallet.verify_audit()
    return {"ok": not breaks, "entries": len(wallet.audit_log()), "breaks": [asdict(b) for b in breaks]}


@router.get("/admin/ledger/check", response_model=LedgerOut)
def check_ledger(who: Admin, wallet: WalletDep) -> Any:
    violations = wallet.ledger_violations()
    return {"ok": not violations, "violations": [asdict(v) for v in violations]}


@router.get("/admin/ledger/transaction-ids")
def transaction_ids(who: Admin, wallet: WalletDep,
                    prefix: Annotated[list[str] | None, Query()] = None) -> dict[str, list[str]]:
    """Ids of the posted transactions (those starting with a ``prefix`` when given), for
    the live consistency checker: ``deposit:acme:p1`` says which provider's settlement a
    credit claims, so it can be matched against the provider's own records."""
    with wallet.store.unit_of_work(read_only=True) as uow:
        ids = [t.id for t in uow.all_transactions()]
    if prefix:
        ids = [i for i in ids if i.startswith(tuple(prefix))]
    return {"ids": sorted(ids)}


@router.get("/admin/gateway/journal")
def gateway_journal(who: Admin, wallet: WalletDep) -> list[dict[str, Any]]:
    """Every payment's journal, for the live consistency checker (legal transitions only,
    anomalies by kind)."""
    with wallet.store.unit_of_work(read_only=True) as uow:
        return [j.to_dict() for j in uow.journal()]
