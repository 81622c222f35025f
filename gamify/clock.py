"""Time sources.

The engine never reads the system time itself: it asks its :class:`Clock`.
The default :class:`SystemClock` reads ``pendulum.now("UTC")``, which follows
``freezegun`` and ``time-machine``; :class:`ManualClock` is set and moved by
hand in tests and simulations.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Protocol, runtime_checkable

import pendulum

from gamify.errors import InvalidTimeError

__all__ = ["Clock", "ManualClock", "SystemClock", "as_utc", "ensure_aware"]


# Names in the zone database that are not zones of their own: "localtime" and "posixrules"
# stand for whatever zone the server is set to, "right/..." zones count leap seconds.
_NOT_ZONES = ("localtime", "posixrules")


@cache
def zone(name: str) -> pendulum.Timezone:
    """The IANA time zone called ``name``, looked up once (a lookup costs far more than a
    conversion). Raises ``ValueError`` for a name that is none."""
    if name in _NOT_ZONES or name.startswith(("right/", "posix/")):
        raise ValueError(f"{name!r} is not an IANA time zone name")
    tz = pendulum.timezone(name)
    assert isinstance(tz, pendulum.Timezone)
    return tz


@runtime_checkable
class Clock(Protocol):
    """Anything with a ``now()`` returning an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """Reads the current instant from pendulum (honours freezegun and time-machine)."""

    def now(self) -> datetime:
        return pendulum.now("UTC")


def ensure_aware(value: object, what: str = "datetime") -> datetime:
    """Return ``value`` in UTC, refusing naive datetimes (their zone is a guess)."""
    if type(value) is datetime and value.tzinfo is UTC:
        return value  # already what as_utc makes
    if not isinstance(value, datetime):
        raise InvalidTimeError(f"{what} must be a datetime, not {value!r}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidTimeError(f"{what} {value.isoformat()} is naive: pass an aware datetime")
    try:
        return as_utc(value)
    except OverflowError:
        raise InvalidTimeError(
            f"{what} {value.isoformat()} lies outside the years 1-9999 in UTC"
        ) from None


def as_utc(value: datetime) -> datetime:
    """A plain ``datetime`` in UTC for an aware one.

    Pendulum instances are converted: adding a ``timedelta`` to a pendulum
    ``DateTime`` whose zone is ``datetime.timezone.utc`` drops the zone.
    """
    v = value.astimezone(UTC)
    return datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, tzinfo=UTC)


# What pendulum's ``add`` takes.
_UNITS = frozenset(
    {"years", "months", "weeks", "days", "hours", "minutes", "seconds", "microseconds"}
)


class ManualClock:
    """A clock that stands still until told to move.

    >>> clock = ManualClock(pendulum.datetime(2026, 3, 1, 9, tz="Asia/Shanghai"))
    >>> clock.advance(hours=3).isoformat()
    '2026-03-01T04:00:00+00:00'
    >>> clock.advance(days=1, tz="America/New_York").isoformat()
    '2026-03-02T04:00:00+00:00'
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = ensure_aware(
            start if start is not None else pendulum.now("UTC"), "the clock's start"
        )

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        """Jump to ``instant`` (aware; any zone)."""
        self._now = ensure_aware(instant, "the clock's instant")

    def advance(
        self, delta: timedelta | None = None, *, tz: str | None = None, **units: float
    ) -> datetime:
        """Move by ``delta`` and/or by pendulum units (``days=1``, ``hours=3``, ``months=1``).

        Without ``tz`` the units are exact durations on the UTC time line
        (``days=1`` is 24 hours). With ``tz`` they are calendar arithmetic in
        that IANA zone, as the engine counts days: ``advance(days=1,
        tz="America/New_York")`` keeps the local wall-clock time across a DST
        change (23 or 25 hours), ``months=1`` lands on the same local day of the
        next month. Negative units move back. Returns the new instant (UTC).
        """
        if delta is not None and not isinstance(delta, timedelta):
            raise InvalidTimeError(f"advance by a timedelta or by units, not {delta!r}")
        unknown = sorted(set(units) - _UNITS)
        if unknown:
            raise InvalidTimeError(
                f"unknown unit {', '.join(unknown)}: use {', '.join(sorted(_UNITS))}"
            )
        for name, value in units.items():
            # Calendar units (years, months) are whole; the others may be fractions.
            whole = name in ("years", "months")
            kinds = (int,) if whole else (int, float)
            if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
                raise InvalidTimeError(
                    f"{name} must be a finite {'whole ' if whole else ''}number, not {value!r}"
                )
        if tz is not None and not isinstance(tz, str):
            raise InvalidTimeError(f"tz must be an IANA zone name, not {tz!r}")
        # Rebuild as a pendulum DateTime in pendulum's UTC zone: pendulum's
        # ``add`` drops a stdlib ``timezone.utc`` and returns a naive datetime.
        u = self._now
        now = pendulum.datetime(
            u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond, tz="UTC"
        )
        local_zone = None
        if tz is not None:  # checked even without units: a typo must not pass unnoticed
            try:
                local_zone = zone(tz)
            except Exception as exc:  # pendulum raises several kinds for unknown names
                raise InvalidTimeError(f"unknown IANA time zone {tz!r}") from exc
        try:
            if delta is not None:
                now = now + delta  # an exact duration, on the UTC time line
            if units:
                local = now if local_zone is None else now.in_timezone(local_zone)
                now = local.add(**units)  # type: ignore[arg-type]  # pendulum's add takes floats
        except (OverflowError, ValueError) as exc:
            raise InvalidTimeError(f"the clock cannot move that far: {exc}") from None
        self._now = ensure_aware(now)
        return self._now
