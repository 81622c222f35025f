"""The memory store keeps records as plain tuples whose fields it spells out by hand;
each must hold every field of its record, in declaration order, so that
``Record(*row)`` rebuilds the record."""

from __future__ import annotations

import dataclasses
import datetime as dt

from gamify_adapters import memory

from gamify.store import LedgerEntry, Lot, MemberRecord

AT = dt.datetime(2026, 5, 3, 23, 30, tzinfo=dt.UTC)


# Every field holds a value no other field of its record holds, so a swapped pair shows.
ENTRY = LedgerEntry("e1", "m1", "points", 7, AT, "earn", "rule", "k1", "buy", "lot1")
LOT = Lot(
    "lot1",
    "m1",
    "points",
    7,
    5,
    AT,
    AT + dt.timedelta(days=1),
    AT - dt.timedelta(days=1),
    "rule",
    "k1",
    "pending",
)
MEMBER = MemberRecord(
    "m1",
    "Asia/Shanghai",
    dt.date(1990, 1, 2),
    ("vip",),
    3,
    "gold",
    AT + dt.timedelta(days=2),
    "CODE",
    "m2",
    AT - dt.timedelta(days=3),
    {"counts": {"workout": 3}},
)


def test_entry_and_lot_rows_hold_every_field_in_order() -> None:
    for record, row in ((ENTRY, memory._entry_row), (LOT, memory._lot_row)):
        fields = dataclasses.fields(record)
        assert row(record) == tuple(getattr(record, f.name) for f in fields)
        assert type(record)(*row(record)) == record


def test_a_member_row_holds_every_field_in_order_and_gives_the_record_back() -> None:
    record = MEMBER
    row = memory._member_row(record)
    names = [f.name for f in dataclasses.fields(MemberRecord)]
    assert row[:-1] == tuple(getattr(record, name) for name in names[:-1])
    assert memory._member(row) == record


def test_a_member_state_of_every_json_shape_comes_back_equal_and_unshared() -> None:
    """The record read back from a row equals the one written, and shares no container
    with it nor with another record read from the same row."""
    state = {
        "counts": {"workout": 3},
        "flat": {"f": 1.5, "b": True, "n": None, "s": "café ☕", "i": 2**70},
        "empty": {},
        "nested": {"a": {"b": [1, 2]}},
        "list": [1, {"x": 2}],
        "level_paid": 4,
        "none": None,
    }
    record = dataclasses.replace(MEMBER, state=state)
    row = memory._member_row(record)
    back, again = memory._member(row), memory._member(row)
    assert back == record
    for name in ("counts", "flat", "empty", "nested", "list"):
        assert back.state[name] is not state[name]
        assert again.state[name] is not back.state[name]
    assert back.state["nested"]["a"] is not again.state["nested"]["a"]
