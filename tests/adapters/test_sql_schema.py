"""The SQL store's schema, URLs, settings and error translation."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from gamify_adapters.sql import SQLStore, build_tables, create_schema, metadata
from gamify_adapters.sql._errors import translate
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, inspect
from sqlalchemy.exc import OperationalError

import gamify
from gamify import ConfigurationError, open_store
from gamify.errors import ConcurrencyError, StoreError
from gamify.store import Changes, DuplicateError, MemberRecord

if TYPE_CHECKING:
    from conftest import StoreTarget  # tests/conftest.py

TABLES = ["awards", "balances", "earned", "idempotency", "ledger", "lots", "members", "outbox"]


def table_names(url: str, prefix: str) -> list[str]:
    engine = create_engine(url)
    try:
        names = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    return sorted(n.removeprefix(prefix) for n in names if n.startswith(prefix))


def add_member(store: Any, member_id: str) -> None:
    with store.unit_of_work([member_id]) as uow:
        uow.apply(Changes(members=[MemberRecord(member_id, "UTC")]))


def test_metadata_names_tables_with_the_prefix() -> None:
    """metadata() holds every table under the prefix, in a new MetaData or the one given."""
    assert sorted(metadata().tables) == [f"gamify_{t}" for t in TABLES]
    assert sorted(metadata(prefix="loyalty_").tables) == [f"loyalty_{t}" for t in TABLES]
    app = MetaData()
    assert metadata(prefix="g_", into=app) is app
    assert sorted(app.tables) == [f"g_{t}" for t in TABLES]


def test_metadata_added_twice_to_the_same_metadata_changes_nothing() -> None:
    """An Alembic env.py may run twice in one process (a test suite upgrading twice)."""
    app = MetaData()
    first = metadata(prefix="g_", into=app)
    tables = dict(app.tables)
    assert metadata(prefix="g_", into=app) is first
    assert dict(app.tables) == tables
    Table("h_members", app, Column("id", Integer, primary_key=True))  # an app's own table
    with pytest.raises(ConfigurationError, match="some of the store's tables"):
        metadata(prefix="h_", into=app)


def test_prefix_must_be_an_identifier() -> None:
    """A prefix that is not a plain lower-case identifier is refused (it is written into SQL,
    and PostgreSQL folds unquoted names to lower case)."""
    for bad in ("", "1x_", "a-b_", 'x"; drop table y; --', "a" * 40, "Shop_"):
        with pytest.raises(ConfigurationError, match="prefix"):
            build_tables(bad)


def test_store_creates_its_tables_on_open(gamify_sql_target: StoreTarget) -> None:
    """Opening a store creates its tables, and opening it again keeps them and their rows."""
    prefix = gamify_sql_target.options.get("prefix", "gamify_")
    store = gamify_sql_target.open()
    add_member(store, "alice")
    store.close()
    assert table_names(gamify_sql_target.url, prefix) == TABLES
    again = gamify_sql_target.open()
    assert list(again.member_ids()) == ["alice"]
    assert isinstance(again, SQLStore) and again.metadata is again.tables.metadata
    again.close()


def test_create_false_leaves_the_schema_to_the_app(gamify_sql_target: StoreTarget) -> None:
    """With create=False nothing is created (Alembic's job) and using the store before the
    tables exist is a StoreError; gamify.create_schema creates them."""
    prefix = gamify_sql_target.options.get("prefix", "gamify_")
    store = gamify_sql_target.open(create=False)
    assert isinstance(store, SQLStore)
    assert table_names(gamify_sql_target.url, prefix) == []
    assert not store.has_schema()
    with pytest.raises(StoreError, match=r"tables are missing here: create them with gamify"):
        store.get_member("alice")
    gamify.create_schema(gamify_sql_target.url, prefix=prefix)
    gamify.create_schema(gamify_sql_target.url, prefix=prefix)  # a second call changes nothing
    assert table_names(gamify_sql_target.url, prefix) == TABLES
    assert store.has_schema()
    add_member(store, "alice")
    assert list(store.member_ids()) == ["alice"]
    store.close()


def test_prefixes_keep_stores_apart(gamify_sql_target: StoreTarget) -> None:
    """Two prefixes in one database are two independent stores."""
    base = gamify_sql_target.options.get("prefix", "gamify_")
    first = gamify_sql_target.open()
    second = SQLStore(gamify_sql_target.url, prefix=f"{base}x_")
    try:
        add_member(first, "alice")
        add_member(second, "bob")
        assert list(first.member_ids()) == ["alice"]
        assert list(second.member_ids()) == ["bob"]
    finally:
        second.drop_schema()
        second.close()
        first.close()


def test_alembic_sees_no_difference(gamify_sql_target: StoreTarget) -> None:
    """The tables the store creates are exactly its metadata: Alembic's autogenerate finds
    nothing to migrate."""
    from alembic.autogenerate import compare_metadata  # the test extra installs alembic
    from alembic.migration import MigrationContext

    prefix = gamify_sql_target.options.get("prefix", "gamify_")
    gamify_sql_target.open().close()
    engine = create_engine(gamify_sql_target.url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_name": lambda name, kind, _: kind != "table" or name.startswith(prefix)
                },
            )
            assert compare_metadata(context, metadata(prefix)) == []
    finally:
        engine.dispose()


def test_memory_url_has_no_schema() -> None:
    """gamify.create_schema on the memory store does nothing."""
    gamify.create_schema("memory://")


def test_sqlite_settings(tmp_path: Path) -> None:
    """The SQLite store's connections use WAL, synchronous=NORMAL, a generous busy timeout
    and temporary data in memory."""
    store = open_store(f"sqlite:///{tmp_path / 'g.db'}")
    assert isinstance(store, SQLStore)
    raw: Any = store.engine.raw_connection()
    try:
        cur = raw.driver_connection.cursor()
        assert cur.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cur.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert cur.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
        assert cur.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
    finally:
        raw.close()
        store.close()


def _log_frames(path: Path) -> int:
    """Frames in the file's write-ahead log, read without copying any (a PASSIVE
    checkpoint reports them; it copies only what no reader needs, which is all of them)."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    finally:
        conn.close()


def test_wal_autocheckpoint_is_set_on_every_connection(tmp_path: Path) -> None:
    """The option reaches each connection the store opens; without it SQLite's 1,000 stays."""
    store = open_store(f"sqlite:///{tmp_path / 'g.db'}", wal_autocheckpoint=5000)
    default = open_store(f"sqlite:///{tmp_path / 'd.db'}")
    assert isinstance(store, SQLStore) and isinstance(default, SQLStore)
    first: Any = store.engine.raw_connection()
    second: Any = store.engine.raw_connection()  # a second connection, opened afresh
    other: Any = default.engine.raw_connection()
    try:
        for raw in (first, second):
            pages = raw.driver_connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            assert pages == 5000
        assert other.driver_connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    finally:
        for raw in (first, second, other):
            raw.close()
        store.close()
        default.close()


def test_wal_autocheckpoint_lets_the_log_grow_before_a_checkpoint(tmp_path: Path) -> None:
    """With a high setting the log keeps every commit's pages; with 1 page each commit
    checkpoints, so the next one starts the log afresh."""
    program = gamify.Program.from_dict(
        {
            "timezone": "UTC",
            "currencies": {"points": {"spendable": True}},
            "actions": {"visit": {}},
            "rules": [{"name": "visit", "action": "visit", "currency": "points", "formula": "5"}],
        }
    )
    frames = {}
    for pages in (1, 1_000_000):
        path = tmp_path / f"log{pages}.db"
        store = open_store(f"sqlite:///{path}", wal_autocheckpoint=pages)
        engine = gamify.Engine(program, store)
        for n in range(40):
            engine.track(f"m{n}", "visit")
        frames[pages] = _log_frames(path)  # before the close, which checkpoints all
        store.close()
    assert frames[1_000_000] >= 40  # each commit wrote at least one page
    assert frames[1] * 10 < frames[1_000_000]


@pytest.mark.parametrize("pages", [0, -1, True, 1.5, "1000"])
def test_wal_autocheckpoint_must_be_a_positive_integer(tmp_path: Path, pages: object) -> None:
    """A bad number of pages is a configuration error naming the value."""
    with pytest.raises(ConfigurationError, match="positive integer: not"):
        open_store(f"sqlite:///{tmp_path / 'g.db'}", wal_autocheckpoint=pages)
    assert not (tmp_path / "g.db").exists()


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "postgresql+psycopg://app@localhost/app"]
)
def test_wal_autocheckpoint_needs_a_sqlite_file(url: str) -> None:
    """Where there is no write-ahead log, the option is refused rather than ignored."""
    with pytest.raises(ConfigurationError, match="applies to a SQLite database file"):
        SQLStore(url, wal_autocheckpoint=5000, create=False)


def test_sqlite_memory_database() -> None:
    """An in-memory SQLite database works too (one connection, shared by the threads)."""
    store = open_store("sqlite://")
    add_member(store, "alice")
    assert list(store.member_ids()) == ["alice"]
    store.close()


def test_create_schema_function(tmp_path: Path) -> None:
    """gamify_adapters.sql.create_schema creates the tables of a prefix."""
    url = f"sqlite:///{tmp_path / 'g.db'}"
    create_schema(url, prefix="shop_")
    assert table_names(url, "shop_") == TABLES


@pytest.mark.parametrize(
    "url",
    ["sqlite+aiosqlite:///x.db", "postgresql+psycopg2://u@h/db", "postgresql+asyncpg://u@h/db"],
)
def test_unsupported_drivers_are_refused(url: str) -> None:
    """A driver the store does not run on is a configuration error that names the right URL."""
    with pytest.raises(ConfigurationError, match="use a"):
        SQLStore(url)


@pytest.mark.postgres
def test_plain_postgresql_url_means_psycopg(gamify_pg_target: StoreTarget) -> None:
    """postgresql:// opens the store with psycopg 3."""
    url = gamify_pg_target.url.replace("postgresql+psycopg://", "postgresql://")
    store = SQLStore(url, **gamify_pg_target.options)
    assert store.engine.dialect.driver == "psycopg"
    store.close()


def test_capabilities() -> None:
    """The SQL store can join an app's session and run batches; engines may require that."""
    store = open_store("sqlite://")
    assert store.capabilities >= {"app_session", "batch"}
    gamify.Engine(
        gamify.Program.from_dict({"timezone": "UTC"}), store=store, requires=["app_session"]
    )
    store.close()


def test_referral_code_clash_is_a_duplicate(gamify_sql_target: StoreTarget) -> None:
    """A referral code held by another member is refused as DuplicateError by the database."""
    store = gamify_sql_target.open()
    with store.unit_of_work(["a"]) as uow:
        uow.apply(Changes(members=[MemberRecord("a", "UTC", referral_code="CODE2345")]))
    with pytest.raises(DuplicateError), store.unit_of_work(["b"]) as uow:
        uow.apply(Changes(members=[MemberRecord("b", "UTC", referral_code="CODE2345")]))
    assert store.get_member("b") is None
    store.close()


def _sqlite_error(kind: type[sqlite3.Error], message: str, code: int) -> sqlite3.Error:
    exc = kind(message)
    exc.sqlite_errorcode = code  # type: ignore[attr-defined]
    return exc


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_sqlite_error(sqlite3.OperationalError, "database is locked", 5), ConcurrencyError),
        (_sqlite_error(sqlite3.OperationalError, "database is locked", 517), ConcurrencyError),
        (_sqlite_error(sqlite3.OperationalError, "table is locked", 6), ConcurrencyError),
        (
            _sqlite_error(sqlite3.IntegrityError, "UNIQUE constraint failed: x.code", 2067),
            DuplicateError,
        ),
        (_sqlite_error(sqlite3.IntegrityError, "NOT NULL constraint failed", 1299), StoreError),
        (_sqlite_error(sqlite3.OperationalError, "no such table: x", 1), StoreError),
        (
            OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked")),
            ConcurrencyError,
        ),
    ],
)
def test_sqlite_errors_are_translated(error: BaseException, expected: type[BaseException]) -> None:
    """SQLite's busy and locked errors are retryable, unique violations duplicates, the rest
    store errors."""
    assert type(translate(error)) is expected


def test_postgresql_errors_are_translated() -> None:
    """PostgreSQL's serialization failures, deadlocks and lock timeouts are retryable; unique
    violations are duplicates; the rest store errors."""
    from psycopg import errors  # the test extra installs psycopg

    assert type(translate(errors.SerializationFailure("x"))) is ConcurrencyError
    assert type(translate(errors.DeadlockDetected("x"))) is ConcurrencyError
    assert type(translate(errors.LockNotAvailable("x"))) is ConcurrencyError
    assert type(translate(errors.UniqueViolation("x"))) is DuplicateError
    assert type(translate(errors.UndefinedTable("x"))) is StoreError
    assert type(translate(OperationalError("SELECT", {}, errors.DeadlockDetected("x")))) is (
        ConcurrencyError
    )
    plain = ValueError("not a driver error")
    assert translate(plain) is plain


def test_sqlite_file_in_a_missing_folder_is_named(tmp_path: Path) -> None:
    """A path into a folder that does not exist is a ConfigurationError naming the folder,
    not SQLite's bare 'unable to open database file'; nothing is created."""
    folder = tmp_path / "no-such-folder"
    with pytest.raises(ConfigurationError, match=r"the folder .*no-such-folder.* does not exist"):
        open_store(f"sqlite:///{folder / 'gamify.db'}")
    assert not folder.exists()


def test_database_file_names_the_sqlite_file(tmp_path: Path) -> None:
    """database_file is the real path of the SQLite file (a file: URI too), else None."""
    plain = SQLStore(f"sqlite:///{tmp_path / 'a.db'}", create=False)
    uri = SQLStore(f"sqlite:///file:{tmp_path / 'b.db'}?mode=rwc&uri=true", create=False)
    in_memory = SQLStore("sqlite://")
    try:
        assert plain.database_file == str((tmp_path / "a.db").resolve())
        assert uri.database_file == str((tmp_path / "b.db").resolve())
        assert in_memory.database_file is None
        assert not (tmp_path / "a.db").exists()  # create=False: not even opened yet
    finally:
        for store in (plain, uri, in_memory):
            store.close()


def test_member_ids_reads_every_id_once_across_pages(
    gamify_sql_target: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """member_ids() reads by pages of keys: with pages of 2, five members come back once
    each, in ascending order."""
    from gamify_adapters.sql import _reads

    from gamify.store import Changes, MemberRecord

    monkeypatch.setattr(_reads, "MEMBER_PAGE", 2)
    store = gamify_sql_target.open()
    try:
        ids = [f"m{i}" for i in (4, 1, 3, 0, 2)]
        with store.unit_of_work(ids) as uow:
            uow.apply(Changes(members=[MemberRecord(member_id=i, timezone="UTC") for i in ids]))
        assert list(store.member_ids()) == sorted(ids)
    finally:
        store.close()


def test_create_schema_adds_the_indexes_missing_from_existing_tables(
    gamify_sql_target: StoreTarget,
) -> None:
    """An index missing from a table that exists (the unique referral-code index, a board's
    index) is created by ``gamify.create_schema`` and by opening the store, as its docs say;
    running it again changes nothing."""
    prefix = gamify_sql_target.options.get("prefix", "gamify_")
    gamify_sql_target.open().close()
    engine = create_engine(gamify_sql_target.url)
    missing = [f"{prefix}members_referral_code_key", f"{prefix}earned_all_idx"]

    def index_names() -> set[str]:
        inspector = inspect(engine)
        return {
            str(ix["name"])
            for table in ("members", "earned")
            for ix in inspector.get_indexes(f"{prefix}{table}")
        }

    try:
        with engine.begin() as conn:
            for name in missing:
                conn.exec_driver_sql(f"DROP INDEX {name}")
        assert not index_names() & set(missing)
        gamify.create_schema(gamify_sql_target.url, **gamify_sql_target.options)
        assert set(missing) <= index_names()
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP INDEX {missing[0]}")
        gamify_sql_target.open().close()
        gamify.create_schema(gamify_sql_target.url, **gamify_sql_target.options)
        assert set(missing) <= index_names()
    finally:
        engine.dispose()


# docs/storage.md's Alembic recipe, step by step, in a process of its own (env.py adds
# gamify's tables to SQLModel.metadata, which this process's other tests share).
ENV_PY_TABLES = (
    "from sqlmodel import SQLModel\n"
    "from gamify_adapters.sql import metadata as gamify_metadata\n\n"
    'target_metadata = gamify_metadata(prefix="gamify_", into=SQLModel.metadata)\n'
)
ALEMBIC_STEPS = f"""
import sys
from pathlib import Path

from alembic.config import main

url = sys.argv[1]
main(argv=["init", "migrations"])
ini = Path("alembic.ini")
ini.write_text("\\n".join(
    "sqlalchemy.url = " + url.replace("%", "%%") if line.startswith("sqlalchemy.url") else line
    for line in ini.read_text().splitlines()
))
env = Path("migrations/env.py")
env.write_text(env.read_text().replace("target_metadata = None", {ENV_PY_TABLES!r}))
main(argv=["revision", "--autogenerate", "-m", "gamify tables"])
main(argv=["upgrade", "head"])
"""


def test_the_alembic_recipe_of_the_storage_docs_makes_a_schema_the_store_uses(
    gamify_sql_target: StoreTarget, tmp_path: Path
) -> None:
    """docs/storage.md, run for real: ``env.py`` adds gamify's tables to the app's metadata,
    ``alembic revision --autogenerate`` writes the migration, ``alembic upgrade head`` runs
    it, and a store opened with ``create=False`` finds its schema and works; the tables
    then match the store's metadata."""
    import subprocess
    import sys
    import uuid

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy.engine import make_url

    url = make_url(gamify_sql_target.url)
    schema = None
    admin = create_engine(gamify_sql_target.url)
    if gamify_sql_target.kind == "postgres":
        # A schema of its own, so autogenerate sees no other test's tables.
        schema = f"t{uuid.uuid4().hex[:12]}"
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    rendered = url.render_as_string(hide_password=False)
    try:
        (tmp_path / "steps.py").write_text(ALEMBIC_STEPS)
        done = subprocess.run(
            [sys.executable, "steps.py", rendered],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        [migration] = (tmp_path / "migrations" / "versions").glob("*.py")
        assert "op.create_table('gamify_members'" in migration.read_text()

        store = open_store(rendered, create=False)
        try:
            assert store.has_schema()
            program = gamify.Program.from_dict(
                {
                    "timezone": "UTC",
                    "actions": {"purchase": {"amount": "required"}},
                    "rules": [{"name": "spend", "action": "purchase", "per_amount": 1}],
                }
            )
            engine = gamify.Engine(program, store=store)
            engine.track("alice", "purchase", amount=12, key="k1")
            assert engine.balance("alice") == 12
            assert [row.member_id for row in engine.leaderboard("points")] == ["alice"]
        finally:
            store.close()
        checker = create_engine(rendered)
        try:
            with checker.connect() as conn:
                context = MigrationContext.configure(
                    conn, opts={"include_name": lambda name, kind, _: name != "alembic_version"}
                )
                assert compare_metadata(context, metadata("gamify_")) == []
        finally:
            checker.dispose()
    finally:
        if schema is not None:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
