"""Sorted indexes the memory store keeps for leaderboards, built on first use.

A leaderboard read must not walk every member or the whole ledger. The memory
store has no query planner, so it keeps what an index would: members sorted by
score for each board it was asked for, the members holding each period key, and
each currency's earning entries in time order. None of them costs an event
anything until a board is first read.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from datetime import datetime

# Past this share of changed members, sorting the board again beats moving each one.
_REBUILD_SHARE = 8


class SortedBoard:
    """Members with a positive score, best first and ties by member id.

    A write only notes the member (:meth:`touch`); the next read moves each noted
    member to its new place by binary search, so a read costs in proportion to what
    changed since the last one, not to the size of the board.
    """

    __slots__ = ("_dirty", "_order", "_score_of", "_scores")

    def __init__(self, members: Iterable[str], score_of: Callable[[str], int]) -> None:
        self._score_of = score_of
        self._scores: dict[str, int] = {}
        self._order: list[tuple[int, str]] = []  # (-score, member): ascending is best first
        self._dirty: set[str] = set(members)
        self._refresh()

    def touch(self, member_id: str) -> None:
        self._dirty.add(member_id)

    def top(self, limit: int) -> list[tuple[str, int]]:
        self._refresh()
        return [(member_id, -negative) for negative, member_id in self._order[: max(limit, 0)]]

    def count_above(self, score: int) -> int:
        """How many members score strictly more than ``score``."""
        self._refresh()
        return bisect.bisect_left(self._order, (-score, ""))

    def __len__(self) -> int:
        self._refresh()
        return len(self._order)

    def _refresh(self) -> None:
        dirty = self._dirty
        if not dirty:
            return
        scores, order, score_of = self._scores, self._order, self._score_of
        if len(dirty) * _REBUILD_SHARE > len(order):
            for member_id in dirty:
                score = score_of(member_id)
                if score > 0:
                    scores[member_id] = score
                else:
                    scores.pop(member_id, None)
            self._order = sorted((-score, member_id) for member_id, score in scores.items())
        else:
            for member_id in dirty:
                old = scores.pop(member_id, None)
                if old is not None:
                    del order[bisect.bisect_left(order, (-old, member_id))]
                score = score_of(member_id)
                if score > 0:
                    scores[member_id] = score
                    bisect.insort(order, (-score, member_id))
        dirty.clear()


class TimeIndex:
    """One currency's earning entries as (instant, sequence, member, amount), in time order."""

    __slots__ = ("_rows", "_seq")

    def __init__(self, rows: Iterable[tuple[datetime, str, int]] = ()) -> None:
        self._rows = sorted(
            (at, seq, member_id, amount) for seq, (at, member_id, amount) in enumerate(rows)
        )
        self._seq = len(self._rows)

    def add(self, at: datetime, member_id: str, amount: int) -> None:
        self._seq += 1  # keeps rows of one instant apart without comparing members
        row = (at, self._seq, member_id, amount)
        if not self._rows or self._rows[-1][0] <= at:
            self._rows.append(row)  # the usual case: events arrive in time order
        else:
            bisect.insort(self._rows, row)

    def totals(self, start: datetime, end: datetime) -> dict[str, int]:
        """Per member, the sum of amounts at instants in [start, end)."""
        rows = self._rows
        low = bisect.bisect_left(rows, (start,))
        high = bisect.bisect_left(rows, (end,))
        out: dict[str, int] = {}
        for _, _, member_id, amount in rows[low:high]:
            out[member_id] = out.get(member_id, 0) + amount
        return out
