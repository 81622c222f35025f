"""A process forked while another thread holds the SQLite store's locks gets locks of its
own: the thread that held them does not exist in the child, so inherited copies would
stay held for good."""

from __future__ import annotations

import multiprocessing
import queue
import threading
from pathlib import Path
from typing import Any

import pytest
from gamify_adapters.sql import SQLStore

import gamify

PROGRAM = gamify.Program.from_dict(
    {
        "timezone": "UTC",
        "actions": {"purchase": {"amount": "required"}},
        "rules": [{"name": "spend", "action": "purchase", "per_amount": 1}],
    }
)
WAIT = 60  # seconds before a child that never answers fails the test


def _child_writes_then_drains(store: SQLStore, out: Any) -> None:
    try:
        engine = gamify.Engine(PROGRAM, store=store, deliver_events=False)
        engine.track("child", "purchase", amount=7)
        out.put(("tracked", engine.balance("child")))
        # Waits for the parent's drain (another process's turn), then takes its own.
        out.put(("drained", engine.drain_outbox(10)))
    except Exception as exc:  # reported to the parent, which fails the test
        out.put(("error", repr(exc)))


def _answer(out: Any, child: Any, what: str) -> tuple[str, int]:
    try:
        answer: tuple[str, int] = out.get(timeout=WAIT)
    except queue.Empty:
        child.kill()
        pytest.fail(f"the forked child never {what}: it waited for a lock a thread held")
    return answer


def test_a_child_forked_during_a_unit_of_work_and_a_drain_can_write_and_drain(
    tmp_path: Path,
) -> None:
    """Forked while a parent's thread holds a unit of work's lock and a drain's turn, the
    child writes at once, and drains once the parent's drain is over."""
    store = SQLStore(f"sqlite:///{tmp_path / 'gamify.db'}")
    holding, release = threading.Event(), threading.Event()

    def hold_the_locks() -> None:
        # A unit of work that has run no statement holds the store's writer lock but not
        # the database's; a drain holds its turn while its subscribers run.
        with store.unit_of_work(["parent"]), store._drain_lock:
            holding.set()
            assert release.wait(WAIT)

    holder = threading.Thread(target=hold_the_locks)
    holder.start()
    try:
        assert holding.wait(WAIT)
        context = multiprocessing.get_context("fork")
        out = context.Queue()
        child = context.Process(target=_child_writes_then_drains, args=(store, out))
        child.start()
        assert _answer(out, child, "wrote") == ("tracked", 7)
        release.set()  # the parent's drain ends: the child's turn comes
        assert _answer(out, child, "drained") == ("drained", 1)
        child.join(timeout=WAIT)
        assert child.exitcode == 0
    finally:
        release.set()
        holder.join(timeout=WAIT)
        store.close()
