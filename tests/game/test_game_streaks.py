"""Streaks in the engine: local days and weeks, DST, travel, freezes, milestones, history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pendulum
import pytest
from freezegun import freeze_time

import gamify
from gamify.components import streaks as streaks_component
from gamify.testing.plugin import EngineFactory

FITNESS = Path(__file__).resolve().parents[2] / "examples" / "fitness" / "program.toml"


def fitness_pay(streak: int) -> int:
    """The fitness rule written out by hand: 10 + min(2 * streak, 50)."""
    return 10 + min(2 * streak, 50)


def daily(**streak: Any) -> dict[str, Any]:
    """A small program in UTC: workouts pay 1 point, one daily streak shaped by ``streak``."""
    return {
        "timezone": "UTC",
        "actions": {"workout": {}, "stretch": {}},
        "rules": [{"name": "workout_points", "action": "workout", "fixed": 1}],
        "streaks": {"daily": {"actions": ["workout"], **streak}},
    }


def length(outcome: gamify.Outcome, name: str = "daily") -> int:
    return next(s.length for s in outcome.streaks if s.name == name)


def profile_length(engine: gamify.Engine, member: str, name: str = "daily") -> int:
    return next(s.length for s in engine.member(member).streaks if s.name == name)


# -- local days ----------------------------------------------------------------------------


def test_shanghai_2330_seven_day_run(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Workouts at 23:30 in Shanghai (15:30 UTC the
    same date) on seven local days make a 7-day run.
    """
    engine = gamify_engine(FITNESS)
    engine.set_member("li", timezone="Asia/Shanghai")
    gamify_clock.set(pendulum.datetime(2026, 3, 2, 23, 30, tz="Asia/Shanghai"))
    assert gamify_clock.now() == dt.datetime(2026, 3, 2, 15, 30, tzinfo=dt.UTC)
    for day in range(1, 8):
        outcome = engine.track("li", "workout")
        assert length(outcome, "daily_workout") == day
        rule_credits = {c.currency: c.amount for c in outcome.credits if c.source == "rule"}
        assert rule_credits == {"points": fitness_pay(day), "xp": fitness_pay(day)}
        gamify_clock.advance(days=1)
    assert profile_length(engine, "li", "daily_workout") == 7


def test_shanghai_0730_is_the_previous_utc_date(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """At 07:30 in Shanghai it is 23:30 UTC the day before; the streak follows the local date."""
    engine = gamify_engine(daily())
    engine.set_member("li", timezone="Asia/Shanghai")
    gamify_clock.set(pendulum.datetime(2026, 3, 2, 7, 30, tz="Asia/Shanghai"))
    assert gamify_clock.now() == dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
    lengths = []
    for _ in range(7):
        lengths.append(length(engine.track("li", "workout")))
        gamify_clock.advance(days=1)
    assert lengths == [1, 2, 3, 4, 5, 6, 7]


def test_shanghai_alternating_times_follow_local_dates(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """07:30 and 23:30 Shanghai on seven consecutive local
    days is a 7-day run, though UTC dates skip and repeat.
    """
    engine = gamify_engine(daily())
    engine.set_member("li", timezone="Asia/Shanghai")
    utc_dates = []
    lengths = []
    for day in range(7):
        hour = 7 if day % 2 == 0 else 23
        gamify_clock.set(pendulum.datetime(2026, 3, 2 + day, hour, 30, tz="Asia/Shanghai"))
        utc_dates.append(gamify_clock.now().date().day)
        lengths.append(length(engine.track("li", "workout")))
    # In UTC the dates read 1, 3, 3, 5, 5, 7, 7: a gap, then two on one date.
    assert utc_dates == [1, 3, 3, 5, 5, 7, 7]
    assert lengths == [1, 2, 3, 4, 5, 6, 7]


def test_shanghai_run_under_freezegun() -> None:
    """With the default clock under freezegun, seven 23:30
    Shanghai workouts make a 7-day run paying 12..24.
    """
    with freeze_time("2026-03-02 15:30:00+00:00") as frozen:
        engine = gamify.Engine(gamify.Program.load(FITNESS))
        engine.set_member("li", timezone="Asia/Shanghai")
        xp = []
        for _ in range(7):
            outcome = engine.track("li", "workout")
            xp.append(outcome.total("xp"))
            frozen.tick(dt.timedelta(days=1))
        assert xp == [12, 14, 16, 18, 20, 22, 24]
        assert profile_length(engine, "li", "daily_workout") == 7


def test_two_workouts_one_local_day_count_once_and_pay_the_same(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A second workout the same local day adds nothing to
    the streak and pays 10 + min(2*streak, 50) again.
    """
    engine = gamify_engine(FITNESS)
    engine.set_member("ann", timezone="Asia/Shanghai")
    gamify_clock.set(pendulum.datetime(2026, 3, 2, 8, 0, tz="Asia/Shanghai"))
    engine.track("ann", "workout")
    gamify_clock.advance(days=1)
    engine.track("ann", "workout")
    gamify_clock.set(pendulum.datetime(2026, 3, 4, 0, 10, tz="Asia/Shanghai"))  # 16:10 UTC Mar 3
    first = engine.track("ann", "workout")
    gamify_clock.set(pendulum.datetime(2026, 3, 4, 23, 50, tz="Asia/Shanghai"))
    second = engine.track("ann", "workout")
    for outcome in (first, second):
        rule_credits = {c.currency: c.amount for c in outcome.credits if c.source == "rule"}
        assert rule_credits == {"points": fitness_pay(3), "xp": fitness_pay(3)}
        assert length(outcome, "daily_workout") == 3
    assert first.streaks[0].extended and not second.streaks[0].extended
    assert profile_length(engine, "ann", "daily_workout") == 3


# -- DST in New York -----------------------------------------------------------------------


def test_new_york_run_across_spring_forward(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Workouts at 23:30 New York from 5 to 11 March
    2026 (the 8th has 23 hours) make a 7-day run.
    """
    engine = gamify_engine(daily())
    engine.set_member("ny", timezone="America/New_York")
    gamify_clock.set(pendulum.datetime(2026, 3, 5, 23, 30, tz="America/New_York"))
    instants = []
    for day in range(1, 8):
        instants.append(gamify_clock.now())
        assert length(engine.track("ny", "workout")) == day
        gamify_clock.advance(days=1, tz="America/New_York")
    # 04:30 UTC under EST (UTC-5) before the change, 03:30 UTC under EDT (UTC-4) after it.
    assert instants[0].hour == 4 and instants[-1].hour == 3
    assert instants[3] - instants[2] == dt.timedelta(hours=23)


def test_new_york_run_across_fall_back(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Workouts at 23:30 New York from 29 Oct to 4 Nov
    2026 (1 Nov has 25 hours) make a 7-day run.
    """
    engine = gamify_engine(daily())
    engine.set_member("ny", timezone="America/New_York")
    gamify_clock.set(pendulum.datetime(2026, 10, 29, 23, 30, tz="America/New_York"))
    instants = []
    for day in range(1, 8):
        instants.append(gamify_clock.now())
        assert length(engine.track("ny", "workout")) == day
        gamify_clock.advance(days=1, tz="America/New_York")
    assert instants[3] - instants[2] == dt.timedelta(hours=25)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(pendulum.date(2026, 3, 8), 22.5), (pendulum.date(2026, 11, 1), 24.5)],
    ids=["spring-forward", "fall-back"],
)
def test_dst_day_is_one_day(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock, day: Any, hours: float
) -> None:
    """Workouts at 00:15 and 23:45 on a 23- or 25-hour
    New York day count once; 00:15 next day extends.
    """
    engine = gamify_engine(daily())
    engine.set_member("ny", timezone="America/New_York")
    early = pendulum.datetime(day.year, day.month, day.day, 0, 15, tz="America/New_York")
    late = pendulum.datetime(day.year, day.month, day.day, 23, 45, tz="America/New_York")
    assert (late - early).total_seconds() == hours * 3600
    gamify_clock.set(early)
    assert length(engine.track("ny", "workout")) == 1
    gamify_clock.set(late)
    assert length(engine.track("ny", "workout")) == 1
    gamify_clock.advance(minutes=30)
    assert length(engine.track("ny", "workout")) == 2


def test_repeated_hour_of_fall_back_is_one_day(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """01:30 EDT and 01:30 EST on 1 Nov 2026 (an hour apart) are the same local day."""
    engine = gamify_engine(daily())
    engine.set_member("ny", timezone="America/New_York")
    gamify_clock.set(dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC))  # 01:30 EDT
    assert length(engine.track("ny", "workout")) == 1
    gamify_clock.set(dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC))  # 01:30 EST
    assert length(engine.track("ny", "workout")) == 1


# -- misses and freeze tokens ----------------------------------------------------------------


def test_missed_day_without_token_breaks_the_run(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A whole missed local day with no freeze token
    breaks the run; the next workout starts at 1.
    """
    engine = gamify_engine(daily())
    gamify_clock.set(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    for _ in range(7):
        engine.track("m", "workout")
        gamify_clock.advance(days=1)
    gamify_clock.advance(days=1)  # 9 March missed
    outcome = engine.track("m", "workout")
    state = outcome.streaks[0]
    assert (state.length, state.longest, state.broken, state.tokens) == (1, 7, True, 0)


def test_missed_day_with_token_is_frozen(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A token earned at length 7 covers one missed
    day: the run survives and the day adds nothing.
    """
    engine = gamify_engine(daily(freeze={"every": 7, "max_tokens": 2}))
    gamify_clock.set(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    tokens = []
    for _ in range(7):
        tokens.append(engine.track("m", "workout").streaks[0].tokens)
        gamify_clock.advance(days=1)
    assert tokens == [0, 0, 0, 0, 0, 0, 1]
    gamify_clock.advance(days=1)  # 9 March missed
    # Read between events, the token holds the run.
    assert profile_length(engine, "m") == 7
    state = engine.track("m", "workout").streaks[0]
    assert (state.length, state.broken, state.frozen_periods, state.tokens) == (8, False, 1, 0)


def test_tokens_are_held_up_to_the_maximum_and_cover_two_days(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """One token per 7-day run length, at most 2 held; two tokens bridge two missed days."""
    engine = gamify_engine(daily(freeze={"every": 7, "max_tokens": 2}))
    gamify_clock.set(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    for _ in range(28):
        last = engine.track("m", "workout")
        gamify_clock.advance(days=1)
    assert (last.streaks[0].length, last.streaks[0].tokens) == (28, 2)  # 7, 14 -> 2; 21, 28 capped
    gamify_clock.advance(days=2)  # two days missed
    state = engine.track("m", "workout").streaks[0]
    assert (state.length, state.frozen_periods, state.tokens, state.broken) == (29, 2, 0, False)


def test_a_token_cannot_cover_two_missed_days(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """With one token, two missed days still break the run."""
    engine = gamify_engine(daily(freeze={"every": 7, "max_tokens": 2}))
    gamify_clock.set(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    for _ in range(7):
        engine.track("m", "workout")
        gamify_clock.advance(days=1)
    gamify_clock.advance(days=2)
    state = engine.track("m", "workout").streaks[0]
    assert (state.length, state.broken) == (1, True)


def test_read_between_events_is_zero_after_a_whole_missed_day(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Between events the length holds through the next
    day and reads 0 once a whole day passed empty.
    """
    engine = gamify_engine(daily())
    gamify_clock.set(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    engine.track("m", "workout")
    gamify_clock.advance(days=1)
    engine.track("m", "workout")
    gamify_clock.set(dt.datetime(2026, 3, 3, 23, 59, tzinfo=dt.UTC))
    assert profile_length(engine, "m") == 2
    gamify_clock.set(dt.datetime(2026, 3, 4, 23, 59, tzinfo=dt.UTC))  # 4 March not over yet
    assert profile_length(engine, "m") == 2
    gamify_clock.set(dt.datetime(2026, 3, 5, 0, 0, tzinfo=dt.UTC))  # 4 March passed empty
    assert profile_length(engine, "m") == 0
    assert engine.member("m").streaks[0].longest == 2


def test_other_actions_do_not_count(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """An action the streak does not list neither extends nor holds it."""
    engine = gamify_engine(daily())
    gamify_clock.set(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    engine.track("m", "workout")
    gamify_clock.advance(days=1)
    assert engine.track("m", "stretch").streaks == []
    gamify_clock.advance(days=1)
    assert length(engine.track("m", "workout")) == 1


# -- weeks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("week_start", "expected"), [("monday", [1, 1, 2]), ("sunday", [1, 2, 2])])
def test_weekly_streak_respects_week_start(
    gamify_engine: EngineFactory,
    gamify_clock: gamify.ManualClock,
    week_start: str,
    expected: list[int],
) -> None:
    """Saturday 7, Sunday 8 and Monday 9 March 2026: Sunday
    opens a new week only when weeks start on Sunday.
    """
    program = daily(period="week")
    program["week_start"] = week_start
    engine = gamify_engine(program)
    lengths = []
    for day in (7, 8, 9):
        gamify_clock.set(dt.datetime(2026, 3, day, 12, tzinfo=dt.UTC))
        lengths.append(length(engine.track("m", "workout")))
    assert lengths == expected


def test_weekly_streak_counts_weeks_and_breaks_on_a_missed_week(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Several workouts in one week count once; a whole week without one breaks the run."""
    engine = gamify_engine(daily(period="week"))
    lengths = []
    for day in (2, 6, 8, 9, 16, 30, 31):
        gamify_clock.set(dt.datetime(2026, 3, day, 12, tzinfo=dt.UTC))
        lengths.append(length(engine.track("m", "workout")))
    # Weeks start on Mondays 2, 9, 16, 23 and 30 March: 2, 6 and Sunday 8 are one week,
    # 9 and 16 the next two; the week of 23 March is missed; 30 and 31 share a week.
    assert lengths == [1, 1, 1, 2, 3, 1, 1]
    gamify_clock.set(dt.datetime(2026, 4, 12, 23, tzinfo=dt.UTC))  # Sunday of the week after
    assert profile_length(engine, "m") == 1
    gamify_clock.set(dt.datetime(2026, 4, 13, 0, tzinfo=dt.UTC))  # the week of 6 April passed empty
    assert profile_length(engine, "m") == 0


# -- milestones, longest and runs ---------------------------------------------------------------


def test_milestones_pay_once_per_run_and_again_in_a_new_run(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Milestone 3 pays 20 points when a run reaches 3
    days, not again that run, and again in the next run.
    """
    engine = gamify_engine(daily(milestones=[{"length": 3, "reward": {"points": 20}}]))
    paid = []
    hours = (9, 9, 9, 18, 9, 9, 9, 9, 9)  # two workouts on 4 March
    for day, hour in zip((2, 3, 4, 4, 5, 7, 8, 9, 10), hours, strict=True):  # 6 March missed
        gamify_clock.set(dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC))
        outcome = engine.track("m", "workout")
        milestone = [c.amount for c in outcome.credits if c.source == "streak"]
        paid.append(milestone[0] if milestone else 0)
        assert outcome.streaks[0].milestones == ([3] if milestone else [])
    assert paid == [0, 0, 20, 0, 0, 0, 0, 20, 0]
    assert engine.balance("m") == 9 * 1 + 2 * 20


def test_milestone_event_fires(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Reaching a milestone delivers one streak_milestone domain event with the length."""
    engine = gamify_engine(daily(milestones=[{"length": 2, "reward": {"points": 5}}]))
    seen: list[gamify.DomainEvent] = []
    engine.on("streak_milestone", seen.append)
    gamify_clock.set(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    for _ in range(3):
        engine.track("m", "workout")
        gamify_clock.advance(days=1)
    assert [(e.name, e.payload["length"]) for e in seen] == [("streak_milestone", 2)]


def test_longest_is_kept_across_runs(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """After runs of 5 then 3 days the current length is 3 and the longest 5."""
    engine = gamify_engine(daily())
    for day in (1, 2, 3, 4, 5, 7, 8, 9):
        gamify_clock.set(dt.datetime(2026, 3, day, 9, tzinfo=dt.UTC))
        engine.track("m", "workout")
    state = engine.member("m").streaks[0]
    assert (state.length, state.longest) == (3, 5)


def test_runs_history_records_each_broken_run() -> None:
    """Each break files the finished run (its start and length) in the history, oldest first."""
    spec = gamify.Program.model_validate(daily()).streaks["daily"]
    state: dict[str, Any] | None = None
    for day in (1, 2, 3, 5, 6, 9):
        state = streaks_component.record(
            spec, state, dt.datetime(2026, 3, day, 9, tzinfo=dt.UTC), "UTC"
        ).state
    assert state is not None
    assert streaks_component.past_runs(state) == [
        ("2026-03-01T09:00:00+00:00", 3),
        ("2026-03-05T09:00:00+00:00", 2),
    ]
    assert (state["len"], state["longest"], state["start"]) == (1, 3, "2026-03-09T09:00:00+00:00")


def test_runs_history_keeps_the_latest_fifty() -> None:
    """Past runs are capped at MAX_RUNS, dropping the oldest first."""
    spec = gamify.Program.model_validate(daily()).streaks["daily"]
    state: dict[str, Any] | None = None
    start = dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)
    for n in range(streaks_component.MAX_RUNS + 5):  # a one-day run every other day
        at = start + dt.timedelta(days=2 * n)
        state = streaks_component.record(spec, state, at, "UTC").state
    runs = streaks_component.past_runs(state)
    assert len(runs) == streaks_component.MAX_RUNS
    assert runs[0] == ((start + dt.timedelta(days=8)).isoformat(), 1)
    assert runs[-1] == ((start + dt.timedelta(days=2 * 53)).isoformat(), 1)


def test_streak_history_lists_finished_runs_in_the_members_days(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Workouts in Shanghai on local days 1, 2, 3 and 5, at 07:30 (23:30 UTC the day before)
    but 09:00 on day 2: in UTC they fall on 28 Feb, 2, 2 and 4 March, which is no run of
    three. Locally the first run (3 days) is filed when day 5 breaks it; the current run is
    not filed."""
    engine = gamify_engine(daily())
    engine.set_member("m", timezone="Asia/Shanghai")
    shanghai = dt.timezone(dt.timedelta(hours=8))
    for day, hour in ((1, 7), (2, 9), (3, 7), (5, 7)):
        gamify_clock.set(dt.datetime(2026, 3, day, hour, 30, tzinfo=shanghai))
        engine.track("m", "workout")
    history = engine.streak_history("m", "daily")
    assert history == [
        gamify.StreakRun(start=dt.datetime(2026, 2, 28, 23, 30, tzinfo=dt.UTC), length=3)
    ]
    assert profile_length(engine, "m") == 1


def test_streak_history_refuses_unknown_names(gamify_engine: EngineFactory) -> None:
    """An unknown streak or member is a typed error, not an empty list."""
    engine = gamify_engine(daily())
    engine.track("m", "workout")
    assert engine.streak_history("m", "daily") == []
    with pytest.raises(gamify.errors.NotFoundError, match="unknown streak 'weekly'"):
        engine.streak_history("m", "weekly")
    with pytest.raises(gamify.UnknownMemberError):
        engine.streak_history("nobody", "daily")


def test_runs_history_reads_the_earlier_list_form() -> None:
    """A state saved with runs as [start, length] pairs is read, and extended, as before."""
    spec = gamify.Program.model_validate(daily()).streaks["daily"]
    state: dict[str, Any] = {
        "len": 2,
        "longest": 4,
        "tokens": 0,
        "paid": [],
        "start": "2026-03-09T09:00:00+00:00",
        "last_at": "2026-03-10T09:00:00+00:00",
        "covered": 0,
        "runs": [["2026-03-01T09:00:00+00:00", 4]],
    }
    assert streaks_component.past_runs(state) == [("2026-03-01T09:00:00+00:00", 4)]
    after = streaks_component.record(spec, state, dt.datetime(2026, 3, 13, 9, tzinfo=dt.UTC), "UTC")
    assert after.broken
    assert streaks_component.past_runs(after.state) == [
        ("2026-03-01T09:00:00+00:00", 4),
        ("2026-03-09T09:00:00+00:00", 2),
    ]


def test_late_event_never_rewrites_a_run(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """An event dated on a missed day after the run went on counts nothing toward the streak."""
    engine = gamify_engine(daily())
    for day in (2, 4, 5):
        gamify_clock.set(dt.datetime(2026, 3, day, 9, tzinfo=dt.UTC))
        engine.track("m", "workout")
    late = engine.track("m", "workout", at=dt.datetime(2026, 3, 3, 9, tzinfo=dt.UTC))
    assert (late.streaks[0].length, late.streaks[0].extended) == (2, False)
    assert engine.member("m").streaks[0].longest == 2


# -- travel ------------------------------------------------------------------------------------


def test_travel_east_never_counts_a_day_twice(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Los Angeles 20:00 on 2 March then Shanghai 14:00
    on 3 March two hours later is one local day.
    """
    engine = gamify_engine(daily())
    engine.set_member("t", timezone="America/Los_Angeles")
    gamify_clock.set(pendulum.datetime(2026, 3, 1, 20, tz="America/Los_Angeles"))
    engine.track("t", "workout")
    gamify_clock.set(pendulum.datetime(2026, 3, 2, 20, tz="America/Los_Angeles"))  # 04:00 UTC 3rd
    assert length(engine.track("t", "workout")) == 2
    engine.set_member("t", timezone="Asia/Shanghai")
    gamify_clock.set(pendulum.datetime(2026, 3, 3, 14, tz="Asia/Shanghai"))  # 06:00 UTC 3rd
    # The last workout re-read in Shanghai was at 12:00 on 3 March: the same day.
    outcome = engine.track("t", "workout")
    assert (length(outcome), outcome.streaks[0].extended) == (2, False)
    gamify_clock.set(pendulum.datetime(2026, 3, 4, 9, tz="Asia/Shanghai"))
    assert length(engine.track("t", "workout")) == 3


def test_travel_west_never_breaks_a_run(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Shanghai 22:00 on 2 March, then Los Angeles 20:00
    on 3 March: the next local day, the run goes on.
    """
    engine = gamify_engine(daily())
    engine.set_member("t", timezone="Asia/Shanghai")
    gamify_clock.set(pendulum.datetime(2026, 3, 2, 22, tz="Asia/Shanghai"))  # 14:00 UTC 2nd
    engine.track("t", "workout")
    engine.set_member("t", timezone="America/Los_Angeles")
    # Re-read in Los Angeles the last workout was 06:00 on 2 March; 3 March is the next day,
    # though 46 hours have passed.
    gamify_clock.set(pendulum.datetime(2026, 3, 3, 20, tz="America/Los_Angeles"))
    assert profile_length(engine, "t") == 1
    outcome = engine.track("t", "workout")
    assert (length(outcome), outcome.streaks[0].broken) == (2, False)


def test_travel_east_does_not_break_what_the_old_zone_would_keep(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Los Angeles 20:00 on 2 March, then Shanghai 08:00
    on 4 March 20 hours later: the next day, no miss.
    """
    engine = gamify_engine(daily())
    engine.set_member("t", timezone="America/Los_Angeles")
    gamify_clock.set(pendulum.datetime(2026, 3, 2, 20, tz="America/Los_Angeles"))  # 04:00 UTC 3rd
    engine.track("t", "workout")
    engine.set_member("t", timezone="Asia/Shanghai")
    gamify_clock.set(pendulum.datetime(2026, 3, 4, 8, tz="Asia/Shanghai"))  # 00:00 UTC 4th
    # Re-read in Shanghai the last workout was 12:00 on 3 March.
    outcome = engine.track("t", "workout")
    assert (length(outcome), outcome.streaks[0].broken) == (2, False)


def test_travel_after_a_miss_is_still_a_miss(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Re-read in the new zone, a workout two local days after the last one breaks the run."""
    engine = gamify_engine(daily())
    engine.set_member("t", timezone="Asia/Shanghai")
    gamify_clock.set(pendulum.datetime(2026, 3, 2, 7, tz="Asia/Shanghai"))  # 23:00 UTC 1st
    engine.track("t", "workout")
    engine.set_member("t", timezone="America/Los_Angeles")
    # Re-read in Los Angeles: 15:00 on 1 March. 3 March is two days later.
    gamify_clock.set(pendulum.datetime(2026, 3, 3, 9, tz="America/Los_Angeles"))
    outcome = engine.track("t", "workout")
    assert (length(outcome), outcome.streaks[0].broken) == (1, True)


# -- the streak a rule reads ------------------------------------------------------------------


def test_rule_reads_the_streak_it_names(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A rule with ``streak = "daily"`` reads the daily length even when another streak is listed
    first.
    """
    engine = gamify_engine(
        {
            "timezone": "UTC",
            "actions": {"workout": {}},
            "rules": [
                {"name": "by_day", "action": "workout", "formula": "streak", "streak": "daily"}
            ],
            "streaks": {
                "weekly": {"actions": ["workout"], "period": "week"},
                "daily": {"actions": ["workout"]},
            },
        }
    )
    paid = []
    for day in (2, 3, 4):  # Monday to Wednesday: the weekly length stays 1
        gamify_clock.set(dt.datetime(2026, 3, day, 9, tzinfo=dt.UTC))
        paid.append(engine.track("m", "workout").total("points"))
    assert paid == [1, 2, 3]


def test_streak_history_lists_a_run_broken_by_time_before_the_next_event(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Four workouts in Shanghai at 07:30 (the previous UTC day), then nothing: two local days
    later the profile reads 0 and the history already lists the run of four, as the next
    workout would file it; a repair window or an event changes nothing of that."""
    engine = gamify_engine(daily())
    engine.set_member("m", timezone="Asia/Shanghai")
    shanghai = dt.timezone(dt.timedelta(hours=8))
    for day in (2, 3, 4, 5):
        gamify_clock.set(dt.datetime(2026, 3, day, 7, 30, tzinfo=shanghai))
        engine.track("m", "workout")
    run = gamify.StreakRun(start=dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC), length=4)
    gamify_clock.set(dt.datetime(2026, 3, 6, 23, 59, tzinfo=shanghai))  # 6 March: still alive
    assert engine.streak_history("m", "daily") == []
    gamify_clock.set(dt.datetime(2026, 3, 7, 0, 0, tzinfo=shanghai))  # 6 March missed
    assert profile_length(engine, "m") == 0
    assert engine.streak_history("m", "daily") == [run]
    engine.track("m", "workout")  # files the run for good: the same history
    assert engine.streak_history("m", "daily") == [run]
