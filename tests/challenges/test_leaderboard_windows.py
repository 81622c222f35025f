"""Custom windows read the ledger and must agree with the kept period totals."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum

import gamify
from gamify.testing.plugin import EngineFactory

UTC = dt.UTC
MONDAY = pendulum.datetime(2026, 3, 9, tz="UTC")
NEXT_MONDAY = pendulum.datetime(2026, 3, 16, tz="UTC")
WEEK = (MONDAY, NEXT_MONDAY)


def program(**extra: Any) -> dict[str, Any]:
    """``earn`` pays its amount at once; ``order`` pays it pending for 3 days."""
    return {
        "timezone": "UTC",
        "actions": {"earn": {"amount": "required"}, "order": {"amount": "required"}},
        "rules": [
            {"name": "earn_points", "action": "earn", "per_amount": 1},
            {"name": "order_points", "action": "order", "per_amount": 1, "pending_days": 3},
        ],
        **extra,
    }


def board(engine: gamify.Engine, period: Any) -> list[tuple[int, str, int]]:
    return [(r.rank, r.member_id, r.score) for r in engine.leaderboard(period=period)]


def test_window_of_the_current_week_equals_the_week_board(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Earnings, a reversal and a late event give the same board as a window and as ``week``."""
    engine = gamify_engine(program())
    gamify_clock.set(dt.datetime(2026, 3, 12, 12, 0, tzinfo=UTC))  # Thursday
    engine.track("a", "earn", amount=30, key="a1")
    engine.track("b", "earn", amount=45, key="b1")
    engine.track("c", "earn", amount=20, at=dt.datetime(2026, 3, 9, 0, 0, tzinfo=UTC))
    engine.track("d", "earn", amount=70, at=dt.datetime(2026, 3, 8, 23, 59, tzinfo=UTC))
    engine.track("a", "earn", amount=25, key="a2")
    engine.reverse("b", "b1")
    expected = [(1, "a", 55), (2, "c", 20)]
    assert board(engine, "week") == expected
    assert board(engine, WEEK) == expected


def test_reversing_last_weeks_event_changes_last_weeks_window_only(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """An event of last week reversed this week comes off last week's window, as it does
    off the week boards, and takes nothing from this week's window or board."""
    engine = gamify_engine(program())
    last_week = (MONDAY - dt.timedelta(days=7), MONDAY)
    gamify_clock.set(dt.datetime(2026, 3, 4, 12, 0, tzinfo=UTC))  # last week's Wednesday
    engine.track("a", "earn", amount=40, key="a1")
    engine.track("b", "earn", amount=30, key="b1")
    gamify_clock.set(dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC))  # this week
    engine.track("a", "earn", amount=25, key="a2")
    engine.track("b", "earn", amount=20, key="b2")
    assert board(engine, last_week) == [(1, "a", 40), (2, "b", 30)]
    engine.reverse("a", "a1")
    assert board(engine, last_week) == [(1, "b", 30)]
    assert board(engine, WEEK) == [(1, "a", 25), (2, "b", 20)]
    assert board(engine, "week") == board(engine, WEEK)
    assert board(engine, (last_week[0], NEXT_MONDAY)) == [(1, "b", 50), (2, "a", 25)]
    assert engine.rank("a", period=WEEK) is not None
    assert engine.rank("a", period=last_week) is None


def test_pending_credits_count_in_custom_windows_as_in_period_boards(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A pending credit of 50 counts 50 in the week board and in a window over the same week."""
    engine = gamify_engine(program())
    gamify_clock.set(dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    engine.track("a", "order", amount=50)
    engine.track("b", "earn", amount=10)
    assert board(engine, "week") == [(1, "a", 50), (2, "b", 10)]
    assert board(engine, WEEK) == [(1, "a", 50), (2, "b", 10)]


def test_reversal_with_debt_nets_out_the_whole_credit_in_custom_windows(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Earn 10 + 10, spend 15, reverse the first 10: both boards show 10 (5 is booked as debt)."""
    engine = gamify_engine(program())
    gamify_clock.set(dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    engine.track("c", "earn", amount=10, key="c1")
    engine.track("c", "earn", amount=10, key="c2")
    engine.redeem("c", 15)
    engine.reverse("c", "c1")
    assert engine.member("c").debt == {"points": 5}
    assert board(engine, "week") == [(1, "c", 10)]
    assert board(engine, WEEK) == [(1, "c", 10)]


def test_reversal_after_expiry_nets_out_the_whole_credit_in_custom_windows(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Earn 100 in March, spend 30, let the other 70 expire at the month's end, then reverse
    the event: no board shows it, the balance stays 0 and the ledger still adds up."""
    engine = gamify_engine(program(expiry={"policy": "months_end", "months": 0}))
    gamify_clock.set(dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    engine.track("a", "earn", amount=100, key="k1")
    engine.redeem("a", 30)
    gamify_clock.set(dt.datetime(2026, 4, 2, 12, 0, tzinfo=UTC))
    engine.run_due()
    assert engine.balance("a") == 0
    engine.reverse("a", "k1")
    march = (dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 5, 1, tzinfo=UTC))
    assert board(engine, march) == []
    assert board(engine, "all") == []
    assert engine.balance("a") == 0
    assert engine.member("a").debt == {"points": 30}
    entries = engine.store.history("a")
    assert engine.balance("a") == sum(e.amount for e in entries if e.account == "points")
    expired = sum(e.amount for e in entries if e.kind == "expire")
    reversed_ = sum(e.amount for e in entries if e.kind == "reverse")
    assert (expired, reversed_) == (0, -100)  # reversed in full, expired no more


def test_window_with_a_tier_filter(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A tier filter on a custom window keeps the members now in that tier."""
    engine = gamify_engine(
        program(
            tiers={
                "metric": "amount",
                "action": "earn",
                "window": "lifetime",
                "levels": [{"name": "base"}, {"name": "gold", "threshold": 100}],
            }
        )
    )
    gamify_clock.set(dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    engine.track("a", "earn", amount=40)
    engine.track("b", "earn", amount=120)
    engine.track("c", "earn", amount=60)
    assert board(engine, WEEK) == [(1, "b", 120), (2, "c", 60), (3, "a", 40)]
    gold = engine.leaderboard(period=WEEK, tier="gold")
    assert [(r.rank, r.member_id, r.score) for r in gold] == [(1, "b", 120)]
    base = engine.leaderboard(period=WEEK, tier="base")
    assert [(r.rank, r.member_id, r.score) for r in base] == [(1, "c", 60), (2, "a", 40)]
    assert engine.rank("a", period=WEEK, tier="base") == base[1]
    assert engine.rank("a", period=WEEK, tier="gold") is None
