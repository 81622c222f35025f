"""PostgreSQL round trips and statements of the SQL store's units of work.

In a transaction the store owns, a unit's writes are held back until its next read
or its COMMIT and go out with it, without a savepoint: a tracked event of a known
member is one round trip for BEGIN, its lock and its first read, and one for its
write and the COMMIT. A write refused there fails the whole unit with the same
typed error and leaves nothing. Bound to an app's transaction, each write still
runs inside a savepoint, so a refused one leaves the app's transaction usable.

Round trips are counted in the driver (psycopg's cursor in an app's transaction, the
store's own :class:`PqCursor` in its own): a statement sent on its own is one, a
pipeline (statements sent together, one sync) is one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg  # the test extra installs it
import pytest
from gamify_adapters.sql import SQLStore
from gamify_adapters.sql._pq import PqCursor
from gamify_adapters.sql._store import _PQ_CURSOR
from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from gamify import Engine, InsufficientBalanceError, ManualClock, Program
from gamify.store import Changes, DuplicateError, IdempotencyRecord
from gamify.testing.conformance import entry, member

if TYPE_CHECKING:
    from conftest import StoreTarget  # tests/conftest.py

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

PROGRAM = Program.from_dict(
    {
        "timezone": "UTC",
        "actions": {"purchase": {"amount": "required"}},
        "rules": [{"name": "spend", "action": "purchase", "per_amount": 1}],
    }
)


@dataclass
class Trace:
    """Statements sent and round trips made on every PostgreSQL connection."""

    statements: list[str] = field(default_factory=list)
    trips: int = 0
    depth: int = 0

    def clear(self) -> None:
        self.statements.clear()
        self.trips = 0


@pytest.fixture
def trace(monkeypatch: pytest.MonkeyPatch) -> Trace:
    found = Trace()
    execute = psycopg.Cursor.execute
    pipeline = psycopg.Connection.pipeline

    def traced_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        found.statements.append(str(query))
        if found.depth == 0:
            found.trips += 1
        return execute(self, query, *args, **kwargs)

    @contextmanager
    def traced_pipeline(self: Any) -> Iterator[Any]:
        found.depth += 1
        try:
            with pipeline(self) as p:
                yield p
        finally:
            found.depth -= 1
            if found.depth == 0:
                found.trips += 1

    monkeypatch.setattr(psycopg.Cursor, "execute", traced_execute)
    monkeypatch.setattr(psycopg.Connection, "pipeline", traced_pipeline)

    # The store's own transactions run on PqCursor: each sync it waits for is a trip.
    send, round_trip = PqCursor._send, PqCursor._round_trip

    def traced_send(self: PqCursor, sql: str, *args: Any) -> None:
        found.statements.append(sql)
        send(self, sql, *args)

    def traced_round_trip(self: PqCursor) -> Any:
        found.trips += 1
        return round_trip(self)

    monkeypatch.setattr(PqCursor, "_send", traced_send)
    monkeypatch.setattr(PqCursor, "_round_trip", traced_round_trip)
    return found


@pytest.fixture
def store(gamify_pg_target: StoreTarget) -> Iterator[SQLStore]:
    opened = gamify_pg_target.open()
    assert isinstance(opened, SQLStore)
    yield opened
    opened.close()


def kinds(statements: list[str]) -> list[str]:
    """Each statement's first word (WITH: a combined write)."""
    return [s.split(None, 1)[0].upper() for s in statements]


def test_tracked_event_is_two_round_trips(store: SQLStore, trace: Trace) -> None:
    engine = Engine(PROGRAM, store=store, clock=ManualClock(NOW))
    engine.track("alice", "purchase", amount=10, key="o-1")
    trace.clear()
    engine.track("alice", "purchase", amount=10, key="o-2")
    assert trace.trips == 2, trace.statements
    assert kinds(trace.statements) == ["BEGIN", "SELECT", "SELECT", "WITH", "COMMIT"]
    assert not any("SAVEPOINT" in s for s in trace.statements)
    assert engine.balance("alice") == 20


def test_batch_sends_each_write_with_the_next_read(store: SQLStore, trace: Trace) -> None:
    engine = Engine(PROGRAM, store=store, clock=ManualClock(NOW))
    engine.track("alice", "purchase", amount=1, key="o-0")
    trace.clear()
    engine.track_many(
        [{"member_id": "alice", "action": "purchase", "amount": 1, "key": f"o-{n}"} for n in (1, 2)]
    )
    # BEGIN, lock, read; the first write, read; the second write, COMMIT.
    assert trace.trips == 3, trace.statements
    assert engine.balance("alice") == 3


def test_redeem_sends_its_debit_at_once_and_the_rest_with_the_commit(
    store: SQLStore, trace: Trace
) -> None:
    engine = Engine(PROGRAM, store=store, clock=ManualClock(NOW))
    engine.track("alice", "purchase", amount=60, key="o-1")
    trace.clear()
    engine.redeem("alice", 50)
    assert not any("SAVEPOINT" in s for s in trace.statements)
    assert kinds(trace.statements)[-1] == "COMMIT"
    assert engine.balance("alice") == 10


def test_duplicate_key_is_raised_at_commit_and_leaves_nothing(store: SQLStore) -> None:
    record = IdempotencyRecord("alice", "track", "k", "fp", "{}", NOW)
    with store.unit_of_work(["alice"]) as uow:
        uow.apply(Changes(idempotency=[record]))
    with pytest.raises(DuplicateError), store.unit_of_work(["alice"]) as uow:
        uow.apply(Changes(entries=[entry("alice", 5)], idempotency=[record]))
    assert store.get_balances("alice") == {}
    assert store.history("alice") == []
    # The pooled connection is usable again.
    with store.unit_of_work(["alice"]) as uow:
        uow.apply(Changes(entries=[entry("alice", 3)]))
    assert store.get_balances("alice") == {"points": 3}


def test_duplicate_key_is_raised_by_the_next_read(store: SQLStore) -> None:
    record = IdempotencyRecord("alice", "track", "k", "fp", "{}", NOW)
    with store.unit_of_work(["alice"]) as uow:
        uow.apply(Changes(idempotency=[record]))
    with pytest.raises(DuplicateError), store.unit_of_work(["alice"]) as uow:
        uow.apply(Changes(entries=[entry("alice", 5)], idempotency=[record]))
        uow.balances("alice")
    assert store.get_balances("alice") == {}


def test_reads_after_a_write_see_it(store: SQLStore, trace: Trace) -> None:
    with store.unit_of_work(["alice"]) as uow:
        uow.balances("alice")
        trace.clear()
        uow.apply(Changes(entries=[entry("alice", 5)]))
        assert trace.trips == 0  # held back
        assert uow.balances("alice") == {"points": 5}
        assert trace.trips == 1  # the write went out with the read


@pytest.mark.parametrize("then_write", [False, True])
def test_refused_second_debit_leaves_nothing(store: SQLStore, then_write: bool) -> None:
    """Two debits, the second refused: the first is undone and nothing of the write
    stays, whether the unit then commits other writes or nothing."""
    with store.unit_of_work(["alice"]) as uow:
        uow.apply(Changes(entries=[entry("alice", 10), entry("alice", 10, "xp")]))
    with store.unit_of_work(["alice"]) as uow:
        with pytest.raises(InsufficientBalanceError) as info:
            uow.apply(
                Changes(
                    entries=[entry("alice", -4), entry("alice", -20, "xp"), entry("alice", 1, "b")]
                )
            )
        assert info.value.available == 10
        if then_write:
            uow.apply(Changes(entries=[entry("alice", 2, "b")]))
    expected = {"points": 10, "xp": 10, "b": 2} if then_write else {"points": 10, "xp": 10}
    assert store.get_balances("alice") == expected


def test_insufficient_balance_from_the_engine_writes_nothing(store: SQLStore) -> None:
    engine = Engine(PROGRAM, store=store, clock=ManualClock(NOW))
    engine.track("alice", "purchase", amount=10, key="o-1")
    before = store.history("alice")
    with pytest.raises(InsufficientBalanceError):
        engine.redeem("alice", 11)
    assert store.history("alice") == before
    assert engine.balance("alice") == 10


def test_crash_at_commit_after_the_writes_went_out_leaves_nothing(
    store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine(PROGRAM, store=store, clock=ManualClock(NOW))
    execute = PqCursor.execute

    def crash_at_commit(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if query == "COMMIT":
            raise RuntimeError("crash at commit")
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(PqCursor, "execute", crash_at_commit)
    with pytest.raises(RuntimeError, match="crash at commit"):
        engine.track("alice", "purchase", amount=30, key="o-1")
    monkeypatch.undo()
    assert store.get_member("alice") is None
    assert store.get_balances("alice") == {}
    assert store.pending_outbox() == []
    engine.track("alice", "purchase", amount=30, key="o-1")
    assert engine.balance("alice") == 30


def _bound(store: SQLStore) -> tuple[Session, Callable[[], None]]:
    db = create_engine(store.engine.url)
    session = Session(db)
    return session, db.dispose


def test_bound_duplicate_key_leaves_the_app_transaction_usable(store: SQLStore) -> None:
    record = IdempotencyRecord("alice", "track", "k", "fp", "{}", NOW)
    with store.unit_of_work(["alice"]) as uow:
        uow.apply(Changes(idempotency=[record]))
    session, dispose = _bound(store)
    try:
        bound = store.bind(session, on_commit=lambda messages: None)
        with pytest.raises(DuplicateError), bound.unit_of_work(["alice"]) as uow:
            uow.apply(Changes(entries=[entry("alice", 5)], idempotency=[record]))
        # The app's transaction goes on: it reads, the store writes, and both commit.
        assert session.execute(text("SELECT 1")).scalar_one() == 1
        with bound.unit_of_work(["alice"]) as uow:
            uow.apply(Changes(entries=[entry("alice", 7)]))
        session.commit()
    finally:
        session.close()
        dispose()
    assert store.get_balances("alice") == {"points": 7}


def test_long_write_goes_out_in_statements_of_few_parameters(store: SQLStore, trace: Trace) -> None:
    """psycopg parses a statement of more than 50 parameters anew each time: a write
    with more is split, still in one round trip with the COMMIT."""
    with store.unit_of_work(["alice"]) as uow:
        uow.balances("alice")
        trace.clear()
        uow.apply(Changes(entries=[entry("alice", 1, f"a{n}") for n in range(4)]))  # 12 + 40
    writes = trace.statements[:-1]
    assert trace.trips == 1 and kinds(trace.statements)[-1] == "COMMIT"
    assert len(writes) > 1
    assert all(s.count("%s") <= 50 for s in writes)
    assert store.get_balances("alice") == {f"a{n}": 1 for n in range(4)}


def test_member_written_twice_in_one_write(store: SQLStore) -> None:
    """Statements writing one row twice never share a statement (none would see the
    other's row): the later one wins."""
    with store.unit_of_work(["alice"]) as uow:
        uow.apply(Changes(members=[member("alice")]))
    with store.unit_of_work(["alice"]) as uow:
        uow.load_member("alice")
        uow.apply(Changes(members=[member("alice", level=2), member("alice", level=3)]))
    found = store.get_member("alice")
    assert found is not None and found.level == 3


def checkouts(store: SQLStore) -> list[int]:
    """A list that grows by one at each checkout from the store's pool."""
    seen: list[int] = []
    event.listen(store.engine, "checkout", lambda *_: seen.append(1))
    return seen


def test_units_keep_their_connection_between_uses(store: SQLStore) -> None:
    """A connection stays checked out between units and goes back to the pool on close."""
    engine = Engine(PROGRAM, store=store, clock=ManualClock(NOW))
    seen = checkouts(store)
    for n in range(5):
        engine.track("alice", "purchase", amount=1, key=f"o-{n}")
    assert len(seen) == 1
    assert store.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    store.close()
    assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_threads_never_hold_more_connections_than_they_use(store: SQLStore) -> None:
    """Threads one after another share the connection kept idle: no new checkout."""
    engine = Engine(PROGRAM, store=store, clock=ManualClock(NOW))
    engine.track("alice", "purchase", amount=1)
    seen = checkouts(store)
    for n in range(3):
        thread = threading.Thread(
            target=engine.track, args=(f"m{n}", "purchase"), kwargs={"amount": 1}
        )
        thread.start()
        thread.join()
    assert seen == []
    assert store.engine.pool.checkedout() == 1  # type: ignore[attr-defined]


def test_an_apps_own_pool_class_gets_each_connection_back(gamify_pg_target: StoreTarget) -> None:
    """With the app's poolclass (NullPool here) nothing is kept checked out."""
    store = gamify_pg_target.open(engine_options={"poolclass": NullPool})
    assert isinstance(store, SQLStore)
    try:
        engine = Engine(PROGRAM, store=store, clock=ManualClock(NOW))
        seen = checkouts(store)
        returned: list[int] = []
        event.listen(store.engine, "checkin", lambda *_: returned.append(1))
        for n in range(3):
            engine.track("alice", "purchase", amount=1, key=f"o-{n}")
        assert len(seen) == len(returned) == 3
        assert engine.balance("alice") == 3
    finally:
        store.close()


def test_a_thread_waiting_on_a_full_pool_gets_a_connection(gamify_pg_target: StoreTarget) -> None:
    """More threads than the pool lends: a connection given back goes to the waiting thread,
    never idle beside it (else that thread would time out in the pool)."""
    store = gamify_pg_target.open(
        engine_options={"pool_size": 1, "max_overflow": 1, "pool_timeout": 60}
    )
    assert isinstance(store, SQLStore)
    try:
        engine = Engine(PROGRAM, store=store, clock=ManualClock(NOW))
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def work(n: int) -> None:
            start.wait()
            try:
                for k in range(5):
                    engine.track(f"m{n}", "purchase", amount=1, key=f"o-{k}")
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert [engine.balance(f"m{n}") for n in range(4)] == [5, 5, 5, 5]
        assert store.engine.pool.checkedout() <= 2  # type: ignore[attr-defined]
    finally:
        store.close()


def test_a_profile_reads_its_member_and_balances_in_one_statement(
    store: SQLStore, trace: Trace
) -> None:
    """One statement is one snapshot: the level and the balances it shows come from the same
    instant, whatever commits meanwhile."""
    engine = Engine(PROGRAM, store=store, clock=ManualClock(NOW))
    engine.track("alice", "purchase", amount=10, key="o-1")
    trace.clear()
    assert engine.member("alice").balances["points"] == 10
    snapshots = [s for s in trace.statements if "JOIN" in s and "balances" in s]
    assert len(snapshots) == 1, trace.statements
    assert not any(s.lstrip().upper().startswith("SELECT ACCOUNT") for s in trace.statements)


def test_a_round_trip_cut_short_costs_the_store_its_connection(
    store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interrupt while results are still on their way leaves the cursor doubtful: the
    store drops that connection, and the next unit of work runs on a fresh one."""
    engine = Engine(PROGRAM, store=store, clock=ManualClock(NOW))
    engine.track("alice", "purchase", amount=10, key="o-1")
    round_trip = PqCursor._round_trip
    used: list[PqCursor] = []

    def interrupted(self: PqCursor) -> Any:
        used.append(self)
        self._pgconn.pipeline_sync()
        self._pgconn.flush()
        raise KeyboardInterrupt  # before a single result was read

    monkeypatch.setattr(PqCursor, "_round_trip", interrupted)
    with pytest.raises(KeyboardInterrupt):
        engine.track("alice", "purchase", amount=20, key="o-2")
    monkeypatch.setattr(PqCursor, "_round_trip", round_trip)
    assert used and used[0].doubtful
    assert used[0].connection.closed
    engine.track("alice", "purchase", amount=5, key="o-3")
    assert engine.balance("alice") == 15
    assert [e.key for e in engine.history("alice")] == ["o-3", "o-1"]


@pytest.mark.parametrize(("threshold", "expect_prepared"), [(None, False), (1, True)])
def test_the_store_prepares_as_its_connect_args_say(
    gamify_pg_target: StoreTarget, threshold: int | None, expect_prepared: bool
) -> None:
    """``engine_options={"connect_args": {"prepare_threshold": None}}`` (for PgBouncer's
    transaction pooling) keeps the store from preparing any statement."""
    opened = gamify_pg_target.open(
        engine_options={"connect_args": {"prepare_threshold": threshold}}
    )
    assert isinstance(opened, SQLStore)
    try:
        engine = Engine(PROGRAM, store=opened, clock=ManualClock(NOW))
        for n in range(8):
            engine.track("alice", "purchase", amount=10, key=f"o-{n}")
        assert engine.balance("alice") == 80
        # The connections the store keeps between units of work, with their cursors.
        kept = [c.info[_PQ_CURSOR].connection for c in opened._idle]
        assert kept
        names = [
            row[0]
            for conn in kept
            for row in conn.execute("SELECT name FROM pg_prepared_statements").fetchall()
        ]
        assert bool(names) is expect_prepared
    finally:
        opened.close()
