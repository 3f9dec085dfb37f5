"""Opening players and currency accounts; operator locks."""

from __future__ import annotations

from wallet.domain import commands as c
from wallet.domain.errors import (
    AlreadyExists,
)
from wallet.domain.players import (
    Player,
    PlayerStatus,
)
from wallet.service.handlers.common import (
    Outcome,
    done,
    lock,
    locked_player,
    player_accounts,
)
from wallet.service.unit_of_work import UnitOfWork


def open_player(cmd: c.OpenPlayer, uow: UnitOfWork, now: float) -> Outcome:
    player = Player(cmd.player_id, (cmd.currency,), now, country=cmd.country, funding=cmd.funding)
    uow.add_player(player, player_accounts(cmd.player_id, cmd.currency))
    return done(uow, cmd.player_id, cmd.currency, None, status=player.status.value)


def open_currency(cmd: c.OpenCurrency, uow: UnitOfWork, now: float) -> Outcome:
    player = locked_player(uow, cmd.player_id)
    if cmd.currency in player.currencies:
        raise AlreadyExists(f"player already has a {cmd.currency} account", field="currency")
    uow.add_accounts(player_accounts(cmd.player_id, cmd.currency))
    player.currencies = (*player.currencies, cmd.currency)
    uow.save_player(player)
    return done(uow, cmd.player_id, cmd.currency, None)


def lock_player(cmd: c.LockPlayer, uow: UnitOfWork, now: float) -> Outcome:
    player = locked_player(uow, cmd.player_id)
    lock(uow, player, cmd.reason)
    return Outcome({"player_id": player.id, "status": player.status.value}, player.id)


def unlock_player(cmd: c.UnlockPlayer, uow: UnitOfWork, now: float) -> Outcome:
    player = locked_player(uow, cmd.player_id)
    player.status, player.lock_reason = PlayerStatus.ACTIVE, None
    uow.save_player(player)
    return Outcome({"player_id": player.id, "status": player.status.value}, player.id)
