"""engine.forget_member: a member asks to be forgotten; every store erases all it keeps."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

import gamify
from gamify import ManualClock
from gamify.errors import InvalidEventError, UnknownMemberError
from gamify.testing import assert_ledger_consistent
from gamify.testing.plugin import EngineFactory

if TYPE_CHECKING:
    from conftest import StoreTarget  # tests/conftest.py

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday

PROGRAM = {
    "timezone": "UTC",
    "currencies": {"points": {"spendable": True}, "xp": {"spendable": False}},
    "actions": {"purchase": {"amount": "required"}, "workout": {"amount": "none"}},
    "rules": [
        {"name": "purchase_points", "action": "purchase", "per_amount": 1, "pending_days": 3},
        {"name": "workout_points", "action": "workout", "fixed": 10},
        {"name": "workout_xp", "action": "workout", "currency": "xp", "fixed": 60},
    ],
    "expiry": {"policy": "months_end", "months": 1},
    "levels": {"curve": "linear", "params": {"step": 100}, "reward": {"points": "5 * level"}},
    "streaks": {"daily": {"actions": ["workout"], "period": "day"}},
    "badges": {"first": {"metric": "count", "action": "workout", "threshold": 1}},
    "tiers": {
        "metric": "amount",
        "action": "purchase",
        "levels": [{"name": "base", "threshold": 0}, {"name": "gold", "threshold": 100}],
    },
    "referral": {"qualifying_action": "purchase", "referee_reward": 7, "referrer_fixed": 50},
}


def board(engine: gamify.Engine, period: Any = "all") -> list[str]:
    return [r.member_id for r in engine.leaderboard(period=period, limit=100)]


@pytest.fixture
def make(gamify_engine: EngineFactory, gamify_store_target: StoreTarget) -> Iterator[Any]:
    """Engines on the memory store, a SQLite file and PostgreSQL (with GAMIFY_PG_URL)."""
    store = gamify_store_target.open()

    def engine(clock: ManualClock) -> gamify.Engine:
        return gamify_engine(PROGRAM, clock=clock, store=store)

    yield engine
    store.close()


@pytest.fixture
def engine(make: Any) -> gamify.Engine:
    clock = ManualClock(T0)
    engine: gamify.Engine = make(clock)
    for member in ("ann", "bob"):
        engine.track(member, "workout", key=f"{member}-w1")
        engine.track(member, "workout", key=f"{member}-w2")
        engine.track(member, "purchase", amount=120, key=f"{member}-p1")
    engine.redeem("ann", 5, key="ann-r1")
    return engine


def test_a_forgotten_member_is_gone_from_every_read(engine: gamify.Engine) -> None:
    bob = engine.member("bob")
    assert sorted(board(engine)) == ["ann", "bob"]
    assert engine.forget_member("ann") is True
    with pytest.raises(UnknownMemberError):
        engine.member("ann")
    assert engine.balance("ann") == 0
    assert engine.history("ann") == []
    assert engine.rank("ann") is None
    week = (T0 - timedelta(days=1), T0 + timedelta(days=7))
    for period in ("all", "day", "week", "month", week):
        assert board(engine, period) == ["bob"]
    assert engine.member("bob") == bob
    assert_ledger_consistent(engine.store, "bob")


def test_forgetting_twice_or_a_stranger_erases_nothing(engine: gamify.Engine) -> None:
    assert engine.forget_member("stranger") is False
    assert engine.forget_member("ann") is True
    assert engine.forget_member("ann") is False
    with pytest.raises(InvalidEventError, match="member id"):
        engine.forget_member("")


def test_the_same_id_later_is_a_new_member(engine: gamify.Engine) -> None:
    """Keys, streaks, levels, badges and tiers start afresh: a key of the forgotten member
    is a new event, not a replay."""
    engine.forget_member("ann")
    outcome = engine.track("ann", "workout", key="ann-w1")
    assert [c.amount for c in outcome.credits if c.rule == "workout_points"] == [10]
    assert [b.badge for b in outcome.badges] == ["first"]
    profile = engine.member("ann")
    assert (profile.level, profile.tier, profile.balances["points"]) == (1, "base", 10)
    assert [(s.name, s.length) for s in profile.streaks] == [("daily", 1)]
    assert_ledger_consistent(engine.store, "ann")


def test_run_due_finds_nothing_of_a_forgotten_member(engine: gamify.Engine) -> None:
    """Pending points, expiring lots and tier reviews of the member are gone too."""
    engine.forget_member("ann")
    clock = engine.clock
    assert isinstance(clock, ManualClock)
    clock.set(T0 + timedelta(days=400))
    report = engine.run_due()
    assert report.matured_lots == 1 and report.expired_lots >= 1  # bob's alone
    assert engine.store.get_member("ann") is None
    assert engine.history("ann") == []


def test_a_forgotten_referrer_is_paid_nothing_and_stays_gone(make: Any) -> None:
    engine = make(ManualClock(T0))
    code = engine.referral_code("ann")
    engine.join("cid", referral_code=code)
    engine.forget_member("ann")
    outcome = engine.track("cid", "purchase", amount=30)
    assert engine.store.get_member("ann") is None
    assert [c.rule for c in outcome.credits] == ["purchase_points"]
    assert_ledger_consistent(engine.store, "cid")


def test_a_forgotten_referee_leaves_the_referrer_her_rewards(make: Any) -> None:
    engine = make(ManualClock(T0))
    engine.join("cid", referral_code=engine.referral_code("ann"))
    engine.track("cid", "purchase", amount=30)
    paid = engine.balance("ann")
    assert paid == 50
    engine.forget_member("cid")
    assert engine.balance("ann") == paid
    assert engine.store.get_member("cid") is None


def test_forgetting_while_events_arrive_never_leaves_part_of_an_event(make: Any) -> None:
    """Eight threads track keyed events for one member while another forgets the member
    three times: each event's key record and its entries are there together or not at
    all, and every account equals its entries."""
    engine = make(ManualClock(T0))
    keys = [f"k{t}-{i}" for t in range(8) for i in range(15)]
    start = threading.Barrier(9)

    def track(thread: int) -> None:
        start.wait()
        for i in range(15):
            engine.track("ann", "workout", key=f"k{thread}-{i}")

    def forget() -> None:
        start.wait()
        for _ in range(3):
            engine.forget_member("ann")

    threads = [threading.Thread(target=track, args=(t,)) for t in range(8)]
    threads.append(threading.Thread(target=forget))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kept = 0
    with engine.store.unit_of_work(["ann"]) as uow:
        for key in keys:
            recorded = uow.get_idempotency("ann", "track", key) is not None
            entries = uow.entries_for_key("ann", key)
            assert recorded == bool(entries), key
            kept += recorded
    if kept:
        assert_ledger_consistent(engine.store, "ann")
