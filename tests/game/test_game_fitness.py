"""The fitness example, checked exactly: 40 days of workouts with a gap on day 12."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import pendulum
import pytest
from freezegun import freeze_time

import gamify
from gamify.testing.plugin import EngineFactory

FITNESS = Path(__file__).resolve().parents[2] / "examples" / "fitness" / "program.toml"
DAYS = 40
GAP = 12


@dataclass(frozen=True)
class Day:
    """What one day should show: earned today (points, XP), totals, level, streak, badges today."""

    points: int
    xp: int
    balance: int
    total_xp: int
    level: int
    streak: int
    badges: tuple[str, ...]


def reference(days: int = DAYS, gaps: frozenset[int] = frozenset({GAP})) -> list[Day]:
    """The fitness rules written out from their description, independently of the engine.

    A workout on day d pays 10 + min(2 * streak, 50) points and as much XP, the
    streak counting today; a missed day resets it. Level n needs 100 * (n - 1)
    XP and pays 50 * n points. Badges: first_workout (50), streak_7 (100),
    streak_30 (300), workouts_100 (1000), each once. The first_week challenge
    (workouts on 5 different days within the first 7 days) pays 200 points.
    """
    out: list[Day] = []
    balance = xp = streak = workouts = 0
    level = 1
    held: set[str] = set()
    active_days = 0
    challenge_done = False
    for day in range(1, days + 1):
        if day in gaps:
            # Read during the missed day, the run still stands (the day is not over);
            # it is broken once the day has passed.
            out.append(Day(0, 0, balance, xp, level, streak, ()))
            streak = 0
            continue
        streak += 1
        workouts += 1
        pay = 10 + min(2 * streak, 50)
        points, gained_xp = pay, pay
        xp += gained_xp
        new_level = xp // 100 + 1
        for n in range(level + 1, new_level + 1):
            points += 50 * n
        level = new_level
        today: list[str] = []
        for name, reached, reward in (
            ("first_workout", workouts >= 1, 50),
            ("streak_7", streak >= 7, 100),
            ("streak_30", streak >= 30, 300),
            ("workouts_100", workouts >= 100, 1000),
        ):
            if reached and name not in held:
                held.add(name)
                today.append(name)
                points += reward
        if day <= 7:
            active_days += 1
            if active_days == 5 and not challenge_done:
                challenge_done = True
                points += 200
        balance += points
        out.append(Day(points, gained_xp, balance, xp, level, streak, tuple(sorted(today))))
    return out


def test_reference_matches_numbers_worked_by_hand() -> None:
    """Spot checks of the reference: day 1 pays 12 + 50,
    day 6 reaches level 2, day 11 ends at streak 11.
    """
    days = reference()
    assert (days[0].points, days[0].badges) == (12 + 50, ("first_workout",))
    assert days[4].points == 20 + 200  # the first_week challenge on the 5th day
    assert (days[5].total_xp, days[5].level, days[5].points) == (102, 2, 22 + 100)
    assert (days[6].badges, days[6].points) == (("streak_7",), 24 + 100)
    assert (days[10].streak, days[11].streak, days[12].streak) == (11, 11, 1)
    assert days[12].points == 12
    # From a streak of 25 on, a workout pays the capped 60.
    assert [d.xp for d in days[36:40]] == [60, 60, 60, 60]
    # 11 + 28 workouts: 12..32 then 12..60 (capped from the 25th day of the run).
    assert days[-1].total_xp == sum(range(12, 33, 2)) + sum(range(12, 61, 2)) + 60 * 3


def run_engine(engine: gamify.Engine, member: str, advance: object) -> list[Day]:
    out: list[Day] = []
    for day in range(1, DAYS + 1):
        points = xp = 0
        badges: tuple[str, ...] = ()
        if day != GAP:
            outcome = engine.track(member, "workout", key=f"day-{day}")
            points, xp = outcome.total("points"), outcome.total("xp")
            badges = tuple(sorted(b.badge for b in outcome.badges))
        profile = engine.member(member)
        streak = next(s.length for s in profile.streaks if s.name == "daily_workout")
        out.append(
            Day(points, xp, profile.balances["points"], profile.xp, profile.level, streak, badges)
        )
        advance()  # type: ignore[operator]
    return out


def test_forty_days_with_a_gap_on_day_12(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Day by day, points, XP, balance, level, streak
    and badges follow the fitness rules exactly.
    """
    engine = gamify_engine(FITNESS)
    gamify_clock.set(dt.datetime(2026, 3, 1, 7, 0, tzinfo=dt.UTC))
    actual = run_engine(engine, "ann", lambda: gamify_clock.advance(days=1))
    expected = reference()
    for day, (want, got) in enumerate(zip(expected, actual, strict=True), start=1):
        assert got == want, f"day {day}"
    assert (actual[-1].level, actual[-1].streak) == (14, 28)


def test_forty_days_in_shanghai_at_2330_under_freezegun() -> None:
    """The same 40 days for a member in Shanghai working
    out at 23:30 local, with time frozen by freezegun.
    """
    start = pendulum.datetime(2026, 3, 1, 23, 30, tz="Asia/Shanghai")
    with freeze_time(start) as frozen:
        engine = gamify.Engine(gamify.Program.load(FITNESS))
        engine.set_member("li", timezone="Asia/Shanghai")
        actual = run_engine(engine, "li", lambda: frozen.tick(dt.timedelta(days=1)))
    assert actual == reference()


def test_streak_reads_zero_on_the_gap_day_between_events(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """On the day after the gap, before working out, the streak reads 0 and the longest 11."""
    engine = gamify_engine(FITNESS)
    gamify_clock.set(dt.datetime(2026, 3, 1, 7, 0, tzinfo=dt.UTC))
    for _ in range(11):
        engine.track("ann", "workout")
        gamify_clock.advance(days=1)
    gamify_clock.advance(days=1)  # day 13, 07:00: day 12 passed without a workout
    state = engine.member("ann").streaks[0]
    assert (state.length, state.longest) == (0, 11)


def test_fitness_app_demo_prints_the_reference_days(monkeypatch: pytest.MonkeyPatch) -> None:
    """``examples/fitness/app.py`` shows, day by day, the numbers the rules give."""
    path = FITNESS.with_name("app.py")
    spec = importlib.util.spec_from_file_location("fitness_app", path)
    assert spec is not None and spec.loader is not None
    app = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "fitness_app", app)  # dataclasses look their module up
    spec.loader.exec_module(app)
    out = io.StringIO()
    rows = app.run_demo(out)
    shown = [
        Day(
            r.points,
            r.xp - (rows[i - 1].xp if i else 0),
            r.balance,
            r.xp,
            r.level,
            r.streak,
            tuple(sorted(r.badges)),
        )
        for i, r in enumerate(rows)
    ]
    assert shown == reference()
    text = out.getvalue()
    assert "streak_7" in text and "rest day" in text
    assert app.main([]) == 0


def test_fitness_app_demo_summary_and_notes_follow_the_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The demo's closing line and notes say what the reference days give: after day 40 the
    balance and XP of the reference, level 14 (1322 XP, at least 1300), a longest run of 28
    (days 13 to 40), badges first_workout and streak_7 only (no run reached 30); a level-up
    note names the level and its 50 x n reward; ben's first week totals 450 points
    (62 + 14 + 12 + 2 x 14 + 16 + 200 + 18 + 100)."""
    path = FITNESS.with_name("app.py")
    spec = importlib.util.spec_from_file_location("fitness_app", path)
    assert spec is not None and spec.loader is not None
    app = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "fitness_app", app)  # dataclasses look their module up
    spec.loader.exec_module(app)
    out = io.StringIO()
    app.run_demo(out)
    text = out.getvalue()
    last = reference()[-1]
    assert (last.balance, last.total_xp) == (6872, 1322)
    assert (
        "After 40 days: 6872 points, 1322 XP, level 14, longest streak 28 days; "
        "badges: first_workout, streak_7"
    ) in text
    assert "level 2 (+100)" in text and "level 14 (+700)" in text
    assert "challenge first_week" in text
    assert "status completed; 450 points in all" in text
