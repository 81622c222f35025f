"""The points ledger: lot expiry, and which lots a spend consumes.

Pure functions over :class:`~gamify.store.Lot` records. A lot is spendable
from its ``pending_until`` (if any) and before its ``expires_at`` (if any).
Spends consume lots earliest expiry first, then earliest earned, with
never-expiring lots last.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pendulum

from gamify._time import add_local, local_date, local_midnight, start_of_next_month
from gamify.program import Validity
from gamify.store import Lot

__all__ = ["expiry_for", "renewed_expiry", "spend_order", "spendable", "take", "take_upto"]


def expiry_for(validity: Validity, at: datetime, tz: str) -> datetime | None:
    """The instant a lot earned at ``at`` expires under ``validity`` (None: never)."""
    if validity.policy == "never":
        return None
    if validity.policy == "end_of_next_year":
        day = local_date(at, tz)
        return local_midnight(day.replace(year=day.year + 2, month=1, day=1), tz)
    if validity.policy == "months_end":
        return start_of_next_month(at, tz, validity.months)
    return add_local(at, tz, months=validity.months)


def spendable(lot: Lot, at: datetime) -> bool:
    """Whether ``lot`` can be spent at ``at`` (half-open windows)."""
    if lot.status != "open" or lot.remaining <= 0:
        return False
    if lot.pending_until is not None and at < lot.pending_until:
        return False
    return lot.expires_at is None or at < lot.expires_at


def spend_order(lots: Sequence[Lot]) -> list[Lot]:
    """Lots in the order a spend consumes them (stable: ties keep the given order)."""
    return sorted(
        lots,
        key=lambda lot: (
            lot.expires_at is None,
            lot.expires_at or lot.earned_at,
            lot.earned_at,
        ),
    )


def take(lots: Sequence[Lot], amount: int, at: datetime) -> list[tuple[Lot, int]]:
    """The (lot, points) pairs a spend of ``amount`` consumes; empty if not enough is spendable."""
    out = take_upto(lots, amount, at)
    return out if sum(used for _, used in out) >= amount else []


def take_upto(lots: Sequence[Lot], amount: int, at: datetime) -> list[tuple[Lot, int]]:
    """Like :func:`take`, but takes what there is when it is less than ``amount``."""
    out: list[tuple[Lot, int]] = []
    left = amount
    for lot in spend_order([lot for lot in lots if spendable(lot, at)]):
        if left <= 0:
            break
        used = min(lot.remaining, left)
        out.append((lot, used))
        left -= used
    return out


def renewed_expiry(expires_at: datetime, months: int, tz: str) -> datetime:
    """``expires_at`` moved ``months`` later; a month-end expiry stays at a month end.

    A month end is the first instant of a month's first local day in ``tz`` (the zone the
    lot was earned in): its midnight, or where a clock change skips midnight, the instant
    the day starts."""
    day = local_date(expires_at, tz)
    if day.day == 1 and local_midnight(day, tz) == expires_at:
        return local_midnight(pendulum.date(day.year, day.month, 1).add(months=months), tz)
    return add_local(expires_at, tz, months=months)
