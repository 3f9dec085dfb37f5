"""SQLAlchemy Core adapter of the wallet's store port, for SQLite and PostgreSQL.

    upgrade("postgresql+psycopg://user@host/db")   # Alembic migrations, once per database
    store = SqlStore("postgresql+psycopg://user@host/db")

Modules: ``tables`` (Core metadata mirroring the migrations), ``statements`` and
``prepared`` (every query, compiled once per dialect), ``uow`` (the unit of work),
``rows`` (row <-> domain), ``errors`` (database errors -> port errors), ``bets``
(PostgreSQL: a plain bet in one round trip), ``engine``
(per-database connection recipe), ``store`` and ``migrate``. The schema and the
ledger constraints it enforces are described in
``wallet/adapters/migrations/versions/0001_initial.py``.
"""

from wallet.adapters.sql.migrate import downgrade, upgrade
from wallet.adapters.sql.store import SqlStore
from wallet.adapters.sql.uow import SqlUnitOfWork

__all__ = ["SqlStore", "SqlUnitOfWork", "downgrade", "upgrade"]
