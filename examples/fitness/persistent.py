"""The fitness app on a SQLite file: the app's own tables and gamify's in one transaction.

The app owns ``User``, ``Workout`` and ``Simulation`` (SQLModel). Each
workout is inserted and tracked in the same session, so the award commits (or
rolls back) with the workout row; domain events (a level-up, a new badge)
arrive after the commit.
Each run simulates the next week and continues from what the file holds.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pendulum
from gamify_adapters.sql import begin_immediate
from sqlalchemy import Engine as SQLEngine
from sqlmodel import Field, Session, SQLModel, create_engine, select

import gamify

PROGRAM = Path(__file__).with_name("program.toml")
FIRST_DAY = date(2026, 3, 2)
DAYS_PER_RUN = 7


class User(SQLModel, table=True):
    """The app's own user table: gamify only ever sees ``name`` as the member id."""

    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    timezone: str
    habit: float  # chance of a workout on a given day, for the simulation


class Workout(SQLModel, table=True):
    __tablename__ = "app_workout"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    at: datetime
    minutes: int


class Simulation(SQLModel, table=True):
    """The last day the simulation covered (one row): a day may pass without a workout."""

    __tablename__ = "app_simulation"
    id: int | None = Field(default=None, primary_key=True)
    last_day: date


USERS = [
    ("ana", "Europe/Lisbon", 0.9),
    ("ben", "Asia/Shanghai", 0.6),
    ("chloe", "America/New_York", 0.35),
]


def _app_engine(path: Path) -> SQLEngine:
    engine = create_engine(f"sqlite:///{path}")
    begin_immediate(engine)  # the app's transactions take SQLite's write lock at BEGIN
    SQLModel.metadata.create_all(engine)
    return engine


def _next_day(session: Session) -> date:
    """The day after the last simulated day: a second run continues the story.

    Not the day after the last workout: the last day may have had none, and a
    workout's UTC date is the day before its local date east of UTC.
    """
    done = session.get(Simulation, 1)
    return FIRST_DAY if done is None else done.last_day + timedelta(days=1)


def run_persistent(path: str | Path, days: int = DAYS_PER_RUN, seed: int = 7) -> None:
    """Simulate ``days`` more days of workouts for three users, stored in ``path``."""
    path = Path(path)
    app_db = _app_engine(path)
    program = gamify.Program.load(PROGRAM)
    clock = gamify.ManualClock()
    gym = gamify.Engine(program, store=f"sqlite:///{path}", clock=clock)
    gym.on("level_up", lambda e: print(f"    -> {e.member_id} reached level {e.payload['level']}"))
    gym.on("badge_awarded", lambda e: print(f"    -> {e.member_id} earned {e.payload['badge']}"))
    gym.on(
        "challenge_completed",
        lambda e: print(f"    -> {e.member_id} completed {e.payload['challenge']}"),
    )

    with Session(app_db) as session:
        for name, zone, habit in USERS:
            if session.exec(select(User).where(User.name == name)).first() is None:
                session.add(User(name=name, timezone=zone, habit=habit))
                gym.using(session).set_member(name, timezone=zone)
        session.commit()
        start = _next_day(session)
        users = session.exec(select(User).order_by(User.name)).all()

    rng = random.Random(f"{seed}-{start.isoformat()}")
    print(f"Fitness app on {path}: {start} to {start + timedelta(days=days - 1)}")
    for offset in range(days):
        day = start + timedelta(days=offset)
        for user in users:
            if rng.random() >= user.habit:
                continue
            local = pendulum.datetime(day.year, day.month, day.day, 7, 30, tz=user.timezone)
            clock.set(local.add(hours=1))
            with Session(app_db) as session:
                minutes = rng.randint(20, 60)
                workout = Workout(
                    user_id=user.id or 0, at=local.in_timezone("UTC"), minutes=minutes
                )
                session.add(workout)
                session.flush()  # the workout's id becomes the idempotency key
                outcome = gym.using(session).track(
                    user.name,
                    "workout",
                    at=local,
                    amount=minutes,
                    key=f"workout-{workout.id}",
                )
                session.commit()  # the workout row and its award, together
            streak = outcome.streaks[0].length if outcome.streaks else 0
            print(
                f"  {day}  {user.name:<6} {minutes:>3} min  "
                f"+{outcome.total('points'):>3} points  +{outcome.total('xp'):>3} XP  "
                f"streak {streak}"
            )
        with Session(app_db) as session:  # a run stopped midway resumes after this day
            session.merge(Simulation(id=1, last_day=day))
            session.commit()

    print("\nStored state:")
    for user in users:
        profile = gym.member(user.name)
        badges = ", ".join(b.badge for b in profile.badges) or "-"
        print(
            f"  {user.name:<6} level {profile.level:>2}  {profile.balances['points']:>5} points  "
            f"{profile.xp:>5} XP  badges: {badges}"
        )
    board = gym.leaderboard("xp", limit=3)
    print("  XP board: " + ", ".join(f"{r.rank}. {r.member_id} ({r.score})" for r in board))
    gym.store.close()
    app_db.dispose()
