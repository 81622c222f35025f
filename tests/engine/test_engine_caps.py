"""Caps through the engine, counted in each member's local calendar (zones, DST, week start)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pendulum
import pytest

from gamify import Engine, ManualClock, open_store

EngineFactory = Callable[..., Engine]


def program(caps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "actions": {"check_in": {"amount": "none"}, "purchase": {"amount": "required"}},
        "rules": [
            {"name": "daily", "action": "check_in", "fixed": 100},
            {"name": "spend", "action": "purchase", "per_amount": 1},
        ],
        "caps": caps,
        **extra,
    }


DAILY_CHECK_IN = [{"name": "check_in_day", "limit": 100, "period": "day", "action": "check_in"}]


def utc(*args: int) -> datetime:
    return pendulum.datetime(*args, tz="UTC")


def track_at(engine: Engine, clock: ManualClock, member: str, at: datetime, **kw: Any) -> int:
    """Move the clock to ``at``, track, and return the points credited."""
    clock.set(at)
    action = "purchase" if "amount" in kw else "check_in"
    return engine.track(member, action, **kw).total()


def test_same_utc_instant_falls_on_different_local_days(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """2026-03-09 23:00 UTC is 07:00 on 10 March in Shanghai but 19:00 on 9 March in New York.

    After a check-in at 15:30 UTC (9 March in both zones), the daily cap lets the Shanghai
    member earn again at 23:00 UTC (a new local day) but cuts the New York member's check-in.
    """
    engine = gamify_engine(program(DAILY_CHECK_IN))
    engine.set_member("li", timezone="Asia/Shanghai")
    engine.set_member("nora", timezone="America/New_York")
    first, second = utc(2026, 3, 9, 15, 30), utc(2026, 3, 9, 23, 0)
    assert track_at(engine, gamify_clock, "li", first) == 100
    assert track_at(engine, gamify_clock, "nora", first) == 100
    assert track_at(engine, gamify_clock, "li", second) == 100
    gamify_clock.set(second)
    outcome = engine.track("nora", "check_in")
    assert outcome.total() == 0
    assert [(h.cap, h.cut) for h in outcome.caps] == [("check_in_day", 100)]
    # 04:30 UTC on 10 March: New York has reached 10 March (00:30), Shanghai is still on it.
    third = utc(2026, 3, 10, 4, 30)
    assert track_at(engine, gamify_clock, "nora", third) == 100
    assert track_at(engine, gamify_clock, "li", third) == 0
    assert (engine.balance("li"), engine.balance("nora")) == (200, 200)


def test_spring_forward_day_of_23_hours_is_one_day(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """In New York 8 March 2026 lasts 23 hours (05:00 to 04:00 UTC next day): one daily cap
    covers it."""
    engine = gamify_engine(program(DAILY_CHECK_IN))
    engine.set_member("nora", timezone="America/New_York")
    assert track_at(engine, gamify_clock, "nora", utc(2026, 3, 8, 5, 0)) == 100  # 00:00 EST
    assert track_at(engine, gamify_clock, "nora", utc(2026, 3, 9, 3, 59, 59)) == 0  # 23:59:59 EDT
    assert track_at(engine, gamify_clock, "nora", utc(2026, 3, 9, 4, 0)) == 100  # 9 March 00:00


def test_fall_back_day_of_25_hours_is_one_day(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """In New York 1 November 2026 lasts 25 hours (04:00 to 05:00 UTC next day): one daily cap
    covers it."""
    engine = gamify_engine(program(DAILY_CHECK_IN))
    engine.set_member("nora", timezone="America/New_York")
    assert track_at(engine, gamify_clock, "nora", utc(2026, 11, 1, 4, 0)) == 100  # 00:00 EDT
    assert track_at(engine, gamify_clock, "nora", utc(2026, 11, 1, 6, 30)) == 0  # 01:30 EST
    assert track_at(engine, gamify_clock, "nora", utc(2026, 11, 2, 4, 59, 59)) == 0  # 23:59:59
    assert track_at(engine, gamify_clock, "nora", utc(2026, 11, 2, 5, 0)) == 100  # 2 Nov 00:00


def test_a_clock_moved_one_local_day_across_dst_lands_on_the_next_day(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """advance(days=1, tz=...) from 12:00 on the 23-hour day reaches 12:00 next day, 23 hours
    later."""
    engine = gamify_engine(program(DAILY_CHECK_IN))
    engine.set_member("nora", timezone="America/New_York")
    gamify_clock.set(pendulum.datetime(2026, 3, 7, 12, tz="America/New_York"))
    before = gamify_clock.now()
    assert engine.track("nora", "check_in").total() == 100
    after = gamify_clock.advance(days=1, tz="America/New_York")
    assert after - before == timedelta(hours=23)
    assert after == utc(2026, 3, 8, 16)
    assert engine.track("nora", "check_in").total() == 100


@pytest.mark.parametrize(("week_start", "second"), [("monday", 0), ("sunday", 100)])
def test_weekly_cap_follows_week_start_in_the_member_zone(
    gamify_engine: EngineFactory, gamify_clock: ManualClock, week_start: str, second: int
) -> None:
    """Saturday noon and Sunday 01:00 in Shanghai (still Saturday in UTC) share a Monday week,
    not a Sunday one."""
    caps = [{"name": "weekly", "limit": 100, "period": "week", "action": "check_in"}]
    engine = gamify_engine(program(caps, week_start=week_start))
    engine.set_member("li", timezone="Asia/Shanghai")
    saturday = pendulum.datetime(2026, 5, 9, 12, tz="Asia/Shanghai")
    sunday = pendulum.datetime(2026, 5, 10, 1, tz="Asia/Shanghai")  # 2026-05-09 17:00 UTC
    assert track_at(engine, gamify_clock, "li", saturday) == 100
    assert track_at(engine, gamify_clock, "li", sunday) == second


def test_monthly_cap_counts_the_local_month(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """1 June 03:00 UTC is still 31 May in New York, so it shares May's monthly cap there."""
    caps = [{"name": "monthly", "limit": 150, "period": "month", "action": "purchase"}]
    engine = gamify_engine(program(caps))
    engine.set_member("nora", timezone="America/New_York")
    assert track_at(engine, gamify_clock, "nora", utc(2026, 5, 20, 12), amount=100) == 100
    assert track_at(engine, gamify_clock, "nora", utc(2026, 6, 1, 3), amount=100) == 50
    assert track_at(engine, gamify_clock, "nora", utc(2026, 6, 1, 4), amount=100) == 100


def test_overall_daily_cap_counts_every_action(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """An overall 150-point daily cap is shared by check-ins and purchases of one local day."""
    engine = gamify_engine(program([{"name": "all", "limit": 150, "period": "day"}]))
    day = utc(2026, 5, 4, 9)
    assert track_at(engine, gamify_clock, "a", day) == 100
    outcome = engine.track("a", "purchase", amount=80)
    assert (outcome.total(), outcome.credits[0].capped) == (50, 30)
    assert engine.track("a", "purchase", amount=80).total() == 0
    assert track_at(engine, gamify_clock, "a", day + timedelta(days=1), amount=80) == 80


def test_per_event_cap_limits_each_event(
    gamify_engine: EngineFactory,
) -> None:
    """A 50-point per-event purchase cap cuts every big purchase to 50, without a daily memory."""
    caps = [{"name": "per_event", "limit": 50, "period": "event", "action": "purchase"}]
    engine = gamify_engine(program(caps))
    assert [engine.track("a", "purchase", amount=80).total() for _ in range(3)] == [50, 50, 50]


def test_a_late_event_counts_in_its_own_local_day(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """A check-in sent two days late with 'at' is capped by the day it happened, not by today."""
    engine = gamify_engine(program(DAILY_CHECK_IN))
    monday, tuesday = utc(2026, 5, 4, 9), utc(2026, 5, 5, 9)
    assert track_at(engine, gamify_clock, "a", monday) == 100
    gamify_clock.set(utc(2026, 5, 7, 9))
    assert engine.track("a", "check_in", at=monday + timedelta(hours=2)).total() == 0
    assert engine.track("a", "check_in", at=tuesday).total() == 100
    assert engine.track("a", "check_in").total() == 100


def test_a_zone_change_does_not_move_a_counted_day(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """A check-in counted on 9 March in UTC stays there after the member moves to Shanghai."""
    engine = gamify_engine(program(DAILY_CHECK_IN))
    assert track_at(engine, gamify_clock, "a", utc(2026, 3, 9, 10)) == 100
    engine.set_member("a", timezone="Asia/Shanghai")
    # 17:00 UTC is 10 March 01:00 in Shanghai: a new local day for the member now.
    assert track_at(engine, gamify_clock, "a", utc(2026, 3, 9, 17)) == 100
    # Sent late, an event of 9 March 12:00 Shanghai time falls on the already-used 9 March.
    gamify_clock.set(utc(2026, 3, 9, 18))
    late = pendulum.datetime(2026, 3, 9, 12, tz="Asia/Shanghai")
    assert engine.track("a", "check_in", at=late).total() == 0


def test_a_cap_lowered_below_what_the_period_counted_credits_nothing(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """A daily cap lowered from 300 to 150 after 200 points of the day were credited leaves no
    room: the day's next purchase credits nothing (all of it reported cut) and takes nothing
    back from the balance."""
    store = open_store("memory://")
    try:
        gamify_clock.set(utc(2026, 5, 4, 9))
        before = gamify_engine(program([{"name": "buy_day", "limit": 300}]), store=store)
        assert before.track("ana", "purchase", amount=200).total() == 200
        after = gamify_engine(program([{"name": "buy_day", "limit": 150}]), store=store)
        gamify_clock.set(utc(2026, 5, 4, 10))
        outcome = after.track("ana", "purchase", amount=40)
        assert outcome.total() == 0
        assert [(h.cap, h.cut) for h in outcome.caps] == [("buy_day", 40)]
        assert after.balance("ana") == 200
    finally:
        store.close()
