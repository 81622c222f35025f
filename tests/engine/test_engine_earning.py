"""Earning through the engine: rules, multipliers in the member's zone, caps after multipliers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pendulum
import pytest

from gamify import Engine, FormulaError, ManualClock

EngineFactory = Callable[..., Engine]

SHOP: dict[str, Any] = {
    "timezone": "UTC",
    "actions": {
        "purchase": {"amount": "required"},
        "check_in": {"amount": "none"},
        "recycle": {"amount": "none"},
    },
    "rules": [
        {"name": "spend", "action": "purchase", "per_amount": 1},
        {"name": "app_bonus", "action": "purchase", "fixed": 20, "conditions": {"channel": "app"}},
        {"name": "daily", "action": "check_in", "fixed": 5},
        {
            "name": "bottles",
            "action": "recycle",
            "fixed": 100,
            "per": {"attribute": "bottles", "size": 5},
        },
    ],
}


def shop(**extra: Any) -> dict[str, Any]:
    return {**SHOP, **extra}


def utc(*args: int) -> datetime:
    return pendulum.datetime(*args, tz="UTC")


@pytest.fixture
def engine(gamify_engine: EngineFactory) -> Engine:
    return gamify_engine(shop())


def test_fixed_rule_credits_its_points(engine: Engine) -> None:
    """A check-in pays the fixed 5 points into the member's balance."""
    outcome = engine.track("alice", "check_in")
    assert [(c.rule, c.amount, c.currency) for c in outcome.credits] == [("daily", 5, "points")]
    assert engine.balance("alice", "points") == 5


def test_proportional_rule_credits_amount_times_rate(engine: Engine) -> None:
    """A purchase of 42.90 at 1 point per unit credits 42 points (rounded down)."""
    outcome = engine.track("alice", "purchase", amount="42.90")
    assert outcome.total("points") == 42
    assert engine.balance("alice") == 42


def test_condition_on_an_attribute_adds_its_rule(engine: Engine) -> None:
    """A purchase made in the app also pays the 20-point app bonus; one on the web does not."""
    app = engine.track("alice", "purchase", amount=10, attributes={"channel": "app"})
    web = engine.track("alice", "purchase", amount=10, attributes={"channel": "web"})
    assert {c.rule: c.amount for c in app.credits} == {"spend": 10, "app_bonus": 20}
    assert {c.rule: c.amount for c in web.credits} == {"spend": 10}
    assert engine.balance("alice") == 40


@pytest.mark.parametrize(("bottles", "points"), [(4, 0), (5, 100), (7, 100), (10, 200)])
def test_per_group_rule_pays_per_whole_group(engine: Engine, bottles: int, points: int) -> None:
    """'100 per 5 bottles': 7 bottles pay 100, 10 pay 200, 4 pay nothing."""
    engine.track("alice", "recycle", attributes={"bottles": bottles})
    assert engine.balance("alice") == points


def test_float_amounts_go_through_their_text(gamify_engine: EngineFactory) -> None:
    """A float 268.28 at 100 points per unit pays 26828, not the 26827 a binary float would give."""
    engine = gamify_engine(shop(rules=[{"name": "spend", "action": "purchase", "per_amount": 100}]))
    outcome = engine.track("alice", "purchase", amount=268.28)
    assert outcome.amount == Decimal("268.28")
    assert outcome.total() == 26828
    assert engine.balance("alice") == 26828


def test_every_cent_at_one_and_a_half_matches_the_exact_reference(
    gamify_engine: EngineFactory,
) -> None:
    """Through the engine (float and text amounts alike), c cents at ×1.5 pay exactly 3c // 200
    points."""
    prog = shop(multipliers=[{"name": "vip", "kind": "tag", "tag": "vip", "factor": "1.5"}])
    engine = gamify_engine(prog)
    # Every cent from 0.01 to 1,000.00 is checked on the pure function in
    # tests/components; here a spread of 1,000 of them, plus the edges, go
    # through the whole engine, half as floats and half as text.
    cents_list = sorted({1, 2, 3, 99, 100, 101, 100_000, *range(7, 100_001, 101)})
    for i, cents in enumerate(cents_list):
        member = f"m{i}"
        engine.set_member(member, tags=["vip"])
        amount: float | str = cents / 100 if i % 2 else f"{cents // 100}.{cents % 100:02d}"
        outcome = engine.track(member, "purchase", amount=amount)
        assert outcome.total() == 3 * cents // 200, (amount, outcome)
        assert engine.balance(member) == 3 * cents // 200


def test_rounding_mode_of_the_program_applies(gamify_engine: EngineFactory) -> None:
    """With half_even rounding, 10.5 points round to 10 and 11.5 to 12."""
    engine = gamify_engine(shop(rounding="half_even"))
    assert engine.track("a", "purchase", amount="10.5").total() == 10
    assert engine.track("b", "purchase", amount="11.5").total() == 12


def test_rounding_up_mode(gamify_engine: EngineFactory) -> None:
    """With rounding 'up', 10.01 points round to 11."""
    engine = gamify_engine(shop(rounding="up"))
    assert engine.track("a", "purchase", amount="10.01").total() == 11


def test_an_amount_below_one_point_credits_nothing(engine: Engine) -> None:
    """A purchase of 0.99 rounds down to 0 points and writes no ledger entry."""
    outcome = engine.track("alice", "purchase", amount="0.99")
    assert outcome.total() == 0
    assert engine.history("alice") == []


# --------------------------------------------------------------------------- multipliers


def test_tag_multiplier_follows_set_member_tags(gamify_engine: EngineFactory) -> None:
    """A member tagged 'vip' earns ×1.5; after the tag is removed, ×1 again."""
    engine = gamify_engine(
        shop(multipliers=[{"name": "vip", "kind": "tag", "tag": "vip", "factor": "1.5"}])
    )
    engine.set_member("alice", tags=["vip"])
    assert engine.track("alice", "purchase", amount=100).total() == 150
    engine.set_member("alice", tags=[])
    assert engine.track("alice", "purchase", amount=100).total() == 100


CAMPAIGN_START = utc(2026, 11, 27, 0, 0)
CAMPAIGN_END = utc(2026, 11, 30, 0, 0)
# Double points on every rule from CAMPAIGN_START to CAMPAIGN_END.
DOUBLE = {
    "name": "double",
    "kind": "campaign",
    "factor": 2,
    "start": CAMPAIGN_START.isoformat(),
    "end": CAMPAIGN_END.isoformat(),
}


@pytest.mark.parametrize(
    ("at", "points"),
    [
        (CAMPAIGN_START - timedelta(microseconds=1), 100),
        (CAMPAIGN_START, 200),
        (CAMPAIGN_END - timedelta(microseconds=1), 200),
        (CAMPAIGN_END, 100),
    ],
)
def test_campaign_boundaries_are_half_open(
    gamify_engine: EngineFactory, gamify_clock: ManualClock, at: datetime, points: int
) -> None:
    """Double points are on at the campaign's exact start instant and off at its exact end
    instant."""
    engine = gamify_engine(shop(multipliers=[DOUBLE]))
    gamify_clock.set(at)
    assert engine.track("alice", "purchase", amount=100).total() == points


def test_campaign_boundary_given_in_a_local_zone(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """A campaign starting at 00:00 Shanghai time starts at 16:00 UTC the day before."""
    engine = gamify_engine(
        shop(
            multipliers=[
                {
                    "name": "double",
                    "kind": "campaign",
                    "factor": 2,
                    "start": "2026-11-27T00:00:00+08:00",
                    "end": "2026-11-30T00:00:00+08:00",
                }
            ]
        )
    )
    gamify_clock.set(utc(2026, 11, 26, 15, 59, 59))
    assert engine.track("a", "purchase", amount=100).total() == 100
    gamify_clock.set(utc(2026, 11, 26, 16, 0, 0))
    assert engine.track("b", "purchase", amount=100).total() == 200


BIRTHDAY = [{"name": "birthday", "kind": "birthday_month", "factor": 2}]


def test_birthday_month_is_read_in_the_member_zone(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """At 2026-02-28 17:00 UTC it is already 1 March in Shanghai: a March birthday doubles there
    only."""
    engine = gamify_engine(shop(multipliers=BIRTHDAY))
    engine.set_member("shanghai", timezone="Asia/Shanghai", birthday=date(1990, 3, 14))
    engine.set_member("london", timezone="Europe/London", birthday=date(1990, 3, 14))
    gamify_clock.set(utc(2026, 2, 28, 17, 0))
    assert engine.track("shanghai", "purchase", amount=100).total() == 200
    assert engine.track("london", "purchase", amount=100).total() == 100


def test_birthday_month_ends_at_local_midnight(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """At 2026-03-31 16:30 UTC it is 1 April in Shanghai: the March birthday bonus is over there."""
    engine = gamify_engine(shop(multipliers=BIRTHDAY))
    engine.set_member("shanghai", timezone="Asia/Shanghai", birthday=date(1990, 3, 14))
    engine.set_member("utc", birthday=date(1990, 3, 14))
    gamify_clock.set(utc(2026, 3, 31, 16, 30))
    assert engine.track("shanghai", "purchase", amount=100).total() == 100
    assert engine.track("utc", "purchase", amount=100).total() == 200


def test_birthday_month_needs_a_birthday(gamify_engine: EngineFactory) -> None:
    """A member without a birthday never gets the birthday multiplier."""
    engine = gamify_engine(shop(multipliers=BIRTHDAY))
    assert engine.track("nobody", "purchase", amount=100).total() == 100


@pytest.mark.parametrize(
    ("stacking", "points"), [("compound", 240), ("additive", 220), ("highest", 200)]
)
def test_stacking_of_a_tag_and_a_campaign(
    gamify_engine: EngineFactory, gamify_clock: ManualClock, stacking: str, points: int
) -> None:
    """VIP ×1.2 during double points on 100: compound 240, additive 220 (1 + 0.2 + 1.0), highest
    200."""
    engine = gamify_engine(
        shop(
            stacking=stacking,
            multipliers=[
                {"name": "vip", "kind": "tag", "tag": "vip", "factor": "1.2"},
                DOUBLE,
            ],
        )
    )
    gamify_clock.set(CAMPAIGN_START)
    engine.set_member("alice", tags=["vip"])
    outcome = engine.track("alice", "purchase", amount=100)
    assert outcome.total() == points
    assert (
        outcome.credits[0].multiplier
        == {"compound": Decimal("2.4"), "additive": Decimal("2.2"), "highest": Decimal(2)}[stacking]
    )


def test_cap_applies_after_the_multiplier(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """100 points doubled to 200 under a 150 per-event cap credit 150 and report 50 cut, not 200."""
    engine = gamify_engine(
        shop(
            multipliers=[DOUBLE],
            caps=[{"name": "per_purchase", "limit": 150, "period": "event", "action": "purchase"}],
        )
    )
    gamify_clock.set(CAMPAIGN_START + timedelta(hours=1))
    outcome = engine.track("alice", "purchase", amount=100)
    assert [(c.rule, c.amount, c.capped, c.multiplier) for c in outcome.credits] == [
        ("spend", 150, 50, Decimal(2))
    ]
    assert [(h.cap, h.rule, h.cut) for h in outcome.caps] == [("per_purchase", "spend", 50)]
    assert engine.balance("alice") == 150


def test_credits_record_their_ledger_reason(engine: Engine) -> None:
    """Each credit is one ledger entry naming its rule, action and key."""
    engine.track("alice", "purchase", amount=30, key="order-1", attributes={"channel": "app"})
    rows = engine.history("alice")
    assert sorted((h.account, h.amount, h.kind, h.reason, h.action, h.key) for h in rows) == [
        ("points", 20, "earn", "app_bonus", "purchase", "order-1"),
        ("points", 30, "earn", "spend", "purchase", "order-1"),
    ]


def test_a_formula_naming_what_the_event_lacks_names_its_rule(
    gamify_engine: EngineFactory,
) -> None:
    """docs/program.md: such a formula fails when evaluated, with FormulaError; the message
    names the rule (two rules may share a formula) and the event writes nothing."""
    engine = gamify_engine(
        {
            "timezone": "UTC",
            "actions": {"buy": {}},
            "rules": [
                {"name": "base", "action": "buy", "fixed": 5},
                {"name": "bonus", "action": "buy", "formula": "2 * amout"},
            ],
        }
    )
    with pytest.raises(FormulaError) as caught:
        engine.track("m", "buy", amount=5)
    assert str(caught.value).startswith("rule 'bonus': formula '2 * amout': unknown name 'amout'")
    assert engine.history("m") == []
