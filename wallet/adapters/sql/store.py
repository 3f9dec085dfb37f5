"""The SQL store: an engine, its prepared statements, and test housekeeping."""

from __future__ import annotations

import contextlib

import sqlalchemy as sa

from wallet.adapters.sql.bets import FastBets
from wallet.adapters.sql.engine import BUSY_TIMEOUT_S, WriteLock, make_engine, sqlite_write_lock
from wallet.adapters.sql.statements import Statements
from wallet.adapters.sql.tables import ALL_TABLES
from wallet.adapters.sql.uow import SqlUnitOfWork
from wallet.service.unit_of_work import Store


class SqlStore(Store):
    """SQLite (file) or PostgreSQL, by URL. The schema must exist: run ``upgrade(url)`` first."""

    def __init__(self, url: str | sa.URL, *, pool_size: int | None = None,
                 max_overflow: int | None = None, busy_timeout: float = BUSY_TIMEOUT_S,
                 echo: bool = False) -> None:
        self.engine = make_engine(url, pool_size=pool_size, max_overflow=max_overflow,
                                  busy_timeout=busy_timeout, echo=echo)
        self.dialect = self.engine.dialect.name
        self.sqlite = self.dialect == "sqlite"
        self.statements = Statements(self.engine.dialect)
        self.write_lock: WriteLock | None = sqlite_write_lock(url) if self.sqlite else None
        # PostgreSQL: plain bets in one round trip (bets.py); SQLite runs them as units of work
        self.fast_bets: FastBets | None = None if self.sqlite else FastBets(self)

    def unit_of_work(self, *, read_only: bool = False) -> SqlUnitOfWork:
        """``read_only``: on SQLite a deferred BEGIN that does not queue behind writers;
        on PostgreSQL a READ ONLY transaction."""
        return SqlUnitOfWork(self, read_only=read_only)

    def truncate_all(self) -> None:
        """Empty every table (tests only). PostgreSQL's TRUNCATE fires no row triggers;
        SQLite has no TRUNCATE, so the append-only triggers are dropped, the rows
        deleted, and the triggers re-created from their stored SQL in one transaction."""
        lock = self.write_lock or contextlib.nullcontext()
        with lock, self.engine.begin() as conn:
            if not self.sqlite:
                names = ", ".join(t.name for t in ALL_TABLES)
                conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
                return
            triggers = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%append-only%'"
            ).all()
            for name, _ in triggers:
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
            for table in ALL_TABLES:
                conn.execute(table.delete())
            for _, sql in triggers:
                conn.exec_driver_sql(sql)

    def close(self) -> None:
        self.engine.dispose()
