"""Tiers: a qualifying metric over a window, upgrades at once, downgrades at reviews.

Pure functions over monthly buckets of the metric, keyed by the member's
local month (``{"2026-03": "1250.00"}``), plus a lifetime total.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

import pendulum

from gamify import _time
from gamify.program import Tiers

__all__ = [
    "add",
    "next_review",
    "place",
    "previous_review",
    "review",
    "value_at",
    "value_before",
]

ZERO = Decimal(0)


def add(buckets: Mapping[str, str], day: date, amount: Decimal, keep_months: int) -> dict[str, str]:
    """Add ``amount`` to the bucket of ``day``'s month; drop buckets no window can read."""
    key = _time.month_key(day)
    out = dict(buckets)
    out[key] = str(Decimal(out.get(key, "0")) + amount)
    oldest = _time.month_key(pendulum.date(day.year, day.month, 1).subtract(months=keep_months))
    return {k: v for k, v in out.items() if k >= oldest}


def _sum(buckets: Mapping[str, str], first: str, last: str) -> Decimal:
    return sum((Decimal(v) for k, v in buckets.items() if first <= k <= last), ZERO)


def value_at(spec: Tiers, buckets: Mapping[str, str], total: Decimal, day: date) -> Decimal:
    """The metric over the window that holds local ``day``."""
    if spec.window == "lifetime":
        return total
    if spec.window == "calendar_year":
        return _sum(buckets, f"{day.year:04d}-01", f"{day.year:04d}-12")
    first = pendulum.date(day.year, day.month, 1).subtract(months=spec.months - 1)
    return _sum(buckets, _time.month_key(first), _time.month_key(day))


def value_before(spec: Tiers, buckets: Mapping[str, str], total: Decimal, day: date) -> Decimal:
    """The metric over the window that ends when local ``day`` begins (judged at a review)."""
    if spec.window == "lifetime":
        return total
    if spec.window == "calendar_year":
        # The last whole calendar year: a review on 1 March judges all of last year,
        # not January and February of this one.
        year = day.year - 1
        return _sum(buckets, f"{year:04d}-01", f"{year:04d}-12")
    last = pendulum.date(day.year, day.month, 1).subtract(days=1)
    first = pendulum.date(last.year, last.month, 1).subtract(months=spec.months - 1)
    return _sum(buckets, _time.month_key(first), _time.month_key(last))


def next_review(spec: Tiers, after: datetime, tz: str) -> datetime:
    """The first review instant (local midnight of the review date) strictly after ``after``."""
    day = _time.local_date(after, tz)
    candidate = date(day.year, spec.review_month, spec.review_day)
    instant = _time.local_midnight(candidate, tz)
    if instant <= after:
        instant = _time.local_midnight(candidate.replace(year=day.year + 1), tz)
    return instant


def previous_review(spec: Tiers, at: datetime, tz: str) -> datetime:
    """The last review instant at or before ``at``."""
    day = _time.local_date(at, tz)
    candidate = _time.local_midnight(date(day.year, spec.review_month, spec.review_day), tz)
    if candidate > at:
        candidate = _time.local_midnight(date(day.year - 1, spec.review_month, spec.review_day), tz)
    return candidate


def review(
    spec: Tiers,
    current: int,
    before: Decimal,
    now_value: Decimal,
    upgraded_at: datetime | None,
    review_at: datetime,
    tz: str,
) -> int:
    """The tier index a review leaves: the best of the ended and the current window,
    never lower while the retention period since the upgrade runs."""
    best = max(spec.qualify(before), spec.qualify(now_value))
    if best >= current:
        return current
    if (
        upgraded_at is not None
        and spec.retention_months
        and review_at < _time.add_local(upgraded_at, tz, months=spec.retention_months)
    ):
        return current
    return best


def place(spec: Tiers, buckets: Mapping[str, str], total: Decimal, day: date) -> int:
    """The tier index for a member whose tier the program no longer has, judged on local
    ``day`` as a review would judge it: the best of the ended and the current window."""
    return max(
        spec.qualify(value_before(spec, buckets, total, day)),
        spec.qualify(value_at(spec, buckets, total, day)),
    )
