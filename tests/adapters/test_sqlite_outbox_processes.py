"""Outbox workers in several processes on one SQLite file deliver each event once.

Their drains take turns on an exclusive lock of the file ``<database>-drain``, so no
two drains read the same events. The processes start draining together (a barrier)
and deliver slowly, so without the lock they would read the same rows.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gamify import DomainEvent, Engine, ManualClock, Program, open_store

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PROGRAM: dict[str, Any] = {
    "timezone": "UTC",
    "actions": {"purchase": {"amount": "required"}},
    "rules": [{"name": "spend", "action": "purchase", "per_amount": 1}],
}
EVENTS = 120
WORKERS = 4


def worker_engine(url: str) -> Engine:
    return Engine(
        Program.from_dict(PROGRAM),
        store=open_store(url),
        clock=ManualClock(NOW),
        deliver_events=False,
    )


def _drain_in_process(url: str, start: Any) -> list[str]:
    """One worker process: drain five events at a time until the outbox is empty."""
    engine = worker_engine(url)
    seen: list[str] = []

    def receive(event: DomainEvent) -> None:
        seen.append(event.event_id)
        time.sleep(0.002)  # a slow delivery: other workers drain meanwhile

    engine.on("*", receive)
    start.wait()
    try:
        while engine.drain_outbox(limit=5):
            pass
    finally:
        engine.store.close()
    return seen


@pytest.mark.slow
def test_worker_processes_on_one_file_deliver_each_event_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gamify.db'}"
    writer = worker_engine(url)
    writer.track_many(
        [{"member_id": f"m{i:03d}", "action": "purchase", "amount": i + 1} for i in range(EVENTS)]
    )
    written = [m.event_id for m in writer.store.pending_outbox(EVENTS + 1)]
    assert len(written) == EVENTS
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(WORKERS) as pool:
        start = manager.Barrier(WORKERS)
        results = pool.starmap(_drain_in_process, [(url, start)] * WORKERS, chunksize=1)
    delivered = Counter(event_id for seen in results for event_id in seen)
    assert [event_id for event_id, n in delivered.items() if n > 1] == []
    assert set(delivered) == set(written)
    assert writer.store.pending_outbox(10) == []
    assert (tmp_path / "gamify.db-drain").exists()
    writer.store.close()
