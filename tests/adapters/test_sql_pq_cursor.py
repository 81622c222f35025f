"""The cursor of the store's own PostgreSQL transactions (``gamify_adapters.sql._pq``).

It must answer as psycopg's cursor does for what the store asks of it: rows with
the same Python values, the same errors, the rows a statement changed, the last
statement's rows after a pipeline; and it must prepare statements only as the
connection's settings allow. A round trip cut short must cost the store its
connection, never a later transaction's answers (see test_sql_round_trips.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from gamify_adapters.sql._pq import PqCursor, _numbered

if TYPE_CHECKING:
    from conftest import StoreTarget  # tests/conftest.py

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def libpq(target: StoreTarget) -> str:
    return target.url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def connect(gamify_pg_target: StoreTarget) -> Iterator[Any]:
    """Opens autocommit psycopg connections (as the store's are) with a scratch table."""
    opened: list[psycopg.Connection[Any]] = []
    table = f"{gamify_pg_target.options['prefix']}scratch"

    def open_one(**settings: Any) -> tuple[psycopg.Connection[Any], str]:
        conn = psycopg.connect(libpq(gamify_pg_target), autocommit=True, **settings)
        opened.append(conn)
        return conn, table

    conn, _ = open_one()
    conn.execute(
        f"CREATE TABLE {table} (k TEXT PRIMARY KEY, n BIGINT NOT NULL, at TIMESTAMPTZ, "
        "amount NUMERIC, day DATE, flag BOOLEAN, doc JSONB)"
    )
    yield open_one
    opened[0].execute(f"DROP TABLE IF EXISTS {table}")
    for conn in opened:
        conn.close()


def prepared(conn: psycopg.Connection[Any]) -> list[str]:
    """The names of the statements prepared on ``conn``'s session by the cursor."""
    rows = conn.execute("SELECT name FROM pg_prepared_statements ORDER BY name").fetchall()
    return [str(r[0]) for r in rows if str(r[0]).startswith("_gamify_")]


def test_placeholders_are_numbered_and_percent_signs_kept() -> None:
    assert _numbered("SELECT %s, %s WHERE a LIKE 'x%%'") == b"SELECT $1, $2 WHERE a LIKE 'x%'"
    assert _numbered("SELECT 1") == b"SELECT 1"


def test_values_come_back_as_psycopg_returns_them(connect: Any) -> None:
    conn, table = connect()
    cur = PqCursor(conn)
    row = ("a", -(2**62), NOW, Decimal("10.50"), date(2026, 3, 1), True, '{"x": [1, 2]}')
    cur.execute(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s, %s)", row)
    assert cur.rowcount == 1
    cur.execute(f"INSERT INTO {table} (k, n) VALUES (%s, %s)", ("b", 0))
    query = f"SELECT k, n, at, amount, day, flag, doc::text FROM {table} ORDER BY k"
    mine = cur.execute(query).fetchall()
    theirs = conn.cursor().execute(query).fetchall()
    assert mine == theirs
    assert mine[0][:6] == row[:6]
    assert mine[1] == ("b", 0, None, None, None, None, None)
    assert cur.execute(f"SELECT k FROM {table} WHERE k = ANY(%s)", (["b", "z"],)).fetchall() == [
        ("b",)
    ]


def test_fetchone_reads_on_and_a_statement_without_rows_has_none(connect: Any) -> None:
    conn, table = connect()
    cur = PqCursor(conn)
    cur.executemany(f"INSERT INTO {table} (k, n) VALUES (%s, %s)", [("a", 1), ("b", 2)])
    cur.execute(f"SELECT k FROM {table} ORDER BY k")
    assert [cur.fetchone(), cur.fetchone(), cur.fetchone()] == [("a",), ("b",), None]
    cur.execute(f"UPDATE {table} SET n = n + 1")
    assert cur.statusmessage == "UPDATE 2"
    with pytest.raises(psycopg.ProgrammingError):
        cur.fetchone()


def test_rowcount_is_the_last_statements_or_the_sum_of_executemany(connect: Any) -> None:
    conn, table = connect()
    cur = PqCursor(conn)
    cur.executemany(f"INSERT INTO {table} (k, n) VALUES (%s, %s)", [("a", 1), ("b", 2), ("c", 3)])
    assert cur.rowcount == 3
    cur.executemany(f"UPDATE {table} SET n = n + 1 WHERE k = %s", [("a",), ("b",), ("zz",)])
    assert cur.rowcount == 2  # two rows matched
    with cur.pipeline():
        cur.execute(f"UPDATE {table} SET n = 0")
        cur.execute(f"UPDATE {table} SET n = 1 WHERE k = %s", ("zz",))
    assert cur.rowcount == 0  # the last statement's
    with cur.pipeline():
        cur.execute(f"UPDATE {table} SET n = 5 WHERE k = %s", ("a",))
        cur.execute(f"SELECT n FROM {table} WHERE k = %s", ("a",))
    assert cur.fetchall() == [(5,)]


def test_the_first_error_of_a_pipeline_is_raised_and_the_pipeline_undone(connect: Any) -> None:
    conn, table = connect()
    cur = PqCursor(conn)
    cur.execute(f"INSERT INTO {table} (k, n) VALUES (%s, %s)", ("a", 1))
    with pytest.raises(psycopg.errors.UniqueViolation), cur.pipeline():
        cur.execute(f"INSERT INTO {table} (k, n) VALUES (%s, %s)", ("b", 2))
        cur.execute(f"INSERT INTO {table} (k, n) VALUES (%s, %s)", ("a", 3))
        cur.execute(f"INSERT INTO {table} (k, n) VALUES (%s, %s)", ("c", 4))
    # Outside a transaction block the pipeline up to its sync is one implicit
    # transaction: the statement before the error is undone, those after it never ran.
    assert cur.execute(f"SELECT k, n FROM {table} ORDER BY k").fetchall() == [("a", 1)]
    with pytest.raises(psycopg.errors.UndefinedTable):
        cur.execute("SELECT * FROM no_such_table_here WHERE k = %s", ("a",))
    assert cur.execute("SELECT %s::int + 1", (1,)).fetchone() == (2,)


def test_an_error_inside_a_transaction_leaves_it_to_be_rolled_back(connect: Any) -> None:
    conn, table = connect()
    cur = PqCursor(conn)
    with pytest.raises(psycopg.errors.NotNullViolation), cur.pipeline():
        cur.execute("BEGIN")
        cur.execute(f"INSERT INTO {table} (k, n) VALUES (%s, %s)", ("a", 1))
        cur.execute(f"INSERT INTO {table} (k, n) VALUES (%s, %s)", ("b", None))
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
    cur.execute("ROLLBACK")
    assert cur.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


def test_statements_are_prepared_after_the_threshold(connect: Any) -> None:
    conn, table = connect(prepare_threshold=2)
    cur = PqCursor(conn)
    query = f"SELECT n FROM {table} WHERE k = %s"
    cur.execute(query, ("a",))
    assert prepared(conn) == []
    cur.execute(query, ("a",))
    assert len(prepared(conn)) == 1
    cur.execute(f"INSERT INTO {table} (k, n) VALUES (%s, %s)", ("a", 7))
    assert cur.execute(query, ("a",)).fetchone() == (7,)  # the prepared one, reused
    assert len(prepared(conn)) == 1


def test_no_statement_is_prepared_without_a_threshold(connect: Any) -> None:
    """``prepare_threshold=None`` (behind a transaction-pooling PgBouncer) prepares nothing."""
    conn, table = connect(prepare_threshold=None)
    cur = PqCursor(conn)
    for n in range(10):
        cur.execute(f"SELECT n FROM {table} WHERE k = %s", (str(n),))
    assert prepared(conn) == []


def test_at_most_prepared_max_statements_are_prepared(connect: Any) -> None:
    conn, table = connect(prepare_threshold=0)
    conn.prepared_max = 3
    cur = PqCursor(conn)
    for n in range(6):
        for _ in range(2):
            assert cur.execute(f"SELECT n + {n} FROM {table} WHERE k = %s", ("a",)).fetchall() == []
    assert len(prepared(conn)) == 3


def test_a_prepare_in_a_failed_pipeline_is_made_again_later(connect: Any) -> None:
    conn, table = connect(prepare_threshold=0)
    cur = PqCursor(conn)
    query = f"SELECT n FROM {table} WHERE k = %s"
    with pytest.raises(psycopg.errors.DivisionByZero), cur.pipeline():
        cur.execute("SELECT 1 / 0")
        cur.execute(query, ("a",))  # its PREPARE is aborted with it
    assert prepared(conn) == []
    assert cur.execute(query, ("a",)).fetchall() == []
    assert len(prepared(conn)) == 1


def test_a_statement_larger_than_the_socket_takes_at_once_is_sent_whole(connect: Any) -> None:
    """A parameter of megabytes leaves libpq with bytes to flush: the cursor waits for the
    socket and sends the rest."""
    conn, table = connect()
    assert conn.pgconn.nonblocking  # psycopg's connections never block in libpq
    cur = PqCursor(conn)
    big = "x" * 20_000_000
    cur.execute(f"INSERT INTO {table} (k, n, doc) VALUES (%s, %s, %s)", ("a", 1, f'"{big}"'))
    assert cur.execute(f"SELECT length(doc::text) FROM {table}").fetchone() == (len(big) + 2,)


def test_without_poll_the_cursor_waits_with_select(connect: Any) -> None:
    """Where the system has no poll() (Windows), select() does the waiting."""
    conn, table = connect()
    cur = PqCursor(conn)
    cur._poll = None
    cur.execute(f"INSERT INTO {table} (k, n) VALUES (%s, %s)", ("a", 1))
    assert cur.execute(f"SELECT n FROM {table} WHERE k = %s", ("a",)).fetchone() == (1,)


def test_a_value_psycopg_cannot_send_is_its_error_and_the_cursor_goes_on(connect: Any) -> None:
    conn, _ = connect()
    cur = PqCursor(conn)
    with pytest.raises(psycopg.ProgrammingError, match="cannot adapt"):
        cur.execute("SELECT %s", (object(),))
    assert not cur.doubtful
    assert cur.execute("SELECT %s::int * 2", (21,)).fetchone() == (42,)
