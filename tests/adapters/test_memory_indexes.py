"""The memory store's leaderboard indexes: correct against brute force, and reads that
evaluate only what changed since the last read (no walk over every member)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest
from gamify_adapters._indexes import SortedBoard, TimeIndex
from gamify_adapters.memory import MemoryStore
from hypothesis import given, settings
from hypothesis import strategies as st

import gamify
from gamify.store import Changes, EarnedDelta, MemberRecord

PROPERTY = settings(deadline=None, max_examples=80, derandomize=bool(os.environ.get("CI")))
MEMBERS = [f"m{i}" for i in range(12)]
# 23:30 UTC is 07:30 the next morning in Shanghai: the program's day is not the UTC day.
START = dt.datetime(2026, 5, 3, 23, 30, tzinfo=dt.UTC)


def brute_top(scores: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(((m, s) for m, s in scores.items() if s > 0), key=lambda r: (-r[1], r[0]))


@PROPERTY
@given(
    st.lists(
        st.tuples(st.sampled_from(MEMBERS), st.integers(-5, 30), st.booleans()),
        min_size=1,
        max_size=60,
    )
)
def test_sorted_board_equals_a_fresh_sort(ops: list[tuple[str, int, bool]]) -> None:
    """Scores set (zero and negative ones leave the board), ties, and reads between any
    writes, one changed member at a time or many (which sorts the board again)."""
    scores: dict[str, int] = {}
    board = SortedBoard(list(scores), lambda m: scores.get(m, 0))
    for member, score, read in ops:
        scores[member] = score
        board.touch(member)
        if read:
            expected = brute_top(scores)
            assert board.top(100) == expected
            assert board.top(3) == expected[:3]
            assert len(board) == len(expected)
            for probe in (-1, 0, score, score - 1, 31):
                assert board.count_above(probe) == sum(1 for _, s in expected if s > probe)
    assert board.top(100) == brute_top(scores)


instants = st.integers(0, 50).map(lambda h: START + dt.timedelta(hours=h))


@PROPERTY
@given(
    st.lists(st.tuples(instants, st.sampled_from(MEMBERS[:4]), st.integers(-3, 9)), max_size=40),
    st.lists(st.tuples(instants, st.sampled_from(MEMBERS[:4]), st.integers(-3, 9)), max_size=40),
    instants,
    st.integers(0, 60),
)
def test_time_index_sums_a_window(
    built: list[tuple[dt.datetime, str, int]],
    added: list[tuple[dt.datetime, str, int]],
    start: dt.datetime,
    hours: int,
) -> None:
    """Rows given at build and added later, out of time order and at equal instants."""
    index = TimeIndex(built)
    for at, member, amount in added:
        index.add(at, member, amount)
    end = start + dt.timedelta(hours=hours)
    expected: dict[str, int] = {}
    for at, member, amount in built + added:
        if start <= at < end:
            expected[member] = expected.get(member, 0) + amount
    assert index.totals(start, end) == expected


PROGRAM: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "actions": {"earn": {"amount": "required"}},
    "rules": [{"name": "earn_points", "action": "earn", "per_amount": 1}],
}


class Counting:
    """Counts the members a store's boards evaluate."""

    def __init__(self, store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = store._member_score

        def counted(currency: str, period: str, tier: str | None, member_id: str) -> int:
            self.calls += 1
            return original(currency, period, tier, member_id)

        monkeypatch.setattr(store, "_member_score", counted)

    def take(self) -> int:
        calls, self.calls = self.calls, 0
        return calls


def test_reads_evaluate_only_the_members_that_changed(
    gamify_patchable_store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = gamify.ManualClock(START)
    engine = gamify.Engine(PROGRAM, store=gamify_patchable_store, clock=clock)
    store = engine.store
    assert isinstance(store, MemoryStore)
    for i in range(300):
        engine.track(f"m{i:03d}", "earn", amount=i + 1)
    counting = Counting(store, monkeypatch)

    assert engine.leaderboard(limit=1)[0].member_id == "m299"
    assert counting.take() == 300  # the first read builds the board
    engine.track("m000", "earn", amount=1000)
    assert engine.leaderboard(limit=1)[0].member_id == "m000"
    assert counting.take() == 1
    assert engine.rank("m299") == engine.leaderboard(limit=2)[1]
    assert counting.take() == 0  # nothing changed since

    # The next local day's board starts from the members active that day only.
    clock.advance(dt.timedelta(days=1))
    for member in ("m010", "m020", "m030"):
        engine.track(member, "earn", amount=5)
    engine.track("m020", "earn", amount=1)
    day = engine.leaderboard(period="day", limit=10)
    assert [(r.member_id, r.score) for r in day] == [("m020", 6), ("m010", 5), ("m030", 5)]
    assert counting.take() == 3


def test_tier_boards_follow_a_tier_change_without_earnings() -> None:
    store = MemoryStore()

    def write(member: MemberRecord, earned: int = 0) -> None:
        changes = Changes(members=[member])
        if earned:
            changes.earned.append(
                EarnedDelta(
                    member.member_id, "points", earned, "2026-05-04", "2026-05-04", "2026-05"
                )
            )
        with store.unit_of_work([member.member_id]) as uow:
            uow.apply(changes)

    for member_id, score in (("a", 30), ("b", 20), ("c", 10)):
        write(MemberRecord(member_id, "UTC", tier="silver", created_at=START), score)
    assert [r.member_id for r in store.leaderboard("points", "all", limit=9, tier="silver")] == [
        "a",
        "b",
        "c",
    ]
    write(MemberRecord("b", "UTC", tier="gold", created_at=START))  # a review moved b up
    assert [r.member_id for r in store.leaderboard("points", "all", limit=9, tier="silver")] == [
        "a",
        "c",
    ]
    assert [r.member_id for r in store.leaderboard("points", "all", limit=9, tier="gold")] == ["b"]
    assert store.count_above("points", "all", 15, tier="silver") == 1


def test_boards_read_before_a_rolled_back_unit_are_unchanged_after_it() -> None:
    clock = gamify.ManualClock(START)
    engine = gamify.Engine(PROGRAM, store="memory://", clock=clock)
    for member, amount in (("a", 30), ("b", 20)):
        engine.track(member, "earn", amount=amount)
    window = (START - dt.timedelta(hours=1), START + dt.timedelta(hours=1))
    before = {
        period: engine.leaderboard(period=period) for period in ("all", "day", "month", window)
    }
    with pytest.raises(RuntimeError, match="app failed"), engine.store.batch():
        engine.track("c", "earn", amount=50)
        engine.track("b", "earn", amount=40)
        raise RuntimeError("app failed")
    for period, board in before.items():
        assert engine.leaderboard(period=period) == board
        assert engine.rank("c", period=period) is None
