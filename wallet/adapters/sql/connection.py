"""One pooled connection in one database transaction: the plumbing under a unit of work.

Statements run on the driver cursor of the connection SQLAlchemy checked out and
began (``prepared.py`` says why); SQLAlchemy still owns the pool, the transaction
boundaries and the SQL. Driver errors come out as the port's errors where it has
one (``errors.py``), otherwise wrapped as ``Connection.execute`` would wrap them.
Deferred appends (``pending.py``) are sent before COMMIT or before a read of
their table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql import Executable

from wallet.adapters.sql.engine import SQLITE_BEGIN
from wallet.adapters.sql.errors import translate
from wallet.adapters.sql.pending import Pending
from wallet.adapters.sql.prepared import Prepared
from wallet.service.unit_of_work import RetryableStoreError

if TYPE_CHECKING:
    from wallet.adapters.sql.store import SqlStore


class UnitConnection:
    def __init__(self, store: SqlStore, *, read_only: bool) -> None:
        self.q = store.statements
        self.pending = Pending()
        self._lock = None if read_only else store.write_lock
        if self._lock is not None:
            self._lock.acquire()  # SQLite writers of this process queue here, not in busy-wait
        try:
            self._conn = store.engine.connect()
            if read_only:
                self._conn.execution_options(
                    **{SQLITE_BEGIN: "DEFERRED"} if store.sqlite else {"postgresql_readonly": True})
            self._begin()
            self._cur = self._conn.connection.cursor()
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        self.open = True

    def _begin(self) -> None:
        try:
            self._conn.begin()  # SQLite: BEGIN IMMEDIATE now; PostgreSQL: with the first statement
        except BaseException as exc:
            self._conn.close()
            mapped = translate(exc)
            if mapped is None:
                raise
            raise mapped from exc

    # statements -----------------------------------------------------------------------
    def x(self, stmt: Prepared, params: dict[str, Any]) -> Any:
        """Execute on the driver cursor; return the cursor (for rows or rowcount)."""
        try:
            self._cur.execute(stmt.sql, stmt.params(params))
        except Exception as exc:
            wrapped = self._wrap(exc, stmt.sql, params)
            if wrapped is exc:
                raise
            raise wrapped from exc
        return self._cur

    def many(self, stmt: Prepared, rows: list[dict[str, Any]]) -> None:
        try:
            self._cur.executemany(stmt.sql, rows)
        except Exception as exc:
            wrapped = self._wrap(exc, stmt.sql, rows)
            if wrapped is exc:
                raise
            raise wrapped from exc

    def one(self, stmt: Prepared, params: dict[str, Any]) -> Any:
        row = self.x(stmt, params).fetchone()
        return None if row is None else stmt.row._make(row)

    def all(self, stmt: Prepared, params: dict[str, Any] | None = None) -> list[Any]:
        return [stmt.row._make(r) for r in self.x(stmt, params or {}).fetchall()]

    def count(self, stmt: Prepared, params: dict[str, Any]) -> int:
        return self.x(stmt, params).rowcount

    def core(self, stmt: Executable, params: dict[str, Any]) -> list[Any]:
        """Core statements SQLAlchemy must render per call (expanding IN lists)."""
        try:
            return list(self._conn.execute(stmt, params))
        except sa.exc.StatementError as exc:
            mapped = translate(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def _wrap(self, exc: Exception, sql: str, params: Any) -> Exception:
        """The port's error for ``exc`` if it has one; else SQLAlchemy's wrapper, as
        ``Connection.execute`` would raise it (and a dead connection is invalidated)."""
        if (mapped := translate(exc)) is not None:
            return mapped
        dialect = self._conn.dialect
        base = dialect.loaded_dbapi.Error
        if not isinstance(exc, base):
            return exc
        gone = dialect.is_disconnect(exc, self._conn.connection.dbapi_connection, self._cur)
        if gone:
            self._conn.invalidate(exc)
        return sa.exc.DBAPIError.instance(sql, params, exc, base, connection_invalidated=gone,
                                          dialect=dialect)

    # deferred appends and the transaction ------------------------------------------------
    def flush(self, table: str | None = None) -> None:
        """Send the deferred inserts (all of them; or only if one is for ``table``)."""
        if not self.pending or (table is not None and not self.pending.touches(table)):
            return
        batch = self.pending.take()
        if self.q.pg:
            shape = tuple((t, len(rows)) for t, rows in batch)
            params = {f"w{i}_{r}_{k}": v for i, (_, rows) in enumerate(batch)
                      for r, row in enumerate(rows) for k, v in row.items()}
            written = self.x(self.q.flush(shape), params).fetchone()
            lost = {t for (t, rows), n in zip(batch, written, strict=True) if n != len(rows)}
        else:
            lost = {t for t, rows in batch for row in rows if self.count(self.q.insert_one[t], row) != 1}
        if lost:
            raise RetryableStoreError(f"a concurrent unit stored the same key: {', '.join(sorted(lost))}")

    def commit(self) -> None:
        if not self.open:
            return
        try:
            self.flush()
            self._conn.commit()
        except sa.exc.StatementError as exc:
            mapped = translate(exc)
            if mapped is None:
                raise
            raise mapped from exc
        finally:
            self.close()

    def close(self) -> None:
        """End the transaction (rolled back unless committed) and return the connection."""
        if not self.open:
            return
        self.open = False
        self.pending.clear()
        try:
            self._conn.close()
        finally:
            if self._lock is not None:
                self._lock.release()
