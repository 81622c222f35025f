"""Debt from a reversal's shortfall is settled first by any points that come in: rule
credits, refunds of redemptions, and in every spendable currency separately."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from gamify import Engine, ManualClock
from gamify.store import Changes

EngineFactory = Callable[..., Engine]
START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

SHOP: dict[str, Any] = {
    "timezone": "UTC",
    "currencies": {"points": {"spendable": True}, "coins": {"spendable": True}},
    "actions": {
        "purchase": {"amount": "required"},
        "earn_points": {"amount": "none"},
        "earn_coins": {"amount": "none"},
    },
    "rules": [
        {"name": "buy_points", "action": "purchase", "per_amount": 1},
        {"name": "buy_coins", "action": "purchase", "currency": "coins", "per_amount": 1},
        {"name": "bonus_points", "action": "earn_points", "fixed": 100},
        {"name": "bonus_coins", "action": "earn_coins", "currency": "coins", "fixed": 30},
    ],
    # Coins are spent on repairing a broken streak of bonus days.
    "streaks": {
        "bonus_days": {
            "actions": ["earn_points"],
            "repair": {"window_hours": 48, "cost": 100, "currency": "coins"},
        }
    },
}


def owe_both(engine: Engine, clock: ManualClock) -> None:
    """Leave ann owing 100 points and 100 coins, with nothing to spend."""
    engine.track("ann", "purchase", amount=100, key="k")  # 100 points and 100 coins
    engine.track("ann", "earn_points")
    clock.advance(days=2)
    engine.track("ann", "earn_points")  # a day missed: the streak broke
    engine.repair_streak("ann", "bonus_days")  # spends the 100 coins
    engine.redeem("ann", 300)
    assert engine.reverse("ann", "k").debt == 200


def ledger_sums(engine: Engine, member: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for entry in engine.store.history(member):
        out[entry.account] = out.get(entry.account, 0) + entry.amount
    return {a: v for a, v in out.items() if v}


@pytest.fixture
def engine(gamify_engine: EngineFactory, gamify_clock: ManualClock) -> Engine:
    gamify_clock.set(START)
    return gamify_engine(SHOP)


def test_a_refund_settles_debt_before_the_points_can_be_spent_again(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    """Earn 100, spend 100, reverse the earning (100 owed), refund the spend: the points
    that come back pay the debt; none are spendable."""
    engine.track("ann", "purchase", amount=100, key="p1")
    redemption = engine.redeem("ann", 100)
    gamify_clock.advance(hours=1)
    assert engine.reverse("ann", "p1").debt == 100
    gamify_clock.advance(hours=1)
    engine.refund(redemption)
    balances = engine.store.get_balances("ann")
    assert (balances.get("points", 0), balances.get("points:debt", 0)) == (0, 0)
    assert engine.member("ann").debt["points"] == 0
    assert engine.store.member_lots("ann", "points") == []  # the refunded lot paid the debt
    engine.track("ann", "purchase", amount=10)  # nothing left to settle
    assert engine.balance("ann") == 10
    assert ledger_sums(engine, "ann") == {
        a: v for a, v in engine.store.get_balances("ann").items() if v
    }


def test_a_refund_larger_than_the_debt_keeps_the_rest_spendable(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    engine.track("ann", "purchase", amount=100, key="p1")
    engine.track("ann", "earn_points")  # 100 more
    redemption = engine.redeem("ann", 200)
    assert engine.reverse("ann", "p1").debt == 100
    engine.refund(redemption)
    assert engine.balance("ann") == 100
    assert engine.store.get_balances("ann").get("points:debt", 0) == 0


def test_debt_in_each_currency_is_settled_by_credits_of_that_currency(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    owe_both(engine, gamify_clock)
    engine.track("ann", "earn_points")  # settles the points debt
    balances = engine.store.get_balances("ann")
    assert (balances["points:debt"], balances["coins:debt"]) == (0, 100)
    engine.track("ann", "earn_coins")  # 30 coins: all to the coins debt
    balances = engine.store.get_balances("ann")
    assert (balances["coins"], balances["coins:debt"]) == (0, 70)
    for _ in range(3):
        engine.track("ann", "earn_coins")
    balances = engine.store.get_balances("ann")
    assert (balances["coins"], balances["coins:debt"]) == (20, 0)


def test_a_debt_flag_stored_for_all_currencies_still_settles_each(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    """Members stored with the earlier single flag (``debt = true``) keep being settled."""
    owe_both(engine, gamify_clock)
    store = engine.store
    with store.unit_of_work(["ann"]) as uow:
        member = uow.load_member("ann")
        assert member is not None and member.state["debt"] == ["coins", "points"]
        member.state["debt"] = True
        uow.apply(Changes(members=[member]))
    engine.track("ann", "earn_coins")
    engine.track("ann", "earn_points")
    balances = store.get_balances("ann")
    assert (balances["coins:debt"], balances["points:debt"]) == (70, 0)
    stored = store.get_member("ann")
    assert stored is not None and stored.state["debt"] == ["coins"]


def test_debt_needs_no_state_once_settled(engine: Engine) -> None:
    engine.track("ann", "purchase", amount=100, key="k")
    engine.redeem("ann", 100)
    engine.reverse("ann", "k")
    engine.track("ann", "earn_points")
    stored = engine.store.get_member("ann")
    assert stored is not None and "debt" not in stored.state
    assert engine.balance("ann") == 0
    assert engine.track("ann", "earn_points").total() == 100
    assert engine.balance("ann") == 100
