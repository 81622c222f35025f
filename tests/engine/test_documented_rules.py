"""Rules the docs state about conditions, multipliers, tier badges, secret badges, expiry
reminders and badge conditions: each test fails if its rule breaks."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pendulum

from gamify import Engine, ManualClock


def test_a_missing_attribute_satisfies_not_in() -> None:
    """docs/program.md: a missing attribute satisfies only `ne` and `not_in`."""
    engine = Engine(
        {
            "timezone": "UTC",
            "actions": {"purchase": {}},
            "rules": [
                {
                    "name": "not_a_gift",
                    "action": "purchase",
                    "fixed": 10,
                    "conditions": [
                        {"attribute": "channel", "op": "not_in", "value": ["gift", "promo"]}
                    ],
                }
            ],
        }
    )
    assert [c.amount for c in engine.track("a", "purchase").credits] == [10]
    gift = engine.track("a", "purchase", attributes={"channel": "gift"})
    assert [c.amount for c in gift.credits] == []


def tiers(**extra: Any) -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "actions": {"purchase": {"amount": "required"}},
        "rules": [
            {"name": "points", "action": "purchase", "per_amount": 1},
            {"name": "xp", "action": "purchase", "per_amount": 1, "currency": "xp"},
        ],
        "tiers": {
            "metric": "amount",
            "action": "purchase",
            "window": "lifetime",
            "levels": [
                {"name": "regular"},
                {"name": "silver", "threshold": 100},
                {"name": "gold", "threshold": 500, "multiplier": 2},
            ],
        },
        **extra,
    }


def test_the_tier_multiplier_leaves_xp_rules_alone_by_default() -> None:
    """Multipliers act on the rules paying points unless they list rules (DESIGN: XP only
    when listed); the tier's multiplier too."""
    engine = Engine(tiers())
    engine.track("a", "purchase", amount=500)  # gold
    outcome = engine.track("a", "purchase", amount=10)
    assert {c.rule: c.amount for c in outcome.credits} == {"points": 20, "xp": 10}


def test_a_tier_badge_is_earned_by_a_member_who_skips_past_the_tier() -> None:
    """A `tier` badge is reached at that tier or above: one purchase from regular to gold
    earns the silver badge."""
    engine = Engine(tiers(badges={"silver_club": {"metric": "tier", "tier": "silver"}}))
    outcome = engine.track("a", "purchase", amount=600)
    assert engine.member("a").tier == "gold"
    assert [b.badge for b in outcome.badges] == ["silver_club"]


def test_a_secret_tiered_badge_shows_once_its_first_tier_is_earned() -> None:
    """A secret badge is hidden until the member earns it: for a tiered one, its first
    tier, not its last."""
    engine = Engine(
        {
            "timezone": "UTC",
            "actions": {"workout": {}, "read": {}},
            "badges": {
                "hidden": {
                    "kind": "tiered",
                    "metric": "count",
                    "action": "workout",
                    "secret": True,
                    "tiers": [
                        {"name": "bronze", "threshold": 1},
                        {"name": "silver", "threshold": 5},
                    ],
                }
            },
        }
    )
    engine.track("a", "read")
    assert [b.badge for b in engine.badges("a")] == []
    engine.track("a", "workout")
    listed = engine.badges("a")
    assert [b.badge for b in listed] == ["hidden"]
    assert (listed[0].current, listed[0].target) == (Decimal(1), Decimal(5))


def test_expiring_is_a_half_open_window() -> None:
    """`expiring(within=...)` lists lots expiring in [now, now + within): one expiring at
    the window's end is not listed, one a microsecond earlier is."""
    clock = ManualClock(pendulum.datetime(2026, 3, 10, 12))
    engine = Engine(
        {
            "timezone": "UTC",
            "actions": {"check_in": {}},
            "rules": [{"name": "daily", "action": "check_in", "fixed": 10}],
            "expiry": {"policy": "months", "months": 1},
        },
        clock=clock,
    )
    engine.track("a", "check_in")
    expires_at = pendulum.datetime(2026, 4, 10, 12)
    clock.set(expires_at - timedelta(days=7))
    assert engine.expiring("a", within=timedelta(days=7)) == []
    clock.set(expires_at - timedelta(days=7, microseconds=-1))
    assert [lot.points for lot in engine.expiring("a", within=timedelta(days=7))] == [10]


def test_a_badge_condition_reads_held_or_not() -> None:
    """A challenge's `badge` condition is met by holding the badge: its progress is 0 or 1
    of 1, however many times a repeatable badge was earned."""
    engine = Engine(
        {
            "timezone": "UTC",
            "actions": {"workout": {}, "check_in": {}},
            "badges": {
                "regular": {
                    "kind": "repeatable",
                    "metric": "count",
                    "action": "workout",
                    "threshold": 1,
                }
            },
            "challenges": {
                "c": {
                    "enrolment": "explicit",
                    "conditions": [
                        {"kind": "badge", "badge": "regular"},
                        {"kind": "count", "action": "check_in", "target": 5},
                    ],
                }
            },
        }
    )
    for _ in range(3):
        engine.track("a", "workout")
    engine.enroll("a", "c")
    badge = engine.challenge_progress("a", "c").conditions[0]
    assert (badge.kind, badge.current, badge.target) == ("badge", Decimal(1), Decimal(1))
