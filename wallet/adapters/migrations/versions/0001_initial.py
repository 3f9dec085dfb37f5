"""Initial wallet schema: ledger, players, bonuses, withdrawals, game records, idempotency, audit.

Ledger invariants are enforced by the database as well as by ``wallet.domain.ledger``,
the same way on SQLite and PostgreSQL (only the trigger syntax differs):

* Balanced transactions. A unit inserts its postings first and the transaction
  header last. The postings -> transactions foreign key is DEFERRABLE INITIALLY
  DEFERRED, so postings without a header fail at COMMIT; a BEFORE INSERT trigger on
  the header refuses it unless its postings number at least two and sum to zero
  per currency; and a trigger on postings refuses rows for a transaction whose
  header already exists (it is sealed). Together: every committed transaction was
  checked against its complete set of postings.
* Materialized balances are maintained by the database: a trigger on postings adds
  each amount to the account's stored balance (``balance = balance + delta``; house
  and provider accounts store NULL and are derived as a SUM, so no hot row).
  Stored balance = sum of postings therefore holds whoever inserts postings; a
  direct write to ``balance`` is refused on PostgreSQL (SQLite cannot tell it from
  the trigger's own write: there the checker reports it). CHECK constraints keep
  non-negative player accounts >= 0 and receivables <= 0.
* Postings must name an account in its currency. Player accounts must exist (they
  are opened with the player); house and provider accounts are registered by the
  postings trigger on first use, and CHECK constraints on ``accounts`` refuse an id
  that is not ``type:owner:currency`` of a known type. A trigger, not a foreign key:
  on PostgreSQL a foreign key takes a KEY SHARE lock on the referenced row, which
  would make the house account a hot row again.
* postings, transactions and audit_log are append-only (UPDATE and DELETE refused).

Amounts are BIGINT minor units: at most 9.22e18, i.e. about 9.2 ETH in wei.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

PLAYER_TYPES = "'player_cash', 'player_bonus', 'withdrawal_hold', 'pending_deposit', 'receivable'"
ALL_TYPES = (PLAYER_TYPES + ", 'provider_clearing', 'house_game', 'house_bonus', 'fees', 'chargeback_loss'"
             ", 'fx'")
NON_NEGATIVE_TYPES = "'player_cash', 'player_bonus', 'withdrawal_hold', 'pending_deposit'"
APPEND_ONLY = ("postings", "transactions", "audit_log")


def upgrade() -> None:
    _tables()
    if op.get_context().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    pg = op.get_context().dialect.name == "postgresql"
    for table in ("audit_log", "idempotency", "game_txns", "withdrawals", "bonuses", "postings",
                  "transactions", "accounts", "players"):
        op.drop_table(table)  # drops its indexes and triggers too
    if pg:
        for fn in ("wallet_refuse_change", "wallet_refuse_balance_write", "wallet_opening_balance",
                   "wallet_postings_inserted", "wallet_transaction_balanced"):
            op.execute(f"DROP FUNCTION {fn}()")


def _tables() -> None:
    op.create_table(
        "players",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("currencies", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("lock_reason", sa.Text),
        sa.Column("funding", sa.Text, nullable=False),
        sa.Column("country", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_players")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("player_id", sa.Text),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("balance", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.ForeignKeyConstraint(["player_id"], ["players.id"], name=op.f("fk_accounts_player_id_players")),
        sa.CheckConstraint("id = type || ':' || owner || ':' || currency",
                           name=op.f("ck_accounts_id_format")),
        sa.CheckConstraint(f"type IN ({ALL_TYPES})", name=op.f("ck_accounts_type")),
        sa.CheckConstraint(
            f"(type IN ({PLAYER_TYPES}) AND balance IS NOT NULL AND player_id = owner)"
            f" OR (NOT type IN ({PLAYER_TYPES}) AND balance IS NULL AND player_id IS NULL)",
            name=op.f("ck_accounts_materialized"),
        ),
        sa.CheckConstraint(f"balance >= 0 OR NOT type IN ({NON_NEGATIVE_TYPES})",
                           name=op.f("ck_accounts_floor")),
        sa.CheckConstraint("balance <= 0 OR NOT type IN ('receivable')", name=op.f("ck_accounts_ceiling")),
    )
    op.create_index(op.f("ix_accounts_player_id"), "accounts", ["player_id"])
    op.create_table(
        "transactions",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("player_id", sa.Text),
        sa.Column("reference", sa.Text),
        sa.Column("reverses", sa.Text),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
        sa.UniqueConstraint("seq", name=op.f("uq_transactions_seq")),
        sa.ForeignKeyConstraint(["player_id"], ["players.id"],
                                name=op.f("fk_transactions_player_id_players")),
        sa.ForeignKeyConstraint(["reverses"], ["transactions.id"],
                                name=op.f("fk_transactions_reverses_transactions")),
    )
    op.create_index(op.f("ix_transactions_player_id_seq"), "transactions", ["player_id", "seq"])
    op.create_index(op.f("ix_transactions_reference"), "transactions", ["reference"])
    op.create_table(
        "postings",
        sa.Column("txn_id", sa.Text, nullable=False),
        sa.Column("pos", sa.SmallInteger, nullable=False),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("txn_id", "pos", name=op.f("pk_postings")),
        sa.ForeignKeyConstraint(["txn_id"], ["transactions.id"], deferrable=True, initially="DEFERRED",
                                name=op.f("fk_postings_txn_id_transactions")),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_postings_amount_nonzero")),
        sa.CheckConstraint(
            "substr(account_id, length(account_id) - length(currency)) = ':' || currency",
            name=op.f("ck_postings_currency_matches_account"),
        ),
    )
    op.create_index(op.f("ix_postings_account_id"), "postings", ["account_id"])
    op.create_table(
        "bonuses",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("player_id", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("granted", sa.BigInteger, nullable=False),
        sa.Column("wagering_required", sa.BigInteger, nullable=False),
        sa.Column("wagered", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bonuses")),
        sa.ForeignKeyConstraint(["player_id"], ["players.id"], name=op.f("fk_bonuses_player_id_players")),
        sa.CheckConstraint("status IN ('active', 'converted', 'forfeited')", name=op.f("ck_bonuses_status")),
        sa.CheckConstraint("wagered >= 0 AND wagering_required >= 0", name=op.f("ck_bonuses_wagering")),
    )
    op.create_index("uq_bonuses_active", "bonuses", ["player_id", "currency"], unique=True,
                    postgresql_where=sa.text("status = 'active'"),
                    sqlite_where=sa.text("status = 'active'"))
    op.create_table(
        "withdrawals",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("player_id", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_withdrawals")),
        sa.ForeignKeyConstraint(["player_id"], ["players.id"],
                                name=op.f("fk_withdrawals_player_id_players")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_withdrawals_amount_positive")),
        sa.CheckConstraint("status IN ('held', 'paid', 'released', 'returned')",
                           name=op.f("ck_withdrawals_status")),
    )
    op.create_table(
        "game_txns",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("player_id", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("round_id", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("cash", sa.BigInteger, nullable=False),
        sa.Column("bonus", sa.BigInteger, nullable=False),
        sa.Column("reference", sa.Text),
        sa.Column("ledger_txn", sa.Text),
        sa.Column("game", sa.Text),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_game_txns")),
        sa.ForeignKeyConstraint(["player_id"], ["players.id"], name=op.f("fk_game_txns_player_id_players")),
        sa.ForeignKeyConstraint(["ledger_txn"], ["transactions.id"],
                                name=op.f("fk_game_txns_ledger_txn_transactions")),
        sa.CheckConstraint("kind IN ('bet', 'win', 'rollback')", name=op.f("ck_game_txns_kind")),
        sa.CheckConstraint("amount >= 0 AND cash >= 0 AND bonus >= 0", name=op.f("ck_game_txns_amounts")),
    )
    op.create_index("uq_game_txns_rollback", "game_txns", ["reference"], unique=True,
                    postgresql_where=sa.text("kind = 'rollback'"),
                    sqlite_where=sa.text("kind = 'rollback'"))
    op.create_index("ix_game_txns_win", "game_txns", ["reference"],
                    postgresql_where=sa.text("kind = 'win'"), sqlite_where=sa.text("kind = 'win'"))
    op.create_table(
        "idempotency",
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("outcome", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency")),
    )
    op.create_table(
        "audit_log",
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("request_id", sa.Text),
        sa.Column("txn_id", sa.Text),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("stream", "seq", name=op.f("pk_audit_log")),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_audit_log_seq_positive")),
    )


# --- PostgreSQL: plpgsql functions; statement-level triggers where a row trigger is not needed


def _postgresql_triggers() -> None:
    op.execute("""
CREATE FUNCTION wallet_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'wallet: % is append-only (% refused)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'restrict_violation';
END $$""")
    for table in APPEND_ONLY:
        op.execute(f"CREATE TRIGGER trg_{table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION wallet_refuse_change()")

    op.execute("""
CREATE FUNCTION wallet_refuse_balance_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'wallet: accounts.balance is maintained from postings, not written directly'
    USING ERRCODE = 'restrict_violation';
END $$""")
    # pg_trigger_depth() = 0: the statement came from a client, not from the postings trigger
    op.execute("CREATE TRIGGER trg_accounts_balance_guard BEFORE UPDATE OF balance ON accounts "
               "FOR EACH STATEMENT WHEN (pg_trigger_depth() = 0) "
               "EXECUTE FUNCTION wallet_refuse_balance_write()")
    op.execute("""
CREATE FUNCTION wallet_opening_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'wallet: account % must open with a zero balance', NEW.id
    USING ERRCODE = 'check_violation';
END $$""")
    op.execute("CREATE TRIGGER trg_accounts_opening_balance BEFORE INSERT ON accounts "
               "FOR EACH ROW WHEN (NEW.balance <> 0) EXECUTE FUNCTION wallet_opening_balance()")

    op.execute("""
CREATE FUNCTION wallet_postings_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sealed text;
  unknown text;
BEGIN
  -- one pass for both checks; registering new house accounts is the rare path
  SELECT min(n.txn_id) FILTER (WHERE t.id IS NOT NULL), min(n.account_id) FILTER (WHERE a.id IS NULL)
    INTO sealed, unknown
    FROM new_postings n
    LEFT JOIN transactions t ON t.id = n.txn_id
    LEFT JOIN accounts a ON a.id = n.account_id AND a.currency = n.currency;
  IF sealed IS NOT NULL THEN
    RAISE EXCEPTION 'wallet: transaction % is sealed: no more postings', sealed
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF unknown IS NOT NULL THEN
    INSERT INTO accounts (id, type, owner, currency)
    SELECT DISTINCT n.account_id, split_part(n.account_id, ':', 1), split_part(n.account_id, ':', 2),
           n.currency
      FROM new_postings n
     WHERE split_part(n.account_id, ':', 1) NOT IN ({player_types})
       AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id)
    ON CONFLICT (id) DO NOTHING;
    SELECT min(n.account_id) INTO unknown FROM new_postings n
     WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id AND a.currency = n.currency);
    IF unknown IS NOT NULL THEN
      RAISE EXCEPTION 'wallet: unknown account % (or not in that currency)', unknown
        USING ERRCODE = 'foreign_key_violation';
    END IF;
  END IF;
  UPDATE accounts a SET balance = a.balance + d.delta
    FROM (SELECT account_id, sum(amount)::bigint AS delta FROM new_postings GROUP BY account_id) d
   WHERE a.id = d.account_id AND a.balance IS NOT NULL;
  RETURN NULL;
END $$""".replace("{player_types}", PLAYER_TYPES))
    op.execute("CREATE TRIGGER trg_postings_inserted AFTER INSERT ON postings "
               "REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT "
               "EXECUTE FUNCTION wallet_postings_inserted()")

    op.execute("""
CREATE FUNCTION wallet_transaction_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  unbalanced bigint;
BEGIN
  SELECT coalesce(sum(c), 0), count(*) FILTER (WHERE s <> 0) INTO n, unbalanced
    FROM (SELECT count(*) AS c, sum(amount) AS s FROM postings
           WHERE txn_id = NEW.id GROUP BY currency) per_currency;
  IF n < 2 OR unbalanced > 0 THEN
    RAISE EXCEPTION 'wallet: unbalanced transaction % (% postings, % currencies not summing to 0)',
      NEW.id, n, unbalanced USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$""")
    op.execute("CREATE TRIGGER trg_transactions_balanced BEFORE INSERT ON transactions "
               "FOR EACH ROW EXECUTE FUNCTION wallet_transaction_balanced()")


# --- SQLite: row triggers only; RAISE(ABORT) surfaces as an integrity error


def _sqlite_triggers() -> None:
    def refuse(name: str, when: str, message: str) -> None:
        op.execute(f"CREATE TRIGGER {name} {when} BEGIN SELECT RAISE(ABORT, '{message}'); END")

    for table in APPEND_ONLY:
        for event in ("UPDATE", "DELETE"):
            refuse(f"trg_{table}_no_{event.lower()}", f"BEFORE {event} ON {table}",
                   f"wallet: {table} is append-only ({event} refused)")
    refuse("trg_accounts_opening_balance", "BEFORE INSERT ON accounts WHEN NEW.balance <> 0",
           "wallet: an account must open with a zero balance")
    refuse("trg_postings_sealed",
           "BEFORE INSERT ON postings WHEN EXISTS (SELECT 1 FROM transactions WHERE id = NEW.txn_id)",
           "wallet: transaction is sealed: no more postings")
    # register a house or provider account on first use, then insist the account exists
    op.execute(f"""
CREATE TRIGGER trg_postings_account BEFORE INSERT ON postings BEGIN
  INSERT INTO accounts (id, type, owner, currency)
  SELECT NEW.account_id, kind, substr(rest, 1, instr(rest, ':') - 1), NEW.currency
    FROM (SELECT substr(NEW.account_id, 1, instr(NEW.account_id, ':') - 1) AS kind,
                 substr(NEW.account_id, instr(NEW.account_id, ':') + 1) AS rest)
   WHERE kind NOT IN ({PLAYER_TYPES})
     AND NOT EXISTS (SELECT 1 FROM accounts WHERE id = NEW.account_id);
  SELECT RAISE(ABORT, 'wallet: unknown account (or not in that currency)')
   WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE id = NEW.account_id AND currency = NEW.currency);
END""")
    op.execute("CREATE TRIGGER trg_postings_balance AFTER INSERT ON postings BEGIN "
               "UPDATE accounts SET balance = balance + NEW.amount "
               "WHERE id = NEW.account_id AND balance IS NOT NULL; END")
    refuse("trg_transactions_balanced",
           "BEFORE INSERT ON transactions WHEN "
           "(SELECT count(*) FROM postings WHERE txn_id = NEW.id) < 2 OR EXISTS "
           "(SELECT 1 FROM postings WHERE txn_id = NEW.id GROUP BY currency HAVING sum(amount) <> 0)",
           "wallet: unbalanced transaction")
