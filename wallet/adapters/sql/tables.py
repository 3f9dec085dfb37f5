"""SQLAlchemy Core tables: a mirror of what the Alembic migrations create.

The schema is owned by ``wallet/adapters/migrations`` (triggers and dialect
details included); this metadata is what the queries are built from, and
``tests/integration/test_sql_store.py`` checks that the two agree.
"""

from __future__ import annotations

import sqlalchemy as sa

from wallet.domain.ledger import AccountType

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)


def _in(column: str, values: list[str]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


PLAYER_TYPES = [t.value for t in AccountType if t.player_owned]
NON_NEGATIVE_TYPES = [t.value for t in AccountType if t.floor == 0]
CEILING_TYPES = [t.value for t in AccountType if t.ceiling == 0]

Money = sa.BigInteger  # minor units; see the migration's docstring for the 64-bit limit
Seconds = sa.Double  # clock seconds (Unix time live, virtual time in SimPy)

players = sa.Table(
    "players", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("currencies", sa.Text, nullable=False),  # "EUR,USD": the order they were opened
    sa.Column("created_at", Seconds, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("lock_reason", sa.Text),
    sa.Column("funding", sa.Text, nullable=False),
    sa.Column("country", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),
)

accounts = sa.Table(
    "accounts", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("player_id", sa.Text, sa.ForeignKey("players.id")),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("balance", Money),  # maintained by a trigger on postings; NULL = derived
    sa.CheckConstraint("id = type || ':' || owner || ':' || currency", name="id_format"),
    sa.CheckConstraint(_in("type", [t.value for t in AccountType]), name="type"),
    sa.CheckConstraint(
        f"({_in('type', PLAYER_TYPES)} AND balance IS NOT NULL AND player_id = owner)"
        f" OR (NOT {_in('type', PLAYER_TYPES)} AND balance IS NULL AND player_id IS NULL)",
        name="materialized",
    ),
    sa.CheckConstraint(f"balance >= 0 OR NOT {_in('type', NON_NEGATIVE_TYPES)}", name="floor"),
    sa.CheckConstraint(f"balance <= 0 OR NOT {_in('type', CEILING_TYPES)}", name="ceiling"),
    sa.Index(None, "player_id"),
)

transactions = sa.Table(
    "transactions", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    # history cursor; an identity on PostgreSQL, max(seq) + 1 under SQLite's write lock
    sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("player_id", sa.Text, sa.ForeignKey("players.id")),
    sa.Column("reference", sa.Text),
    sa.Column("reverses", sa.Text, sa.ForeignKey("transactions.id")),
    sa.Column("created_at", Seconds, nullable=False),
    sa.Column("meta", sa.JSON, nullable=False),
    sa.UniqueConstraint("seq"),
    sa.Index(None, "player_id", "seq"),
    sa.Index(None, "reference"),
)

postings = sa.Table(
    "postings", metadata,
    sa.Column(
        "txn_id", sa.Text,
        sa.ForeignKey("transactions.id", deferrable=True, initially="DEFERRED"),
        primary_key=True,
    ),
    sa.Column("pos", sa.SmallInteger, primary_key=True),
    sa.Column("account_id", sa.Text, nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.CheckConstraint("amount <> 0", name="amount_nonzero"),
    sa.CheckConstraint(
        "substr(account_id, length(account_id) - length(currency)) = ':' || currency",
        name="currency_matches_account",
    ),
    sa.Index(None, "account_id"),
)

bonuses = sa.Table(
    "bonuses", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("player_id", sa.Text, sa.ForeignKey("players.id"), nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("granted", Money, nullable=False),
    sa.Column("wagering_required", Money, nullable=False),
    sa.Column("wagered", Money, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.CheckConstraint("status IN ('active', 'converted', 'forfeited')", name="status"),
    sa.CheckConstraint("wagered >= 0 AND wagering_required >= 0", name="wagering"),
    # at most one active bonus per player and currency; also the active_bonus lookup
    sa.Index(
        "uq_bonuses_active", "player_id", "currency", unique=True,
        postgresql_where=sa.text("status = 'active'"), sqlite_where=sa.text("status = 'active'"),
    ),
)

withdrawals = sa.Table(
    "withdrawals", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("player_id", sa.Text, sa.ForeignKey("players.id"), nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("provider", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", Seconds, nullable=False),
    sa.Column("updated_at", Seconds, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint("status IN ('held', 'paid', 'released', 'returned')", name="status"),
)

game_txns = sa.Table(
    "game_txns", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("player_id", sa.Text, sa.ForeignKey("players.id"), nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("round_id", sa.Text, nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("cash", Money, nullable=False),
    sa.Column("bonus", Money, nullable=False),
    sa.Column("reference", sa.Text),  # the bet a win or rollback refers to
    sa.Column("ledger_txn", sa.Text, sa.ForeignKey("transactions.id")),
    sa.Column("game", sa.Text),
    sa.Column("created_at", Seconds, nullable=False),
    sa.CheckConstraint("kind IN ('bet', 'win', 'rollback')", name="kind"),
    sa.CheckConstraint("amount >= 0 AND cash >= 0 AND bonus >= 0", name="amounts"),
    # at most one rollback per bet id (a tombstone counts); also the rollback_for lookup
    sa.Index(
        "uq_game_txns_rollback", "reference", unique=True,
        postgresql_where=sa.text("kind = 'rollback'"), sqlite_where=sa.text("kind = 'rollback'"),
    ),
    sa.Index(
        "ix_game_txns_win", "reference",
        postgresql_where=sa.text("kind = 'win'"), sqlite_where=sa.text("kind = 'win'"),
    ),
)

idempotency = sa.Table(
    "idempotency", metadata,
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("outcome", sa.JSON, nullable=False),
    sa.Column("created_at", Seconds, nullable=False),
    sa.Index(None, "created_at"),  # retention: purge_idempotency deletes by age
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("stream", sa.Text, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", Seconds, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("request_id", sa.Text),
    sa.Column("txn_id", sa.Text),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.Text, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
    sa.CheckConstraint("seq >= 1", name="seq_positive"),
)

# gateway payments (migration 0002): the aggregate as JSON, plus the columns queries need
payments = sa.Table(
    "payments", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("player_id", sa.Text, nullable=False),  # no foreign key: see the migration
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("provider", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("wake_at", Seconds),  # earliest durable timer, NULL = none: the due_payments sweep
    sa.Column("created_at", Seconds, nullable=False),
    sa.Column("updated_at", Seconds, nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # json of Payment.to_dict(), the source of truth
    sa.Index(None, "wake_at"),
)

payment_journal = sa.Table(
    "payment_journal", metadata,
    # insertion order: an identity on PostgreSQL, the rowid (INTEGER PRIMARY KEY) on SQLite
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), sa.Identity(always=True),
              primary_key=True),
    sa.Column("payment_id", sa.Text, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("at", Seconds, nullable=False),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("state_from", sa.Text, nullable=False),
    sa.Column("state_to", sa.Text, nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # json of JournalEntry.to_dict()
    sa.Index(None, "payment_id"),
)

# children before parents: the order to empty them in
ALL_TABLES = (
    postings, game_txns, audit_log, idempotency, bonuses, withdrawals, transactions, accounts, players,
    payment_journal, payments,
)
