"""Benchmark: leaderboards and one member's rank among many members, on every store.

    python benchmarks/leaderboard.py [--members N] [--repeat R] [--seed S]
                                     [--pg-url URL] [--skip-pg] [--skip-sqlite]
                                     [--skip-memory]

``--members`` members (default 1,000,000) with earned points, on the fitness
program (``examples/fitness/program.toml``). Two members earn through
``engine.track`` (one 40 days ago, one now), which writes the SDK's own period
keys into its earned table; every other member's totals are then bulk-loaded
straight into that table (``<prefix>earned``: all-time total and the current
day, week and month totals with their period keys; ``executemany`` on SQLite,
``COPY`` on PostgreSQL, the store's own dictionary on the memory store), from
``random.Random(seed)``. About 40 % earned this
week, the rest in earlier periods; all-time scores have many ties. No member
rows are loaded: the fitness program has no tiers, so no board reads them.

Timed, each as the median of ``--repeat`` calls (default 15) after one
untimed warm-up call whose time is printed as "first":

- ``engine.leaderboard("points", period="all", limit=100)``;
- ``engine.leaderboard("points", period="week", limit=100)`` (the current week);
- ``engine.rank(member, "points")`` for the member at the median all-time score
  (and, to show how the count grows with the rank, the top scorer and one near
  the bottom), and ``engine.rank(member, "points", period="week")`` for the
  middle of the weekly board.

On the memory store, whose boards are sorted indexes built at the first read
and kept up to date after it, the "first" figure includes that build; it also
times one ``track`` followed by each read ("after one event"), the cost a
board pays per change.

On the SQL stores, then, the database's plan of each statement these calls run (``EXPLAIN QUERY
PLAN`` on SQLite; ``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL, after ``VACUUM
ANALYZE`` of the loaded table), each flagged when it scans a whole table or
sorts. PostgreSQL (``--pg-url`` or ``GAMIFY_PG_URL``) uses tables with a unique
prefix, dropped at the end; SQLite a file in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from gamify_adapters.memory import MemoryStore
from gamify_adapters.sql import SQLStore
from sqlalchemy import select
from sqlalchemy.engine import make_url

import gamify

PROGRAM_FILE = Path(__file__).resolve().parents[1] / "examples" / "fitness" / "program.toml"
NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)  # a Wednesday
OLD = NOW - timedelta(days=40)  # another day, week and month
PG_URL_VARIABLE = "GAMIFY_PG_URL"
COLUMNS = (
    "member_id",
    "currency",
    "all_time",
    "day_key",
    "day_amount",
    "week_key",
    "week_amount",
    "month_key",
    "month_amount",
)
_T = TypeVar("_T")

Row = tuple[str, str, int, str, int, str, int, str, int]


@dataclass(frozen=True)
class Keys:
    """Period keys of the earned table as the SDK writes them: (day, week, month)."""

    day: str
    week: str
    month: str


def member_id(i: int) -> str:
    return f"m{i:07d}"


def period_keys(store: SQLStore | MemoryStore, member: str) -> Keys:
    """The period keys of ``member``'s points row, read back from the earned table."""
    if isinstance(store, MemoryStore):
        row = store._earned["points"][member]
        return Keys(row[1], row[3], row[5])
    earned = store.tables.earned
    query = select(earned.c.day_key, earned.c.week_key, earned.c.month_key).where(
        earned.c.member_id == member, earned.c.currency == "points"
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).one()
    return Keys(str(row[0]), str(row[1]), str(row[2]))


def rows(
    members: int, seed: int, now: Keys, old: Keys, scores: dict[str, int], weekly: dict[str, int]
) -> Iterator[Row]:
    """Earned rows of members 2.. in member id order; all-time scores go into ``scores``,
    this week's into ``weekly``."""
    rng = random.Random(seed)
    for i in range(2, members):
        week_now = rng.random() < 0.4
        day_now = week_now and rng.random() < 0.3
        month_now = week_now or rng.random() < 0.5
        day = rng.randrange(10, 300)
        week = (day if day_now else 0) + rng.randrange(10, 1500)
        month = (week if week_now else 0) + rng.randrange(10, 4000)
        all_time = (month if month_now else 0) + rng.randrange(0, 100_000)
        m = member_id(i)
        scores[m] = all_time
        if week_now:
            weekly[m] = week
        yield (
            m,
            "points",
            all_time,
            now.day if day_now else old.day,
            day,
            now.week if week_now else old.week,
            week,
            now.month if month_now else old.month,
            month,
        )


def fill_sqlite(path: Path, table: str, data: Iterator[Row]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -262144")  # 256 MiB for the load only
        conn.execute("BEGIN IMMEDIATE")
        marks = ", ".join("?" for _ in COLUMNS)
        conn.executemany(f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({marks})", data)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def fill_memory(store: MemoryStore, data: Iterator[Row]) -> None:
    """The rows into the memory store's earned table: member -> (all time, day key, day,
    week key, week, month key, month), the SQL table's columns in the same order."""
    table = store._earned.setdefault("points", {})
    for member, _, *totals in data:
        table[member] = tuple(totals)


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as a libpq connection URI for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def fill_postgres(url: str, table: str, data: Iterator[Row]) -> None:
    import psycopg

    with psycopg.connect(libpq_url(url)) as conn:
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in data:
                copy.write_row(row)
        conn.commit()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(f"VACUUM ANALYZE {table}")


def timed(call: Callable[[], _T], repeat: int) -> tuple[_T, float, float]:
    """The result, the first call's milliseconds and the median of ``repeat`` more."""
    t = time.perf_counter()
    result = call()
    first = (time.perf_counter() - t) * 1e3
    times: list[float] = []
    for _ in range(repeat):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return result, first, statistics.median(times) * 1e3


def explain(store: SQLStore, text: str, params: tuple[Any, ...]) -> list[str]:
    raw: Any = store.engine.raw_connection()
    try:
        cur = raw.driver_connection.cursor()
        if store.dialect == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + text, params)
            return [str(row[3]) for row in cur.fetchall()]
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + text, params)
        return [str(row[0]) for row in cur.fetchall()]
    finally:
        raw.close()


def verdict(dialect: str, lines: list[str]) -> str:
    """Whether a plan reads a whole table or sorts (no index serves it), from its text."""
    text = "\n".join(lines)
    if dialect == "sqlite":
        full = any(line.startswith("SCAN") for line in lines)
        sort = "TEMP B-TREE" in text
    else:
        full = "Seq Scan" in text
        sort = any(line.lstrip("-> ").startswith("Sort") for line in lines)
    found = [w for w, hit in (("FULL SCAN", full), ("SORT", sort)) if hit]
    return ", ".join(found) if found else "indexed"


def ms(label: str, first: float, median: float, what: str) -> None:
    print(f"  {label:<44} median {median:8.2f} ms (first {first:8.2f} ms)  {what}", flush=True)


def after_one_event(
    engine: gamify.Engine, clock: gamify.ManualClock, read: Callable[[], object], repeat: int
) -> float:
    """The median milliseconds of one workout by a new member followed by ``read``."""
    times: list[float] = []
    for i in range(repeat):
        clock.set(clock.now() + timedelta(seconds=1))
        t = time.perf_counter()
        engine.track(f"new{i:05d}", "workout", amount=30)
        read()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def run(
    label: str, store: SQLStore | MemoryStore, members: int, seed: int, repeat: int, url: str
) -> None:
    program = gamify.Program.load(PROGRAM_FILE)
    clock = gamify.ManualClock(OLD)
    engine = gamify.Engine(program, store, clock)
    engine.track(member_id(0), "workout", amount=30, key="old")
    clock.set(NOW)
    engine.track(member_id(1), "workout", amount=30, key="now")
    old, now = period_keys(store, member_id(0)), period_keys(store, member_id(1))
    table = "the memory store" if isinstance(store, MemoryStore) else store.tables.earned.name
    scores: dict[str, int] = {}
    week_scores: dict[str, int] = {}
    print(f"-- {label}: loading {members:,} members' earned totals into {table} --", flush=True)
    started = time.perf_counter()
    data = rows(members, seed, now, old, scores, week_scores)
    if isinstance(store, MemoryStore):
        fill_memory(store, data)
    elif store.dialect == "sqlite":
        fill_sqlite(Path(make_url(url).database or ""), table, data)
    else:
        fill_postgres(url, table, data)
    print(f"  loaded in {time.perf_counter() - started:.1f} s", flush=True)
    # One workout each: what they earned is their balance; member 1 earned it this week.
    scores[member_id(0)] = engine.balance(member_id(0))
    scores[member_id(1)] = week_scores[member_id(1)] = engine.balance(member_id(1))

    ordered = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    top, middle, low = ordered[0], ordered[len(ordered) // 2], ordered[-len(ordered) // 100 - 1]

    board, first, median = timed(
        lambda: engine.leaderboard("points", period="all", limit=100), repeat
    )
    ms(
        "leaderboard all time, top 100",
        first,
        median,
        f"#1 {board[0].member_id} {board[0].score:,}, #{board[-1].rank} {board[-1].score:,}",
    )
    assert board[0].score == top[1], (board[0], top)
    week, first, median = timed(
        lambda: engine.leaderboard("points", period="week", limit=100), repeat
    )
    ms(
        "leaderboard this week, top 100",
        first,
        median,
        f"#1 {week[0].member_id} {week[0].score:,}, #{week[-1].rank} {week[-1].score:,}",
    )
    for what, (member, score) in (("middle", middle), ("top", top), ("near the bottom", low)):
        row, first, median = timed(partial(engine.rank, member, "points"), repeat)
        assert row is not None and row.score == score, (row, member, score)
        assert row.rank == 1 + sum(1 for s in scores.values() if s > score), row
        ms(
            f"rank all time, {what}",
            first,
            median,
            f"{member}: rank {row.rank:,} of {len(scores):,}, score {score:,}",
        )
    weekly = sorted(week_scores.items(), key=lambda kv: (-kv[1], kv[0]))
    week_member, week_score = weekly[len(weekly) // 2]
    row, first, median = timed(lambda: engine.rank(week_member, "points", period="week"), repeat)
    assert row is not None and row.score == week_score, (row, week_member, week_score)
    assert row.rank == 1 + sum(1 for s in week_scores.values() if s > week_score), row
    ms(
        "rank this week, middle",
        first,
        median,
        f"{week_member}: rank {row.rank:,} of {len(weekly):,}, score {week_score:,}",
    )

    if isinstance(store, MemoryStore):
        reads: list[tuple[str, Callable[[], object]]] = [
            ("leaderboard all time, top 100", lambda: engine.leaderboard(limit=100)),
            (
                "leaderboard this week, top 100",
                lambda: engine.leaderboard(period="week", limit=100),
            ),
            ("rank all time, middle", partial(engine.rank, middle[0])),
        ]
        for what, read in reads:
            median = after_one_event(engine, clock, read, repeat)
            print(f"  {what + ', after one event':<50} median {median:8.2f} ms", flush=True)
        return
    sql = store.queries.sql
    week_key = now.week
    plans = (
        ("leaderboard all", sql.leaderboard["all", False], ("points", 0, 100)),
        ("leaderboard week", sql.leaderboard["week", False], ("points", week_key, 0, 100)),
        ("score (rank: the member's row)", sql.score, (middle[0], "points")),
        ("count_above all (rank, middle)", sql.count_above["all", False], ("points", middle[1])),
        (
            "count_above week (rank, middle)",
            sql.count_above["week", False],
            ("points", week_key, row.score),
        ),
    )
    for name, text, params in plans:
        lines = explain(store, text, params)
        print(f"  plan {name} ({verdict(store.dialect, lines)}):")
        for line in lines:
            print(f"      {line}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15, help="timed calls per figure")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(PG_URL_VARIABLE),
        help=f"PostgreSQL URL (default: ${PG_URL_VARIABLE})",
    )
    parser.add_argument("--skip-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--skip-sqlite", action="store_true", help="skip SQLite")
    parser.add_argument("--skip-memory", action="store_true", help="skip the memory store")
    args = parser.parse_args(argv)
    if args.members < 100 or args.repeat < 1:
        parser.error("--members must be at least 100 and --repeat at least 1")
    print(
        f"{args.members:,} members, fitness program, median of {args.repeat} calls, "
        f"seed {args.seed}",
        flush=True,
    )
    if args.skip_memory:
        print("-- memory store skipped (--skip-memory) --")
    else:
        run("memory store", MemoryStore(), args.members, args.seed, args.repeat, "memory://")
    if args.skip_sqlite:
        print("-- SQLite skipped (--skip-sqlite) --")
    else:
        with tempfile.TemporaryDirectory(prefix="gamify-board-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'board.db'}"
            store = SQLStore(url)
            try:
                run("SQLite", store, args.members, args.seed, args.repeat, url)
            finally:
                store.close()
    if args.skip_pg or not args.pg_url:
        reason = "--skip-pg" if args.skip_pg else f"no --pg-url and no ${PG_URL_VARIABLE}"
        print(f"-- PostgreSQL skipped ({reason}) --")
        return
    store = SQLStore(args.pg_url, prefix=f"board{uuid.uuid4().hex[:8]}_")
    try:
        run("PostgreSQL", store, args.members, args.seed, args.repeat, args.pg_url)
    finally:
        store.drop_schema()
        store.close()


if __name__ == "__main__":
    main()
