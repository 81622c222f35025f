"""The fitness example app.

With no arguments it runs the in-memory demo: one member works out every day
for 40 days except day 12, and a table shows, day by day, the points earned,
the balance, XP, level, streak and the badges earned that day::

    python examples/fitness/app.py

The rules live in ``program.toml`` beside this file: every workout pays
``10 + min(2 * streak, 50)`` points and as much XP, levels follow the linear
curve ``100 * (n - 1)`` and pay ``50 * n`` points, and four badges reward the
first workout, 7 and 30 days in a row and 100 workouts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
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
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(HEADERS)]
    numeric = {0, 2, 3, 4, 5, 6}

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if i in numeric else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(HEADERS), rule, *(line(c) for c in cells)])


def run_demo(out: TextIO | None = None) -> list[DayRow]:
    """The in-memory demo: one member over 40 days with a rest day on day 12."""
    out = out if out is not None else sys.stdout
    clock = gamify.ManualClock(DEMO_START)
    engine = gamify.Engine(load_program(), store="memory://", clock=clock)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="The gamify fitness example. Without options: the in-memory 40-day demo."
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    run_demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
