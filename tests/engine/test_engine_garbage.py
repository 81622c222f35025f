"""Tracking leaves no reference cycles behind.

Cyclic garbage is freed only by Python's cycle collector, so an event whose
objects formed a cycle would keep its whole unit of work alive until a
collection and make collections run far more often under load.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

import gamify
from gamify.testing.plugin import EngineFactory

FITNESS = Path(__file__).resolve().parents[2] / "examples" / "fitness" / "program.toml"


@pytest.fixture
def collector_paused() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_tracking_the_game_layer_creates_no_cyclic_garbage(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock, collector_paused: None
) -> None:
    """Workouts over 10 days (streak, levels, badges, the first-week challenge, keys and a
    replayed key) leave nothing for the cycle collector."""
    engine = gamify_engine(FITNESS)
    engine.on("*", lambda event: None)  # domain events built and delivered too
    gamify_clock.set(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    engine.track("warm-up", "workout")  # first use of every code path
    gc.collect()
    for day in range(10):
        gamify_clock.set(dt.datetime(2026, 3, 3 + day, 9, tzinfo=dt.UTC))
        outcome = engine.track("ann", "workout", amount=30, key=f"w{day}")
        assert engine.track("ann", "workout", amount=30, key=f"w{day}") == outcome
    assert engine.member("ann").level > 1 and engine.member("ann").badges
    assert per_event_garbage() == []


def per_event_garbage() -> list[str]:
    """The types of one event's objects (steps, changes, ledger rows, facts, outcomes) that
    only the cycle collector could free. Other garbage (an earlier test's engine and its
    subscribers, say) is not this test's concern."""
    per_event = {"_Step", "Changes", "LedgerEntry", "Lot", "BadgeFacts", "LazyMapping", "Outcome"}
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return sorted({type(o).__name__ for o in gc.garbage} & per_event)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
