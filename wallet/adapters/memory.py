"""In-memory store: the fast adapter for SimPy runs and unit tests.

One lock for the whole store, held from the start of a unit of work to its end,
makes every unit serializable (like SQLite's BEGIN IMMEDIATE). Writes go straight
into the state and an undo log restores it on rollback, so reads in a unit see
the unit's own writes at no cost.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

from wallet.domain.audit import AuditEntry
from wallet.domain.errors import AlreadyExists
from wallet.domain.game import GameTxn, GameTxnKind
from wallet.domain.idempotency import IdempotencyRecord
from wallet.domain.ledger import Account, Transaction, validate
from wallet.domain.payments.journal import JournalEntry
from wallet.domain.payments.model import Payment
from wallet.domain.players import Bonus, BonusStatus, Player
from wallet.domain.withdrawals import Withdrawal
from wallet.service.unit_of_work import Store, UnitOfWork

_MISSING = object()


@dataclass
class _State:
    players: dict[str, Player] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    txns: dict[str, Transaction] = field(default_factory=dict)
    by_reference: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    by_player: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    bonuses: dict[str, Bonus] = field(default_factory=dict)
    active_bonus: dict[tuple[str, str], str] = field(default_factory=dict)
    withdrawals: dict[str, Withdrawal] = field(default_factory=dict)
    game: dict[str, GameTxn] = field(default_factory=dict)
    rollbacks: dict[str, str] = field(default_factory=dict)
    wins: dict[str, str] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)
    audit: dict[str, list[AuditEntry]] = field(default_factory=lambda: defaultdict(list))
    payments: dict[str, Payment] = field(default_factory=dict)
    journal: list[JournalEntry] = field(default_factory=list)
    by_payment: dict[str, list[JournalEntry]] = field(default_factory=lambda: defaultdict(list))


class MemoryStore(Store):
    def __init__(self) -> None:
        self.state = _State()
        self.lock = threading.RLock()

    def unit_of_work(self, *, read_only: bool = False) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)


class MemoryUnitOfWork(UnitOfWork):
    def __init__(self, store: MemoryStore) -> None:
        self._s = store.state
        self._lock = store.lock
        self._lock.acquire()
        self._undo: list[Callable[[], object]] = []
        self._open = True

    def commit(self) -> None:
        if self._open:
            self._undo.clear()
            self._close()

    def rollback(self) -> None:
        if self._open:
            for undo in reversed(self._undo):
                undo()
            self._undo.clear()
            self._close()

    def _close(self) -> None:
        self._open = False
        self._lock.release()

    def _set(self, table: dict, key: object, value: object) -> None:
        old = table.get(key, _MISSING)
        self._undo.append(lambda: table.pop(key) if old is _MISSING else table.__setitem__(key, old))
        table[key] = value

    def _append(self, table: dict, key: object, value: object) -> None:
        lst = table[key]
        lst.append(value)
        self._undo.append(lst.pop)

    # players ---------------------------------------------------------------
    def add_player(self, player: Player, accounts: Sequence[Account]) -> None:
        if player.id in self._s.players:
            raise AlreadyExists(f"player {player.id} exists", field="player_id")
        self._set(self._s.players, player.id, replace(player))
        self.add_accounts(accounts)

    def get_player(self, player_id: str) -> Player | None:
        p = self._s.players.get(player_id)
        return replace(p) if p else None

    lock_player = get_player  # the store-wide lock is already held

    def save_player(self, player: Player) -> None:
        player.version += 1
        self._set(self._s.players, player.id, replace(player))

    def add_accounts(self, accounts: Sequence[Account]) -> None:
        for acc in accounts:
            self._set(self._s.accounts, acc.id, acc)
            if acc.materialized:
                self._set(self._s.balances, acc.id, 0)

    # ledger ------------------------------------------------------------------
    def balances(self, account_ids: Iterable[str]) -> dict[str, int]:
        b = self._s.balances
        return {a: b[a] for a in account_ids if a in b}

    def post(self, txn: Transaction) -> None:
        validate(txn)
        if txn.id in self._s.txns:
            raise AlreadyExists(f"transaction {txn.id} already posted", field="id")
        self._set(self._s.txns, txn.id, txn)
        for p in txn.postings:
            self._set(self._s.balances, p.account, self._s.balances.get(p.account, 0) + p.amount)
        if txn.reference is not None:
            self._append(self._s.by_reference, txn.reference, txn.id)
        if txn.player_id is not None:
            self._append(self._s.by_player, txn.player_id, txn.id)

    def get_transaction(self, txn_id: str) -> Transaction | None:
        return self._s.txns.get(txn_id)

    def transactions_by_reference(self, reference: str) -> list[Transaction]:
        return [self._s.txns[i] for i in self._s.by_reference.get(reference, ())]

    def player_transactions(
        self, player_id: str, *, after_seq: int = 0, limit: int = 50
    ) -> list[tuple[int, Transaction]]:
        ids = self._s.by_player.get(player_id, [])
        return [
            (i + 1, self._s.txns[t])
            for i, t in enumerate(ids[after_seq : after_seq + limit], start=after_seq)
        ]

    # bonuses, withdrawals, game -------------------------------------------------
    def active_bonus(self, player_id: str, currency: str) -> Bonus | None:
        bid = self._s.active_bonus.get((player_id, currency))
        return replace(self._s.bonuses[bid]) if bid else None

    def get_bonus(self, bonus_id: str) -> Bonus | None:
        b = self._s.bonuses.get(bonus_id)
        return replace(b) if b else None

    def save_bonus(self, bonus: Bonus) -> None:
        bonus.version += 1
        self._set(self._s.bonuses, bonus.id, replace(bonus))
        key = (bonus.player_id, bonus.currency)
        if bonus.status is BonusStatus.ACTIVE:
            self._set(self._s.active_bonus, key, bonus.id)
        elif self._s.active_bonus.get(key) == bonus.id:
            old = self._s.active_bonus.pop(key)
            self._undo.append(lambda: self._s.active_bonus.__setitem__(key, old))

    def get_withdrawal(self, withdrawal_id: str) -> Withdrawal | None:
        w = self._s.withdrawals.get(withdrawal_id)
        return replace(w) if w else None

    def save_withdrawal(self, withdrawal: Withdrawal) -> None:
        withdrawal.version += 1
        self._set(self._s.withdrawals, withdrawal.id, replace(withdrawal))

    def get_game_txn(self, game_txn_id: str) -> GameTxn | None:
        return self._s.game.get(game_txn_id)

    def rollback_for(self, bet_game_txn_id: str) -> GameTxn | None:
        gid = self._s.rollbacks.get(bet_game_txn_id)
        return self._s.game[gid] if gid else None

    def win_for(self, bet_game_txn_id: str) -> GameTxn | None:
        gid = self._s.wins.get(bet_game_txn_id)
        return self._s.game[gid] if gid else None

    def add_game_txn(self, txn: GameTxn) -> None:
        if txn.id in self._s.game:
            raise AlreadyExists(f"game transaction {txn.id} exists", field="transaction_id")
        self._set(self._s.game, txn.id, txn)
        if txn.kind is GameTxnKind.ROLLBACK and txn.reference:
            self._set(self._s.rollbacks, txn.reference, txn.id)
        elif txn.kind is GameTxnKind.WIN and txn.reference:
            self._set(self._s.wins, txn.reference, txn.id)

    # gateway payments -----------------------------------------------------------------
    def get_payment(self, payment_id: str, *, lock: bool = False) -> Payment | None:
        p = self._s.payments.get(payment_id)
        return p.copy() if p else None

    def save_payment(self, payment: Payment) -> None:
        """Keeps the object itself (no copy): the caller hands it over. Reads return copies."""
        self._set(self._s.payments, payment.id, payment)

    def due_payments(self, now: float, limit: int = 100) -> list[str]:
        due = sorted((min(p.timers)[0], p.id) for p in self._s.payments.values()
                     if p.timers and min(p.timers)[0] <= now)
        return [pid for _, pid in due[:limit]]

    def add_journal(self, entries: Sequence[JournalEntry]) -> None:
        for e in entries:
            self._s.journal.append(e)
            self._undo.append(self._s.journal.pop)
            self._append(self._s.by_payment, e.payment_id, e)

    def journal(self, payment_id: str | None = None) -> list[JournalEntry]:
        if payment_id is None:
            return list(self._s.journal)
        return list(self._s.by_payment.get(payment_id, ()))

    def all_payments(self) -> Iterable[Payment]:
        return [p.copy() for p in self._s.payments.values()]

    # idempotency and audit ---------------------------------------------------------
    def get_idempotency(self, scope: str, key: str) -> IdempotencyRecord | None:
        return self._s.idempotency.get((scope, key))

    def add_idempotency(self, record: IdempotencyRecord) -> None:
        self._set(self._s.idempotency, (record.scope, record.key), record)

    def purge_idempotency(self, scope_prefix: str, before: float) -> int:
        old = [k for k, r in self._s.idempotency.items()
               if r.scope.startswith(scope_prefix) and r.created_at < before]
        for k in old:
            record = self._s.idempotency.pop(k)
            self._undo.append(partial(self._s.idempotency.__setitem__, k, record))
        return len(old)

    def last_audit(self, stream: str) -> AuditEntry | None:
        entries = self._s.audit.get(stream)
        return entries[-1] if entries else None

    def add_audit(self, entry: AuditEntry) -> None:
        self._append(self._s.audit, entry.stream, entry)

    def audit_entries(self) -> Iterable[AuditEntry]:
        return [e for stream in sorted(self._s.audit) for e in self._s.audit[stream]]

    # checker reads -------------------------------------------------------------------
    def all_transactions(self) -> Iterable[Transaction]:
        return list(self._s.txns.values())

    def stored_balances(self) -> dict[str, int]:
        return {a: self._s.balances[a] for a, acc in self._s.accounts.items() if acc.materialized}
