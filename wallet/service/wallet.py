"""The wallet's front door: runs a command in a unit of work, atomically and idempotently.

Around every handler it adds what no handler should repeat: the idempotency
record (in the same transaction as the postings), the hash-chained audit entry,
and bounded retries when the database reports a serialization failure,
deadlock or a lost race on a unique key.
"""

from __future__ import annotations

import json
from typing import Any

from wallet.domain import errors
from wallet.domain.audit import AuditEntry, ChainBreak, canonical, next_entry, verify_chain
from wallet.domain.commands import Command
from wallet.domain.idempotency import IdempotencyKey, IdempotencyRecord, fingerprint
from wallet.domain.ledger import Transaction, Violation, balance_violations, transaction_violations
from wallet.domain.players import Player
from wallet.service.clock import Clock, SystemClock
from wallet.service.handlers import HANDLERS, Outcome, balance_view
from wallet.service.unit_of_work import RetryableStoreError, Store, UnitOfWork

SYSTEM_STREAM = "system"


def _error_classes() -> dict[str, type[errors.DomainError]]:
    found: dict[str, type[errors.DomainError]] = {}
    todo: list[type[errors.DomainError]] = [errors.DomainError]
    while todo:
        cls = todo.pop()
        found[cls.code] = cls
        todo.extend(cls.__subclasses__())
    return found


ERRORS_BY_CODE = _error_classes()


def _json(data: dict[str, Any]) -> dict[str, Any]:
    """Normalise to what storage gives back, so a first answer and its replay are identical."""
    return json.loads(canonical(data))


class Wallet:
    def __init__(self, store: Store, clock: Clock | None = None, *, max_attempts: int = 8) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.max_attempts = max_attempts

    def execute(
        self,
        cmd: Command,
        *,
        idempotency: IdempotencyKey | None = None,
        actor: str = "system",
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Apply ``cmd`` once. With a key: the same key and payload replay the first
        answer (result or refusal); the same key with another payload is refused."""
        fp = fingerprint(cmd.action, cmd.payload())
        for _ in range(self.max_attempts):
            try:
                with self.store.unit_of_work() as uow:
                    if idempotency and (rec := uow.get_idempotency(idempotency.scope, idempotency.key)):
                        return _replay(rec, fp)
                    now = self.clock.now()
                    try:
                        result = self.apply(uow, cmd, now, actor=actor, request_id=request_id)
                    except errors.InvalidInput:
                        raise  # malformed for the current state: nothing ran, nothing stored
                    except errors.DomainError as refusal:
                        if idempotency is None:
                            raise
                        uow.rollback()
                        return self._remember_refusal(idempotency, fp, refusal)
                    if idempotency:
                        uow.add_idempotency(
                            IdempotencyRecord(idempotency.scope, idempotency.key, fp, {"ok": result}, now)
                        )
                    uow.commit()
                    return result
            except RetryableStoreError:
                continue
        raise RetryableStoreError(f"{cmd.action} still conflicting after {self.max_attempts} attempts")

    def apply(self, uow: UnitOfWork, cmd: Command, now: float, *, actor: str = "system",
              request_id: str | None = None) -> dict[str, Any]:
        """Run ``cmd`` inside the caller's unit of work, audited: the gateway posts a settlement
        in the same transaction as its payment record and webhook inbox entry. A refusal
        raises and the caller rolls the unit back."""
        outcome = HANDLERS[type(cmd)](cmd, uow, now)
        self._audit(uow, cmd.action, cmd.payload(), outcome, actor, request_id, now)
        return _json(outcome.result)

    def _remember_refusal(self, key: IdempotencyKey, fp: str, refusal: errors.DomainError) -> dict[str, Any]:
        with self.store.unit_of_work() as uow:
            if rec := uow.get_idempotency(key.scope, key.key):
                return _replay(rec, fp)
            error = {"code": refusal.code, "message": refusal.message, "field": refusal.field}
            uow.add_idempotency(IdempotencyRecord(key.scope, key.key, fp, {"error": error}, self.clock.now()))
            uow.commit()
        raise refusal

    @staticmethod
    def _audit(
        uow: UnitOfWork, action: str, payload: dict[str, Any], outcome: Outcome, actor: str,
        request_id: str | None, now: float,
    ) -> None:
        stream = outcome.player_id or SYSTEM_STREAM
        uow.add_audit(
            next_entry(
                uow.last_audit(stream),
                stream=stream,
                at=now,
                actor=actor,
                action=action,
                request_id=request_id,
                txn_id=outcome.txn_id,
                payload=canonical(payload),
            )
        )

    # --- reads ------------------------------------------------------------------------

    def player(self, player_id: str) -> Player:
        with self.store.unit_of_work(read_only=True) as uow:
            player = uow.get_player(player_id)
        if player is None:
            raise errors.PlayerNotFound(f"player {player_id} not found", field="player_id")
        return player

    def balance(self, player_id: str, currency: str) -> dict[str, Any]:
        player = self.player(player_id)
        if currency not in player.currencies:
            raise errors.InvalidInput(f"player has no {currency} account", field="currency")
        with self.store.unit_of_work(read_only=True) as uow:
            return balance_view(uow, player_id, currency)

    def history(
        self, player_id: str, *, after: int = 0, limit: int = 50
    ) -> tuple[list[Transaction], int | None]:
        """A page of the player's transactions and the cursor for the next page."""
        self.player(player_id)
        with self.store.unit_of_work(read_only=True) as uow:
            rows = uow.player_transactions(player_id, after_seq=after, limit=limit + 1)
        page = rows[:limit]
        return [t for _, t in page], (page[-1][0] if len(rows) > limit else None)

    def transaction(self, txn_id: str) -> Transaction:
        with self.store.unit_of_work(read_only=True) as uow:
            txn = uow.get_transaction(txn_id)
        if txn is None:
            raise errors.TransactionNotFound(f"transaction {txn_id} not found", field="transaction_id")
        return txn

    def audit_log(self) -> list[AuditEntry]:
        with self.store.unit_of_work(read_only=True) as uow:
            return list(uow.audit_entries())

    def verify_audit(self) -> list[ChainBreak]:
        """Chain breaks, plus any ledger transaction the audit log does not mention."""
        with self.store.unit_of_work(read_only=True) as uow:
            entries = list(uow.audit_entries())
            txn_ids = {t.id for t in uow.all_transactions()}
        breaks = verify_chain(entries)
        audited = {e.txn_id for e in entries}
        # a handler may post a second transaction (bonus conversion, forfeit) under one entry
        secondary = ("bonus_convert:", "bonus_forfeit:")
        breaks += [
            ChainBreak("ledger", 0, f"transaction {t} has no audit entry")
            for t in sorted(txn_ids - audited)
            if not t.startswith(secondary)
        ]
        return breaks

    def ledger_violations(self) -> list[Violation]:
        """The ledger invariants, checked from scratch over everything stored."""
        with self.store.unit_of_work(read_only=True) as uow:
            txns = list(uow.all_transactions())
            stored = uow.stored_balances()
        out = [v for t in txns for v in transaction_violations(t)]
        return out + balance_violations(stored, txns)


def _replay(rec: IdempotencyRecord, fp: str) -> dict[str, Any]:
    if rec.fingerprint != fp:
        raise errors.IdempotencyKeyReused(
            "this idempotency key was used with a different request", field="Idempotency-Key"
        )
    if "ok" in rec.outcome:
        return rec.outcome["ok"]
    err = rec.outcome["error"]
    raise ERRORS_BY_CODE.get(err["code"], errors.DomainError)(err["message"], field=err["field"])
