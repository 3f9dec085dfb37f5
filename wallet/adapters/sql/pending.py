"""Inserts a unit has decided on but not yet sent: sent together just before COMMIT.

Round trips dominate the cost of a bet (each costs about as much server CPU as a
pgbench statement, plus the driver's own), and four of a bet's writes are plain
appends whose outcome is already known: the transaction header, the game record,
the audit entry and the idempotency record. The unit looked each key up earlier
(the ledger guard, ``get_game_txn``, ``last_audit``, ``get_idempotency``), so a
conflict can only come from a concurrent unit that won a race, which the port
answers with ``RetryableStoreError`` whenever it is detected. On PostgreSQL they go
as one statement (``statements._flush``), on SQLite one by one; either way before
COMMIT, and before any read of their tables, so the unit always reads its own writes.
"""

from __future__ import annotations

from typing import Any

ORDER = ("transactions", "game_txns", "audit_log", "idempotency")  # headers first: seq order


class Pending:
    def __init__(self) -> None:
        self._rows: dict[str, list[dict[str, Any]]] = {}

    def add(self, table: str, values: dict[str, Any]) -> None:
        self._rows.setdefault(table, []).append(values)

    def touches(self, table: str) -> bool:
        return table in self._rows

    def __bool__(self) -> bool:
        return bool(self._rows)

    def take(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """The rows by table, in ``ORDER``; the buffer is empty afterwards."""
        rows, self._rows = self._rows, {}
        return [(t, rows[t]) for t in ORDER if t in rows]

    def clear(self) -> None:
        self._rows = {}
