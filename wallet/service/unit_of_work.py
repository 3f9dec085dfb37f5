"""The store port: one unit of work per operation, atomic on commit.

Two adapters implement it (``wallet.adapters.memory`` and ``wallet.adapters.sql``)
and both pass ``tests/contract``. Handlers see only this interface.

Locking rule: an operation that changes a player's money first calls
``lock_player`` (PostgreSQL: ``SELECT ... FOR NO KEY UPDATE`` on the player's row,
which serialises the player's operations without blocking foreign-key checks;
SQLite: the write lock was taken up front with ``BEGIN IMMEDIATE``). A player's
materialized balances are read and written only under that lock, and since one
operation touches one player, locks are taken in a consistent order and two
operations never deadlock. House and provider accounts have no stored balance
row, so they are never a hot spot.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Self

from wallet.domain.audit import AuditEntry
from wallet.domain.game import GameTxn
from wallet.domain.idempotency import IdempotencyRecord
from wallet.domain.ledger import Account, Transaction
from wallet.domain.payments.journal import JournalEntry
from wallet.domain.payments.model import Payment
from wallet.domain.players import Bonus, Player
from wallet.domain.withdrawals import Withdrawal


class RetryableStoreError(Exception):
    """Serialization failure, deadlock or a lost race on a unique key: run the unit again."""


class UnitOfWork(abc.ABC):
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()  # a no-op after commit

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...

    # players -------------------------------------------------------------
    @abc.abstractmethod
    def add_player(self, player: Player, accounts: Sequence[Account]) -> None:
        """Raise wallet.domain.errors.AlreadyExists if the player exists."""

    @abc.abstractmethod
    def get_player(self, player_id: str) -> Player | None: ...

    @abc.abstractmethod
    def lock_player(self, player_id: str) -> Player | None:
        """Read the player and hold its lock until commit or rollback."""

    @abc.abstractmethod
    def save_player(self, player: Player) -> None: ...

    @abc.abstractmethod
    def add_accounts(self, accounts: Sequence[Account]) -> None: ...

    # ledger ----------------------------------------------------------------
    @abc.abstractmethod
    def balances(self, account_ids: Iterable[str]) -> dict[str, int]:
        """Balances of existing accounts (stored for player accounts, derived for the rest).
        Unknown ids are absent from the result."""

    @abc.abstractmethod
    def post(self, txn: Transaction) -> None:
        """Validate and append a transaction, updating materialized balances.
        Raise AlreadyExists if its id was used; UnbalancedTransaction if invalid."""

    @abc.abstractmethod
    def get_transaction(self, txn_id: str) -> Transaction | None: ...

    @abc.abstractmethod
    def transactions_by_reference(self, reference: str) -> list[Transaction]: ...

    @abc.abstractmethod
    def player_transactions(
        self, player_id: str, *, after_seq: int = 0, limit: int = 50
    ) -> list[tuple[int, Transaction]]:
        """A player's transactions in posting order, with a cursor (seq) for pagination."""

    # bonuses, withdrawals, game --------------------------------------------
    @abc.abstractmethod
    def active_bonus(self, player_id: str, currency: str) -> Bonus | None: ...

    @abc.abstractmethod
    def get_bonus(self, bonus_id: str) -> Bonus | None: ...

    @abc.abstractmethod
    def save_bonus(self, bonus: Bonus) -> None:
        """Insert or update."""

    @abc.abstractmethod
    def get_withdrawal(self, withdrawal_id: str) -> Withdrawal | None: ...

    @abc.abstractmethod
    def save_withdrawal(self, withdrawal: Withdrawal) -> None:
        """Insert or update."""

    @abc.abstractmethod
    def get_game_txn(self, game_txn_id: str) -> GameTxn | None: ...

    @abc.abstractmethod
    def rollback_for(self, bet_game_txn_id: str) -> GameTxn | None:
        """The rollback recorded against a bet id (possibly a tombstone)."""

    @abc.abstractmethod
    def win_for(self, bet_game_txn_id: str) -> GameTxn | None:
        """The win (possibly of zero) that closed a bet's round, if any."""

    @abc.abstractmethod
    def add_game_txn(self, txn: GameTxn) -> None: ...

    # gateway payments ----------------------------------------------------------
    @abc.abstractmethod
    def get_payment(self, payment_id: str, *, lock: bool = False) -> Payment | None:
        """A copy of the payment; ``lock`` holds its row lock until commit or rollback
        (a webhook and the provider's reply for one payment are applied one at a time)."""

    @abc.abstractmethod
    def save_payment(self, payment: Payment) -> None:
        """Insert or update. The store indexes ``min(timers)`` for :meth:`due_payments`.
        The payment is handed over: the caller must not change it afterwards."""

    @abc.abstractmethod
    def due_payments(self, now: float, limit: int = 100) -> list[str]:
        """Ids of payments with a timer at or before ``now``, earliest first."""

    @abc.abstractmethod
    def add_journal(self, entries: Sequence[JournalEntry]) -> None: ...

    @abc.abstractmethod
    def journal(self, payment_id: str | None = None) -> list[JournalEntry]:
        """One payment's entries in order, or (None) every entry in insertion order."""

    @abc.abstractmethod
    def all_payments(self) -> Iterable[Payment]: ...

    # idempotency and audit ---------------------------------------------------
    @abc.abstractmethod
    def get_idempotency(self, scope: str, key: str) -> IdempotencyRecord | None: ...

    @abc.abstractmethod
    def add_idempotency(self, record: IdempotencyRecord) -> None:
        """Raise RetryableStoreError if a concurrent unit stored the same key first."""

    @abc.abstractmethod
    def purge_idempotency(self, scope_prefix: str, before: float) -> int:
        """Forget records of scopes starting with ``scope_prefix`` created before ``before``
        (retention: keep them longer than the clients' retry windows). Returns how many."""

    @abc.abstractmethod
    def last_audit(self, stream: str) -> AuditEntry | None: ...

    @abc.abstractmethod
    def add_audit(self, entry: AuditEntry) -> None: ...

    @abc.abstractmethod
    def audit_entries(self) -> Iterable[AuditEntry]:
        """Every entry, grouped by stream in ascending seq."""

    # whole-ledger reads for the checker ---------------------------------------
    @abc.abstractmethod
    def all_transactions(self) -> Iterable[Transaction]: ...

    @abc.abstractmethod
    def stored_balances(self) -> dict[str, int]:
        """Every materialized (player) account's stored balance."""


class Store(abc.ABC):
    """A factory of units of work over one database (or one in-memory state)."""

    @abc.abstractmethod
    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        """``read_only`` units never write, so a store may run them without the
        write lock (SQLite: a deferred BEGIN that does not queue behind writers)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
