"""Outbox workers on PostgreSQL: several workers draining one outbox deliver each event once.

A drain takes its rows with ``SELECT ... FOR UPDATE SKIP LOCKED`` in one transaction,
delivers them, deletes them and commits; another drain meanwhile skips the locked rows
and takes the next ones. A worker that dies while delivering rolls back, and its rows
wait for the next drain. Threads wait on events, never on the clock; the timeouts only
stop a broken test from hanging.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from gamify import DomainEvent, Engine, ManualClock, Program, Store

if TYPE_CHECKING:
    from conftest import StoreTarget  # tests/conftest.py

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WAIT = 60  # seconds before a thread that never gets its signal fails the test

PROGRAM: dict[str, Any] = {
    "timezone": "UTC",
    "actions": {"purchase": {"amount": "required"}},
    "rules": [{"name": "spend", "action": "purchase", "per_amount": 1}],
}


class Crash(BaseException):
    """Stands for the worker's process dying in the middle of a delivery."""


def engine_on(store: Store) -> Engine:
    return Engine(
        Program.from_dict(PROGRAM), store=store, clock=ManualClock(NOW), deliver_events=False
    )


@pytest.fixture
def target(gamify_pg_target: StoreTarget) -> StoreTarget:
    return gamify_pg_target


@pytest.fixture
def stores(target: StoreTarget) -> Iterator[list[Store]]:
    """Three stores on one database, as three worker processes would open it."""
    opened = [target.open() for _ in range(3)]
    yield opened
    for store in opened:
        store.close()


def write_events(store: Store, count: int) -> list[str]:
    """``count`` tracked purchases whose ``credited`` events wait in the outbox; their ids."""
    engine_on(store).track_many(
        [{"member_id": f"m{i:04d}", "action": "purchase", "amount": i + 1} for i in range(count)]
    )
    ids = [m.event_id for m in store.pending_outbox(count + 1)]
    assert len(ids) == count
    return ids


class BlockingWorker:
    """A worker whose subscriber stops at its first event until released, then goes on
    (or, with ``crash``, dies there)."""

    def __init__(self, store: Store, *, crash: bool = False) -> None:
        self.engine = engine_on(store)
        self.inside = threading.Event()
        self.release = threading.Event()
        self.crash = crash
        self.seen: list[str] = []
        self.engine.on("*", self.receive)

    def receive(self, event: DomainEvent) -> None:
        self.seen.append(event.event_id)
        if not self.inside.is_set():
            self.inside.set()
            assert self.release.wait(WAIT)
            if self.crash:
                raise Crash


def test_a_second_worker_takes_the_next_rows_while_the_first_delivers(
    stores: list[Store],
) -> None:
    """While one worker is inside a subscriber with two events, a second worker drains
    without waiting for it and gets only the other events; each is delivered once."""
    ids = write_events(stores[0], 6)
    first = BlockingWorker(stores[1])
    second = engine_on(stores[2])
    seen_second: list[str] = []
    second.on("*", lambda event: seen_second.append(event.event_id))
    with ThreadPoolExecutor(1) as pool:
        draining = pool.submit(first.engine.drain_outbox, 2)
        assert first.inside.wait(WAIT)
        assert second.drain_outbox(100) == 4  # returns while the first still delivers
        assert seen_second == ids[2:]
        assert not draining.done()
        first.release.set()
        assert draining.result(WAIT) == 2
    assert first.seen == ids[:2]
    assert Counter(first.seen + seen_second) == Counter(ids)
    assert stores[0].pending_outbox() == []
    assert second.drain_outbox(100) == 0


def test_a_worker_that_dies_while_delivering_leaves_its_rows_for_the_next(
    stores: list[Store],
) -> None:
    """A worker that dies inside a delivery rolls back: the events it held (and had begun
    to deliver) come back for the next drain, and the events another worker took meanwhile
    are not delivered again."""
    ids = write_events(stores[0], 5)
    dying = BlockingWorker(stores[1], crash=True)
    other = engine_on(stores[2])
    seen_other: list[str] = []
    other.on("*", lambda event: seen_other.append(event.event_id))
    with ThreadPoolExecutor(1) as pool:
        draining = pool.submit(dying.engine.drain_outbox, 2)
        assert dying.inside.wait(WAIT)
        assert other.drain_outbox(100) == 3
        dying.release.set()
        with pytest.raises(Crash):
            draining.result(WAIT)
    assert dying.seen == ids[:1]
    assert seen_other == ids[2:]
    assert [m.event_id for m in stores[0].pending_outbox()] == ids[:2]
    assert other.drain_outbox(100) == 2
    assert seen_other == ids[2:] + ids[:2]  # the dead worker's events, once more
    assert stores[0].pending_outbox() == []


def test_sixteen_threads_draining_one_store_deliver_each_event_once(
    stores: list[Store],
) -> None:
    """Sixteen threads drain one store with small batches: every event is delivered
    exactly once, and the outbox ends empty."""
    ids = write_events(stores[0], 240)
    worker = engine_on(stores[1])
    seen: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def receive(event: DomainEvent) -> None:
        with lock:
            seen.append(event.event_id)

    worker.on("*", receive)

    def drain() -> int:
        start.wait(WAIT)
        total = 0
        while delivered := worker.drain_outbox(3):
            total += delivered
        return total

    with ThreadPoolExecutor(16) as pool:
        totals = [f.result(600) for f in [pool.submit(drain) for _ in range(16)]]
    assert sum(totals) == len(ids)
    duplicates = [i for i, n in Counter(seen).items() if n > 1]
    assert duplicates == []
    assert sorted(seen) == sorted(ids)
    assert stores[0].pending_outbox() == []
