"""Core statements compiled once and run on the driver's cursor.

Why not ``Connection.execute``: measured here (psycopg 3, PostgreSQL on localhost)
a one-row SELECT costs ~70 us of CPU through ``Connection.execute`` and ~20 us on
the DBAPI cursor, and a bet runs about ten statements, all under the GIL. So the
statements are still SQLAlchemy Core, built from ``tables.py`` and compiled by the
dialect (bind casts, ON CONFLICT, LIMIT and all), but the unit of work sends the
compiled SQL itself on the connection SQLAlchemy checked out and began. The only
type processing the wallet needs is JSON, handled by the callers.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable
from sqlalchemy.sql.selectable import SelectBase


class Prepared:
    """One statement for one dialect: its SQL, its constant parameters, its row type."""

    __slots__ = ("fixed", "row", "sql")

    def __init__(self, stmt: Executable, dialect: Dialect, *, column_keys: list[str] | None = None
                 ) -> None:
        # the stubs give Executable no compile(); every statement here is a ClauseElement
        compiled: Any = stmt.compile(dialect=dialect, column_keys=column_keys)  # type: ignore[attr-defined]
        if compiled.positional:
            raise ValueError("compile with a named paramstyle (pyformat or named)")
        for bp in compiled.bind_names:
            if bp.expanding:
                raise ValueError(f"expanding parameter {bp.key!r}: execute through SQLAlchemy")
        self.sql: str = compiled.string
        # literals such as LIMIT 1 or status = 'active' become parameters with a value
        self.fixed: dict[str, Any] = {
            name: bp.effective_value for bp, name in compiled.bind_names.items() if not bp.required
        }
        self.row: Any = None
        if isinstance(stmt, SelectBase):
            self.row = namedtuple("Row", list(stmt.selected_columns.keys()))  # type: ignore[misc]

    def params(self, given: dict[str, Any]) -> dict[str, Any]:
        return {**self.fixed, **given} if self.fixed else given
