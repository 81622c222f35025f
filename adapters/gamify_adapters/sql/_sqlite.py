"""SQLite connection settings, and the BEGIN IMMEDIATE recipe for an app's own engine.

pysqlite (the stdlib ``sqlite3`` module) begins its transactions itself, late and
DEFERRED: a unit of work that reads first and writes later could find the
database taken by another writer between the two, or work from what it read
before that writer committed. The SQL store therefore puts its connections in
autocommit mode and writes every unit of work in ``BEGIN IMMEDIATE``, which takes
the database's write lock at the first statement. An app whose session the
store joins should do the same; :func:`begin_immediate` installs SQLAlchemy's
documented event-listener recipe on the app's engine::

    from gamify_adapters.sql import begin_immediate, immediate_session

    engine = create_engine("sqlite:///app.db")
    begin_immediate(engine)             # every transaction of this engine: BEGIN IMMEDIATE
    with Session(engine) as session:    # or: with immediate_session(engine) as session:
        ...
        gamify_engine.using(session).track("alice", "purchase", amount=30)
        session.commit()
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: drains take turns within a process only
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import Connection, Engine, event

from gamify.errors import StoreError

if TYPE_CHECKING:
    import sqlmodel

__all__ = ["DrainTurns", "begin_immediate", "configure_connection", "immediate_session"]


def configure_connection(
    dbapi_connection: Any,
    busy_timeout: float,
    *,
    wal: bool,
    wal_autocheckpoint: int | None = None,
) -> None:
    """Settings for each connection of the store's own SQLite engine.

    Autocommit at the driver (the store writes BEGIN IMMEDIATE and COMMIT itself),
    a generous busy timeout so that writers of several processes wait for each
    other, and WAL with ``synchronous=NORMAL``: readers never block the writer,
    and a commit is durable at the next checkpoint (the SDK's durability setting,
    used by its benchmarks' baselines too). Temporary data stays in memory: a
    unit of work's multi-row writes need a statement journal, which SQLite
    would otherwise create and delete as a file on every commit. ``wal_autocheckpoint``,
    when given, sets how many log pages a commit lets pile up before it checkpoints.
    """
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {max(0, int(busy_timeout * 1000))}")
        if wal:
            _switch_to_wal(cur, busy_timeout)
            if wal_autocheckpoint is not None:
                cur.execute(f"PRAGMA wal_autocheckpoint = {int(wal_autocheckpoint)}")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA temp_store = MEMORY")
    finally:
        cur.close()


class DrainTurns:
    """Outbox drains of one SQLite file take turns: the threads of a process on a lock,
    processes on an exclusive lock (``flock``) of the file ``<database>-drain`` beside it.

    A drain holds it while it reads, delivers and deletes its events, so two drains
    never read the same events. The file is opened afresh for each turn: a process forked
    from another holds its own lock. Without ``fcntl`` (Windows) only the threads of one
    process take turns.
    """

    def __init__(self, database_file: str) -> None:
        self.path = f"{database_file}-drain"
        self._lock = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._lock.acquire()
        if fcntl is None:  # pragma: no cover - Windows
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            self._lock.release()
            raise StoreError(f"cannot open the outbox drain lock {self.path!r}: {exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits for another process's drain
        except BaseException:
            os.close(fd)
            self._lock.release()
            raise
        self._fd = fd

    def close_inherited(self) -> None:
        """In a forked child: drop the copy of a parent's drain file it holds open. The lock
        stays with the parent's copy; the child's would keep it taken until the child ends,
        against the child's own drains too."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        fd, self._fd = self._fd, None
        try:
            if fd is not None:
                os.close(fd)  # releases the flock
        finally:
            self._lock.release()


def _switch_to_wal(cur: Any, busy_timeout: float) -> None:
    """Put the database in WAL mode. On a new file that other processes open at the same
    moment, SQLite may refuse the switch at once as "database is locked" without waiting
    for its busy timeout: try again until the timeout is spent."""
    deadline = time.monotonic() + busy_timeout
    pause = 0.001
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _begin_immediate(conn: Connection) -> None:
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return
    dbapi_connection: Any = conn.connection.driver_connection
    # Stop pysqlite from beginning (DEFERRED) on its own, then begin ourselves.
    dbapi_connection.isolation_level = None
    if not dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def begin_immediate(engine: Engine) -> Engine:
    """Make every transaction of an app's SQLite ``engine`` begin IMMEDIATE; returns it.

    Installs, once, SQLAlchemy's recipe for controlling BEGIN on pysqlite (a
    ``begin`` event listener that emits ``BEGIN IMMEDIATE`` on a connection whose
    driver-level transaction handling is turned off). A transaction then holds
    the database's write lock from its first statement to its commit, as the
    store's own units of work do. Other databases are left as they are.
    """
    if engine.dialect.name == "sqlite" and not event.contains(engine, "begin", _begin_immediate):
        event.listen(engine, "begin", _begin_immediate)
    return engine


def immediate_session(engine: Engine, **options: Any) -> sqlmodel.Session:
    """A SQLModel :class:`~sqlmodel.Session` on ``engine`` whose transactions begin IMMEDIATE.

    Calls :func:`begin_immediate` on ``engine`` (so on SQLite every session of that
    engine begins IMMEDIATE from now on); ``options`` go to the session.
    """
    begin_immediate(engine)
    import sqlmodel  # a dependency of gamify, imported when a session is asked for

    return sqlmodel.Session(engine, **options)
