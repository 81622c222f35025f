"""Calendar arithmetic in a member's or the program's zone.

Instants are aware UTC datetimes; local days, weeks and months are read in an
IANA zone at the instant of the event. Windows are half-open, [start, end).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Final

import pendulum

from gamify.clock import as_utc, zone

__all__ = [
    "add_local",
    "local_date",
    "local_midnight",
    "month_key",
    "period_key",
    "period_start",
    "start_of_next_month",
    "utc_text",
    "week_start",
]


_ONE_DAY: Final = timedelta(days=1)
_TICK: Final = timedelta(microseconds=1)

# Zone -> the newest local day read in it and the one before, as (first instant, the next
# day's, date). Events come close together in time, so most fall on one of them (a
# streak reads its last event's day too), and comparing instants costs a fraction of
# converting one; older instants are converted as they come. Only days of 24 hours with
# one UTC offset at both ends are kept (not DST days): every instant inside reads as
# that day.
_DAYS_READ: Final[dict[str, tuple[tuple[datetime, datetime, date], ...]]] = {}


def local_date(at: datetime, tz: str) -> date:
    """The calendar date of ``at`` in ``tz``."""
    kept = _DAYS_READ.get(tz, ())
    for start, end, day in kept:
        if start <= at < end:
            return day
    place = zone(tz)
    day = at.astimezone(place).date()
    if kept and at < kept[0][1]:
        return day  # before the newest day kept
    start = local_midnight(day, tz)
    end = local_midnight(day + _ONE_DAY, tz)
    if (
        end - start == _ONE_DAY
        and start.astimezone(place).utcoffset() == (end - _TICK).astimezone(place).utcoffset()
    ):
        _DAYS_READ[tz] = ((start, end, day), *kept[:1])
    return day


# "00" to "99": writing an instant from these costs a fraction of isoformat(), which
# formats its fields and asks the zone for its offset.
_TWO_DIGITS: Final = [f"{n:02d}" for n in range(100)]


def utc_text(at: datetime) -> str:
    """``at.isoformat()``, written directly for an instant in UTC."""
    if at.tzinfo is not UTC or at.year < 1000:
        return at.isoformat()
    two = _TWO_DIGITS
    text = (
        f"{at.year}-{two[at.month]}-{two[at.day]}T{two[at.hour]}:{two[at.minute]}:{two[at.second]}"
    )
    micro = at.microsecond
    if micro:
        text += "." + str(1_000_000 + micro)[1:]
    return text + "+00:00"


def week_start(day: date, first_weekday: int = 0) -> date:
    """The first day of the week holding ``day`` (0 = weeks start on Monday)."""
    return day - timedelta(days=(day.weekday() - first_weekday) % 7)


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def period_key(period: str, day: date, first_weekday: int = 0) -> str:
    """A stable name of the local period (``day``, ``week``, ``month``) that holds ``day``."""
    if period == "day":
        return day.isoformat()
    if period == "week":
        return "w" + week_start(day, first_weekday).isoformat()
    if period == "month":
        return month_key(day)
    raise ValueError(f"unknown period {period!r}")


def period_start(period: str, day: date, first_weekday: int = 0) -> date:
    """The first local day of the period holding ``day``."""
    if period == "day":
        return day
    if period == "week":
        return week_start(day, first_weekday)
    if period == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown period {period!r}")


@lru_cache(maxsize=4096)  # streak breaks and expiry dates ask for the same few midnights
def local_midnight(day: date, tz: str) -> datetime:
    """The instant (UTC) at which local ``day`` begins in ``tz``: the first of two
    midnights where clocks fall back at 01:00, the end of the gap where they skip it."""
    # fold=0 takes the earlier offset of an ambiguous time and, inside a gap, the offset
    # before the jump, which lands on the jump itself.
    return as_utc(datetime(day.year, day.month, day.day, tzinfo=zone(tz)))


def start_of_next_month(at: datetime, tz: str, months: int = 0) -> datetime:
    """The local midnight that starts the month after ``at``'s month, plus ``months``."""
    local = pendulum.instance(at).in_timezone(zone(tz))
    first = pendulum.date(local.year, local.month, 1).add(months=months + 1)
    return local_midnight(first, tz)


def add_local(at: datetime, tz: str, **units: int) -> datetime:
    """Calendar arithmetic in ``tz``: ``days=14`` keeps the wall-clock time across DST."""
    local = pendulum.instance(at).in_timezone(zone(tz))
    return as_utc(local.add(**units))
