"""The SQL store on SQLAlchemy 2: SQLite (one file, several processes) and PostgreSQL.

Each unit of work is one transaction on a pooled DBAPI connection, in
autocommit mode at the driver so the store writes the transaction statements
itself:

* SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock at the first
  statement and holds it to the commit; writers of other processes wait up to
  the busy timeout. Threads of one process queue first on a lock per database
  file, so they do not poll SQLite's busy handler.
* PostgreSQL: ``BEGIN ISOLATION LEVEL READ COMMITTED``, then each member's
  ``pg_advisory_xact_lock`` (on a 64-bit hash of the prefix and member id, so it
  works for members not stored yet) in ascending member id order, held to the
  commit. Lock waits give up after ``lock_timeout`` (a retryable error). BEGIN
  and the locks go out with the first read; a unit's writes go out with the next
  read or with the COMMIT, without a savepoint (a refused write fails the whole
  transaction, which the engine retries): a unit with one read is two round trips.

:meth:`SQLStore.batch` runs every unit of work opened inside (by the same
thread) in one transaction. Reads outside units of work run in autocommit,
or in the thread's open transaction if there is one.

The statements run on the DBAPI connection SQLAlchemy holds (texts in
:mod:`._statements`, rows in :mod:`._queries`); SQLAlchemy defines the tables,
creates them and pools the connections.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from gamify.errors import ConfigurationError, StoreError
from gamify.store import (
    OutboxMessage,
    Store,
    UnitOfWork,
)

from ._errors import translated
from ._queries import Cursor, Pending, Queries, SQLUnit
from ._reads import SQLReads
from ._sqlite import DrainTurns, configure_connection
from ._statements import Dialect
from ._tables import DEFAULT_PREFIX, Tables, build_tables

__all__ = ["SQLStore", "create_schema"]

_T = TypeVar("_T")


_PQ_CURSOR = "gamify_pq_cursor"  # a PostgreSQL connection's PqCursor, in its pool record
# One writer lock per SQLite file in this process, shared by every store on it.
_FILE_LOCKS: dict[str, threading.RLock] = {}
# One outbox-drain lock per SQLite file in this process, likewise (see DrainTurns).
_DRAIN_LOCKS: dict[str, DrainTurns] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(path: str) -> threading.RLock:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(path, threading.RLock())


def _drain_lock(path: str) -> DrainTurns:
    with _FILE_LOCKS_GUARD:
        if path not in _DRAIN_LOCKS:
            _DRAIN_LOCKS[path] = DrainTurns(path)
        return _DRAIN_LOCKS[path]


@dataclass
class _Transaction:
    """The transaction a thread has open on one pooled connection."""

    connection: Any  # sqlalchemy PoolProxiedConnection
    cursor: Cursor
    pending: Pending  # BEGIN and locks go out with the first statement
    locked: set[str] = field(default_factory=set)


class SQLStore(SQLReads):
    """Members, balances, the ledger and lots in SQL tables (SQLite or PostgreSQL).

    ``url`` is a SQLAlchemy URL: ``sqlite:///gamify.db`` or
    ``postgresql+psycopg://user@host/db`` (``postgresql://`` means psycopg 3).

    Options:

    ``prefix``
        Prefix of every table name (default ``gamify_``): ``gamify_members`` ...
    ``create``
        Create missing tables on open (default True); pass False when Alembic
        manages the schema (see :func:`gamify_adapters.sql.metadata`).
    ``busy_timeout``
        SQLite: seconds a writer waits for another process's write (default 30).
    ``lock_timeout``
        PostgreSQL: seconds a unit of work waits for a member's lock before a
        retryable :class:`~gamify.errors.ConcurrencyError` (default 30; None: forever).
    ``wal_autocheckpoint``
        SQLite file: pages in the write-ahead log after which a commit copies them into
        the database file (default None: SQLite's own, 1,000). More pages make commits
        cheaper and leave more of them to lose on a power cut (see the storage docs).
    ``engine_options``
        Extra keyword arguments for :func:`sqlalchemy.create_engine` (pool size, echo...).
    """

    capabilities = frozenset({"batch", "app_session"})
    bound = False

    def __init__(
        self,
        url: str | URL,
        *,
        prefix: str = DEFAULT_PREFIX,
        create: bool = True,
        busy_timeout: float = 30.0,
        lock_timeout: float | None = 30.0,
        wal_autocheckpoint: int | None = None,
        engine_options: Mapping[str, Any] | None = None,
    ) -> None:
        parsed = _normalize_url(url)
        _check_wal_autocheckpoint(wal_autocheckpoint, parsed)
        self.url = parsed.render_as_string(hide_password=True)
        self.tables: Tables = build_tables(prefix)
        self.dialect: Dialect = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql"
        # The SQLite file (its real path); None on PostgreSQL or for an in-memory database.
        self.database_file: str | None = None
        self.queries = Queries(self.tables, self.dialect)
        self._local = threading.local()
        self._idle: list[Any] = []  # connections kept checked out for reuse (see _take)
        self._inherited: list[Any] = []  # a forked child's copies of the parent's, unused
        self._reuse = False
        self._bound: int | None = None  # connections the pool lends at most (None: no bound)
        self._write_lock: AbstractContextManager[Any] = nullcontext()
        self._read_lock: AbstractContextManager[Any] = nullcontext()
        self._drain_lock: AbstractContextManager[Any] = threading.Lock()  # SQLite's drains
        # The driver stays in autocommit: the store writes BEGIN and COMMIT itself.
        options: dict[str, Any] = {**(engine_options or {}), "isolation_level": "AUTOCOMMIT"}
        try:
            if self.dialect == "sqlite":
                self.engine = self._sqlite_engine(parsed, busy_timeout, wal_autocheckpoint, options)
            else:
                if lock_timeout is not None:
                    connect_args = dict(options.pop("connect_args", {}))
                    connect_args["options"] = _with_lock_timeout(
                        connect_args.get("options") or parsed.query.get("options"), lock_timeout
                    )
                    options["connect_args"] = connect_args
                # Connections stay checked out between units (see _take), unless the app
                # asks the pool to check or recycle them, which it does at checkout only.
                pool_checks = options.get("pool_pre_ping") or options.get("pool_recycle", -1) >= 0
                if "poolclass" not in options and not pool_checks:
                    size = options.setdefault("pool_size", 5)
                    overflow = options.setdefault("max_overflow", 10)
                    self._reuse = True
                    self._bound = size + overflow if size > 0 and overflow >= 0 else None
                self.engine = create_engine(parsed, **options)
        except ImportError as exc:
            raise ConfigurationError(
                f"the {self.dialect} store needs a driver that is not installed ({exc.name}): "
                "pip install 'gamify-sdk[postgres]'"
            ) from exc
        _STORES.add(self)
        if create:
            self.create_schema()

    def _sqlite_engine(
        self,
        url: URL,
        busy_timeout: float,
        wal_autocheckpoint: int | None,
        options: dict[str, Any],
    ) -> Engine:
        in_memory = _sqlite_in_memory(url)
        database = url.database or ""
        connect_args = dict(options.pop("connect_args", {}))
        connect_args.setdefault("check_same_thread", False)
        connect_args.setdefault("timeout", busy_timeout)
        if in_memory:
            # One connection holds the whole database: every use of it takes the lock.
            options.setdefault("poolclass", StaticPool)
            lock = threading.RLock()
            self._write_lock = self._read_lock = lock
        else:
            path = self.database_file = _file_path(database)
            folder = os.path.dirname(path)
            if not os.path.isdir(folder):
                # SQLite would only say "unable to open database file".
                raise ConfigurationError(
                    f"cannot open the SQLite database {database!r}: "
                    f"the folder {folder!r} does not exist"
                )
            self._write_lock = _file_lock(path)
            self._drain_lock = _drain_lock(path)
            if "poolclass" not in options and "max_overflow" not in options:
                options["max_overflow"] = -1  # see _take
                self._reuse = True
        engine = create_engine(url, connect_args=connect_args, **options)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            configure_connection(
                dbapi_connection,
                busy_timeout,
                wal=not in_memory,
                wal_autocheckpoint=wal_autocheckpoint,
            )

        return engine

    def __repr__(self) -> str:
        return f"SQLStore({self.url!r}, prefix={self.tables.prefix!r})"

    # Schema ----------------------------------------------------------------------------------

    @property
    def metadata(self) -> Any:
        """The store's tables as :class:`sqlalchemy.MetaData` (for Alembic)."""
        return self.tables.metadata

    def has_schema(self) -> bool:
        """Whether every one of the store's tables exists (with this store's prefix)."""
        with translated(), self.engine.connect() as conn:
            inspector = inspect(conn)
            return all(inspector.has_table(table.name) for table in self.tables.all())

    def create_schema(self) -> None:
        """Create the store's tables and indexes that do not exist yet.

        Runs under the database's write lock (SQLite) or an advisory lock
        (PostgreSQL), so processes opening a new database together do not race.
        """
        self._ddl(self._create_missing)

    def _create_missing(self, conn: Any) -> None:
        inspector = inspect(conn)
        existing = set(inspector.get_table_names())
        self.tables.metadata.create_all(conn)
        # create_all leaves a table that exists as it is, even without one of its indexes.
        for table in self.tables.all():
            if table.name in existing:
                present = {ix["name"] for ix in inspector.get_indexes(table.name)}
                for index in table.indexes:
                    if index.name not in present:
                        index.create(conn)

    def drop_schema(self) -> None:
        """Drop the store's tables (for tests and teardown): everything in them is lost."""
        self._ddl(lambda conn: self.tables.metadata.drop_all(conn))

    def _ddl(self, run: Callable[[Any], None]) -> None:
        with self._write_lock, translated(), self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")
                for sql, params in self.queries.lock_members(["\x00schema"], set()):
                    conn.exec_driver_sql(sql, params)
            try:
                run(conn)
            except BaseException:
                with suppress(Exception):
                    conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")

    # Connections and transactions ------------------------------------------------------------

    def _take(self) -> Any:
        """A pooled connection: one this store used before, else a new checkout.

        Connections stay checked out of the pool between uses (a checkout and
        check-in cost about as much as a small transaction) and go back on
        :meth:`close`. One kept idle is taken before a new checkout. A thread
        waits in the pool only once it has lent all it may, and then a
        connection given back goes to the pool, where the waiting thread gets
        it (so none waits while another connection lies idle). On SQLite the
        pool has no upper bound. With an app's own ``poolclass`` (``NullPool``,
        say), each connection goes back after use.
        """
        if self._idle:
            try:
                return self._idle.pop()
            except IndexError:  # another thread took the last one
                pass
        with translated():
            return self.engine.raw_connection()

    def _give(self, connection: Any, *, discard: bool = False) -> None:
        lost = getattr(connection.driver_connection, "broken", False)
        if discard or lost:
            connection.invalidate()  # a lost or doubtful PostgreSQL connection is not reused
            connection.close()
            if lost:
                # The server has gone (a restart, a failover): the connections kept from
                # before are gone too; drop them rather than fail a call on each.
                while self._idle:
                    with suppress(Exception):
                        kept = self._idle.pop()
                        kept.invalidate()
                        kept.close()
        elif self._reuse and (self._bound is None or self._checked_out() < self._bound):
            self._idle.append(connection)
        else:
            connection.close()

    def _checked_out(self) -> int:
        pool: Any = self.engine.pool  # a QueuePool: lent connections, kept idle ones too
        return int(pool.checkedout())

    def _current(self) -> _Transaction | None:
        tx: _Transaction | None = getattr(self._local, "tx", None)
        return tx

    def _begin(self, member_ids: Sequence[str] = ()) -> _Transaction:
        """Open the thread's transaction holding these members' locks (SQLite: the store's
        writer lock, then the database's).

        BEGIN and the locks are held back to go out with the transaction's first
        statement (on PostgreSQL in the same round trip).
        """
        self._write_lock.__enter__()
        try:
            connection = self._take()
            try:
                cursor = self._cursor(connection)
            except BaseException:
                self._give(connection)
                raise
        except BaseException:
            self._write_lock.__exit__(None, None, None)
            raise
        tx = _Transaction(connection, cursor, Pending([(self.queries.sql.begin, None)]))
        tx.pending.statements += self.queries.lock_members(member_ids, tx.locked)
        self._local.tx = tx
        return tx

    def _cursor(self, connection: Any) -> Cursor:
        """The cursor of the store's own work on a pooled connection (transactions, reads,
        drains): on PostgreSQL the connection's own :class:`PqCursor`, kept with it (in
        the pool's record of it) for the next use."""
        if self.dialect != "postgresql":
            return connection.driver_connection.cursor()
        cursor = connection.info.get(_PQ_CURSOR)
        if cursor is None or cursor.connection is not connection.driver_connection:
            from ._pq import PqCursor  # psycopg: only with PostgreSQL

            cursor = connection.info[_PQ_CURSOR] = PqCursor(connection.driver_connection)
        return cursor

    def _end(self, tx: _Transaction, *, error: BaseException | None) -> None:
        """Commit (or, after ``error``, roll back) the thread's transaction and release what
        it held.

        Writes held back go out with the COMMIT, in one round trip (PostgreSQL); when
        one fails, nothing of the transaction stays and its error is raised here.
        """
        commit = error is None
        # After the database refused something (a lock timeout, a deadlock, a unique
        # key), a PostgreSQL connection is not reused: statements it was preparing in an
        # aborted pipeline may be missing on the server while the driver counts them.
        discard = self.dialect == "postgresql" and isinstance(error, StoreError)
        self._local.tx = None
        pending = tx.pending
        # Without held-back writes, COMMIT or ROLLBACK makes what is still held back
        # (locks, a savepoint's release) needless; a transaction that sent nothing has
        # nothing to end.
        begun = pending.begun
        statements = pending.take() if commit and pending.writes else []
        pending.statements.clear()
        try:
            if commit and (begun or statements):
                try:
                    with translated():
                        if statements:
                            with self.queries.pipeline(tx.cursor):
                                self.queries.send(tx.cursor, statements)
                                tx.cursor.execute(self.queries.sql.commit)
                        else:
                            tx.cursor.execute(self.queries.sql.commit)
                except BaseException:
                    discard = self.dialect == "postgresql"
                    with suppress(Exception):
                        tx.cursor.execute(self.queries.sql.rollback)
                    raise
                if getattr(tx.cursor, "statusmessage", None) == "ROLLBACK":
                    # PostgreSQL answers COMMIT with ROLLBACK when a statement failed
                    # inside the transaction (and the caller went on): never pretend.
                    raise StoreError(
                        "the unit of work was rolled back: a statement inside it failed"
                    )
            elif begun:
                with suppress(Exception):
                    tx.cursor.execute(self.queries.sql.rollback)
        finally:
            with suppress(Exception):
                tx.cursor.close()
            # A round trip cut short (an interrupt) left results unread on the connection.
            discard = discard or getattr(tx.cursor, "doubtful", False)
            self._give(tx.connection, discard=discard)
            self._write_lock.__exit__(None, None, None)

    def unit_of_work(self, member_ids: Sequence[str]) -> AbstractContextManager[UnitOfWork]:
        return _UnitScope(self, member_ids)

    def batch(self, member_ids: Sequence[str] = ()) -> AbstractContextManager[None]:
        return _BatchScope(self, member_ids)

    # Reads -----------------------------------------------------------------------------------

    def _read(self, run: Callable[[Cursor], _T]) -> _T:
        tx = self._current()
        if tx is not None:
            with translated():
                self.queries.flush(tx.cursor, tx.pending)
                return run(tx.cursor)
        with self._read_lock:
            connection = self._take()
            cursor = None
            try:
                cursor = self._cursor(connection)
                try:
                    with translated():
                        return run(cursor)
                finally:
                    cursor.close()
            finally:
                self._give(connection, discard=getattr(cursor, "doubtful", False))

    def _read_snapshot(self, run: Callable[[Cursor], _T]) -> _T:
        if self._current() is not None:  # the thread's transaction: its own snapshot
            return self._read(run)
        sql = self.queries.sql

        def in_one_snapshot(cur: Cursor) -> _T:
            if _in_transaction(cur.connection):
                # sqlite:// shares one connection with an app whose transaction is open.
                return run(cur)
            cur.execute(sql.begin_snapshot)
            try:
                result = run(cur)
            except BaseException:
                with suppress(Exception):
                    cur.execute(sql.rollback)
                raise
            cur.execute(sql.commit)
            return result

        return self._read(in_one_snapshot)

    def ack_outbox(self, event_ids: Sequence[str]) -> None:
        if not event_ids:
            return
        # A delete is a write: on SQLite it waits for the write lock like a unit of work.
        with self.batch():
            super().ack_outbox(event_ids)

    def drain_outbox(self, limit: int, deliver: Callable[[list[OutboxMessage]], None]) -> int:
        """PostgreSQL: one transaction of its own takes the rows (``FOR UPDATE SKIP
        LOCKED``), delivers, deletes them and commits; a drain meanwhile skips them, and an
        error rolls back, so the rows wait for the next drain.

        SQLite: a transaction there holds the database's write lock, which no drain may keep
        while subscribers run. Drains take turns instead, those of other processes too
        (:class:`DrainTurns`): each reads, delivers, then deletes in a short write.
        """
        if self.dialect == "sqlite":
            return self._drain_in_turns(self._drain_lock, limit, deliver)
        if limit <= 0:
            return 0
        sql = self.queries.sql
        connection = self._take()
        discard = False
        cur = None
        try:
            cur = self._cursor(connection)
            try:
                with translated():
                    cur.execute(sql.begin)
                try:
                    with translated():
                        messages = self.queries.pending_outbox(cur, limit, claim=True)
                    if messages:
                        deliver(messages)
                        with translated():
                            self.queries.ack_outbox(cur, [m.event_id for m in messages])
                    with translated():
                        cur.execute(sql.commit)
                except BaseException:
                    try:
                        cur.execute(sql.rollback)
                    except Exception:
                        discard = True
                    raise
            finally:
                with suppress(Exception):
                    cur.close()
        except StoreError:
            discard = True  # as after a refused unit of work (see _end)
            raise
        finally:
            self._give(connection, discard=discard or getattr(cur, "doubtful", False))
        return len(messages)

    # App sessions ------------------------------------------------------------------------------

    def bind(self, session: Any, *, on_commit: Callable[[list[OutboxMessage]], None]) -> Store:
        """A store writing through the app's SQLAlchemy ``Session`` or ``Connection``.

        Its units of work run in the app's transaction, each inside a savepoint
        (an error leaves nothing of it); it neither commits nor retries. The
        domain events of its units go to ``on_commit`` after the app commits, and
        are dropped if the app rolls back. See :class:`BoundSQLStore`.
        """
        from ._bound import BoundSQLStore

        return BoundSQLStore(self, session, on_commit)

    def _forget_inherited(self) -> None:
        """In a forked child: the parent's connections share its sockets, so they are kept
        (closing one would end the parent's session) but never used; new ones are made.
        The locks are new too: one a parent's thread held at the fork would stay held."""
        self._inherited.extend(self._idle)
        self._idle = []
        self.engine.dispose(close=False)
        if self.database_file is not None:
            self._write_lock = _file_lock(self.database_file)
            self._drain_lock = _drain_lock(self.database_file)
        elif self.dialect == "sqlite":  # in memory: one lock for the one connection
            self._write_lock = self._read_lock = threading.RLock()
            self._drain_lock = threading.Lock()

    def close(self) -> None:
        """Close the pool's connections (units of work still open keep theirs)."""
        while self._idle:
            with suppress(Exception):
                self._idle.pop().close()
        self.engine.dispose()


_STORES: weakref.WeakSet[SQLStore] = weakref.WeakSet()


def _after_fork() -> None:
    global _FILE_LOCKS_GUARD
    _FILE_LOCKS_GUARD = threading.Lock()
    _FILE_LOCKS.clear()
    for turns in _DRAIN_LOCKS.values():
        turns.close_inherited()
    _DRAIN_LOCKS.clear()
    for store in list(_STORES):
        store._forget_inherited()


os.register_at_fork(after_in_child=_after_fork)


class _UnitScope(AbstractContextManager[UnitOfWork]):
    """A unit of work: the thread's open transaction (a batch's) or a new one."""

    __slots__ = ("_ids", "_own", "_store")

    def __init__(self, store: SQLStore, member_ids: Sequence[str]) -> None:
        self._store = store
        self._ids = member_ids
        self._own: _Transaction | None = None

    def __enter__(self) -> UnitOfWork:
        store = self._store
        tx = store._current()
        if tx is None:
            tx = self._own = store._begin(self._ids)
        else:
            tx.pending.statements += store.queries.lock_members(self._ids, tx.locked)
        # The store owns the transaction: on PostgreSQL a unit's writes wait for its next
        # read or the COMMIT, and a refused one fails the whole transaction.
        return SQLUnit(
            store.queries,
            tx.cursor,
            pending=tx.pending,
            member_ids=self._ids,
            defer=store.dialect == "postgresql",
        )

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if self._own is not None:
            self._store._end(self._own, error=exc)


class _BatchScope(AbstractContextManager[None]):
    """One transaction for every unit of work the thread opens inside."""

    __slots__ = ("_ids", "_own", "_store")

    def __init__(self, store: SQLStore, member_ids: Sequence[str]) -> None:
        self._store = store
        self._ids = member_ids
        self._own: _Transaction | None = None

    def __enter__(self) -> None:
        tx = self._store._current()
        if tx is None:
            self._own = self._store._begin(self._ids)
        else:
            tx.pending.statements += self._store.queries.lock_members(self._ids, tx.locked)

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if self._own is not None:
            self._store._end(self._own, error=exc)


def _with_lock_timeout(given: object, lock_timeout: float) -> str:
    """The libpq ``options`` with the store's lock timeout added, keeping the app's own
    settings (a ``search_path``, say) and its own lock timeout if it sets one."""
    setting = f"-c lock_timeout={max(1, int(lock_timeout * 1000))}"
    if not isinstance(given, str) or not given.strip():
        return setting
    return given if "lock_timeout" in given else f"{given} {setting}"


def _sqlite_in_memory(url: URL) -> bool:
    return (url.database or "") in ("", ":memory:") or url.query.get("mode") == "memory"


def _check_wal_autocheckpoint(pages: object, url: URL) -> None:
    """Refuse a ``wal_autocheckpoint`` that is not a positive number of pages, or that is
    given where there is no write-ahead log (PostgreSQL, an in-memory SQLite database)."""
    if pages is None:
        return
    if isinstance(pages, bool) or not isinstance(pages, int) or pages < 1:
        raise ConfigurationError(
            f"wal_autocheckpoint is a number of pages, a positive integer: not {pages!r}"
        )
    if url.get_backend_name() != "sqlite" or _sqlite_in_memory(url):
        raise ConfigurationError(
            "wal_autocheckpoint applies to a SQLite database file, which has a write-ahead "
            f"log: not to {url.render_as_string(hide_password=True)!r}"
        )


def _normalize_url(url: str | URL) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"not a database URL: {url!r} ({exc})") from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "sqlite":
        if driver != "pysqlite":
            raise ConfigurationError(
                f"the SQL store runs SQLite through the standard sqlite3 module, not {driver!r}: "
                "use a sqlite:/// URL"
            )
        return parsed
    if backend == "postgresql":
        if "+" not in parsed.drivername:
            return parsed.set(drivername="postgresql+psycopg")
        if driver != "psycopg":
            raise ConfigurationError(
                f"the SQL store runs PostgreSQL through psycopg 3, not {driver!r}: "
                "use a postgresql+psycopg:// URL"
            )
        return parsed
    raise ConfigurationError(f"the SQL store supports SQLite and PostgreSQL, not {backend!r}")


def _in_transaction(connection: Any) -> bool:
    """Whether a DBAPI connection (sqlite3 or psycopg) is inside a transaction."""
    if hasattr(connection, "in_transaction"):  # sqlite3
        return bool(connection.in_transaction)
    from psycopg.pq import TransactionStatus

    return bool(connection.info.transaction_status != TransactionStatus.IDLE)


def _file_path(database: str) -> str:
    """The database file's real path (also for a ``file:`` URI with a query)."""
    return os.path.realpath(database.removeprefix("file:").split("?", 1)[0])


def create_schema(url: str | URL, *, prefix: str = DEFAULT_PREFIX, **options: Any) -> None:
    """Create the SQL store's tables at ``url`` (for apps without Alembic).

    Existing tables are left as they are; ``options`` are :class:`SQLStore`'s.
    """
    SQLStore(url, prefix=prefix, create=True, **options).close()
