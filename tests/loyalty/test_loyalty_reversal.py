"""Reversals: pending points cancelled, matured ones clawed back, debt, XP, levels, tiers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pendulum
import pytest

from gamify import Engine, InsufficientBalanceError, ManualClock
from gamify.errors import NotFoundError
from gamify.testing import assert_ledger_consistent

EngineFactory = Callable[..., Engine]


def sh(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> pendulum.DateTime:
    """A wall-clock time in Asia/Shanghai."""
    return pendulum.datetime(year, month, day, hour, minute, second, tz="Asia/Shanghai")


ORDER_AT = sh(2026, 3, 10, 10)
MATURES_AT = sh(2026, 3, 24, 10)


def shop(**extra: Any) -> dict[str, Any]:
    """Purchases pay points (pending 14 days) and XP; a trial report pays 150 at once; levels
    every 100 XP; silver from 2000 of calendar-year spend."""
    return {
        "timezone": "Asia/Shanghai",
        "currencies": {"points": {"spendable": True}, "xp": {"spendable": False}},
        "actions": {"purchase": {"amount": "required"}, "trial_report": {"amount": "none"}},
        "rules": [
            {"name": "purchase_points", "action": "purchase", "per_amount": 1, "pending_days": 14},
            {"name": "purchase_xp", "action": "purchase", "per_amount": 1, "currency": "xp"},
            {"name": "report_points", "action": "trial_report", "fixed": 150},
        ],
        "levels": {"curve": "linear", "params": {"step": 100}},
        "expiry": {"policy": "months_end", "months": 12},
        "tiers": {
            "metric": "amount",
            "action": "purchase",
            "levels": [
                {"name": "regular", "threshold": 0},
                {"name": "silver", "threshold": 2000, "multiplier": 1.2},
            ],
            "multiplier_rules": ["purchase_points"],
        },
        **extra,
    }


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(ORDER_AT)


@pytest.fixture
def engine(gamify_engine: EngineFactory, clock: ManualClock) -> Engine:
    return gamify_engine(shop(), clock=clock)


def snapshot(engine: Engine, member: str) -> Any:
    store = engine.store
    return (
        store.get_member(member),
        store.get_balances(member),
        store.history(member),
        store.member_lots(member, "points"),
    )


def test_a_reversal_before_maturity_cancels_the_pending_points(
    engine: Engine, clock: ManualClock
) -> None:
    """Reversing a purchase of 250 while its points are pending cancels them, takes its 250 XP
    back (level 3 down to 1), and nothing matures later."""
    outcome = engine.track("amy", "purchase", amount=250, key="o1")
    assert [u.level for u in outcome.level_ups] == [2, 3]
    clock.set(sh(2026, 3, 12, 10))
    reversal = engine.reverse("amy", "o1")
    assert sorted((c.currency, c.amount) for c in reversal.credits) == [
        ("points", -250),
        ("xp", -250),
    ]
    assert (reversal.debt, reversal.level_down) == (0, 1)
    profile = engine.member("amy")
    assert (profile.pending["points"], profile.balances["points"], profile.xp) == (0, 0, 0)
    assert profile.level == 1
    clock.set(MATURES_AT)
    assert engine.run_due().matured_points == 0
    assert engine.balance("amy") == 0


def test_a_reversal_after_maturity_claws_the_points_back(
    engine: Engine, clock: ManualClock
) -> None:
    """A matured purchase of 100 reversed a day later leaves 0 spendable and no debt."""
    engine.track("amy", "purchase", amount=100, key="o1")
    engine.track("amy", "trial_report")
    clock.set(MATURES_AT)
    engine.run_due()
    assert engine.balance("amy") == 250
    clock.set(sh(2026, 3, 25, 10))
    reversal = engine.reverse("amy", "o1")
    assert reversal.debt == 0
    assert engine.balance("amy") == 150
    assert engine.member("amy").debt["points"] == 0


def test_a_reversal_after_part_was_spent_books_the_shortfall_as_debt(
    engine: Engine, clock: ManualClock
) -> None:
    """100 matured, 70 spent, then reversed: the 30 left are clawed back and 70 become debt; a
    later trial report of 150 settles the 70 first and leaves 80 spendable."""
    engine.track("amy", "purchase", amount=100, key="o1")
    clock.set(MATURES_AT)
    engine.run_due()
    engine.redeem("amy", 70)
    reversal = engine.reverse("amy", "o1")
    assert reversal.debt == 70
    profile = engine.member("amy")
    assert (profile.balances["points"], profile.debt["points"]) == (0, 70)

    clock.set(sh(2026, 4, 1, 10))
    engine.track("amy", "trial_report")
    profile = engine.member("amy")
    assert (profile.balances["points"], profile.debt["points"]) == (80, 0)
    assert [lot.remaining for lot in engine.store.member_lots("amy", "points")] == [80]
    engine.track("amy", "trial_report")
    assert engine.balance("amy") == 230  # the debt is settled only once


def test_a_clawback_takes_other_lots_before_booking_debt(
    engine: Engine, clock: ManualClock
) -> None:
    """After spending 120 (all 100 of the reversed purchase, 20 of a report's 150), reversing the
    purchase takes 100 from the report's lot: 30 left, no debt."""
    engine.track("amy", "purchase", amount=100, key="o1")
    clock.set(MATURES_AT)
    engine.run_due()
    clock.set(sh(2026, 4, 2, 10))
    engine.track("amy", "trial_report")  # due 2027-05-01, after the purchase's lot
    engine.redeem("amy", 120)
    reversal = engine.reverse("amy", "o1")
    assert reversal.debt == 0
    assert engine.balance("amy") == 30
    assert engine.member("amy").debt["points"] == 0


def test_debt_is_settled_first_by_points_that_mature_later(
    engine: Engine, clock: ManualClock
) -> None:
    """A debt of 70 is paid out of a later purchase's 200 when they mature: 130 spendable."""
    engine.track("amy", "purchase", amount=100, key="o1")
    clock.set(MATURES_AT)
    engine.run_due()
    engine.redeem("amy", 70)
    engine.reverse("amy", "o1")
    engine.track("amy", "purchase", amount=200, key="o2")
    assert engine.member("amy").pending["points"] == 200  # pending points do not settle debt
    clock.set(sh(2026, 4, 7, 10))
    engine.run_due()
    profile = engine.member("amy")
    assert (profile.balances["points"], profile.debt["points"], profile.pending["points"]) == (
        130,
        0,
        0,
    )
    # The matured lot holds only what the debt left: 130 can be spent, 131 cannot.
    assert [lot.points for lot in engine.expiring("amy", within=timedelta(days=800))] == [130]
    with pytest.raises(InsufficientBalanceError):
        engine.redeem("amy", 131)
    assert engine.redeem("amy", 130).points == 130


def test_reversing_twice_changes_nothing_the_second_time(
    engine: Engine, clock: ManualClock
) -> None:
    """The second reversal of a key returns the first result and writes nothing."""
    engine.track("amy", "purchase", amount=100, key="o1")
    clock.set(MATURES_AT)
    engine.run_due()
    engine.redeem("amy", 70)
    first = engine.reverse("amy", "o1")
    before = snapshot(engine, "amy")
    assert engine.reverse("amy", "o1") == first
    assert snapshot(engine, "amy") == before
    assert engine.member("amy").debt["points"] == 70


def test_reversing_an_unknown_key_is_not_found_and_writes_nothing(engine: Engine) -> None:
    """A key the member never tracked raises NotFoundError."""
    engine.track("amy", "trial_report", key="t1")
    before = snapshot(engine, "amy")
    with pytest.raises(NotFoundError):
        engine.reverse("amy", "o1")
    with pytest.raises(NotFoundError):
        engine.reverse("bob", "t1")
    assert snapshot(engine, "amy") == before


def test_a_reversal_takes_back_the_tier_qualifying_amount(
    engine: Engine, clock: ManualClock
) -> None:
    """1500 bought and reversed, then 600 bought: the year holds 600, so no silver."""
    engine.track("amy", "purchase", amount=1500, key="o1")
    engine.reverse("amy", "o1")
    assert engine.track("amy", "purchase", amount=600, key="o2").tier_change is None
    assert engine.member("amy").tier == "regular"


def test_a_reversal_in_a_later_year_takes_the_amount_from_the_events_year(
    engine: Engine, clock: ManualClock
) -> None:
    """1500 bought on 2026-12-20 and reversed on 2027-01-06 comes off 2026, not 2027: 600 and
    then 1400 bought in 2027 reach silver's 2000."""
    clock.set(sh(2026, 12, 20, 10))
    engine.track("amy", "purchase", amount=1500, key="o1")
    clock.set(sh(2027, 1, 5, 10))
    engine.track("amy", "purchase", amount=600, key="o2")
    clock.set(sh(2027, 1, 6, 10))
    engine.reverse("amy", "o1")
    clock.set(sh(2027, 1, 7, 10))
    outcome = engine.track("amy", "purchase", amount=1400, key="o3")
    assert outcome.tier_change is not None and outcome.tier_change.to_tier == "silver"


def test_a_reversed_upgrade_is_undone_only_at_the_review(
    engine: Engine, clock: ManualClock
) -> None:
    """Silver reached by 1500 + 600 stays after the 600 is reversed, and the 2027 review, which
    sees 1500 in 2026, drops it."""
    engine.track("amy", "purchase", amount=1500, key="o1")
    assert engine.track("amy", "purchase", amount=600, key="o2").tier_change is not None
    engine.reverse("amy", "o2")
    assert engine.member("amy").tier == "silver"
    clock.set(sh(2026, 12, 31, 23, 59, 59))
    engine.run_due()
    assert engine.member("amy").tier == "silver"
    clock.set(sh(2027, 1, 1))
    engine.run_due()
    assert engine.member("amy").tier == "regular"


def test_a_reversal_takes_back_points_earned_for_a_points_tier(
    gamify_engine: EngineFactory, clock: ManualClock
) -> None:
    """On a points-earned metric, 1500 earned and reversed, then 600: 600 earned, no silver."""
    program = shop()
    program["tiers"] = {**program["tiers"], "metric": "points_earned", "action": None}
    engine = gamify_engine(program, clock=clock)
    engine.track("amy", "purchase", amount=1500, key="o1")
    engine.reverse("amy", "o1")
    assert engine.track("amy", "purchase", amount=600).tier_change is None


def test_a_reversal_revokes_no_referral_reward(gamify_engine: EngineFactory) -> None:
    """Reversing the referee's qualifying purchase leaves the referrer's 50 and the referee's
    welcome 30."""
    clock = ManualClock(ORDER_AT)
    program = shop(
        referral={
            "qualifying_action": "purchase",
            "referee_reward": 30,
            "referrer_fixed": 50,
        }
    )
    engine = gamify_engine(program, clock=clock)
    engine.join("bob", referral_code=engine.referral_code("amy"))
    engine.track("bob", "purchase", amount=100, key="o1")
    engine.reverse("bob", "o1")
    assert (engine.balance("amy"), engine.balance("bob")) == (50, 30)
    assert engine.member("bob").pending["points"] == 0


def test_the_ledger_stays_balanced_through_reversal_and_debt(
    engine: Engine, clock: ManualClock
) -> None:
    """Every account (points, pending, debt, xp) equals the sum of its ledger entries."""
    engine.track("amy", "purchase", amount=100, key="o1")
    clock.set(MATURES_AT)
    engine.run_due()
    engine.redeem("amy", 70)
    engine.reverse("amy", "o1")
    engine.track("amy", "purchase", amount=40, key="o2")
    assert_ledger_consistent(engine.store, "amy")
    assert engine.store.get_balances("amy") == {
        "points": 0,
        "points:pending": 40,
        "points:debt": 70,
        "xp": 40,
    }


TWO_RULES: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "actions": {"purchase": {"amount": "required"}},
    "rules": [
        {"name": "spend", "action": "purchase", "per_amount": 1},
        {"name": "app_bonus", "action": "purchase", "fixed": 20},
    ],
}


def test_a_reversal_of_an_event_with_two_lots_after_a_spend_across_both(
    gamify_engine: EngineFactory,
) -> None:
    """A purchase paying 100 + 20 with 110 spent is reversed: 10 clawed back, 110 of debt."""
    clock = ManualClock(ORDER_AT)
    engine = gamify_engine(TWO_RULES, clock=clock)
    engine.track("amy", "purchase", amount=100, key="o1")
    engine.redeem("amy", 110)
    reversal = engine.reverse("amy", "o1")
    assert reversal.debt == 110
    profile = engine.member("amy")
    assert (profile.balances["points"], profile.debt["points"]) == (0, 110)


def test_a_reversal_of_an_event_with_two_lots_unspent(gamify_engine: EngineFactory) -> None:
    """An unspent purchase paying 100 + 20 is reversed completely: both lots closed, no debt."""
    clock = ManualClock(ORDER_AT)
    engine = gamify_engine(TWO_RULES, clock=clock)
    engine.track("amy", "purchase", amount=50, key="o0")
    engine.track("amy", "purchase", amount=100, key="o1")
    reversal = engine.reverse("amy", "o1")
    assert sorted(c.amount for c in reversal.credits) == [-100, -20]
    assert reversal.debt == 0
    assert engine.balance("amy") == 70


def test_a_reversal_after_the_lot_expired_takes_nothing_twice(
    beauty: Engine, clock: ManualClock
) -> None:
    """A purchase of 100 whose lot expired unspent at 2027-02-01 is reversed on 2027-02-10:
    its points are already gone, so the trial report's 150 stay and no debt is booked."""
    clock.set(sh(2026, 1, 10, 10))
    beauty.track("amy", "purchase", amount=100, key="o1")  # due 2027-02-01
    clock.set(sh(2026, 6, 10, 10))
    beauty.track("amy", "trial_report")  # due 2027-07-01
    clock.set(sh(2027, 2, 1))
    assert beauty.run_due().expired_points == 100
    clock.set(sh(2027, 2, 10))
    reversal = beauty.reverse("amy", "o1")
    assert reversal.debt == 0
    profile = beauty.member("amy")
    assert (profile.balances["points"], profile.debt["points"]) == (150, 0)


def test_a_reversal_after_part_was_spent_and_the_rest_expired(
    beauty: Engine, clock: ManualClock
) -> None:
    """100 earned, 40 spent, 60 expired, then reversed: only the 40 spent are owed (from the
    report's lot), leaving 110."""
    clock.set(sh(2026, 1, 10, 10))
    beauty.track("amy", "purchase", amount=100, key="o1")  # due 2027-02-01
    clock.set(sh(2026, 6, 10, 10))
    beauty.track("amy", "trial_report")  # due 2027-07-01
    beauty.redeem("amy", 40)  # from the purchase's lot, due first
    clock.set(sh(2027, 2, 1))
    assert beauty.run_due().expired_points == 60
    beauty.reverse("amy", "o1")
    profile = beauty.member("amy")
    assert (profile.balances["points"], profile.debt["points"]) == (110, 0)
