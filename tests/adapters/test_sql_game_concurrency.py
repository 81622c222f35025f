"""Concurrent events on the SQL store for the game components: one-time awards stay
one-time, every level crossed is reported once, a local day counts once for a streak.

Run on a SQLite file and on PostgreSQL. Results rest on the member's lock and on
unique constraints, never on timing.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from test_sql_concurrency import THREADS, in_threads, ledger_sum

from gamify import Engine, ManualClock, Outcome, Program, Store

if TYPE_CHECKING:
    from conftest import StoreTarget  # tests/conftest.py

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

PROGRAM: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "actions": {"workout": {"amount": "none"}, "exercise": {"amount": "none"}},
    "rules": [
        {"name": "workout_points", "action": "workout", "fixed": 10},
        {"name": "exercise_xp", "action": "exercise", "currency": "xp", "fixed": 1},
    ],
    "levels": {"curve": "linear", "params": {"step": 100}, "max_level": 50},
    "streaks": {"daily": {"actions": ["workout"]}},
    "badges": {
        "ten_workouts": {
            "metric": "count",
            "action": "workout",
            "threshold": 10,
            "reward": {"points": 100},
        }
    },
}


@pytest.fixture
def engine(gamify_sql_target: StoreTarget) -> Any:
    store: Store = gamify_sql_target.open()
    yield Engine(Program.from_dict(PROGRAM), store=store, clock=ManualClock(NOW))
    store.close()


def collect(engine: Engine, member: str, action: str, per_thread: int) -> list[Outcome]:
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def work(_: int) -> None:
        for _ in range(per_thread):
            outcome = engine.track(member, action)
            with lock:
                outcomes.append(outcome)

    in_threads(work)
    return outcomes


def test_threads_crossing_a_badge_threshold_award_it_once(engine: Engine) -> None:
    """Sixteen threads pushing one member past a badge threshold award the badge once."""
    for _ in range(8):
        engine.track("alice", "workout")
    outcomes = collect(engine, "alice", "workout", 1)
    awarded = [b.badge for o in outcomes for b in o.badges]
    assert awarded == ["ten_workouts"]
    assert [b.badge for b in engine.member("alice").badges] == ["ten_workouts"]
    # 24 workouts of 10 points and the badge's 100, nothing twice.
    assert engine.balance("alice") == 24 * 10 + 100 == ledger_sum(engine.store, "alice", "points")


def test_threads_awarding_xp_report_each_level_once(engine: Engine) -> None:
    """Sixteen threads × 100 awards of 1 XP give exactly 1,600 XP and report each level
    crossed (2 to 17 on a 100-per-level curve) exactly once."""
    outcomes = collect(engine, "bob", "exercise", 100)
    assert engine.balance("bob", "xp") == THREADS * 100 == ledger_sum(engine.store, "bob", "xp")
    levels = Counter(up.level for o in outcomes for up in o.level_ups)
    assert levels == Counter(range(2, 17 + 1))
    assert engine.member("bob").level == 17


def test_concurrent_first_events_of_a_local_day_grow_the_streak_by_one(engine: Engine) -> None:
    """Sixteen concurrent first workouts of one local day extend the streak by one, once."""
    clock = engine.clock
    assert isinstance(clock, ManualClock)
    engine.track("cara", "workout")  # 2026-03-02 20:00 Shanghai: length 1
    clock.set(datetime(2026, 3, 2, 16, 30, tzinfo=UTC))  # 00:30 on 3 March in Shanghai
    outcomes = collect(engine, "cara", "workout", 1)
    extended = [o for o in outcomes if o.streaks[0].extended]
    assert len(extended) == 1
    assert sorted(o.streaks[0].length for o in outcomes) == [2] * THREADS
    profile = engine.member("cara")
    assert profile.streaks[0].length == 2
