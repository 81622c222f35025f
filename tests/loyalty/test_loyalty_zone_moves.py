"""Loyalty rules when a member's zone changes or a clock change skips midnight: reversals,
renewals, referral caps and tier reviews stay with the zone and the dates they belong to."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from gamify import ManualClock
from gamify._time import local_midnight
from gamify.testing.plugin import EngineFactory


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def shop(**extra: Any) -> dict[str, Any]:
    """A shop in Shanghai: a point per unit spent."""
    return {
        "timezone": "Asia/Shanghai",
        "actions": {"purchase": {"amount": "required"}},
        "rules": [{"name": "spend", "action": "purchase", "per_amount": 1}],
        **extra,
    }


SILVER = {
    "metric": "amount",
    "action": "purchase",
    "window": "calendar_year",
    "levels": [{"name": "regular", "threshold": 0}, {"name": "silver", "threshold": 2000}],
}


@pytest.mark.parametrize(
    "moves",
    [
        [(at(2027, 1, 2, 12), "Europe/London")],
        # A second move five months later, past the late-event window: the first is kept.
        [(at(2027, 1, 2), "Europe/London"), (at(2027, 6, 1), "America/New_York")],
    ],
    ids=["one move", "two moves"],
)
def test_a_reversal_after_a_move_takes_the_amount_from_the_year_it_counted_in(
    gamify_engine: EngineFactory, gamify_clock: ManualClock, moves: list[tuple[datetime, str]]
) -> None:
    """2,000 spent at 23:30 UTC on 31 December 2026 counts in 2027 in Shanghai. Reversed
    after moves away, it leaves 2027 (not 2026), so the 2028 review drops silver."""
    gamify_clock.set(at(2026, 12, 31, 23, 30))
    engine = gamify_engine(shop(tiers=SILVER))
    assert engine.track("m", "purchase", amount=2000, key="big").tier_change is not None
    for when, zone in moves:
        gamify_clock.set(when)
        engine.set_member("m", timezone=zone)
    engine.reverse("m", "big")
    gamify_clock.set(at(2028, 1, 1, 6))  # 1 January in London and New York
    assert [(c.from_tier, c.to_tier) for c in engine.run_due().tier_changes] == [
        ("silver", "regular")
    ]


def test_a_month_end_lot_renewed_after_a_move_ends_a_month_in_its_own_zone(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """A lot earned in Shanghai expires at the end of January there (16:00 UTC on 31
    January). After a move to London, a renewing purchase pushes it to the end of July in
    Shanghai, a month end, not to 16:00 UTC plus six months read in London."""
    gamify_clock.set(at(2027, 1, 5, 1))
    engine = gamify_engine(
        shop(
            expiry={"policy": "months_end", "months": 0},
            renewal={"actions": ["purchase"], "within_days": 30, "months": 6},
        )
    )
    assert engine.track("m", "purchase", amount=10).credits[0].expires_at == at(2027, 1, 31, 16)
    gamify_clock.set(at(2027, 1, 10))
    engine.set_member("m", timezone="Europe/London")
    gamify_clock.set(at(2027, 1, 20))
    engine.track("m", "purchase", amount=1)
    [lot] = [lot for lot in engine.store.member_lots("m", "points") if lot.amount == 10]
    assert lot.expires_at == at(2027, 7, 31, 16)


def test_a_month_end_in_a_clock_change_that_skips_midnight_stays_a_month_end(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """In Asunción 1 October 2023 began at 01:00 (midnight was skipped): a lot ending
    September expires then, and renewed by six months it ends March 2024, at local midnight."""
    gamify_clock.set(at(2023, 9, 10, 12))
    engine = gamify_engine(
        shop(
            timezone="America/Asuncion",
            expiry={"policy": "months_end", "months": 0},
            renewal={"actions": ["purchase"], "within_days": 30, "months": 6},
        )
    )
    first = engine.track("m", "purchase", amount=10).credits[0].expires_at
    assert first == local_midnight(date(2023, 10, 1), "America/Asuncion") == at(2023, 10, 1, 4)
    gamify_clock.set(at(2023, 9, 20, 12))
    engine.track("m", "purchase", amount=1)
    [lot] = [lot for lot in engine.store.member_lots("m", "points") if lot.amount == 10]
    assert lot.expires_at == local_midnight(date(2024, 4, 1), "America/Asuncion")


def test_a_late_referral_counts_in_the_referrers_month_of_the_zone_she_was_in(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """One rewarded referral a month. Ann is rewarded in April, then moves to London on
    3 May. A purchase dated 17:00 UTC on 30 April was on 1 May in Shanghai, where she was:
    May's reward is still open and is paid."""
    gamify_clock.set(at(2026, 4, 10))
    engine = gamify_engine(
        shop(
            referral={
                "qualifying_action": "purchase",
                "referrer_fixed": 50,
                "max_rewarded": 1,
                "cap_period": "month",
            }
        )
    )
    code = engine.referral_code("ann")
    engine.join("b1", referral_code=code)
    engine.join("b2", referral_code=code)
    assert [c.amount for c in engine.track("b1", "purchase", amount=10).referral_rewards] == [50]
    gamify_clock.set(at(2026, 5, 3))
    engine.set_member("ann", timezone="Europe/London")
    late = engine.track("b2", "purchase", amount=10, at=at(2026, 4, 30, 17))
    assert [c.amount for c in late.referral_rewards] == [50]


def test_a_calendar_year_review_keeps_the_year_it_judges_whatever_months_says(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """With a calendar-year window reviewed on 1 December and months = 1 (which only rolling
    windows read), 2,500 spent in February 2026 keeps silver at the 2027 review: a purchase in
    November 2027 does not drop the year the review judges."""
    tiers = {**SILVER, "months": 1, "review_month": 12, "review_day": 1}
    gamify_clock.set(at(2026, 2, 1))
    engine = gamify_engine(shop(tiers=tiers))
    engine.track("m", "purchase", amount=2500)
    gamify_clock.set(at(2026, 12, 5))
    engine.run_due()
    gamify_clock.set(at(2027, 11, 15))
    engine.track("m", "purchase", amount=1)
    gamify_clock.set(at(2027, 12, 2))
    assert engine.run_due().tier_changes == []
    assert engine.member("m").tier == "silver"


def test_a_move_east_across_the_review_midnight_keeps_the_review(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """Silver in Los Angeles with nothing spent in 2026. At 00:00 UTC on 1 January 2027 the
    member moves to Shanghai, where 1 January began eight hours ago: the review of that
    date is due at once and drops silver, rather than being skipped for a year."""
    gamify_clock.set(at(2025, 6, 1))
    engine = gamify_engine(shop(tiers=SILVER))
    engine.set_member("m", timezone="America/Los_Angeles")
    engine.track("m", "purchase", amount=2500)
    gamify_clock.set(at(2026, 1, 1, 9))
    engine.run_due()
    assert engine.member("m").tier == "silver"
    gamify_clock.set(at(2027, 1, 1))
    engine.set_member("m", timezone="Asia/Shanghai")
    assert [(c.from_tier, c.to_tier) for c in engine.run_due().tier_changes] == [
        ("silver", "regular")
    ]


def test_a_move_west_after_the_review_does_not_hold_it_again(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """Reviewed at midnight on 1 January in Shanghai, the member moves to Los Angeles, where
    it is still 31 December: the next review is 1 January 2028 there, not a second one."""
    gamify_clock.set(at(2026, 6, 1))
    engine = gamify_engine(shop(tiers=SILVER))
    engine.track("m", "purchase", amount=2500)
    gamify_clock.set(at(2026, 12, 31, 16, 30))  # 00:30 on 1 January 2027 in Shanghai
    assert engine.run_due().reviews == 1
    engine.set_member("m", timezone="America/Los_Angeles")
    record = engine.store.get_member("m")
    assert record is not None and record.review_at == at(2028, 1, 1, 8)
    assert engine.run_due().reviews == 0


def test_a_late_upgrade_places_the_next_review_in_the_zone_the_member_is_in(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """A member moves from Shanghai to Los Angeles; a purchase dated before the move lifts
    them to silver. The next review is 1 January at midnight in Los Angeles, held once."""
    gamify_clock.set(at(2026, 6, 1))
    engine = gamify_engine(shop(tiers=SILVER))
    engine.track("m", "purchase", amount=1)
    gamify_clock.set(at(2026, 6, 10))
    engine.set_member("m", timezone="America/Los_Angeles")
    change = engine.track("m", "purchase", amount=2500, at=at(2026, 6, 5)).tier_change
    assert change is not None and change.to_tier == "silver"
    record = engine.store.get_member("m")
    assert record is not None and record.review_at == at(2027, 1, 1, 8)


def test_a_review_due_before_a_move_judges_its_own_year(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """Silver from 2025, nothing spent in 2026. The 1 January 2027 review falls due in
    Shanghai, and the member moves to Los Angeles before run_due runs: the review keeps its
    date (midnight in Los Angeles), judges 2026 and drops silver, once."""
    gamify_clock.set(at(2025, 6, 1))
    engine = gamify_engine(shop(tiers=SILVER))
    engine.track("m", "purchase", amount=2500)
    gamify_clock.set(at(2026, 1, 2))
    assert engine.run_due().tier_changes == []  # 2025 keeps silver for 2026
    gamify_clock.set(at(2026, 12, 31, 17))  # 01:00 on 1 January in Shanghai: due
    engine.set_member("m", timezone="America/Los_Angeles")
    assert engine.run_due().reviews == 0  # still 31 December in Los Angeles
    gamify_clock.set(at(2027, 1, 1, 9))  # 01:00 on 1 January in Los Angeles
    first = engine.run_due()
    assert (first.reviews, [(c.from_tier, c.to_tier) for c in first.tier_changes]) == (
        1,
        [("silver", "regular")],
    )
    assert engine.run_due().reviews == 0
