"""Beauty-store earning: the birthday month in the member's zone, the per-purchase cap, rules."""

from __future__ import annotations

from datetime import datetime

import pendulum
import pytest
from freezegun import freeze_time

from gamify import Engine, ManualClock, SystemClock
from gamify.program import Program

MARCH_BIRTHDAY = pendulum.date(1990, 3, 14)


def sh(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> pendulum.DateTime:
    """A wall-clock time in Asia/Shanghai (the beauty store's zone)."""
    return pendulum.datetime(year, month, day, hour, minute, second, tz="Asia/Shanghai")


@pytest.mark.parametrize(
    ("instant", "points"),
    [
        # 2026-03-01 07:30 in Shanghai is still 2026-02-28 23:30 UTC: March locally, doubled.
        (pendulum.datetime(2026, 2, 28, 23, 30, tz="UTC"), 200),
        # 2026-02-28 23:30 in Shanghai (15:30 UTC): February, not doubled.
        (sh(2026, 2, 28, 23, 30), 100),
        # 2026-04-01 00:30 in Shanghai is 2026-03-31 16:30 UTC: April locally, not doubled.
        (pendulum.datetime(2026, 3, 31, 16, 30, tz="UTC"), 100),
        # The last microsecond of March in Shanghai is doubled.
        (sh(2026, 4, 1).subtract(microseconds=1), 200),
    ],
)
def test_the_birthday_month_is_read_in_the_members_zone(
    beauty: Engine, clock: ManualClock, instant: datetime, points: int
) -> None:
    """Purchases in the member's local birthday month (March, in Asia/Shanghai) pay double."""
    beauty.set_member("amy", timezone="Asia/Shanghai", birthday=MARCH_BIRTHDAY)
    clock.set(instant)
    assert beauty.track("amy", "purchase", amount=100).total("points") == points


def test_the_birthday_month_under_frozen_time(beauty_program: Program) -> None:
    """With freezegun driving the default clock, 2026-02-28 23:30 UTC is March in Shanghai: 2x."""
    with freeze_time("2026-02-28 23:30:00+00:00") as frozen:
        engine = Engine(beauty_program, clock=SystemClock())
        engine.set_member("amy", timezone="Asia/Shanghai", birthday=MARCH_BIRTHDAY)
        engine.set_member("utc", timezone="UTC", birthday=MARCH_BIRTHDAY)
        assert engine.track("amy", "purchase", amount=100).total("points") == 200
        assert engine.track("utc", "purchase", amount=100).total("points") == 100
        frozen.move_to("2026-03-01 00:00:00+00:00")
        assert engine.track("utc", "purchase", amount=100).total("points") == 200


def test_the_birthday_double_compounds_with_the_tier_multiplier(
    beauty: Engine, clock: ManualClock
) -> None:
    """A silver member (1.2) buying 100 in their birthday month earns 100 x 1.2 x 2 = 240."""
    beauty.set_member("amy", birthday=MARCH_BIRTHDAY)
    clock.set(sh(2026, 2, 10, 10))
    beauty.track("amy", "purchase", amount=2000)
    clock.set(sh(2026, 3, 10, 10))
    outcome = beauty.track("amy", "purchase", amount=100)
    assert outcome.total("points") == 240
    assert str(outcome.credits[0].multiplier) == "2.4"


def test_the_per_purchase_cap_applies_after_multipliers(beauty: Engine, clock: ManualClock) -> None:
    """A gold member (1.5) buying 2000 in their birthday month would earn 6000; the cap keeps
    5000 and reports the 1000 it cut."""
    beauty.set_member("amy", birthday=MARCH_BIRTHDAY)
    clock.set(sh(2026, 2, 10, 10))
    beauty.track("amy", "purchase", amount=5000)
    assert beauty.member("amy").tier == "gold"
    clock.set(sh(2026, 3, 10, 10))
    outcome = beauty.track("amy", "purchase", amount=2000)
    assert outcome.total("points") == 5000
    assert [(c.cap, c.rule, c.cut) for c in outcome.caps] == [
        ("per_purchase", "purchase_points", 1000)
    ]
    assert outcome.credits[0].capped == 1000


def test_the_per_purchase_cap_limits_each_purchase_on_its_own(
    beauty: Engine, clock: ManualClock
) -> None:
    """Two purchases of 6000 on one day each pay 5000: the cap is per event, not per day."""
    clock.set(sh(2026, 2, 10, 10))
    assert beauty.track("amy", "purchase", amount=6000).total("points") == 5000
    assert beauty.track("amy", "purchase", amount=6000).total("points") == 5000  # at gold now
    assert beauty.balance("amy") == 10000


def test_a_purchase_just_under_the_cap_is_not_cut(beauty: Engine, clock: ManualClock) -> None:
    """A diamond member's purchase of 2500 earns exactly 5000 and reports no cap."""
    clock.set(sh(2026, 2, 10, 10))
    beauty.track("amy", "purchase", amount=10000)
    outcome = beauty.track("amy", "purchase", amount=2500)
    assert outcome.total("points") == 5000
    assert outcome.caps == []


def test_fractional_points_round_down_once_after_multipliers(
    beauty: Engine, clock: ManualClock
) -> None:
    """A silver member's purchase of 99.99 earns floor(99.99 x 1.2) = floor(119.988) = 119."""
    clock.set(sh(2026, 2, 10, 10))
    beauty.track("amy", "purchase", amount=2000)
    assert beauty.track("amy", "purchase", amount="99.99").total("points") == 119


def test_trial_reports_and_bottle_returns(beauty: Engine, clock: ManualClock) -> None:
    """A trial report pays 150 and is not multiplied by the tier; 7 bottles pay 100, 10 pay 200."""
    clock.set(sh(2026, 2, 10, 10))
    beauty.track("amy", "purchase", amount=10000)  # diamond
    assert beauty.track("amy", "trial_report").total("points") == 150
    assert beauty.track("amy", "bottle_return", attributes={"bottles": 7}).total("points") == 100
    assert beauty.track("amy", "bottle_return", attributes={"bottles": 10}).total("points") == 200
    assert beauty.track("amy", "bottle_return", attributes={"bottles": 4}).total("points") == 0
