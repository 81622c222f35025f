"""Benchmark: the SQL store against raw-driver baselines, on SQLite and PostgreSQL.

    python benchmarks/sql_store.py [--members N] [--events N] [--days D] [--seed S]
                                   [--batch B] [--workers 1,8] [--processes]
                                   [--pg-url URL] [--skip-pg]
                                   [--skip-sqlite] [--wal-autocheckpoint PAGES]
                                   [--ledger-rows N] [--reads R] [--skip-reads]

The fitness program (``examples/fitness/program.toml``: points and XP per
workout from the streak length, a level curve with rewards, a daily streak and
four badges) driven by one event stream: ``--events`` workouts (default
200,000) of ``--members`` members (default 10,000) over ``--days`` days
(default 30), each with an idempotency key and a duration. The stream comes
from ``random.Random(seed)`` and is built before any timing; a few members
train most days (streaks, levels and badges happen), most now and then. The
instants drive a :class:`gamify.ManualClock` that only moves forward.

Printed, from one process (threads for concurrency, unless ``--processes``),
every figure in events per second of wall-clock time and of CPU time:

0. the engine alone: the same stream on the memory store, per event and
   batched. No store can make the SDK faster than this, so its ratio to each
   baseline is the highest ratio any SQL store could reach;
a. the SDK on a SQLite file (a fresh temporary directory), ``engine.track``:
   one transaction and commit per event (``--skip-sqlite`` skips a to c);
b. the SDK batched: ``engine.track_many`` per ``--batch`` events (default 500),
   one commit per batch;
c. the raw ``sqlite3`` baseline with the SDK's settings (WAL,
   ``synchronous=NORMAL``, ``temp_store=MEMORY``, ``BEGIN IMMEDIATE``): per event one ledger row
   inserted, one balance row upserted, one badge threshold checked by a
   SELECT; one commit per event, then one per ``--batch`` events. Its tables
   have only their primary keys (no secondary index, no idempotency table):
   the minimal work per event. The SDK-to-baseline ratios follow
   (targets: 40 % per event, 25 % batched). ``--wal-autocheckpoint`` sets
   SQLite's ``wal_autocheckpoint`` (pages) for the SDK's stores and the
   baseline alike (default: SQLite's, 1,000);
d. PostgreSQL (``--pg-url`` or ``GAMIFY_PG_URL``; ``--skip-pg`` skips it):
   the SDK with each ``--workers`` count of threads (default 1 and 8), the
   events partitioned by member so that workers never wait for each other's
   member lock; every thread has its own Engine and ManualClock on one shared
   ``SQLStore`` (one connection pool). Against it the raw psycopg baseline,
   the same minimal writes per event with the same thread counts, each thread
   on its own connection (autocommit off, one commit per event, the server's
   default durability). Tables carry a unique prefix and are dropped at the
   end. Ratios follow (target: 40 %). With ``--processes`` the workers are
   forked processes instead (SDK and baseline alike), as an app served by
   several worker processes runs; the CPU time is then the workers' own;
e. constant-time reads (``--skip-reads`` skips it): one member's ledger filled
   to ``--ledger-rows`` rows (default 1,000,000; inserted with ``executemany``
   straight into the SDK's ledger table, since it is a read test), then
   ``engine.balance`` and ``engine.member`` (level, tier) timed for that member
   and for a member with about ten rows (median of ``--reads`` calls), and the
   ``EXPLAIN QUERY PLAN`` of the member and balance reads.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, MutableSequence, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import accumulate
from pathlib import Path
from typing import Any, Protocol

from gamify_adapters.sql import SQLStore
from sqlalchemy.engine import make_url

import gamify

PROGRAM_FILE = Path(__file__).resolve().parents[1] / "examples" / "fitness" / "program.toml"
START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
BADGE_THRESHOLD = 1000  # the baselines' badge check: points balance at or above this
PER_EVENT_TARGET = 0.40
BATCH_TARGET = 0.25
PG_TARGET = 0.40
PG_URL_VARIABLE = "GAMIFY_PG_URL"


@dataclass(frozen=True, slots=True)
class Workout:
    """One event of the stream: when, who, how long (minutes), and its idempotency key."""

    at: datetime
    member: str
    minutes: int
    key: str


def stream(members: int, events: int, days: int, seed: int) -> list[Workout]:
    """The whole stream in time order, generated before any timing.

    Members get Pareto-distributed activity weights: a few train several times a day
    (long streaks, high levels, every badge), most a few times a month.
    """
    rng = random.Random(seed)
    weights = list(accumulate(rng.paretovariate(2.5) for _ in range(members)))
    ids = [f"m{i:06d}" for i in range(members)]
    step = timedelta(days=days).total_seconds() / max(events, 1)
    at = START
    out: list[Workout] = []
    for n in range(events):
        at += timedelta(seconds=rng.uniform(0, 2 * step))
        member = rng.choices(ids, cum_weights=weights)[0]
        out.append(Workout(at, member, rng.randrange(10, 91), f"w{n}"))
    return out


def slices(items: Sequence[Any], parts: int = 10) -> Iterator[Sequence[Any]]:
    """``items`` in about ``parts`` consecutive slices (for progress lines)."""
    size = max(1, -(-len(items) // parts))
    for start in range(0, len(items), size):
        yield items[start : start + size]


def progress(label: str, done: int, total: int, started: float) -> None:
    rate = done / max(time.perf_counter() - started, 1e-9)
    print(f"    {label}: {done:,}/{total:,} events ({rate:,.0f} events/s so far)", flush=True)


@dataclass(frozen=True, slots=True)
class Rate:
    """One measured variant: its events, wall-clock and CPU seconds."""

    label: str
    events: int
    wall: float
    cpu: float

    @property
    def per_second(self) -> float:
        return self.events / self.wall if self.wall else 0.0

    def line(self) -> str:
        cpu_rate = self.events / self.cpu if self.cpu else 0.0
        return (
            f"{self.label:<34} {self.per_second:>9,.0f} events/s wall "
            f"({self.wall / max(self.events, 1) * 1e6:,.0f} us/event), "
            f"{cpu_rate:>9,.0f} events/s CPU"
        )


def report(rate: Rate) -> Rate:
    print(rate.line(), flush=True)
    return rate


def ratio_line(label: str, sdk: Rate, baseline: Rate, target: float) -> str:
    ratio = sdk.per_second / baseline.per_second if baseline.per_second else 0.0
    verdict = "met" if ratio >= target else "NOT met"
    return (
        f"ratio {label}: SDK {sdk.per_second:,.0f} / baseline {baseline.per_second:,.0f} "
        f"= {ratio:.1%} (target {target:.0%}: {verdict})"
    )


# The SDK ------------------------------------------------------------------------------------


def sdk_engine(
    program: gamify.Program, store: gamify.Store | str, start: datetime
) -> tuple[gamify.Engine, gamify.ManualClock]:
    clock = gamify.ManualClock(start)
    return gamify.Engine(program, store, clock), clock


def sdk_per_event(
    label: str, engine: gamify.Engine, clock: gamify.ManualClock, events: Sequence[Workout]
) -> Rate:
    """``engine.track`` for every event: one unit of work, one commit each."""
    track, set_clock = engine.track, clock.set
    wall, cpu = time.perf_counter(), time.process_time()
    done = 0
    for part in slices(events):
        for ev in part:
            set_clock(ev.at)
            track(ev.member, "workout", amount=ev.minutes, key=ev.key)
        done += len(part)
        progress(label, done, len(events), wall)
    return Rate(label, len(events), time.perf_counter() - wall, time.process_time() - cpu)


def sdk_batched(
    label: str,
    engine: gamify.Engine,
    clock: gamify.ManualClock,
    events: Sequence[Workout],
    batch: int,
) -> Rate:
    """``engine.track_many`` per ``batch`` events (each at its own instant): one commit each."""
    batches = [
        (
            chunk[-1].at,
            [
                gamify.Event(ev.member, "workout", at=ev.at, amount=ev.minutes, key=ev.key)
                for ev in chunk
            ],
        )
        for chunk in (events[i : i + batch] for i in range(0, len(events), batch))
    ]
    track_many, set_clock = engine.track_many, clock.set
    wall, cpu = time.perf_counter(), time.process_time()
    done = 0
    for part in slices(batches):
        for last, evs in part:
            set_clock(last)
            track_many(evs)
            done += len(evs)
        progress(label, done, len(events), wall)
    return Rate(label, len(events), time.perf_counter() - wall, time.process_time() - cpu)


def sample_summary(engine: gamify.Engine, members: Sequence[str]) -> tuple[str, list[int]]:
    """What the game layer did for a sample of members, and their points balances."""
    levels: list[int] = []
    longest = 0
    badges: Counter[str] = Counter()
    balances: list[int] = []
    for member in members:
        try:
            profile = engine.member(member)
        except gamify.UnknownMemberError:
            balances.append(0)
            continue
        levels.append(profile.level)
        badges.update(b.badge for b in profile.badges)
        longest = max(longest, *(s.longest for s in profile.streaks), 0)
        balances.append(profile.balances.get("points", 0))
    held = ", ".join(f"{name} {n:,}" for name, n in sorted(badges.items())) or "none"
    return (
        f"{len(members):,} members sampled: mean level {statistics.fmean(levels or [1]):.1f} "
        f"(highest {max(levels or [1])}), longest streak {longest}; badges held: {held}",
        balances,
    )


# The raw baselines ---------------------------------------------------------------------------

SQLITE_BASELINE_SCHEMA = (
    "CREATE TABLE ledger (id INTEGER PRIMARY KEY, entry_id TEXT NOT NULL, "
    "member_id TEXT NOT NULL, account TEXT NOT NULL, amount INTEGER NOT NULL, "
    "at TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL, key TEXT, action TEXT)",
    "CREATE TABLE balances (member_id TEXT NOT NULL, account TEXT NOT NULL, "
    "amount INTEGER NOT NULL, PRIMARY KEY (member_id, account)) WITHOUT ROWID",
)
INSERT_ENTRY = (
    "INSERT INTO {p}ledger (entry_id, member_id, account, amount, at, kind, reason, key, action) "
    "VALUES (?, ?, 'points', ?, ?, 'earn', 'workout_points', ?, 'workout')"
)
UPSERT_BALANCE = (
    "INSERT INTO {p}balances (member_id, account, amount) VALUES (?, 'points', ?) "
    "ON CONFLICT (member_id, account) DO UPDATE SET amount = {p}balances.amount + excluded.amount"
)
SELECT_BALANCE = "SELECT amount FROM {p}balances WHERE member_id = ? AND account = 'points'"
STATEMENTS = (INSERT_ENTRY, UPSERT_BALANCE, SELECT_BALANCE)


def points_for(ev: Workout) -> int:
    return 10 + min(ev.minutes // 10, 50)


def sqlite_baseline(
    label: str, path: Path, events: Sequence[Workout], batch: int, checkpoint: int | None
) -> Rate:
    """The minimal writes per event through ``sqlite3``, committing every ``batch`` events."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA journal_mode = WAL")
    if checkpoint is not None:
        conn.execute(f"PRAGMA wal_autocheckpoint = {checkpoint}")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA temp_store = MEMORY")
    for ddl in SQLITE_BASELINE_SCHEMA:
        conn.execute(ddl)
    insert, upsert, select = (s.format(p="") for s in STATEMENTS)
    cur = conn.cursor()
    execute = cur.execute
    badges = 0
    wall, cpu = time.perf_counter(), time.process_time()
    done = 0
    for part in slices(events):
        for start in range(0, len(part), batch):
            execute("BEGIN IMMEDIATE")
            for ev in part[start : start + batch]:
                amount = points_for(ev)
                execute(insert, (f"{ev.key}:points", ev.member, amount, str(ev.at), ev.key))
                execute(upsert, (ev.member, amount))
                row = execute(select, (ev.member,)).fetchone()
                if row[0] >= BADGE_THRESHOLD:
                    badges += 1
            execute("COMMIT")
        done += len(part)
        progress(label, done, len(events), wall)
    rate = Rate(label, len(events), time.perf_counter() - wall, time.process_time() - cpu)
    conn.close()
    return rate


# Threads -------------------------------------------------------------------------------------


def partition(events: Sequence[Workout], workers: int) -> list[list[Workout]]:
    """The events split by member into ``workers`` parts of about equal size, each in order."""
    owner: dict[str, int] = {}
    loads = [0] * workers
    counts = Counter(ev.member for ev in events)
    for member, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        w = min(range(workers), key=loads.__getitem__)
        owner[member] = w
        loads[w] += n
    parts: list[list[Workout]] = [[] for _ in range(workers)]
    for ev in events:
        parts[owner[ev.member]].append(ev)
    return parts


Runner = Callable[[MutableSequence[int], int], None]
"""A worker's timed loop: it counts its events in ``counters[index]``."""
RunWorkers = Callable[[str, Sequence[Callable[[], Runner]], int], "Rate"]
"""Runs prepared workers together and times them: :func:`run_threads` or
:func:`run_processes`."""


class Worker(Protocol):
    """A thread or a process."""

    def is_alive(self) -> bool: ...
    def join(self, timeout: float | None = None) -> None: ...


def watch(
    label: str,
    workers: Sequence[Worker],
    counters: Sequence[int],
    total: int,
    started: float,
) -> None:
    """Print progress about every tenth of ``total`` events until every worker has ended."""
    mark = max(1, total // 10)
    next_mark = mark
    while True:
        alive = [w for w in workers if w.is_alive()]
        if not alive:
            return
        alive[0].join(0.25)  # returns as soon as it ends: the timing stops at the last one
        done = sum(counters)
        if done >= next_mark and done < total:
            progress(label, done, total, started)
            next_mark = (done // mark + 1) * mark


def run_threads(label: str, prepares: Sequence[Callable[[], Runner]], total: int) -> Rate:
    """Prepare every worker (untimed), start them together, time until the last one ends."""
    barrier = threading.Barrier(len(prepares) + 1)
    counters = [0] * len(prepares)
    errors: list[BaseException] = []

    def body(index: int, prepare: Callable[[], Runner]) -> None:
        try:
            runner = prepare()
            barrier.wait()
            runner(counters, index)
        except threading.BrokenBarrierError:
            return
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [
        threading.Thread(target=body, args=(i, p), name=f"worker-{i}")
        for i, p in enumerate(prepares)
    ]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait()
    wall, cpu = time.perf_counter(), time.process_time()
    watch(label, threads, counters, total, wall)
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return Rate(label, sum(counters), time.perf_counter() - wall, time.process_time() - cpu)


def run_processes(label: str, prepares: Sequence[Callable[[], Runner]], total: int) -> Rate:
    """As :func:`run_threads`, each worker a forked process: prepared in it (untimed),
    started together, timed until the last one ends. The CPU time is the workers' own."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(prepares) + 1)
    counters = ctx.RawArray("q", len(prepares))
    cpu_used = ctx.RawArray("d", len(prepares))
    failures = ctx.SimpleQueue()

    def body(index: int, prepare: Callable[[], Runner]) -> None:
        try:
            runner = prepare()
            barrier.wait()
            start = time.process_time()
            runner(counters, index)
            cpu_used[index] = time.process_time() - start
        except threading.BrokenBarrierError:
            return
        except BaseException as exc:
            failures.put(f"worker {index}: {exc!r}")
            barrier.abort()

    processes = [
        ctx.Process(target=body, args=(i, p), name=f"worker-{i}") for i, p in enumerate(prepares)
    ]
    for proc in processes:
        proc.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait()
    wall = time.perf_counter()
    watch(label, processes, counters, total, wall)
    elapsed = time.perf_counter() - wall
    if not failures.empty():
        raise RuntimeError(failures.get())
    if any(proc.exitcode for proc in processes):
        raise RuntimeError(f"a worker process failed: exit codes {[p.exitcode for p in processes]}")
    if sum(counters) != total:
        raise RuntimeError(f"the worker processes tracked {sum(counters):,} of {total:,} events")
    return Rate(label, total, elapsed, sum(cpu_used))


# PostgreSQL -------------------------------------------------------------------------------------


def pg_sdk(
    label: str,
    program: gamify.Program,
    url: str,
    prefix: str,
    parts: list[list[Workout]],
    run_workers: RunWorkers,
) -> Rate:
    """The SDK on PostgreSQL: one Engine and clock per worker, one store (which a forked
    worker process reopens with connections of its own)."""
    store = SQLStore(url, prefix=prefix, create=True)
    try:

        def prepare(part: list[Workout]) -> Callable[[], Runner]:
            def make() -> Runner:
                engine, clock = sdk_engine(program, store, part[0].at if part else START)
                track, set_clock = engine.track, clock.set

                def run(counters: MutableSequence[int], index: int) -> None:
                    for n, ev in enumerate(part, 1):
                        set_clock(ev.at)
                        track(ev.member, "workout", amount=ev.minutes, key=ev.key)
                        counters[index] = n

                return run

            return make

        return run_workers(label, [prepare(p) for p in parts], sum(map(len, parts)))
    finally:
        store.drop_schema()
        store.close()


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as a libpq connection URI for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pg_baseline(
    label: str, url: str, prefix: str, parts: list[list[Workout]], run_workers: RunWorkers
) -> Rate:
    """The minimal writes per event through psycopg, one connection and commit per event."""
    import psycopg

    conninfo = libpq_url(url)
    ddl = (
        f"CREATE TABLE {prefix}ledger (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "entry_id TEXT NOT NULL, member_id TEXT NOT NULL, account TEXT NOT NULL, "
        "amount BIGINT NOT NULL, at TIMESTAMPTZ NOT NULL, kind TEXT NOT NULL, "
        "reason TEXT NOT NULL, key TEXT, action TEXT)",
        f"CREATE TABLE {prefix}balances (member_id TEXT NOT NULL, account TEXT NOT NULL, "
        "amount BIGINT NOT NULL, PRIMARY KEY (member_id, account))",
    )
    insert, upsert, select = (s.format(p=prefix).replace("?", "%s") for s in STATEMENTS)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        for statement in ddl:
            admin.execute(statement)
    try:

        def prepare(part: list[Workout]) -> Callable[[], Runner]:
            def make() -> Runner:
                conn = psycopg.connect(conninfo)  # autocommit off: a transaction per event

                def run(counters: MutableSequence[int], index: int) -> None:
                    badges = 0
                    try:
                        cur = conn.cursor()
                        execute, commit = cur.execute, conn.commit
                        for n, ev in enumerate(part, 1):
                            amount = points_for(ev)
                            execute(insert, (f"{ev.key}:points", ev.member, amount, ev.at, ev.key))
                            execute(upsert, (ev.member, amount))
                            row = execute(select, (ev.member,)).fetchone()
                            if row is not None and row[0] >= BADGE_THRESHOLD:
                                badges += 1
                            commit()
                            counters[index] = n
                    finally:
                        conn.close()

                return run

            return make

        return run_workers(label, [prepare(p) for p in parts], sum(map(len, parts)))
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            for table in ("ledger", "balances"):
                admin.execute(f"DROP TABLE IF EXISTS {prefix}{table}")


# Constant-time reads -----------------------------------------------------------------------


def median_us(calls: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """The median wall time of each call in microseconds, the calls taking turns (so that
    a change of load on the machine affects them alike)."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            t = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) * 1e6 for name, ts in times.items()}


def plan(path: Path, text: str, params: tuple[Any, ...]) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + text, params)]
    finally:
        conn.close()


def constant_reads(program: gamify.Program, directory: Path, rows: int, repeat: int) -> None:
    """Fill one member's ledger to ``rows`` rows; time member and balance reads against a
    member with about ten rows; print the plans of those reads."""
    path = directory / "reads.db"
    store = SQLStore(f"sqlite:///{path}")
    engine, clock = sdk_engine(program, store, START)
    big, small = "big", "small"
    for day in range(4):  # both members get a few real events (members, balances, badges)
        clock.set(START + timedelta(days=day))
        for member in (big, small):
            engine.track(member, "workout", amount=30, key=f"{member}{day}")
    ledger = store.tables.ledger.name
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")
    count = f"SELECT COUNT(*) FROM {ledger} WHERE member_id = ?"
    have = int(conn.execute(count, (big,)).fetchone()[0])
    add = max(0, rows - have)
    at = store.queries.codec.instant(START)
    print(
        f"  filling {big!r}'s ledger with {add:,} rows (executemany, one transaction)...",
        flush=True,
    )
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        f"INSERT INTO {ledger} (entry_id, member_id, account, amount, at, kind, reason, key, "
        "action, lot_id) VALUES (?, ?, 'points', 1, ?, 'earn', 'bulk', NULL, 'workout', NULL)",
        ((f"bulk{n}", big, at) for n in range(add)),
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    counts = {m: int(conn.execute(count, (m,)).fetchone()[0]) for m in (big, small)}
    conn.close()
    print(
        f"  filled in {time.perf_counter() - started:.1f} s; ledger rows: "
        + ", ".join(f"{m} {n:,}" for m, n in counts.items()),
        flush=True,
    )

    medians = median_us(
        {
            f"{what} {member}": partial(read, member)
            for member in (big, small)
            for what, read in (("balance", engine.balance), ("member", engine.member))
        },
        repeat,
    )
    for member in (big, small):
        profile = engine.member(member)
        print(
            f"reads, {member:<5} ({counts[member]:>9,} ledger rows): "
            f"engine.balance {medians[f'balance {member}']:,.0f} us, "
            f"engine.member {medians[f'member {member}']:,.0f} us "
            f"(level {profile.level}, tier {profile.tier}; median of {repeat})",
            flush=True,
        )
    sql = store.queries.sql
    for name, text in (("member read", sql.load_member), ("balance read", sql.balances)):
        lines = plan(path, text, (big,))
        scans = [line for line in lines if line.startswith("SCAN")]
        verdict = "FULL SCAN" if scans else "primary key search"
        print(f"EXPLAIN QUERY PLAN {name} ({verdict}):")
        for line in lines:
            print(f"    {line}")
    store.close()


# Main ------------------------------------------------------------------------------------


def engine_alone(program: gamify.Program, events: list[Workout], batch: int) -> tuple[Rate, Rate]:
    """The same stream on the memory store: the engine's own time, without storage."""
    print("-- the engine alone (memory store) --", flush=True)
    engine, clock = sdk_engine(program, "memory://", events[0].at)
    each = report(sdk_per_event("0. memory store per event", engine, clock, events))
    engine, clock = sdk_engine(program, "memory://", events[0].at)
    batched = report(
        sdk_batched(f"0. memory store batched ({batch})", engine, clock, events, batch)
    )
    return each, batched


def ceiling_line(alone: Rate, baseline: Rate) -> str:
    ceiling = alone.per_second / baseline.per_second if baseline.per_second else 0.0
    return (
        f"  ceiling: the engine alone ({alone.label[3:]}) is {ceiling:.1%} of "
        f"{baseline.label[3:]}; no store can bring the SDK above it"
    )


def sqlite_part(
    program: gamify.Program,
    events: list[Workout],
    directory: Path,
    batch: int,
    members: int,
    floor: tuple[Rate, Rate],
    checkpoint: int | None,
) -> None:
    setting = "" if checkpoint is None else f", wal_autocheckpoint={checkpoint:,}"
    print(f"-- SQLite (files in {directory}{setting}) --", flush=True)
    store_a = SQLStore(f"sqlite:///{directory / 'sdk_per_event.db'}", wal_autocheckpoint=checkpoint)
    engine_a, clock_a = sdk_engine(program, store_a, events[0].at)
    a = report(sdk_per_event("a. SDK per event (track)", engine_a, clock_a, events))

    store_b = SQLStore(f"sqlite:///{directory / 'sdk_batched.db'}", wal_autocheckpoint=checkpoint)
    engine_b, clock_b = sdk_engine(program, store_b, events[0].at)
    b = report(
        sdk_batched(f"b. SDK batched (track_many {batch})", engine_b, clock_b, events, batch)
    )

    c1 = report(
        sqlite_baseline(
            "c. sqlite3 baseline per event", directory / "raw_each.db", events, 1, checkpoint
        )
    )
    c2 = report(
        sqlite_baseline(
            f"c. sqlite3 baseline per {batch}",
            directory / "raw_batch.db",
            events,
            batch,
            checkpoint,
        )
    )
    print(ratio_line("a (per event)", a, c1, PER_EVENT_TARGET))
    print(ratio_line("b (batched)", b, c2, BATCH_TARGET))
    print(ceiling_line(floor[0], c1))
    print(ceiling_line(floor[1], c2))

    sample = [f"m{i:06d}" for i in range(0, members, max(1, members // 1000))]
    summary, balances_a = sample_summary(engine_a, sample)
    _, balances_b = sample_summary(engine_b, sample)
    print(summary)
    same = "agree" if balances_a == balances_b else "DISAGREE"
    print(f"per-event and batched stores {same} on the points balances of the sample", flush=True)
    store_a.close()
    store_b.close()


def pg_part(
    program: gamify.Program, events: list[Workout], url: str, workers: list[int], processes: bool
) -> None:
    print(f"-- PostgreSQL ({make_url(url).render_as_string(hide_password=True)}) --", flush=True)
    tag = f"bench{uuid.uuid4().hex[:8]}"
    kind, kinds, run_workers = (
        ("process", "processes", run_processes) if processes else ("thread", "threads", run_threads)
    )
    sdk: dict[int, Rate] = {}
    raw: dict[int, Rate] = {}
    for w in workers:
        parts = partition(events, w)
        name = f"{w} worker {kind if w == 1 else kinds}"
        sdk[w] = report(pg_sdk(f"d. SDK, {name}", program, url, f"{tag}_s{w}_", parts, run_workers))
        raw[w] = report(
            pg_baseline(f"d. psycopg baseline, {name}", url, f"{tag}_r{w}_", parts, run_workers)
        )
    for w in workers:
        print(ratio_line(f"d ({w} worker{'s' * (w > 1)})", sdk[w], raw[w], PG_TARGET))
    print(
        f"(SDK workers: one Engine and ManualClock per {kind} on one SQLStore; "
        "baseline workers: one psycopg connection each)",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=30, help="days the stream spans")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--batch", type=int, default=500, help="events per track_many call")
    parser.add_argument("--workers", default="1,8", help="PostgreSQL worker counts, e.g. 1,8")
    parser.add_argument(
        "--processes",
        action="store_true",
        help="PostgreSQL workers are forked processes, not threads of this one",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(PG_URL_VARIABLE),
        help=f"PostgreSQL URL (default: ${PG_URL_VARIABLE})",
    )
    parser.add_argument("--skip-pg", action="store_true", help="skip the PostgreSQL part")
    parser.add_argument("--skip-sqlite", action="store_true", help="skip the SQLite part")
    parser.add_argument(
        "--wal-autocheckpoint",
        type=int,
        metavar="PAGES",
        help="SQLite's wal_autocheckpoint for the SDK and the baseline (default: 1,000)",
    )
    parser.add_argument(
        "--ledger-rows",
        type=int,
        default=1_000_000,
        help="ledger rows of the big member in the read test",
    )
    parser.add_argument("--reads", type=int, default=1000, help="calls per read timing")
    parser.add_argument("--skip-reads", action="store_true", help="skip the read test")
    args = parser.parse_args(argv)
    if args.events < 1 or args.members < 1 or args.batch < 1 or args.days < 1:
        parser.error("--events, --members, --batch and --days must be positive")
    if args.wal_autocheckpoint is not None and args.wal_autocheckpoint < 1:
        parser.error("--wal-autocheckpoint takes a positive number of pages")
    if args.processes and "fork" not in multiprocessing.get_all_start_methods():
        parser.error("--processes forks its workers, which this platform cannot do")
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    if not workers or min(workers) < 1:
        parser.error("--workers takes positive counts, e.g. 1,8")

    program = gamify.Program.load(PROGRAM_FILE)
    events = stream(args.members, args.events, args.days, args.seed)
    per_member = Counter(ev.member for ev in events)
    print(
        f"{len(events):,} workout events over {args.days} days, {len(per_member):,} of "
        f"{args.members:,} members active (most active: {max(per_member.values()):,} events), "
        f"fitness program, seed {args.seed}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="gamify-bench-") as tmp:
        directory = Path(tmp)
        if args.skip_sqlite:
            print("-- SQLite skipped (--skip-sqlite) --", flush=True)
        else:
            floor = engine_alone(program, events, args.batch)
            sqlite_part(
                program,
                events,
                directory,
                args.batch,
                args.members,
                floor,
                args.wal_autocheckpoint,
            )
        if args.skip_pg or not args.pg_url:
            reason = "--skip-pg" if args.skip_pg else f"no --pg-url and no ${PG_URL_VARIABLE}"
            print(f"-- PostgreSQL skipped ({reason}) --", flush=True)
        else:
            pg_part(program, events, args.pg_url, workers, args.processes)
        if args.skip_reads:
            print("-- constant-time reads skipped (--skip-reads) --", flush=True)
        else:
            print(
                f"-- constant-time reads (SQLite, {args.ledger_rows:,} ledger rows) --", flush=True
            )
            constant_reads(program, directory, args.ledger_rows, args.reads)


if __name__ == "__main__":
    main()
