"""Seamless game wallet (Hub88-style): bet, win, rollback, with tombstones for
rollbacks that arrive before their bet."""

from __future__ import annotations

from wallet.domain import commands as c
from wallet.domain.errors import (
    AlreadyExists,
    BetRolledBack,
    Conflict,
    InvalidInput,
    TransactionNotFound,
)
from wallet.domain.game import GameTxn, GameTxnKind, game_txn_id
from wallet.domain.ledger import (
    Posting,
    Transaction,
    TxnKind,
    house,
)
from wallet.domain.players import (
    Split,
    split_bet,
    split_win,
)
from wallet.service.handlers.bonus import progress_wagering
from wallet.service.handlers.common import (
    Outcome,
    T,
    acc,
    done,
    locked_player,
    require_active,
)
from wallet.service.unit_of_work import UnitOfWork


def place_bet(cmd: c.PlaceBet, uow: UnitOfWork, now: float) -> Outcome:
    player = locked_player(uow, cmd.player_id, cmd.currency)
    require_active(player)
    gid = game_txn_id(cmd.aggregator, cmd.transaction_id)
    if uow.rollback_for(gid) is not None:
        raise BetRolledBack(f"bet {cmd.transaction_id} was already rolled back", field="transaction_id")
    if uow.get_game_txn(gid) is not None:
        raise AlreadyExists(f"transaction {cmd.transaction_id} already used", field="transaction_id")
    cash, bonus_acc = (acc(k, cmd.player_id, cmd.currency) for k in (T.PLAYER_CASH, T.PLAYER_BONUS))
    bal = uow.balances([cash, bonus_acc])
    split = split_bet(cmd.amount, bal.get(cash, 0), bal.get(bonus_acc, 0), player.funding)
    postings = [Posting(house(T.HOUSE_GAME, cmd.currency), cmd.amount, cmd.currency)]
    if split.cash:
        postings.append(Posting(cash, -split.cash, cmd.currency))
    if split.bonus:
        postings.append(Posting(bonus_acc, -split.bonus, cmd.currency))
    txn = Transaction(f"bet:{gid}", TxnKind.BET, tuple(postings), now, cmd.player_id, reference=cmd.round_id)
    uow.post(txn)
    uow.add_game_txn(
        GameTxn(
            gid,
            GameTxnKind.BET,
            cmd.player_id,
            cmd.currency,
            cmd.round_id,
            cmd.amount,
            split.cash,
            split.bonus,
            None,
            txn.id,
            cmd.game_id,
            now,
        )
    )
    converted = progress_wagering(uow, cmd.player_id, cmd.currency, cmd.amount, now)
    return done(uow, cmd.player_id, cmd.currency, txn.id, bonus_converted=converted)


def _bet_for(uow: UnitOfWork, aggregator: str, bet_id: str, player_id: str) -> GameTxn:
    bet = uow.get_game_txn(game_txn_id(aggregator, bet_id))
    if bet is None or bet.kind is not GameTxnKind.BET:
        raise TransactionNotFound(f"bet {bet_id} not found", field="bet_transaction_id")
    if bet.player_id != player_id:
        raise TransactionNotFound(f"bet {bet_id} not found for this player", field="bet_transaction_id")
    return bet


def settle_win(cmd: c.SettleWin, uow: UnitOfWork, now: float) -> Outcome:
    """Wins are accepted even for a locked player or an expired session: the round was played."""
    locked_player(uow, cmd.player_id, cmd.currency)
    gid = game_txn_id(cmd.aggregator, cmd.transaction_id)
    if uow.get_game_txn(gid) is not None:
        raise AlreadyExists(f"transaction {cmd.transaction_id} already used", field="transaction_id")
    bet = _bet_for(uow, cmd.aggregator, cmd.bet_transaction_id, cmd.player_id)
    if bet.currency != cmd.currency:
        raise InvalidInput(f"win currency {cmd.currency} differs from bet's {bet.currency}", field="currency")
    if uow.rollback_for(bet.id) is not None:
        raise BetRolledBack(f"bet {cmd.bet_transaction_id} was rolled back", field="bet_transaction_id")
    txn_id = None
    if cmd.win:
        bonus_active = uow.active_bonus(cmd.player_id, cmd.currency) is not None
        split = split_win(cmd.win, Split(bet.cash, bet.bonus if bonus_active else 0))
        postings = [Posting(house(T.HOUSE_GAME, cmd.currency), -cmd.win, cmd.currency)]
        if split.cash:
            postings.append(
                Posting(acc(T.PLAYER_CASH, cmd.player_id, cmd.currency), split.cash, cmd.currency)
            )
        if split.bonus:
            postings.append(
                Posting(acc(T.PLAYER_BONUS, cmd.player_id, cmd.currency), split.bonus, cmd.currency)
            )
        txn = Transaction(
            f"win:{gid}", TxnKind.WIN, tuple(postings), now, cmd.player_id, reference=cmd.round_id
        )
        uow.post(txn)
        txn_id = txn.id
    uow.add_game_txn(
        GameTxn(
            gid,
            GameTxnKind.WIN,
            cmd.player_id,
            cmd.currency,
            cmd.round_id,
            cmd.win,
            reference=bet.id,
            ledger_txn=txn_id,
            created_at=now,
        )
    )
    return done(uow, cmd.player_id, cmd.currency, txn_id)


def rollback_bet(cmd: c.RollbackBet, uow: UnitOfWork, now: float) -> Outcome:
    """Reverse a bet. For a bet never seen, store a tombstone so the late bet is refused.
    Accepted for locked players: the aggregator is returning money, not taking it."""
    player = locked_player(uow, cmd.player_id)
    gid = game_txn_id(cmd.aggregator, cmd.transaction_id)
    if uow.get_game_txn(gid) is not None:
        raise AlreadyExists(f"transaction {cmd.transaction_id} already used", field="transaction_id")
    bet_gid = game_txn_id(cmd.aggregator, cmd.bet_transaction_id)
    if uow.rollback_for(bet_gid) is not None:
        raise AlreadyExists(f"bet {cmd.bet_transaction_id} already rolled back", field="bet_transaction_id")
    bet = uow.get_game_txn(bet_gid)
    if bet is None:
        # The tombstone takes the bet's own id: a bet with that id racing in from any
        # player's unit (locks are per player) then collides on the primary key.
        uow.add_game_txn(
            GameTxn(
                bet_gid,
                GameTxnKind.ROLLBACK,
                player.id,
                player.currencies[0],
                cmd.round_id or "",
                0,
                reference=bet_gid,
                created_at=now,
            )
        )
        return done(uow, player.id, player.currencies[0], None, tombstone=True)
    if bet.kind is not GameTxnKind.BET or bet.player_id != player.id:
        raise TransactionNotFound(
            f"bet {cmd.bet_transaction_id} not found for this player", field="bet_transaction_id"
        )
    if uow.win_for(bet.id) is not None:  # a win, even of zero, closed the round
        raise Conflict(
            f"round {bet.round_id} already has a win: rollback refused", field="bet_transaction_id"
        )
    bonus = uow.active_bonus(player.id, bet.currency)
    # bonus money goes back to the bonus only while that bonus is still running
    bonus_home = T.PLAYER_BONUS if bonus else T.PLAYER_CASH
    postings = [Posting(house(T.HOUSE_GAME, bet.currency), -bet.amount, bet.currency)]
    if bet.cash:
        postings.append(Posting(acc(T.PLAYER_CASH, player.id, bet.currency), bet.cash, bet.currency))
    if bet.bonus:
        postings.append(Posting(acc(bonus_home, player.id, bet.currency), bet.bonus, bet.currency))
    txn = Transaction(
        f"rollback:{gid}",
        TxnKind.ROLLBACK,
        tuple(postings),
        now,
        player.id,
        reference=bet.round_id,
        reverses=bet.ledger_txn,
    )
    uow.post(txn)
    if bonus is not None:
        bonus.wagered = max(0, bonus.wagered - bet.amount)
        uow.save_bonus(bonus)
    uow.add_game_txn(
        GameTxn(
            gid,
            GameTxnKind.ROLLBACK,
            player.id,
            bet.currency,
            bet.round_id,
            bet.amount,
            bet.cash,
            bet.bonus,
            bet.id,
            txn.id,
            created_at=now,
        )
    )
    return done(uow, player.id, bet.currency, txn.id, tombstone=False)
