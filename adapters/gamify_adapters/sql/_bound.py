"""The SQL store joined to an app's own SQLAlchemy ``Session`` or ``Connection``.

Made by :meth:`SQLStore.bind` (``engine.using(session)`` calls it). Writes go into
the app's transaction, so an award commits or rolls back with the app's own
rows (the order, the workout):

* every unit of work (and every batch) runs inside a savepoint: an error inside
  it, a refused write or a crash between two writes rolls back to the
  savepoint and leaves nothing, and the app's transaction stays usable;
* nothing commits and nothing is retried here: a lock timeout, deadlock,
  serialization failure or SQLite busy error surfaces as
  :class:`~gamify.errors.ConcurrencyError` and the app retries its transaction;
* the units' domain events (their outbox rows are written in the app's
  transaction too) are handed to ``on_commit`` after the app's transaction
  commits: for a ``Session`` after its commit (a ``begin_nested`` savepoint that
  rolls back drops its events), for a ``Connection`` from its ``commit`` event,
  after the driver's commit has been made. A ``Session`` bound to a
  ``Connection`` (joined to a transaction the app began) waits for that
  Connection's commit. On rollback nothing is delivered.

On SQLite the app's transaction should begin IMMEDIATE (see
:func:`gamify_adapters.sql.begin_immediate`). If it has not begun at all when a
unit of work starts, the unit begins it IMMEDIATE itself; on PostgreSQL, a
connection in autocommit mode (an app engine with ``isolation_level="AUTOCOMMIT"``)
gets a BEGIN the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction

from gamify.errors import ConfigurationError
from gamify.store import (
    OutboxMessage,
    Store,
    UnitOfWork,
)

from ._errors import translated
from ._queries import Cursor, Pending, SQLUnit
from ._reads import SQLReads
from ._statements import Statements
from ._store import _in_transaction

if TYPE_CHECKING:
    from ._store import SQLStore

__all__ = ["BoundSQLStore"]

log = logging.getLogger("gamify")

_T = TypeVar("_T")
OnCommit = Callable[[list[OutboxMessage]], None]


def _autocommit(dbapi: Any) -> bool:
    """Whether the driver connection runs in autocommit mode (psycopg; SQLite is handled first)."""
    return getattr(dbapi, "autocommit", False) is True


def _deliver(on_commit: OnCommit, messages: list[OutboxMessage]) -> None:
    # Delivery never raises into the app's commit.
    try:
        on_commit(messages)
    except Exception:
        log.exception("delivering %d domain events after the app's commit failed", len(messages))


class _SessionHooks:
    """Domain events of a Session's transactions, delivered after its commit."""

    def __init__(self, session: Session, on_commit: OnCommit) -> None:
        self._session = session
        self._on_commit = on_commit
        self._pending: dict[SessionTransaction, list[OutboxMessage]] = {}
        self._outcome: str | None = None
        event.listen(session, "after_commit", self._after_commit)
        event.listen(session, "after_rollback", self._after_rollback)
        event.listen(session, "after_transaction_end", self._after_transaction_end)

    def record(self, messages: list[OutboxMessage]) -> None:
        if not messages:
            return
        session = self._session
        trans = session.get_nested_transaction() or session.get_transaction()
        if trans is None:  # pragma: no cover - a unit of work always runs in a transaction
            raise ConfigurationError("the app's session has no transaction")
        self._pending.setdefault(trans, []).extend(messages)

    # SQLAlchemy fires after_commit (or after_rollback) and then after_transaction_end
    # for each transaction, the outermost and each begin_nested savepoint alike; a
    # transaction closed without either (Session.close()) did not commit.
    def _after_commit(self, session: Session) -> None:
        self._outcome = "commit"

    def _after_rollback(self, session: Session) -> None:
        self._outcome = "rollback"

    def _after_transaction_end(self, session: Session, trans: SessionTransaction) -> None:
        outcome, self._outcome = self._outcome, None
        messages = self._pending.pop(trans, None)
        if not messages or outcome != "commit":
            return
        if trans.parent is not None:
            self._pending.setdefault(trans.parent, []).extend(messages)
        else:
            _deliver(self._on_commit, messages)


class _ConnectionHooks:
    """Domain events of a Connection's transaction, delivered after its commit."""

    def __init__(self, connection: Connection, on_commit: OnCommit) -> None:
        self.connection = connection
        self._on_commit = on_commit
        # The outer transaction, then each open begin_nested savepoint by name.
        self._stack: list[tuple[str | None, list[OutboxMessage]]] = [(None, [])]
        event.listen(connection, "savepoint", self._savepoint)
        event.listen(connection, "release_savepoint", self._release_savepoint)
        event.listen(connection, "rollback_savepoint", self._rollback_savepoint)
        event.listen(connection, "commit", self._commit)
        event.listen(connection, "rollback", self._rollback)

    def record(self, messages: list[OutboxMessage]) -> None:
        self._stack[-1][1].extend(messages)

    def _savepoint(self, conn: Connection, name: str) -> None:
        self._stack.append((name, []))

    def _pop(self, name: str) -> list[OutboxMessage]:
        """The events of savepoint ``name`` and of those opened inside it, which it ends.

        SQLAlchemy announces a savepoint whose name it makes up (``begin_nested()``)
        with the name None: such a savepoint is the innermost one open, the one ended.
        """
        out: list[OutboxMessage] = []
        while len(self._stack) > 1:
            top, messages = self._stack.pop()
            out = messages + out
            if top is None or top == name:
                break
        return out

    def _release_savepoint(self, conn: Connection, name: str, context: Any) -> None:
        released = self._pop(name)  # first: the enclosing level is the top only after it
        self._stack[-1][1].extend(released)

    def _rollback_savepoint(self, conn: Connection, name: str, context: Any) -> None:
        self._pop(name)

    def _rollback(self, conn: Connection) -> None:
        self._stack = [(None, [])]

    def _commit(self, conn: Connection) -> None:
        # SQLAlchemy announces a commit before making it; make it first (its own
        # commit then finds nothing to do) so that events follow a real commit.
        messages = [m for _, batch in self._stack for m in batch]
        self._stack = [(None, [])]
        try:
            conn.connection.driver_connection.commit()  # type: ignore[union-attr]  # open here
        except Exception as exc:
            raise _as_sqlalchemy_error(conn, exc) from exc
        if messages:
            _deliver(self._on_commit, messages)


def _as_sqlalchemy_error(conn: Connection, exc: Exception) -> Exception:
    """The error SQLAlchemy itself raises when a commit fails (``IntegrityError`` for a
    deferred constraint, say), so joining the app's connection changes no error it sees;
    a lost connection is invalidated, as SQLAlchemy would."""
    dialect = conn.dialect
    base = dialect.loaded_dbapi.Error
    if not isinstance(exc, base):
        return exc
    lost = dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)
    if lost:
        conn.invalidate(exc)
    return DBAPIError.instance(None, None, exc, base, connection_invalidated=lost, dialect=dialect)


def _hooks(target: Session | Connection, on_commit: OnCommit) -> _SessionHooks | _ConnectionHooks:
    """The commit hooks of ``target`` for ``on_commit``: made once, however often the app
    binds the same session (``engine.using(session)`` per call) for the same engine.

    A session bound to a Connection (an app's or a test's outer transaction, joined
    with ``join_transaction_mode``) uses the Connection's hooks: its own commit may only
    release a savepoint, and events wait for the Connection's real commit.
    """
    if isinstance(target, Session) and isinstance(target.bind, Connection):
        target = target.bind
    registry: dict[OnCommit, _SessionHooks | _ConnectionHooks]
    registry = target.info.setdefault("gamify_commit_hooks", {})
    hooks = registry.get(on_commit)
    # Connection.info belongs to the pooled DBAPI connection and outlives the Connection
    # object: hooks listening on an earlier Connection are of no use to this one.
    if hooks is None or (isinstance(hooks, _ConnectionHooks) and hooks.connection is not target):
        if isinstance(target, Session):
            hooks = _SessionHooks(target, on_commit)
        else:
            hooks = _ConnectionHooks(target, on_commit)
        registry[on_commit] = hooks
    return hooks


class BoundSQLStore(SQLReads):
    """A :class:`SQLStore` writing through an app's ``Session`` or ``Connection``."""

    capabilities = frozenset({"batch", "app_session"})
    bound = True

    def __init__(self, parent: SQLStore, target: Any, on_commit: OnCommit) -> None:
        self.parent = parent
        self.queries = parent.queries
        self.tables = parent.tables
        self._target = target
        if isinstance(target, Session):
            dialect = target.get_bind().dialect.name
        elif isinstance(target, Connection):
            dialect = target.dialect.name
        else:
            raise ConfigurationError(
                f"bind() takes a SQLAlchemy Session or Connection, not {type(target).__name__}"
            )
        if dialect != parent.dialect:
            raise ConfigurationError(
                f"the app's session is on {dialect}, the store on {parent.dialect}"
            )
        # The events of each open savepoint (batch, then unit of work), innermost last.
        self._open: list[list[OutboxMessage]] = []
        self._hooks = _hooks(target, on_commit)

    def __repr__(self) -> str:
        return f"BoundSQLStore({self.parent!r})"

    def _dbapi(self) -> Any:
        """The driver connection of the app's transaction (begun if it was not)."""
        target = self._target
        if isinstance(target, Session):
            conn = target.connection()
        else:
            conn = target
            if not conn.in_transaction():
                conn.begin()
        return conn.connection.driver_connection

    @contextmanager
    def _scope(self) -> Iterator[tuple[Cursor, list[OutboxMessage]]]:
        """A savepoint in the app's transaction; its events go up only if it is released."""
        with translated():
            dbapi = self._dbapi()
            cur = dbapi.cursor()
        try:
            if self.parent.dialect == "sqlite" and not dbapi.in_transaction:
                with translated():
                    cur.execute("BEGIN IMMEDIATE")
            elif _autocommit(dbapi) and not _in_transaction(dbapi):
                # An app engine in autocommit mode: the call begins the transaction that
                # the app's commit or rollback ends (psycopg begins one itself otherwise).
                with translated():
                    cur.execute("BEGIN")
            begin, release, rollback = Statements.savepoint(f"gamify_unit{len(self._open)}")
            with translated():
                cur.execute(begin)
            sent: list[OutboxMessage] = []
            self._open.append(sent)
            try:
                yield cur, sent
            except BaseException:
                self._open.pop()
                with suppress(Exception):
                    cur.execute(rollback)
                    cur.execute(release)
                raise
            self._open.pop()
            with translated():
                cur.execute(release)
            if self._open:
                self._open[-1].extend(sent)
            else:
                self._hooks.record(sent)
        finally:
            cur.close()

    def unit_of_work(self, member_ids: Sequence[str]) -> AbstractContextManager[UnitOfWork]:
        @contextmanager
        def run() -> Iterator[UnitOfWork]:
            with self._scope() as (cur, sent):
                # The locks go out with the unit's first statement.
                locks = Pending(self.queries.lock_members(member_ids, set()), begun=True)
                yield SQLUnit(self.queries, cur, sent, locks, member_ids)

        return run()

    @contextmanager
    def _batch(self, member_ids: Sequence[str]) -> Iterator[None]:
        with self._scope() as (cur, _):
            locks = self.queries.lock_members(member_ids, set())
            if locks:
                with translated():
                    self.queries.send(cur, locks)
            yield

    def batch(self, member_ids: Sequence[str] = ()) -> AbstractContextManager[None]:
        return self._batch(member_ids)

    # Reads, in the app's transaction ------------------------------------------------------

    def _read(self, run: Callable[[Cursor], _T]) -> _T:
        with translated():
            cur = self._dbapi().cursor()
            try:
                return run(cur)
            finally:
                cur.close()

    def drain_outbox(self, limit: int, deliver: Callable[[list[OutboxMessage]], None]) -> int:
        """Takes, delivers and deletes in the app's transaction: on PostgreSQL the rows stay
        locked (other drains skip them) until the app commits, and a rollback brings them
        back for a later drain."""
        messages = self._read(lambda cur: self.queries.pending_outbox(cur, limit, claim=True))
        if messages:
            deliver(messages)
            self.ack_outbox([m.event_id for m in messages])
        return len(messages)

    def bind(self, session: Any, *, on_commit: Callable[[list[OutboxMessage]], None]) -> Store:
        return self.parent.bind(session, on_commit=on_commit)
