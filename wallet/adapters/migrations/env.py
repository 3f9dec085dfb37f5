"""Alembic environment: runs inside the caller's connection and transaction when given one.

``wallet.adapters.sql.upgrade`` passes ``config.attributes["connection"]``, already in a
transaction, so a migration is all-or-nothing on both SQLite and PostgreSQL (their
DDL is transactional). The CLI path builds the same kind of engine from ``-x url=``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from wallet.adapters.sql.engine import make_engine
from wallet.adapters.sql.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("pass the database URL: alembic -x url=postgresql+psycopg://... upgrade head")
    return url


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    _run(given)
else:
    engine = make_engine(_url(), pool_size=1, max_overflow=0)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()
