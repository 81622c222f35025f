"""Reward pricing: points prices from cash value, cost rate and premium; points plus cash."""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from gamify.components.rewards import (
    cash_due,
    max_points_for_order,
    points_price,
    premium,
    split_payment,
)

D = Decimal


# --------------------------------------------------------------------------- premium


def test_premium_without_a_discount_is_one() -> None:
    """An item the business never discounts elsewhere has premium 1."""
    assert premium(D(200), D(0)) == 1


def test_premium_with_a_max_discount() -> None:
    """Price 100 already discounted by up to 20 elsewhere: premium 100 / 80 = 1.25."""
    assert premium(D(100), D(20)) == D("1.25")


def test_premium_keeps_decimal_precision() -> None:
    """A non-terminating premium (90 / 70 = 9 / 7) is a decimal quotient, never a float."""
    value = premium(D(90), D(20))
    assert isinstance(value, Decimal)
    assert value == D(9) / D(7)


@pytest.mark.parametrize(
    ("price", "max_discount"),
    [
        (D(50), D(50)),  # price == max discount: division by zero
        (D(40), D(50)),  # price below the discount: negative premium
        (D(0), D(0)),  # no price
        (D(-10), D(0)),
        (D(100), D(-1)),  # a negative discount
        (D("NaN"), D(0)),
        (D("Infinity"), D(10)),
    ],
)
def test_premium_rejects_bad_inputs(price: Decimal, max_discount: Decimal) -> None:
    """The premium is undefined unless 0 <= max discount < price."""
    with pytest.raises(ValueError):
        premium(price, max_discount)


def test_premium_error_says_why() -> None:
    """The error names both figures."""
    with pytest.raises(ValueError, match=r"price \(50\) must be greater than max_discount \(50\)"):
        premium(D(50), D(50))


# --------------------------------------------------------------------------- points price


def test_coupon_200_minus_50_at_closed_loop_ratio_costs_2500() -> None:
    """A 200-minus-50 coupon (cash value 50) at ratio 50 and cost rate 1 costs 2500 points."""
    assert points_price(cash_value=D(50), exchange_ratio=D(50), cost_rate=D(1)) == 2500


def test_coupon_threshold_is_not_the_price_with_no_max_discount() -> None:
    """Passing the coupon's 200 threshold as price with max discount 0 keeps premium 1."""
    assert points_price(cash_value=D(50), exchange_ratio=D(50), price=D(200)) == 2500


def test_phone_card_30_at_ratio_100_costs_3000() -> None:
    """A 30-unit phone card at ratio 100 costs 3000 points."""
    assert points_price(cash_value=D(30), exchange_ratio=D(100)) == 3000


def test_points_price_with_cost_rate_and_premium() -> None:
    """100 x 200 x 0.6 x (200 / 160) = 15000 points."""
    price = points_price(
        cash_value=D(200),
        exchange_ratio=D(100),
        cost_rate=D("0.6"),
        price=D(200),
        max_discount=D(40),
    )
    assert price == 15000


def test_fractional_price_rounds_up() -> None:
    """33.33 x 1 x 100 = 3333 exactly; 33.335 x 100 = 3333.5 rounds up to 3334."""
    assert points_price(cash_value=D("33.33"), exchange_ratio=D(100)) == 3333
    assert points_price(cash_value=D("33.335"), exchange_ratio=D(100)) == 3334
    assert points_price(cash_value=D("0.001"), exchange_ratio=D(100)) == 1


def test_exact_premium_does_not_round_up_an_exact_price() -> None:
    """70 x 90 / 70 is exactly 90: a rounded 9/7 premium must not turn it into 91."""
    price = points_price(cash_value=D(70), exchange_ratio=D(1), price=D(90), max_discount=D(20))
    assert price == 90


def test_points_price_is_an_int() -> None:
    """Points are integers."""
    assert type(points_price(cash_value=D("12.5"), exchange_ratio=D(50))) is int


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cash_value": D(0), "exchange_ratio": D(100)},
        {"cash_value": D(-5), "exchange_ratio": D(100)},
        {"cash_value": D(5), "exchange_ratio": D(0)},
        {"cash_value": D(5), "exchange_ratio": D(100), "cost_rate": D(0)},
        {"cash_value": D(5), "exchange_ratio": D(100), "price": D(10), "max_discount": D(10)},
        {"cash_value": D(5), "exchange_ratio": D(100), "max_discount": D(1)},  # no price
        {"cash_value": D("NaN"), "exchange_ratio": D(100)},
    ],
)
def test_points_price_rejects_bad_inputs(kwargs: dict[str, Decimal]) -> None:
    """Cash value, ratio and cost rate must be positive and the premium defined."""
    with pytest.raises(ValueError):
        points_price(**kwargs)


def test_points_price_refuses_floats() -> None:
    """Money is never a float."""
    with pytest.raises(TypeError):
        points_price(cash_value=0.1, exchange_ratio=D(100))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- points plus cash


def test_max_points_for_order_is_floored() -> None:
    """30 % of 12.34 at ratio 100 is 370.2 points: at most 370."""
    assert max_points_for_order(D("12.34"), D("0.3"), D(100)) == 370


def test_max_points_for_order_at_whole_values() -> None:
    """30 % of a 200 order at ratio 100 is 6000 points."""
    assert max_points_for_order(D(200), D("0.3"), D(100)) == 6000


def test_split_payment_uses_points_up_to_the_cap() -> None:
    """A member with 10000 points pays 6000 of a 200 order (30 % cap) and 140 cash."""
    assert split_payment(D("200.00"), 10000, D("0.3"), D(100)) == (6000, D("140.00"))


def test_split_payment_uses_all_points_below_the_cap() -> None:
    """With 500 points (5 units) the member pays 195 cash."""
    used, cash = split_payment(D(200), 500, D("0.3"), D(100))
    assert (used, cash) == (500, D(195))


def test_split_payment_is_exact_in_cents() -> None:
    """12.34 with a 30 % cap: 370 points pay 3.70, 8.64 remains."""
    assert split_payment(D("12.34"), 10**6, D("0.3"), D(100)) == (370, D("8.64"))


def test_split_payment_rounds_a_non_terminating_rest_up_to_a_cent() -> None:
    """At ratio 7, 2 points are worth 2/7; the 0.714285... rest is charged 0.72."""
    assert split_payment(D(1), 100, D("0.3"), D(7)) == (2, D("0.72"))


def test_split_payment_is_exact_for_any_terminating_rest() -> None:
    """At ratio 125 one point is worth 0.008, a terminating decimal: 9.992 remains of a 10
    order, exact rather than rounded up to a cent."""
    assert cash_due(D(10), 1, D(125)) == D("9.992")
    assert split_payment(D(10), 1, D(1), D(125)) == (1, D("9.992"))


def test_a_share_of_zero_lets_no_points_pay() -> None:
    """A maximum share of 0 (an order points may not pay) is allowed: no points are used."""
    assert max_points_for_order(D(200), D(0), D(100)) == 0
    assert split_payment(D(200), 5000, D(0), D(100)) == (0, D(200))


def test_split_payment_without_points() -> None:
    """No points: the whole order is cash."""
    assert split_payment(D("19.99"), 0, D("0.3"), D(100)) == (0, D("19.99"))


@pytest.mark.parametrize(
    ("order_total", "points", "share", "ratio"),
    [
        (D(-1), 0, D("0.3"), D(100)),
        (D(10), -1, D("0.3"), D(100)),
        (D(10), 10, D("1.5"), D(100)),
        (D(10), 10, D("-0.1"), D(100)),
        (D(10), 10, D("0.3"), D(0)),
    ],
)
def test_split_payment_rejects_bad_inputs(
    order_total: Decimal, points: int, share: Decimal, ratio: Decimal
) -> None:
    """Negative totals or points, a share outside 0..1 and a non-positive ratio are refused."""
    with pytest.raises(ValueError):
        split_payment(order_total, points, share, ratio)


def test_cash_due_of_points_worth_the_whole_order_is_zero() -> None:
    """1000 points at ratio 100 pay all of a 10 order; at ratio 3, 30 points pay 10."""
    assert cash_due(D(10), 1000, D(100)) == 0
    assert cash_due(D(10), 30, D(3)) == 0


@pytest.mark.parametrize(
    ("order_total", "points", "ratio", "error"),
    [
        (D(-1), 0, D(100), ValueError),
        (D(10), -5, D(100), ValueError),
        (D(10), 5, D(0), ValueError),
        (D(10), 5, D(-100), ValueError),
        (D(10), 1001, D(100), ValueError),  # worth 10.01: the cash due would be negative
        (D(10), 31, D(3), ValueError),
        (D(10), True, D(100), TypeError),
        (D(10), 5, 100.0, TypeError),
    ],
)
def test_cash_due_rejects_bad_inputs(
    order_total: Decimal, points: int, ratio: Decimal, error: type[Exception]
) -> None:
    """cash_due refuses what split_payment refuses, and points worth more than the order."""
    with pytest.raises(error):
        cash_due(order_total, points, ratio)


# --------------------------------------------------------------------------- documented prices

ROOT = Path(__file__).resolve().parents[2]


def _documented_prices() -> dict[str, set[tuple[str, int]]]:
    """Every catalog entry in the TOML blocks of README.md and docs/program.md, priced as
    the engine prices it (the item's ratio, else the block's redemption ratio, else 100)."""
    prices: dict[str, set[tuple[str, int]]] = {}
    for doc in ("README.md", "docs/program.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        for block in re.findall(r"```toml\n(.*?)```", text, re.DOTALL):
            data = tomllib.loads(block, parse_float=Decimal)
            ratio = data.get("redemption", {}).get("exchange_ratio", 100)
            for name, item in data.get("catalog", {}).items():
                price = points_price(
                    cash_value=item["cash_value"],
                    exchange_ratio=item.get("exchange_ratio", ratio),
                    cost_rate=item.get("cost_rate", 1),
                    price=item.get("price"),
                    max_discount=item.get("max_discount", 0),
                )
                prices.setdefault(name, set()).add((doc, price))
    return prices


def test_a_reward_has_one_price_in_every_document() -> None:
    """A reward name the documentation reuses costs the same wherever it appears: the
    200-minus-50 coupon is 2,500 points (max_discount is no coupon's spend threshold)."""
    prices = _documented_prices()
    assert {price for _, price in prices["coupon_200_minus_50"]} == {2500}
    assert {doc for doc, _ in prices["coupon_200_minus_50"]} == {"README.md", "docs/program.md"}
    differing = {name: found for name, found in prices.items() if len({p for _, p in found}) > 1}
    assert not differing


def test_cash_due_is_exact_when_the_points_value_terminates() -> None:
    """At ratio 250 one point is worth 0.004 (250 = 2 x 5^3, a terminating quotient): the cash
    due is exactly 10 - 0.004 = 9.996, not rounded to a cent."""
    assert cash_due(D(10), 1, D(250)) == D("9.996")


def test_a_boolean_is_no_amount_of_money() -> None:
    """True is an int to Python, not a cash value."""
    with pytest.raises(TypeError, match="cash_value must be a Decimal, got bool"):
        points_price(cash_value=True, exchange_ratio=D(100))  # type: ignore[arg-type]


def test_cash_due_keeps_every_digit_of_a_long_order_total() -> None:
    """30 significant digits, more than the default decimal context holds."""
    total = D("12345678901234567890.123456789")
    assert cash_due(total, 1, D(100)) == D("12345678901234567890.113456789")
