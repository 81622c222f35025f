"""Enrolment: automatic at the first relevant event, explicit with ``engine.enroll``; errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import gamify
from gamify.errors import InvalidEventError, NotFoundError
from gamify.testing.plugin import EngineFactory

UTC = dt.UTC
START = dt.datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def program(**challenges: dict[str, Any]) -> dict[str, Any]:
    """Workouts pay 10 points; the given challenges."""
    return {
        "timezone": "UTC",
        "actions": {"workout": {}, "stretch": {}},
        "rules": [{"name": "workout_points", "action": "workout", "fixed": 10}],
        "challenges": challenges,
    }


def workouts(target: int, **extra: Any) -> dict[str, Any]:
    return {
        "conditions": [{"kind": "count", "action": "workout", "target": target}],
        "reward": {"points": 100},
        **extra,
    }


def earn(target: int, **extra: Any) -> dict[str, Any]:
    return {
        "conditions": [{"kind": "earned", "currency": "points", "target": target}],
        **extra,
    }


def current(engine: gamify.Engine, challenge: str, member: str = "m") -> list[int]:
    return [int(c.current) for c in engine.challenge_progress(member, challenge).conditions]


def test_events_before_explicit_enrolment_do_not_count(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Three workouts before ``enroll`` leave the run at zero; the ones after it count."""
    engine = gamify_engine(
        program(count=workouts(3, enrolment="explicit"), earned=earn(30, enrolment="explicit"))
    )
    gamify_clock.set(START)
    for _ in range(3):
        assert engine.track("m", "workout").challenges == []  # not enrolled: nothing moves
    assert engine.challenge_progress("m", "count").status == "not_enrolled"
    gamify_clock.advance(hours=1)
    progress = engine.enroll("m", "count")
    assert (progress.status, progress.enrolled_at, progress.ends_at) == (
        "active",
        START + dt.timedelta(hours=1),
        None,
    )
    assert [(int(c.current), int(c.target)) for c in progress.conditions] == [(0, 3)]
    engine.enroll("m", "earned")
    assert current(engine, "earned") == [0]  # the 30 points earned before do not count
    gamify_clock.advance(hours=1)
    engine.track("m", "workout")
    assert current(engine, "count") == [1]
    assert current(engine, "earned") == [10]


def test_late_event_from_before_enrolment_does_not_count(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A late event dated before ``enroll`` does not count; one dated at the enrolment does."""
    engine = gamify_engine(program(count=workouts(2, enrolment="explicit")))
    gamify_clock.set(START)
    engine.enroll("m", "count")
    gamify_clock.advance(hours=2)
    engine.track("m", "workout", at=START - dt.timedelta(microseconds=1))
    assert current(engine, "count") == [0]
    outcome = engine.track("m", "workout", at=START)
    assert [(c.name, c.status) for c in outcome.challenges] == [("count", "active")]
    assert current(engine, "count") == [1]


def test_auto_enrolment_counts_the_enrolling_event(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Under automatic enrolment the first relevant event enrols the member and counts."""
    engine = gamify_engine(program(count=workouts(3), earned=earn(30)))
    gamify_clock.set(START)
    assert engine.challenge_progress("m", "count").status == "not_enrolled"
    outcome = engine.track("m", "workout")
    assert sorted((c.name, c.status) for c in outcome.challenges) == [
        ("count", "active"),
        ("earned", "active"),
    ]
    progress = engine.challenge_progress("m", "count")
    assert (progress.status, progress.enrolled_at) == ("active", START)
    assert current(engine, "count") == [1]
    assert current(engine, "earned") == [10]  # the enrolling event's own credit


def test_auto_enrolment_waits_for_a_relevant_event(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """An action no condition watches does not enrol in a workouts-only challenge."""
    engine = gamify_engine(program(count=workouts(3)))
    gamify_clock.set(START)
    assert engine.track("m", "stretch").challenges == []
    assert engine.challenge_progress("m", "count").status == "not_enrolled"
    gamify_clock.advance(hours=1)
    engine.track("m", "workout")
    progress = engine.challenge_progress("m", "count")
    assert progress.enrolled_at == START + dt.timedelta(hours=1)
    assert current(engine, "count") == [1]


def test_explicit_enrolment_of_an_auto_challenge_counts_from_then(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """``enroll`` on an automatic challenge starts the run at the call, before any event."""
    engine = gamify_engine(program(count=workouts(2, days=7)))
    gamify_clock.set(dt.datetime(2026, 6, 3, 22, 0, tzinfo=UTC))
    progress = engine.enroll("m", "count")
    assert progress.ends_at == dt.datetime(2026, 6, 10, 0, 0, tzinfo=UTC)  # 3 June is day 1
    assert current(engine, "count") == [0]


def test_enroll_unknown_challenge_is_refused(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """``enroll`` and ``challenge_progress`` name an unknown challenge in a NotFoundError."""
    engine = gamify_engine(program(count=workouts(2)))
    with pytest.raises(NotFoundError, match="nope"):
        engine.enroll("m", "nope")
    with pytest.raises(NotFoundError, match="nope"):
        engine.challenge_progress("m", "nope")
    assert engine.store.get_member("m") is None  # nothing written


def test_enroll_twice_is_refused(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A member with an active run cannot enrol again; the run and its progress stay."""
    engine = gamify_engine(program(count=workouts(3, enrolment="explicit")))
    gamify_clock.set(START)
    engine.enroll("m", "count")
    engine.track("m", "workout")
    gamify_clock.advance(hours=1)
    with pytest.raises(InvalidEventError, match="already enrolled"):
        engine.enroll("m", "count")
    progress = engine.challenge_progress("m", "count")
    assert (progress.enrolled_at, current(engine, "count")) == (START, [1])


def test_enroll_after_completing_a_one_time_challenge_is_refused(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A one-time challenge, once completed, refuses a new enrolment and pays no more."""
    engine = gamify_engine(program(count=workouts(1, enrolment="explicit")))
    gamify_clock.set(START)
    engine.enroll("m", "count")
    engine.track("m", "workout")
    assert engine.challenge_progress("m", "count").status == "completed"
    with pytest.raises(InvalidEventError, match="already completed"):
        engine.enroll("m", "count")
    engine.track("m", "workout")
    assert engine.balance("m") == 10 + 100 + 10


def test_enroll_rejects_a_blank_member_id(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A blank member id is refused with a typed error."""
    engine = gamify_engine(program(count=workouts(1, enrolment="explicit")))
    with pytest.raises(InvalidEventError):
        engine.enroll("  ", "count")


def test_enrolling_again_in_a_repeatable_challenge_keeps_its_completions(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Two workouts complete ``twice``; enrolling again starts a run at zero and keeps the
    one completion, and completing that run makes two."""
    engine = gamify_engine(program(twice=workouts(2, enrolment="explicit", repeatable=True)))
    gamify_clock.set(START)
    engine.enroll("m", "twice")
    engine.track("m", "workout")
    engine.track("m", "workout")
    assert engine.challenge_progress("m", "twice").completions == 1
    gamify_clock.advance(dt.timedelta(hours=1))
    again = engine.enroll("m", "twice")
    assert (again.status, again.completions, current(engine, "twice")) == ("active", 1, [0])
    engine.track("m", "workout")
    engine.track("m", "workout")
    done = engine.challenge_progress("m", "twice")
    assert (done.status, done.completions) == ("completed", 2)
    assert engine.balance("m") == 4 * 10 + 2 * 100
