"""The fitness example's ``first_week`` challenge: 5 workouts on 5 local days within 7 days."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pendulum

import gamify
from gamify.testing.plugin import EngineFactory

FITNESS = Path(__file__).resolve().parents[2] / "examples" / "fitness" / "program.toml"
TZ = "Asia/Shanghai"


def local(*parts: int) -> dt.datetime:
    return pendulum.datetime(*parts, tz=TZ)


def first_week(outcome: gamify.Outcome) -> list[int]:
    return [c.amount for c in outcome.credits if c.rule == "challenge first_week"]


def new_member(gamify_engine: EngineFactory) -> gamify.Engine:
    engine = gamify_engine(FITNESS)
    engine.set_member("newbie", timezone=TZ)
    return engine


def test_five_workouts_on_five_local_days_within_the_week_pay_200(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Days 1, 2, 4, 6 and the last microsecond of day 7 complete the pack: +200 points, once."""
    engine = new_member(gamify_engine)
    days = [
        local(2026, 3, 2, 7, 0),  # day 1 (1 March 23:00 UTC)
        local(2026, 3, 3, 7, 0),  # day 2
        local(2026, 3, 5, 20, 0),  # day 4
        local(2026, 3, 7, 7, 0),  # day 6
    ]
    for when in days:
        gamify_clock.set(when)
        assert first_week(engine.track("newbie", "workout")) == []
    progress = engine.challenge_progress("newbie", "first_week")
    # Day 7 is 8 March; the week ends at 9 March 00:00 local = 8 March 16:00 UTC.
    assert progress.ends_at == dt.datetime(2026, 3, 8, 16, 0, tzinfo=dt.UTC)
    assert [(int(c.current), int(c.target)) for c in progress.conditions] == [(4, 5)]
    gamify_clock.set(local(2026, 3, 9) - dt.timedelta(microseconds=1))
    outcome = engine.track("newbie", "workout")
    assert first_week(outcome) == [200]
    assert [(c.name, c.completed) for c in outcome.challenges] == [("first_week", True)]
    assert engine.challenge_progress("newbie", "first_week").status == "completed"
    gamify_clock.set(local(2026, 3, 9, 8, 0))
    assert first_week(engine.track("newbie", "workout")) == []
    paid = [h.amount for h in engine.history("newbie") if h.reason == "challenge first_week"]
    assert paid == [200]


def test_five_workouts_on_four_local_days_do_not_pay(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Two workouts on one local day (different UTC dates) count once: 4 of 5 days, no reward."""
    engine = new_member(gamify_engine)
    for when in [
        local(2026, 3, 2, 7, 0),  # 1 March 23:00 UTC
        local(2026, 3, 2, 9, 0),  # 2 March 01:00 UTC: the same local day
        local(2026, 3, 3, 7, 0),
        local(2026, 3, 4, 7, 0),
        local(2026, 3, 5, 7, 0),
    ]:
        gamify_clock.set(when)
        assert first_week(engine.track("newbie", "workout")) == []
    progress = engine.challenge_progress("newbie", "first_week")
    assert progress.status == "active"
    assert [(int(c.current), int(c.target)) for c in progress.conditions] == [(4, 5)]
    gamify_clock.set(local(2026, 3, 9))  # the end of the week
    assert engine.challenge_progress("newbie", "first_week").status == "failed"
    outcome = engine.track("newbie", "workout")
    assert first_week(outcome) == []
    assert [(c.name, c.status) for c in outcome.challenges] == [("first_week", "failed")]
    assert all(h.reason != "challenge first_week" for h in engine.history("newbie"))


def test_fifth_day_on_day_eight_is_too_late(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Workouts on days 1 to 4 and then day 8 fail the pack: the fifth day is outside the week."""
    engine = new_member(gamify_engine)
    for day in (2, 3, 4, 5, 9):
        gamify_clock.set(local(2026, 3, day, 0, 0))
        outcome = engine.track("newbie", "workout")
        assert first_week(outcome) == []
    assert [(c.name, c.status) for c in outcome.challenges] == [("first_week", "failed")]
    progress = engine.challenge_progress("newbie", "first_week")
    assert progress.status == "failed"
    assert [int(c.current) for c in progress.conditions] == [4]
