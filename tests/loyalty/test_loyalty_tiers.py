"""Member tiers: upgrades at once, downgrades only at reviews, windows, metrics and retention."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pendulum
import pytest

from gamify import DomainEvent, Engine, ManualClock, Program, ProgramError

EngineFactory = Callable[..., Engine]
US = timedelta(microseconds=1)


def sh(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> pendulum.DateTime:
    """A wall-clock time in Asia/Shanghai (the beauty store's zone)."""
    return pendulum.datetime(year, month, day, hour, minute, second, tz="Asia/Shanghai")


def buy(engine: Engine, clock: ManualClock, member: str, at: datetime, amount: int) -> int:
    """Move the clock to ``at``, track a purchase and return the points it credited."""
    clock.set(at)
    return engine.track(member, "purchase", amount=amount).total("points")


LEVELS = [
    {"name": "regular", "threshold": 0},
    {"name": "silver", "threshold": 2000, "multiplier": 1.2},
    {"name": "gold", "threshold": 5000, "multiplier": 1.5},
]


def tier_program(**tiers: Any) -> dict[str, Any]:
    """A UTC shop paying a point per unit of purchase, with tiers over ``tiers``."""
    return {
        "timezone": "UTC",
        "actions": {"purchase": {"amount": "required"}, "check_in": {"amount": "none"}},
        "rules": [
            {"name": "spend", "action": "purchase", "per_amount": 1},
            {"name": "daily", "action": "check_in", "fixed": 5},
        ],
        "tiers": {"metric": "amount", "action": "purchase", "levels": LEVELS, **tiers},
    }


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> pendulum.DateTime:
    return pendulum.datetime(year, month, day, hour, minute, tz="UTC")


# Upgrades ------------------------------------------------------------------------------


def test_the_crossing_purchase_earns_at_the_old_multiplier_and_the_next_at_the_new(
    beauty: Engine, clock: ManualClock
) -> None:
    """The purchase that reaches silver earns at regular's 1.0; the next purchase earns at 1.2."""
    changes: list[DomainEvent] = []
    beauty.on("tier_changed", changes.append)
    assert buy(beauty, clock, "amy", sh(2026, 2, 1, 10), 1500) == 1500
    clock.set(sh(2026, 2, 2, 10))
    crossing = beauty.track("amy", "purchase", amount=600)
    assert crossing.total("points") == 600  # 600 x 1.0
    assert crossing.tier_change is not None
    assert (crossing.tier_change.from_tier, crossing.tier_change.to_tier) == ("regular", "silver")
    assert beauty.member("amy").tier == "silver"
    assert buy(beauty, clock, "amy", sh(2026, 2, 3, 10), 100) == 120  # 100 x 1.2
    assert [(e.payload["from_tier"], e.payload["to_tier"]) for e in changes] == [
        ("regular", "silver")
    ]


def test_one_purchase_can_cross_several_tiers(beauty: Engine, clock: ManualClock) -> None:
    """A first purchase of 10000 lifts a regular member to diamond (paid at 1.0, then capped)."""
    clock.set(sh(2026, 2, 1, 10))
    outcome = beauty.track("amy", "purchase", amount=10000)
    assert outcome.tier_change is not None
    assert (outcome.tier_change.from_tier, outcome.tier_change.to_tier) == ("regular", "diamond")
    assert outcome.total("points") == 5000  # 10000 x 1.0, cut to the 5000 per-purchase cap
    assert buy(beauty, clock, "amy", sh(2026, 2, 2, 10), 100) == 200  # diamond's 2.0


def test_an_event_without_a_qualifying_amount_changes_no_tier(
    beauty: Engine, clock: ManualClock
) -> None:
    """A trial report pays 150 points but adds nothing to calendar-year spend: no tier change."""
    clock.set(sh(2026, 2, 1, 10))
    beauty.track("amy", "purchase", amount=1990)
    outcome = beauty.track("amy", "trial_report")
    assert outcome.total("points") == 150
    assert outcome.tier_change is None
    assert beauty.member("amy").tier == "regular"


def test_a_new_member_starts_in_the_first_tier(beauty: Engine, clock: ManualClock) -> None:
    """A member whose first purchase stays below 2000 is in the regular tier."""
    buy(beauty, clock, "amy", sh(2026, 2, 1, 10), 100)
    assert beauty.member("amy").tier == "regular"


# Reviews -------------------------------------------------------------------------------


def test_no_downgrade_before_the_review_and_a_drop_of_two_tiers_at_it(
    beauty: Engine, clock: ManualClock
) -> None:
    """Gold from 2026 survives 2027 (judged on 2026) and all of a spendless 2027 until
    2028-01-01 00:00 local, when the review judges 2027 (0) and drops it to regular."""
    buy(beauty, clock, "amy", sh(2026, 3, 10, 10), 5000)
    assert beauty.member("amy").tier == "gold"

    clock.set(sh(2027, 1, 1))
    first = beauty.run_due()
    assert first.reviews == 1 and first.tier_changes == []
    assert beauty.member("amy").tier == "gold"  # 2026's 5000 keeps gold

    clock.set(sh(2028, 1, 1) - US)
    assert beauty.run_due().reviews == 0
    assert beauty.member("amy").tier == "gold"  # one microsecond before the review

    clock.set(sh(2028, 1, 1))
    report = beauty.run_due()
    assert report.reviews == 1
    assert [(c.from_tier, c.to_tier) for c in report.tier_changes] == [("gold", "regular")]
    assert beauty.member("amy").tier == "regular"


def test_a_review_report_names_the_member_of_each_tier_change(
    beauty: Engine, clock: ManualClock
) -> None:
    """run_due covers every member, so each of its tier changes says whose tier moved;
    an upgrade in an outcome names the tracked member too."""
    buy(beauty, clock, "amy", sh(2026, 3, 10, 10), 5000)
    clock.set(sh(2026, 3, 10, 11))
    upgrade = beauty.track("bea", "purchase", amount=2500).tier_change
    assert upgrade is not None and (upgrade.member_id, upgrade.to_tier) == ("bea", "silver")
    clock.set(sh(2028, 1, 1))
    report = beauty.run_due()
    changes = [(c.member_id, c.from_tier, c.to_tier) for c in report.tier_changes]
    assert sorted(changes) == [("amy", "gold", "regular"), ("bea", "silver", "regular")]


def test_the_review_instant_is_local_midnight_in_the_members_zone(
    beauty: Engine, clock: ManualClock
) -> None:
    """A member in New York is reviewed at New York's midnight, not Shanghai's or UTC's."""
    beauty.set_member("ny", timezone="America/New_York")
    clock.set(pendulum.datetime(2026, 3, 10, 10, tz="America/New_York"))
    beauty.track("ny", "purchase", amount=2500)
    clock.set(pendulum.datetime(2028, 1, 1, tz="America/New_York") - US)
    beauty.run_due()  # runs the 2027-01-01 review (kept: 2026 spent 2500)
    assert beauty.member("ny").tier == "silver"
    clock.set(pendulum.datetime(2028, 1, 1, tz="America/New_York"))
    assert [(c.from_tier, c.to_tier) for c in beauty.run_due().tier_changes] == [
        ("silver", "regular")
    ]


@pytest.mark.parametrize(
    ("spent_2027", "tier_after"),
    [(0, "regular"), (2500, "silver"), (5000, "gold"), (12000, "diamond")],
)
def test_the_review_judges_the_ended_year_and_may_drop_several_tiers(
    beauty: Engine, clock: ManualClock, spent_2027: int, tier_after: str
) -> None:
    """A diamond member keeps, at the 2028 review, the tier that 2027's spend qualifies for."""
    buy(beauty, clock, "amy", sh(2026, 3, 10, 10), 10000)
    clock.set(sh(2027, 1, 1))
    beauty.run_due()
    if spent_2027:
        buy(beauty, clock, "amy", sh(2027, 6, 1, 10), spent_2027)
    clock.set(sh(2028, 1, 1))
    beauty.run_due()
    assert beauty.member("amy").tier == tier_after


def test_a_late_review_keeps_the_best_of_the_ended_and_the_current_window(
    beauty: Engine, clock: ManualClock
) -> None:
    """Diamond with 500 spent in 2027 and 2500 spent on 2028-01-10 before a late review on
    2028-01-20: 2027 alone gives regular, 2028 gives silver, so the member lands on silver."""
    buy(beauty, clock, "amy", sh(2026, 3, 10, 10), 10000)
    clock.set(sh(2027, 1, 1))
    beauty.run_due()
    buy(beauty, clock, "amy", sh(2027, 6, 1, 10), 500)
    # The review is due but has not run: the purchase still earns at diamond's 2.0.
    assert buy(beauty, clock, "amy", sh(2028, 1, 10, 10), 2500) == 5000
    assert beauty.member("amy").tier == "diamond"
    clock.set(sh(2028, 1, 20, 10))
    report = beauty.run_due()
    assert [(c.from_tier, c.to_tier) for c in report.tier_changes] == [("diamond", "silver")]
    assert beauty.member("amy").tier == "silver"


def test_a_late_review_of_a_rolling_window_also_judges_the_window_current_now(
    gamify_engine: EngineFactory,
) -> None:
    """Rolling 12 months: gold from 5000 spent in December 2025 (kept at the 2026 review). The
    2027 review falls due with nothing spent since; before run_due first runs, on 2027-02-20,
    2500 are spent on 2027-02-10. The window current now (March 2026 to February 2027) holds
    2500, so the member lands on silver, as an on-time review and that purchase would have
    left them."""
    clock = ManualClock(utc(2025, 12, 15, 12))
    engine = gamify_engine(tier_program(window="rolling_months", months=12), clock=clock)
    assert buy(engine, clock, "amy", utc(2025, 12, 15, 12), 5000) == 5000
    assert engine.member("amy").tier == "gold"
    clock.set(utc(2026, 1, 1))
    assert engine.run_due().tier_changes == []
    buy(engine, clock, "amy", utc(2027, 2, 10, 12), 2500)
    assert engine.member("amy").tier == "gold"  # the review has not run yet
    clock.set(utc(2027, 2, 20, 12))
    report = engine.run_due()
    assert [(c.from_tier, c.to_tier) for c in report.tier_changes] == [("gold", "silver")]
    assert engine.member("amy").tier == "silver"


def test_reviews_missed_for_years_run_one_after_another(beauty: Engine, clock: ManualClock) -> None:
    """A first run_due in mid-2028 runs the 2027 review (keeps gold on 2026) and the 2028
    review (regular on an empty 2027)."""
    buy(beauty, clock, "amy", sh(2026, 3, 10, 10), 5000)
    clock.set(sh(2028, 6, 1))
    report = beauty.run_due()
    assert report.reviews == 2
    assert [(c.from_tier, c.to_tier) for c in report.tier_changes] == [("gold", "regular")]


def test_run_due_twice_after_a_review_changes_nothing(beauty: Engine, clock: ManualClock) -> None:
    """The second run_due at the same instant finds no review due and writes nothing."""
    buy(beauty, clock, "amy", sh(2026, 3, 10, 10), 5000)
    clock.set(sh(2028, 1, 1))
    assert beauty.run_due().tier_changes
    history = beauty.history("amy")
    again = beauty.run_due()
    assert again.reviews == 0 and again.tier_changes == []
    assert beauty.history("amy") == history
    assert beauty.member("amy").tier == "regular"


def test_retention_counts_from_the_upgrade(gamify_engine: EngineFactory) -> None:
    """With a one-month window and six months' retention, an upgrade on 2026-06-15 (kept until
    2026-12-15) is lost at the 2027 review, one on 2026-08-15 (kept until 2027-02-15) only at
    the 2028 review."""
    clock = ManualClock(utc(2026, 6, 15, 12))
    engine = gamify_engine(
        tier_program(window="rolling_months", months=1, retention_months=6), clock=clock
    )
    engine.track("june", "purchase", amount=5000)
    clock.set(utc(2026, 8, 15, 12))
    engine.track("august", "purchase", amount=5000)
    assert engine.member("june").tier == engine.member("august").tier == "gold"

    clock.set(utc(2027, 1, 1))
    report = engine.run_due()
    assert report.reviews == 2
    assert engine.member("june").tier == "regular"  # retention ended 2026-12-15
    assert engine.member("august").tier == "gold"  # retained until 2027-02-15

    clock.set(utc(2028, 1, 1))
    engine.run_due()
    assert engine.member("august").tier == "regular"


def test_a_downgrade_at_a_review_starts_no_retention_period(
    gamify_engine: EngineFactory,
) -> None:
    """Retention counts from the upgrade: gold reached on 2025-06-01 with 13 months' retention
    drops to silver at the 2027 review (2026 held 2500) and to regular at the 2028 one (2027
    held nothing); the downgrade of 2027 shelters nothing."""
    clock = ManualClock(utc(2025, 6, 1, 12))
    engine = gamify_engine(tier_program(retention_months=13), clock=clock)
    engine.track("amy", "purchase", amount=5000)
    clock.set(utc(2026, 5, 10, 12))
    engine.track("amy", "purchase", amount=2500)
    clock.set(utc(2027, 1, 1))
    engine.run_due()
    assert engine.member("amy").tier == "silver"
    clock.set(utc(2028, 1, 1))
    engine.run_due()
    assert engine.member("amy").tier == "regular"


def test_a_review_run_late_counts_the_window_current_when_it_runs(
    gamify_engine: EngineFactory,
) -> None:
    """Gold from November on a one-month rolling window, reviewed on 1 January but run on
    10 February: December and January held nothing, but February's 5000 (spent while the
    review was pending) keeps gold."""
    clock = ManualClock(utc(2026, 11, 10, 12))
    engine = gamify_engine(tier_program(window="rolling_months", months=1), clock=clock)
    engine.track("amy", "purchase", amount=5000)
    clock.set(utc(2027, 2, 5, 12))
    assert engine.track("amy", "purchase", amount=5000).tier_change is None
    clock.set(utc(2027, 2, 10, 12))
    assert engine.run_due().reviews == 1
    assert engine.member("amy").tier == "gold"


def test_a_review_on_another_date_judges_the_window_ending_then(
    gamify_engine: EngineFactory,
) -> None:
    """Reviews on 1 July of a rolling 6-month window judge January to June."""
    clock = ManualClock(utc(2026, 1, 10, 12))
    engine = gamify_engine(
        tier_program(window="rolling_months", months=6, review_month=7), clock=clock
    )
    engine.track("amy", "purchase", amount=2500)  # January: silver
    clock.set(utc(2026, 7, 1))
    engine.run_due()  # Jan-Jun holds 2500
    assert engine.member("amy").tier == "silver"
    clock.set(utc(2027, 7, 1))
    engine.run_due()  # Jan-Jun 2027 holds nothing
    assert engine.member("amy").tier == "regular"


def test_retention_shelters_an_upgrade_made_less_than_its_months_before_the_review(
    gamify_engine: EngineFactory,
) -> None:
    """Six months' retention: an upgrade on 2026-07-15 is kept until 2027-01-15, so the review
    of 1 January 2027, five and a half months after it, keeps gold; the 2028 one drops it."""
    clock = ManualClock(utc(2026, 7, 15, 12))
    engine = gamify_engine(
        tier_program(window="rolling_months", months=1, retention_months=6), clock=clock
    )
    engine.track("july", "purchase", amount=5000)
    clock.set(utc(2027, 1, 1))
    assert engine.run_due().reviews == 1
    assert engine.member("july").tier == "gold"
    clock.set(utc(2028, 1, 1))
    engine.run_due()
    assert engine.member("july").tier == "regular"


def test_a_rolling_window_judged_at_a_review_holds_exactly_its_months(
    gamify_engine: EngineFactory,
) -> None:
    """Rolling 3 months reviewed on 1 April judge January to March: 2500 spent in December
    is outside both that window and the current one (February to April), so the member drops
    to regular."""
    clock = ManualClock(utc(2025, 12, 20, 12))
    engine = gamify_engine(
        tier_program(window="rolling_months", months=3, review_month=4), clock=clock
    )
    engine.track("amy", "purchase", amount=2500)
    assert engine.member("amy").tier == "silver"
    clock.set(utc(2026, 4, 1))
    assert engine.run_due().reviews == 1
    assert engine.member("amy").tier == "regular"


def test_a_calendar_year_review_in_march_judges_the_whole_of_last_year(
    gamify_engine: EngineFactory,
) -> None:
    """Reviews on 1 March of calendar-year tiers: 2500 spent in November 2026 keeps silver at
    the review of 1 March 2027 (2026 is the year that ended), nothing spent in 2027 drops
    the member on 1 March 2028."""
    clock = ManualClock(utc(2026, 11, 10, 12))
    engine = gamify_engine(tier_program(window="calendar_year", review_month=3), clock=clock)
    engine.track("amy", "purchase", amount=2500)
    assert engine.member("amy").tier == "silver"
    clock.set(utc(2027, 3, 1))
    engine.run_due()
    assert engine.member("amy").tier == "silver"
    clock.set(utc(2028, 3, 1))
    engine.run_due()
    assert engine.member("amy").tier == "regular"


# Windows and metrics -------------------------------------------------------------------


def test_a_rolling_months_window_counts_the_current_month_and_the_ones_before(
    gamify_engine: EngineFactory,
) -> None:
    """Rolling 3 months: 1500 in January and 600 in March reach silver; 1500 in January and
    600 in April (window February-April) do not."""
    clock = ManualClock(utc(2026, 1, 10, 12))
    engine = gamify_engine(tier_program(window="rolling_months", months=3), clock=clock)
    engine.track("march", "purchase", amount=1500)
    engine.track("april", "purchase", amount=1500)
    clock.set(utc(2026, 3, 31, 23, 59))
    assert engine.track("march", "purchase", amount=600).tier_change is not None
    clock.set(utc(2026, 4, 1))
    assert engine.track("april", "purchase", amount=600).tier_change is None
    assert engine.member("march").tier == "silver"
    assert engine.member("april").tier == "regular"


def test_a_calendar_year_window_starts_afresh_on_1_january(
    gamify_engine: EngineFactory,
) -> None:
    """1500 in December 2026 and 600 in January 2027 do not reach silver over a calendar year."""
    clock = ManualClock(utc(2026, 12, 20, 12))
    engine = gamify_engine(tier_program(), clock=clock)
    engine.track("amy", "purchase", amount=1500)
    clock.set(utc(2027, 1, 2, 12))
    assert engine.track("amy", "purchase", amount=600).tier_change is None
    assert engine.member("amy").tier == "regular"


def test_a_calendar_year_window_counts_december(gamify_engine: EngineFactory) -> None:
    """1500 in January and 600 in December 2026 reach silver on the December purchase."""
    clock = ManualClock(utc(2026, 1, 10, 12))
    engine = gamify_engine(tier_program(), clock=clock)
    engine.track("amy", "purchase", amount=1500)
    clock.set(utc(2026, 12, 31, 23, 59))
    change = engine.track("amy", "purchase", amount=600).tier_change
    assert change is not None and change.to_tier == "silver"


def test_a_lifetime_window_adds_every_year_and_never_drops_at_a_review(
    gamify_engine: EngineFactory,
) -> None:
    """Lifetime: 1500 in 2026 and 600 in 2027 reach silver, and later reviews keep it."""
    clock = ManualClock(utc(2026, 5, 1, 12))
    engine = gamify_engine(tier_program(window="lifetime"), clock=clock)
    engine.track("amy", "purchase", amount=1500)
    clock.set(utc(2027, 5, 1, 12))
    assert engine.track("amy", "purchase", amount=600).tier_change is not None
    clock.set(utc(2030, 1, 1))
    engine.run_due()
    assert engine.member("amy").tier == "silver"


def test_points_earned_counts_rule_credits_after_multipliers_only(
    gamify_engine: EngineFactory,
) -> None:
    """On points earned: a 500-point welcome reward and a spend of 1000 do not move the metric;
    1600 from purchases plus 400 from a purchase of 200 doubled by a tag multiplier reach 2000."""
    clock = ManualClock(utc(2026, 5, 1, 12))
    program = {
        **tier_program(),
        "actions": {"purchase": {"amount": "required"}},
        "rules": [{"name": "spend", "action": "purchase", "per_amount": 1}],
        "multipliers": [{"name": "vip", "kind": "tag", "tag": "vip", "factor": 2}],
        "tiers": {"metric": "points_earned", "levels": LEVELS},
        "referral": {"qualifying_action": "purchase", "referee_reward": 500},
    }
    engine = gamify_engine(program, clock=clock)
    code = engine.referral_code("host")
    engine.join("amy", referral_code=code)
    engine.track("amy", "purchase", amount=1600)
    engine.redeem("amy", 1000)
    assert engine.member("amy").tier == "regular"  # metric 1600: neither reward nor spend count
    engine.set_member("amy", tags=["vip"])
    outcome = engine.track("amy", "purchase", amount=200)
    assert outcome.total("points") == 400
    assert outcome.tier_change is not None and outcome.tier_change.to_tier == "silver"


def test_points_earned_leaves_out_a_reward_paid_by_the_same_event(
    gamify_engine: EngineFactory,
) -> None:
    """On points earned: a purchase of 900 on the second day of a shopping streak also pays a
    500-point milestone; the metric grows by 900 only (1000 + 900, still regular), and 100
    more reaches silver."""
    clock = ManualClock(utc(2026, 5, 1, 12))
    program = {
        **tier_program(),
        "streaks": {
            "shopping": {
                "actions": ["purchase"],
                "milestones": [{"length": 2, "reward": {"points": 500}}],
            }
        },
        "tiers": {"metric": "points_earned", "levels": LEVELS},
    }
    engine = gamify_engine(program, clock=clock)
    engine.track("amy", "purchase", amount=1000)
    clock.set(utc(2026, 5, 2, 12))
    second = engine.track("amy", "purchase", amount=900)
    assert sorted((c.source, c.amount) for c in second.credits) == [
        ("rule", 900),
        ("streak", 500),
    ]
    assert second.tier_change is None
    assert engine.member("amy").tier == "regular"
    assert engine.track("amy", "purchase", amount=100).tier_change is not None


def test_an_event_tracked_at_the_review_instant_and_dated_before_it_reopens_nothing(
    beauty: Engine, clock: ManualClock
) -> None:
    """At the review instant itself (2027-01-01 00:00, the review not yet run), a purchase
    dated in 2026 counts in 2026 but upgrades no one."""
    buy(beauty, clock, "ann", sh(2026, 6, 1, 10), 1500)
    clock.set(sh(2027, 1, 1))
    late = beauty.track("ann", "purchase", amount=600, at=sh(2026, 12, 31, 22))
    assert late.tier_change is None
    assert beauty.member("ann").tier == "regular"


def test_points_earned_counts_after_the_cap(gamify_engine: EngineFactory) -> None:
    """Points earned counts what the cap let through: 3000 capped to 1000 adds 1000, not 3000."""
    clock = ManualClock(utc(2026, 5, 1, 12))
    program = {
        **tier_program(),
        "caps": [{"name": "per_event", "period": "event", "limit": 1000}],
        "tiers": {"metric": "points_earned", "levels": LEVELS},
    }
    engine = gamify_engine(program, clock=clock)
    assert engine.track("amy", "purchase", amount=3000).tier_change is None
    assert engine.member("amy").tier == "regular"
    assert engine.track("amy", "purchase", amount=1000).tier_change is not None  # 2000 earned


def test_tier_benefits_are_data_the_app_reads(beauty: Engine, clock: ManualClock) -> None:
    """The program exposes each tier's multiplier and discount for the member's current tier."""
    buy(beauty, clock, "amy", sh(2026, 3, 10, 10), 5000)
    tiers = beauty.program.tiers
    assert tiers is not None
    held = next(t for t in tiers.levels if t.name == beauty.member("amy").tier)
    assert (held.name, str(held.multiplier), str(held.discount)) == ("gold", "1.5", "0.9")


def test_a_late_event_from_before_the_review_reopens_no_tier_decision(
    beauty: Engine, clock: ManualClock
) -> None:
    """A purchase dated in the reviewed year but tracked after the review upgrades no one."""
    beauty.track("ann", "purchase", amount=1500)
    clock.set(pendulum.datetime(2027, 1, 1, 0, 30, tz="Asia/Shanghai"))
    beauty.run_due()
    assert beauty.member("ann").tier == "regular"
    late = beauty.track(
        "ann",
        "purchase",
        amount=600,
        at=pendulum.datetime(2026, 12, 31, 22, tz="Asia/Shanghai"),
    )
    assert late.tier_change is None
    assert beauty.member("ann").tier == "regular"


def test_a_late_event_dated_at_the_review_instant_belongs_to_the_new_year(
    beauty: Engine, clock: ManualClock
) -> None:
    """Tracked at 00:30 on 1 January 2027 after the review ran: a purchase of 2000 dated at
    the review instant itself counts in 2027 and upgrades at once; one dated a microsecond
    before it counts in the reviewed year and upgrades no one."""
    clock.set(sh(2027, 1, 1, 0, 30))
    beauty.run_due()
    before = beauty.track("bob", "purchase", amount=2000, at=sh(2027, 1, 1) - US)
    at_review = beauty.track("ann", "purchase", amount=2000, at=sh(2027, 1, 1))
    assert before.tier_change is None
    assert at_review.tier_change is not None
    assert (at_review.tier_change.from_tier, at_review.tier_change.to_tier) == (
        "regular",
        "silver",
    )
    assert (beauty.member("bob").tier, beauty.member("ann").tier) == ("regular", "silver")


def test_a_tier_multiplier_on_an_unknown_rule_is_refused() -> None:
    """multiplier_rules names rules; a misspelt one is refused with its key path."""
    data = {
        "timezone": "UTC",
        "actions": {"purchase": {"amount": "required"}},
        "rules": [{"name": "spend", "action": "purchase", "per_amount": 1}],
        "tiers": {
            "metric": "amount",
            "action": "purchase",
            "levels": [{"name": "member", "threshold": 0}],
            "multiplier_rules": ["spend", "spnd"],
        },
    }
    with pytest.raises(ProgramError) as info:
        Program.from_dict(data)
    assert info.value.key_path == "tiers.multiplier_rules[1]"
    assert "unknown rule 'spnd'" in info.value.reason


def test_members_start_in_the_first_tier_however_they_arrive(
    gamify_engine: EngineFactory,
) -> None:
    """A member who joins through a code, and a referrer who never tracked anything, hold the
    first tier from the start: its board lists them, as the profile says."""
    clock = ManualClock(utc(2026, 3, 2, 12))
    engine = gamify_engine(
        {
            **tier_program(),
            "referral": {
                "qualifying_action": "purchase",
                "referee_reward": 30,
                "referrer_fixed": 50,
            },
        },
        clock=clock,
    )
    first = LEVELS[0]["name"]
    code = engine.referral_code("amy")
    engine.join("bob", referral_code=code)
    engine.track("bob", "purchase", amount=10)  # amy earns her referral reward
    assert (engine.member("amy").tier, engine.member("bob").tier) == (first, first)
    board = engine.leaderboard(tier=first)
    assert sorted(row.member_id for row in board) == ["amy", "bob"]
    assert engine.rank("amy", tier=first) is not None


def test_a_review_run_late_still_judges_the_window_current_at_the_review(
    gamify_engine: EngineFactory,
) -> None:
    """Reviews on 28 December of calendar-year tiers. Gold from 6000 spent in 2025, nothing
    in 2026, 6000 again in 2027: the review of 28 December 2027, run only on 2 January 2028,
    judges 2027 (current at the review) as well as 2026, and keeps gold."""
    clock = ManualClock(utc(2025, 6, 1, 12))
    engine = gamify_engine(
        tier_program(window="calendar_year", review_month=12, review_day=28), clock=clock
    )
    engine.track("amy", "purchase", amount=6000)
    for year in (2025, 2026):
        clock.set(utc(year, 12, 28, 1))
        engine.run_due()
        assert engine.member("amy").tier == "gold"
    clock.set(utc(2027, 3, 1, 12))
    engine.track("amy", "purchase", amount=6000)
    clock.set(utc(2028, 1, 2, 12))
    assert engine.run_due().reviews == 1
    assert engine.member("amy").tier == "gold"


def test_a_move_puts_the_next_review_at_midnight_in_the_new_zone(
    gamify_engine: EngineFactory,
) -> None:
    """Upgraded in UTC, then moved to New York: the review of 1 January falls at midnight
    there (05:00 UTC), once, not at midnight UTC (19:00 the evening before in New York)."""
    clock = ManualClock(utc(2026, 3, 4, 15))
    engine = gamify_engine(tier_program(window="calendar_year"), clock=clock)
    engine.track("amy", "purchase", amount=2500)
    engine.set_member("amy", timezone="America/New_York")
    clock.set(utc(2027, 1, 1, 4, 59))  # 23:59 on 31 December in New York
    assert engine.run_due().reviews == 0
    clock.set(utc(2027, 1, 1, 5))
    assert engine.run_due().reviews == 1
    clock.set(utc(2027, 1, 2, 5))
    assert engine.run_due().reviews == 0


def test_retention_ending_at_the_review_instant_does_not_keep_the_tier(
    gamify_engine: EngineFactory,
) -> None:
    """Retention is half-open: twelve months from an upgrade at 2026-01-01 00:00 end exactly
    at the 2027-01-01 review, which then judges the (empty) window and downgrades."""
    clock = ManualClock(utc(2026, 1, 1))
    engine = gamify_engine(
        tier_program(window="rolling_months", months=1, retention_months=12), clock=clock
    )
    engine.track("amy", "purchase", amount=5000)
    assert engine.member("amy").tier == "gold"
    clock.set(utc(2027, 1, 1))
    assert engine.run_due().reviews == 1
    assert engine.member("amy").tier == "regular"


def test_a_calendar_year_is_read_in_the_members_zone_at_the_review(
    gamify_engine: EngineFactory,
) -> None:
    """The program is in UTC, the member in Shanghai. Her review at 2027-01-01 00:00 Shanghai
    (still 2026-12-31 in UTC) judges her 2026, in which she spent nothing: she drops then,
    not a year later."""
    clock = ManualClock(sh(2025, 6, 1, 10))
    engine = gamify_engine(tier_program(window="calendar_year"), clock=clock)
    engine.set_member("mei", timezone="Asia/Shanghai")
    engine.track("mei", "purchase", amount=5000)  # gold, from 2025's spend
    clock.set(sh(2026, 1, 1, 0, 0, 1))
    engine.run_due()  # judges 2025: gold stays
    assert engine.member("mei").tier == "gold"
    clock.set(sh(2027, 1, 1, 0, 0, 1))
    engine.run_due()  # judges 2026: nothing spent
    assert engine.member("mei").tier == "regular"


# The profile's tier value ----------------------------------------------------------------


def test_the_profile_shows_what_the_tier_reads_in_the_members_local_year(
    gamify_engine: EngineFactory,
) -> None:
    """A purchase at 23:30 on 31 December in Shanghai (15:30 UTC) counts in that year's
    window; at 07:30 on 1 January local time (still 31 December in UTC) the new year's
    window is empty, while the tier, kept until the review, stays silver."""
    clock = ManualClock(sh(2026, 12, 31, 23, 30))
    engine = gamify_engine(tier_program(), clock=clock)
    engine.set_member("amy", timezone="Asia/Shanghai")
    engine.track("amy", "purchase", amount=2400)
    profile = engine.member("amy")
    assert (profile.tier, profile.tier_value) == ("silver", 2400)
    clock.set(sh(2027, 1, 1, 7, 30))
    assert clock.now().date() == pendulum.date(2026, 12, 31)  # UTC is still in 2026
    assert engine.member("amy").tier_value == 0
    clock.set(sh(2027, 1, 1, 7, 40))
    engine.track("amy", "purchase", amount=300)
    assert engine.member("amy").tier_value == 300


def test_the_tier_value_follows_a_rolling_window_and_a_reversal(
    gamify_engine: EngineFactory,
) -> None:
    """Three months' rolling window: March's purchase drops out in June; a reversed
    purchase no longer counts."""
    clock = ManualClock(utc(2026, 3, 10, 12))
    engine = gamify_engine(tier_program(window="rolling_months", months=3), clock=clock)
    engine.track("bo", "purchase", amount=700)
    clock.set(utc(2026, 5, 10, 12))
    engine.track("bo", "purchase", amount=400, key="may")
    assert engine.member("bo").tier_value == 1100
    engine.reverse("bo", "may")
    assert engine.member("bo").tier_value == 700
    clock.set(utc(2026, 6, 1, 0))
    assert engine.member("bo").tier_value == 0


def test_the_tier_value_counts_points_earned_when_that_is_the_metric(
    gamify_engine: EngineFactory,
) -> None:
    """With metric points_earned the value is the rule points of the window."""
    clock = ManualClock(utc(2026, 3, 10, 12))
    program = tier_program(metric="points_earned")
    engine = gamify_engine(program, clock=clock)
    engine.track("cy", "purchase", amount=120)
    engine.track("cy", "check_in")
    assert engine.member("cy").tier_value == 125


def test_a_program_without_tiers_shows_no_tier_value(gamify_engine: EngineFactory) -> None:
    program = tier_program()
    del program["tiers"]
    engine = gamify_engine(program, clock=ManualClock(utc(2026, 3, 10, 12)))
    engine.track("di", "purchase", amount=50)
    profile = engine.member("di")
    assert (profile.tier, profile.tier_value) == (None, None)
