"""Pending points: shown but not spendable until their maturity instant, then spendable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pendulum
import pytest

from gamify import Engine, InsufficientBalanceError, ManualClock

EngineFactory = Callable[..., Engine]
US = timedelta(microseconds=1)


def sh(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> pendulum.DateTime:
    """A wall-clock time in Asia/Shanghai."""
    return pendulum.datetime(year, month, day, hour, minute, second, tz="Asia/Shanghai")


def shop(zone: str = "Asia/Shanghai", **extra: Any) -> dict[str, Any]:
    """Purchases earn a point per unit, pending for a 14-day return window; reports pay 150 now."""
    return {
        "timezone": zone,
        "actions": {"purchase": {"amount": "required"}, "trial_report": {"amount": "none"}},
        "rules": [
            {"name": "purchase_points", "action": "purchase", "per_amount": 1, "pending_days": 14},
            {"name": "report_points", "action": "trial_report", "fixed": 150},
        ],
        "expiry": {"policy": "months_end", "months": 12},
        **extra,
    }


def test_pending_points_show_in_the_profile_but_are_not_spendable(
    gamify_engine: EngineFactory,
) -> None:
    """A purchase of 100 shows 100 pending, 0 spendable, and reports when it matures."""
    clock = ManualClock(sh(2026, 3, 10, 10))
    engine = gamify_engine(shop(), clock=clock)
    credit = engine.track("amy", "purchase", amount=100).credits[0]
    assert credit.pending_until == sh(2026, 3, 24, 10)
    assert credit.expires_at == sh(2027, 4, 1)  # expiry counts from the event, pending or not
    profile = engine.member("amy")
    assert (profile.balances["points"], profile.pending["points"]) == (0, 100)
    with pytest.raises(InsufficientBalanceError):
        engine.redeem("amy", 1)


def test_pending_points_mature_at_their_exact_instant_through_run_due(
    gamify_engine: EngineFactory,
) -> None:
    """One microsecond before 2026-03-24 10:00 nothing matures; at it, run_due moves 100 from
    pending to spendable, and a second run_due does nothing."""
    clock = ManualClock(sh(2026, 3, 10, 10))
    engine = gamify_engine(shop(), clock=clock)
    engine.track("amy", "purchase", amount=100)

    clock.set(sh(2026, 3, 24, 10) - US)
    assert engine.run_due().matured_points == 0
    with pytest.raises(InsufficientBalanceError):
        engine.redeem("amy", 1)

    clock.set(sh(2026, 3, 24, 10))
    report = engine.run_due()
    assert (report.matured_points, report.matured_lots) == (100, 1)
    profile = engine.member("amy")
    assert (profile.balances["points"], profile.pending["points"]) == (100, 0)
    history = engine.history("amy")
    assert engine.run_due().matured_points == 0
    assert engine.history("amy") == history
    matured = [e for e in engine.store.history("amy") if e.kind == "mature"]
    assert {(e.account, e.amount, e.at) for e in matured} == {
        ("points:pending", -100, sh(2026, 3, 24, 10)),
        ("points", 100, sh(2026, 3, 24, 10)),
    }


def test_points_are_spendable_at_maturity_even_before_run_due(
    gamify_engine: EngineFactory,
) -> None:
    """At 2026-03-24 10:00 exactly, redeem spends the matured 100 though run_due never ran."""
    clock = ManualClock(sh(2026, 3, 10, 10))
    engine = gamify_engine(shop(), clock=clock)
    engine.track("amy", "purchase", amount=100)
    clock.set(sh(2026, 3, 24, 10))
    assert engine.redeem("amy", 60).points == 60
    assert engine.member("amy").pending["points"] == 0
    assert engine.balance("amy") == 40
    assert engine.run_due().matured_points == 0


def test_points_plus_cash_uses_points_matured_before_run_due(
    gamify_engine: EngineFactory,
) -> None:
    """An order of 100 at maturity takes 30 % of it from the 5000 matured points: 3000."""
    clock = ManualClock(sh(2026, 3, 10, 10))
    program = shop(redemption={"exchange_ratio": 100, "max_order_share": 0.3})
    engine = gamify_engine(program, clock=clock)
    engine.track("amy", "purchase", amount=5000)
    clock.set(sh(2026, 3, 24, 10))
    redemption = engine.redeem("amy", order_total=100)
    assert (redemption.points, redemption.cash) == (3000, Decimal(70))
    assert engine.balance("amy") == 2000


def test_expiry_counts_from_the_purchase_not_from_maturity(
    gamify_engine: EngineFactory,
) -> None:
    """A purchase on 2026-03-25 matures on 2026-04-08; under "12 months, at the end of that
    month" its lot ends March 2027 (2027-04-01 00:00), counted from the purchase, not April."""
    clock = ManualClock(sh(2026, 3, 25, 10))
    engine = gamify_engine(shop(), clock=clock)
    credit = engine.track("amy", "purchase", amount=100).credits[0]
    assert (credit.pending_until, credit.expires_at) == (sh(2026, 4, 8, 10), sh(2027, 4, 1))
    clock.set(sh(2027, 4, 1) - US)
    assert engine.run_due().expired_points == 0
    assert engine.balance("amy") == 100
    clock.set(sh(2027, 4, 1))
    assert engine.run_due().expired_points == 100
    assert engine.balance("amy") == 0


def test_fourteen_days_keep_the_wall_clock_time_across_dst(gamify_engine: EngineFactory) -> None:
    """In New York, a purchase on 2026-03-01 10:00 (EST) matures 2026-03-15 10:00 (EDT), which
    is 13 days 23 hours later."""
    start = pendulum.datetime(2026, 3, 1, 10, tz="America/New_York")
    clock = ManualClock(start)
    engine = gamify_engine(shop("America/New_York"), clock=clock)
    credit = engine.track("amy", "purchase", amount=100).credits[0]
    assert credit.pending_until == pendulum.datetime(2026, 3, 15, 10, tz="America/New_York")
    assert credit.pending_until is not None
    assert credit.pending_until - start == timedelta(days=13, hours=23)


def test_a_pending_lot_past_its_expiry_matures_and_expires_together(
    gamify_engine: EngineFactory,
) -> None:
    """Points pending until 2026-04-07 with an end-of-month validity mature and expire in one
    run_due on 2026-04-10: never spendable."""
    clock = ManualClock(sh(2026, 3, 24, 10))
    engine = gamify_engine(shop(expiry={"policy": "months_end", "months": 0}), clock=clock)
    engine.track("amy", "purchase", amount=100)
    clock.set(sh(2026, 4, 10))
    report = engine.run_due()
    assert (report.matured_points, report.expired_points) == (100, 100)
    profile = engine.member("amy")
    assert (profile.balances["points"], profile.pending["points"]) == (0, 0)


@pytest.mark.parametrize(
    ("run_at", "expired"),
    [
        pytest.param(sh(2026, 4, 1) - US, 0, id="a microsecond before the expiry"),
        pytest.param(sh(2026, 4, 1), 100, id="at the expiry instant"),
    ],
)
def test_a_lot_maturing_in_a_run_due_at_its_expiry_instant_expires_with_it(
    gamify_engine: EngineFactory, run_at: pendulum.DateTime, expired: int
) -> None:
    """Pending until 2026-03-24 10:00 and due at the end of March: a first run_due a microsecond
    before 2026-04-01 00:00 matures 100 spendable points; one at that instant matures and
    expires them together (a lot is not spendable at its expiry instant)."""
    clock = ManualClock(sh(2026, 3, 10, 10))
    engine = gamify_engine(shop(expiry={"policy": "months_end", "months": 0}), clock=clock)
    engine.track("amy", "purchase", amount=100)
    clock.set(run_at)
    report = engine.run_due()
    assert (report.matured_points, report.expired_points) == (100, expired)
    assert engine.balance("amy") == 100 - expired


def test_a_pending_lot_past_its_expiry_announces_its_maturity_and_its_expiry(
    gamify_engine: EngineFactory,
) -> None:
    """The lot that matures already expired fires points_matured, then points_expired."""
    clock = ManualClock(sh(2026, 3, 24, 10))
    engine = gamify_engine(shop(expiry={"policy": "months_end", "months": 0}), clock=clock)
    events: list[Any] = []
    engine.on("*", events.append)
    engine.track("amy", "purchase", amount=100)
    lot_id = engine.store.member_lots("amy", "points")[0].lot_id
    events.clear()
    clock.set(sh(2026, 4, 10))
    engine.run_due()
    assert [(e.name, e.payload) for e in events] == [
        ("points_matured", {"points": 100, "lot_id": lot_id}),
        ("points_expired", {"points": 100, "lot_id": lot_id}),
    ]


def test_immediate_rules_are_spendable_at_once(gamify_engine: EngineFactory) -> None:
    """A trial report's 150 points have no return window."""
    clock = ManualClock(sh(2026, 3, 10, 10))
    engine = gamify_engine(shop(), clock=clock)
    assert engine.track("amy", "trial_report").credits[0].pending_until is None
    assert engine.redeem("amy", 150).points == 150


def test_a_pending_lot_due_within_the_window_is_renewed(gamify_store_target: Any) -> None:
    """Points of 25 January, pending for 14 days but due at the end of January (a rule valid
    to the end of its month), would expire before they ever matured. A trial report on 28
    January renews every lot due within 30 days, the pending one too: it runs to the end
    of July and matures on 8 February."""
    program = shop(renewal={"actions": ["trial_report"], "within_days": 30, "months": 6})
    program["rules"][0]["validity"] = {"policy": "months_end", "months": 0}
    clock = ManualClock(sh(2027, 1, 25, 10))
    store = gamify_store_target.open()
    try:
        check_pending_renewal(Engine(program, store=store, clock=clock), clock)
    finally:
        store.close()


def check_pending_renewal(engine: Engine, clock: ManualClock) -> None:
    credit = engine.track("amy", "purchase", amount=100).credits[0]
    assert (credit.pending_until, credit.expires_at) == (sh(2027, 2, 8, 10), sh(2027, 2, 1))
    clock.set(sh(2027, 1, 28, 10))
    engine.track("amy", "trial_report")
    pending = next(lot for lot in engine.store.member_lots("amy", "points") if lot.amount == 100)
    assert (pending.status, pending.expires_at) == ("pending", sh(2027, 8, 1))
    clock.set(sh(2027, 2, 8, 10))
    engine.run_due()
    assert engine.balance("amy") == 250


def test_reminders_list_pending_points_that_mature_before_they_expire(
    gamify_engine: EngineFactory,
) -> None:
    """Under expiry at the end of the month of earning, a purchase on 3 March (pending to the
    17th) is listed with its maturity, and once matured as spendable, before run_due settles
    it. One on 20 March (pending to 3 April, after its expiry on 1 April) never becomes
    spendable and is not listed."""
    clock = ManualClock(sh(2026, 3, 3, 10))
    engine = gamify_engine(shop(expiry={"policy": "months_end", "months": 0}), clock=clock)
    engine.track("amy", "purchase", amount=100)

    clock.set(sh(2026, 3, 17, 10) - US)  # one microsecond before it matures
    due = engine.expiring("amy", within=timedelta(days=30))
    assert [(lot.points, lot.pending_until, lot.expires_at) for lot in due] == [
        (100, sh(2026, 3, 17, 10), sh(2026, 4, 1))
    ]

    clock.set(sh(2026, 3, 20, 10))
    engine.track("amy", "purchase", amount=40)
    engine.track("amy", "trial_report")  # 150 spendable at once
    due = engine.expiring("amy", within=timedelta(days=30))
    assert [(lot.points, lot.pending_until) for lot in due] == [(100, None), (150, None)]
    assert engine.member("amy").pending["points"] == 140  # run_due has not matured the 100
