"""Property: every board equals a ranking computed independently from the ledger."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gamify

TZ = "America/New_York"
ZONE = ZoneInfo(TZ)
MEMBERS = ["ann", "bea", "cal", "dot", "eli"]
START = dt.datetime(2026, 3, 26, 14, 0, tzinfo=dt.UTC)  # late March: steps cross a month end
EARNED = ("earn", "reward", "reverse")

PROGRAM = gamify.Program.from_dict(
    {
        "timezone": TZ,
        "week_start": "wednesday",
        "actions": {"earn": {"amount": "required"}, "ping": {}},
        "rules": [
            {"name": "earn_points", "action": "earn", "per_amount": 1},
            {"name": "ping_points", "action": "ping", "fixed": 3},
        ],
        # A reward joins the rule credits: 5 points for the first ``earn``.
        "badges": {
            "first": {"metric": "count", "action": "earn", "threshold": 1, "reward": {"points": 5}}
        },
    }
)

step = st.tuples(
    st.sampled_from(MEMBERS),
    st.sampled_from(["earn", "earn", "ping", "reverse"]),
    st.integers(min_value=0, max_value=40),  # amount
    st.integers(min_value=0, max_value=30),  # hours the clock moves first
    st.integers(min_value=0, max_value=50),  # hours late (0: now)
)


def ranked(totals: dict[str, int]) -> list[tuple[int, str, int]]:
    """Positive totals, best first then by member id, in standard competition ranking."""
    rows = sorted(((m, s) for m, s in totals.items() if s > 0), key=lambda r: (-r[1], r[0]))
    return [(1 + sum(1 for _, o in rows if o > s), m, s) for m, s in rows]


def totals(
    entries: Iterable[tuple[str, dt.datetime, int]], keep: Callable[[dt.datetime], bool]
) -> dict[str, int]:
    out: dict[str, int] = {}
    for member, at, amount in entries:
        if keep(at):
            out[member] = out.get(member, 0) + amount
    return out


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=(day.weekday() - 2) % 7)  # weeks start on Wednesday


def check_boards(engine: gamify.Engine, clock: gamify.ManualClock, window: tuple[int, int]) -> None:
    """Every board (``all``, ``day``, ``week``, ``month`` and a custom window) equals the
    ranking of the ledger's earned entries, and ``rank`` agrees with each row.

    Every board, custom windows included, counts a reversal at the instant of the event
    it takes back (the credits' own dates), not when it was booked."""
    history = [(member, h) for member in MEMBERS for h in engine.history(member)]
    earned_at = {(m, h.key): h.at for m, h in history if h.kind == "earn"}
    ledger = [
        (member, earned_at[member, h.key] if h.kind == "reverse" else h.at, h.amount)
        for member, h in history
        if h.account == "points" and h.kind in EARNED
    ]
    today = clock.now().astimezone(ZONE).date()

    def local(at: dt.datetime) -> dt.date:
        return at.astimezone(ZONE).date()

    start = START + dt.timedelta(hours=window[0])
    end = start + dt.timedelta(hours=window[1])
    expected = {
        "all": ranked(totals(ledger, lambda at: True)),
        "day": ranked(totals(ledger, lambda at: local(at) == today)),
        "week": ranked(totals(ledger, lambda at: week_start(local(at)) == week_start(today))),
        "month": ranked(
            totals(
                ledger, lambda at: (local(at).year, local(at).month) == (today.year, today.month)
            )
        ),
        "window": ranked(totals(ledger, lambda at: start <= at < end)),
    }
    periods: dict[str, str | tuple[dt.datetime, dt.datetime]] = {
        "all": "all",
        "day": "day",
        "week": "week",
        "month": "month",
        "window": (start, end),
    }
    for name, period in periods.items():
        board = engine.leaderboard(period=period, limit=1000)
        assert [(r.rank, r.member_id, r.score) for r in board] == expected[name], name
        for limit in (1, 2, 3):
            top = engine.leaderboard(period=period, limit=limit)
            assert [(r.rank, r.member_id, r.score) for r in top] == expected[name][:limit]
        rows = {m: (rank, m, score) for rank, m, score in expected[name]}
        for member in MEMBERS:
            mine = engine.rank(member, period=period)
            got = None if mine is None else (mine.rank, mine.member_id, mine.score)
            assert got == rows.get(member), (name, member)


def run_steps(
    engine: gamify.Engine,
    clock: gamify.ManualClock,
    steps: list[tuple[str, str, int, int, int]],
    after_each: Callable[[], None] = lambda: None,
) -> list[tuple[str, dt.datetime, int]]:
    """Track (or reverse) each step; return what the outcomes credited."""
    keys: dict[str, list[str]] = {m: [] for m in MEMBERS}
    credited: list[tuple[str, dt.datetime, int]] = []
    for i, (member, action, amount, advance, late) in enumerate(steps):
        clock.advance(dt.timedelta(hours=advance))
        if action == "reverse":
            if keys[member]:
                key = keys[member].pop(0)
                reversal = engine.reverse(member, key)
                credited += [(member, reversal.at, c.amount) for c in reversal.credits]
        else:
            key = f"k{i}"
            outcome = engine.track(
                member,
                action,
                amount=amount if action == "earn" else None,
                at=clock.now() - dt.timedelta(hours=late),
                key=key,
            )
            keys[member].append(key)
            credited += [(member, outcome.at, c.amount) for c in outcome.credits]
        after_each()
    return credited


PROPERTY = settings(
    deadline=None,
    max_examples=60,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)
windows = st.tuples(st.integers(0, 400), st.integers(1, 400))


@PROPERTY
@given(steps=st.lists(step, min_size=1, max_size=30), window=windows)
def test_boards_equal_an_independent_ranking_of_the_ledger(
    steps: list[tuple[str, str, int, int, int]], window: tuple[int, int]
) -> None:
    """For random earnings, rewards, late events and reversals across members, every board
    equals the ranking of the ledger's earned entries."""
    clock = gamify.ManualClock(START)
    engine = gamify.Engine(PROGRAM, store="memory://", clock=clock)
    credited = run_steps(engine, clock, steps)
    ledger = [
        (member, h.at, h.amount)
        for member in MEMBERS
        for h in engine.history(member)
        if h.account == "points" and h.kind in EARNED
    ]
    assert sorted(ledger) == sorted((m, at, a) for m, at, a in credited if a)
    check_boards(engine, clock, window)


@PROPERTY
@given(steps=st.lists(step, min_size=1, max_size=20), window=windows)
def test_boards_read_between_events_stay_equal_to_the_ledger(
    steps: list[tuple[str, str, int, int, int]], window: tuple[int, int]
) -> None:
    """Boards read after every event (the memory store then keeps them sorted as scores
    move, periods roll over and members drop out) still equal the ledger's ranking."""
    clock = gamify.ManualClock(START)
    engine = gamify.Engine(PROGRAM, store="memory://", clock=clock)
    run_steps(engine, clock, steps, after_each=lambda: check_boards(engine, clock, window))
