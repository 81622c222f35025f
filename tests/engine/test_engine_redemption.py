"""Redemption and history: spends take lots soonest-expiring first, refunds give back exactly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pendulum
import pytest

from gamify import (
    Engine,
    InsufficientBalanceError,
    ManualClock,
    Redemption,
    UnknownMemberError,
)
from gamify.store import Lot

EngineFactory = Callable[..., Engine]

SHOP: dict[str, Any] = {
    "timezone": "UTC",
    "actions": {"signup": {}, "purchase": {}, "promo": {}},
    "rules": [
        {"name": "welcome", "action": "signup", "fixed": 100},  # never expires
        {
            "name": "spend",
            "action": "purchase",
            "per_amount": 1,
            "validity": {"policy": "months", "months": 12},
        },
        {
            "name": "flash",
            "action": "promo",
            "fixed": 100,
            "validity": {"policy": "months_end", "months": 0},
        },
    ],
}

START = pendulum.datetime(2026, 5, 10, 12, tz="UTC")


@pytest.fixture
def engine(gamify_engine: EngineFactory, gamify_clock: ManualClock) -> Engine:
    gamify_clock.set(START)
    return gamify_engine(SHOP)


def earn_three_lots(engine: Engine, clock: ManualClock) -> None:
    """100 never expiring, then 100 expiring in a year, then 100 expiring at the month's end."""
    engine.track("alice", "signup")
    clock.advance(minutes=1)
    engine.track("alice", "purchase", amount=100)
    clock.advance(minutes=1)
    engine.track("alice", "promo")
    clock.advance(minutes=1)


def lots_of(engine: Engine, redemption: Redemption) -> dict[str, Lot]:
    """The lots a redemption spent, by id (read through the store port)."""
    with engine.store.unit_of_work([redemption.member_id]) as uow:
        return {lot.lot_id: lot for lot in uow.get_lots([i for i, _ in redemption.lots])}


def used_by_rule(engine: Engine, redemption: Redemption) -> list[tuple[str, int]]:
    lots = lots_of(engine, redemption)
    return [(lots[lot_id].rule, used) for lot_id, used in redemption.lots]


def remaining_by_rule(engine: Engine, member: str = "alice") -> dict[str, int]:
    return {lot.rule: lot.remaining for lot in engine.store.member_lots(member, "points")}


def test_a_spend_takes_the_soonest_expiring_lot_first_and_never_expiring_last(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    """150 points come from the month-end lot (100) then the one-year lot (50); the welcome lot
    stays."""
    earn_three_lots(engine, gamify_clock)
    redemption = engine.redeem("alice", 150)
    assert used_by_rule(engine, redemption) == [("flash", 100), ("spend", 50)]
    assert remaining_by_rule(engine) == {"welcome": 100, "spend": 50}
    assert engine.balance("alice") == 150
    second = engine.redeem("alice", 100)
    assert used_by_rule(engine, second) == [("spend", 50), ("welcome", 50)]
    assert engine.balance("alice") == 50


def test_lots_with_one_expiry_are_spent_earliest_earned_first(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    """Two month-end lots expire together; the one earned first is spent first."""
    engine.track("alice", "promo", key="first")
    gamify_clock.advance(hours=1)
    engine.track("alice", "promo", key="second")
    redemption = engine.redeem("alice", 120)
    lots = lots_of(engine, redemption)
    assert [(lots[i].key, used) for i, used in redemption.lots] == [("first", 100), ("second", 20)]


def test_a_lot_past_its_expiry_is_not_spent(engine: Engine, gamify_clock: ManualClock) -> None:
    """At the month-end expiry instant the flash lot is no longer spendable; other lots pay."""
    earn_three_lots(engine, gamify_clock)
    gamify_clock.set(pendulum.datetime(2026, 6, 1, tz="UTC"))
    redemption = engine.redeem("alice", 120)
    assert used_by_rule(engine, redemption) == [("spend", 100), ("welcome", 20)]


def test_spending_more_than_the_balance_is_refused_and_writes_nothing(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    """Redeeming 301 of 300 points raises InsufficientBalanceError naming both and changes
    nothing."""
    earn_three_lots(engine, gamify_clock)
    before = (engine.member("alice"), engine.history("alice"), remaining_by_rule(engine))
    with pytest.raises(InsufficientBalanceError) as info:
        engine.redeem("alice", 301, key="too-much")
    err = info.value
    fields = (err.member_id, err.currency, err.requested, err.available)
    assert fields == ("alice", "points", 301, 300)
    assert (engine.member("alice"), engine.history("alice"), remaining_by_rule(engine)) == before
    # The refused key was not used up.
    assert engine.redeem("alice", 300, key="too-much").points == 300
    assert engine.balance("alice") == 0


def test_redeeming_for_an_unknown_member_is_refused(engine: Engine) -> None:
    """A member never seen has nothing to spend: UnknownMemberError."""
    with pytest.raises(UnknownMemberError):
        engine.redeem("ghost", 1)


def test_a_refund_restores_exactly_the_lots_spent(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    """After redeeming 150 and refunding it, every lot and the balance are as before."""
    earn_three_lots(engine, gamify_clock)
    before = remaining_by_rule(engine)
    redemption = engine.redeem("alice", 150)
    refunded = engine.refund(redemption)
    assert refunded.refunded is True
    assert remaining_by_rule(engine) == before == {"welcome": 100, "spend": 100, "flash": 100}
    assert engine.balance("alice") == 300
    assert engine.refund(redemption) == refunded  # a second refund changes nothing
    assert engine.balance("alice") == 300


def test_a_refund_by_id_needs_the_member(engine: Engine, gamify_clock: ManualClock) -> None:
    """refund() takes a Redemption or its id with the member id."""
    earn_three_lots(engine, gamify_clock)
    redemption = engine.redeem("alice", 10)
    assert engine.refund(redemption.redemption_id, "alice").refunded
    assert engine.balance("alice") == 300


def test_a_refunded_lot_that_expired_meanwhile_comes_back_expired(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    """Points refunded after their lot's expiry are restored and expired at once: the balance
    does not rise."""
    earn_three_lots(engine, gamify_clock)
    redemption = engine.redeem("alice", 150)  # flash 100 + spend 50
    gamify_clock.set(pendulum.datetime(2026, 6, 2, tz="UTC"))
    engine.refund(redemption)
    assert engine.balance("alice") == 150 + 50
    kinds = [(h.kind, h.amount) for h in engine.history("alice")[:3]]
    assert sorted(kinds) == [("expire", -100), ("refund", 50), ("refund", 100)]


def test_history_is_newest_first_with_reasons(engine: Engine, gamify_clock: ManualClock) -> None:
    """History lists entries newest first, each with its kind and reason."""
    earn_three_lots(engine, gamify_clock)
    engine.redeem("alice", 30)
    rows = engine.history("alice")
    assert [(h.kind, h.reason, h.amount) for h in rows] == [
        ("spend", "redemption", -30),
        ("earn", "flash", 100),
        ("earn", "spend", 100),
        ("earn", "welcome", 100),
    ]
    times: list[datetime] = [h.at for h in rows]
    assert times == sorted(times, reverse=True)
    assert times[-1] == START
    assert times[0] == START + timedelta(minutes=3)
    assert engine.history("alice", limit=2) == rows[:2]


def test_balance_always_equals_the_sum_of_history(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    """After earning, spending and refunding, the balance is the sum of the ledger entries."""
    earn_three_lots(engine, gamify_clock)
    first = engine.redeem("alice", 120)
    engine.redeem("alice", 60)
    engine.refund(first)
    total = sum(h.amount for h in engine.history("alice") if h.account == "points")
    assert engine.balance("alice") == total == 300 - 60
