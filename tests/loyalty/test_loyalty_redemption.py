"""Redemption: FIFO spends, refused spends, refunds, catalog prices and points plus cash."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pendulum
import pytest

from gamify import (
    Engine,
    InsufficientBalanceError,
    InvalidAmountError,
    ManualClock,
    Program,
    ProgramError,
)
from gamify.components import rewards
from gamify.errors import IdempotencyConflictError, NotFoundError

EngineFactory = Callable[..., Engine]
US = timedelta(microseconds=1)


def sh(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> pendulum.DateTime:
    """A wall-clock time in Asia/Shanghai (the beauty store's zone)."""
    return pendulum.datetime(year, month, day, hour, minute, second, tz="Asia/Shanghai")


def snapshot(engine: Engine, member: str) -> Any:
    """What the store keeps about ``member``: record, balances, ledger and lots."""
    store = engine.store
    return (
        store.get_member(member),
        store.get_balances(member),
        store.history(member),
        store.member_lots(member, "points"),
    )


def remaining(engine: Engine, member: str) -> dict[str, int]:
    """Each open lot's remaining points, by the rule that earned it."""
    return {lot.rule: lot.remaining for lot in engine.store.member_lots(member, "points")}


def lots_program() -> dict[str, Any]:
    """Three rules whose lots expire differently: June's end, next year's end, never."""
    return {
        "timezone": "Asia/Shanghai",
        "actions": {a: {"amount": "none"} for a in ("soon", "later", "forever")},
        "rules": [
            {"name": "forever", "action": "forever", "fixed": 100, "validity": {"policy": "never"}},
            {
                "name": "later",
                "action": "later",
                "fixed": 100,
                "validity": {"policy": "end_of_next_year"},
            },
            {
                "name": "soon",
                "action": "soon",
                "fixed": 100,
                "validity": {"policy": "months_end", "months": 0},
            },
        ],
    }


# Spends ----------------------------------------------------------------------------------


def test_a_spend_takes_the_earliest_expiry_first_and_never_expiring_lots_last(
    gamify_engine: EngineFactory,
) -> None:
    """Lots earned never-expiring first, then due end of 2027, then due end of June: a spend of
    250 takes June's 100, 2027's 100, then 50 of the never-expiring lot."""
    clock = ManualClock(sh(2026, 6, 1, 10))
    engine = gamify_engine(lots_program(), clock=clock)
    for action in ("forever", "later", "soon"):
        engine.track("amy", action)
        clock.advance(hours=1)
    redemption = engine.redeem("amy", 250)
    lot_rules = {lot.lot_id: lot.rule for lot in engine.store.member_lots("amy", "points")}
    assert redemption.points == 250
    assert [used for _, used in redemption.lots] == [100, 100, 50]
    assert lot_rules[redemption.lots[-1][0]] == "forever"
    assert remaining(engine, "amy") == {"forever": 50}
    assert engine.balance("amy") == 50


def test_lots_due_at_the_same_instant_are_spent_earliest_earned_first(
    beauty: Engine, clock: ManualClock
) -> None:
    """Two purchases in March 2026 are both due at 2027-04-01; a spend of 150 empties the one
    of 3 March (100) before touching the one of 20 March (200)."""
    clock.set(sh(2026, 3, 20, 10))
    beauty.track("amy", "purchase", amount=200, at=sh(2026, 3, 20, 10))
    beauty.track("amy", "purchase", amount=100, at=sh(2026, 3, 3, 10))  # a late event
    beauty.redeem("amy", 150)
    assert sorted(lot.remaining for lot in beauty.store.member_lots("amy", "points")) == [150]


def test_a_spend_above_the_balance_is_refused_and_writes_nothing(
    beauty: Engine, clock: ManualClock
) -> None:
    """With 300 spendable, a spend of 301 raises InsufficientBalanceError naming 300."""
    clock.set(sh(2026, 3, 1, 10))
    beauty.track("amy", "purchase", amount=300)
    before = snapshot(beauty, "amy")
    with pytest.raises(InsufficientBalanceError) as caught:
        beauty.redeem("amy", 301, key="r1")
    assert (caught.value.requested, caught.value.available) == (301, 300)
    assert snapshot(beauty, "amy") == before
    assert beauty.redeem("amy", 300, key="r1").points == 300  # the key was not used up


def test_a_spend_refused_after_expiry_writes_nothing_either(
    beauty: Engine, clock: ManualClock
) -> None:
    """A spend refused at 2027-04-01 (the lot is due then) does not even write the expiry."""
    clock.set(sh(2026, 3, 1, 10))
    beauty.track("amy", "purchase", amount=300)
    clock.set(sh(2027, 4, 1))
    before = snapshot(beauty, "amy")
    with pytest.raises(InsufficientBalanceError):
        beauty.redeem("amy", 10)
    assert snapshot(beauty, "amy") == before


def test_a_redemption_key_replays_and_refuses_another_payload(
    beauty: Engine, clock: ManualClock
) -> None:
    """The same key returns the first redemption and spends once; another amount is a conflict."""
    clock.set(sh(2026, 3, 1, 10))
    beauty.track("amy", "purchase", amount=300)
    first = beauty.redeem("amy", 100, key="r1")
    assert beauty.redeem("amy", 100, key="r1") == first
    assert beauty.balance("amy") == 200
    with pytest.raises(IdempotencyConflictError):
        beauty.redeem("amy", 50, key="r1")


def test_non_positive_points_are_refused(beauty: Engine) -> None:
    """Redeeming 0 or -5 points is an invalid amount."""
    for points in (0, -5):
        with pytest.raises(InvalidAmountError):
            beauty.redeem("amy", points)


# Refunds ------------------------------------------------------------------------------------


def test_a_refund_restores_exactly_the_lots_spent(gamify_engine: EngineFactory) -> None:
    """Refunding a spend of 250 puts 100, 100 and 50 back into the lots they came from."""
    clock = ManualClock(sh(2026, 6, 1, 10))
    engine = gamify_engine(lots_program(), clock=clock)
    for action in ("forever", "later", "soon"):
        engine.track("amy", action)
    redemption = engine.redeem("amy", 250)
    refunded = engine.refund(redemption)
    assert refunded.refunded
    assert remaining(engine, "amy") == {"forever": 100, "later": 100, "soon": 100}
    assert engine.balance("amy") == 300
    assert [e.kind for e in engine.history("amy")[:3]] == ["refund"] * 3


def test_a_refund_after_a_lot_expired_restores_and_expires_it_at_once(
    beauty: Engine, clock: ManualClock
) -> None:
    """100 points spent from a lot due 2027-02-01 and refunded on 2027-02-10 come back expired:
    the refund and the expiry are written together and the balance never shows them."""
    clock.set(sh(2026, 1, 10, 10))
    beauty.track("amy", "purchase", amount=100)  # due 2027-02-01
    clock.set(sh(2026, 6, 10, 10))
    beauty.track("amy", "purchase", amount=500)  # due 2027-07-01
    clock.set(sh(2026, 12, 10, 10))
    redemption = beauty.redeem("amy", 150)  # 100 from January's lot, 50 from June's
    assert beauty.balance("amy") == 450
    clock.set(sh(2027, 2, 10, 10))
    assert beauty.run_due().expired_points == 0  # January's lot was empty
    beauty.refund(redemption)
    assert beauty.balance("amy") == 500  # only June's 50 came back spendable
    newest = beauty.history("amy")[:3]
    assert sorted((e.kind, e.amount) for e in newest) == [
        ("expire", -100),
        ("refund", 50),
        ("refund", 100),
    ]
    assert len({e.at for e in newest}) == 1
    assert remaining(beauty, "amy") == {"purchase_points": 500}
    assert beauty.expiring("amy", within=timedelta(days=365)) != []
    assert beauty.run_due().expired_points == 0


def test_points_that_expire_on_refund_are_announced(beauty: Engine, clock: ManualClock) -> None:
    """The refund's points restored to a lot past its expiry fire points_expired with them."""
    clock.set(sh(2026, 1, 10, 10))
    beauty.track("amy", "purchase", amount=100)  # due 2027-02-01
    lot_id = beauty.store.member_lots("amy", "points")[0].lot_id
    clock.set(sh(2026, 12, 10, 10))
    redemption = beauty.redeem("amy", 100)
    clock.set(sh(2027, 2, 10, 10))
    events: list[Any] = []
    beauty.on("*", events.append)
    beauty.refund(redemption)
    assert [(e.name, e.payload) for e in events] == [
        ("points_expired", {"points": 100, "lot_id": lot_id}),
        ("refunded", {"redemption_id": redemption.redemption_id, "points": 100}),
    ]


def test_a_refund_after_expiry_before_run_due_also_expires_the_rest(
    beauty: Engine, clock: ManualClock
) -> None:
    """A lot of 100, 40 spent, due 2027-02-01 and refunded on 2027-02-10 before any run_due:
    the 40 come back and all 100 expire in the refund's transaction."""
    clock.set(sh(2026, 1, 10, 10))
    beauty.track("amy", "purchase", amount=100)
    clock.set(sh(2026, 12, 10, 10))
    redemption = beauty.redeem("amy", 40)
    clock.set(sh(2027, 2, 10, 10))
    beauty.refund(redemption)
    assert beauty.balance("amy") == 0
    points = [e for e in beauty.store.history("amy") if e.account == "points"]
    assert sum(e.amount for e in points) == 0
    assert beauty.run_due().expired_points == 0


def test_a_refund_at_the_lots_expiry_instant_expires_it_at_once(
    beauty: Engine, clock: ManualClock
) -> None:
    """A lot is not spendable at its expiry instant: refunded at exactly 2027-02-01 00:00, the
    lot due then comes back and expires in the same transaction, so no balance shows it."""
    clock.set(sh(2026, 1, 10, 10))
    beauty.track("amy", "purchase", amount=100)
    clock.set(sh(2026, 12, 10, 10))
    redemption = beauty.redeem("amy", 100)
    clock.set(sh(2027, 2, 1))
    beauty.refund(redemption)
    assert beauty.balance("amy") == 0
    assert beauty.run_due().expired_points == 0


def test_refunding_twice_changes_nothing_the_second_time(
    beauty: Engine, clock: ManualClock
) -> None:
    """A second refund of the same redemption returns it and writes nothing."""
    clock.set(sh(2026, 3, 1, 10))
    beauty.track("amy", "purchase", amount=300)
    redemption = beauty.redeem("amy", 100)
    first = beauty.refund(redemption)
    before = snapshot(beauty, "amy")
    assert beauty.refund(redemption.redemption_id, "amy") == first
    assert snapshot(beauty, "amy") == before
    assert beauty.balance("amy") == 300


def test_refunding_an_unknown_redemption_is_not_found(beauty: Engine) -> None:
    """A refund of a redemption id the member never had raises NotFoundError."""
    with pytest.raises(NotFoundError):
        beauty.refund("nope", "amy")


# Catalog and price formula -------------------------------------------------------------------


def test_the_worked_reward_prices(beauty: Engine) -> None:
    """A 200-minus-50 coupon (cash value 50, closed-loop ratio 50, cost rate 1) costs 2500; a
    30-unit phone card at ratio 100 costs 3000."""
    assert beauty.reward_price("coupon_200_minus_50") == 2500
    assert beauty.reward_price("phone_card_30") == 3000


def test_redeeming_a_catalog_reward_spends_its_price(beauty: Engine, clock: ManualClock) -> None:
    """With 6000 points, the coupon leaves 3500 and the phone card then leaves 500."""
    clock.set(sh(2026, 3, 1, 10))
    beauty.track("amy", "purchase", amount=5000)
    beauty.track("amy", "trial_report")
    beauty.track("amy", "bottle_return", attributes={"bottles": 14})  # 200
    beauty.track("amy", "purchase", amount=434)  # gold: 651 -> 6001 in all
    beauty.redeem("amy", 1)
    assert beauty.balance("amy") == 6000
    coupon = beauty.redeem("amy", reward="coupon_200_minus_50")
    assert (coupon.points, coupon.reward) == (2500, "coupon_200_minus_50")
    card = beauty.redeem("amy", reward="phone_card_30")
    assert (card.points, card.reward) == (3000, "phone_card_30")
    assert beauty.balance("amy") == 500
    with pytest.raises(InsufficientBalanceError):
        beauty.redeem("amy", reward="phone_card_30")


def test_a_premium_and_a_cost_rate_raise_the_price(gamify_engine: EngineFactory) -> None:
    """Cash value 30, list price 100 with 20 off elsewhere (premium 1.25), cost rate 0.9, ratio
    100: 100 x 30 x 0.9 x 1.25 = 3375; cash value 10 at ratio 3 with premium 90/70 rounds up:
    3 x 10 x 9/7 = 38.57... -> 39."""
    engine = gamify_engine(
        {
            "timezone": "UTC",
            "catalog": {
                "lipstick": {"cash_value": 30, "price": 100, "max_discount": 20, "cost_rate": 0.9},
                "sample": {"cash_value": 10, "price": 90, "max_discount": 20, "exchange_ratio": 3},
            },
        }
    )
    assert engine.reward_price("lipstick") == 3375
    assert engine.reward_price("sample") == 39


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"cash_value": 10, "price": 50, "max_discount": 50}, "must be below the price (50)"),
        ({"cash_value": 10, "price": 50, "max_discount": 80}, "must be below the price (50)"),
        ({"cash_value": 10, "max_discount": 5}, "needs the item's price"),
    ],
)
def test_a_catalog_reward_without_a_defined_premium_is_refused_when_loaded(
    item: dict[str, Any], reason: str
) -> None:
    """price / (price - max_discount) must exist: the program is refused with the key path,
    instead of failing later when the reward is priced or redeemed."""
    with pytest.raises(ProgramError) as info:
        Program.from_dict({"timezone": "UTC", "catalog": {"kit": item}})
    assert info.value.key_path == "catalog.kit.max_discount"
    assert reason in info.value.reason


def test_a_keyed_reward_redemption_replays_after_the_catalog_changed(
    rich: Engine, beauty_program: Program, clock: ManualClock
) -> None:
    """The key answers for what the caller asked (that reward), not for today's price: a
    retry after a price change, or after the reward left the catalog, replays the first
    redemption; another reward under the same key is a conflict."""
    first = rich.redeem("amy", reward="phone_card_30", key="order-1")
    data = beauty_program.model_dump(mode="json")
    data["catalog"]["phone_card_30"]["cash_value"] = 60
    repriced = Engine(Program.from_dict(data), store=rich.store, clock=clock)
    assert repriced.reward_price("phone_card_30") == 6000
    assert repriced.redeem("amy", reward="phone_card_30", key="order-1") == first
    del data["catalog"]["phone_card_30"]
    gone = Engine(Program.from_dict(data), store=rich.store, clock=clock)
    assert gone.redeem("amy", reward="phone_card_30", key="order-1") == first
    with pytest.raises(NotFoundError):
        gone.redeem("amy", reward="phone_card_30", key="order-2")
    with pytest.raises(IdempotencyConflictError):
        rich.redeem("amy", reward="coupon_200_minus_50", key="order-1")
    assert rich.balance("amy") == 40000 - first.points


def test_an_unknown_reward_is_not_found(beauty: Engine) -> None:
    """Pricing or redeeming a reward the catalog lacks raises NotFoundError."""
    with pytest.raises(NotFoundError):
        beauty.reward_price("yacht")
    with pytest.raises(NotFoundError):
        beauty.redeem("amy", reward="yacht")


# Points plus cash ------------------------------------------------------------------------------


@pytest.fixture
def rich(beauty: Engine, clock: ManualClock) -> Engine:
    """amy holds 40000 points (eight capped purchases of 5000 points)."""
    clock.set(sh(2026, 3, 1, 10))
    for _ in range(8):
        beauty.track("amy", "purchase", amount=10000)
    assert beauty.balance("amy") == 40000
    return beauty


def test_points_pay_at_most_30_percent_of_an_order(rich: Engine) -> None:
    """An order of 1000 takes at most 30000 points (300 of money); 700 is left in cash."""
    redemption = rich.redeem("amy", order_total=1000)
    assert (redemption.points, redemption.cash) == (30000, Decimal(700))
    assert rich.balance("amy") == 10000


def test_points_plus_cash_with_fewer_points_than_the_limit(rich: Engine) -> None:
    """With 10000 points left, an order of 1000 takes all 10000 (100 of money) and 900 in cash."""
    rich.redeem("amy", 30000)
    redemption = rich.redeem("amy", order_total=Decimal("1000.00"))
    assert (redemption.points, redemption.cash) == (10000, Decimal(900))


def test_the_cash_part_is_rounded_up_to_a_cent_when_points_do_not_divide_evenly(
    gamify_engine: EngineFactory,
) -> None:
    """At 3 points per unit of money, 2 points pay 0.666...: 10.00 leaves 9.34 in cash (the
    points never pay more than their value), as ``rewards.split_payment`` says."""
    engine = gamify_engine(
        {
            "timezone": "UTC",
            "actions": {"purchase": {"amount": "required"}},
            "rules": [{"name": "buy", "action": "purchase", "per_amount": 1}],
            "redemption": {"exchange_ratio": 3, "max_order_share": "0.5"},
        }
    )
    engine.track("amy", "purchase", amount=2)
    redemption = engine.redeem("amy", order_total="10.00")
    assert (redemption.points, redemption.cash) == (2, Decimal("9.34"))
    assert rewards.split_payment(Decimal("10.00"), 2, Decimal("0.5"), Decimal(3)) == (
        2,
        Decimal("9.34"),
    )


def test_a_chosen_number_of_points_within_the_limit(rich: Engine) -> None:
    """12345 points pay 123.45 of an order of 999.99, leaving 876.54 in cash."""
    redemption = rich.redeem("amy", 12345, order_total="999.99")
    assert redemption.cash == Decimal("876.54")
    assert rich.balance("amy") == 40000 - 12345


def test_too_many_points_for_an_order_are_refused_and_write_nothing(rich: Engine) -> None:
    """30001 points for an order of 1000 exceed its 30 % share: InvalidAmountError, no spend."""
    before = snapshot(rich, "amy")
    with pytest.raises(InvalidAmountError):
        rich.redeem("amy", 30001, order_total=1000)
    assert snapshot(rich, "amy") == before
    assert rich.redeem("amy", 30000, order_total=1000).cash == Decimal(700)


def test_points_plus_cash_without_points_is_refused(beauty: Engine, clock: ManualClock) -> None:
    """A member with nothing spendable cannot pay part of an order in points."""
    clock.set(sh(2026, 3, 1, 10))
    beauty.track("amy", "trial_report", at=sh(2026, 3, 1, 9))
    beauty.redeem("amy", 150)
    with pytest.raises(InsufficientBalanceError):
        beauty.redeem("amy", order_total=100)


def test_points_and_a_reward_together_are_refused(beauty: Engine) -> None:
    """A redemption names either a number of points or a catalog reward, never both."""
    beauty.track("ann", "purchase", amount=5000)
    with pytest.raises(InvalidAmountError):
        beauty.redeem("ann", 100, reward="phone_card_30")
    assert beauty.balance("ann") == 5000


def test_a_lot_reopened_by_a_refund_still_expires(gamify_store_target: Any) -> None:
    """A refund that started before a lot's expiry commits after run_due passed it (a
    request that waited for the member's lock, played by a second engine whose clock is
    behind): the lot it reopens is expired by the next run_due, on every store."""
    store = gamify_store_target.open()
    try:
        due = sh(2026, 7, 1)  # the end of June in Shanghai
        ahead = ManualClock(sh(2026, 6, 20, 10))
        behind = ManualClock(due - US)
        engine = Engine(lots_program(), store=store, clock=ahead)
        late_request = Engine(lots_program(), store=store, clock=behind)
        engine.track("amy", "soon")  # 100 points, due at the end of June
        redemption = engine.redeem("amy", 100)  # the lot is spent: closed
        ahead.set(due + US)
        assert engine.run_due().expired_points == 0  # nothing open to expire
        late_request.refund(redemption)  # reopens the lot: its clock is still in June
        assert engine.balance("amy") == 100
        ahead.set(due + 2 * US)
        assert engine.run_due().expired_points == 100
        assert engine.balance("amy") == 0
    finally:
        store.close()
