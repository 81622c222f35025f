"""Time sources.

The engine never reads the system time itself: it asks its :class:`Clock`.
The default :class:`SystemClock` reads ``pendulum.now("UTC")``, which follows
``freezegun`` and ``time-machine``; :class:`ManualClock` is set and moved by
hand in tests and simulations.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

import pendulum

from gamify.errors import InvalidTimeError

__all__ = ["Clock", "ManualClock", "SystemClock", "ensure_aware"]


@runtime_checkable
class Clock(Protocol):
    """Anything with a ``now()`` returning an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """Reads the current instant from pendulum (honours freezegun and time-machine)."""

    def now(self) -> datetime:
        return pendulum.now("UTC")


def ensure_aware(value: datetime, what: str = "datetime") -> datetime:
    """Return ``value`` in UTC, refusing naive datetimes (their zone is a guess)."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidTimeError(f"{what} {value.isoformat()} is naive: pass an aware datetime")
    return value.astimezone(UTC)


class ManualClock:
    """A clock that stands still until told to move.

    >>> clock = ManualClock(pendulum.datetime(2026, 3, 1, tz="Asia/Shanghai"))
    >>> clock.advance(days=1)
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = ensure_aware(start) if start is not None else pendulum.now("UTC")

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        """Jump to ``instant`` (aware; any zone)."""
        self._now = ensure_aware(instant)

    def advance(self, delta: timedelta | None = None, **units: float) -> datetime:
        """Move forward by ``delta`` or by pendulum units (``days=1``, ``hours=3``).

        Calendar units (days, weeks, months) are exact durations in UTC here;
        use :meth:`set` with a local datetime to land on a local wall time.
        """
        if delta is not None:
            self._now = self._now + delta
        if units:
            self._now = pendulum.instance(self._now).add(**units)  # type: ignore[arg-type]
        return self._now
