"""FX conversion and reversals (records are immutable: mistakes get a mirror image)."""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_FLOOR, Decimal

from wallet.domain import commands as c
from wallet.domain.errors import (
    AlreadyExists,
    Conflict,
    InsufficientFunds,
    InvalidInput,
    TransactionNotFound,
)
from wallet.domain.ledger import (
    AccountType,
    Posting,
    Transaction,
    TxnKind,
    house,
    transfer,
)
from wallet.domain.money import exponent
from wallet.domain.players import Player
from wallet.service.handlers.common import (
    Outcome,
    T,
    acc,
    balance_view,
    done,
    lock,
    locked_player,
    post_new,
    require_active,
    take_from_cash,
)
from wallet.service.unit_of_work import UnitOfWork


def convert_currency(cmd: c.ConvertCurrency, uow: UnitOfWork, now: float) -> Outcome:
    """Each currency balances on its own through the house FX account; the converted
    amount is rounded down to the target currency's minor unit (the house keeps the dust)."""
    player = locked_player(uow, cmd.player_id, cmd.from_currency)
    require_active(player)
    if cmd.to_currency not in player.currencies:
        raise InvalidInput(f"player has no {cmd.to_currency} account", field="to_currency")
    scale = Decimal(10) ** (exponent(cmd.to_currency) - exponent(cmd.from_currency))
    target = int((Decimal(cmd.amount) * Decimal(cmd.rate) * scale).to_integral_value(ROUND_FLOOR))
    if target <= 0:
        raise InvalidInput("amount converts to less than one minor unit", field="amount")
    src = acc(T.PLAYER_CASH, cmd.player_id, cmd.from_currency)
    if uow.balances([src]).get(src, 0) < cmd.amount:
        raise InsufficientFunds("not enough available balance to convert", field="amount")
    txn = Transaction(
        f"fx:{cmd.player_id}:{cmd.conversion_id}",
        TxnKind.FX,
        (
            *transfer(src, house(T.FX, cmd.from_currency), cmd.amount, cmd.from_currency),
            *transfer(
                house(T.FX, cmd.to_currency),
                acc(T.PLAYER_CASH, cmd.player_id, cmd.to_currency),
                target,
                cmd.to_currency,
            ),
        ),
        now,
        cmd.player_id,
        meta={"rate": cmd.rate},
    )
    post_new(uow, txn)
    return done(
        uow,
        cmd.player_id,
        cmd.to_currency,
        txn.id,
        converted=target,
        from_balance=balance_view(uow, cmd.player_id, cmd.from_currency),
    )


# Transactions with no lifecycle of their own. A bet has rollback, a withdrawal hold
# has release, a bonus has forfeit: reversing those directly would let the lifecycle
# move the same money a second time.
REVERSIBLE = frozenset({TxnKind.DEPOSIT, TxnKind.WIN, TxnKind.FX, TxnKind.FEE, TxnKind.REFUND,
                        TxnKind.WRITE_OFF, TxnKind.CHARGEBACK})


def _owe_what_was_spent(uow: UnitOfWork, mirror: Transaction, player: Player) -> Transaction:
    """A deposit taken back after the player spent it (a chain reorg): taken from cash as a
    chargeback is (what cash lacks is owed, and the player is locked)."""
    postings: list[Posting] = []
    owed = 0
    for p in mirror.postings:
        if p.account == acc(T.PLAYER_CASH, player.id, p.currency) and p.amount < 0:
            taken, owed = take_from_cash(uow, player, -p.amount, p.currency)
            postings += taken
        else:
            postings.append(p)
    if not owed:
        return mirror
    lock(uow, player, f"reversal {mirror.reverses}")
    return replace(mirror, postings=tuple(postings))


def reverse_transaction(cmd: c.ReverseTransaction, uow: UnitOfWork, now: float) -> Outcome:
    """Records are immutable: a mistake is corrected by posting its mirror image.
    Refused when the mirror would push a player account past its floor or ceiling."""
    original = uow.get_transaction(cmd.transaction_id)
    if original is None:
        raise TransactionNotFound(f"transaction {cmd.transaction_id} not found", field="transaction_id")
    if uow.get_transaction(f"reversal:{original.id}") is not None:
        raise AlreadyExists(f"transaction {original.id} was already reversed", field="transaction_id")
    if original.kind not in REVERSIBLE:
        raise Conflict(
            f"{original.kind} transactions are corrected through their own lifecycle "
            "(rollback, release, return, forfeit), not by reversal",
            field="transaction_id",
        )
    if original.kind is TxnKind.DEPOSIT and len(uow.transactions_by_reference(original.reference or "")) > 1:
        raise Conflict("the deposit was refunded or charged back since: reverse those first",
                       field="transaction_id")
    player = locked_player(uow, original.player_id) if original.player_id else None
    mirror = original.reversal(f"reversal:{original.id}", now, reason=cmd.reason)
    if cmd.owe_shortfall and original.kind is TxnKind.DEPOSIT and player is not None:
        mirror = _owe_what_was_spent(uow, mirror, player)
    bal = uow.balances(p.account for p in mirror.postings)
    for p in mirror.postings:
        kind = AccountType(p.account.split(":", 1)[0])
        after = bal.get(p.account, 0) + p.amount
        if kind.floor is not None and after < kind.floor:
            raise InsufficientFunds(
                f"reversal would take {p.account} below {kind.floor}", field="transaction_id"
            )
        if kind.ceiling is not None and after > kind.ceiling:  # e.g. a receivable already repaid
            raise Conflict(f"reversal would take {p.account} above {kind.ceiling}", field="transaction_id")
    uow.post(mirror)
    currency = mirror.postings[0].currency
    if original.player_id:
        return done(uow, original.player_id, currency, mirror.id)
    return Outcome({"transaction_id": mirror.id}, None, mirror.id)
