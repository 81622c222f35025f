"""Benchmark: the engine on the memory store with the game layer on top.

    python benchmarks/engine_game.py [--members N] [--events N] [--seed S]
                                     [--profile FILE] [--no-memory]

A realistic program (6 actions; proportional, fixed and formula rules; a
double-points campaign and a VIP multiplier; per-event and daily caps; a
level curve with rewards) plus 3 streaks and 30 badges, driven by 200,000
events over 10,000 members. The events come from ``random.Random(seed)`` and a
:class:`gamify.ManualClock` that only moves forward (about 60 days in all), so
every run tracks the same stream.

Printed, from one process:

- the figure: events per second of ``Engine.track`` over the whole stream
  (target: at least 20,000 on the memory store);
- its baseline: the same stream on the same program without levels, streaks
  and badges, so the cost of the game layer shows;
- peak traced memory of a separate, untimed pass under ``tracemalloc`` (which
  slows Python code about threefold, so it never runs during the timing).

``--profile FILE`` writes a cProfile of an extra pass and prints its top costs.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import gamify
from gamify.components.badges import BadgeFacts

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
ZONES = ("Europe/Berlin", "Asia/Shanghai", "America/New_York", "America/Los_Angeles", "UTC")
ACTIONS = ("purchase", "check_in", "workout", "review", "share", "read")
WEIGHTS = (20, 25, 30, 8, 7, 10)


def base_program() -> dict[str, Any]:
    """Earning only: 6 actions, proportional/fixed/formula rules, a campaign, a tag, caps."""
    return {
        "name": "benchmark",
        "timezone": "Europe/Berlin",
        "actions": {
            "purchase": {"amount": "required"},
            "check_in": {"amount": "none"},
            "workout": {"amount": "optional"},
            "review": {"amount": "none"},
            "share": {"amount": "none"},
            "read": {"amount": "none"},
        },
        "rules": [
            {"name": "purchase_points", "action": "purchase", "per_amount": 1},
            {"name": "purchase_xp", "action": "purchase", "currency": "xp", "per_amount": "0.1"},
            {"name": "check_in_points", "action": "check_in", "fixed": 5},
            {"name": "workout_points", "action": "workout", "fixed": 12},
            {"name": "workout_xp", "action": "workout", "currency": "xp", "fixed": 12},
            {
                "name": "photo_review",
                "action": "review",
                "fixed": 50,
                "conditions": {"photo": True},
            },
            {
                "name": "text_review",
                "action": "review",
                "fixed": 20,
                "conditions": [{"attribute": "photo", "op": "ne", "value": True}],
            },
            {"name": "share_points", "action": "share", "fixed": 10},
            {"name": "read_xp", "action": "read", "currency": "xp", "fixed": 3},
        ],
        "multipliers": [
            {
                "name": "double_days",
                "kind": "campaign",
                "factor": 2,
                "start": "2026-03-20T00:00:00+01:00",
                "end": "2026-03-27T00:00:00+01:00",
            },
            {"name": "vip", "kind": "tag", "tag": "vip", "factor": "1.5"},
        ],
        "caps": [
            {"name": "per_order", "limit": 5000, "period": "event", "action": "purchase"},
            {"name": "check_in_day", "limit": 5, "period": "day", "action": "check_in"},
            {"name": "share_day", "limit": 30, "period": "day", "action": "share"},
            {"name": "points_day", "limit": 6000, "period": "day"},
        ],
    }


def game_program() -> dict[str, Any]:
    """The base program plus levels, 3 streaks and 30 badges."""
    program = base_program()
    # With a streak the workout rule reads its length.
    program["rules"][3] = {
        "name": "workout_points",
        "action": "workout",
        "formula": "10 + min(2 * streak, 50)",
        "streak": "daily_workout",
    }
    program["levels"] = {
        "curve": "polynomial",
        "params": {"a": 50, "p": 2},
        "max_level": 60,
        "reward": {"points": "20 * level"},
    }
    program["streaks"] = {
        "daily_workout": {
            "actions": ["workout"],
            "milestones": [
                {"length": 3, "reward": {"points": 20}},
                {"length": 7, "reward": {"points": 50}},
            ],
        },
        "daily_check_in": {
            "actions": ["check_in"],
            "freeze": {"every": 7, "max_tokens": 2},
            "milestones": [{"length": 5, "reward": {"points": 10}}],
            "repair": {"window_hours": 48, "cost": 50, "per_month": 2},
        },
        "weekly_purchase": {"actions": ["purchase"], "period": "week"},
    }
    badges: dict[str, Any] = {}
    for action in ACTIONS:  # 6 one-off "first" badges
        badges[f"first_{action}"] = {
            "metric": "count",
            "action": action,
            "threshold": 1,
            "reward": {"points": 10},
        }
    for action in ACTIONS:  # 6 tiered count badges
        badges[f"{action}_tiers"] = {
            "kind": "tiered",
            "metric": "count",
            "action": action,
            "tiers": [
                {"name": "bronze", "threshold": 5, "reward": {"points": 10}},
                {"name": "silver", "threshold": 15, "reward": {"points": 30}},
                {"name": "gold", "threshold": 40, "reward": {"points": 100}},
            ],
        }
    for action in ACTIONS:  # 6 repeatable badges
        badges[f"{action}_every_10"] = {
            "kind": "repeatable",
            "metric": "count",
            "action": action,
            "threshold": 10,
            "reward": {"points": 5},
        }
    for threshold in (500, 2000, 10000):  # 3 on the amount spent
        badges[f"spent_{threshold}"] = {
            "metric": "sum",
            "action": "purchase",
            "threshold": threshold,
            "reward": {"points": threshold // 50},
        }
    for name, streak, threshold in (  # 3 on streak lengths
        ("workout_week", "daily_workout", 7),
        ("check_in_fortnight", "daily_check_in", 14),
        ("shopper_month", "weekly_purchase", 4),
    ):
        badges[name] = {"metric": "streak", "streak": streak, "threshold": threshold}
    for level in (5, 10):  # 2 on levels
        badges[f"level_{level}"] = {"metric": "level", "threshold": level}
    badges["earned_1000"] = {"metric": "earned", "currency": "points", "threshold": 1000}
    badges["earned_xp_tiers"] = {
        "kind": "tiered",
        "metric": "earned",
        "currency": "xp",
        "tiers": [
            {"name": "bronze", "threshold": 100},
            {"name": "silver", "threshold": 500},
            {"name": "gold", "threshold": 2000},
        ],
    }
    badges["big_order"] = {  # 2 custom predicates, one secret
        "metric": "custom",
        "predicate": "big_order",
        "actions": ["purchase"],
        "reward": {"points": 25},
    }
    badges["night_owl"] = {
        "metric": "custom",
        "predicate": "night_owl",
        "actions": ["workout", "read"],
        "secret": True,
    }
    assert len(badges) == 30, len(badges)
    program["badges"] = badges
    return program


def big_order(facts: BadgeFacts) -> bool:
    """An order of five items or more."""
    items = facts.attributes.get("items")
    return isinstance(items, int) and items >= 5


def night_owl(facts: BadgeFacts) -> bool:
    """A workout or a read logged at 23:00 or later."""
    hour = facts.attributes.get("hour")
    return isinstance(hour, int) and hour >= 23


PREDICATES = {"big_order": big_order, "night_owl": night_owl}


@dataclass(frozen=True, slots=True)
class Tracked:
    """One event of the stream: the clock's instant, then the arguments of ``track``."""

    at: datetime
    member: str
    action: str
    amount: Decimal | None
    attributes: dict[str, Any]


def stream(members: int, events: int, seed: int) -> Iterator[Tracked]:
    """A deterministic event stream over about 60 days, in time order."""
    rng = random.Random(seed)
    span = timedelta(days=60).total_seconds()
    step = span / events
    at = START
    for _ in range(events):
        at += timedelta(seconds=rng.uniform(0, 2 * step))
        member = f"m{rng.randrange(members):05d}"
        action = rng.choices(ACTIONS, WEIGHTS)[0]
        amount: Decimal | None = None
        attributes: dict[str, Any] = {}
        if action == "purchase":
            amount = Decimal(rng.randrange(500, 30000)) / 100
            attributes = {"items": rng.randrange(1, 8)}
        elif action == "review":
            attributes = {"photo": rng.random() < 0.3}
        elif action in ("workout", "read"):
            attributes = {"hour": rng.randrange(24)}
        yield Tracked(at, member, action, amount, attributes)


def make_engine(
    program: dict[str, Any], members: int, seed: int
) -> tuple[gamify.Engine, gamify.ManualClock]:
    """A fresh memory store whose members have zones and tags spread by ``seed``."""
    clock = gamify.ManualClock(START - timedelta(days=1))
    engine = gamify.Engine(
        gamify.Program.from_dict(program), store="memory://", clock=clock, predicates=PREDICATES
    )
    rng = random.Random(seed + 1)
    for i in range(members):
        engine.set_member(
            f"m{i:05d}",
            timezone=rng.choice(ZONES),
            tags=["vip"] if rng.random() < 0.1 else [],
        )
    return engine, clock


def run(
    engine: gamify.Engine, clock: gamify.ManualClock, events: list[Tracked]
) -> tuple[float, float]:
    """Track every event of the stream; return the wall and CPU seconds spent."""
    track = engine.track
    started, cpu = time.perf_counter(), time.process_time()
    for ev in events:
        clock.set(ev.at)
        track(ev.member, ev.action, amount=ev.amount, attributes=ev.attributes)
    return time.perf_counter() - started, time.process_time() - cpu


def timed(
    label: str, program: dict[str, Any], members: int, events: list[Tracked], seed: int
) -> tuple[float, gamify.Engine]:
    """One timed pass on a fresh store; prints and returns events per wall-clock second."""
    engine, clock = make_engine(program, members, seed)
    wall, cpu = run(engine, clock, events)
    rate = len(events) / wall
    # On a shared machine the CPU time of this process is the steadier figure.
    print(
        f"{label:<28} {rate:>8,.0f} events/s wall ({wall / len(events) * 1e6:.1f} us/event), "
        f"{len(events) / cpu:>8,.0f} events/s CPU ({cpu / len(events) * 1e6:.1f} us/event)",
        flush=True,
    )
    return rate, engine


def summary(engine: gamify.Engine, members: int) -> str:
    """A few totals that show the game layer did its work."""
    levels = badges = longest = 0
    for i in range(0, members, max(1, members // 500)):
        profile = engine.member(f"m{i:05d}")
        levels += profile.level
        badges += len(profile.badges)
        longest = max(longest, *(s.longest for s in profile.streaks), 0)
    sampled = len(range(0, members, max(1, members // 500)))
    return (
        f"sample of {sampled} members: mean level {levels / sampled:.1f}, "
        f"mean badges {badges / sampled:.1f}, longest streak {longest}"
    )


def peak_memory(program: dict[str, Any], members: int, events: list[Tracked], seed: int) -> int:
    """Peak traced memory (bytes) of building the engine and tracking the stream."""
    tracemalloc.start()
    try:
        engine, clock = make_engine(program, members, seed)
        run(engine, clock, events)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def profile(
    program: dict[str, Any], members: int, events: list[Tracked], seed: int, path: Path
) -> None:
    engine, clock = make_engine(program, members, seed)
    profiler = cProfile.Profile()
    profiler.enable()
    run(engine, clock, events)
    profiler.disable()
    profiler.dump_stats(str(path))
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile here")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    args = parser.parse_args(argv)

    events = list(stream(args.members, args.events, args.seed))
    game = game_program()
    print(
        f"{args.events:,} events, {args.members:,} members, {len(game['rules'])} rules, "
        f"{len(game['streaks'])} streaks, {len(game['badges'])} badges, memory store"
    )
    rate, engine = timed("game program (the figure)", game, args.members, events, args.seed)
    timed("baseline: earning only", base_program(), args.members, events, args.seed)
    print(summary(engine, args.members))
    verdict = "meets" if rate >= 20_000 else "BELOW"
    print(f"target 20,000 events/s: {verdict} ({rate:,.0f})")
    if not args.no_memory:
        peak = peak_memory(game, args.members, events, args.seed)
        print(f"peak traced memory (separate untimed pass): {peak / 2**20:.1f} MiB")
    if args.profile is not None:
        profile(game, args.members, events, args.seed, args.profile)


if __name__ == "__main__":
    main()
