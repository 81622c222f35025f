"""Challenge windows: N local days from enrolment, fixed [start, end) windows, failure."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
import pytest

import gamify
from gamify.errors import InvalidEventError
from gamify.testing.plugin import EngineFactory

UTC = dt.UTC
MICRO = dt.timedelta(microseconds=1)


def program(challenge: dict[str, Any]) -> dict[str, Any]:
    """Workouts pay 10 points; one challenge ``c`` paying 100 points."""
    return {
        "timezone": "UTC",
        "actions": {"workout": {}, "stretch": {}},
        "rules": [{"name": "workout_points", "action": "workout", "fixed": 10}],
        "challenges": {"c": {"reward": {"points": 100}, **challenge}},
    }


def three_days(target: int = 3) -> dict[str, Any]:
    """``target`` workouts within 3 local days of enrolment (the enrolment day is day 1)."""
    return {"days": 3, "conditions": [{"kind": "count", "action": "workout", "target": target}]}


# (zone, first workout in local time, its UTC instant, the window end in UTC):
# Shanghai (UTC+8): 07:30 on 5 March is 23:30 UTC on 4 March; days 5, 6, 7 March;
#   the run ends at 8 March 00:00 local = 7 March 16:00 UTC.
# New York: 23:30 EST on 6 March is 04:30 UTC on 7 March; days 6, 7, 8 March (8 March is
#   the 23-hour DST day); the run ends at 9 March 00:00 EDT = 9 March 04:00 UTC, not 05:00.
WINDOWS = [
    pytest.param(
        "Asia/Shanghai",
        (2026, 3, 5, 7, 30),
        dt.datetime(2026, 3, 4, 23, 30, tzinfo=UTC),
        dt.datetime(2026, 3, 7, 16, 0, tzinfo=UTC),
        id="shanghai",
    ),
    pytest.param(
        "America/New_York",
        (2026, 3, 6, 23, 30),
        dt.datetime(2026, 3, 7, 4, 30, tzinfo=UTC),
        dt.datetime(2026, 3, 9, 4, 0, tzinfo=UTC),
        id="new_york",
    ),
]


def enrolled(
    gamify_engine: EngineFactory,
    clock: gamify.ManualClock,
    tz: str,
    local: tuple[int, ...],
    target: int = 3,
) -> gamify.Engine:
    """An engine whose member ``m`` (in ``tz``) auto-enrolled with a workout at ``local``."""
    engine = gamify_engine(program(three_days(target)))
    clock.set(pendulum.datetime(*local, tz=tz))
    engine.set_member("m", timezone=tz)
    engine.track("m", "workout")
    return engine


@pytest.mark.parametrize(("tz", "local", "enrol_utc", "end_utc"), WINDOWS)
def test_window_ends_at_the_members_local_midnight_after_day_n(
    gamify_engine: EngineFactory,
    gamify_clock: gamify.ManualClock,
    tz: str,
    local: tuple[int, ...],
    enrol_utc: dt.datetime,
    end_utc: dt.datetime,
) -> None:
    """A 3-day run starts at the enrolling event and ends at local midnight after day 3."""
    engine = enrolled(gamify_engine, gamify_clock, tz, local)
    progress = engine.challenge_progress("m", "c")
    assert progress.status == "active"
    assert progress.enrolled_at == enrol_utc
    assert progress.ends_at == end_utc


@pytest.mark.parametrize(("tz", "local", "enrol_utc", "end_utc"), WINDOWS)
def test_event_one_microsecond_before_the_end_counts(
    gamify_engine: EngineFactory,
    gamify_clock: gamify.ManualClock,
    tz: str,
    local: tuple[int, ...],
    enrol_utc: dt.datetime,
    end_utc: dt.datetime,
) -> None:
    """The last instant of day N is inside the window: its event completes the challenge."""
    engine = enrolled(gamify_engine, gamify_clock, tz, local)
    gamify_clock.set(enrol_utc + dt.timedelta(hours=12))
    engine.track("m", "workout")
    gamify_clock.set(end_utc - MICRO)
    assert engine.challenge_progress("m", "c").status == "active"
    outcome = engine.track("m", "workout")
    assert [(c.name, c.status, c.completed) for c in outcome.challenges] == [
        ("c", "completed", True)
    ]
    assert [c.amount for c in outcome.credits if c.source == "challenge"] == [100]
    # 3 workouts of 10 and the reward of 100.
    assert engine.balance("m") == 130


@pytest.mark.parametrize(("tz", "local", "enrol_utc", "end_utc"), WINDOWS)
def test_event_at_the_end_instant_fails_the_run(
    gamify_engine: EngineFactory,
    gamify_clock: gamify.ManualClock,
    tz: str,
    local: tuple[int, ...],
    enrol_utc: dt.datetime,
    end_utc: dt.datetime,
) -> None:
    """An event at the window's end instant does not count: the run fails and pays nothing."""
    engine = enrolled(gamify_engine, gamify_clock, tz, local)
    gamify_clock.set(enrol_utc + dt.timedelta(hours=12))
    engine.track("m", "workout")
    gamify_clock.set(end_utc)
    outcome = engine.track("m", "workout")
    assert [(c.name, c.status, c.completed) for c in outcome.challenges] == [("c", "failed", False)]
    assert [c for c in outcome.credits if c.source == "challenge"] == []
    progress = engine.challenge_progress("m", "c")
    assert progress.status == "failed"
    assert progress.conditions[0].current == 2  # the third workout came too late
    assert engine.balance("m") == 30


@pytest.mark.parametrize(("tz", "local", "enrol_utc", "end_utc"), WINDOWS)
def test_late_event_from_inside_the_window_still_counts(
    gamify_engine: EngineFactory,
    gamify_clock: gamify.ManualClock,
    tz: str,
    local: tuple[int, ...],
    enrol_utc: dt.datetime,
    end_utc: dt.datetime,
) -> None:
    """A workout at end - 1 us synced after the end counts in its own window and completes it."""
    engine = enrolled(gamify_engine, gamify_clock, tz, local, target=2)
    gamify_clock.set(end_utc + dt.timedelta(minutes=5))
    assert engine.challenge_progress("m", "c").status == "failed"  # read between events
    outcome = engine.track("m", "workout", at=end_utc - MICRO)
    assert [(c.name, c.status) for c in outcome.challenges] == [("c", "completed")]
    assert engine.challenge_progress("m", "c").status == "completed"


def test_zone_change_after_enrolment_does_not_move_the_window(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """The window is fixed in the zone of the enrolling event; a later zone change keeps it."""
    engine = enrolled(gamify_engine, gamify_clock, "Asia/Shanghai", (2026, 3, 5, 7, 30))
    engine.set_member("m", timezone="America/New_York")
    assert engine.challenge_progress("m", "c").ends_at == dt.datetime(2026, 3, 7, 16, 0, tzinfo=UTC)


# A fixed window: [2026-04-01 00:00, 2026-04-08 00:00) in Shanghai, i.e.
# [2026-03-31 16:00 UTC, 2026-04-07 16:00 UTC).
FIXED_START = dt.datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
FIXED_END = dt.datetime(2026, 4, 7, 16, 0, tzinfo=UTC)


def fixed(target: int = 2, enrolment: str = "auto") -> dict[str, Any]:
    return {
        "start": "2026-04-01T00:00:00+08:00",
        "end": "2026-04-08T00:00:00+08:00",
        "enrolment": enrolment,
        "conditions": [{"kind": "count", "action": "workout", "target": target}],
    }


def test_fixed_window_opens_at_its_start_instant(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """An event 1 us before the start enrols nothing; one at the start enrols and counts."""
    engine = gamify_engine(program(fixed()))
    gamify_clock.set(FIXED_START - MICRO)
    assert engine.track("m", "workout").challenges == []
    assert engine.challenge_progress("m", "c").status == "not_enrolled"
    gamify_clock.set(FIXED_START)
    outcome = engine.track("m", "workout")
    assert [(c.name, c.status) for c in outcome.challenges] == [("c", "active")]
    progress = engine.challenge_progress("m", "c")
    assert (progress.enrolled_at, progress.ends_at) == (FIXED_START, FIXED_END)
    assert progress.conditions[0].current == 1


def test_fixed_window_counts_its_last_microsecond(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """An event at end - 1 us is inside [start, end) and completes the challenge."""
    engine = gamify_engine(program(fixed()))
    gamify_clock.set(FIXED_START)
    engine.track("m", "workout")
    gamify_clock.set(FIXED_END - MICRO)
    outcome = engine.track("m", "workout")
    assert [(c.name, c.status) for c in outcome.challenges] == [("c", "completed")]
    assert engine.balance("m") == 10 + 10 + 100


def test_fixed_window_fails_at_its_end_instant(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """An event at the end instant fails the enrolled run; a newcomer is not enrolled then."""
    engine = gamify_engine(program(fixed()))
    gamify_clock.set(FIXED_START)
    engine.track("m", "workout")
    gamify_clock.set(FIXED_END)
    outcome = engine.track("m", "workout")
    assert [(c.name, c.status) for c in outcome.challenges] == [("c", "failed")]
    assert engine.balance("m") == 20
    assert engine.track("newcomer", "workout").challenges == []
    assert engine.challenge_progress("newcomer", "c").status == "not_enrolled"


def test_explicit_fixed_window_is_open_only_inside_it(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """``enroll`` is refused before the start and at the end, accepted at the start instant."""
    engine = gamify_engine(program(fixed(enrolment="explicit")))
    gamify_clock.set(FIXED_START - MICRO)
    with pytest.raises(InvalidEventError, match="not open"):
        engine.enroll("m", "c")
    gamify_clock.set(FIXED_END)
    with pytest.raises(InvalidEventError, match="not open"):
        engine.enroll("m", "c")
    assert engine.challenge_progress("m", "c").status == "not_enrolled"
    gamify_clock.set(FIXED_START)
    progress = engine.enroll("m", "c")
    assert (progress.status, progress.enrolled_at, progress.ends_at) == (
        "active",
        FIXED_START,
        FIXED_END,
    )


def test_failed_window_reads_failed_between_events_and_fails_on_the_next_event(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Past its end a run reads ``failed``; the next event reports it once: ``challenge_failed``."""
    engine = gamify_engine(program(three_days()))
    seen: list[gamify.DomainEvent] = []
    engine.on("challenge_failed", seen.append)
    completed: list[gamify.DomainEvent] = []
    engine.on("challenge_completed", completed.append)
    gamify_clock.set(dt.datetime(2026, 5, 4, 9, 0, tzinfo=UTC))
    engine.track("m", "workout")
    # Day 3 is 6 May; the run ends at 7 May 00:00 UTC.
    gamify_clock.set(dt.datetime(2026, 5, 6, 23, 59, 59, tzinfo=UTC))
    assert engine.challenge_progress("m", "c").status == "active"
    gamify_clock.set(dt.datetime(2026, 5, 7, 0, 0, tzinfo=UTC))
    assert engine.challenge_progress("m", "c").status == "failed"
    assert seen == []  # nothing happens until an event arrives
    outcome = engine.track("m", "stretch")  # an action the challenge does not watch
    assert outcome.challenges == []
    outcome = engine.track("m", "workout")
    assert [(c.name, c.status, c.completed) for c in outcome.challenges] == [("c", "failed", False)]
    assert [(e.name, e.member_id, e.payload) for e in seen] == [
        ("challenge_failed", "m", {"challenge": "c"})
    ]
    assert seen[0].at == dt.datetime(2026, 5, 7, 0, 0, tzinfo=UTC)
    # A one-time challenge stays failed: later events neither restart it nor fail it again.
    for _ in range(3):
        assert engine.track("m", "workout").challenges == []
    assert engine.challenge_progress("m", "c").status == "failed"
    assert len(seen) == 1 and completed == []
    assert engine.balance("m") == 50


def test_a_late_event_from_inside_a_failed_window_starts_no_new_run(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A repeatable challenge over [1 March, 8 March) whose run failed when the window ended:
    a workout dated 3 March that arrives on 9 March belongs to the failed run, whose outcome
    stands, so no new run starts from it."""
    window = {
        "start": "2026-03-01T00:00:00+00:00",
        "end": "2026-03-08T00:00:00+00:00",
        "repeatable": True,
        "conditions": [{"kind": "count", "action": "workout", "target": 2}],
    }
    engine = gamify_engine(program(window))
    gamify_clock.set(dt.datetime(2026, 3, 2, 9, tzinfo=UTC))
    engine.track("m", "workout")
    gamify_clock.set(dt.datetime(2026, 3, 9, 9, tzinfo=UTC))
    failed = engine.track("m", "workout")
    assert [(c.name, c.status) for c in failed.challenges] == [("c", "failed")]
    late = engine.track("m", "workout", at=dt.datetime(2026, 3, 3, 9, tzinfo=UTC))
    assert late.challenges == []
    progress = engine.challenge_progress("m", "c")
    enrolled_at = dt.datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert (progress.status, progress.enrolled_at) == ("failed", enrolled_at)
    assert [g.current for g in progress.conditions] == [1]
