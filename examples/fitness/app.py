"""The fitness example app.

With no arguments it runs the in-memory demo in three parts::

    python examples/fitness/app.py
    python examples/fitness/app.py --db fitness.db    # persistent, on SQLite

1. One member works out every day for 40 days except day 12; a table shows,
   day by day, the points earned, the balance, XP, level, streak and the
   badges earned that day.
2. A new member's first week: the ``first_week`` challenge (5 workouts on 5
   different days within 7 days pays 200 points), its progress day by day.
3. A small group with different workout habits over two weeks, and the
   current week's leaderboard with ranks (ties share a rank: 1, 2, 2, 4).

The rules live in ``program.toml`` beside this file: every workout pays
``10 + min(2 * streak, 50)`` points and as much XP, levels follow the linear
curve ``100 * (n - 1)`` and pay ``50 * n`` points, four badges reward the
first workout, 7 and 30 days in a row and 100 workouts, and the
``first_week`` challenge rewards a new member's first week.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

import gamify

PROGRAM = Path(__file__).resolve().with_name("program.toml")
STREAK = "daily_workout"

DEMO_MEMBER = "ann"
DEMO_START = datetime.fromisoformat("2026-03-01T07:00:00+00:00")
DEMO_DAYS = 40
DEMO_REST_DAYS = frozenset({12})

CHALLENGE = "first_week"
CHALLENGE_MEMBER = "ben"
CHALLENGE_START = datetime.fromisoformat("2026-04-13T18:00:00+00:00")  # a Monday evening
# Workouts on each day of ben's first week: a rest on day 3, two workouts on day 5.
CHALLENGE_PLAN = (1, 1, 0, 1, 2, 1, 1)

GROUP_START = datetime.fromisoformat("2026-04-20T07:00:00+00:00")  # a Monday morning
GROUP_DAYS = 14


@dataclass(frozen=True)
class Habit:
    """A member of the simulated group: when they work out (by day index, 0 = Monday)."""

    member: str
    description: str
    works_out: Callable[[int], bool]


GROUP = (
    Habit("cara", "every day", lambda day: True),
    Habit("dev", "weekdays", lambda day: day % 7 < 5),
    Habit("dina", "weekdays", lambda day: day % 7 < 5),
    Habit("eli", "every other day", lambda day: day % 2 == 0),
    Habit("fay", "weekends", lambda day: day % 7 >= 5),
    Habit("gus", "first week only", lambda day: day < 7),
)


def load_program() -> gamify.Program:
    """The fitness program, found next to this file wherever the app is run from."""
    return gamify.Program.load(PROGRAM)


@dataclass(frozen=True)
class DayRow:
    """One line of the demo table."""

    day: int
    date: str
    points: int
    balance: int
    xp: int
    level: int
    streak: int
    badges: tuple[str, ...]
    notes: tuple[str, ...]


def workout(engine: gamify.Engine, member: str, key: str) -> gamify.Outcome:
    """Record one workout; the key makes a retried call harmless."""
    return engine.track(member, "workout", key=key)


def day_row(
    engine: gamify.Engine, member: str, day: int, now: datetime, outcome: gamify.Outcome | None
) -> DayRow:
    """The table line for ``day``: what ``outcome`` earned and where the member stands after it."""
    profile = engine.member(member)
    streak = next((s.length for s in profile.streaks if s.name == STREAK), 0)
    notes: list[str] = []
    if outcome is None:
        notes.append("rest day")
    else:
        notes += [f"level {u.level} (+{u.reward})" for u in outcome.level_ups]
        notes += [f"challenge {c.name}" for c in outcome.challenges if c.completed]
    badges = tuple(
        b.badge + (f" {b.tier}" if b.tier else "") for b in (outcome.badges if outcome else [])
    )
    return DayRow(
        day=day,
        date=now.date().isoformat(),
        points=outcome.total("points") if outcome else 0,
        balance=profile.balances.get("points", 0),
        xp=profile.xp,
        level=profile.level,
        streak=streak,
        badges=badges,
        notes=tuple(notes),
    )


def simulate(
    engine: gamify.Engine,
    clock: gamify.ManualClock,
    member: str,
    *,
    days: int = DEMO_DAYS,
    rest_days: frozenset[int] = DEMO_REST_DAYS,
) -> list[DayRow]:
    """Work out once a day (except on ``rest_days``), moving ``clock`` a day at a time."""
    rows: list[DayRow] = []
    for day in range(1, days + 1):
        outcome = None if day in rest_days else workout(engine, member, f"{member}-day-{day}")
        rows.append(day_row(engine, member, day, clock.now(), outcome))
        clock.advance(timedelta(days=1))
    return rows


HEADERS = ("day", "date", "points", "balance", "xp", "level", "streak", "badges", "notes")


def format_table(rows: Sequence[DayRow]) -> str:
    """Rows as a fixed-width text table."""
    cells = [
        (
            str(r.day),
            r.date,
            f"+{r.points}" if r.points else "0",
            str(r.balance),
            str(r.xp),
            str(r.level),
            str(r.streak),
            ", ".join(r.badges),
            ", ".join(r.notes),
        )
        for r in rows
    ]
    return text_table(HEADERS, cells, {0, 2, 3, 4, 5, 6})


def text_table(headers: Sequence[str], cells: Sequence[Sequence[str]], numeric: set[int]) -> str:
    """``cells`` under ``headers`` as a fixed-width table; ``numeric`` columns align right."""
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if i in numeric else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(c) for c in cells)])


def new_engine(start: datetime) -> tuple[gamify.Engine, gamify.ManualClock]:
    """A fresh engine on the memory store with a manual clock at ``start``."""
    clock = gamify.ManualClock(start)
    return gamify.Engine(load_program(), store="memory://", clock=clock), clock


def run_days(out: TextIO) -> list[DayRow]:
    """Part 1: one member over 40 days with a rest day on day 12."""
    engine, clock = new_engine(DEMO_START)
    rows = simulate(engine, clock, DEMO_MEMBER)
    print(f"Fitness demo: {DEMO_MEMBER} over {DEMO_DAYS} days, resting on day 12\n", file=out)
    print(format_table(rows), file=out)
    profile = engine.member(DEMO_MEMBER)
    held = ", ".join(b.badge for b in profile.badges) or "none"
    longest = next((s.longest for s in profile.streaks if s.name == STREAK), 0)
    print(
        f"\nAfter {DEMO_DAYS} days: {profile.balances['points']} points, {profile.xp} XP, "
        f"level {profile.level}, longest streak {longest} days; badges: {held}",
        file=out,
    )
    return rows


@dataclass(frozen=True)
class ChallengeRow:
    """One day of a new member's first week: workouts, challenge progress and reward."""

    day: int
    date: str
    workouts: int
    current: int
    target: int
    status: str
    reward: int
    notes: tuple[str, ...]


def first_week(
    engine: gamify.Engine,
    clock: gamify.ManualClock,
    member: str,
    plan: Sequence[int] = CHALLENGE_PLAN,
) -> list[ChallengeRow]:
    """Work out ``plan[d]`` times on day ``d + 1`` (two hours apart) and read the challenge."""
    rows: list[ChallengeRow] = []
    for day, count in enumerate(plan, start=1):
        date = clock.now().date().isoformat()
        reward = 0
        notes: list[str] = [] if count else ["rest day"]
        for n in range(count):
            outcome = workout(engine, member, f"{member}-week-{day}-{n}")
            reward += sum(c.amount for c in outcome.credits if c.rule == f"challenge {CHALLENGE}")
            if n:
                notes.append("same day: counts once")
            clock.advance(timedelta(hours=2))
        clock.advance(timedelta(hours=-2 * count))
        progress = engine.challenge_progress(member, CHALLENGE)
        current, target = next(
            ((int(c.current), int(c.target)) for c in progress.conditions), (0, 0)
        )
        if reward:
            notes.append(f"challenge completed: +{reward} points")
        rows.append(
            ChallengeRow(day, date, count, current, target, progress.status, reward, tuple(notes))
        )
        clock.advance(timedelta(days=1))
    return rows


def run_challenge(out: TextIO) -> list[ChallengeRow]:
    """Part 2: a new member's first week and the ``first_week`` challenge, day by day."""
    engine, clock = new_engine(CHALLENGE_START)
    rows = first_week(engine, clock, CHALLENGE_MEMBER)
    spec = engine.program.challenges[CHALLENGE]
    progress = engine.challenge_progress(CHALLENGE_MEMBER, CHALLENGE)
    print(
        f"\nChallenge {CHALLENGE}: {spec.description.lower()} ({spec.days} days from the "
        f"first workout; pays {spec.reward['points']} points)\n"
        f"{CHALLENGE_MEMBER} is a new member: the first workout enrols them\n",
        file=out,
    )
    cells = [
        (
            str(r.day),
            r.date,
            str(r.workouts),
            f"{r.current}/{r.target}" if r.target else "-",
            r.status,
            f"+{r.reward}" if r.reward else "0",
            ", ".join(r.notes),
        )
        for r in rows
    ]
    headers = ("day", "date", "workouts", "days", "status", "reward", "notes")
    print(text_table(headers, cells, {0, 2, 3, 5}), file=out)
    if progress.enrolled_at is not None and progress.ends_at is not None:
        print(
            f"\nWindow: from {progress.enrolled_at:%Y-%m-%d %H:%M} to "
            f"{progress.ends_at:%Y-%m-%d %H:%M} UTC (local midnight after day {spec.days}); "
            f"status {progress.status}; {engine.balance(CHALLENGE_MEMBER)} points in all",
            file=out,
        )
    return rows


def simulate_group(
    engine: gamify.Engine,
    clock: gamify.ManualClock,
    group: Sequence[Habit] = GROUP,
    *,
    days: int = GROUP_DAYS,
) -> None:
    """Each member works out on the days their habit says, ten minutes apart, every day."""
    start = clock.now()
    for day in range(days):
        for i, habit in enumerate(group):
            if habit.works_out(day):
                clock.set(start + timedelta(days=day, minutes=10 * i))
                workout(engine, habit.member, f"{habit.member}-day-{day}")
    clock.set(start + timedelta(days=days - 1, hours=13))  # the last day's evening


def run_leaderboard(out: TextIO) -> list[tuple[int, str, int]]:
    """Part 3: a group of six over two weeks, and this week's leaderboard.

    Returns the board's rows as (rank, member, points).
    """
    engine, clock = new_engine(GROUP_START)
    simulate_group(engine, clock)
    board = engine.leaderboard("points", period="week", limit=10)
    habits = {h.member: h.description for h in GROUP}
    print(
        f"\nWeekly leaderboard: {len(GROUP)} members over {GROUP_DAYS} days from "
        f"{GROUP_START:%Y-%m-%d}; points earned this week (from "
        f"{clock.now() - timedelta(days=6):%Y-%m-%d}), rewards included\n",
        file=out,
    )
    cells = [(str(r.rank), r.member_id, str(r.score), habits[r.member_id]) for r in board]
    print(text_table(("rank", "member", "points", "habit"), cells, {0, 2}), file=out)
    absent = [h for h in GROUP if h.member not in {r.member_id for r in board}]
    for habit in absent:
        print(f"\n{habit.member} ({habit.description}) earned nothing this week", file=out)
    return [(r.rank, r.member_id, r.score) for r in board]


def run_demo(out: TextIO | None = None) -> list[DayRow]:
    """The in-memory demo: 40 days of one member, a first week, a weekly leaderboard.

    Returns the 40-day table's rows.
    """
    out = out if out is not None else sys.stdout
    rows = run_days(out)
    run_challenge(out)
    run_leaderboard(out)
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="The gamify fitness example. Without options: the in-memory 40-day demo."
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="run the persistent app on this SQLite file (its own User and Workout tables); "
        "each run simulates the next week and continues from the stored state",
    )
    parser.add_argument(
        "--days", type=int, default=7, help="days to simulate per persistent run (default 7)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.db:
        # Imported here: the in-memory demo needs neither SQLModel nor the SQL store.
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from persistent import (  # type: ignore[import-not-found]  # a sibling script, not a package
            run_persistent,
        )

        run_persistent(args.db, days=args.days)
    else:
        run_demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
