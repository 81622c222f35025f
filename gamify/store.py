"""The storage port: the only interface storage adapters implement.

The engine is the only caller. Each tracked event runs in one
:class:`UnitOfWork` that holds the locks of its members from the first read
to the commit, so the engine may compute from what it loaded; every write of
the event goes through one :meth:`UnitOfWork.apply` call and commits with the
unit of work or not at all.

Invariants every adapter enforces itself (a second guard behind the engine):

* a balance never goes below zero: :meth:`UnitOfWork.apply` raises
  :class:`~gamify.errors.InsufficientBalanceError` and writes nothing;
* an idempotency record is unique per (member, kind, key) and a badge award
  per (member, badge, tier, occurrence): a duplicate raises
  :class:`DuplicateError` and writes nothing;
* a balance equals the sum of its ledger entries (balances change only
  through entries).

Adapters are chosen by URL (see :func:`gamify.open_store`) and tested by the
conformance suite in :mod:`gamify.testing.conformance`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from gamify._records import (
    EARNED_KINDS,
    Award,
    Changes,
    DueWork,
    EarnedDelta,
    IdempotencyRecord,
    LeaderboardRow,
    LedgerEntry,
    Lot,
    LotChange,
    MemberRecord,
    OutboxMessage,
    pending_account,
)
from gamify._records import EntryKind as EntryKind  # for adapters and the engine
from gamify.errors import StoreError

__all__ = [
    "EARNED_KINDS",
    "Award",
    "Changes",
    "DueWork",
    "DuplicateError",
    "EarnedDelta",
    "IdempotencyRecord",
    "LeaderboardRow",
    "LedgerEntry",
    "Lot",
    "LotChange",
    "MemberRecord",
    "OutboxMessage",
    "Store",
    "UnitOfWork",
    "pending_account",
]


class DuplicateError(StoreError):
    """A unique record (idempotency key, one-time award) already exists."""


class UnitOfWork(abc.ABC):
    """Reads and writes inside one transaction that holds the members' locks."""

    @abc.abstractmethod
    def load_member(self, member_id: str) -> MemberRecord | None:
        """The member as stored (a copy the caller may change), or None."""

    @abc.abstractmethod
    def member_by_code(self, code: str) -> str | None:
        """The member whose referral code is ``code`` (already upper-cased), or None."""

    @abc.abstractmethod
    def get_idempotency(self, member_id: str, kind: str, key: str) -> IdempotencyRecord | None:
        """The first record of this key, or None."""

    @abc.abstractmethod
    def balances(self, member_id: str) -> dict[str, int]:
        """Every account of the member with its amount."""

    @abc.abstractmethod
    def lots(self, member_id: str, currency: str, *, key: str | None = None) -> list[Lot]:
        """The member's lots of ``currency`` that are pending or open (or, with ``key``,
        every lot written by that event key), in insertion order."""

    @abc.abstractmethod
    def get_lots(self, lot_ids: Sequence[str]) -> list[Lot]:
        """The lots with these ids, whatever their status."""

    @abc.abstractmethod
    def entries_for_key(self, member_id: str, key: str) -> list[LedgerEntry]:
        """Ledger entries written by the event with this idempotency key, oldest first."""

    def award_tiers(self, member_id: str, badge: str) -> list[str] | None:
        """The tier names of the tiered ``badge`` awarded to the member, as the award
        records hold them, or None when the store cannot say (the default). Asked once
        per member and badge whose state does not name the tiers held yet."""
        return None

    @abc.abstractmethod
    def apply(self, changes: Changes) -> None:
        """Write every change, or raise and write nothing.

        Raises :class:`~gamify.errors.InsufficientBalanceError` when an
        account would go below zero and :class:`DuplicateError` when a unique
        record exists already. A store may hold writes back until the unit
        commits and refuse a duplicate there instead: the unit of work then
        raises :class:`DuplicateError` and writes nothing at all.
        """


class Store(abc.ABC):
    """A place where members, balances, the ledger and lots live."""

    #: Optional abilities, checked when an engine is built (``"app_session"``).
    capabilities: frozenset[str] = frozenset()

    @abc.abstractmethod
    def unit_of_work(self, member_ids: Sequence[str]) -> AbstractContextManager[UnitOfWork]:
        """Begin a transaction holding the locks of ``member_ids`` (taken in ascending order).

        The context commits on normal exit and rolls back on an exception.
        """

    @abc.abstractmethod
    def batch(self, member_ids: Sequence[str] = ()) -> AbstractContextManager[None]:
        """Run every unit of work opened inside as one transaction (for ``track_many``).

        The locks of ``member_ids`` are taken first, in ascending order, so that two
        batches touching the same members in different orders cannot deadlock.
        """

    # Reads outside any unit of work -----------------------------------------

    @abc.abstractmethod
    def get_member(self, member_id: str) -> MemberRecord | None: ...

    @abc.abstractmethod
    def get_balances(self, member_id: str) -> dict[str, int]: ...

    def member_snapshot(self, member_id: str) -> tuple[MemberRecord | None, dict[str, int]]:
        """The member and its balances as of one instant (a profile must not show a level
        from before an award beside points from after it). Adapters override this default,
        which reads the two one after the other."""
        return self.get_member(member_id), self.get_balances(member_id)

    @abc.abstractmethod
    def history(
        self, member_id: str, *, limit: int | None = None, account: str | None = None
    ) -> list[LedgerEntry]:
        """The member's ledger entries, newest first: at most ``limit`` of them (none for a
        ``limit`` of 0 or less, as for every ``limit`` of the port)."""

    @abc.abstractmethod
    def member_lots(self, member_id: str, currency: str) -> list[Lot]:
        """The member's pending and open lots of ``currency``."""

    @abc.abstractmethod
    def due(self, before: datetime, *, limit: int = 1000) -> DueWork:
        """Open lots expiring at or before ``before``, pending lots maturing at or
        before it, and members whose tier review falls at or before it.

        Each list is soonest first (ties by lot or member id) and holds at most
        ``limit`` items, so a store answers from an index in time proportional to
        ``limit``, however many members have a review or lot pending."""

    @abc.abstractmethod
    def leaderboard(
        self, currency: str, period: str, *, limit: int, tier: str | None = None
    ) -> list[LeaderboardRow]:
        """Members with a positive earned total in ``period``, best first, ties by member id.

        ``period`` is ``all``, or ``day:KEY``, ``week:KEY``, ``month:KEY`` with a key
        as in :class:`EarnedDelta`; only totals currently held for that key count.
        """

    @abc.abstractmethod
    def score(self, member_id: str, currency: str, period: str) -> int:
        """What ``member_id`` earned of ``currency`` in ``period`` (0 if nothing)."""

    @abc.abstractmethod
    def count_above(
        self, currency: str, period: str, score: int, *, tier: str | None = None
    ) -> int:
        """How many members earned strictly more than ``score`` in ``period``."""

    def member_rank(
        self, member_id: str, currency: str, period: str, *, tier: str | None = None
    ) -> tuple[int, int] | None:
        """``(score, members above it)`` for one member, or None without a positive score
        (or outside ``tier``). The memory store answers from one instant; this default asks
        :meth:`score`, :meth:`get_member` and :meth:`count_above` in turn."""
        score = self.score(member_id, currency, period)
        if score <= 0:
            return None
        if tier is not None:
            record = self.get_member(member_id)
            if record is None or record.tier != tier:
                return None
        return score, self.count_above(currency, period, score, tier=tier)

    @abc.abstractmethod
    def earned_between(self, currency: str, start: datetime, end: datetime) -> dict[str, int]:
        """Per member, what was earned of ``currency`` in [start, end) from the ledger:
        entries of :data:`EARNED_KINDS` on the currency's account and its pending one.

        A ``reverse`` entry counts at the instant of the event it takes back (the
        member's ``earn`` entry with the same key), whenever it was booked, so a window
        nets out a reversed event wholly or not at all, as the period totals do. One
        without such an entry counts in no window."""

    @abc.abstractmethod
    def ledger_totals(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[tuple[str, str, str | None, int]]:
        """Sums of ledger amounts grouped by (account, kind, action), for reports."""

    @abc.abstractmethod
    def pending_outbox(self, limit: int = 100) -> list[OutboxMessage]:
        """Domain events not yet acknowledged, oldest first."""

    @abc.abstractmethod
    def ack_outbox(self, event_ids: Sequence[str]) -> None:
        """Mark domain events as delivered."""

    @abc.abstractmethod
    def drain_outbox(self, limit: int, deliver: Callable[[list[OutboxMessage]], None]) -> int:
        """Take up to ``limit`` domain events, oldest first, deliver them with
        ``deliver(messages)`` and remove them; returns how many (``deliver`` is not called
        when there are none, nor for a ``limit`` of 0 or less).

        Taking, delivering and removing are one step: if ``deliver`` raises, the error
        goes on to the caller and every event taken stays in the outbox for a later
        drain (delivery is at least once). Drains running at the same time on one store
        object (threads) never receive the same event: a second drain takes the next
        events or waits for the first to finish. Whether drains in other processes may
        receive an event twice is the adapter's to say (the SQL store: never; PostgreSQL
        locks the rows a drain took, and SQLite's drains take turns on a file lock).
        """

    def _drain_in_turns(
        self,
        lock: AbstractContextManager[Any],
        limit: int,
        deliver: Callable[[list[OutboxMessage]], None],
    ) -> int:
        """A :meth:`drain_outbox` for stores whose drains take turns on ``lock``: read the
        oldest events, deliver them, then acknowledge them, all while holding it."""
        with lock:
            messages = self.pending_outbox(limit)
            if messages:
                deliver(messages)
                self.ack_outbox([m.event_id for m in messages])
            return len(messages)

    @abc.abstractmethod
    def member_ids(self) -> Iterator[str]:
        """Every member id, ascending."""

    def bind(self, session: Any, *, on_commit: Callable[[list[OutboxMessage]], None]) -> Store:
        """A store writing through the app's own ``session`` (capability ``app_session``).

        It neither commits nor retries; after the app commits it calls
        ``on_commit`` with the domain events of the units of work it ran.
        Its ``bound`` attribute is true.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot join an app's session")

    def has_schema(self) -> bool:
        """Whether every table the store needs exists, for an app's start-up check.

        On the port, so ``gamify.open_store(url).has_schema()`` type-checks for any URL;
        a store without tables of its own (the memory store) lacks none.
        """
        return True

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release connections and files."""
