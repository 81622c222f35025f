"""Points expiry: each policy at its exact boundary instant, renewal, reminders and run_due."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pendulum
import pytest
from freezegun import freeze_time

from gamify import Engine, InsufficientBalanceError, ManualClock, SystemClock

EngineFactory = Callable[..., Engine]
US = timedelta(microseconds=1)


def sh(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> pendulum.DateTime:
    """A wall-clock time in Asia/Shanghai."""
    return pendulum.datetime(year, month, day, hour, minute, second, tz="Asia/Shanghai")


def program(expiry: dict[str, Any], **rule_validity: dict[str, Any]) -> dict[str, Any]:
    """A Shanghai shop: ``check_in`` pays 100, ``campaign`` 50, each with an optional validity."""
    rules: list[dict[str, Any]] = [
        {"name": "check_in_points", "action": "check_in", "fixed": 100},
        {"name": "campaign_points", "action": "campaign", "fixed": 50},
    ]
    for rule in rules:
        if rule["name"] in rule_validity:
            rule["validity"] = rule_validity[rule["name"]]
    return {
        "timezone": "Asia/Shanghai",
        "actions": {"check_in": {"amount": "none"}, "campaign": {"amount": "none"}},
        "rules": rules,
        "expiry": expiry,
    }


POLICIES = [
    pytest.param(
        {"policy": "end_of_next_year"}, sh(2026, 6, 15, 10), sh(2028, 1, 1), id="end_of_next_year"
    ),
    pytest.param(
        # 07:00 on 1 January in Shanghai is still 31 December in UTC: earned in 2026 locally.
        {"policy": "end_of_next_year"},
        sh(2026, 1, 1, 7),
        sh(2028, 1, 1),
        id="next_year_local",
    ),
    pytest.param(
        {"policy": "months_end", "months": 12}, sh(2026, 3, 15, 10), sh(2027, 4, 1), id="months_end"
    ),
    pytest.param(
        {"policy": "months_end", "months": 0}, sh(2026, 3, 31, 23), sh(2026, 4, 1), id="month_end"
    ),
    pytest.param(
        {"policy": "months", "months": 3},
        sh(2026, 3, 15, 10, 30),
        sh(2026, 6, 15, 10, 30),
        id="months",
    ),
    pytest.param(
        # 31 January plus one month is the last day of February, at the same wall-clock time.
        {"policy": "months", "months": 1},
        sh(2026, 1, 31, 9),
        sh(2026, 2, 28, 9),
        id="months_short",
    ),
]


@pytest.mark.parametrize(("expiry", "earned", "gone"), POLICIES)
def test_a_lot_is_spendable_before_its_expiry_instant_and_not_at_it(
    gamify_engine: EngineFactory, expiry: dict[str, Any], earned: datetime, gone: datetime
) -> None:
    """A lot can be spent one microsecond before its expiry instant; at the instant it is gone."""
    clock = ManualClock(earned)
    engine = gamify_engine(program(expiry), clock=clock)
    credit = engine.track("amy", "check_in").credits[0]
    assert credit.expires_at == gone

    clock.set(gone - US)
    assert engine.run_due().expired_points == 0
    assert engine.redeem("amy", 1).points == 1  # spendable at the last microsecond
    assert engine.balance("amy") == 99

    clock.set(gone)
    with pytest.raises(InsufficientBalanceError):
        engine.redeem("amy", 1)
    report = engine.run_due()
    assert (report.expired_points, report.expired_lots) == (99, 1)
    assert engine.balance("amy") == 0
    assert engine.history("amy")[0].kind == "expire"
    assert engine.history("amy")[0].amount == -99


def test_balances_show_expiry_once_run_due_or_redeem_writes_it(
    gamify_engine: EngineFactory,
) -> None:
    """Past the expiry instant, before run_due: balance() still counts the lot as written, a
    redeem refuses it (it settles the member's due lots first) and writes nothing, and
    run_due writes the expiry."""
    clock = ManualClock(sh(2026, 3, 31, 23))
    engine = gamify_engine(program({"policy": "months_end", "months": 0}), clock=clock)
    engine.track("amy", "check_in")
    clock.set(sh(2026, 4, 1, 0, 0, 1))
    assert engine.balance("amy") == 100
    with pytest.raises(InsufficientBalanceError) as info:
        engine.redeem("amy", 100)
    assert info.value.available == 0
    assert engine.balance("amy") == 100
    assert engine.run_due().expired_points == 100
    assert engine.balance("amy") == 0


def test_end_of_next_year_is_spendable_at_the_last_second_of_2027(
    gamify_engine: EngineFactory,
) -> None:
    """Earned in 2026: spendable at 2027-12-31T23:59:59 local, gone at 2028-01-01 00:00 local."""
    clock = ManualClock(sh(2026, 12, 31, 23, 59))
    engine = gamify_engine(program({"policy": "end_of_next_year"}), clock=clock)
    engine.track("amy", "check_in")
    clock.set(sh(2027, 12, 31, 23, 59, 59))
    assert engine.redeem("amy", 40).points == 40
    clock.set(sh(2028, 1, 1))
    with pytest.raises(InsufficientBalanceError):
        engine.redeem("amy", 1)
    assert engine.run_due().expired_points == 60


def test_the_beauty_store_lot_expires_at_the_end_of_the_twelfth_month(
    beauty: Engine, clock: ManualClock
) -> None:
    """A purchase on 2026-03-15 earns a lot due at 2027-04-01 00:00 Shanghai (end of March 2027)."""
    clock.set(sh(2026, 3, 15, 10))
    credit = beauty.track("amy", "purchase", amount=100).credits[0]
    assert credit.expires_at == sh(2027, 4, 1)


def test_a_rules_validity_overrides_the_programs_policy(gamify_engine: EngineFactory) -> None:
    """The program keeps points 12 months to month end; campaign points last 3 months, check-in
    points to the end of the current month."""
    clock = ManualClock(sh(2026, 3, 15, 10))
    engine = gamify_engine(
        program(
            {"policy": "months_end", "months": 12},
            campaign_points={"policy": "months", "months": 3},
            check_in_points={"policy": "months_end", "months": 0},
        ),
        clock=clock,
    )
    assert engine.track("amy", "check_in").credits[0].expires_at == sh(2026, 4, 1)
    assert engine.track("amy", "campaign").credits[0].expires_at == sh(2026, 6, 15, 10)
    default = gamify_engine(program({"policy": "months_end", "months": 12}), clock=clock)
    assert default.track("amy", "campaign").credits[0].expires_at == sh(2027, 4, 1)

    clock.set(sh(2026, 4, 1))
    assert engine.run_due().expired_points == 100  # the check-in lot only
    clock.set(sh(2026, 6, 15, 10))
    assert engine.run_due().expired_points == 50
    assert engine.balance("amy") == 0


def test_a_rule_that_never_expires_inside_an_expiring_program(
    gamify_engine: EngineFactory,
) -> None:
    """A rule with validity 'never' keeps its lot while the program's points expire."""
    clock = ManualClock(sh(2026, 3, 15, 10))
    engine = gamify_engine(
        program({"policy": "months_end", "months": 0}, campaign_points={"policy": "never"}),
        clock=clock,
    )
    engine.track("amy", "check_in")
    assert engine.track("amy", "campaign").credits[0].expires_at is None
    clock.set(sh(2040, 1, 1))
    assert engine.run_due().expired_points == 100
    assert engine.balance("amy") == 50


def test_never_expiring_points_survive_any_run_due(gamify_engine: EngineFactory) -> None:
    """Under 'never' no lot has an expiry, no reminder lists it and run_due in 2060 keeps it."""
    clock = ManualClock(sh(2026, 3, 15, 10))
    engine = gamify_engine(program({"policy": "never"}), clock=clock)
    assert engine.track("amy", "check_in").credits[0].expires_at is None
    assert engine.expiring("amy", within=timedelta(days=365 * 100)) == []
    clock.set(sh(2060, 1, 1))
    assert engine.run_due().expired_points == 0
    assert engine.balance("amy") == 100


def test_expiry_under_frozen_time(gamify_engine: EngineFactory) -> None:
    """With freezegun on the default clock, a months_end lot expires at local month end."""
    with freeze_time("2026-03-15 02:00:00+00:00") as frozen:
        engine = gamify_engine(program({"policy": "months_end", "months": 0}), clock=SystemClock())
        engine.track("amy", "check_in")
        frozen.move_to("2026-03-31 15:59:59.999999+00:00")  # 23:59:59.999999 in Shanghai
        assert engine.run_due().expired_points == 0
        frozen.move_to("2026-03-31 16:00:00+00:00")  # 2026-04-01 00:00 in Shanghai
        assert engine.run_due().expired_points == 100
        assert engine.balance("amy") == 0


# Renewal -------------------------------------------------------------------------------


def test_a_purchase_renews_a_month_end_lot_to_a_month_end(
    beauty: Engine, clock: ManualClock
) -> None:
    """A lot due at the end of January 2027 (2027-02-01 00:00) is pushed to the end of July
    (2027-08-01 00:00) by a purchase on 2027-01-10; a lot due at the end of March is not."""
    clock.set(sh(2026, 1, 10, 10))
    beauty.track("amy", "purchase", amount=100)  # due 2027-02-01
    clock.set(sh(2026, 3, 10, 10))
    beauty.track("amy", "purchase", amount=200)  # due 2027-04-01, beyond 30 days
    clock.set(sh(2027, 1, 10, 10))
    beauty.track("amy", "purchase", amount=300)  # renews the first lot only

    lots = sorted(beauty.store.member_lots("amy", "points"), key=lambda lot: lot.amount)
    assert [(lot.amount, lot.expires_at) for lot in lots] == [
        (100, sh(2027, 8, 1)),
        (200, sh(2027, 4, 1)),
        (300, sh(2028, 2, 1)),
    ]
    clock.set(sh(2027, 2, 1))
    assert beauty.run_due().expired_points == 0
    assert beauty.balance("amy") == 600
    clock.set(sh(2027, 8, 1))
    report = beauty.run_due()
    assert report.expired_points == 300  # the 200 lot (April) and the renewed 100 lot (August)
    assert beauty.balance("amy") == 300


def test_only_the_renewal_action_renews(beauty: Engine, clock: ManualClock) -> None:
    """A trial report on 2027-01-10 does not push back a lot due at 2027-02-01."""
    clock.set(sh(2026, 1, 10, 10))
    beauty.track("amy", "purchase", amount=100)
    clock.set(sh(2027, 1, 10, 10))
    beauty.track("amy", "trial_report")
    lot = next(x for x in beauty.store.member_lots("amy", "points") if x.amount == 100)
    assert lot.expires_at == sh(2027, 2, 1)


def test_renewal_reaches_only_lots_due_within_30_days(beauty: Engine, clock: ManualClock) -> None:
    """A purchase at 2027-01-02 00:00 renews a lot due 2027-02-01 00:00 (30 days later) only
    if it falls strictly inside the window: it does not."""
    clock.set(sh(2026, 1, 10, 10))
    beauty.track("amy", "purchase", amount=100)
    clock.set(sh(2027, 1, 2))
    beauty.track("amy", "purchase", amount=1)
    lot = next(x for x in beauty.store.member_lots("amy", "points") if x.amount == 100)
    assert lot.expires_at == sh(2027, 2, 1)
    clock.set(sh(2027, 1, 2) + US)
    beauty.track("amy", "purchase", amount=1)
    lot = next(x for x in beauty.store.member_lots("amy", "points") if x.amount == 100)
    assert lot.expires_at == sh(2027, 8, 1)


def test_a_purchase_at_a_lots_expiry_instant_does_not_renew_it(
    beauty: Engine, clock: ManualClock
) -> None:
    """A lot is not spendable at its expiry instant, so a purchase at exactly 2027-02-01 00:00
    leaves the lot due then expired rather than renewing it."""
    clock.set(sh(2026, 1, 10, 10))
    beauty.track("amy", "purchase", amount=100)
    clock.set(sh(2027, 2, 1))
    beauty.track("amy", "purchase", amount=1)
    lot = next(x for x in beauty.store.member_lots("amy", "points") if x.amount == 100)
    assert lot.expires_at == sh(2027, 2, 1)
    assert beauty.run_due().expired_points == 100
    assert beauty.balance("amy") == 1


def test_the_renewal_window_counts_local_days_across_dst(gamify_engine: EngineFactory) -> None:
    """In New York, 30 days from 1 March 2026 12:00 EST end at 31 March 12:00 EDT (16:00 UTC,
    an hour short of 30 x 24 hours): a lot due at 12:30 EDT that day lies outside the window
    and is not renewed; one due at 11:30 EDT is."""
    def ny(month: int, day: int, hour: int, minute: int = 0) -> pendulum.DateTime:
        return pendulum.datetime(2026, month, day, hour, minute, tz="America/New_York")

    clock = ManualClock(ny(1, 31, 11, 30))
    engine = gamify_engine(
        {
            "timezone": "America/New_York",
            "actions": {"check_in": {"amount": "none"}},
            "rules": [{"name": "check_in_points", "action": "check_in", "fixed": 100}],
            "expiry": {"policy": "months", "months": 2},
            "renewal": {"actions": ["check_in"], "within_days": 30, "months": 6},
        },
        clock=clock,
    )
    engine.track("amy", "check_in")  # due 31 March 11:30 EDT
    clock.set(ny(1, 31, 12, 30))
    engine.track("amy", "check_in")  # due 31 March 12:30 EDT
    clock.set(ny(3, 1, 12))
    engine.track("amy", "check_in")
    due = sorted(lot.expires_at for lot in engine.store.member_lots("amy", "points"))
    assert due == [ny(3, 31, 12, 30), ny(5, 1, 12), ny(9, 30, 11, 30)]


@pytest.mark.parametrize("run_due_first", [False, True])
def test_a_late_purchase_renews_only_lots_still_alive_when_it_is_tracked(
    beauty: Engine, clock: ManualClock, run_due_first: bool
) -> None:
    """A purchase dated 2027-01-25 but tracked on 2027-02-03: the lots that expired on
    2027-02-01 stay expired, whether or not run_due booked them first."""
    clock.set(sh(2026, 1, 10, 10))
    beauty.track("amy", "purchase", amount=100)  # due 2027-02-01
    clock.set(sh(2026, 1, 25, 10))
    beauty.track("amy", "purchase", amount=50)  # due 2027-02-01 as well (month's end)
    clock.set(sh(2027, 2, 3, 10))
    if run_due_first:
        assert beauty.run_due().expired_points == 150
    beauty.track("amy", "purchase", amount=7, at=sh(2027, 1, 25, 10))
    beauty.run_due()
    assert beauty.balance("amy") == 7
    assert [lot.amount for lot in beauty.store.member_lots("amy", "points")] == [7]


# Reminders -----------------------------------------------------------------------------


def test_expiring_lists_lots_due_within_the_window_soonest_first(
    beauty: Engine, clock: ManualClock
) -> None:
    """On 2027-02-15 with lots due at the ends of February, March and May 2027, a 45-day window
    lists February's and March's (what is left of them), soonest first."""
    clock.set(sh(2026, 5, 10, 10))
    beauty.track("amy", "purchase", amount=300)  # due 2027-06-01
    clock.set(sh(2026, 3, 10, 10))
    beauty.track("amy", "purchase", amount=200)  # due 2027-04-01
    clock.set(sh(2026, 2, 10, 10))
    beauty.track("amy", "purchase", amount=100)  # due 2027-03-01
    clock.set(sh(2027, 1, 5, 10))
    beauty.redeem("amy", 40)  # from the February lot
    clock.set(sh(2027, 2, 15, 10))
    due = beauty.expiring("amy", within=timedelta(days=45))
    assert [(x.points, x.expires_at) for x in due] == [(60, sh(2027, 3, 1)), (200, sh(2027, 4, 1))]
    assert due[0].rule == "purchase_points"
    assert beauty.expiring("amy", within=timedelta(days=10)) == []
    assert len(beauty.expiring("amy", within=timedelta(days=200))) == 3


def test_expired_and_spent_lots_are_not_listed(beauty: Engine, clock: ManualClock) -> None:
    """A lot already past its expiry (run_due not yet run) and a fully spent lot are not
    reminders."""
    clock.set(sh(2026, 1, 10, 10))
    beauty.track("amy", "purchase", amount=100)  # due 2027-02-01
    clock.set(sh(2026, 2, 10, 10))
    beauty.track("amy", "purchase", amount=50)  # due 2027-03-01
    clock.set(sh(2026, 12, 1, 10))
    beauty.redeem("amy", 100)  # the January lot
    clock.set(sh(2027, 3, 1, 10))
    assert beauty.expiring("amy", within=timedelta(days=400)) == []


def test_a_lot_is_not_listed_at_its_expiry_instant(beauty: Engine, clock: ManualClock) -> None:
    """At 2027-03-01 00:00 local a lot due then is already gone (half-open), so no reminder."""
    clock.set(sh(2026, 2, 10, 10))
    beauty.track("amy", "purchase", amount=50)  # due 2027-03-01
    clock.set(sh(2027, 3, 1) - US)
    assert [x.points for x in beauty.expiring("amy", within=timedelta(days=1))] == [50]
    clock.set(sh(2027, 3, 1))
    assert beauty.expiring("amy", within=timedelta(days=1)) == []


# run_due ----------------------------------------------------------------------------------


def test_run_due_twice_in_a_row_changes_nothing_the_second_time(
    beauty: Engine, clock: ManualClock
) -> None:
    """The second run_due at the same instant expires nothing and writes no entry."""
    clock.set(sh(2026, 1, 10, 10))
    beauty.track("amy", "purchase", amount=100)
    beauty.track("bob", "purchase", amount=70)
    clock.set(sh(2027, 2, 1))
    first = beauty.run_due()
    assert (first.expired_points, first.expired_lots) == (170, 2)
    history = {m: beauty.history(m) for m in ("amy", "bob")}
    second = beauty.run_due()
    assert second.model_dump() == {
        "expired_points": 0,
        "expired_lots": 0,
        "matured_points": 0,
        "matured_lots": 0,
        "reviews": 0,
        "tier_changes": [],
    }
    assert {m: beauty.history(m) for m in ("amy", "bob")} == history


def test_expiry_entries_carry_their_reason_and_keep_the_ledger_balanced(
    beauty: Engine, clock: ManualClock
) -> None:
    """After expiry the balance equals the sum of the ledger entries of the points account."""
    clock.set(sh(2026, 1, 10, 10))
    beauty.track("amy", "purchase", amount=100)
    clock.set(sh(2026, 6, 10, 10))
    beauty.track("amy", "purchase", amount=40)
    clock.set(sh(2027, 2, 1))
    beauty.run_due()
    entries = [e for e in beauty.store.history("amy") if e.account == "points"]
    assert sum(e.amount for e in entries) == beauty.balance("amy") == 40
    assert [(e.kind, e.reason, e.amount) for e in entries if e.kind == "expire"] == [
        ("expire", "expired", -100)
    ]
