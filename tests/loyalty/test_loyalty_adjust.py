"""Manual adjustments: goodwill credits and corrections, kept apart from earnings."""

from __future__ import annotations

import threading
from typing import Any

import pendulum
import pytest

from gamify import (
    Adjustment,
    Engine,
    IdempotencyConflictError,
    InsufficientBalanceError,
    InvalidAmountError,
    InvalidEventError,
    ManualClock,
    NotFoundError,
    UnknownMemberError,
)
from gamify.report import currency_flows

SHOP: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "actions": {"purchase": {"amount": "required"}, "promo": {}},
    "rules": [
        {"name": "spend", "action": "purchase", "per_amount": 1},
        {"name": "spend_xp", "action": "purchase", "per_amount": 1, "currency": "xp"},
        {
            "name": "flash",
            "action": "promo",
            "fixed": 100,
            "validity": {"policy": "months_end", "months": 0},
        },
    ],
    "expiry": {"policy": "months_end", "months": 12},
    "levels": {"curve": "linear", "params": {"step": 100}},
    "badges": {
        "earned_100": {"metric": "earned", "currency": "points", "threshold": 100},
    },
}

# 07:30 on June 1 in Shanghai is still May 31 in UTC: a lot's expiry follows local days.
START = pendulum.datetime(2026, 6, 1, 7, 30, tz="Asia/Shanghai")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def engine(clock: ManualClock) -> Engine:
    engine = Engine(SHOP, clock=clock)
    engine.set_member("ann")  # a correction is for a known member
    return engine


def test_a_credit_opens_a_lot_on_the_programs_expiry_terms(engine: Engine) -> None:
    adjustment = engine.adjust("ann", 250, reason="goodwill: late delivery")
    assert isinstance(adjustment, Adjustment)
    assert (adjustment.member_id, adjustment.currency, adjustment.amount) == ("ann", "points", 250)
    assert adjustment.reason == "goodwill: late delivery"
    assert adjustment.at == START
    # The end of the 12th month after June, in Shanghai (read in UTC it would be May).
    assert adjustment.expires_at == pendulum.datetime(2027, 7, 1, tz="Asia/Shanghai")
    [lot] = engine.store.member_lots("ann", "points")
    assert adjustment.lots == [(lot.lot_id, 250)]
    assert (lot.remaining, lot.expires_at) == (250, adjustment.expires_at)
    assert engine.balance("ann") == 250
    [entry] = engine.history("ann")
    assert (entry.kind, entry.amount, entry.reason) == ("adjust", 250, "goodwill: late delivery")


def test_a_credit_is_no_earning(engine: Engine) -> None:
    """Goodwill moves no leaderboard, badge on earned points, XP or level."""
    engine.track("bob", "purchase", amount=50)
    engine.adjust("ann", 1000, reason="goodwill")
    profile = engine.member("ann")
    assert profile.balances["points"] == 1000
    assert (profile.xp, profile.level, profile.badges) == (0, 1, [])
    assert [row.member_id for row in engine.leaderboard("points", period="all")] == ["bob"]
    assert engine.rank("ann", "points") is None or engine.rank("ann", "points").score == 0
    engine.track("ann", "purchase", amount=60)  # 60 earned: still short of the badge's 100
    assert engine.member("ann").badges == []


def test_a_credit_settles_debt_first(engine: Engine) -> None:
    engine.track("ann", "purchase", amount=80, key="order-1")
    engine.redeem("ann", 80)
    engine.reverse("ann", "order-1")  # the 80 are spent: booked as debt
    assert engine.member("ann").debt == {"points": 80}
    adjustment = engine.adjust("ann", 100, reason="goodwill")
    assert engine.member("ann").debt == {"points": 0}
    assert engine.balance("ann") == 20
    assert adjustment.amount == 100  # the adjustment itself is what was asked


def test_a_debit_takes_the_soonest_expiring_lot_first(engine: Engine, clock: ManualClock) -> None:
    engine.track("ann", "purchase", amount=100)  # expires in 12 months
    clock.advance(minutes=1)
    engine.track("ann", "promo")  # 100, expires at the month's end
    lots = engine.store.member_lots("ann", "points")
    promo_lot = next(lot for lot in lots if lot.rule == "flash")
    adjustment = engine.adjust("ann", -130, reason="promo paid twice")
    assert adjustment.lots[0] == (promo_lot.lot_id, 100)
    assert [used for _, used in adjustment.lots] == [100, 30]
    assert engine.balance("ann") == 70
    assert [(e.kind, e.amount) for e in engine.history("ann")[:2]] == [
        ("adjust", -30),
        ("adjust", -100),
    ]


def test_a_debit_never_takes_an_expired_lot(engine: Engine, clock: ManualClock) -> None:
    engine.track("ann", "promo")  # 100, expires at the end of June (Shanghai)
    clock.set(pendulum.datetime(2026, 7, 1, 0, 30, tz="Asia/Shanghai"))
    with pytest.raises(InsufficientBalanceError) as refused:
        engine.adjust("ann", -50, reason="correction")
    assert refused.value.available == 0


def test_a_debit_above_the_balance_writes_nothing(engine: Engine) -> None:
    seen: list[Any] = []
    engine.on("*", seen.append)
    engine.track("ann", "purchase", amount=40)
    history = engine.history("ann")
    seen.clear()
    with pytest.raises(InsufficientBalanceError) as refused:
        engine.adjust("ann", -41, reason="correction")
    assert (refused.value.requested, refused.value.available) == (41, 40)
    assert engine.history("ann") == history
    assert engine.balance("ann") == 40
    assert seen == []


def test_a_key_makes_a_retry_return_the_first_result(engine: Engine) -> None:
    first = engine.adjust("ann", 30, reason="goodwill", key="ticket-7")
    again = engine.adjust("ann", 30, reason="goodwill", key="ticket-7")
    assert again == first
    assert engine.balance("ann") == 30
    with pytest.raises(IdempotencyConflictError):
        engine.adjust("ann", 31, reason="goodwill", key="ticket-7")
    with pytest.raises(IdempotencyConflictError):
        engine.adjust("ann", 30, reason="other", key="ticket-7")
    # The key space is the adjustment's own: a track may use the same key.
    engine.track("ann", "purchase", amount=5, key="ticket-7")
    assert engine.balance("ann") == 35


def test_the_adjusted_event_follows_the_commit(engine: Engine) -> None:
    seen: list[Any] = []
    engine.on("adjusted", seen.append)
    adjustment = engine.adjust("ann", 20, reason="goodwill", key="k")
    engine.adjust("ann", 20, reason="goodwill", key="k")  # a replay fires nothing
    [event] = seen
    assert (event.name, event.member_id, event.at) == ("adjusted", "ann", START)
    assert event.payload == {
        "adjustment_id": adjustment.adjustment_id,
        "currency": "points",
        "amount": 20,
        "reason": "goodwill",
    }


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        (0, InvalidAmountError),
        (True, InvalidAmountError),
        (1.5, InvalidAmountError),
        ("10", InvalidAmountError),
        (None, InvalidAmountError),
        (10**15, InvalidAmountError),
        (-(10**15), InvalidAmountError),
    ],
)
def test_bad_amounts_are_refused(engine: Engine, amount: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        engine.adjust("ann", amount, reason="x")
    assert engine.history("ann") == []


@pytest.mark.parametrize("reason", ["", "   ", None, 5, "bad \ud800"])
def test_an_adjustment_needs_a_reason(engine: Engine, reason: Any) -> None:
    with pytest.raises(InvalidEventError, match="reason"):
        engine.adjust("ann", 10, reason=reason)


def test_only_spendable_currencies_are_adjusted(engine: Engine) -> None:
    with pytest.raises(InvalidEventError, match="spendable"):
        engine.adjust("ann", 10, reason="x", currency="xp")
    with pytest.raises(NotFoundError):
        engine.adjust("ann", 10, reason="x", currency="gold")
    with pytest.raises(InvalidEventError):
        engine.adjust("", 10, reason="x")
    with pytest.raises(InvalidEventError):
        engine.adjust("ann", 10, reason="x", key="")
    assert engine.history("ann") == []


def test_the_report_keeps_adjustments_out_of_issued(engine: Engine) -> None:
    engine.track("ann", "purchase", amount=100)
    engine.adjust("ann", 40, reason="goodwill")
    engine.adjust("ann", -15, reason="correction")
    flow = currency_flows(engine.store.ledger_totals(), "points")
    assert (flow.issued, flow.adjusted) == (100, 25)
    assert flow.issued + flow.adjusted - flow.net_spent - flow.expired == engine.balance("ann")


def test_adjustments_on_every_store(gamify_store_target: Any, clock: ManualClock) -> None:
    store = gamify_store_target.open()
    try:
        engine = Engine(SHOP, store=store, clock=clock)
        engine.set_member("ann")
        first = engine.adjust("ann", 100, reason="goodwill", key="t-1")
        assert engine.adjust("ann", 100, reason="goodwill", key="t-1") == first
        engine.adjust("ann", -60, reason="correction")
        with pytest.raises(InsufficientBalanceError):
            engine.adjust("ann", -41, reason="correction")
        assert engine.balance("ann") == 40
        assert [(e.kind, e.amount) for e in engine.history("ann")] == [
            ("adjust", -60),
            ("adjust", 100),
        ]
        assert engine.leaderboard("points", period="all") == []
    finally:
        store.close()


def test_concurrent_debits_never_overdraw(gamify_store_target: Any, clock: ManualClock) -> None:
    """Eight threads each take 30 from 100: exactly three succeed, the rest are refused."""
    store = gamify_store_target.open()
    try:
        engines = [Engine(SHOP, store=store, clock=clock) for _ in range(8)]
        engines[0].set_member("ann")
        engines[0].adjust("ann", 100, reason="goodwill")
        barrier = threading.Barrier(len(engines))
        results: list[str] = []
        lock = threading.Lock()

        def debit(engine: Engine) -> None:
            barrier.wait()
            try:
                engine.adjust("ann", -30, reason="correction")
                outcome = "ok"
            except InsufficientBalanceError:
                outcome = "refused"
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=debit, args=(e,)) for e in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert sorted(results) == ["ok"] * 3 + ["refused"] * 5
        assert engines[0].balance("ann") == 10
    finally:
        store.close()


def test_a_credit_reads_its_expiry_in_the_members_zone(engine: Engine) -> None:
    """At START it is still May 31 in New York: the lot runs to the end of May 2027 there."""
    engine.set_member("ann", timezone="America/New_York")
    adjustment = engine.adjust("ann", 10, reason="goodwill")
    assert adjustment.expires_at == pendulum.datetime(2027, 6, 1, tz="America/New_York")


def test_a_debit_first_expires_the_members_due_lots(engine: Engine, clock: ManualClock) -> None:
    """As redeem does: the expired lot is written off (its event first), then the debit."""
    seen: list[Any] = []
    engine.on("*", seen.append)
    engine.track("ann", "promo")  # 100, expires at the end of June (Shanghai)
    engine.track("ann", "purchase", amount=100)  # 100, expires in a year
    clock.set(pendulum.datetime(2026, 7, 1, 0, 30, tz="Asia/Shanghai"))
    seen.clear()
    engine.adjust("ann", -50, reason="correction")
    assert [(e.name, e.payload.get("points", e.payload.get("amount"))) for e in seen] == [
        ("points_expired", 100),
        ("adjusted", -50),
    ]
    assert engine.balance("ann") == 50
    assert [(e.kind, e.amount) for e in engine.history("ann")[:2]] == [
        ("adjust", -50),
        ("expire", -100),
    ]


def test_a_keyed_replay_answers_after_the_currency_left_the_program(clock: ManualClock) -> None:
    """The first result stands even when the program no longer has (or spends) the currency."""
    with_gems = {**SHOP, "currencies": {"points": {}, "xp": {"spendable": False}, "gems": {}}}
    engine = Engine(with_gems, clock=clock)
    engine.set_member("ann")
    first = engine.adjust("ann", 50, reason="goodwill", currency="gems", key="t-1")
    for changed in (
        {**SHOP},  # no gems at all
        {**SHOP, "currencies": {**with_gems["currencies"], "gems": {"spendable": False}}},
    ):
        later = Engine(changed, store=engine.store, clock=clock)
        assert later.adjust("ann", 50, reason="goodwill", currency="gems", key="t-1") == first
        with pytest.raises((NotFoundError, InvalidEventError)):
            later.adjust("ann", 50, reason="goodwill", currency="gems", key="t-2")


def test_an_unknown_member_is_refused_and_not_made(engine: Engine) -> None:
    """A mistyped id in customer care must not open a member holding points."""
    for amount in (250, -10):
        with pytest.raises(UnknownMemberError, match="'anne'"):
            engine.adjust("anne", amount, reason="goodwill")
    assert engine.store.get_member("anne") is None
    assert engine.history("anne") == []
    assert engine.balance("anne") == 0


def test_a_huge_amount_is_refused_with_the_typed_error(engine: Engine) -> None:
    """Python will not print an integer of over 4,300 digits: the message gives its size."""
    for amount in (10**5000, -(10**5000)):
        with pytest.raises(InvalidAmountError, match="about 5,001 digits"):
            engine.adjust("ann", amount, reason="x")
    with pytest.raises(InvalidAmountError, match="about 5,001 digits"):
        engine.track("ann", "purchase", amount=10**5000)
    engine.track("ann", "promo")
    with pytest.raises(InvalidAmountError, match="about 5,001 digits"):
        engine.redeem("ann", 10**5000)
    with pytest.raises(InvalidAmountError, match="999,999,999,999,999 points"):
        engine.redeem("ann", 10**15)
