"""Concurrent use of the SQL store: units of work hold their member's lock from load to commit,
balances change only through conditional updates, one-time records are unique.

Run on a SQLite file (threads of one process, and several processes sharing the
file) and on PostgreSQL. Timeouts are generous and nothing is timed.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gamify import Engine, InsufficientBalanceError, ManualClock, Program, Store, open_store
from gamify.errors import ConcurrencyError

if TYPE_CHECKING:
    from conftest import StoreTarget  # tests/conftest.py

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
THREADS = 16

PROGRAM: dict[str, Any] = {
    "timezone": "UTC",
    "actions": {
        "purchase": {"amount": "required"},
        "check_in": {"amount": "none"},
        "exercise": {"amount": "none"},
    },
    "rules": [
        {"name": "spend", "action": "purchase", "per_amount": 1},
        {"name": "daily", "action": "check_in", "fixed": 10},
        {"name": "exercise_xp", "action": "exercise", "currency": "xp", "fixed": 1},
    ],
    "caps": [{"name": "check_in_daily", "limit": 50, "period": "day", "action": "check_in"}],
}


def make_engine(store: Store) -> Engine:
    return Engine(Program.from_dict(PROGRAM), store=store, clock=ManualClock(NOW))


def in_threads(work: Callable[[int], None], count: int = THREADS) -> None:
    """Run ``work(i)`` in ``count`` threads that start together; re-raise the first failure."""
    start = threading.Barrier(count)

    def run(i: int) -> None:
        start.wait(timeout=60)
        work(i)

    with ThreadPoolExecutor(count) as pool:
        for future in [pool.submit(run, i) for i in range(count)]:
            future.result(timeout=600)


def ledger_sum(store: Store, member_id: str, account: str) -> int:
    return sum(e.amount for e in store.history(member_id, account=account))


@pytest.fixture
def store(gamify_sql_target: StoreTarget) -> Any:
    store = gamify_sql_target.open()
    yield store
    store.close()


def test_threads_redeeming_one_balance(store: Store) -> None:
    """Sixteen threads redeeming from one balance spend at most what it holds, never take it
    below zero, and every refused redemption is InsufficientBalanceError."""
    engine = make_engine(store)
    engine.track("alice", "purchase", amount=100)
    spent: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def redeem(_: int) -> None:
        for _attempt in range(3):
            try:
                engine.redeem("alice", 7)
            except BaseException as exc:
                with lock:
                    errors.append(exc)
            else:
                with lock:
                    spent.append(7)

    in_threads(redeem)
    assert all(isinstance(e, InsufficientBalanceError) for e in errors), errors
    assert sum(spent) == 98  # 14 redemptions of 7 fit in 100, one after another
    assert len(errors) == 3 * THREADS - 14
    assert engine.balance("alice") == 2
    assert ledger_sum(store, "alice", "points") == 2


def _redeem_in_process(url: str, options: dict[str, Any], tries: int) -> tuple[int, list[str]]:
    """One process: its own store on the shared database, redeeming 7 points ``tries`` times."""
    store = open_store(url, **options)
    try:
        engine = make_engine(store)
        spent, refusals = 0, []
        for _ in range(tries):
            try:
                engine.redeem("alice", 7)
                spent += 7
            except Exception as exc:
                refusals.append(type(exc).__name__)
        return spent, refusals
    finally:
        store.close()


@pytest.mark.slow
def test_processes_redeeming_one_balance(store: Store, gamify_sql_target: StoreTarget) -> None:
    """Four processes redeeming from one balance on a shared database spend at most what it
    holds and leave it non-negative; every refusal is InsufficientBalanceError."""
    engine = make_engine(store)
    engine.track("alice", "purchase", amount=100)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(
            _redeem_in_process,
            [(gamify_sql_target.url, gamify_sql_target.options, 6)] * 4,
            chunksize=1,
        )
    spent = sum(s for s, _ in results)
    refusals = [name for _, names in results for name in names]
    assert set(refusals) <= {"InsufficientBalanceError"}
    assert spent == 98
    assert len(refusals) == 4 * 6 - 14
    assert engine.balance("alice") == 2
    assert ledger_sum(store, "alice", "points") == 2


def _open_new_database(url: str, options: dict[str, Any], start_at: float) -> str:
    while time.time() < start_at:  # line the four opens up (the result rests on the locks)
        pass
    store = open_store(url, **options)
    try:
        return type(store).__name__
    finally:
        store.close()


@pytest.mark.slow
def test_processes_opening_a_new_database_together(
    gamify_sql_target: StoreTarget, tmp_path: Path
) -> None:
    """Four processes opening a store on a database without its tables, at the same moment,
    all succeed: the tables are created once, under a lock. On SQLite each round opens a new
    file, where switching to WAL can be refused at once while another process creates it."""
    ctx = multiprocessing.get_context("spawn")
    rounds = 20 if gamify_sql_target.kind == "sqlite" else 1
    with ctx.Pool(4) as pool:
        pool.starmap(time.sleep, [(0,)] * 4, chunksize=1)  # the workers are up
        for i in range(rounds):
            url = (
                f"sqlite:///{tmp_path / f'new{i}.db'}"
                if gamify_sql_target.kind == "sqlite"
                else gamify_sql_target.url
            )
            start_at = time.time() + 0.2
            names = pool.starmap(
                _open_new_database, [(url, gamify_sql_target.options, start_at)] * 4, chunksize=1
            )
            assert names == ["SQLStore"] * 4


def test_threads_sending_one_idempotency_key(store: Store) -> None:
    """Sixteen threads tracking one event key get the same outcome, and it is credited once."""
    engine = make_engine(store)
    outcomes: list[Any] = [None] * THREADS

    def track(i: int) -> None:
        outcomes[i] = engine.track("alice", "purchase", amount=25, key="order-1")

    in_threads(track)
    assert all(o == outcomes[0] for o in outcomes)
    assert engine.balance("alice") == 25
    assert [e.amount for e in store.history("alice")] == [25]


def test_threads_against_a_daily_cap(store: Store) -> None:
    """Sixteen threads checking in five times each against a daily cap of 50 credit exactly 50."""
    engine = make_engine(store)

    def check_in(_: int) -> None:
        for _attempt in range(5):
            engine.track("alice", "check_in")

    in_threads(check_in)
    assert engine.balance("alice") == 50
    assert ledger_sum(store, "alice", "points") == 50


def test_threads_awarding_xp_to_a_new_member(store: Store) -> None:
    """Sixteen threads each awarding 1 XP a hundred times to a member not stored before add
    up to exactly 1,600, in the balance, the ledger and the leaderboard totals."""
    engine = make_engine(store)

    def exercise(_: int) -> None:
        for _attempt in range(100):
            engine.track("alice", "exercise")

    in_threads(exercise)
    assert engine.balance("alice", "xp") == 1600
    assert ledger_sum(store, "alice", "xp") == 1600
    assert store.score("alice", "xp", "all") == 1600
    assert store.score("alice", "xp", "day:2026-03-02") == 1600
    member = store.get_member("alice")
    assert member is not None
    assert member.state["counts"]["exercise"] == 1600


def test_batches_naming_members_in_opposite_orders_never_deadlock(store: Store) -> None:
    """Threads send batches [a, b] and [b, a] with no retries allowed: every batch commits,
    because a batch locks all its members up front in id order."""
    engine = Engine(Program.from_dict(PROGRAM), store=store, clock=ManualClock(NOW), max_retries=0)
    rounds = 15

    def send(i: int) -> None:
        pair = ["a", "b"] if i % 2 else ["b", "a"]
        for _ in range(rounds):
            engine.track_many([{"member_id": m, "action": "purchase", "amount": 1} for m in pair])

    in_threads(send, count=4)
    assert engine.balance("a") == engine.balance("b") == 4 * rounds


def test_a_batch_asks_the_store_for_its_members_in_id_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """track_many hands the store every member of the batch, sorted, before any unit."""
    engine = make_engine(store)
    asked: list[list[str]] = []
    real = store.batch
    monkeypatch.setattr(store, "batch", lambda ids=(): asked.append(list(ids)) or real(ids))
    engine.track_many(
        [{"member_id": m, "action": "check_in"} for m in ("zoe", "adam", "mia", "adam")]
    )
    assert asked == [["adam", "mia", "zoe"]]


def test_a_rank_reads_one_instant(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """engine.rank reads the score and the count above it from one snapshot: a purchase that
    commits from another thread between the two reads moves neither. Read apart, the
    member's own new score would count as above its old one (rank 2 of one member)."""
    engine = make_engine(store)
    engine.track("alice", "purchase", amount=10)
    queries = store.queries  # type: ignore[attr-defined]
    count_above = queries.count_above
    wrote: list[int] = []

    def after_a_write_elsewhere(*args: Any) -> int:
        if not wrote:  # the other thread's purchase commits before the count is read
            other = threading.Thread(
                target=lambda: wrote.append(
                    make_engine(store).track("alice", "purchase", amount=5).credits[0].amount
                )
            )
            other.start()
            other.join(timeout=60)
        return int(count_above(*args))

    monkeypatch.setattr(queries, "count_above", after_a_write_elsewhere)
    row = engine.rank("alice", "points")
    assert wrote == [5]
    assert row is not None and (row.rank, row.score) == (1, 10)
    monkeypatch.undo()
    row = engine.rank("alice", "points")
    assert row is not None and (row.rank, row.score) == (1, 15)


def test_a_pool_with_no_free_connection_is_a_concurrency_error(
    gamify_sql_target: StoreTarget,
) -> None:
    """When every connection the pool may lend is in use past ``pool_timeout``, a call gets
    gamify's ConcurrencyError (after the engine's retries), not SQLAlchemy's TimeoutError."""
    store = gamify_sql_target.open(
        engine_options={"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.05}
    )
    engine = Engine(Program.from_dict(PROGRAM), store=store, clock=ManualClock(NOW), max_retries=1)
    engine.track("alice", "purchase", amount=3)
    calls: list[Callable[[], object]] = [lambda: engine.balance("alice")]
    if gamify_sql_target.kind == "postgres":  # SQLite's writers queue on the file's lock
        calls.append(lambda: engine.track("bob", "purchase", amount=1))
    raised: list[BaseException] = []

    def other_thread() -> None:
        for call in calls:
            try:
                call()
            except BaseException as exc:  # checked below
                raised.append(exc)

    try:
        with store.batch(["alice"]):
            assert store.get_balances("alice") == {"points": 3}  # the one connection, held
            thread = threading.Thread(target=other_thread)
            thread.start()
            thread.join(timeout=120)
        assert [type(exc) for exc in raised] == [ConcurrencyError] * len(calls)
        assert "pool" in str(raised[0])
        assert engine.balance("alice") == 3 and engine.balance("bob") == 0
    finally:
        store.close()
