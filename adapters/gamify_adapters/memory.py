"""The in-memory store: the default, for tests, demos and simulations.

It is a real adapter, not a mock: it passes the same conformance suite as the
SQL adapter and enforces the same invariants (no negative balance, unique
idempotency keys and awards, all-or-nothing units of work). One re-entrant
lock serialises units of work; an undo log rolls a failed one back. Outbox
drains take turns on a second lock, so threads draining one store never
deliver an event twice.

Everything is kept as plain tuples and bytes rather than objects: ledger
entries, lots and idempotency results, which grow with every event, and
members, whose game state is serialised. Python's cyclic garbage collector stops
walking such tuples, and a member's replaced state never lingers in its
oldest generation, so full collections stay rare and cheap as the store grows
to millions of rows. Records are rebuilt (fresh copies) when read.

Leaderboards read sorted indexes (see ``_indexes``) that the store builds at
a board's first read and then keeps up to date, so no later read walks every
member or the whole ledger.
"""

from __future__ import annotations

import heapq
import marshal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import fields, replace
from datetime import datetime
from typing import Any, Final, Generic, TypeVar, cast

from mypy_extensions import mypyc_attr

from gamify._native import own_abc_cache
from gamify.errors import InsufficientBalanceError, StoreError
from gamify.store import (
    EARNED_KINDS,
    Changes,
    DueWork,
    DuplicateError,
    EarnedDelta,
    IdempotencyRecord,
    LeaderboardRow,
    LedgerEntry,
    Lot,
    MemberRecord,
    OutboxMessage,
    Store,
    UnitOfWork,
    pending_account,
)
from gamify_adapters._indexes import SortedBoard, TimeIndex

Row = tuple[Any, ...]
_MISSING: Final = object()


# A record's fields as one plain tuple, in declaration order (so Record(*row) rebuilds it),
# spelt out: compiled, each field is a direct read. A test holds them to the fields.
def _entry_row(e: LedgerEntry) -> Row:
    return (
        e.entry_id,
        e.member_id,
        e.account,
        e.amount,
        e.at,
        e.kind,
        e.reason,
        e.key,
        e.action,
        e.lot_id,
    )


def _lot_row(lot: Lot) -> Row:
    return (
        lot.lot_id,
        lot.member_id,
        lot.currency,
        lot.amount,
        lot.remaining,
        lot.earned_at,
        lot.expires_at,
        lot.pending_until,
        lot.rule,
        lot.key,
        lot.status,
    )


_NO_EARNINGS: Row = (0, "", 0, "", 0, "", 0)
_ACCOUNT: Final = [f.name for f in fields(LedgerEntry)].index("account")
_KEY: Final = [f.name for f in fields(LedgerEntry)].index("key")
_ENTRY_MEMBER, _ENTRY_AMOUNT, _ENTRY_AT, _ENTRY_KIND = (
    [f.name for f in fields(LedgerEntry)].index(name)
    for name in ("member_id", "amount", "at", "kind")
)
_PERIOD_KEY: Final = {
    "day": 1,
    "week": 3,
    "month": 5,
}  # where an earned row holds each period's key
_MAX_BOARDS: Final = 32  # boards kept sorted at once; the least recently read goes first
_MEMBER_FIELDS: Final = [f.name for f in fields(MemberRecord)]
_REVIEW_AT: Final = _MEMBER_FIELDS.index("review_at")
_TIER: Final = _MEMBER_FIELDS.index("tier")
_CODE: Final = _MEMBER_FIELDS.index("referral_code")
assert _MEMBER_FIELDS[-1] == "state"


def _member_row(member: MemberRecord) -> Row:
    """The record's fields, with its game state as bytes, never walked by the garbage
    collector. The state is JSON-ready data, which ``marshal`` (faster than pickle for
    plain data, and read back only by this process) encodes whole."""
    try:
        state = marshal.dumps(member.state)
    except ValueError as exc:
        raise StoreError(f"a member's state must be JSON-ready data: {exc}") from None
    return (
        member.member_id,
        member.timezone,
        member.birthday,
        member.tags,
        member.level,
        member.tier,
        member.review_at,
        member.referral_code,
        member.referrer,
        member.created_at,
        state,
    )


def _earning_currency(row: Row) -> str | None:
    """The currency whose earned totals a ledger row counts toward, if any."""
    account = row[_ACCOUNT]
    currency = account.partition(":")[0]
    if row[_ENTRY_KIND] in EARNED_KINDS and account in (currency, pending_account(currency)):
        return str(currency)
    return None


def _member(row: Row) -> MemberRecord:
    """A fresh record (its state too) for a stored row."""
    member = MemberRecord(*row[:-1])
    member.state = marshal.loads(row[-1])
    return member


_T = TypeVar("_T")
_ADDED: Final = object()
_REMOVED: Final = object()


# Compiled in built wheels; tests and apps may still subclass it (to inject faults, say).
@mypyc_attr(allow_interpreted_subclasses=True)
class MemoryStore(Store):
    """Keeps everything in dictionaries of this process."""

    capabilities = frozenset({"batch"})

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._lock = threading.RLock()
        # member -> the record's fields, its state as bytes (see _member_row)
        self._members: dict[str, Row] = {}
        self._codes: dict[str, str] = {}
        self._balances: dict[str, dict[str, int]] = {}
        self._ledger: dict[str, list[Row]] = {}  # member -> entry rows, oldest first
        self._lots: dict[str, Row] = {}
        self._member_lots: dict[str, list[str]] = {}
        # (member, kind, key) -> (fingerprint, result JSON, at)
        self._idempotency: dict[tuple[str, str, str], tuple[str, str, datetime]] = {}
        self._awards: set[tuple[str, str, str, int]] = set()
        # currency -> member -> (all, day key, day, week key, week, month key, month)
        self._earned: dict[str, dict[str, Row]] = {}
        self._outbox: dict[str, OutboxMessage] = {}
        # Outbox drains take turns on a lock of their own: the units of work's lock is
        # never held while subscribers run.
        self._drain_lock = threading.Lock()
        # Time indexes for due(): (instant, lot or member id) heaps. An entry may
        # go stale (a lot closed or renewed); due() drops those as it meets them.
        self._expiry_index: list[tuple[datetime, str]] = []
        self._pending_index: list[tuple[datetime, str]] = []
        self._review_index: list[tuple[datetime, str]] = []
        self._undo: list[Any] | None = None
        # Leaderboard indexes (see _indexes), built on first use. They are derived from
        # the tables above, so a rollback drops them and the next read builds them again.
        self._boards: dict[tuple[str, str, str | None], SortedBoard] = {}
        self._period_members: dict[tuple[str, str], set[str]] | None = None
        self._time_index: dict[str, TimeIndex] | None = None
        self._unit = _MemoryUnit(self)  # holds no state of its own: one serves every unit

    # Units of work -----------------------------------------------------------

    def unit_of_work(self, member_ids: Sequence[str]) -> AbstractContextManager[UnitOfWork]:
        return _Transaction(self, self._unit)

    def batch(self, member_ids: Sequence[str] = ()) -> AbstractContextManager[None]:
        return _Transaction(self, None)  # one lock covers every member

    def _apply(self, changes: Changes) -> None:
        # Check every invariant first, so a refused change writes nothing.
        deltas = changes.balance_deltas()
        for (member_id, account), delta in deltas.items():
            if delta < 0:  # only a debit can take a balance below zero
                have = self._balances.get(member_id, {}).get(account, 0)
                if have + delta < 0:
                    raise InsufficientBalanceError(member_id, account, -delta, have)
        if changes.idempotency:
            seen: set[tuple[str, str, str]] = set()
            for rec in changes.idempotency:
                ident = (rec.member_id, rec.kind, rec.key)
                if ident in self._idempotency or ident in seen:
                    raise DuplicateError(f"idempotency key {rec.key!r} already recorded")
                seen.add(ident)
        award_ids = (
            {(a.member_id, a.badge, a.tier, a.occurrence) for a in changes.awards}
            if changes.awards
            else set()
        )
        if award_ids and (len(award_ids) != len(changes.awards) or award_ids & self._awards):
            raise DuplicateError("award already given")
        coded: dict[str, str] = {}  # the codes of this write, as a unique index would see them
        for member in changes.members:
            code = member.referral_code
            if code is None:
                continue
            owner = coded.setdefault(code, member.member_id)
            if owner != member.member_id or self._codes.get(code, owner) != owner:
                raise DuplicateError(f"referral code {code!r} already taken")
        rows = [_member_row(member) for member in changes.members]  # refuses a bad state

        for member_id in changes.forgotten:
            self._forget(member_id)
        for member, row in zip(changes.members, rows, strict=True):
            before = self._members.get(member.member_id)
            self._set(self._members, member.member_id, row)
            if self._boards and before is not None and before[_TIER] != member.tier:
                self._touch(member.member_id, None)  # tier boards gain or lose the member
            if member.review_at is not None and (
                before is None or before[_REVIEW_AT] != member.review_at
            ):
                heapq.heappush(self._review_index, (member.review_at, member.member_id))
            old_code = before[_CODE] if before is not None else None
            if old_code is not None and old_code != member.referral_code:
                self._drop(self._codes, old_code)  # a replaced code finds no one
            if member.referral_code is not None:
                self._set(self._codes, member.referral_code, member.member_id)
        for (member_id, account), delta in deltas.items():
            accounts = self._balances.setdefault(member_id, {})
            self._set(accounts, account, accounts.get(account, 0) + delta)
        for entry in changes.entries:
            entry_row = _entry_row(entry)
            self._append(self._ledger.setdefault(entry.member_id, []), entry_row)
            if self._time_index is not None:
                self._index_entry(self._time_index, entry_row)
        for lot in changes.new_lots:
            self._set(self._lots, lot.lot_id, _lot_row(lot))
            if lot.expires_at is not None:
                heapq.heappush(self._expiry_index, (lot.expires_at, lot.lot_id))
            if lot.pending_until is not None:
                heapq.heappush(self._pending_index, (lot.pending_until, lot.lot_id))
            self._append(self._member_lots.setdefault(lot.member_id, []), lot.lot_id)
        for change in changes.lot_changes:
            old = Lot(*self._lots[change.lot_id])
            self._set(
                self._lots,
                change.lot_id,
                _lot_row(
                    replace(
                        old,
                        remaining=change.remaining,
                        status=change.status,
                        expires_at=change.expires_at if change.expires_at else old.expires_at,
                    )
                ),
            )
            expires_at = change.expires_at or old.expires_at
            reopened = change.status == "open" and old.status != "open"
            # The index holds every open lot with an expiry: a renewed one at its new instant,
            # a reopened one again (run_due dropped it while it was closed).
            if expires_at is not None and (expires_at != old.expires_at or reopened):
                heapq.heappush(self._expiry_index, (expires_at, change.lot_id))
        for rec in changes.idempotency:
            stored = (rec.fingerprint, rec.result, rec.at)
            self._set(self._idempotency, (rec.member_id, rec.kind, rec.key), stored)
        for ident_award in award_ids:
            self._awards.add(ident_award)
            self._record(self._awards, ident_award, _ADDED)
        for delta_e in changes.earned:
            self._add_earned(delta_e)
        for msg in changes.outbox:
            self._set(self._outbox, msg.event_id, msg)

    def _forget(self, member_id: str) -> None:
        row = self._members.get(member_id)
        if row is not None and row[_CODE] is not None:
            self._drop(self._codes, row[_CODE])
        for lot_id in self._member_lots.get(member_id, ()):
            self._drop(self._lots, lot_id)
        for table in (self._members, self._balances, self._ledger, self._member_lots):
            self._drop(table, member_id)
        for ident in [i for i in self._idempotency if i[0] == member_id]:
            self._drop(self._idempotency, ident)
        for award in [a for a in self._awards if a[0] == member_id]:
            self._discard(self._awards, award)
        for board in self._earned.values():
            self._drop(board, member_id)
        # The leaderboard and time indexes are built again at their next read.
        self._drop_indexes()

    def _add_earned(self, delta: EarnedDelta) -> None:
        board = self._earned.setdefault(delta.currency, {})
        total, day, on_day, week, in_week, month, in_month = board.get(
            delta.member_id, _NO_EARNINGS
        )
        amount = delta.amount
        # A later period starts its total afresh; an earlier one (a late event) is left alone.
        if delta.day == day:
            on_day += amount
        elif delta.day > day:
            day, on_day = delta.day, amount
        if delta.week == week:
            in_week += amount
        elif delta.week > week:
            week, in_week = delta.week, amount
        if delta.month == month:
            in_month += amount
        elif delta.month > month:
            month, in_month = delta.month, amount
        row = (total + amount, day, on_day, week, in_week, month, in_month)
        old = self._set(board, delta.member_id, row)
        if self._period_members is not None:
            self._move_periods(delta.currency, delta.member_id, old, row)
        if self._boards:
            self._touch(delta.member_id, delta.currency)

    # The undo log, three items a step: container, key, old value for dicts; list,
    # None, old length for lists; set, item, _ADDED or _REMOVED for sets. Flat, not
    # closures or tuples: this runs several times per event, and a batch keeps every
    # step to its end, where tuples would pile up in the collector's generations.

    def _record(self, container: Any, key: Any, old: Any) -> None:
        undo = self._undo
        assert undo is not None, "writes happen inside a unit of work"
        undo.append(container)
        undo.append(key)
        undo.append(old)

    def _set(self, container: dict[Any, Any], key: Any, value: Any) -> Any:
        """Set ``container[key]``; return what it held (``_MISSING`` if nothing)."""
        old = container.get(key, _MISSING)
        self._record(container, key, old)
        container[key] = value
        return old

    def _drop(self, container: dict[Any, Any], key: Any) -> None:
        """Remove ``container[key]``; the undo log puts it back."""
        self._record(container, key, container.pop(key, _MISSING))

    def _discard(self, container: set[Any], item: Any) -> None:
        """Remove ``item`` from a set; the undo log puts it back."""
        self._record(container, item, _REMOVED)
        container.discard(item)

    def _append(self, container: list[Any], value: Any) -> None:
        self._record(container, None, len(container))
        container.append(value)

    @staticmethod
    def _rollback(undo: list[Any]) -> None:
        for at in range(len(undo) - 3, -1, -3):
            container, key, old = undo[at], undo[at + 1], undo[at + 2]
            if isinstance(container, list):
                del container[old:]
            elif isinstance(container, set):
                if old is _REMOVED:
                    container.add(key)
                else:
                    container.discard(key)
            elif old is _MISSING:
                container.pop(key, None)
            else:
                container[key] = old

    # Reads ------------------------------------------------------------------------

    def get_member(self, member_id: str) -> MemberRecord | None:
        with self._lock:
            row = self._members.get(member_id)
            return _member(row) if row is not None else None

    def get_balances(self, member_id: str) -> dict[str, int]:
        with self._lock:
            return dict(self._balances.get(member_id, {}))

    def member_snapshot(self, member_id: str) -> tuple[MemberRecord | None, dict[str, int]]:
        with self._lock:
            return self.get_member(member_id), self.get_balances(member_id)

    def history(
        self, member_id: str, *, limit: int | None = None, account: str | None = None
    ) -> list[LedgerEntry]:
        with self._lock:
            rows = [
                LedgerEntry(*row)
                for row in reversed(self._ledger.get(member_id, []))
                if account is None or row[_ACCOUNT] == account
            ]
        return rows[: max(limit, 0)] if limit is not None else rows

    def member_lots(self, member_id: str, currency: str) -> list[Lot]:
        with self._lock:
            return self._open_lots(member_id, currency)

    def _lot(self, lot_id: str) -> Lot | None:
        row = self._lots.get(lot_id)
        return Lot(*row) if row is not None else None

    def _open_lots(self, member_id: str, currency: str, key: str | None = None) -> list[Lot]:
        lots = (Lot(*self._lots[i]) for i in self._member_lots.get(member_id, ()))
        if key is not None:
            return [lot for lot in lots if lot.key == key and lot.currency == currency]
        return [
            lot for lot in lots if lot.currency == currency and lot.status in ("open", "pending")
        ]

    def due(self, before: datetime, *, limit: int = 1000) -> DueWork:
        with self._lock:
            expiring = self._take_due(
                self._expiry_index,
                before,
                lambda i: (
                    (lot := self._lot(i)) is not None
                    and lot.status == "open"
                    and lot.expires_at is not None
                ),
            )
            maturing = self._take_due(
                self._pending_index,
                before,
                lambda i: (lot := self._lot(i)) is not None and lot.status == "pending",
            )
            reviews = self._take_due(
                self._review_index,
                before,
                lambda i: (m := self._members.get(i)) is not None and m[_REVIEW_AT] is not None,
            )
        limit = max(limit, 0)  # a slice would count a negative limit from the end
        return DueWork(
            [Lot(*self._lots[i]) for _, i in expiring[:limit]],
            [Lot(*self._lots[i]) for _, i in maturing[:limit]],
            [i for _, i in reviews[:limit]],
        )

    def _take_due(
        self,
        index: list[tuple[datetime, str]],
        before: datetime,
        current: Callable[[str], bool],
    ) -> list[tuple[datetime, str]]:
        """The entries of a time index at or before ``before``, soonest first.

        Entries whose record moved on (closed, renewed, reviewed) are dropped
        here; live ones go back, since a query consumes nothing.
        """
        found: list[tuple[datetime, str]] = []
        while index and index[0][0] <= before:
            entry = heapq.heappop(index)
            live = current(entry[1]) and entry[0] == self._index_time(index, entry[1])
            if live and (not found or found[-1] != entry):  # equal entries pop together
                found.append(entry)
        for entry in found:
            heapq.heappush(index, entry)
        return found

    def _index_time(self, index: list[tuple[datetime, str]], key: str) -> datetime | None:
        if index is self._review_index:
            row = self._members.get(key)
            return row[_REVIEW_AT] if row is not None else None
        lot = self._lot(key)
        if lot is None:
            return None
        return lot.expires_at if index is self._expiry_index else lot.pending_until

    # Leaderboards ---------------------------------------------------------------

    @staticmethod
    def _score(row: Row, period: str) -> int:
        if period == "all":
            return int(row[0])
        kind, _, key = period.partition(":")
        i = _PERIOD_KEY[kind]
        return int(row[i + 1]) if row[i] == key else 0

    def _member_score(self, currency: str, period: str, tier: str | None, member_id: str) -> int:
        row = self._earned.get(currency, {}).get(member_id)
        if row is None:
            return 0
        if tier is not None:
            member = self._members.get(member_id)
            if member is None or member[_TIER] != tier:
                return 0
        return self._score(row, period)

    def _board(self, currency: str, period: str, tier: str | None) -> SortedBoard:
        ident = (currency, period, tier)
        board = self._boards.pop(ident, None)  # put back last: the most recently read
        if board is None:
            if len(self._boards) >= _MAX_BOARDS:
                del self._boards[next(iter(self._boards))]
            if period == "all":
                members: Iterable[str] = self._earned.get(currency, {})
            else:
                members = self._periods().get((currency, period), ())
            board = SortedBoard(
                members, lambda member_id: self._member_score(currency, period, tier, member_id)
            )
        self._boards[ident] = board
        return board

    def _touch(self, member_id: str, currency: str | None) -> None:
        """Note a changed score on the boards of ``currency`` (None: on every tier board)."""
        for (board_currency, _, tier), board in self._boards.items():
            if board_currency == currency or (currency is None and tier is not None):
                board.touch(member_id)

    def _periods(self) -> dict[tuple[str, str], set[str]]:
        """(currency, ``day:KEY`` ...) -> the members whose earned row holds that key."""
        if self._period_members is None:
            self._period_members = {}
            for currency, rows in self._earned.items():
                for member_id, row in rows.items():
                    self._move_periods(currency, member_id, _MISSING, row)
        return self._period_members

    def _move_periods(self, currency: str, member_id: str, old: Any, new: Row) -> None:
        assert self._period_members is not None
        for kind, i in _PERIOD_KEY.items():
            if old is not _MISSING and old[i] == new[i]:
                continue
            if old is not _MISSING and old[i]:
                self._period_members.get((currency, f"{kind}:{old[i]}"), set()).discard(member_id)
            if new[i]:
                self._period_members.setdefault((currency, f"{kind}:{new[i]}"), set()).add(
                    member_id
                )

    def _drop_indexes(self) -> None:
        self._boards.clear()
        self._period_members = None
        self._time_index = None

    def _index_entry(self, index: dict[str, TimeIndex], row: Row) -> None:
        currency = _earning_currency(row)
        counted_at = self._counted_at(row)
        if currency is not None and counted_at is not None:
            index.setdefault(currency, TimeIndex()).add(
                counted_at, row[_ENTRY_MEMBER], row[_ENTRY_AMOUNT]
            )

    def _counted_at(self, row: Row) -> datetime | None:
        """The instant whose windows an entry counts in: a reversal's is that of the event
        it takes back (its member's earn entry with the same key; None if there is none)."""
        if row[_ENTRY_KIND] != "reverse":
            return cast(datetime, row[_ENTRY_AT])
        key = row[_KEY]
        if key is None:
            return None
        for other in reversed(self._ledger.get(row[_ENTRY_MEMBER], ())):  # reversals are rare
            if other[_KEY] == key and other[_ENTRY_KIND] == "earn":
                return cast(datetime, other[_ENTRY_AT])
        return None

    def leaderboard(
        self, currency: str, period: str, *, limit: int, tier: str | None = None
    ) -> list[LeaderboardRow]:
        with self._lock:
            board = self._board(currency, period, tier)
            return [LeaderboardRow(member_id, score) for member_id, score in board.top(limit)]

    def score(self, member_id: str, currency: str, period: str) -> int:
        with self._lock:
            row = self._earned.get(currency, {}).get(member_id)
            return self._score(row, period) if row is not None else 0

    def count_above(
        self, currency: str, period: str, score: int, *, tier: str | None = None
    ) -> int:
        with self._lock:
            return self._board(currency, period, tier).count_above(score)

    def member_rank(
        self, member_id: str, currency: str, period: str, *, tier: str | None = None
    ) -> tuple[int, int] | None:
        with self._lock:  # one instant: no write between the score and the count
            return super().member_rank(member_id, currency, period, tier=tier)

    def earned_between(self, currency: str, start: datetime, end: datetime) -> dict[str, int]:
        with self._lock:
            if self._time_index is None:
                rows: dict[str, list[tuple[datetime, str, int]]] = {}
                for entries in self._ledger.values():  # built once, then kept up to date
                    for row in entries:
                        currency_of = _earning_currency(row)
                        counted_at = self._counted_at(row)
                        if currency_of is not None and counted_at is not None:
                            rows.setdefault(currency_of, []).append(
                                (counted_at, row[_ENTRY_MEMBER], row[_ENTRY_AMOUNT])
                            )
                self._time_index = {name: TimeIndex(found) for name, found in rows.items()}
            index = self._time_index.get(currency)
            if index is None:
                return {}
            return {m: total for m, total in index.totals(start, end).items() if total}

    def ledger_totals(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[tuple[str, str, str | None, int]]:
        sums: dict[tuple[str, str, str | None], int] = {}
        with self._lock:
            for rows in self._ledger.values():
                for e in (LedgerEntry(*r) for r in rows):
                    if (start is None or e.at >= start) and (end is None or e.at < end):
                        k = (e.account, e.kind, e.action)
                        sums[k] = sums.get(k, 0) + e.amount
        return sorted(
            ((a, k, act, v) for (a, k, act), v in sums.items()),
            key=lambda r: (r[0], r[1], r[2] or ""),
        )

    def pending_outbox(self, limit: int = 100) -> list[OutboxMessage]:
        with self._lock:
            return list(self._outbox.values())[: max(limit, 0)]

    def ack_outbox(self, event_ids: Sequence[str]) -> None:
        with self._lock:
            for event_id in event_ids:
                self._outbox.pop(event_id, None)

    def drain_outbox(self, limit: int, deliver: Callable[[list[OutboxMessage]], None]) -> int:
        # One drain at a time: a second one waits, then finds the first one's events gone.
        return self._drain_in_turns(self._drain_lock, limit, deliver)

    def member_ids(self) -> Iterator[str]:
        with self._lock:
            ids = sorted(self._members)
        return iter(ids)


own_abc_cache(MemoryStore)


class _Transaction(Generic[_T]):
    """Holds the store's lock; the outermost one keeps the undo log and rolls back on error."""

    __slots__ = ("_outer", "_store", "_value")

    def __init__(self, store: MemoryStore, value: _T) -> None:
        self._store = store
        self._value = value
        self._outer = False

    def __enter__(self) -> _T:
        store = self._store
        store._lock.acquire()
        self._outer = store._undo is None
        if self._outer:
            store._undo = []
        return self._value

    def __exit__(self, kind: object, error: object, tb: object) -> None:
        store = self._store
        try:
            if self._outer:
                undo, store._undo = store._undo, None
                if error is not None and undo:
                    store._rollback(undo)
                    store._drop_indexes()
        finally:
            store._lock.release()


class _MemoryUnit(UnitOfWork):
    def __init__(self, store: MemoryStore) -> None:
        self._s = store

    def load_member(self, member_id: str) -> MemberRecord | None:
        row = self._s._members.get(member_id)
        return _member(row) if row is not None else None

    def member_by_code(self, code: str) -> str | None:
        return self._s._codes.get(code)

    def get_idempotency(self, member_id: str, kind: str, key: str) -> IdempotencyRecord | None:
        stored = self._s._idempotency.get((member_id, kind, key))
        if stored is None:
            return None
        fingerprint, result, at = stored
        return IdempotencyRecord(member_id, kind, key, fingerprint, result, at)

    def balances(self, member_id: str) -> dict[str, int]:
        return dict(self._s._balances.get(member_id, {}))

    def lots(self, member_id: str, currency: str, *, key: str | None = None) -> list[Lot]:
        return self._s._open_lots(member_id, currency, key)

    def get_lots(self, lot_ids: Sequence[str]) -> list[Lot]:
        return [Lot(*self._s._lots[i]) for i in lot_ids if i in self._s._lots]

    def entries_for_key(self, member_id: str, key: str) -> list[LedgerEntry]:
        # A scan of one member's rows: only reversals ask, and an index per key
        # would cost every keyed event a write.
        return [LedgerEntry(*row) for row in self._s._ledger.get(member_id, ()) if row[_KEY] == key]

    def award_tiers(self, member_id: str, badge: str) -> list[str] | None:
        # A scan of every award: asked once per member and badge, for old state only.
        return [a[2] for a in self._s._awards if a[0] == member_id and a[1] == badge and a[2]]

    def apply(self, changes: Changes) -> None:
        self._s._apply(changes)
