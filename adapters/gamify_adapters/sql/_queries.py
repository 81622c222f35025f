"""What the SQL store does on one DBAPI cursor: the unit-of-work reads and writes, and the
reads outside units of work.

Shared by :class:`~gamify_adapters.sql.SQLStore` (its own pool) and the store bound to
an app's session (the app's connection); neither manages transactions here.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from gamify.errors import InsufficientBalanceError
from gamify.store import (
    Changes,
    DueWork,
    DuplicateError,
    IdempotencyRecord,
    LeaderboardRow,
    LedgerEntry,
    Lot,
    MemberRecord,
    OutboxMessage,
    UnitOfWork,
    pending_account,
)

from ._errors import translated
from ._statements import PERIOD_KINDS, Codec, Dialect, Statements
from ._tables import Tables

__all__ = ["MemberRows", "Queries", "SQLUnit"]

Cursor = Any  # a DBAPI cursor (sqlite3 or psycopg)
MemberRows = dict[str, tuple[Any, ...]]
"""Member rows as a unit of work read or wrote them, as statement parameters, by member id."""

_CODE = 7  # the referral code's place in a member row


@dataclass(frozen=True, slots=True)
class _MemberWrite:
    sql: str
    params: tuple[Any, ...]
    refusable: bool  # it sets a referral code, which another member may hold


_APPLY_SAVEPOINT = Statements.savepoint("gamify_apply")


def _many(cur: Cursor, sql: str, rows: list[tuple[Any, ...]]) -> int:
    """Run ``sql`` for every row (one ``execute`` for one row); the rows changed."""
    if len(rows) == 1:
        cur.execute(sql, rows[0])
    else:
        cur.executemany(sql, rows)
    return int(cur.rowcount)


class Queries:
    """The store's statements and their rows, for one prefix and dialect."""

    def __init__(self, tables: Tables, dialect: Dialect) -> None:
        self.tables = tables
        self.dialect = dialect
        self.sql = Statements(tables, dialect)
        self.codec = Codec(dialect)

    # Locks (PostgreSQL) --------------------------------------------------------------------

    def lock_key(self, member_id: str) -> int:
        """A stable signed 64-bit key for ``member_id``'s advisory lock (scoped by the prefix)."""
        digest = hashlib.blake2b(
            f"{self.tables.prefix}\x00{member_id}".encode(), digest_size=8
        ).digest()
        return int.from_bytes(digest, "big", signed=True)

    def lock_members(self, cur: Cursor, member_ids: Sequence[str], held: set[str]) -> None:
        """Take each member's transaction-scoped lock, in ascending member id order."""
        if self.dialect != "postgresql":
            return  # SQLite: BEGIN IMMEDIATE holds the database's write lock
        for member_id in sorted(set(member_ids)):
            if member_id not in held:
                cur.execute(self.sql.lock_member, (self.lock_key(member_id),))
                held.add(member_id)

    # Rows ----------------------------------------------------------------------------------

    def member(self, row: Sequence[Any]) -> MemberRecord:
        c = self.codec
        return MemberRecord(
            member_id=row[0],
            timezone=row[1],
            birthday=c.to_day(row[2]),
            tags=tuple(c.from_json(row[3])),
            level=row[4],
            tier=row[5],
            review_at=c.to_instant(row[6]),
            referral_code=row[7],
            referrer=row[8],
            created_at=c.to_instant(row[9]),
            state=c.from_json(row[10]),
        )

    def lot(self, row: Sequence[Any]) -> Lot:
        c = self.codec
        earned_at = c.to_instant(row[5])
        assert earned_at is not None
        return Lot(
            lot_id=row[0],
            member_id=row[1],
            currency=row[2],
            amount=row[3],
            remaining=row[4],
            earned_at=earned_at,
            expires_at=c.to_instant(row[6]),
            pending_until=c.to_instant(row[7]),
            rule=row[8],
            key=row[9],
            status=row[10],
        )

    def entry(self, row: Sequence[Any]) -> LedgerEntry:
        at = self.codec.to_instant(row[4])
        assert at is not None
        return LedgerEntry(
            entry_id=row[0],
            member_id=row[1],
            account=row[2],
            amount=row[3],
            at=at,
            kind=row[5],
            reason=row[6],
            key=row[7],
            action=row[8],
            lot_id=row[9],
        )

    def message(self, row: Sequence[Any]) -> OutboxMessage:
        at = self.codec.to_instant(row[3])
        assert at is not None
        return OutboxMessage(row[0], row[1], row[2], at, self.codec.from_json(row[4]))

    # Unit-of-work reads ------------------------------------------------------------------

    def load_member(
        self, cur: Cursor, member_id: str, loaded: MemberRows | None = None
    ) -> MemberRecord | None:
        """The member, or None; its row as stored goes into ``loaded`` (see :meth:`apply`)."""
        cur.execute(self.sql.load_member, (member_id,))
        row = cur.fetchone()
        if row is None:
            return None
        record = self.member(row)
        if loaded is not None:
            loaded[member_id] = self._member_row(record)
        return record

    def member_by_code(self, cur: Cursor, code: str) -> str | None:
        cur.execute(self.sql.member_by_code, (code,))
        row = cur.fetchone()
        return str(row[0]) if row is not None else None

    def get_idempotency(
        self, cur: Cursor, member_id: str, kind: str, key: str
    ) -> IdempotencyRecord | None:
        cur.execute(self.sql.get_idempotency, (member_id, kind, key))
        row = cur.fetchone()
        if row is None:
            return None
        at = self.codec.to_instant(row[2])
        assert at is not None
        return IdempotencyRecord(member_id, kind, key, row[0], self.codec.from_json(row[1]), at)

    def balances(self, cur: Cursor, member_id: str) -> dict[str, int]:
        cur.execute(self.sql.balances, (member_id,))
        return {account: int(amount) for account, amount in cur.fetchall()}

    def lots(self, cur: Cursor, member_id: str, currency: str, key: str | None) -> list[Lot]:
        if key is None:
            cur.execute(self.sql.open_lots, (member_id, currency))
        else:
            cur.execute(self.sql.lots_by_key, (member_id, key, currency))
        return [self.lot(row) for row in cur.fetchall()]

    def get_lots(self, cur: Cursor, lot_ids: Sequence[str]) -> list[Lot]:
        if not lot_ids:
            return []
        cur.execute(self.sql.lots_by_ids, (self.codec.id_list(list(lot_ids)),))
        found = {lot.lot_id: lot for lot in map(self.lot, cur.fetchall())}
        return [found[i] for i in lot_ids if i in found]

    def entries_for_key(self, cur: Cursor, member_id: str, key: str) -> list[LedgerEntry]:
        cur.execute(self.sql.entries_for_key, (member_id, key))
        return [self.entry(row) for row in cur.fetchall()]

    # The write -----------------------------------------------------------------------------

    def apply(self, cur: Cursor, changes: Changes, loaded: MemberRows | None = None) -> None:
        """Write ``changes``, or raise and write nothing.

        Writes that the database may refuse (debits, unique records, a new referral
        code) run first. With one of them, its refusal comes before any write; with
        several, the whole write runs inside a savepoint that a refusal rolls back.
        (A new referral code is refused by an error rather than a count of rows: on
        PostgreSQL, where an error aborts the transaction, it always gets a savepoint.)

        ``loaded`` holds the member rows as this unit of work read them (it holds
        their locks, so they are current): a member is then written by an UPDATE of
        the columns that changed only, or not at all, and ``loaded`` follows the write.
        """
        deltas = changes.balance_deltas()
        debits = [(key, d) for key, d in deltas.items() if d < 0]
        members, rows = self._member_writes(changes.members, loaded or {})
        coded = sum(1 for write in members if write.refusable)
        refusable = len(debits) + len(changes.idempotency) + len(changes.awards) + coded
        # A taken referral code is an error, not a count of rows; on PostgreSQL an error
        # aborts the whole transaction, so it needs a savepoint even on its own.
        if refusable <= 1 and not (coded and self.dialect == "postgresql"):
            self._write(cur, changes, deltas, debits, members)
        else:
            begin, release, rollback = _APPLY_SAVEPOINT
            cur.execute(begin)
            try:
                self._write(cur, changes, deltas, debits, members)
            except BaseException:
                # A failed rollback (a lost connection) must not hide why the write failed.
                with contextlib.suppress(Exception):
                    cur.execute(rollback)
                    cur.execute(release)
                raise
            cur.execute(release)
        if loaded is not None:
            loaded.update(rows)

    def _member_writes(
        self, records: list[MemberRecord], loaded: MemberRows
    ) -> tuple[list[_MemberWrite], MemberRows]:
        """The statements that write ``records``, and their rows as written."""
        writes: list[_MemberWrite] = []
        rows: MemberRows = {}
        for record in records:
            new = self._member_row(record)
            old = rows.get(record.member_id) or loaded.get(record.member_id)
            if old is None:
                writes.append(
                    _MemberWrite(self.sql.upsert_member, new, record.referral_code is not None)
                )
            else:
                changed = tuple(i for i in range(1, len(new)) if new[i] != old[i])
                if changed:
                    writes.append(
                        _MemberWrite(
                            self.sql.update_member(changed),
                            (*(new[i] for i in changed), record.member_id),
                            _CODE in changed and record.referral_code is not None,
                        )
                    )
            rows[record.member_id] = new
        return writes, rows

    def _write(
        self,
        cur: Cursor,
        changes: Changes,
        deltas: dict[tuple[str, str], int],
        debits: list[tuple[tuple[str, str], int]],
        members: list[_MemberWrite],
    ) -> None:
        sql, c = self.sql, self.codec
        instant = c.instant

        # 1. What the database may refuse.
        for (member_id, account), delta in debits:
            cur.execute(sql.debit, (delta, member_id, account, delta))
            if cur.rowcount != 1:
                cur.execute(sql.balance, (member_id, account))
                row = cur.fetchone()
                raise InsufficientBalanceError(
                    member_id, account, -delta, int(row[0]) if row is not None else 0
                )
        if changes.idempotency:
            rows: list[tuple[Any, ...]] = [
                (r.member_id, r.kind, r.key, r.fingerprint, c.json(r.result), instant(r.at))
                for r in changes.idempotency
            ]
            if _many(cur, sql.insert_idempotency, rows) != len(rows):
                keys = ", ".join(repr(r.key) for r in changes.idempotency)
                raise DuplicateError(f"idempotency key already recorded (one of {keys})")
        if changes.awards:
            award_rows: list[tuple[Any, ...]] = [
                (a.member_id, a.badge, a.tier, a.occurrence, instant(a.at)) for a in changes.awards
            ]
            if _many(cur, sql.insert_award, award_rows) != len(award_rows):
                raise DuplicateError("award already given")
        for write in members:
            if write.refusable:  # a new referral code, unique across members
                cur.execute(write.sql, write.params)

        # 2. What cannot be refused: on PostgreSQL sent in one round trip (a pipeline).
        with self.pipeline(cur):
            self._write_rest(cur, changes, deltas, members)

    def pipeline(self, cur: Cursor) -> AbstractContextManager[Any]:
        """Statements run inside are sent together (PostgreSQL; a no-op on SQLite)."""
        if self.dialect == "postgresql":
            return cast(AbstractContextManager[Any], cur.connection.pipeline())
        return contextlib.nullcontext()

    def _write_rest(
        self,
        cur: Cursor,
        changes: Changes,
        deltas: dict[tuple[str, str], int],
        members: list[_MemberWrite],
    ) -> None:
        sql, c = self.sql, self.codec
        instant = c.instant
        for write in members:
            if not write.refusable:
                cur.execute(write.sql, write.params)
        credits = [(m, a, d) for (m, a), d in deltas.items() if d >= 0]
        if credits:
            _many(cur, sql.credit, credits)
        if changes.entries:
            _many(
                cur,
                sql.insert_entry,
                [
                    (
                        e.entry_id,
                        e.member_id,
                        e.account,
                        e.amount,
                        instant(e.at),
                        e.kind,
                        e.reason,
                        e.key,
                        e.action,
                        e.lot_id,
                    )
                    for e in changes.entries
                ],
            )
        if changes.new_lots:
            _many(
                cur,
                sql.insert_lot,
                [
                    (
                        lot.lot_id,
                        lot.member_id,
                        lot.currency,
                        lot.amount,
                        lot.remaining,
                        instant(lot.earned_at),
                        instant(lot.expires_at),
                        instant(lot.pending_until),
                        lot.rule,
                        lot.key,
                        lot.status,
                    )
                    for lot in changes.new_lots
                ],
            )
        if changes.lot_changes:
            _many(
                cur,
                sql.update_lot,
                [
                    (ch.remaining, ch.status, instant(ch.expires_at), ch.lot_id)
                    for ch in changes.lot_changes
                ],
            )
        if changes.earned:
            _many(
                cur,
                sql.add_earned,
                [
                    (
                        d.member_id,
                        d.currency,
                        d.amount,
                        d.day,
                        d.amount,
                        d.week,
                        d.amount,
                        d.month,
                        d.amount,
                    )
                    for d in changes.earned
                ],
            )
        if changes.outbox:
            _many(
                cur,
                sql.insert_outbox,
                [
                    (msg.event_id, msg.name, msg.member_id, instant(msg.at), c.json(msg.payload))
                    for msg in changes.outbox
                ],
            )

    def _member_row(self, m: MemberRecord) -> tuple[Any, ...]:
        c = self.codec
        return (
            m.member_id,
            m.timezone,
            c.day(m.birthday),
            c.json(list(m.tags)),
            m.level,
            m.tier,
            c.instant(m.review_at),
            m.referral_code,
            m.referrer,
            c.instant(m.created_at),
            c.json(m.state),
        )

    # Reads outside units of work -----------------------------------------------------------

    def history(
        self, cur: Cursor, member_id: str, limit: int | None, account: str | None
    ) -> list[LedgerEntry]:
        if limit is not None and limit <= 0:
            return []
        params: tuple[Any, ...] = (member_id,)
        if account is not None:
            params += (account,)
        if limit is not None:
            params += (limit,)
        cur.execute(self.sql.history[account is not None, limit is not None], params)
        return [self.entry(row) for row in cur.fetchall()]

    def due(self, cur: Cursor, before: datetime, limit: int) -> DueWork:
        at = self.codec.instant(before)
        cur.execute(self.sql.expiring, (at, limit))
        expiring = [self.lot(row) for row in cur.fetchall()]
        cur.execute(self.sql.maturing, (at, limit))
        maturing = [self.lot(row) for row in cur.fetchall()]
        cur.execute(self.sql.reviews, (at, limit))
        reviews = [str(row[0]) for row in cur.fetchall()]
        return DueWork(expiring, maturing, reviews)

    @staticmethod
    def _period(period: str) -> tuple[str, str | None]:
        kind, _, key = period.partition(":")
        if kind not in PERIOD_KINDS or (kind == "all") != (key == ""):
            raise ValueError(
                f"unknown leaderboard period {period!r}: use 'all', 'day:KEY', 'week:KEY' "
                "or 'month:KEY'"
            )
        return kind, key or None

    def leaderboard(
        self, cur: Cursor, currency: str, period: str, limit: int, tier: str | None
    ) -> list[LeaderboardRow]:
        if limit <= 0:
            return []
        kind, key = self._period(period)
        params = (*self._filter(tier, currency, key, 0), limit)
        cur.execute(self.sql.leaderboard[kind, tier is not None], params)
        return [LeaderboardRow(str(m), int(s)) for m, s in cur.fetchall()]

    def count_above(
        self, cur: Cursor, currency: str, period: str, score: int, tier: str | None
    ) -> int:
        kind, key = self._period(period)
        params = self._filter(tier, currency, key, max(score, 0))
        statement = self.sql.count_above[kind, tier is not None]
        if self.dialect == "postgresql":
            # Never a prepared statement: a generic plan of this count ignores the score
            # and scans far more than the rows above it.
            cur.execute(statement, params, prepare=False)
        else:
            cur.execute(statement, params)
        row = cur.fetchone()
        return int(row[0]) if row is not None else 0

    @staticmethod
    def _filter(
        tier: str | None, currency: str, key: str | None, threshold: int
    ) -> tuple[Any, ...]:
        params: tuple[Any, ...] = () if tier is None else (tier,)
        params += (currency,)
        if key is not None:
            params += (key,)
        return (*params, threshold)

    def score(self, cur: Cursor, member_id: str, currency: str, period: str) -> int:
        kind, key = self._period(period)
        cur.execute(self.sql.score, (member_id, currency))
        row = cur.fetchone()
        if row is None:
            return 0
        if kind == "all":
            return int(row[0])
        i = {"day": 1, "week": 3, "month": 5}[kind]
        return int(row[i + 1]) if row[i] == key else 0

    def earned_between(
        self, cur: Cursor, currency: str, start: datetime, end: datetime
    ) -> dict[str, int]:
        c = self.codec
        accounts = (currency, pending_account(currency))
        cur.execute(self.sql.earned_between, (*accounts, c.instant(start), c.instant(end)))
        return {str(m): int(total) for m, total in cur.fetchall() if total}

    def ledger_totals(
        self, cur: Cursor, start: datetime | None, end: datetime | None
    ) -> list[tuple[str, str, str | None, int]]:
        params = tuple(self.codec.instant(t) for t in (start, end) if t is not None)
        cur.execute(self.sql.ledger_totals[start is not None, end is not None], params)
        rows = [(str(a), str(k), act, int(total)) for a, k, act, total in cur.fetchall()]
        return sorted(rows, key=lambda r: (r[0], r[1], r[2] or ""))

    def pending_outbox(self, cur: Cursor, limit: int) -> list[OutboxMessage]:
        if limit <= 0:
            return []
        cur.execute(self.sql.pending_outbox, (limit,))
        return [self.message(row) for row in cur.fetchall()]

    def ack_outbox(self, cur: Cursor, event_ids: Sequence[str]) -> None:
        if event_ids:
            cur.execute(self.sql.ack_outbox, (self.codec.id_list(list(event_ids)),))

    def member_ids_page(self, cur: Cursor, after: str | None, size: int) -> list[str]:
        if after is None:
            cur.execute(self.sql.first_member_ids, (size,))
        else:
            cur.execute(self.sql.next_member_ids, (after, size))
        return [str(row[0]) for row in cur.fetchall()]


class SQLUnit(UnitOfWork):
    """A unit of work on one cursor inside a transaction the store manages."""

    def __init__(self, queries: Queries, cur: Cursor, sent: list[OutboxMessage] | None = None):
        self._q = queries
        self._cur = cur
        self._sent = sent
        self._loaded: MemberRows = {}

    def load_member(self, member_id: str) -> MemberRecord | None:
        with translated():
            return self._q.load_member(self._cur, member_id, self._loaded)

    def member_by_code(self, code: str) -> str | None:
        with translated():
            return self._q.member_by_code(self._cur, code)

    def get_idempotency(self, member_id: str, kind: str, key: str) -> IdempotencyRecord | None:
        with translated():
            return self._q.get_idempotency(self._cur, member_id, kind, key)

    def balances(self, member_id: str) -> dict[str, int]:
        with translated():
            return self._q.balances(self._cur, member_id)

    def lots(self, member_id: str, currency: str, *, key: str | None = None) -> list[Lot]:
        with translated():
            return self._q.lots(self._cur, member_id, currency, key)

    def get_lots(self, lot_ids: Sequence[str]) -> list[Lot]:
        with translated():
            return self._q.get_lots(self._cur, lot_ids)

    def entries_for_key(self, member_id: str, key: str) -> list[LedgerEntry]:
        with translated():
            return self._q.entries_for_key(self._cur, member_id, key)

    def apply(self, changes: Changes) -> None:
        with translated():
            self._q.apply(self._cur, changes, self._loaded)
        if self._sent is not None:
            self._sent.extend(changes.outbox)
