"""Period boards: local midnight in the program's zone, weeks, months, earned versus balance."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
import pytest

import gamify
from gamify.testing.plugin import EngineFactory

NY = "America/New_York"
SECOND = dt.timedelta(seconds=1)


def program(**extra: Any) -> dict[str, Any]:
    """A New York program: ``earn`` pays its amount in points (expiring a month later)."""
    return {
        "timezone": NY,
        "actions": {"earn": {"amount": "required"}},
        "rules": [{"name": "earn_points", "action": "earn", "per_amount": 1}],
        "expiry": {"policy": "months", "months": 1},
        **extra,
    }


def ny(*parts: int) -> dt.datetime:
    return pendulum.datetime(*parts, tz=NY)


def board(engine: gamify.Engine, period: Any) -> list[tuple[int, str, int]]:
    return [(r.rank, r.member_id, r.score) for r in engine.leaderboard(period=period)]


def test_day_ends_at_local_midnight_in_the_programs_zone(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """23:59:59 New York time counts in that New York day's board, 00:00 in the next day's,
    even for a member living in Shanghai (where both instants fall on 11 March)."""
    engine = gamify_engine(program())
    engine.set_member("sh", timezone="Asia/Shanghai")
    gamify_clock.set(ny(2026, 3, 10, 23, 59, 59))  # Tuesday; 11 March 11:59:59 in Shanghai
    engine.track("sh", "earn", amount=5)
    assert board(engine, "day") == [(1, "sh", 5)]
    gamify_clock.advance(SECOND)  # Wednesday 00:00 in New York
    assert board(engine, "day") == []
    assert engine.rank("sh", period="day") is None
    assert board(engine, "week") == [(1, "sh", 5)]  # the same week
    engine.track("sh", "earn", amount=7)
    assert board(engine, "day") == [(1, "sh", 7)]
    assert board(engine, "week") == [(1, "sh", 12)]
    # The same days as windows read from the ledger.
    assert board(engine, (ny(2026, 3, 10), ny(2026, 3, 11))) == [(1, "sh", 5)]
    assert board(engine, (ny(2026, 3, 11), ny(2026, 3, 12))) == [(1, "sh", 7)]


def test_weeks_start_on_monday_by_default(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Sunday 23:59:59 belongs to the old week; Monday 00:00 starts an empty one."""
    engine = gamify_engine(program())
    gamify_clock.set(ny(2026, 3, 14, 23, 59, 59))  # Saturday
    engine.track("a", "earn", amount=1)
    gamify_clock.set(ny(2026, 3, 15, 23, 59, 59))  # Sunday
    engine.track("a", "earn", amount=2)
    assert board(engine, "week") == [(1, "a", 3)]
    gamify_clock.advance(SECOND)  # Monday 16 March 00:00
    assert board(engine, "week") == []
    assert engine.rank("a", period="week") is None
    engine.track("a", "earn", amount=4)
    assert board(engine, "week") == [(1, "a", 4)]
    assert board(engine, "month") == [(1, "a", 7)]


def test_program_week_start_moves_the_week_boundary(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """With ``week_start = "sunday"``, Saturday 23:59:59 ends a week and Sunday 00:00 starts one."""
    engine = gamify_engine(program(week_start="sunday"))
    gamify_clock.set(ny(2026, 3, 14, 23, 59, 59))  # Saturday
    engine.track("a", "earn", amount=1)
    assert board(engine, "week") == [(1, "a", 1)]
    gamify_clock.advance(SECOND)  # Sunday 15 March 00:00
    assert board(engine, "week") == []
    engine.track("a", "earn", amount=2)
    gamify_clock.set(ny(2026, 3, 16, 12, 0))  # Monday: still the week that began on Sunday
    engine.track("a", "earn", amount=4)
    assert board(engine, "week") == [(1, "a", 6)]


def test_month_boundary(gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock) -> None:
    """31 March 23:59:59 counts in March; 1 April 00:00 starts April's board (same week)."""
    engine = gamify_engine(program())
    gamify_clock.set(ny(2026, 3, 31, 23, 59, 59))  # Tuesday
    engine.track("a", "earn", amount=10)
    engine.track("b", "earn", amount=3)
    assert board(engine, "month") == [(1, "a", 10), (2, "b", 3)]
    gamify_clock.advance(SECOND)
    assert board(engine, "month") == []
    engine.track("b", "earn", amount=4)
    assert board(engine, "month") == [(1, "b", 4)]
    assert board(engine, "week") == [(1, "a", 10), (2, "b", 7)]
    assert board(engine, "all") == [(1, "a", 10), (2, "b", 7)]
    assert board(engine, (ny(2026, 3, 1), ny(2026, 4, 1))) == [(1, "a", 10), (2, "b", 3)]


def test_boards_count_earnings_not_balances(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Spending, refunding and expiry move the balance but no board: a keeps its 100."""
    engine = gamify_engine(program())
    gamify_clock.set(ny(2026, 3, 2, 12, 0))
    engine.track("a", "earn", amount=100)
    engine.track("b", "earn", amount=60)
    spent = engine.redeem("a", 70)
    assert engine.balance("a") == 30
    day = (ny(2026, 3, 2), ny(2026, 3, 3))
    for period in ("all", "day", "week", "month", day):
        assert board(engine, period) == [(1, "a", 100), (2, "b", 60)]
    engine.refund(spent, "a")
    assert engine.balance("a") == 100
    for period in ("all", "day", "week", "month", day):
        assert board(engine, period) == [(1, "a", 100), (2, "b", 60)]
    gamify_clock.set(ny(2026, 4, 2, 13, 0))  # a month later: every lot has expired
    engine.run_due()
    assert engine.balance("a") == 0 and engine.balance("b") == 0
    assert board(engine, "all") == [(1, "a", 100), (2, "b", 60)]
    assert board(engine, day) == [(1, "a", 100), (2, "b", 60)]
    assert board(engine, "month") == []  # April: nothing earned yet


def test_reversals_net_out(gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock) -> None:
    """Reversing a's 30 leaves a at 20, behind b's 25, on every board."""
    engine = gamify_engine(program())
    gamify_clock.set(ny(2026, 3, 4, 10, 0))
    engine.track("a", "earn", amount=30, key="a1")
    engine.track("a", "earn", amount=20, key="a2")
    engine.track("b", "earn", amount=25, key="b1")
    assert board(engine, "week")[0] == (1, "a", 50)
    gamify_clock.advance(hours=2)
    engine.reverse("a", "a1")
    window = (ny(2026, 3, 4), ny(2026, 3, 5))
    for period in ("all", "day", "week", "month", window):
        assert board(engine, period) == [(1, "b", 25), (2, "a", 20)]
        mine = engine.rank("a", period=period)
        assert mine is not None and (mine.rank, mine.score) == (2, 20)


def test_late_event_counts_in_its_own_period(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """An event synced on Thursday but dated Tuesday counts in Tuesday's day and this week."""
    engine = gamify_engine(program())
    gamify_clock.set(ny(2026, 3, 12, 10, 0))  # Thursday
    engine.track("a", "earn", amount=10)
    engine.track("b", "earn", amount=40, at=ny(2026, 3, 10, 22, 0))  # Tuesday, late
    engine.track("c", "earn", amount=99, at=ny(2026, 3, 8, 12, 0))  # last week (Sunday), late
    assert board(engine, "day") == [(1, "a", 10)]
    assert board(engine, "week") == [(1, "b", 40), (2, "a", 10)]
    assert board(engine, "month") == [(1, "c", 99), (2, "b", 40), (3, "a", 10)]
    assert board(engine, (ny(2026, 3, 10), ny(2026, 3, 11))) == [(1, "b", 40)]
    assert board(engine, (ny(2026, 3, 9), ny(2026, 3, 16))) == [(1, "b", 40), (2, "a", 10)]
    # A late event for a member who already earned today leaves today's total alone.
    engine.track("a", "earn", amount=5, at=ny(2026, 3, 11, 23, 59, 59))
    assert board(engine, "day") == [(1, "a", 10)]
    assert board(engine, "week") == [(1, "b", 40), (2, "a", 15)]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", NY])
def test_custom_window_is_half_open(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock, zone: str
) -> None:
    """A window [start, end) counts an event at ``start`` and not one at ``end``."""
    engine = gamify_engine(program())
    start = pendulum.datetime(2026, 3, 20, 0, 0, tz=zone)
    end = pendulum.datetime(2026, 3, 21, 0, 0, tz=zone)
    gamify_clock.set(end + dt.timedelta(hours=1))
    engine.track("a", "earn", amount=1, at=start - dt.timedelta(microseconds=1))
    engine.track("a", "earn", amount=2, at=start)
    engine.track("b", "earn", amount=4, at=end - dt.timedelta(microseconds=1))
    engine.track("b", "earn", amount=8, at=end)
    assert board(engine, (start, end)) == [(1, "b", 4), (2, "a", 2)]
    assert board(engine, (start, end + dt.timedelta(microseconds=1))) == [
        (1, "b", 12),
        (2, "a", 2),
    ]


def test_reversing_last_weeks_event_leaves_this_weeks_board_alone(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock, gamify_store_target: Any
) -> None:
    """a's order of last week is returned this week, after a earned 10 this week: this
    week's board shows a's 10, not 10 - 30; the all-time total nets (on every store)."""
    engine = gamify_engine(program(), store=gamify_store_target.open())
    gamify_clock.set(ny(2026, 3, 4, 10, 0))  # a Wednesday
    engine.track("a", "earn", amount=30, key="a1")
    engine.track("b", "earn", amount=25, key="b1")
    gamify_clock.set(ny(2026, 3, 10, 10, 0))  # the next week
    engine.track("a", "earn", amount=10, key="a2")
    engine.reverse("a", "a1")
    assert board(engine, "week") == [(1, "a", 10)]
    assert board(engine, "day") == [(1, "a", 10)]
    assert board(engine, "all") == [(1, "b", 25), (2, "a", 10)]
    mine = engine.rank("a", period="week")
    assert mine is not None and (mine.rank, mine.score) == (1, 10)
