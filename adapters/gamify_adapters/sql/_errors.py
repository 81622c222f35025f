"""Driver errors translated to gamify errors, in one place.

========================================  ==============================================
driver error                              gamify error
========================================  ==============================================
PostgreSQL class 40 (serialization         :class:`~gamify.errors.ConcurrencyError`
failure 40001, deadlock 40P01), lock
timeout 55P03; SQLite ``SQLITE_BUSY`` /
``SQLITE_LOCKED`` ("database is locked")
unique violation (23505; SQLite            :class:`~gamify.store.DuplicateError`
``SQLITE_CONSTRAINT_UNIQUE`` /
``_PRIMARYKEY``): idempotency key, award,
referral code
SQLAlchemy's pool ``TimeoutError`` (no     :class:`~gamify.errors.ConcurrencyError`
connection free within ``pool_timeout``)
anything else from the driver             :class:`~gamify.errors.StoreError`
========================================  ==============================================

A failed conditional balance update is not a driver error: the store raises
:class:`~gamify.errors.InsufficientBalanceError` itself. gamify errors pass through
untouched. Both raw driver errors (the store's hot path runs on the DBAPI
connection) and SQLAlchemy's wrappers of them (``DBAPIError.orig``) are understood.
"""

from __future__ import annotations

import sqlite3
import sys
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from gamify.errors import ConcurrencyError, GamifyError, StoreError
from gamify.store import DuplicateError

__all__ = ["translate", "translated"]

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_CONSTRAINT_PRIMARYKEY = 1555
_SQLITE_CONSTRAINT_UNIQUE = 2067

_PG_RETRYABLE = ("40", "55P03")  # class 40: transaction rollback; lock_not_available
_PG_UNIQUE = "23505"
_PG_UNDEFINED_TABLE = "42P01"
_NO_TABLES_HINT = (
    " (the store's tables are missing here: create them with gamify.create_schema(url), "
    "or with the app's Alembic migrations, using the store's prefix)"
)


def _is_driver_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error | DBAPIError):
        return True
    # psycopg is imported only when a PostgreSQL store is used.
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.Error)


def translate(exc: BaseException) -> BaseException:
    """The gamify error for a driver error (``exc`` itself if it is not one)."""
    if isinstance(exc, PoolTimeoutError):
        # Every connection the pool may lend is in use: contention, like a lock wait.
        return ConcurrencyError(f"no free connection in the store's pool: {exc}")
    if isinstance(exc, GamifyError) or not _is_driver_error(exc):
        return exc
    orig: BaseException = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        orig = exc.orig
    message = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None:
            if code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
                return ConcurrencyError(f"SQLite is busy: {message}")
            if code in (_SQLITE_CONSTRAINT_UNIQUE, _SQLITE_CONSTRAINT_PRIMARYKEY):
                return DuplicateError(message)
        elif "locked" in message or "busy" in message:
            return ConcurrencyError(f"SQLite is busy: {message}")
        hint = _NO_TABLES_HINT if message.startswith("no such table") else ""
        return StoreError(f"SQLite failed: {message}{hint}")
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate.startswith(_PG_RETRYABLE):
            return ConcurrencyError(f"PostgreSQL ({sqlstate}): {message}")
        if sqlstate == _PG_UNIQUE:
            return DuplicateError(message)
        hint = _NO_TABLES_HINT if sqlstate == _PG_UNDEFINED_TABLE else ""
        return StoreError(f"PostgreSQL ({sqlstate}): {message}{hint}")
    return StoreError(f"the database failed: {message}")


class _Translated(AbstractContextManager[None]):
    """Re-raises driver errors raised inside as gamify errors (chained to the original)."""

    __slots__ = ()

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or not isinstance(exc, Exception):
            return
        mapped = translate(exc)
        if mapped is not exc:
            raise mapped from exc


_TRANSLATED = _Translated()


def translated() -> AbstractContextManager[None]:
    """A context that re-raises driver errors as gamify errors: ``with translated(): ...``."""
    return _TRANSLATED
