"""What a reversal keeps: cap room, badges, streak periods and level rewards.

``reverse`` takes back exactly the credits the event wrote, its XP and its
tier-qualifying amount; it revokes no badge, level reward, streak period, referral
reward or challenge completion, and frees no cap room.
Levels follow XP, so a reversal that takes XP back may lower the level (reported as
``level_down``), but each level's reward is paid at most once per member, ever.

Times are Asia/Shanghai wall-clock times; those before 08:00 fall on the previous
UTC date, so a UTC-day bookkeeping would split what is one local day.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pendulum
import pytest

from gamify import BadgeAwarded, CapHit, Engine, ManualClock

EngineFactory = Callable[..., Engine]


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> pendulum.DateTime:
    """A wall-clock time in Asia/Shanghai."""
    return pendulum.datetime(year, month, day, hour, minute, tz="Asia/Shanghai")


def check_ins(**extra: Any) -> dict[str, Any]:
    """A check-in pays 10 points."""
    return {
        "timezone": "Asia/Shanghai",
        "actions": {"check_in": {"amount": "none"}},
        "rules": [{"name": "daily", "action": "check_in", "fixed": 10}],
        **extra,
    }


@pytest.fixture
def clock() -> ManualClock:
    """10 March 2026 07:00 in Shanghai, which is 9 March 23:00 UTC."""
    return ManualClock(sh(2026, 3, 10, 7))


def test_a_reversal_frees_no_cap_room(gamify_engine: EngineFactory, clock: ManualClock) -> None:
    """Daily cap 15, check-in 10: after ``a`` (10) is reversed, a check-in later the same local
    day (10 March 09:00, already 10 March in UTC) pays 5 with 5 capped, then one pays 0; the
    next local day pays 10 again."""
    engine = gamify_engine(
        check_ins(caps=[{"name": "day_15", "limit": 15, "period": "day"}]), clock=clock
    )
    assert engine.track("amy", "check_in", key="a").total() == 10
    reversal = engine.reverse("amy", "a")
    assert [(c.currency, c.amount) for c in reversal.credits] == [("points", -10)]
    assert engine.balance("amy") == 0

    clock.set(sh(2026, 3, 10, 9))
    second = engine.track("amy", "check_in", key="b")
    assert [(c.rule, c.amount, c.capped) for c in second.credits] == [("daily", 5, 5)]
    assert second.caps == [CapHit(cap="day_15", rule="daily", cut=5)]
    third = engine.track("amy", "check_in", key="c")
    assert third.total() == 0
    assert [(c.amount, c.capped) for c in third.credits] == [(0, 10)]
    assert engine.balance("amy") == 5

    clock.set(sh(2026, 3, 11, 7))
    assert engine.track("amy", "check_in", key="d").total() == 10
    assert engine.balance("amy") == 15


def test_a_reversal_revokes_no_badge(gamify_engine: EngineFactory, clock: ManualClock) -> None:
    """The first check-in earns "first_check_in" (1 check-in) and "earner" (10 points earned);
    reversing it takes the 10 points back (earned is net of reversals) but both badges stay
    held, and the next check-in, which earns 10 again, awards neither a second time."""
    badges = {
        "first_check_in": {"metric": "count", "action": "check_in", "threshold": 1},
        "earner": {"metric": "earned", "currency": "points", "threshold": 10},
    }
    engine = gamify_engine(check_ins(badges=badges), clock=clock)
    first = engine.track("amy", "check_in", key="a")
    assert sorted(b.badge for b in first.badges) == ["earner", "first_check_in"]

    engine.reverse("amy", "a")
    assert engine.balance("amy") == 0
    held = [BadgeAwarded(badge="earner"), BadgeAwarded(badge="first_check_in")]
    assert engine.member("amy").badges == held
    assert [(p.badge, p.held, p.complete) for p in engine.badges("amy")] == [
        ("first_check_in", 1, True),
        ("earner", 1, True),
    ]

    clock.set(sh(2026, 3, 11, 7))
    assert engine.track("amy", "check_in", key="b").badges == []
    assert engine.member("amy").badges == held
    assert engine.balance("amy") == 10


def test_a_reversal_keeps_the_streak_period_it_counted(
    gamify_engine: EngineFactory, clock: ManualClock
) -> None:
    """Check-ins on 10 and 11 March make a 2-day streak; reversing the 11 March one leaves it at
    2 (longest 2, no broken run), and a check-in on 12 March extends it to 3."""
    engine = gamify_engine(check_ins(streaks={"daily": {"actions": ["check_in"]}}), clock=clock)
    engine.track("amy", "check_in", key="d1")
    clock.set(sh(2026, 3, 11, 7))
    assert [s.length for s in engine.track("amy", "check_in", key="d2").streaks] == [2]

    clock.set(sh(2026, 3, 11, 7, 30))
    engine.reverse("amy", "d2")
    assert [(s.name, s.length, s.longest) for s in engine.member("amy").streaks] == [
        ("daily", 2, 2)
    ]
    assert engine.streak_history("amy", "daily") == []

    clock.set(sh(2026, 3, 12, 7))
    [streak] = engine.track("amy", "check_in", key="d3").streaks
    assert (streak.length, streak.longest, streak.extended, streak.broken) == (3, 3, True, False)
    assert [(s.length, s.longest) for s in engine.member("amy").streaks] == [(3, 3)]


def test_a_reversal_keeps_the_level_rewards_but_lowers_the_level(
    gamify_engine: EngineFactory, clock: ManualClock
) -> None:
    """A purchase of 250 pays 250 XP: levels 2 and 3 (every 100 XP), paying 50 * level points
    (100 + 150). Reversing it takes the 250 XP back and lowers the level to 1 (reported as
    ``level_down``), but the 250 reward points stay, with no negative ledger entry. Buying 250
    again crosses levels 2 and 3 once more without paying their rewards a second time."""
    program = {
        "timezone": "Asia/Shanghai",
        "actions": {"purchase": {"amount": "required"}},
        "rules": [{"name": "purchase_xp", "action": "purchase", "per_amount": 1, "currency": "xp"}],
        "levels": {"curve": "linear", "params": {"step": 100}, "reward": {"points": "50 * level"}},
    }
    engine = gamify_engine(program, clock=clock)
    outcome = engine.track("amy", "purchase", amount=250, key="o1")
    assert [(u.level, u.reward) for u in outcome.level_ups] == [(2, 100), (3, 150)]
    assert engine.balance("amy") == 250

    reversal = engine.reverse("amy", "o1")
    assert [(c.currency, c.amount) for c in reversal.credits] == [("xp", -250)]
    assert (reversal.level_down, reversal.debt) == (1, 0)
    profile = engine.member("amy")
    assert (profile.level, profile.xp, profile.balances["points"]) == (1, 0, 250)
    points = sorted(
        (e.amount, e.kind, e.reason) for e in engine.history("amy") if e.account == "points"
    )
    assert points == [(100, "reward", "level 2"), (150, "reward", "level 3")]
    assert all(e.amount > 0 for e in engine.history("amy") if e.account.startswith("points"))

    clock.set(sh(2026, 3, 11, 7))
    again = engine.track("amy", "purchase", amount=250, key="o2")
    assert [(u.level, u.reward) for u in again.level_ups] == [(2, 0), (3, 0)]
    profile = engine.member("amy")
    assert (profile.level, profile.xp, profile.balances["points"]) == (3, 250, 250)
