"""Every statement the store runs, built with SQLAlchemy Core and compiled once per dialect.

Most become ``Prepared`` (compiled SQL run on the driver's cursor, see
``prepared.py``); the one with an expanding IN list stays Core statements run through
``Connection.execute``. Where the port says "raise if it exists" the insert is
``ON CONFLICT DO NOTHING`` and the caller reads the row count, so a duplicate
leaves the database transaction usable, as in the memory store, instead of
aborting it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable

from wallet.adapters.sql.prepared import Prepared
from wallet.adapters.sql.tables import (
    accounts,
    audit_log,
    bonuses,
    game_txns,
    idempotency,
    metadata,
    payment_journal,
    payments,
    players,
    postings,
    transactions,
    withdrawals,
)

B = sa.bindparam


def _upsert(insert: Any, table: sa.Table) -> Executable:
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[c.name for c in table.primary_key],
        set_={c.name: stmt.excluded[c.name] for c in table.c if not c.primary_key},
    )


class Statements:
    def __init__(self, dialect: Dialect) -> None:
        self.pg = dialect.name == "postgresql"
        if not self.pg:  # pysqlite defaults to qmark; sqlite3 takes :named parameters too
            dialect = type(dialect)(paramstyle="named")  # type: ignore[call-arg]
        self.dialect = dialect
        ins: Any = postgresql.insert if self.pg else sqlite.insert

        def p(stmt: Executable, column_keys: list[str] | None = None) -> Prepared:
            return Prepared(stmt, dialect, column_keys=column_keys)

        # players and accounts
        # The player lock is FOR NO KEY UPDATE: it serializes the player's operations exactly
        # like FOR UPDATE, but does not block the KEY SHARE locks that foreign-key checks take
        # on the player row, so a unit inserting rows that reference the player never waits
        # for (or deadlocks with) the lock holder. On SQLite, BEGIN IMMEDIATE already holds it.
        get_player = sa.select(players).where(players.c.id == B("id"))
        self.get_player = p(get_player)
        self.lock_player = p(get_player.with_for_update(key_share=True)) if self.pg else self.get_player
        # The lock and the player's balances in one round trip: on PostgreSQL the account
        # rows are locked too, which is what makes them come back at their latest version
        # (READ COMMITTED re-reads locked rows after waiting; unlocked ones would be stale).
        with_accounts = sa.select(
            players, accounts.c.id.label("account_id"), accounts.c.currency.label("account_currency"),
            accounts.c.balance,
        ).join(accounts, accounts.c.player_id == players.c.id).where(players.c.id == B("id"))
        self.lock_player_accounts = p(with_accounts.with_for_update(key_share=True) if self.pg
                                      else with_accounts)
        self.insert_player = p(ins(players).on_conflict_do_nothing())
        self.update_player = p(sa.update(players).where(players.c.id == B("b_id")),
                               [c.name for c in players.c if c.name != "id"])
        self.insert_accounts = p(ins(accounts).on_conflict_do_nothing())
        self.player_accounts = p(sa.select(accounts.c.id, accounts.c.balance)
                                 .where(accounts.c.player_id == B("player_id")))
        stored = sa.select(accounts.c.id, accounts.c.balance).where(accounts.c.balance.is_not(None))
        self.stored_balances = p(stored)
        self.derived_balances = (
            sa.select(postings.c.account_id, sa.cast(sa.func.sum(postings.c.amount), sa.BigInteger))
            .where(postings.c.account_id.in_(B("ids", expanding=True)))
            .group_by(postings.c.account_id)
        )

        # ledger: the header's seq is an identity on PostgreSQL, max + 1 under SQLite's write lock
        txn_columns = [c.name for c in transactions.c if c.name != "seq"]
        insert_txn = sa.insert(transactions)
        next_seq = sa.select(sa.func.coalesce(sa.func.max(transactions.c.seq), 0) + 1)
        if not self.pg:
            insert_txn = insert_txn.values(seq=next_seq.scalar_subquery())
        self.insert_txn = p(insert_txn, txn_columns)
        with_postings = sa.select(
            transactions, postings.c.account_id, postings.c.amount,
            postings.c.currency.label("p_currency"),
        ).join(postings, postings.c.txn_id == transactions.c.id)
        self.get_txn = p(with_postings.where(transactions.c.id == B("id")).order_by(postings.c.pos))
        self.txns_by_reference = p(with_postings.where(transactions.c.reference == B("reference"))
                                   .order_by(transactions.c.seq, postings.c.pos))
        self.all_txns = p(with_postings.order_by(transactions.c.seq, postings.c.pos))
        page = (
            sa.select(transactions)
            .where(transactions.c.player_id == B("player_id"), transactions.c.seq > B("after"))
            .order_by(transactions.c.seq)
            .limit(B("limit", type_=sa.Integer))
            .subquery("page")
        )
        self.player_page = p(
            sa.select(page, postings.c.account_id, postings.c.amount,
                      postings.c.currency.label("p_currency"))
            .join(postings, postings.c.txn_id == page.c.id)
            .order_by(page.c.seq, postings.c.pos)
        )
        self._insert_postings: dict[int, Prepared] = {}
        self._flush: dict[tuple[tuple[str, int], ...], Prepared] = {}

        # bonuses, withdrawals, game records
        self.get_bonus = p(sa.select(bonuses).where(bonuses.c.id == B("id")))
        self.active_bonus = p(sa.select(bonuses).where(
            bonuses.c.player_id == B("player_id"), bonuses.c.currency == B("currency"),
            bonuses.c.status == "active"))
        self.upsert_bonus = p(_upsert(ins, bonuses))
        # the active bonus and, in passing, the head of the player's audit stream, which the
        # wallet reads next: one round trip instead of two (one row, either side may be NULL)
        head_seq = (sa.select(sa.func.max(audit_log.c.seq))
                    .where(audit_log.c.stream == B("player_id")).scalar_subquery())
        one = sa.select(sa.literal_column("1").label("one")).subquery("one")
        self.bonus_and_audit_head = p(
            sa.select(bonuses, audit_log).select_from(
                one.outerjoin(bonuses, sa.and_(bonuses.c.player_id == B("player_id"),
                                               bonuses.c.currency == B("currency"),
                                               bonuses.c.status == "active"))
                .outerjoin(audit_log, sa.and_(audit_log.c.stream == B("player_id"),
                                              audit_log.c.seq == head_seq))
            )
        )
        self.get_withdrawal = p(sa.select(withdrawals).where(withdrawals.c.id == B("id")))
        self.upsert_withdrawal = p(_upsert(ins, withdrawals))
        # a game id, and the rollback and wins recorded against it, in one round trip
        self.game_and_followers = p(sa.union_all(
            sa.select(game_txns).where(game_txns.c.id == B("id")),
            sa.select(game_txns).where(game_txns.c.reference == B("id"), game_txns.c.kind == "rollback"),
            sa.select(game_txns).where(game_txns.c.reference == B("id"), game_txns.c.kind == "win"),
        ))
        self.insert_game = p(ins(game_txns).on_conflict_do_nothing())

        # idempotency and audit
        self.get_idempotency = p(sa.select(idempotency).where(
            idempotency.c.scope == B("scope"), idempotency.c.key == B("key")))
        self.insert_idempotency = p(ins(idempotency).on_conflict_do_nothing())
        self.last_audit = p(sa.select(audit_log).where(audit_log.c.stream == B("stream"))
                            .order_by(audit_log.c.seq.desc()).limit(1))
        self.insert_audit = p(ins(audit_log).on_conflict_do_nothing())
        stream_order = audit_log.c.stream.collate("C") if self.pg else audit_log.c.stream
        self.all_audit = p(sa.select(audit_log).order_by(stream_order, audit_log.c.seq))

        self._gateway(p, ins)

        # SQLite runs a unit's deferred inserts one by one (statements cost no round trip there)
        self.insert_one = {
            "transactions": p(sqlite.insert(transactions).values(seq=next_seq.scalar_subquery())
                              .on_conflict_do_nothing(), txn_columns) if not self.pg else self.insert_txn,
            "game_txns": self.insert_game, "audit_log": self.insert_audit,
            "idempotency": self.insert_idempotency,
        }

    def _gateway(self, p: Callable[..., Prepared], ins: Any) -> None:
        """Gateway payments (migration 0002). The payment lock is FOR UPDATE: nothing references
        payments, so the weaker NO KEY form would buy nothing; on SQLite BEGIN IMMEDIATE holds it."""
        get_payment = sa.select(payments.c.data).where(payments.c.id == B("id"))
        self.get_payment = p(get_payment)
        self.lock_payment = p(get_payment.with_for_update()) if self.pg else self.get_payment
        self.upsert_payment = p(_upsert(ins, payments))
        # ties broken by id in code point order, as the memory store sorts (not the locale's)
        payment_id = payments.c.id.collate("C") if self.pg else payments.c.id
        self.due_payments = p(sa.select(payments.c.id).where(payments.c.wake_at <= B("now"))
                              .order_by(payments.c.wake_at, payment_id)
                              .limit(B("limit", type_=sa.Integer)))
        self.all_payments = p(sa.select(payments.c.data).order_by(payments.c.created_at, payment_id))
        journal_columns = [c.name for c in payment_journal.c if c.name != "id"]
        self.insert_journal = p(sa.insert(payment_journal).inline(), journal_columns)  # no RETURNING id
        self.payment_journal = p(sa.select(payment_journal.c.data)
                                 .where(payment_journal.c.payment_id == B("payment_id"))
                                 .order_by(payment_journal.c.id))
        self.all_journal = p(sa.select(payment_journal.c.data).order_by(payment_journal.c.id))
        # a prefix test that is exact on both databases: SQLite's LIKE ignores ASCII case, and
        # either LIKE would need its wildcards escaped
        self.purge_idempotency = p(sa.delete(idempotency).where(
            sa.func.substr(idempotency.c.scope, 1, B("prefix_len", type_=sa.Integer))
            == B("prefix", type_=sa.Text),
            idempotency.c.created_at < B("before")))

    def flush(self, shape: tuple[tuple[str, int], ...]) -> Prepared:
        """PostgreSQL: the deferred inserts of a unit as one statement (see ``pending.py``)."""
        if (stmt := self._flush.get(shape)) is None:
            stmt = self._flush[shape] = Prepared(_flush(shape), self.dialect)
        return stmt

    def insert_postings(self, n: int) -> Prepared:
        if (stmt := self._insert_postings.get(n)) is None:
            stmt = self._insert_postings[n] = Prepared(_insert_postings(n), self.dialect)
        return stmt


@cache
def _insert_postings(n: int) -> Executable:
    """``INSERT INTO postings SELECT <n rows> WHERE NOT EXISTS (<the header>)``.

    One round trip for all rows, and a transaction that was already posted inserts
    nothing (row count 0) rather than tripping the seal trigger and aborting the
    database transaction.
    """
    rows = [
        sa.select(
            B("txn_id", type_=sa.Text).label("txn_id"),
            sa.literal_column(str(i), sa.SmallInteger).label("pos"),
            B(f"a{i}", type_=sa.Text).label("account_id"), B(f"m{i}", type_=sa.BigInteger).label("amount"),
            B(f"c{i}", type_=sa.Text).label("currency"),
        )
        for i in range(n)
    ]
    src = (sa.union_all(*rows) if n > 1 else rows[0]).subquery("new")
    sealed = sa.exists().where(transactions.c.id == B("txn_id", type_=sa.Text))
    return sa.insert(postings).from_select(
        ["txn_id", "pos", "account_id", "amount", "currency"], sa.select(src).where(~sealed)
    )


def _flush(shape: tuple[tuple[str, int], ...]) -> Executable:
    """``WITH w0 AS (INSERT ... ON CONFLICT DO NOTHING RETURNING 1), w1 AS (...) SELECT
    (SELECT count(*) FROM w0), ...``: one multi-row insert per table, rows in the order
    they were added (so a unit's transaction headers take their seq in posting order),
    and the number of rows each one wrote. Foreign keys between them are checked at
    the end of the statement, when all are in."""
    ctes = []
    for i, (name, n) in enumerate(shape):
        table = metadata.tables[name]
        columns = [c for c in table.c if c.name != "seq" or name != "transactions"]
        rows = [{c.name: B(f"w{i}_{r}_{c.name}", type_=c.type) for c in columns} for r in range(n)]
        insert = postgresql.insert(table).values(rows).on_conflict_do_nothing()
        ctes.append(insert.returning(sa.literal_column("1")).cte(f"w{i}"))
    return sa.select(*(sa.select(sa.func.count()).select_from(cte).scalar_subquery().label(f"n{i}")
                       for i, cte in enumerate(ctes)))
