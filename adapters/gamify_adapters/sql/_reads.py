"""The read half of the Store port, shared by the store and its app-session twin.

Each read is one query of :class:`~._queries.SQLUnit` run on a cursor that the
concrete class provides through ``_read``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TypeVar

from gamify.store import (
    DueWork,
    LeaderboardRow,
    LedgerEntry,
    Lot,
    MemberRecord,
    OutboxMessage,
    Store,
)

from ._queries import Cursor, Queries

_T = TypeVar("_T")

MEMBER_PAGE = 1000  # member_ids() reads by pages of this many keys


class SQLReads(Store):
    """Store reads in terms of ``_read(run)`` and the dialect's ``queries``."""

    queries: Queries

    @abc.abstractmethod
    def _read(self, run: Callable[[Cursor], _T]) -> _T:
        """Run ``run(cursor)`` on a cursor of the right transaction, translating driver errors."""

    def _read_snapshot(self, run: Callable[[Cursor], _T]) -> _T:
        """Like ``_read``, with every statement of ``run`` reading one snapshot."""
        return self._read(run)  # the app's transaction, at the app's isolation level

    def get_member(self, member_id: str) -> MemberRecord | None:
        return self._read(lambda cur: self.queries.load_member(cur, member_id))

    def get_balances(self, member_id: str) -> dict[str, int]:
        return self._read(lambda cur: self.queries.balances(cur, member_id))

    def member_snapshot(self, member_id: str) -> tuple[MemberRecord | None, dict[str, int]]:
        return self._read(lambda cur: self.queries.member_snapshot(cur, member_id))

    def history(
        self, member_id: str, *, limit: int | None = None, account: str | None = None
    ) -> list[LedgerEntry]:
        return self._read(lambda cur: self.queries.history(cur, member_id, limit, account))

    def member_lots(self, member_id: str, currency: str) -> list[Lot]:
        return self._read(lambda cur: self.queries.lots(cur, member_id, currency, None))

    def due(self, before: datetime, *, limit: int = 1000) -> DueWork:
        return self._read(lambda cur: self.queries.due(cur, before, limit))

    def leaderboard(
        self, currency: str, period: str, *, limit: int, tier: str | None = None
    ) -> list[LeaderboardRow]:
        return self._read(lambda cur: self.queries.leaderboard(cur, currency, period, limit, tier))

    def score(self, member_id: str, currency: str, period: str) -> int:
        return self._read(lambda cur: self.queries.score(cur, member_id, currency, period))

    def count_above(
        self, currency: str, period: str, score: int, *, tier: str | None = None
    ) -> int:
        return self._read(lambda cur: self.queries.count_above(cur, currency, period, score, tier))

    def member_rank(
        self, member_id: str, currency: str, period: str, *, tier: str | None = None
    ) -> tuple[int, int] | None:
        return self._read_snapshot(
            lambda cur: self.queries.member_rank(cur, member_id, currency, period, tier)
        )

    def earned_between(self, currency: str, start: datetime, end: datetime) -> dict[str, int]:
        return self._read(lambda cur: self.queries.earned_between(cur, currency, start, end))

    def ledger_totals(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[tuple[str, str, str | None, int]]:
        return self._read(lambda cur: self.queries.ledger_totals(cur, start, end))

    def pending_outbox(self, limit: int = 100) -> list[OutboxMessage]:
        return self._read(lambda cur: self.queries.pending_outbox(cur, limit))

    def ack_outbox(self, event_ids: Sequence[str]) -> None:
        self._read(lambda cur: self.queries.ack_outbox(cur, event_ids))

    def member_ids(self) -> Iterator[str]:
        # Pages by key, so no connection is held while the caller iterates.
        after: str | None = None
        while True:

            def page_after(cur: Cursor, after: str | None = after) -> list[str]:
                return self.queries.member_ids_page(cur, after, MEMBER_PAGE)

            page = self._read(page_after)
            yield from page
            if len(page) < MEMBER_PAGE:
                return
            after = page[-1]
