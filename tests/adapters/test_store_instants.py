"""Instants through the Store port: any aware datetime in, the same instant out, on every store.

The port takes aware datetimes in any zone (pendulum's included) and compares them
as instants; a store that keeps instants as text must convert them to UTC as
instants, not by shifting the local clock time (pendulum shifts across a DST
change by elapsed time).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pendulum

from gamify.store import Changes, EarnedDelta, LedgerEntry, Lot, MemberRecord, OutboxMessage

if TYPE_CHECKING:
    from conftest import StoreTarget  # tests/conftest.py

# An hour and a half before New York's clocks go back (06:00 UTC), and an hour after.
EARNED = pendulum.datetime(2026, 11, 1, 0, 30, 0, 123456, tz="America/New_York")
EXPIRES = pendulum.datetime(2026, 11, 1, 1, 30, 0, 654321, tz="America/New_York", fold=1)
TICK = timedelta(microseconds=1)


def utc(at: datetime | None) -> datetime | None:
    # A time in a DST fold never equals one of another zone (PEP 495): compare in UTC.
    return None if at is None else at.astimezone(UTC)


def test_instants_in_a_zone_near_a_dst_change_are_kept_and_compared_as_instants(
    gamify_store_target: StoreTarget,
) -> None:
    assert EARNED.astimezone(UTC) == datetime(2026, 11, 1, 4, 30, 0, 123456, tzinfo=UTC)
    assert EXPIRES.astimezone(UTC) == datetime(2026, 11, 1, 6, 30, 0, 654321, tzinfo=UTC)
    store = gamify_store_target.open()
    try:
        with store.unit_of_work(["ana"]) as uow:
            uow.apply(
                Changes(
                    members=[MemberRecord("ana", "America/New_York", review_at=EXPIRES)],
                    entries=[
                        LedgerEntry("e1", "ana", "points", 10, EARNED, "earn", "r", lot_id="l1")
                    ],
                    new_lots=[
                        Lot("l1", "ana", "points", 10, 10, EARNED, EXPIRES, rule="r", key="k")
                    ],
                )
            )
        [entry] = store.history("ana")
        assert utc(entry.at) == utc(EARNED)
        [lot] = store.member_lots("ana", "points")
        assert (utc(lot.earned_at), utc(lot.expires_at)) == (utc(EARNED), utc(EXPIRES))
        member = store.get_member("ana")
        assert member is not None and utc(member.review_at) == utc(EXPIRES)

        assert store.earned_between("points", EARNED, EARNED.add(hours=1)) == {"ana": 10}
        assert store.earned_between("points", EARNED + TICK, EARNED.add(hours=1)) == {}
        assert store.earned_between("points", EARNED.subtract(hours=1), EARNED) == {}
        assert store.ledger_totals(EARNED, None) == [("points", "earn", None, 10)]
        assert store.ledger_totals(None, EARNED) == []

        due = store.due(EXPIRES)
        assert ([lot.lot_id for lot in due.expiring_lots], due.reviews) == (["l1"], ["ana"])
        early = store.due(EXPIRES - TICK)
        assert (early.expiring_lots, early.reviews) == ([], [])
    finally:
        store.close()


def test_a_limit_of_zero_or_less_reads_nothing_on_every_store(
    gamify_store_target: StoreTarget,
) -> None:
    """``limit`` counts rows to return: none for 0 or a negative count, on every store (a
    list slice would count a negative one from the end, and SQL's LIMIT refuses it or reads
    everything)."""
    store = gamify_store_target.open()
    try:
        for n, member_id in enumerate(("ana", "bo")):
            at = EARNED.add(minutes=n)
            with store.unit_of_work([member_id]) as uow:
                uow.apply(
                    Changes(
                        members=[MemberRecord(member_id, "UTC", review_at=EXPIRES)],
                        entries=[LedgerEntry(f"e{n}", member_id, "points", 10, at, "earn", "r")],
                        new_lots=[Lot(f"l{n}", member_id, "points", 10, 10, at, EXPIRES, rule="r")],
                        earned=[
                            EarnedDelta(
                                member_id, "points", 10, "2026-11-01", "2026-10-26", "2026-11"
                            )
                        ],
                        outbox=[OutboxMessage(f"ev{n}", "credited", member_id, at, {})],
                    )
                )
        for limit in (0, -1):
            assert store.history("ana", limit=limit) == []
            due = store.due(EXPIRES, limit=limit)
            assert (due.expiring_lots, due.maturing_lots, due.reviews) == ([], [], [])
            assert store.pending_outbox(limit) == []
            assert store.leaderboard("points", "all", limit=limit) == []
        assert len(store.due(EXPIRES, limit=1).expiring_lots) == 1
        assert len(store.pending_outbox(1)) == len(store.history("ana", limit=1)) == 1
        assert len(store.leaderboard("points", "all", limit=1)) == 1
    finally:
        store.close()
