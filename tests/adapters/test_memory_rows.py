"""The memory store keeps records as plain tuples whose fields it spells out by hand;
each must hold every field of its record, in declaration order, so that
``Record(*row)`` rebuilds the record."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

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
    assert names[-1] == "state"  # kept apart from the row
    assert row == tuple(getattr(record, name) for name in names[:-1])
    assert memory._member(row, memory._stored_state(record.state)) == record


def _round_trip(record: MemberRecord) -> tuple[dict[Any, Any], MemberRecord]:
    stored = memory._stored_state(record.state)
    return stored, memory._member(memory._member_row(record), stored)


def test_a_member_state_of_every_json_shape_comes_back_equal_and_unshared() -> None:
    """Flat sections are copied and nested ones encoded; either way the record read back
    equals the one written, and shares no container with it."""
    state = {
        "counts": {"workout": 3},
        "flat": {"f": 1.5, "b": True, "n": None, "s": "café ☕", "i": 2**70},
        "empty": {},
        "nested": {"a": {"b": [1, 2]}},
        "list": [1, {"x": 2}],
        "level_paid": 4,
        "curve": "abc",
        "ratio": 0.5,
        "none": None,
        "raw": b"\x00\x01",  # encoded like a nested section, and read back as bytes
        "int_keys": {1: "one"},  # not text: encoded whole, not shared
    }
    record = dataclasses.replace(MEMBER, state=state)
    stored, back = _round_trip(record)
    assert back == record
    assert back.state is not state
    again = memory._loaded_state(stored)
    for name in ("counts", "flat", "empty", "nested", "list", "int_keys"):
        assert back.state[name] is not state[name]
        assert again[name] is not back.state[name]
        assert stored[name] is not state[name]


def test_a_state_with_a_key_that_is_not_text_is_kept_whole() -> None:
    """Sections are keyed by text; any other key makes the state one encoded value."""
    record = dataclasses.replace(MEMBER, state={1: {"a": 1}, "counts": {"w": 1}})
    stored, back = _round_trip(record)
    assert back == record
    assert back.state[1] is not record.state[1]
    assert list(stored) == [memory._WHOLE]
