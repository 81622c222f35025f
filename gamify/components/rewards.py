"""Reward pricing: points prices of catalog items, and points-plus-cash payment.

Pure functions over exact decimals; nothing here reads storage or the clock.

The price formula::

    points  = ceil(exchange_ratio x cash_value x cost_rate x premium)
    premium = price / (price - max_discount)

``cash_value`` is what the member receives (50 for a 200-minus-50 coupon, 30
for a phone card), ``cost_rate`` the business's purchase cost over the cash
value, ``price`` the item's list price and ``max_discount`` the largest
discount the business already gives on that item elsewhere (0 when none, so
the premium is 1). Closed-loop rewards (coupons used in the app) may be priced
at a lower ``exchange_ratio`` (50) than open-loop goods (100). A fractional
price rounds up to a whole point.

Intermediate products are carried as :class:`fractions.Fraction` (exact
rationals built from the decimals), so a premium such as 9/7 never loses a
digit before the final rounding: the only rounding is the one the rule names.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

__all__ = [
    "cash_due",
    "max_points_for_order",
    "points_price",
    "premium",
    "split_payment",
]

_ONE = Decimal(1)
_ZERO = Decimal(0)
_CENT = Decimal("0.01")


def _decimal(name: str, value: Decimal) -> Decimal:
    """Return ``value`` as a finite Decimal, or raise ValueError/TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{name} must be a finite number, got {value}")
    return result


def _positive(name: str, value: Decimal) -> Decimal:
    result = _decimal(name, value)
    if result <= 0:
        raise ValueError(f"{name} must be greater than 0, got {value}")
    return result


def _non_negative(name: str, value: Decimal) -> Decimal:
    result = _decimal(name, value)
    if result < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return result


def _share(name: str, value: Decimal) -> Decimal:
    result = _decimal(name, value)
    if not 0 <= result <= 1:
        raise ValueError(f"{name} must lie between 0 and 1, got {value}")
    return result


def _points(name: str, value: int) -> int:
    """Return ``value`` as a whole number of points >= 0, or raise ValueError/TypeError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def _premium_fraction(price: Decimal, max_discount: Decimal) -> Fraction:
    price = _decimal("price", price)
    max_discount = _non_negative("max_discount", max_discount)
    if price <= 0:
        raise ValueError(f"price must be greater than 0, got {price}")
    if max_discount == 0:
        return Fraction(1)
    if price <= max_discount:
        raise ValueError(
            f"price ({price}) must be greater than max_discount ({max_discount}): "
            "the premium price / (price - max_discount) is undefined otherwise"
        )
    return Fraction(price) / (Fraction(price) - Fraction(max_discount))


def premium(price: Decimal, max_discount: Decimal) -> Decimal:
    """The premium factor ``price / (price - max_discount)``; 1 when there is no discount.

    ``premium(Decimal(100), Decimal(20)) == Decimal("1.25")``. A quotient that
    does not terminate (``90 / 70``) is rounded to the current decimal context;
    :func:`points_price` does not use this rounded value.

    Raises ValueError when ``price`` is not positive, ``max_discount`` is
    negative, or ``price <= max_discount``.
    """
    factor = _premium_fraction(price, max_discount)
    return Decimal(factor.numerator) / Decimal(factor.denominator)


def points_price(
    *,
    cash_value: Decimal,
    exchange_ratio: Decimal,
    cost_rate: Decimal = _ONE,
    price: Decimal | None = None,
    max_discount: Decimal = _ZERO,
) -> int:
    """Points price of a reward: ``ceil(exchange_ratio x cash_value x cost_rate x premium)``.

    The premium is 1 when ``price`` is None (then ``max_discount`` must be 0).
    A 200-minus-50 coupon (cash value 50) at closed-loop ratio 50 costs 2500
    points; a 30-unit phone card at ratio 100 costs 3000.

    Raises ValueError when ``cash_value``, ``exchange_ratio`` or ``cost_rate``
    is not positive, or the premium is undefined (see :func:`premium`).
    """
    cash = _positive("cash_value", cash_value)
    ratio = _positive("exchange_ratio", exchange_ratio)
    cost = _positive("cost_rate", cost_rate)
    if price is None:
        if _non_negative("max_discount", max_discount) != 0:
            raise ValueError("max_discount needs the item's price to compute the premium")
        factor = Fraction(1)
    else:
        factor = _premium_fraction(price, max_discount)
    return math.ceil(Fraction(ratio) * Fraction(cash) * Fraction(cost) * factor)


def max_points_for_order(order_total: Decimal, max_share: Decimal, exchange_ratio: Decimal) -> int:
    """Most points that may pay an order: ``floor(order_total x max_share x exchange_ratio)``.

    ``max_share`` is the largest share of the order payable in points (0.3 for
    the usual 30 % cap). Rounding down keeps the points' value within the cap.
    """
    total = _non_negative("order_total", order_total)
    share = _share("max_share", max_share)
    ratio = _positive("exchange_ratio", exchange_ratio)
    return math.floor(Fraction(total) * Fraction(share) * Fraction(ratio))


def split_payment(
    order_total: Decimal,
    points_available: int,
    max_share: Decimal,
    exchange_ratio: Decimal,
    *,
    quantum: Decimal = _CENT,
) -> tuple[int, Decimal]:
    """Points plus cash: ``(points used, cash remaining)`` for an order.

    The member pays with as many points as they hold, up to
    :func:`max_points_for_order`; the rest is cash: ``order_total -
    points / exchange_ratio``. That remainder is exact whenever it is a
    terminating decimal (always for ratios such as 50 or 100); otherwise
    (ratio 3, say) it is rounded up to a multiple of ``quantum`` (a cent by
    default), so the points never pay more than their value.
    """
    total = _non_negative("order_total", order_total)
    ratio = _positive("exchange_ratio", exchange_ratio)
    available = _points("points_available", points_available)
    used = min(available, max_points_for_order(total, max_share, ratio))
    return used, cash_due(total, used, ratio, quantum=quantum)


def cash_due(
    order_total: Decimal, points: int, exchange_ratio: Decimal, *, quantum: Decimal = _CENT
) -> Decimal:
    """What is left to pay in cash after ``points`` pay part of an order: exact when it is a
    terminating decimal, otherwise rounded up to a multiple of ``quantum``.

    Raises ValueError/TypeError as :func:`split_payment` does, and ValueError when the
    points are worth more than the order (the cash due would be negative).
    """
    total = _non_negative("order_total", order_total)
    ratio = _positive("exchange_ratio", exchange_ratio)
    step = _positive("quantum", quantum)
    used = _points("points", points)
    # The whole order (share 1) is the most points can pay.
    if used > max_points_for_order(total, _ONE, ratio):
        raise ValueError(
            f"points ({used}) are worth more than the order total ({total}) "
            f"at exchange ratio {ratio}"
        )
    paid = Fraction(used) / Fraction(ratio)
    if _terminates(paid):
        with localcontext() as ctx:
            ctx.prec = max(ctx.prec, 100)
            return total - Decimal(paid.numerator) / Decimal(paid.denominator)
    remaining = Fraction(total) - paid
    return (step * math.ceil(remaining / Fraction(step))).quantize(step)


def _terminates(value: Fraction) -> bool:
    """True when ``value`` has a finite decimal expansion (denominator 2^a 5^b)."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1
