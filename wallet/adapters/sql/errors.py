"""Database errors translated into what the port promises.

Lost races become ``RetryableStoreError`` (the wallet runs the unit again and then
sees the winner's row); constraint violations the handlers should have prevented
become the domain error they stand for. Anything else is a bug and propagates.
"""

from __future__ import annotations

import re
import sqlite3

import sqlalchemy as sa

from wallet.domain import errors
from wallet.service.unit_of_work import RetryableStoreError

# a concurrent unit stored the same key first: the retry replays or re-chains
RETRY_ON_DUPLICATE = frozenset({"idempotency", "audit_log"})
FUNDS_CHECKS = ("ck_accounts_floor", "ck_accounts_ceiling")
RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock detected
UNKNOWN_ACCOUNT = "wallet: unknown account"
ACCOUNT_CHECKS = ("ck_accounts_type", "ck_accounts_id_format")  # an id naming no account type

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (\w+)\.")


def translate(exc: BaseException) -> Exception | None:
    """The exception to raise instead of ``exc`` (a driver error, or SQLAlchemy's wrapper
    of one), or None to let ``exc`` propagate."""
    orig: BaseException | None = exc.orig if isinstance(exc, sa.exc.StatementError) else exc
    if isinstance(orig, OverflowError):  # pysqlite refuses ints beyond 64 bits
        return errors.InvalidAmount("amount exceeds the 64-bit range of the store", field="amount")
    if isinstance(orig, sqlite3.Error):
        return _sqlite(orig)
    if orig is not None and (getattr(orig, "sqlstate", None) is not None
                             or getattr(orig, "diag", None) is not None):
        return _postgresql(orig)  # psycopg, without importing it
    return None


def _sqlite(orig: sqlite3.Error) -> Exception | None:
    msg = str(orig)
    name = getattr(orig, "sqlite_errorname", "")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in msg:
        return RetryableStoreError(msg)
    if m := _SQLITE_UNIQUE.search(msg):  # "UNIQUE constraint failed: table.column, ..."
        return _duplicate(m.group(1), msg)
    return _by_message(msg)


def _postgresql(orig: BaseException) -> Exception | None:
    state = getattr(orig, "sqlstate", None)
    diag = getattr(orig, "diag", None)
    msg = (getattr(diag, "message_primary", None) or str(orig)).strip()
    if state in RETRY_SQLSTATES:
        return RetryableStoreError(msg)
    if state == "23505":
        return _duplicate(getattr(diag, "table_name", None) or "", msg)
    if state == "22003":
        return errors.InvalidAmount("amount exceeds the 64-bit range of the store", field="amount")
    if state == "23514" and getattr(diag, "constraint_name", None) in FUNDS_CHECKS:
        return errors.InsufficientFunds(msg, field="amount")
    return _by_message(msg)


def _duplicate(table: str, msg: str) -> Exception:
    if table in RETRY_ON_DUPLICATE:
        return RetryableStoreError(f"lost a race on {table}: {msg}")
    return errors.AlreadyExists(f"{table}: duplicate ({msg})", field="id")


def _by_message(msg: str) -> Exception | None:
    if any(name in msg for name in FUNDS_CHECKS):
        return errors.InsufficientFunds(msg, field="amount")
    if "wallet: unbalanced transaction" in msg:
        return errors.UnbalancedTransaction(msg)
    if UNKNOWN_ACCOUNT in msg or any(name in msg for name in ACCOUNT_CHECKS):
        return errors.AccountNotFound(msg, field="account")
    return None
