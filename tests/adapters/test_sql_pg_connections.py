"""PostgreSQL connections as an app configures them: its own libpq ``options`` kept beside
the store's lock timeout, the pool's pre-ping and recycle honoured, and a forked child
that never touches the parent's connections."""

from __future__ import annotations

import multiprocessing
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from gamify_adapters.sql import SQLStore
from gamify_adapters.sql._store import _with_lock_timeout
from sqlalchemy import event

import gamify

if TYPE_CHECKING:
    from conftest import StoreTarget  # tests/conftest.py

PROGRAM = {
    "timezone": "UTC",
    "actions": {"purchase": {"amount": "required"}},
    "rules": [{"name": "spend", "action": "purchase", "per_amount": 1}],
}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "-c lock_timeout=30000"),
        ("", "-c lock_timeout=30000"),
        ("-c search_path=shop", "-c search_path=shop -c lock_timeout=30000"),
        ("-c lock_timeout=5s", "-c lock_timeout=5s"),  # the app's own wins
    ],
)
def test_the_lock_timeout_joins_the_apps_own_options(given: str | None, expected: str) -> None:
    assert _with_lock_timeout(given, 30.0) == expected


def _show(store: SQLStore, setting: str) -> str:
    with store.engine.connect() as conn:
        return str(conn.exec_driver_sql(f"SHOW {setting}").scalar_one())


@pytest.mark.postgres
def test_a_search_path_in_the_url_places_and_finds_the_tables(
    gamify_pg_target: StoreTarget,
) -> None:
    schema = f"shop_{uuid.uuid4().hex[:8]}"
    admin = SQLStore(gamify_pg_target.url, create=False, prefix="unused_")
    with admin.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in gamify_pg_target.url else "?"
    url = f"{gamify_pg_target.url}{sep}options=-c%20search_path%3D{schema}"
    store = SQLStore(url, prefix="shop_")
    try:
        assert _show(store, "search_path") == schema
        assert _show(store, "lock_timeout") == "30s"
        engine = gamify.Engine(PROGRAM, store=store)
        engine.track("ann", "purchase", amount=5)
        assert engine.balance("ann") == 5
        with admin.engine.connect() as conn:
            tables = conn.exec_driver_sql(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            ).scalar_one()
        assert tables == len(store.tables.metadata.tables)
    finally:
        store.close()
        with admin.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.mark.postgres
@pytest.mark.parametrize("pool", [{}, {"pool_pre_ping": True}, {"pool_recycle": 3600}])
def test_pool_checks_asked_for_run_at_each_unit(
    gamify_pg_target: StoreTarget, pool: dict[str, Any]
) -> None:
    """Without pre-ping or recycle the store keeps its connection between units (one
    checkout); with either, each unit checks one out, so the pool can check it."""
    store = gamify_pg_target.open(engine_options=pool)
    assert isinstance(store, SQLStore)
    checkouts: list[object] = []
    event.listen(store.engine.pool, "checkout", lambda *args: checkouts.append(args))
    try:
        engine = gamify.Engine(PROGRAM, store=store)
        for _ in range(3):
            engine.track("ann", "purchase", amount=1)
        assert len(checkouts) == (1 if not pool else 3)
    finally:
        store.close()


def _backend_pid(store: SQLStore) -> int:
    """The server process of the connection the store's next unit of work would use."""
    connection = store._take()
    try:
        return int(connection.driver_connection.info.backend_pid)
    finally:
        store._give(connection)


def _child_tracks(store: SQLStore, out: Any) -> None:
    try:
        engine = gamify.Engine(PROGRAM, store=store)
        engine.track("child", "purchase", amount=7)
        out.put(("ok", engine.balance("child"), _backend_pid(store)))
    except Exception as exc:  # reported to the parent, which fails the test
        out.put(("error", repr(exc), 0))


@pytest.mark.postgres
def test_a_forked_child_opens_its_own_connections(gamify_pg_target: StoreTarget) -> None:
    """The parent's pooled connections share their sockets with a forked child: the child
    must not use them (nor close them), and the parent keeps working after it."""
    store = gamify_pg_target.open()
    assert isinstance(store, SQLStore)
    try:
        engine = gamify.Engine(PROGRAM, store=store)
        engine.track("parent", "purchase", amount=3)  # leaves a connection checked out
        parent_pid = _backend_pid(store)
        context = multiprocessing.get_context("fork")
        out = context.Queue()
        child = context.Process(target=_child_tracks, args=(store, out))
        child.start()
        status, balance, child_pid = out.get(timeout=60)
        child.join(timeout=60)
        assert (status, balance) == ("ok", 7)
        assert child_pid != parent_pid  # its own session, not the parent's socket
        assert child.exitcode == 0
        assert _backend_pid(store) == parent_pid
        engine.track("parent", "purchase", amount=4)
        assert engine.balance("parent") == 7
    finally:
        store.close()


def test_after_the_server_drops_its_connections_one_call_fails_and_the_next_works(
    gamify_pg_target: StoreTarget,
) -> None:
    """The store keeps connections between units; when the server ends them all (a restart,
    a failover), the first call to meet a dead one fails with StoreError and the store drops
    the others it kept, as SQLAlchemy's pool does: the next call opens a new connection."""
    import psycopg

    from gamify.errors import StoreError

    store = gamify_pg_target.open()
    assert isinstance(store, SQLStore)
    try:
        engine = gamify.Engine(gamify.Program.from_dict(PROGRAM), store=store)
        engine.track("alice", "purchase", amount=1)
        taken = [store._take() for _ in range(4)]  # four connections kept between units
        for connection in taken:
            store._give(connection)
        pids = [c.driver_connection.info.backend_pid for c in store._idle]
        assert len(pids) == 4
        url = gamify_pg_target.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, autocommit=True) as admin:
            for pid in pids:  # waits until each backend has ended
                ended = admin.execute("SELECT pg_terminate_backend(%s, 60000)", (pid,))
                assert ended.fetchone() == (True,)
        with pytest.raises(StoreError):
            engine.track("alice", "purchase", amount=1)
        engine.track("alice", "purchase", amount=2)
        assert engine.balance("alice") == 3
    finally:
        store.close()
