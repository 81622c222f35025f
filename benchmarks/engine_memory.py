"""Benchmark: earning on the memory store (rules, a campaign, caps, idempotency keys).

    python benchmarks/engine_memory.py [--members N] [--events N] [--seed S]
                                       [--no-memory] [--profile]

A shop-and-app program with 6 actions (proportional and fixed rules, one
conditional), a double-points campaign, a VIP tag multiplier and daily caps
(per action and overall), driven by 200,000 events over 10,000 members in five
time zones. The whole stream is generated from ``random.Random(seed)`` before
any timing: members, actions, amounts, attributes, an idempotency key on every
event (about 1 % are client retries of an earlier key), and the instants of a
:class:`gamify.ManualClock` that only moves forward through about 30 days.

Printed, in this order:

1. events per second of ``Engine.track`` over the whole stream (target: at
   least 20,000 on one core), with the microseconds per event;
2. peak traced memory of a second, separate pass under ``tracemalloc``, which
   slows Python code severalfold, so that pass is never timed;
3. with ``--profile``, the top costs of a third pass under cProfile.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import gamify

TARGET = 20_000
START = datetime(2026, 4, 1, 5, 0, tzinfo=UTC)
DAYS = 30
ZONES = ("Europe/Paris", "Asia/Shanghai", "America/New_York", "America/Los_Angeles", "UTC")
ACTIONS = ("purchase", "check_in", "review", "share", "refer", "scan_receipt")
WEIGHTS = (25, 35, 8, 15, 2, 15)

PROGRAM: dict[str, Any] = {
    "name": "benchmark shop",
    "timezone": "Europe/Paris",
    "actions": {
        "purchase": {"amount": "required"},
        "check_in": {"amount": "none"},
        "review": {"amount": "none"},
        "share": {"amount": "none"},
        "refer": {"amount": "none"},
        "scan_receipt": {"amount": "required"},
    },
    "rules": [
        {"name": "purchase_points", "action": "purchase", "per_amount": 1},
        {"name": "purchase_xp", "action": "purchase", "currency": "xp", "per_amount": "0.1"},
        {"name": "app_order", "action": "purchase", "fixed": 15, "conditions": {"channel": "app"}},
        {"name": "check_in", "action": "check_in", "fixed": 5},
        {
            "name": "photo_review",
            "action": "review",
            "fixed": 50,
            "conditions": [{"attribute": "photo", "op": "eq", "value": True}],
        },
        {
            "name": "text_review",
            "action": "review",
            "fixed": 20,
            "conditions": [{"attribute": "photo", "op": "ne", "value": True}],
        },
        {"name": "share", "action": "share", "fixed": 10},
        {"name": "referral", "action": "refer", "fixed": 300},
        {"name": "receipt", "action": "scan_receipt", "per_amount": "0.5"},
    ],
    "multipliers": [
        {
            "name": "double_week",
            "kind": "campaign",
            "factor": 2,
            "start": "2026-04-10T00:00:00+02:00",
            "end": "2026-04-17T00:00:00+02:00",
        },
        {"name": "vip", "kind": "tag", "tag": "vip", "factor": "1.5"},
    ],
    "caps": [
        {"name": "per_order", "limit": 2000, "period": "event", "action": "purchase"},
        {"name": "check_in_day", "limit": 5, "period": "day", "action": "check_in"},
        {"name": "share_day", "limit": 30, "period": "day", "action": "share"},
        {"name": "receipt_day", "limit": 100, "period": "day", "action": "scan_receipt"},
        {"name": "points_day", "limit": 3000, "period": "day"},
    ],
}


@dataclass(frozen=True, slots=True)
class Tracked:
    """One event of the stream: the clock's instant, then the arguments of ``track``."""

    at: datetime
    member: str
    action: str
    amount: Decimal | None
    key: str
    attributes: dict[str, Any]


def stream(members: int, events: int, seed: int) -> list[Tracked]:
    """The whole event stream, in time order, generated once before any timing."""
    rng = random.Random(seed)
    step = timedelta(days=DAYS).total_seconds() / events
    at = START
    out: list[Tracked] = []
    for n in range(events):
        at += timedelta(seconds=rng.uniform(0, 2 * step))
        if out and rng.random() < 0.01:  # a client retry: an earlier event, sent again
            earlier = out[rng.randrange(max(0, len(out) - 500), len(out))]
            out.append(
                Tracked(
                    at,
                    earlier.member,
                    earlier.action,
                    earlier.amount,
                    earlier.key,
                    earlier.attributes,
                )
            )
            continue
        member = f"m{rng.randrange(members):05d}"
        action = rng.choices(ACTIONS, WEIGHTS)[0]
        amount: Decimal | None = None
        attributes: dict[str, Any] = {}
        if action == "purchase":
            amount = Decimal(rng.randrange(300, 25_000)) / 100
            attributes = {"channel": rng.choice(("app", "web", "store"))}
        elif action == "scan_receipt":
            amount = Decimal(rng.randrange(100, 8_000)) / 100
        elif action == "review":
            attributes = {"photo": rng.random() < 0.3}
        out.append(Tracked(at, member, action, amount, f"e{n}", attributes))
    return out


def make_engine(members: int, seed: int) -> tuple[gamify.Engine, gamify.ManualClock]:
    """A fresh memory store with every member registered (zones and VIP tags from ``seed``)."""
    clock = gamify.ManualClock(START - timedelta(hours=1))
    engine = gamify.Engine(gamify.Program.from_dict(PROGRAM), store="memory://", clock=clock)
    rng = random.Random(seed + 1)
    for i in range(members):
        engine.set_member(
            f"m{i:05d}", timezone=rng.choice(ZONES), tags=["vip"] if rng.random() < 0.1 else []
        )
    return engine, clock


def run(
    engine: gamify.Engine, clock: gamify.ManualClock, events: list[Tracked]
) -> tuple[float, float]:
    """Track the stream; return the wall-clock and the CPU seconds of the loop."""
    track, set_clock = engine.track, clock.set
    wall, cpu = time.perf_counter(), time.process_time()
    for ev in events:
        set_clock(ev.at)
        track(ev.member, ev.action, amount=ev.amount, key=ev.key, attributes=ev.attributes)
    return time.perf_counter() - wall, time.process_time() - cpu


def check(engine: gamify.Engine, members: int) -> str:
    """A few totals showing the program did its work (and the ledger adds up)."""
    points = 0
    for i in range(0, members, 50):
        member = f"m{i:05d}"
        balance = engine.balance(member)
        ledger = sum(e.amount for e in engine.store.history(member) if e.account == "points")
        assert balance == ledger, (member, balance, ledger)
        points += balance
    sampled = len(range(0, members, 50))
    return f"sample of {sampled} members: mean balance {points / sampled:,.0f} points"


def peak_memory(members: int, events: list[Tracked], seed: int) -> int:
    """Peak traced memory (bytes) of building the engine and tracking the stream."""
    tracemalloc.start()
    try:
        engine, clock = make_engine(members, seed)
        run(engine, clock, events)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def profile(members: int, events: list[Tracked], seed: int) -> None:
    engine, clock = make_engine(members, seed)
    profiler = cProfile.Profile()
    profiler.enable()
    run(engine, clock, events)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(35)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument("--profile", action="store_true", help="add a cProfile pass")
    args = parser.parse_args(argv)

    events = stream(args.members, args.events, args.seed)
    print(
        f"{len(events):,} events over {DAYS} days, {args.members:,} members, "
        f"{len(PROGRAM['actions'])} actions, {len(PROGRAM['rules'])} rules, "
        f"{len(PROGRAM['caps'])} caps, memory store"
    )
    engine, clock = make_engine(args.members, args.seed)
    seconds, cpu = run(engine, clock, events)
    rate = len(events) / seconds
    print(
        f"track: {rate:,.0f} events/s ({seconds:.2f} s wall, "
        f"{seconds / len(events) * 1e6:.1f} us per event)",
        flush=True,
    )
    # On a shared machine the wall clock includes time other processes held the
    # core; the CPU time of this process is the steadier figure.
    print(f"       {len(events) / cpu:,.0f} events/s of this process's CPU time ({cpu:.2f} s)")
    print(f"target {TARGET:,} events/s: {'met' if rate >= TARGET else 'NOT met'}")
    print(check(engine, args.members))
    del engine
    if not args.no_memory:
        peak = peak_memory(args.members, events, args.seed)
        print(f"peak traced memory (separate, untimed pass): {peak / 2**20:,.1f} MiB")
    if args.profile:
        profile(args.members, events, args.seed)


if __name__ == "__main__":
    main()
