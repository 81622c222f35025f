"""The ledger's lots as pure functions: expiry instants, spendability, and the order spends
consume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gamify.components.ledger import expiry_for, renewed_expiry, spend_order, spendable, take
from gamify.program import Validity
from gamify.store import Lot

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)


def lot(
    name: str,
    remaining: int,
    earned: datetime = T0,
    expires: datetime | None = None,
    pending: datetime | None = None,
    status: str = "open",
) -> Lot:
    return Lot(name, "m", "points", remaining, remaining, earned, expires, pending, status=status)  # type: ignore[arg-type]


def test_spend_order_is_earliest_expiry_first_then_earliest_earned_never_expiring_last() -> None:
    """Spends take the lot expiring soonest, ties by earning time, and never-expiring lots last."""
    lots = [
        lot("forever-old", 10, earned=T0 - timedelta(days=9)),
        lot("june", 10, expires=datetime(2026, 6, 1, tzinfo=UTC)),
        lot("april-late", 10, earned=T0 + timedelta(hours=1), expires=APRIL),
        lot("april-early", 10, earned=T0, expires=APRIL),
        lot("forever-new", 10, earned=T0),
    ]
    assert [x.lot_id for x in spend_order(lots)] == [
        "april-early",
        "april-late",
        "june",
        "forever-old",
        "forever-new",
    ]


def test_take_consumes_lots_in_order_and_splits_the_last() -> None:
    """A spend of 25 over lots of 10 (soonest), 10 and 10 takes 10, 10 and 5."""
    lots = [
        lot("c", 10),
        lot("a", 10, expires=T0 + timedelta(days=1)),
        lot("b", 10, expires=T0 + timedelta(days=2)),
    ]
    picks = take(lots, 25, T0)
    assert [(x.lot_id, used) for x, used in picks] == [("a", 10), ("b", 10), ("c", 5)]


def test_take_returns_nothing_when_not_enough_is_spendable() -> None:
    """A spend larger than the spendable lots returns no picks at all."""
    assert take([lot("a", 10), lot("b", 5)], 16, T0) == []


def test_a_lot_is_spendable_before_its_expiry_not_at_it() -> None:
    """Expiry is half-open: spendable one microsecond before the instant, not at it."""
    x = lot("a", 10, expires=T0)
    assert spendable(x, T0 - timedelta(microseconds=1))
    assert not spendable(x, T0)


def test_a_pending_lot_is_spendable_from_its_maturity() -> None:
    """Pending points can be spent from their maturity instant on, not before."""
    x = lot("a", 10, pending=T0)
    assert not spendable(x, T0 - timedelta(microseconds=1))
    assert spendable(x, T0)


def test_closed_and_empty_lots_are_not_spendable() -> None:
    """Closed lots and lots with nothing left are skipped."""
    assert not spendable(lot("a", 10, status="closed"), T0)
    assert not spendable(lot("b", 0), T0)


def test_expiry_never() -> None:
    """The 'never' policy gives no expiry instant."""
    assert expiry_for(Validity(policy="never"), T0, "UTC") is None


def test_expiry_end_of_next_year_in_the_member_zone() -> None:
    """Earned 2026-03-01 in Shanghai, gone at 2028-01-01 00:00 Shanghai = 2027-12-31 16:00 UTC."""
    got = expiry_for(Validity(policy="end_of_next_year"), T0, "Asia/Shanghai")
    assert got == datetime(2027, 12, 31, 16, tzinfo=UTC)


def test_expiry_end_of_next_year_reads_the_local_year() -> None:
    """31 Dec 2026 20:00 UTC is already 2027 in Shanghai, so the lot lasts to 2029-01-01 local."""
    at = datetime(2026, 12, 31, 20, tzinfo=UTC)
    got = expiry_for(Validity(policy="end_of_next_year"), at, "Asia/Shanghai")
    assert got == datetime(2028, 12, 31, 16, tzinfo=UTC)


def test_expiry_months_end() -> None:
    """months_end with 0 months ends at the local midnight starting the next month (New York,
    EDT)."""
    got = expiry_for(Validity(policy="months_end", months=0), T0, "America/New_York")
    assert got == datetime(2026, 4, 1, 4, tzinfo=UTC)  # 2026-04-01 00:00 EDT


def test_expiry_months_keeps_the_local_wall_time_across_dst() -> None:
    """'1 month' from 1 March 07:00 New York (EST) is 1 April 07:00 (EDT): 11:00 UTC, not 12:00."""
    got = expiry_for(Validity(policy="months", months=1), T0, "America/New_York")
    assert got == datetime(2026, 4, 1, 11, tzinfo=UTC)


def test_renewal_keeps_a_month_end_expiry_at_a_month_end() -> None:
    """A lot due at the end of January (1 February 00:00 local, Shanghai) renewed by 6 months
    is due at the end of July."""
    due = datetime(2026, 1, 31, 16, tzinfo=UTC)  # 2026-02-01 00:00 in Shanghai
    got = renewed_expiry(due, 6, "Asia/Shanghai")
    assert got == datetime(2026, 7, 31, 16, tzinfo=UTC)  # 2026-08-01 00:00 in Shanghai


def test_renewal_of_an_expiry_during_the_first_day_of_a_month_keeps_its_time() -> None:
    """A lot earned at 10:00 on 1 January under '2 months' is due at 10:00 on 1 March: not a
    month end, so renewing it by 6 months keeps 10:00 (1 September), not midnight."""
    earned = datetime(2026, 1, 1, 10, tzinfo=UTC)
    due = expiry_for(Validity(policy="months", months=2), earned, "UTC")
    assert due == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert renewed_expiry(due, 6, "UTC") == datetime(2026, 9, 1, 10, tzinfo=UTC)
