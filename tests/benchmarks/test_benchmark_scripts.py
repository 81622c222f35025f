"""Smoke tests of the SQL benchmark scripts: each runs to the end with tiny sizes.

The scripts run as the README says, in a subprocess from the repository root,
and must exit 0 and print every figure and plan line. The PostgreSQL runs need
``GAMIFY_PG_URL`` (skipped without it; under CI a missing URL fails, as in the
other PostgreSQL tests) and must leave no table behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_URL_VARIABLE = "GAMIFY_PG_URL"
# Table prefixes the scripts use on PostgreSQL (each run adds a random suffix).
SCRIPT_PREFIXES = ("bench", "board")


def run_script(name: str, *args: str, exit_code: int = 0) -> str:
    """Run ``benchmarks/<name>`` with ``args``; its stdout, or its stderr when it is to fail
    (the test fails on any other exit code than ``exit_code``)."""
    env = {k: v for k, v in os.environ.items() if k != PG_URL_VARIABLE}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / name), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == exit_code, (
        f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout if exit_code == 0 else result.stderr


def lines_starting(output: str, *starts: str) -> None:
    """Every ``start`` begins some line of ``output``."""
    lines = [line.strip() for line in output.splitlines()]
    missing = [s for s in starts if not any(line.startswith(s) for line in lines)]
    assert not missing, f"missing lines {missing} in:\n{output}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The PostgreSQL URL; checks that a run leaves none of its tables behind (other tests
    may create and drop tables of their own in the same database meanwhile)."""
    url = os.environ.get(PG_URL_VARIABLE)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_URL_VARIABLE} is not set under CI")
        pytest.skip(f"set {PG_URL_VARIABLE} to run the PostgreSQL tests")
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:
        before = set(inspect(engine).get_table_names())
        yield url
        left = {
            t
            for t in set(inspect(engine).get_table_names()) - before
            if t.startswith(SCRIPT_PREFIXES)
        }
    finally:
        engine.dispose()
    assert not left, f"the benchmark left tables behind: {sorted(left)}"


# A tiny stream for sql_store.py, and the SQLite part alone on it.
TINY_STREAM = ("--members", "50", "--events", "200")
SQLITE_SMALL = (*TINY_STREAM, "--batch", "50", "--skip-pg")


def test_sql_store_on_sqlite() -> None:
    out = run_script(
        "sql_store.py",
        *SQLITE_SMALL,
        "--ledger-rows", "2000",
        "--reads", "20",
    )  # fmt: skip
    lines_starting(
        out,
        "200 workout events over 30 days",
        "0. memory store per event",
        "0. memory store batched (50)",
        "a. SDK per event (track)",
        "b. SDK batched (track_many 50)",
        "c. sqlite3 baseline per event",
        "c. sqlite3 baseline per 50",
        "ratio a (per event): SDK",
        "ratio b (batched): SDK",
        "ceiling: the engine alone (memory store per event) is",
        "ceiling: the engine alone (memory store batched (50)) is",
        "per-event and batched stores agree",
        "-- PostgreSQL skipped (--skip-pg) --",
        "reads, big   (    2,000 ledger rows): engine.balance",
        "reads, small",
        "EXPLAIN QUERY PLAN member read (primary key search):",
        "EXPLAIN QUERY PLAN balance read (primary key search):",
    )
    assert "events/s wall" in out


def test_sql_store_on_sqlite_with_a_wal_autocheckpoint() -> None:
    """--wal-autocheckpoint reaches the SDK's stores and the baseline, and says so."""
    out = run_script("sql_store.py", *SQLITE_SMALL, "--skip-reads", "--wal-autocheckpoint", "5000")
    lines_starting(
        out,
        "a. SDK per event (track)",
        "b. SDK batched (track_many 50)",
        "c. sqlite3 baseline per event",
        "ratio a (per event): SDK",
        "per-event and batched stores agree",
    )
    assert "wal_autocheckpoint=5,000) --" in out


def test_sql_store_refuses_a_wal_autocheckpoint_below_one() -> None:
    err = run_script("sql_store.py", "--skip-pg", "--wal-autocheckpoint", "0", exit_code=2)
    assert "--wal-autocheckpoint takes a positive number of pages" in err


@pytest.mark.postgres
def test_sql_store_on_postgres(pg_url: str) -> None:
    out = run_script(
        "sql_store.py",
        *TINY_STREAM,
        "--workers", "1,4",
        "--pg-url", pg_url,
        "--skip-reads",
    )  # fmt: skip
    lines_starting(
        out,
        "a. SDK per event (track)",
        "d. SDK, 1 worker thread",
        "d. psycopg baseline, 1 worker thread",
        "d. SDK, 4 worker threads",
        "d. psycopg baseline, 4 worker threads",
        "ratio d (1 worker): SDK",
        "ratio d (4 workers): SDK",
        "-- constant-time reads skipped (--skip-reads) --",
    )


@pytest.mark.postgres
def test_sql_store_on_postgres_with_worker_processes(pg_url: str) -> None:
    out = run_script(
        "sql_store.py",
        *TINY_STREAM,
        "--workers", "1,3",
        "--processes",
        "--pg-url", pg_url,
        "--skip-sqlite",
        "--skip-reads",
    )  # fmt: skip
    lines_starting(
        out,
        "d. SDK, 1 worker process ",
        "d. psycopg baseline, 1 worker process ",
        "d. SDK, 3 worker processes ",
        "d. psycopg baseline, 3 worker processes ",
        "ratio d (3 workers): SDK",
        "(SDK workers: one Engine and ManualClock per process on one SQLStore;",
    )


# Plans are checked for presence only: how a database plans a count over half of a
# 500-row table (PostgreSQL may well read the table) says nothing about a large one.
LEADERBOARD_LINES = (
    "leaderboard all time, top 100",
    "leaderboard this week, top 100",
    "rank all time, middle",
    "rank all time, top",
    "rank all time, near the bottom",
    "rank this week, middle",
    "plan leaderboard all (",
    "plan leaderboard week (",
    "plan score (rank: the member's row) (",
    "plan count_above all (rank, middle) (",
    "plan count_above week (rank, middle) (",
)


def test_leaderboard_on_the_memory_store() -> None:
    out = run_script(
        "leaderboard.py", "--members", "500", "--repeat", "2", "--skip-pg", "--skip-sqlite"
    )
    lines_starting(
        out,
        "-- memory store: loading 500 members'",
        *LEADERBOARD_LINES[:6],
        "leaderboard all time, top 100, after one event",
        "leaderboard this week, top 100, after one event",
        "rank all time, middle, after one event",
    )
    assert "plan " not in out


def test_leaderboard_on_sqlite() -> None:
    out = run_script(
        "leaderboard.py", "--members", "500", "--repeat", "2", "--skip-pg", "--skip-memory"
    )
    lines_starting(out, "-- SQLite: loading 500 members'", *LEADERBOARD_LINES)
    assert "-- PostgreSQL skipped (--skip-pg) --" in out
    assert "FULL SCAN" not in out and "SORT" not in out, out


@pytest.mark.postgres
def test_leaderboard_on_postgres(pg_url: str) -> None:
    out = run_script(
        "leaderboard.py",
        "--members",
        "500",
        "--repeat",
        "2",
        "--skip-sqlite",
        "--skip-memory",
        "--pg-url",
        pg_url,
    )
    lines_starting(out, "-- PostgreSQL: loading 500 members'", *LEADERBOARD_LINES)
