"""The SQL unit of work: the port's methods over one ``UnitConnection``.

Round trips are the cost that matters (the wallet is benchmarked against pgbench:
on a small machine a statement costs about as much server CPU as a pgbench one,
plus the driver's own), so the unit remembers what it may and asks in bulk:

* ``lock_player`` returns the player's account balances with the lock; they are
  kept current from the unit's own postings, which is exact because only the
  holder of the player's lock changes them (on SQLite, everything a unit reads
  stays true until it ends: it holds the write lock or reads a snapshot);
* a game id comes back with the rollback and wins recorded against it;
* ``active_bonus`` brings the head of the player's audit stream along;
* appends whose key the unit already looked up (transaction header, game record,
  audit entry, idempotency record) are deferred and sent in one statement before
  COMMIT (``pending.py``). A bet is then 7 round trips, BEGIN and COMMIT included
  (8 with an idempotency key; 11 and 13 before these). On PostgreSQL a plain bet
  skips the unit altogether: one round trip, its commit included (``bets.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from wallet.adapters.sql import rows
from wallet.adapters.sql.connection import UnitConnection
from wallet.domain.audit import AuditEntry
from wallet.domain.errors import AlreadyExists
from wallet.domain.game import GameTxn, GameTxnKind
from wallet.domain.idempotency import IdempotencyRecord
from wallet.domain.ledger import PLAYER_ACCOUNT_TYPES, Account, Transaction, validate
from wallet.domain.payments.journal import JournalEntry
from wallet.domain.payments.model import Payment
from wallet.domain.players import Bonus, Player
from wallet.domain.withdrawals import Withdrawal
from wallet.service.unit_of_work import RetryableStoreError, UnitOfWork

if TYPE_CHECKING:
    from wallet.adapters.sql.store import SqlStore

_PLAYER_TYPES = frozenset(t.value for t in PLAYER_ACCOUNT_TYPES)


def _player_owner(account_id: str) -> str | None:
    """The owning player of a materialized account id, None for house/provider/unparseable ids."""
    parts = account_id.split(":")
    return parts[1] if len(parts) == 3 and parts[0] in _PLAYER_TYPES else None


def _same(value: Any) -> Any:
    return value


class SqlUnitOfWork(UnitOfWork):
    def __init__(self, store: SqlStore, *, read_only: bool = False) -> None:
        self._db = UnitConnection(store, read_only=read_only)
        self._read_only = read_only
        self._q = store.statements
        self._trust_all = store.sqlite
        self._load = json.loads if store.sqlite else _same  # psycopg parses JSON itself
        self._locked: set[str] = set()  # players whose lock this unit holds
        self._balances: dict[str, int] = {}  # exact materialized balances (see module doc)
        self._loaded: set[str] = set()  # players whose accounts are all in _balances
        self._games: dict[str, GameTxn | None] = {}
        self._rollbacks: dict[str, GameTxn | None] = {}
        self._wins: dict[str, GameTxn | None] = {}
        self._posted: set[str] = set()  # transaction ids posted by this unit
        self._audit_heads: dict[str, AuditEntry | None] = {}  # last_audit answers, then our appends
        self._idempotency_seen: dict[tuple[str, str], IdempotencyRecord | None] = {}

    def commit(self) -> None:
        self._db.commit()

    def rollback(self) -> None:
        self._db.close()  # a no-op after commit

    def _trusted(self, player_id: str) -> bool:
        return self._trust_all or player_id in self._locked

    # players ----------------------------------------------------------------------
    def add_player(self, player: Player, accounts: Sequence[Account]) -> None:
        if not self._db.count(self._q.insert_player, rows.player_values(player)):
            raise AlreadyExists(f"player {player.id} exists", field="player_id")
        self._locked.add(player.id)  # our uncommitted row: invisible, so unlockable, to others
        self._loaded.add(player.id)
        self.add_accounts(accounts)

    def get_player(self, player_id: str) -> Player | None:
        row = self._db.one(self._q.get_player, {"id": player_id})
        return rows.player(row) if row else None

    def lock_player(self, player_id: str) -> Player | None:
        found = self._db.all(self._q.lock_player_accounts, {"id": player_id})
        if not found:  # no such player, or one without accounts
            row = self._db.one(self._q.lock_player, {"id": player_id})
            if row is None:
                return None
            self._locked.add(player_id)
            return rows.player(row)
        self._locked.add(player_id)
        player = rows.player(found[0])
        self._balances.update((r.account_id, r.balance) for r in found)
        # accounts opened by a unit that committed while we waited are not in our snapshot;
        # the (re-read) player row lists their currency, so completeness is checkable
        if {r.account_currency for r in found}.issuperset(player.currencies):
            self._loaded.add(player_id)
        return player

    def save_player(self, player: Player) -> None:
        player.version += 1
        values = rows.player_values(player)
        values["b_id"] = values.pop("id")
        self._db.x(self._q.update_player, values)

    def add_accounts(self, accounts: Sequence[Account]) -> None:
        if not accounts:
            return
        self._db.many(self._q.insert_accounts, [rows.account_values(a) for a in accounts])
        for a in accounts:
            if a.materialized and a.owner in self._loaded and self._trusted(a.owner):
                self._balances.setdefault(a.id, 0)  # an existing row keeps its balance

    # ledger ---------------------------------------------------------------------------
    def balances(self, account_ids: Iterable[str]) -> dict[str, int]:
        ids = list(dict.fromkeys(account_ids))
        found: dict[str, int] = {}
        owners: set[str] = set()
        derived: list[str] = []
        for acc in ids:
            if acc in self._balances:
                found[acc] = self._balances[acc]
            elif (owner := _player_owner(acc)) is None:
                derived.append(acc)
            elif owner not in self._loaded:  # else: all its accounts are known, this one is not one
                owners.add(owner)
        for owner in owners:  # one query per player (in practice one), all of their accounts
            accounts = dict(self._db.x(self._q.player_accounts, {"player_id": owner}).fetchall())
            if self._trusted(owner):
                self._balances.update(accounts)
                self._loaded.add(owner)
            found.update(accounts)
        if derived:
            found.update(self._db.core(self._q.derived_balances, {"ids": derived}))
        return {acc: found[acc] for acc in ids if acc in found}

    def post(self, txn: Transaction) -> None:
        """Postings now (the trigger updates the balances), the header with the other
        deferred appends: the header-last rule holds either way."""
        validate(txn)
        if txn.id in self._posted or not self._db.count(
            self._q.insert_postings(len(txn.postings)), rows.posting_values(txn)
        ):
            raise AlreadyExists(f"transaction {txn.id} already posted", field="id")
        self._db.pending.add("transactions", rows.txn_values(txn))
        self._posted.add(txn.id)
        for p in txn.postings:  # the database did the same in its postings trigger
            if p.account in self._balances:
                self._balances[p.account] += p.amount

    def get_transaction(self, txn_id: str) -> Transaction | None:
        self._db.flush("transactions")
        found = rows.transactions(self._db.all(self._q.get_txn, {"id": txn_id}), self._load)
        return next((t for _, t in found), None)

    def transactions_by_reference(self, reference: str) -> list[Transaction]:
        self._db.flush("transactions")
        result = self._db.all(self._q.txns_by_reference, {"reference": reference})
        return [t for _, t in rows.transactions(result, self._load)]

    def player_transactions(
        self, player_id: str, *, after_seq: int = 0, limit: int = 50
    ) -> list[tuple[int, Transaction]]:
        if limit <= 0:
            return []
        self._db.flush("transactions")
        params = {"player_id": player_id, "after": after_seq, "limit": limit}
        return list(rows.transactions(self._db.all(self._q.player_page, params), self._load))

    # bonuses, withdrawals, game --------------------------------------------------------
    def active_bonus(self, player_id: str, currency: str) -> Bonus | None:
        """Also remembers the head of the player's audit stream, for ``last_audit``."""
        if player_id in self._audit_heads or self._db.pending.touches("audit_log"):
            row = self._db.one(self._q.active_bonus, {"player_id": player_id, "currency": currency})
            return rows.bonus(row) if row else None
        both = self._db.one(self._q.bonus_and_audit_head, {"player_id": player_id, "currency": currency})
        n = len(self._q.get_bonus.row._fields)
        bonus, head = both[:n], both[n:]
        self._audit_heads[player_id] = rows.audit(self._q.last_audit.row._make(head)) if head[0] else None
        return rows.bonus(self._q.get_bonus.row._make(bonus)) if bonus[0] else None

    def get_bonus(self, bonus_id: str) -> Bonus | None:
        row = self._db.one(self._q.get_bonus, {"id": bonus_id})
        return rows.bonus(row) if row else None

    def save_bonus(self, bonus: Bonus) -> None:
        bonus.version += 1
        self._db.x(self._q.upsert_bonus, rows.bonus_values(bonus))

    def get_withdrawal(self, withdrawal_id: str) -> Withdrawal | None:
        row = self._db.one(self._q.get_withdrawal, {"id": withdrawal_id})
        return rows.withdrawal(row) if row else None

    def save_withdrawal(self, withdrawal: Withdrawal) -> None:
        withdrawal.version += 1
        self._db.x(self._q.upsert_withdrawal, rows.withdrawal_values(withdrawal))

    def get_game_txn(self, game_txn_id: str) -> GameTxn | None:
        if game_txn_id not in self._games:
            self._load_game(game_txn_id)
        return self._games[game_txn_id]

    def rollback_for(self, bet_game_txn_id: str) -> GameTxn | None:
        if bet_game_txn_id not in self._rollbacks:
            self._load_game(bet_game_txn_id)
        return self._rollbacks[bet_game_txn_id]

    def win_for(self, bet_game_txn_id: str) -> GameTxn | None:
        if bet_game_txn_id not in self._wins:
            self._load_game(bet_game_txn_id)
        return self._wins[bet_game_txn_id]

    def _load_game(self, gid: str) -> None:
        """Fill all three lookups for ``gid``; the latest win if an aggregator sent several."""
        self._db.flush("game_txns")
        self._games[gid] = self._rollbacks[gid] = self._wins[gid] = None
        for row in self._db.all(self._q.game_and_followers, {"id": gid}):
            g = rows.game_txn(row)
            if g.id == gid:
                self._games[gid] = g
            if g.reference == gid and g.kind is GameTxnKind.ROLLBACK:
                self._rollbacks[gid] = g
            elif g.reference == gid and g.kind is GameTxnKind.WIN:
                last = self._wins[gid]
                if last is None or (g.created_at, g.id) > (last.created_at, last.id):
                    self._wins[gid] = g

    def add_game_txn(self, txn: GameTxn) -> None:
        rollback = txn.kind is GameTxnKind.ROLLBACK and bool(txn.reference)
        if self._games.get(txn.id) is not None or (rollback and self._rollbacks.get(txn.reference or "")):
            raise AlreadyExists(f"game transaction {txn.id} exists, or its bet has a rollback",
                                field="transaction_id")
        looked_up = txn.id in self._games and (not rollback or txn.reference in self._rollbacks)
        if looked_up:  # known absent: a conflict now can only be a lost race
            self._db.pending.add("game_txns", rows.game_txn_values(txn))
        elif not self._db.count(self._q.insert_game, rows.game_txn_values(txn)):
            raise AlreadyExists(f"game transaction {txn.id} exists, or its bet has a rollback",
                                field="transaction_id")
        self._games[txn.id] = txn
        if txn.kind is GameTxnKind.ROLLBACK and txn.reference:
            self._rollbacks[txn.reference] = txn
        elif txn.kind is GameTxnKind.WIN and txn.reference:
            self._wins[txn.reference] = txn

    # gateway payments ------------------------------------------------------------------
    def get_payment(self, payment_id: str, *, lock: bool = False) -> Payment | None:
        """A fresh object per call, decoded from the row: a copy, as the port asks. A
        read-only unit cannot lock (PostgreSQL refuses FOR UPDATE there) and need not."""
        stmt = self._q.lock_payment if lock and not self._read_only else self._q.get_payment
        row = self._db.one(stmt, {"id": payment_id})
        return rows.payment(row) if row else None

    def save_payment(self, payment: Payment) -> None:
        self._db.x(self._q.upsert_payment, rows.payment_values(payment))

    def due_payments(self, now: float, limit: int = 100) -> list[str]:
        if limit <= 0:
            return []
        return [r.id for r in self._db.all(self._q.due_payments, {"now": now, "limit": limit})]

    def add_journal(self, entries: Sequence[JournalEntry]) -> None:
        if entries:
            self._db.many(self._q.insert_journal, [rows.journal_values(e) for e in entries])

    def journal(self, payment_id: str | None = None) -> list[JournalEntry]:
        if payment_id is None:
            return [rows.journal_entry(r) for r in self._db.all(self._q.all_journal)]
        found = self._db.all(self._q.payment_journal, {"payment_id": payment_id})
        return [rows.journal_entry(r) for r in found]

    def all_payments(self) -> Iterable[Payment]:
        return [rows.payment(r) for r in self._db.all(self._q.all_payments)]

    # idempotency and audit -----------------------------------------------------------
    def get_idempotency(self, scope: str, key: str) -> IdempotencyRecord | None:
        self._db.flush("idempotency")
        row = self._db.one(self._q.get_idempotency, {"scope": scope, "key": key})
        record = rows.idempotency(row, self._load) if row else None
        self._idempotency_seen[scope, key] = record
        return record

    def add_idempotency(self, record: IdempotencyRecord) -> None:
        key = (record.scope, record.key)
        if key in self._idempotency_seen and self._idempotency_seen[key] is None:
            self._db.pending.add("idempotency", rows.idempotency_values(record))
        elif not self._db.count(self._q.insert_idempotency, rows.idempotency_values(record)):
            raise RetryableStoreError(f"idempotency key {record.scope}/{record.key} stored concurrently")
        self._idempotency_seen[key] = record

    def purge_idempotency(self, scope_prefix: str, before: float) -> int:
        """Deferred records are sent first, so they are purged by the same rule as the memory
        store's; what this unit read is forgotten, since the rows may be gone now."""
        self._db.flush("idempotency")
        self._idempotency_seen.clear()
        params = {"prefix": scope_prefix, "prefix_len": len(scope_prefix), "before": before}
        return self._db.count(self._q.purge_idempotency, params)

    def last_audit(self, stream: str) -> AuditEntry | None:
        """Answered from memory when this unit already read or appended the head: safe even
        if another unit appended meanwhile, since the (stream, seq) key then refuses our
        append and the unit is retried."""
        if stream in self._audit_heads:
            return self._audit_heads[stream]
        self._db.flush("audit_log")
        row = self._db.one(self._q.last_audit, {"stream": stream})
        entry = self._audit_heads[stream] = rows.audit(row) if row else None
        return entry

    def add_audit(self, entry: AuditEntry) -> None:
        head = self._audit_heads.get(entry.stream, entry)  # not looked up: never equal below
        if head is not entry and entry.seq == (head.seq + 1 if head else 1):
            self._db.pending.add("audit_log", rows.audit_values(entry))
        elif not self._db.count(self._q.insert_audit, rows.audit_values(entry)):
            raise RetryableStoreError(f"audit stream {entry.stream} advanced concurrently")
        self._audit_heads[entry.stream] = entry

    def audit_entries(self) -> Iterable[AuditEntry]:
        self._db.flush("audit_log")
        return [rows.audit(r) for r in self._db.all(self._q.all_audit)]

    # whole-ledger reads ----------------------------------------------------------------
    def all_transactions(self) -> Iterable[Transaction]:
        self._db.flush("transactions")
        return [t for _, t in rows.transactions(self._db.all(self._q.all_txns), self._load)]

    def stored_balances(self) -> dict[str, int]:
        return dict(self._db.x(self._q.stored_balances, {}).fetchall())
