"""Engines configured for the wallet's locking rule, one recipe per database.

SQLite: pysqlite's own transaction handling is switched off and every unit of work
emits ``BEGIN IMMEDIATE`` itself (SQLAlchemy's documented pysqlite recipe), so a
unit holds the write lock from its first statement and two units never interleave;
a read-only unit may ask for a plain deferred ``BEGIN`` instead. WAL lets readers
run beside the writer. Writers of one process also queue on an in-process lock
before asking SQLite, which is fairer and faster than SQLite's busy-wait sleeps;
``busy_timeout`` (pysqlite's ``timeout``) still covers other processes; past it a
unit fails with "database is locked", which the store reports as retryable.

PostgreSQL: READ COMMITTED; correctness comes from the row lock on the player.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

BUSY_TIMEOUT_S = 10.0
SQLITE_BEGIN = "wallet_sqlite_begin"  # execution option: "IMMEDIATE" (default) or "DEFERRED"

_file_locks: dict[str, WriteLock] = {}
_file_locks_guard = threading.Lock()


def make_engine(url: str | sa.URL, *, pool_size: int | None = None, max_overflow: int | None = None,
                busy_timeout: float = BUSY_TIMEOUT_S, echo: bool = False) -> Engine:
    """An engine for ``url``. Pool defaults suit ~50 worker threads: PostgreSQL keeps up to
    16 idle connections and opens at most 48; SQLite needs few, its writers take turns."""
    url = sa.make_url(url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:" or url.query.get("mode") == "memory":
            raise ValueError("SqlStore needs a SQLite file (sqlite:///path); use MemoryStore in memory")
        engine = sa.create_engine(
            url, echo=echo, pool_size=pool_size or 5,
            max_overflow=10 if max_overflow is None else max_overflow,
            connect_args={"check_same_thread": False, "timeout": busy_timeout},
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(
        url, echo=echo, isolation_level="READ COMMITTED",
        pool_size=pool_size or 16, max_overflow=32 if max_overflow is None else max_overflow,
    )


def connection_room(url: str | sa.URL) -> int:
    """How many more connections a PostgreSQL server takes from ordinary users now:
    ``max_connections`` less the superuser reserve and the connections already open."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(
                "SELECT current_setting('max_connections')::int"
                " - current_setting('superuser_reserved_connections')::int"
                " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
            )).scalar_one())
    finally:
        engine.dispose()


def _sqlite_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",  # WAL + NORMAL: durable across process crashes, fsync at checkpoints
        "foreign_keys=ON",  # per connection; the deferred postings -> transactions key needs it
    ):
        dbapi_conn.execute(f"PRAGMA {pragma}")


def _sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


class WriteLock:
    """Queues one process's SQLite writers. A second write unit opened by a thread that
    already holds one would wait for itself until the busy timeout: refuse it at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None

    def acquire(self) -> None:
        if self._owner == threading.get_ident():
            raise RuntimeError("nested write unit of work on one SQLite database in one thread")
        self._lock.acquire()
        self._owner = threading.get_ident()

    def release(self) -> None:
        self._owner = None
        self._lock.release()

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def sqlite_write_lock(url: str | sa.URL) -> WriteLock:
    """One lock per database file, shared by every store of this process on that file."""
    path = os.path.realpath(sa.make_url(url).database or "")
    with _file_locks_guard:
        return _file_locks.setdefault(path, WriteLock())
