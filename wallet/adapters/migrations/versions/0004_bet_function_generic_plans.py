"""PostgreSQL: ``wallet_place_bet`` runs its statements on generic plans.

PL/pgSQL caches one plan per statement but plans a statement afresh on each call
while the planner prefers a custom plan for the call's parameter values. For the
balances read (``a.id = ANY (p_accounts)``) it always does: the generic plan's row
estimate for an array parameter is higher than the custom plan's for five known
ids, so the call was planned again on every bet, about 8 % of the database's CPU
per bet in a profile. Every statement in the function is a primary-key or
unique-index lookup, or an insert, whatever the arguments, so the generic plan is the
right one for all of them: forcing it took the function, called directly by
``pgbench`` with 8 clients, from about 3,000 to 3,450 bets/s on a 2-core machine.

The setting applies while the function runs, triggers it fires included, and to
nothing else.

Revision ID: 0004
Revises: 0003
Create Date: 2025-04-01
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER FUNCTION wallet_place_bet SET plan_cache_mode = force_generic_plan")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER FUNCTION wallet_place_bet RESET plan_cache_mode")
