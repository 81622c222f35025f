"""A member who changes zone: an event's day is taken in the zone the member was in at
the event's instant, so a late event dated before a move is read in the old zone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pendulum
import pytest

from gamify import Engine, ManualClock

EngineFactory = Callable[..., Engine]

PROGRAM: dict[str, Any] = {
    "timezone": "UTC",
    "actions": {"check_in": {"amount": "none"}},
    "rules": [{"name": "daily", "action": "check_in", "fixed": 5}],
    "caps": [{"name": "once_a_day", "action": "check_in", "period": "day", "limit": 5}],
}


def at(year: int, month: int, day: int, hour: int, minute: int = 0, *, tz: str) -> Any:
    return pendulum.datetime(year, month, day, hour, minute, tz=tz)


@pytest.fixture
def moved(gamify_engine: EngineFactory, gamify_clock: ManualClock) -> Engine:
    """ann checks in on 10 March 09:00 in Shanghai, then moves to Los Angeles on 11 March."""
    gamify_clock.set(at(2026, 3, 10, 9, tz="Asia/Shanghai"))
    engine = gamify_engine(PROGRAM)
    engine.set_member("ann", timezone="Asia/Shanghai")
    assert engine.track("ann", "check_in").total() == 5
    gamify_clock.set(at(2026, 3, 11, 12, tz="America/Los_Angeles"))
    engine.set_member("ann", timezone="America/Los_Angeles")
    return engine


def test_a_late_event_dated_before_a_move_is_read_in_the_old_zone(moved: Engine) -> None:
    """08:30 on 10 March in Shanghai is 9 March in Los Angeles; it belongs to the Shanghai
    day whose cap the 09:00 check-in used, so it pays nothing."""
    late = moved.track("ann", "check_in", at=at(2026, 3, 10, 8, 30, tz="Asia/Shanghai"))
    assert late.total() == 0
    assert [c.cap for c in late.caps] == ["once_a_day"]
    assert moved.member("ann").timezone == "America/Los_Angeles"


def test_an_event_after_the_move_is_read_in_the_new_zone(
    moved: Engine, gamify_clock: ManualClock
) -> None:
    """Events at and after the move (11 March 12:00 in Los Angeles) take Los Angeles days."""
    assert moved.track("ann", "check_in").total() == 5  # 11 March in Los Angeles
    gamify_clock.set(at(2026, 3, 11, 23, 59, tz="America/Los_Angeles"))
    assert moved.track("ann", "check_in").total() == 0  # the same Los Angeles day


def test_moves_back_and_forth_read_each_late_event_in_its_own_zone(
    moved: Engine, gamify_clock: ManualClock
) -> None:
    gamify_clock.set(at(2026, 3, 14, 12, tz="America/Los_Angeles"))
    moved.set_member("ann", timezone="Asia/Shanghai")  # back on 15 March in Shanghai
    gamify_clock.set(at(2026, 3, 16, 12, tz="Asia/Shanghai"))
    # 12 March 20:00 in Los Angeles was 13 March 11:00 in Shanghai: read in Los Angeles.
    first = moved.track("ann", "check_in", at=at(2026, 3, 12, 20, tz="America/Los_Angeles"))
    assert first.total() == 5
    again = moved.track("ann", "check_in", at=at(2026, 3, 12, 8, tz="America/Los_Angeles"))
    assert again.total() == 0  # the same Los Angeles day, 12 March
    before_any_move = moved.track("ann", "check_in", at=at(2026, 3, 10, 23, tz="Asia/Shanghai"))
    assert before_any_move.total() == 0  # Shanghai's 10 March again


def test_setting_the_same_zone_is_no_move_and_the_newest_moves_are_kept(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """Setting the zone a member is in is no move. Moves are kept whatever their age (a
    reversal or a renewal may read an instant long past), the newest 50 of them."""
    gamify_clock.set(at(2026, 1, 1, 12, tz="UTC"))
    engine = gamify_engine({**PROGRAM, "late_event_days": 10})
    engine.set_member("ann", timezone="Europe/Paris")  # a new member: no move
    engine.set_member("ann", timezone="Europe/Paris")
    stored = engine.store.get_member("ann")
    assert stored is not None and "zones" not in stored.state
    engine.set_member("ann", timezone="Asia/Tokyo")
    gamify_clock.set(at(2026, 6, 20, 12, tz="UTC"))
    engine.set_member("ann", timezone="Europe/Paris")  # the January move is long past
    stored = engine.store.get_member("ann")
    assert stored is not None
    assert [zone for _, zone in stored.state["zones"]] == ["Europe/Paris", "Asia/Tokyo"]
    for day in range(60):
        gamify_clock.advance(days=1)
        engine.set_member("ann", timezone="Asia/Tokyo" if day % 2 == 0 else "Europe/Paris")
    stored = engine.store.get_member("ann")
    assert stored is not None and len(stored.state["zones"]) == 50
    assert stored.state["zones"][-1][0] == gamify_clock.now().isoformat()
