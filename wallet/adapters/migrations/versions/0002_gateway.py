"""Gateway payments: the payment aggregates, their journal, and idempotency retention.

* ``payments`` keeps each payment whole as JSON (``data`` = ``Payment.to_dict()``): the
  state machine owns its shape, so a new field needs no migration. The columns beside it
  are copies for queries and for people reading the table; ``wake_at`` (the earliest
  durable timer, NULL when none) is indexed because the timer sweep asks for due
  payments in ``wake_at`` order on every tick. No foreign key to ``players``: the port
  does not require the player to be stored first (the memory store does not check).
* ``payment_journal`` is append-only like the ledger (UPDATE and DELETE refused by a
  trigger; PostgreSQL reuses 0001's ``wallet_refuse_change``). Its surrogate key is the
  insertion order the port's ``journal()`` promises: an identity on PostgreSQL, the
  rowid (INTEGER PRIMARY KEY) on SQLite.
* ``idempotency.created_at`` gets an index so purging old records by age does not
  scan the table.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = ("payment_journal",)


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("player_id", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("provider", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("wake_at", sa.Double),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index(op.f("ix_payments_wake_at"), "payments", ["wake_at"])
    op.create_table(
        "payment_journal",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), sa.Identity(always=True),
                  nullable=False),
        sa.Column("payment_id", sa.Text, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("state_from", sa.Text, nullable=False),
        sa.Column("state_to", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_journal")),
    )
    op.create_index(op.f("ix_payment_journal_payment_id"), "payment_journal", ["payment_id"])
    op.create_index(op.f("ix_idempotency_created_at"), "idempotency", ["created_at"])
    if op.get_context().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER trg_{table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION wallet_refuse_change()")
    else:
        for table in APPEND_ONLY:
            for event in ("UPDATE", "DELETE"):
                # the message must say "append-only": SqlStore.truncate_all finds them by it
                message = f"wallet: {table} is append-only ({event} refused)"
                op.execute(f"CREATE TRIGGER trg_{table}_no_{event.lower()} BEFORE {event} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


def downgrade() -> None:
    op.drop_index(op.f("ix_idempotency_created_at"), table_name="idempotency")
    op.drop_table("payment_journal")  # drops its indexes and triggers too
    op.drop_table("payments")
