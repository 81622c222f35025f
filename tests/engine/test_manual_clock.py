"""The manual clock: set anywhere, moved by durations or by local calendar units, always aware
UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pendulum
import pytest

from gamify import Engine, InvalidTimeError, ManualClock, Program


def test_a_clock_started_from_a_pendulum_datetime_stays_aware_after_advancing() -> None:
    """Advancing a clock started at a pendulum instant gives an aware UTC instant the engine
    accepts."""
    clock = ManualClock(pendulum.datetime(2026, 3, 1, 9, tz="Asia/Shanghai"))
    after = clock.advance(days=1)
    assert after.tzinfo is not None and after.utcoffset() == timedelta(0)
    assert after == datetime(2026, 3, 2, 1, tzinfo=UTC)
    rules = [{"name": "r", "action": "a", "fixed": 1}]
    program = Program.from_dict({"timezone": "UTC", "actions": {"a": {}}, "rules": rules})
    assert Engine(program, clock=clock).track("m", "a").at == after


def test_set_reads_any_zone_and_refuses_naive_datetimes() -> None:
    """set() accepts an aware instant in any zone and refuses a naive one."""
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.set(pendulum.datetime(2026, 7, 1, 8, tz="America/New_York"))
    assert clock.now() == datetime(2026, 7, 1, 12, tzinfo=UTC)
    with pytest.raises(InvalidTimeError):
        clock.set(datetime(2026, 7, 1, 8))


def test_days_without_a_zone_are_24_hours() -> None:
    """advance(days=1) without a zone is exactly 24 hours, even across a DST change somewhere."""
    clock = ManualClock(datetime(2026, 3, 7, 17, tzinfo=UTC))
    assert clock.advance(days=1) - datetime(2026, 3, 7, 17, tzinfo=UTC) == timedelta(hours=24)


def test_days_in_a_zone_keep_the_local_wall_time() -> None:
    """advance(days=1, tz=New York) from Saturday noon EST lands on Sunday noon EDT, 23 hours
    later."""
    clock = ManualClock(pendulum.datetime(2026, 3, 7, 12, tz="America/New_York"))
    assert clock.advance(days=1, tz="America/New_York") == datetime(2026, 3, 8, 16, tzinfo=UTC)
    clock.set(pendulum.datetime(2026, 10, 31, 12, tz="America/New_York"))
    assert clock.advance(days=1, tz="America/New_York") == datetime(2026, 11, 1, 17, tzinfo=UTC)


def test_months_in_a_zone_follow_the_local_calendar() -> None:
    """advance(months=1, tz=Shanghai) from 31 January 10:00 local lands on 28 February 10:00
    local."""
    clock = ManualClock(pendulum.datetime(2026, 1, 31, 10, tz="Asia/Shanghai"))
    assert clock.advance(months=1, tz="Asia/Shanghai") == datetime(2026, 2, 28, 2, tzinfo=UTC)


def test_a_duration_and_units_add_up() -> None:
    """advance(timedelta, hours=...) moves by both."""
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.advance(timedelta(minutes=30), hours=1) == datetime(2026, 1, 1, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "move",
    [
        lambda c: c.advance(days=1, tz="Nowhere/Land"),
        lambda c: c.advance(timedelta(days=1), tz="Nowhere/Land"),  # no units: still checked
        lambda c: c.advance(tz="Nowhere/Land"),
    ],
)
def test_an_unknown_zone_is_refused(move: Any) -> None:
    """advance(..., tz="Nowhere/Land") raises the typed error and leaves the clock where it
    was, with or without calendar units."""
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidTimeError, match="Nowhere/Land"):
        move(clock)
    assert clock.now() == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("name", ["localtime", "posixrules", "right/America/New_York"])
def test_names_standing_for_the_servers_zone_are_refused(name: str) -> None:
    """ "localtime" would move a test's clock by whatever zone the machine is set to."""
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidTimeError, match="unknown IANA time zone"):
        clock.advance(days=1, tz=name)
    assert clock.now() == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("move", "message"),
    [
        (lambda c: c.set("2026-01-02"), "the clock's instant must be a datetime, not '2026-01-02'"),
        (lambda c: c.set(datetime(2026, 1, 2)), "the clock's instant 2026-01-02T00:00:00 is naive"),
        (lambda c: c.advance(5), "advance by a timedelta or by units, not 5"),
        (lambda c: c.advance(fortnights=1), "unknown unit fortnights"),
        (lambda c: c.advance(months=1.5), "months must be a finite whole number, not 1.5"),
        (lambda c: c.advance(hours=float("inf")), "hours must be a finite number, not inf"),
        (lambda c: c.advance(days=float("nan")), "days must be a finite number, not nan"),
        (lambda c: c.advance(days="1"), "days must be a finite number, not '1'"),
        (lambda c: c.advance(days=True), "days must be a finite number, not True"),
        (lambda c: c.advance(days=1, tz=123), "tz must be an IANA zone name, not 123"),
        (lambda c: c.advance(years=9000), "the clock cannot move that far"),
        (lambda c: c.advance(timedelta(days=3_000_000)), "the clock cannot move that far"),
    ],
)
def test_a_bad_move_is_a_typed_error_and_leaves_the_clock(move, message) -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidTimeError, match=message):
        move(clock)
    assert clock.now() == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidTimeError, match="the clock's start must be a datetime"):
        ManualClock("2026-01-01")
