"""Deposits credited on settlement, chargebacks, refunds and receivable write-offs."""

from __future__ import annotations

from wallet.domain import commands as c
from wallet.domain.errors import (
    AlreadyExists,
    Conflict,
    InsufficientFunds,
    InvalidInput,
    TransactionNotFound,
)
from wallet.domain.ledger import (
    Posting,
    Transaction,
    TxnKind,
    clearing,
    house,
    transfer,
)
from wallet.service.handlers.common import (
    Outcome,
    T,
    acc,
    done,
    lock,
    locked_player,
    post_new,
    take_from_cash,
)
from wallet.service.unit_of_work import UnitOfWork


def credit_deposit(cmd: c.CreditDeposit, uow: UnitOfWork, now: float) -> Outcome:
    """Credited even to a locked player: the provider settled it, so it is the player's.
    An outstanding receivable (after a chargeback) is repaid first."""
    locked_player(uow, cmd.player_id, cmd.currency)
    cash = acc(T.PLAYER_CASH, cmd.player_id, cmd.currency)
    receivable = acc(T.RECEIVABLE, cmd.player_id, cmd.currency)
    owed = -uow.balances([receivable]).get(receivable, 0)
    repay = min(owed, cmd.amount)
    postings = [Posting(clearing(cmd.provider, cmd.currency), -cmd.amount, cmd.currency)]
    if cmd.amount - repay:
        postings.append(Posting(cash, cmd.amount - repay, cmd.currency))
    if repay:
        postings.append(Posting(receivable, repay, cmd.currency))
    if cmd.fee:
        postings += transfer(
            house(T.FEES, cmd.currency), clearing(cmd.provider, cmd.currency), cmd.fee, cmd.currency
        )
    txn = Transaction(
        f"deposit:{cmd.provider}:{cmd.payment_id}",
        TxnKind.DEPOSIT,
        tuple(postings),
        now,
        cmd.player_id,
        reference=f"{cmd.provider}:{cmd.payment_id}",
    )
    post_new(uow, txn)
    return done(uow, cmd.player_id, cmd.currency, txn.id, repaid_receivable=repay)


def _deposit(uow: UnitOfWork, provider: str, payment_id: str) -> Transaction:
    txn = uow.get_transaction(f"deposit:{provider}:{payment_id}")
    if txn is None or txn.player_id is None:
        raise TransactionNotFound(f"no credited deposit {provider}:{payment_id}", field="payment_id")
    return txn


def _deposit_amount(txn: Transaction, provider: str) -> tuple[int, str]:
    p = next(p for p in txn.postings if p.account.startswith(f"{T.PROVIDER_CLEARING}:{provider}:"))
    return -p.amount, p.currency


def _taken_back(uow: UnitOfWork, dep: Transaction) -> tuple[int, bool]:
    """What refunds already returned of a deposit, and whether it was charged back.
    Amounts are read from the player's side of each posting set (fees excluded)."""
    refunded, charged_back = 0, False
    for t in uow.transactions_by_reference(dep.reference or ""):
        if t.kind is TxnKind.REFUND:
            refunded -= sum(p.amount for p in t.postings if p.account.startswith(f"{T.PLAYER_CASH}:"))
        charged_back |= t.kind is TxnKind.CHARGEBACK
    return refunded, charged_back


def chargeback(cmd: c.Chargeback, uow: UnitOfWork, now: float) -> Outcome:
    """The provider claws the money back. Cash pays what it can; the rest becomes a
    receivable, and the player is locked until an operator looks at it."""
    dep = _deposit(uow, cmd.provider, cmd.payment_id)
    deposited, currency = _deposit_amount(dep, cmd.provider)
    refunded, charged_back = _taken_back(uow, dep)
    if charged_back:
        raise AlreadyExists(f"deposit {cmd.payment_id} was already charged back", field="payment_id")
    if cmd.amount > deposited - refunded:
        raise InvalidInput(
            f"chargeback {cmd.amount} exceeds deposit {deposited} less refunds {refunded}", field="amount"
        )
    player = locked_player(uow, dep.player_id or "")
    taken, owed = take_from_cash(uow, player, cmd.amount, currency)
    postings = [Posting(clearing(cmd.provider, currency), cmd.amount, currency), *taken]
    if cmd.fee:
        postings += transfer(house(T.FEES, currency), clearing(cmd.provider, currency), cmd.fee, currency)
    txn = Transaction(
        f"chargeback:{cmd.provider}:{cmd.payment_id}",
        TxnKind.CHARGEBACK,
        tuple(postings),
        now,
        player.id,
        reference=dep.reference,
        meta={"reason": cmd.reason},
    )
    post_new(uow, txn)
    lock(uow, player, f"chargeback {cmd.payment_id}")
    return done(uow, player.id, currency, txn.id, receivable_created=owed)


def refund(cmd: c.Refund, uow: UnitOfWork, now: float) -> Outcome:
    dep = _deposit(uow, cmd.provider, cmd.payment_id)
    deposited, currency = _deposit_amount(dep, cmd.provider)
    player = locked_player(uow, dep.player_id or "")
    earlier, charged_back = _taken_back(uow, dep)
    if charged_back:
        raise Conflict(f"deposit {cmd.payment_id} was charged back: nothing to refund", field="payment_id")
    if earlier + cmd.amount > deposited:
        raise InvalidInput(
            f"refunds would total {earlier + cmd.amount}, more than the deposit {deposited}",
            field="amount",
        )
    cash = acc(T.PLAYER_CASH, player.id, currency)
    if uow.balances([cash]).get(cash, 0) < cmd.amount:
        raise InsufficientFunds("not enough available balance to refund", field="amount")
    txn = Transaction(
        f"refund:{cmd.provider}:{cmd.refund_id}",
        TxnKind.REFUND,
        transfer(cash, clearing(cmd.provider, currency), cmd.amount, currency),
        now,
        player.id,
        reference=dep.reference,
    )
    post_new(uow, txn)
    return done(uow, player.id, currency, txn.id)


def write_off_receivable(cmd: c.WriteOffReceivable, uow: UnitOfWork, now: float) -> Outcome:
    locked_player(uow, cmd.player_id, cmd.currency)
    receivable = acc(T.RECEIVABLE, cmd.player_id, cmd.currency)
    owed = -uow.balances([receivable]).get(receivable, 0)
    if owed <= 0:
        raise Conflict("nothing to write off", field="currency")
    txn = Transaction(
        f"write_off:{cmd.player_id}:{cmd.write_off_id}",
        TxnKind.WRITE_OFF,
        transfer(house(T.CHARGEBACK_LOSS, cmd.currency), receivable, owed, cmd.currency),
        now,
        cmd.player_id,
    )
    post_new(uow, txn)
    return done(uow, cmd.player_id, cmd.currency, txn.id, written_off=owed)
