"""A local day begins at the first instant whose local date is that day, in every zone:
the first of two midnights where clocks fall back at 01:00 (Havana, the Azores), the end
of the gap where midnight is skipped, and plain midnight elsewhere."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import gamify
from gamify._time import local_date, local_midnight, utc_text

US = timedelta(microseconds=1)
ZONES = [
    "America/Havana",  # midnight skipped in March, twice in November
    "Atlantic/Azores",  # midnight twice in October
    "America/Santiago",
    "Asia/Gaza",
    "Europe/Paris",
    "America/New_York",
    "Asia/Shanghai",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "UTC",
]


@pytest.mark.parametrize("tz", ZONES)
def test_a_local_day_begins_at_the_first_instant_of_that_date(tz: str) -> None:
    """Every day of three years, so every DST change of the zone is met."""
    day = date(2025, 1, 1)
    while day < date(2028, 1, 1):
        start = local_midnight(day, tz)
        assert local_date(start, tz) == day, (tz, day, start)
        assert local_date(start - US, tz) == day - timedelta(days=1), (tz, day, start)
        day += timedelta(days=1)


@pytest.mark.parametrize(
    ("tz", "day", "start"),
    [
        # 1 November 2026 in Havana: 00:00-00:59 happens twice (UTC-4, then UTC-5).
        ("America/Havana", date(2026, 11, 1), datetime(2026, 11, 1, 4, tzinfo=UTC)),
        # 8 March 2026 in Havana: clocks jump from 00:00 to 01:00 (UTC-5 to UTC-4).
        ("America/Havana", date(2026, 3, 8), datetime(2026, 3, 8, 5, tzinfo=UTC)),
        # 25 October 2026 in the Azores: 00:00-00:59 happens twice (UTC+0, then UTC-1).
        ("Atlantic/Azores", date(2026, 10, 25), datetime(2026, 10, 25, 0, tzinfo=UTC)),
    ],
)
def test_the_worked_awkward_midnights(tz: str, day: date, start: datetime) -> None:
    assert local_midnight(day, tz) == start


def test_a_month_end_lot_expires_at_the_first_midnight_of_the_month(
    gamify_engine: gamify.testing.plugin.EngineFactory,
) -> None:
    """In Havana on 1 November 2026 the first local 00:00 is 04:00 UTC: a lot due at the
    end of October is gone at 04:30 UTC (00:30 local, already November)."""
    clock = gamify.ManualClock(datetime(2026, 10, 10, 15, tzinfo=UTC))
    engine = gamify_engine(
        {
            "timezone": "America/Havana",
            "actions": {"buy": {"amount": "required"}},
            "rules": [{"name": "buy", "action": "buy", "per_amount": 1}],
            "expiry": {"policy": "months_end", "months": 0},
        },
        clock=clock,
    )
    engine.set_member("ana", timezone="America/Havana")
    engine.track("ana", "buy", amount=100)
    [lot] = engine.store.member_lots("ana", "points")
    assert lot.expires_at == datetime(2026, 11, 1, 4, tzinfo=UTC)
    clock.set(datetime(2026, 11, 1, 4, 30, tzinfo=UTC))
    assert engine.run_due().expired_points == 100
    assert engine.balance("ana") == 0


# Zones whose days local_date must not get wrong from a remembered day: midnight repeated
# by a fall-back to the previous day (Sao Paulo until 2019), days skipped (Apia, 2011),
# odd offsets (Kathmandu, Chatham, St John's), and a zone changing offset twice a year
# around Ramadan (Casablanca).
REMEMBERED_DAY_ZONES = [
    *ZONES,
    "America/Sao_Paulo",
    "Pacific/Apia",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/St_Johns",
    "Africa/Casablanca",
]


@pytest.mark.parametrize("tz", REMEMBERED_DAY_ZONES)
def test_local_date_agrees_with_the_zone_database_instant_by_instant(tz: str) -> None:
    """local_date remembers the last day read in each zone; walking forward through years
    of DST changes (in steps that land on every minute of the hour) and jumping back and
    forth, it answers as converting each instant with zoneinfo does."""
    place = ZoneInfo(tz)
    at = datetime(2010, 1, 1, tzinfo=UTC)
    while at < datetime(2020, 1, 1, tzinfo=UTC):
        assert local_date(at, tz) == at.astimezone(place).date(), (tz, at)
        at += timedelta(minutes=131)
    day = date(2016, 1, 1)
    while day < date(2018, 1, 1):  # the last instant of a day read, then the next day's first
        start = local_midnight(day, tz)
        assert local_date(start - US, tz) == (start - US).astimezone(place).date(), (tz, day)
        assert local_date(start, tz) == start.astimezone(place).date() == day, (tz, day)
        day += timedelta(days=1)
    rng = random.Random(tz)
    for _ in range(2000):
        at = datetime(2010, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10 * 365 * 86400))
        for step in (timedelta(0), US, -US, timedelta(hours=1), -timedelta(hours=1)):
            moved = at + step
            assert local_date(moved, tz) == moved.astimezone(place).date(), (tz, moved)


def test_local_date_near_a_midnight_repeated_by_a_fall_back_to_the_day_before() -> None:
    """Sao Paulo, 18 February 2018: at midnight clocks went back to 23:00 on the 17th. The
    hour after the first midnight belongs to the 17th again, after the 18th was read."""
    tz = "America/Sao_Paulo"
    first_midnight = datetime(2018, 2, 18, 2, 0, tzinfo=UTC)  # 00:00 at -02:00
    assert local_date(first_midnight - US, tz) == date(2018, 2, 17)
    assert local_date(first_midnight, tz) == date(2018, 2, 17)  # now 23:00 at -03:00
    assert local_date(first_midnight + timedelta(minutes=59), tz) == date(2018, 2, 17)
    assert local_date(first_midnight + timedelta(hours=1), tz) == date(2018, 2, 18)
    assert local_date(first_midnight + timedelta(minutes=30), tz) == date(2018, 2, 17)


def test_utc_text_is_isoformat() -> None:
    """Written by hand for UTC instants (with and without microseconds, at the edges of
    each field); other zones and early years go through isoformat itself."""
    rng = random.Random(7)
    instants = [
        datetime(2026, 3, 29, 23, 30, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 100_000, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(2026, 3, 30, 7, 30, tzinfo=ZoneInfo("Asia/Shanghai")),
        datetime(2026, 3, 30, 7, 30, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    ]
    instants += [
        datetime(2000, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(10**15))
        for _ in range(2000)
    ]
    for at in instants:
        assert utc_text(at) == at.isoformat(), at
