"""The SQL store inside an app's own transaction (``engine.using(session)``), and crashes.

An award commits or rolls back with the app's own rows; domain events are
delivered once, after the app's commit, and never after a rollback; an error or a
crash between two of the store's writes leaves nothing of the unit of work.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from gamify_adapters.sql import SQLStore, _queries, begin_immediate, immediate_session
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, create_engine, func
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy import select as sa_select
from sqlalchemy.engine import make_url
from sqlmodel import Session

import gamify
from gamify import InsufficientBalanceError, ManualClock, Program
from gamify.errors import ConcurrencyError

if TYPE_CHECKING:
    from conftest import StoreTarget  # tests/conftest.py

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

PROGRAM = Program.from_dict(
    {
        "timezone": "UTC",
        "actions": {"purchase": {"amount": "required"}},
        "rules": [{"name": "spend", "action": "purchase", "per_amount": 1}],
    }
)


@dataclass
class App:
    """An app with its own SQLAlchemy engine and table, and a gamify engine on the same database."""

    store: SQLStore
    db: Engine
    orders: Table
    engine: gamify.Engine
    delivered: list[str] = field(default_factory=list)

    def order(self, session: Session, member_id: str, total: int) -> None:
        """The app's own write: an order row."""
        session.execute(self.orders.insert().values(member_id=member_id, total=total))

    def orders_of(self, member_id: str) -> int:
        with self.db.connect() as conn:
            count = conn.execute(
                sa_select(func.count()).where(self.orders.c.member_id == member_id)
            ).scalar_one()
            return int(count)

    def gamify_rows(self, member_id: str) -> dict[str, Any]:
        """What the store holds about ``member_id``, read outside the app's transaction."""
        return {
            "member": self.store.get_member(member_id),
            "balances": self.store.get_balances(member_id),
            "history": self.store.history(member_id),
            "outbox": self.store.pending_outbox(),
        }


@pytest.fixture
def app(gamify_sql_target: StoreTarget) -> Iterator[App]:
    store = gamify_sql_target.open()
    assert isinstance(store, SQLStore)
    db = create_engine(gamify_sql_target.url)
    begin_immediate(db)
    prefix = gamify_sql_target.options.get("prefix", "app_")
    orders = Table(
        f"{prefix}orders",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("member_id", String(64), nullable=False),
        Column("total", Integer, nullable=False),
    )
    orders.create(db)
    engine = gamify.Engine(PROGRAM, store=store, clock=ManualClock(NOW))
    app = App(store, db, orders, engine)
    engine.on("*", lambda event: app.delivered.append(f"{event.name}:{event.member_id}"))
    yield app
    orders.drop(db)
    db.dispose()
    store.close()


def test_rollback_keeps_nothing_and_delivers_nothing(app: App) -> None:
    """When the app rolls back, neither its order nor the award is stored, and no event is
    delivered."""
    with immediate_session(app.db) as session:
        app.order(session, "alice", 30)
        outcome = app.engine.using(session).track("alice", "purchase", amount=30)
        assert outcome.credits[0].amount == 30
        session.rollback()
    assert app.orders_of("alice") == 0
    assert app.gamify_rows("alice") == {
        "member": None,
        "balances": {},
        "history": [],
        "outbox": [],
    }
    assert app.delivered == []


def test_commit_stores_both_and_delivers_once_after_commit(app: App) -> None:
    """When the app commits, its order and the award are stored together, and the award's
    event is delivered once, only after the commit."""
    with immediate_session(app.db) as session:
        app.order(session, "alice", 30)
        bound = app.engine.using(session)
        bound.track("alice", "purchase", amount=30)
        assert bound.balance("alice") == 30  # the app's transaction sees its own award
        assert app.delivered == []
        session.commit()
        assert app.delivered == ["credited:alice"]
        session.commit()  # a later commit with nothing new delivers nothing again
    assert app.delivered == ["credited:alice"]
    assert app.orders_of("alice") == 1
    assert app.engine.balance("alice") == 30
    assert app.store.pending_outbox() == []  # acknowledged after delivery


def test_a_batch_in_the_app_session_delivers_every_event_after_commit(app: App) -> None:
    """track_many inside the app's transaction: each of its events is delivered once, after
    the app commits, none before."""
    with immediate_session(app.db) as session:
        app.order(session, "alice", 30)
        app.engine.using(session).track_many(
            [
                {"member_id": "alice", "action": "purchase", "amount": 30},
                {"member_id": "bob", "action": "purchase", "amount": 5},
            ]
        )
        assert app.delivered == []
        session.commit()
    assert sorted(app.delivered) == ["credited:alice", "credited:bob"]
    assert app.store.pending_outbox() == []


def test_session_used_for_several_transactions(app: App) -> None:
    """Each of a session's transactions delivers its own events at its own commit."""
    with immediate_session(app.db) as session:
        bound = app.engine.using(session)
        bound.track("alice", "purchase", amount=1)
        session.rollback()
        bound.track("bob", "purchase", amount=2)
        session.commit()
        bound.track("carol", "purchase", amount=3)
        session.commit()
    assert app.delivered == ["credited:bob", "credited:carol"]
    assert [app.engine.balance(m) for m in ("alice", "bob", "carol")] == [0, 2, 3]


def test_binding_a_session_per_call(app: App) -> None:
    """Binding the same session again for each call delivers each event once."""
    with immediate_session(app.db) as session:
        for amount in (1, 2, 3):
            app.engine.using(session).track("alice", "purchase", amount=amount)
        session.commit()
    assert app.delivered == ["credited:alice"] * 3
    assert app.engine.balance("alice") == 6


def test_rolled_back_savepoint_drops_its_events(app: App) -> None:
    """An award inside a savepoint that the app rolls back is neither stored nor delivered;
    one in a released savepoint is."""
    with immediate_session(app.db) as session:
        bound = app.engine.using(session)
        nested = session.begin_nested()
        bound.track("alice", "purchase", amount=5)
        nested.rollback()
        with session.begin_nested():
            bound.track("bob", "purchase", amount=6)
        session.commit()
    assert app.delivered == ["credited:bob"]
    assert app.engine.balance("alice") == 0
    assert app.engine.balance("bob") == 6


def test_app_connection_commit_and_rollback(app: App) -> None:
    """The store also joins a Core Connection: a rollback keeps and delivers nothing, a
    commit stores the award and then delivers its event."""
    with app.db.connect() as conn:
        conn.execute(app.orders.insert().values(member_id="alice", total=9))
        app.engine.using(conn).track("alice", "purchase", amount=9)
        conn.rollback()
        assert app.delivered == []
        conn.execute(app.orders.insert().values(member_id="bob", total=4))
        app.engine.using(conn).track("bob", "purchase", amount=4)
        assert app.delivered == []
        conn.commit()
        assert app.delivered == ["credited:bob"]
    assert (app.orders_of("alice"), app.orders_of("bob")) == (0, 1)
    assert (app.engine.balance("alice"), app.engine.balance("bob")) == (0, 4)


def test_a_failed_commit_of_an_app_connection_raises_what_sqlalchemy_raises(
    app: App, gamify_sql_target: StoreTarget
) -> None:
    """A deferred constraint fails at COMMIT: the app sees SQLAlchemy's IntegrityError
    (as without gamify), and nothing is delivered or kept."""
    prefix = gamify_sql_target.options.get("prefix", "app_")
    if app.db.dialect.name == "sqlite":
        sa_event.listen(app.db, "connect", lambda dbapi, _: dbapi.execute("PRAGMA foreign_keys=ON"))
        app.db.dispose()
    with app.db.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {prefix}parent (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql(
            f"CREATE TABLE {prefix}child (id INTEGER PRIMARY KEY, parent INTEGER "
            f"REFERENCES {prefix}parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )
    try:
        with app.db.connect() as conn:
            conn.exec_driver_sql(f"INSERT INTO {prefix}child VALUES (1, 99)")  # no parent 99
            app.engine.using(conn).track("alice", "purchase", amount=9)
            with pytest.raises(sa_exc.IntegrityError):
                conn.commit()
            conn.rollback()
        assert app.delivered == []
        assert app.engine.balance("alice") == 0
        assert app.store.pending_outbox() == []
    finally:
        with app.db.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {prefix}child")
            conn.exec_driver_sql(f"DROP TABLE {prefix}parent")


def test_savepoints_of_an_app_connection_keep_or_drop_their_events(app: App) -> None:
    """On a Core Connection: an award before any savepoint, one in a released savepoint
    (nested twice) and one in a rolled-back savepoint; the commit delivers the first two."""
    with app.db.connect() as conn:
        bound = app.engine.using(conn)
        bound.track("ann", "purchase", amount=1)
        with conn.begin_nested(), conn.begin_nested():
            bound.track("bob", "purchase", amount=2)
        dropped = conn.begin_nested()
        bound.track("cy", "purchase", amount=3)
        dropped.rollback()
        assert app.delivered == []
        conn.commit()
    assert app.delivered == ["credited:ann", "credited:bob"]
    balances = [app.engine.balance(m) for m in ("ann", "bob", "cy")]
    assert balances == [1, 2, 0]
    assert app.store.pending_outbox() == []


def test_refused_write_leaves_the_app_transaction_usable(app: App) -> None:
    """A redemption refused inside the app's transaction writes nothing, and the app can
    still commit its own rows (on PostgreSQL too, where an error would abort it)."""
    app.engine.track("alice", "purchase", amount=10)
    with immediate_session(app.db) as session:
        bound = app.engine.using(session)
        app.order(session, "alice", 1)
        with pytest.raises(InsufficientBalanceError):
            bound.redeem("alice", 11)
        bound.redeem("alice", 4)
        session.commit()
    assert app.orders_of("alice") == 1
    assert app.engine.balance("alice") == 6
    assert app.delivered == ["credited:alice", "redeemed:alice"]


def _crash_at_lot_insert(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the store fail in the middle of its write: after the member, balance and
    ledger rows, at the new lot (on SQLite those rows went out already)."""

    def lot_row(*args: Any) -> tuple[Any, ...]:
        raise RuntimeError("crash between writes")

    monkeypatch.setattr(_queries, "_lot_row", lot_row)


def test_crash_between_writes_leaves_nothing(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash in the middle of the store's writes leaves no member, balance, entry or event."""
    _crash_at_lot_insert(monkeypatch)
    with pytest.raises(RuntimeError, match="crash between writes"):
        app.engine.track("alice", "purchase", amount=30, key="o-1")
    assert app.gamify_rows("alice") == {
        "member": None,
        "balances": {},
        "history": [],
        "outbox": [],
    }
    assert app.delivered == []
    monkeypatch.undo()
    app.engine.track("alice", "purchase", amount=30, key="o-1")
    assert app.engine.balance("alice") == 30
    assert app.delivered == ["credited:alice"]


def test_crash_inside_the_app_transaction_leaves_nothing(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash in the store's writes inside the app's transaction leaves nothing of the
    award, even when the app catches it and commits its own rows."""
    _crash_at_lot_insert(monkeypatch)
    with immediate_session(app.db) as session:
        app.order(session, "alice", 30)
        with pytest.raises(RuntimeError, match="crash between writes"):
            app.engine.using(session).track("alice", "purchase", amount=30)
        session.commit()
    assert app.orders_of("alice") == 1
    assert app.gamify_rows("alice") == {
        "member": None,
        "balances": {},
        "history": [],
        "outbox": [],
    }
    assert app.delivered == []


def test_session_without_the_helper(app: App) -> None:
    """A session on an engine without begin_immediate still works: the store begins the
    transaction itself when it is first to write."""
    plain = create_engine(app.db.url)
    try:
        with Session(plain) as session:
            app.engine.using(session).track("alice", "purchase", amount=3)
            session.commit()
    finally:
        plain.dispose()
    assert app.engine.balance("alice") == 3
    assert app.delivered == ["credited:alice"]


def test_each_connection_from_the_pool_delivers_its_own_events(app: App) -> None:
    """A Connection per request, as a web app takes them: each commit delivers that
    request's event once, though the pool hands out the same DBAPI connection again."""
    for member in ("u1", "u2", "u3"):
        with app.db.connect() as connection:
            app.engine.using(connection).track(member, "purchase", amount=10)
            connection.commit()
    assert app.delivered == ["credited:u1", "credited:u2", "credited:u3"]
    assert app.store.pending_outbox() == []


@pytest.mark.parametrize("mode", ["rollback_only", "create_savepoint"])
@pytest.mark.parametrize("outer_ends", ["rollback", "commit"])
def test_a_session_joined_to_an_outer_transaction_delivers_only_after_its_commit(
    app: App, mode: str, outer_ends: str
) -> None:
    """A Session bound to a Connection whose transaction the app (or a test) began: the
    session's commit delivers nothing; the outer rollback keeps nothing and delivers
    nothing, the outer commit delivers the event once."""
    with app.db.connect() as connection:
        outer = connection.begin()
        session = Session(bind=connection, join_transaction_mode=mode)  # type: ignore[arg-type]
        app.engine.using(session).track("alice", "purchase", amount=10)
        session.commit()
        session.close()
        assert app.delivered == []
        getattr(outer, outer_ends)()
    if outer_ends == "rollback":
        assert app.delivered == []
        assert app.store.get_balances("alice") == {}
    else:
        assert app.delivered == ["credited:alice"]
        assert app.store.get_balances("alice") == {"points": 10}
    assert app.store.pending_outbox() == []


def _hold_member_lock(
    target: StoreTarget, store: SQLStore, member_id: str
) -> tuple[threading.Event, threading.Event]:
    """Another connection takes the member's lock and holds it until released."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        if target.kind == "sqlite":
            import sqlite3

            conn = sqlite3.connect(str(make_url(target.url).database), isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
        else:
            import psycopg

            url = make_url(target.url).set(drivername="postgresql")
            conn = psycopg.connect(url.render_as_string(hide_password=False))
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (store.queries.lock_key(member_id),))
        held.set()
        release.wait(timeout=120)
        conn.rollback()
        conn.close()

    threading.Thread(target=hold, daemon=True).start()
    assert held.wait(timeout=60)
    return held, release


def _track_while_locked(target: StoreTarget, store: SQLStore, engine: gamify.Engine) -> None:
    """Track for "alice" while another connection holds her lock: ConcurrencyError."""
    _, release = _hold_member_lock(target, store, "alice")
    try:
        with pytest.raises(ConcurrencyError):
            engine.track("alice", "purchase", amount=1)
    finally:
        release.set()


def _short_waits(target: StoreTarget) -> dict[str, Any]:
    return {"busy_timeout": 0.2} if target.kind == "sqlite" else {"lock_timeout": 0.2}


def test_lock_timeout_is_retried_outside_an_app_session(
    gamify_sql_target: StoreTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member locked elsewhere past the lock timeout is retried a bounded number of times,
    then raised as ConcurrencyError."""
    store = gamify_sql_target.open(**_short_waits(gamify_sql_target))
    assert isinstance(store, SQLStore)
    engine = gamify.Engine(PROGRAM, store=store, clock=ManualClock(NOW), max_retries=2)
    attempts: list[int] = []
    real = store.unit_of_work
    monkeypatch.setattr(store, "unit_of_work", lambda ids: attempts.append(1) or real(ids))
    _track_while_locked(gamify_sql_target, store, engine)
    assert len(attempts) == 3
    store.close()


def test_a_store_keeps_working_after_lock_timeouts(gamify_sql_target: StoreTarget) -> None:
    """Round after round a locked member times out, and the next, uncontended event still
    succeeds: a connection whose transaction the database refused is not reused (psycopg's
    prepared statements could be missing on it). PostgreSQL only: on SQLite the holder's lock
    covers the whole file, so the next event would wait for the holder to let go."""
    if gamify_sql_target.kind != "postgres":
        pytest.skip("a PostgreSQL connection's state; SQLite locks the whole file")
    store = gamify_sql_target.open(**_short_waits(gamify_sql_target))
    assert isinstance(store, SQLStore)
    engine = gamify.Engine(PROGRAM, store=store, clock=ManualClock(NOW), max_retries=0)
    try:
        for round_ in range(8):  # past psycopg's threshold for preparing a statement
            _track_while_locked(gamify_sql_target, store, engine)
            assert engine.track(f"m{round_}", "purchase", amount=1).total() == 1
    finally:
        store.close()


def test_lock_timeout_is_not_retried_in_an_app_session(
    gamify_sql_target: StoreTarget, app: App
) -> None:
    """Inside the app's transaction a lock timeout surfaces at once as ConcurrencyError:
    the app retries its own transaction."""
    waits = (
        {"connect_args": {"timeout": 0.2}}
        if gamify_sql_target.kind == "sqlite"
        else {"connect_args": {"options": "-c lock_timeout=200"}}
    )
    db = begin_immediate(create_engine(gamify_sql_target.url, **waits))
    _, release = _hold_member_lock(gamify_sql_target, app.store, "alice")
    try:
        with Session(db) as session:
            bound = app.engine.using(session)
            assert getattr(bound.store, "bound", False)
            with pytest.raises(ConcurrencyError):
                bound.track("alice", "purchase", amount=1)
    finally:
        release.set()
        db.dispose()
    app.engine.track("alice", "purchase", amount=2)
    assert app.engine.balance("alice") == 2


def test_a_rank_read_while_an_app_transaction_is_open_on_the_one_connection() -> None:
    """On sqlite:// the store and the app share one connection: a rank read from the store
    while the app's transaction is open reads inside it, rather than failing to begin its
    own snapshot."""
    store = gamify.open_store("sqlite://")
    engine = gamify.Engine(PROGRAM, store=store, clock=ManualClock(NOW))
    engine.track("a", "purchase", amount=30)
    engine.track("b", "purchase", amount=60)
    assert isinstance(store, SQLStore)
    begin_immediate(store.engine)
    with Session(store.engine) as session:
        engine.using(session).track("a", "purchase", amount=100)
        row = engine.rank("a")
        assert row is not None and (row.rank, row.score) == (1, 130)
        session.rollback()
    row = engine.rank("a")
    assert row is not None and (row.rank, row.score) == (2, 30)
    store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("isolation", ["REPEATABLE READ", "SERIALIZABLE"])
def test_a_serialization_failure_in_an_app_session_is_raised_not_retried(
    gamify_pg_target: StoreTarget, monkeypatch: pytest.MonkeyPatch, isolation: str
) -> None:
    """An app transaction whose snapshot predates another commit for the member gets
    ConcurrencyError from its first attempt (the store retries nothing inside it); nothing
    of the call stays or is delivered, and the app's retry in a new transaction succeeds."""
    app, delivered = _engine_with_log(gamify_pg_target)
    store = app.store
    assert isinstance(store, SQLStore)
    app.track("alice", "purchase", amount=10)
    delivered.clear()
    attempts: list[int] = []
    real_bind = store.bind

    def counting_bind(session: Any, **kw: Any) -> Any:
        bound = real_bind(session, **kw)
        real = bound.unit_of_work
        monkeypatch.setattr(bound, "unit_of_work", lambda ids: attempts.append(1) or real(ids))
        return bound

    monkeypatch.setattr(store, "bind", counting_bind)
    db = create_engine(gamify_pg_target.url, isolation_level=isolation)
    try:
        with Session(db) as session:
            session.execute(sa_select(1))  # the app's snapshot starts here
            app.track("alice", "purchase", amount=5)  # committed by another transaction
            with pytest.raises(ConcurrencyError, match="40001"):
                app.using(session).track("alice", "purchase", amount=7)
            assert attempts == [1]
            session.rollback()
            app.using(session).track("alice", "purchase", amount=7)
            session.commit()
    finally:
        db.dispose()
    assert app.balance("alice") == 22
    assert [e.amount for e in app.history("alice")] == [7, 5, 10]
    assert delivered == ["credited:alice", "credited:alice"]
    store.close()


def _engine_with_log(target: StoreTarget) -> tuple[gamify.Engine, list[str]]:
    """An engine on ``target`` and the names of the events it delivers."""
    delivered: list[str] = []
    engine = gamify.Engine(PROGRAM, store=target.open(), clock=ManualClock(NOW))
    engine.on("*", lambda event: delivered.append(f"{event.name}:{event.member_id}"))
    return engine, delivered


@pytest.mark.parametrize("target_kind", ["session", "connection"])
def test_an_app_engine_in_autocommit_mode_gets_a_transaction_for_the_call(
    gamify_sql_target: StoreTarget, target_kind: str
) -> None:
    """An app whose engine runs in autocommit mode has no transaction open when it calls
    gamify: the call begins one (on SQLite and PostgreSQL alike), which the app's commit
    or rollback then ends, with the events after the commit only."""
    app, delivered = _engine_with_log(gamify_sql_target)
    db = create_engine(gamify_sql_target.url, isolation_level="AUTOCOMMIT")
    try:
        if target_kind == "session":
            with Session(db) as session:
                app.using(session).track("alice", "purchase", amount=3)
                session.rollback()
                app.using(session).track("alice", "purchase", amount=4)
                session.commit()
        else:
            with db.connect() as conn:
                app.using(conn).track("alice", "purchase", amount=3)
                conn.rollback()
                app.using(conn).track("alice", "purchase", amount=4)
                conn.commit()
    finally:
        db.dispose()
    assert app.balance("alice") == 4
    assert [e.amount for e in app.history("alice")] == [4]
    assert delivered == ["credited:alice"]
    assert app.store.pending_outbox() == []
    app.store.close()


def test_a_worker_on_its_own_store_drains_what_app_sessions_committed(
    gamify_sql_target: StoreTarget,
) -> None:
    """docs/storage.md's outbox recipe across two stores on one database, as two processes
    would have: the app's engine (``deliver_events=False``) writes events in its sessions;
    the worker delivers each committed one once and never one of a rolled-back session."""
    program = PROGRAM
    app_store, worker_store = gamify_sql_target.open(), gamify_sql_target.open()
    app = gamify.Engine(program, store=app_store, clock=ManualClock(NOW), deliver_events=False)
    worker = gamify.Engine(program, store=worker_store, deliver_events=False)
    seen: list[str] = []
    worker.on("*", lambda event: seen.append(f"{event.name}:{event.member_id}"))
    db = begin_immediate(create_engine(gamify_sql_target.url))
    try:
        with Session(db) as session:
            app.using(session).track("alice", "purchase", amount=5)
            session.commit()
            app.using(session).track("bob", "purchase", amount=7)
            session.rollback()
        app.track("carol", "purchase", amount=2)
        assert worker.drain_outbox(limit=1) == 1
        assert worker.drain_outbox(limit=100) == 1
        assert worker.drain_outbox(limit=100) == 0
        assert seen == ["credited:alice", "credited:carol"]
        assert app_store.pending_outbox() == []
    finally:
        db.dispose()
        app_store.close()
        worker_store.close()


def test_a_drain_inside_an_app_session_removes_its_events_with_the_commit(
    gamify_sql_target: StoreTarget,
) -> None:
    """``engine.using(session).drain_outbox()`` takes, delivers and deletes in the app's
    transaction: a rollback brings the events back for a later drain (delivered again: at
    least once), a commit removes them, and meanwhile (PostgreSQL) other drains skip them."""
    store = gamify_sql_target.open()
    engine = gamify.Engine(PROGRAM, store=store, clock=ManualClock(NOW), deliver_events=False)
    engine.track("alice", "purchase", amount=5)
    engine.track("bob", "purchase", amount=7)
    seen: list[str] = []
    engine.on("*", lambda event: seen.append(event.member_id))
    db = begin_immediate(create_engine(gamify_sql_target.url))
    try:
        with Session(db) as session:
            assert engine.using(session).drain_outbox(1) == 1
            session.rollback()
        assert [m.member_id for m in store.pending_outbox()] == ["alice", "bob"]
        with Session(db) as session:
            assert engine.using(session).drain_outbox(100) == 2
            if gamify_sql_target.kind == "postgres":
                assert engine.drain_outbox(100) == 0  # the session holds them
            session.commit()
    finally:
        db.dispose()
    assert seen == ["alice", "alice", "bob"]
    assert store.pending_outbox() == []
    assert engine.drain_outbox(100) == 0
    store.close()


def test_forgetting_in_the_app_session_goes_with_the_apps_commit_or_rollback(app: App) -> None:
    """An app deletes its user and forgets the member in one transaction: a rollback keeps
    both, a commit removes both."""
    app.engine.track("alice", "purchase", amount=30)
    before = app.gamify_rows("alice")
    with immediate_session(app.db) as session:
        app.order(session, "alice", 5)
        assert app.engine.using(session).forget_member("alice") is True
        session.rollback()
    assert app.gamify_rows("alice") == before
    with immediate_session(app.db) as session:
        assert app.engine.using(session).forget_member("alice") is True
        session.commit()
    assert app.gamify_rows("alice") == {"member": None, "balances": {}, "history": [], "outbox": []}
