"""What the SQL store does on one DBAPI cursor: the unit-of-work reads and writes, and the
reads outside units of work.

Shared by :class:`~gamify_adapters.sql.SQLStore` (its own pool) and the store bound to
an app's session (the app's connection); neither manages transactions here.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable, Collection, Sequence
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
from ._statements import PERIOD_KINDS, Codec, Dialect, Statements, multi_row
from ._tables import Tables

__all__ = ["MemberRows", "Pending", "Queries", "SQLUnit"]

Cursor = Any  # a DBAPI cursor (sqlite3 or psycopg)
MemberRows = dict[str, tuple[Any, ...]]
"""Member rows as a unit of work read or wrote them, as statement parameters, by member id."""

_CODE = 7  # the referral code's place in a member row
_MEMBER_WIDTH = 11  # columns of a member row


@dataclass(frozen=True, slots=True)
class _MemberWrite:
    member_id: str
    sql: str
    params: tuple[Any, ...]
    refusable: bool  # it sets a referral code, which another member may hold


_APPLY_SAVEPOINT = Statements.savepoint("gamify_apply")

Statement = tuple[str, Sequence[Any] | None]
Rows = list[tuple[Any, ...]]
Keys = Collection[tuple[Any, ...]]
# Where a write's statements go: (sql, rows, rows touched). The keys name the rows a
# statement writes, so that statements writing one row twice never share a statement.
Out = Callable[[str, Rows, Keys | None], object]


class Pending:
    """Statements held back to go out with the transaction's next one: its BEGIN, member
    locks, a savepoint's release and, in a transaction the store owns on PostgreSQL, the
    writes of its units. On PostgreSQL they share that statement's round trip (a read's,
    or the COMMIT's).

    ``begun`` tells whether anything went out yet (a transaction that sent nothing has
    nothing to commit or roll back); ``writes`` whether writes are held back.
    """

    __slots__ = ("begun", "statements", "writes")

    def __init__(self, statements: list[Statement] | None = None, *, begun: bool = False):
        self.statements: list[Statement] = statements or []
        self.begun = begun
        self.writes = False

    def take(self) -> list[Statement]:
        """The held statements, which the caller sends now (in order, before its own)."""
        out, self.statements = self.statements, []
        self.begun = True
        self.writes = False
        return out


MAX_ROWS = 100  # rows per multi-row INSERT
# Parameters of a combined write: psycopg caches its parse of statements with up to 50
# and parses longer ones anew each time, which costs more than another statement in
# the same round trip.
MAX_PARAMS = 50


def _many(cur: Cursor, sql: str, rows: Rows) -> int:
    """Run ``sql`` for every row (see :func:`_statements`); the rows changed (unknown
    inside a pipeline)."""
    if len(rows) > 1 and not sql.startswith("INSERT "):
        cur.executemany(sql, rows)
        return int(cur.rowcount)
    count = 0
    for text, params in _statements(sql, rows):
        cur.execute(text, params)
        count += int(cur.rowcount)
    return count


def _statements(sql: str, rows: Rows) -> list[Statement]:
    """The statements that write ``rows``: an INSERT with up to :data:`MAX_ROWS` rows a
    statement (the rows of an upsert must then have distinct keys), anything else once
    per row."""
    if len(rows) == 1 or not sql.startswith("INSERT "):
        return [(sql, row) for row in rows]
    return [
        (multi_row(sql, len(chunk)), [v for row in chunk for v in row])
        for chunk in (rows[i : i + MAX_ROWS] for i in range(0, len(rows), MAX_ROWS))
    ]


def _lot_row(lot: Lot, instant: Callable[[datetime | None], Any]) -> tuple[Any, ...]:
    return (
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


@functools.lru_cache(maxsize=1024)
def _with(texts: tuple[str, ...]) -> str:
    """Several writes as one statement: all but the last as data-modifying CTEs (each runs
    exactly once, to completion; none sees another's rows)."""
    ctes = ", ".join(f"w{i} AS ({text})" for i, text in enumerate(texts[:-1]))
    return f"WITH {ctes} {texts[-1]}"


class _Combined:
    """Collects a write's statements into few (PostgreSQL): one statement costs the driver
    and the server a round of parsing and executing, however many rows it writes.

    A statement ends before a write that would touch a row it writes already (a member
    written twice) and before its parameters pass :data:`MAX_PARAMS`; a write of more
    than :data:`MAX_ROWS` rows goes out on its own.
    """

    __slots__ = ("_keys", "_out", "_params", "_texts")

    def __init__(self) -> None:
        self._texts: list[str] = []
        self._params: list[Any] = []
        self._keys: set[tuple[Any, ...]] = set()
        self._out: list[Statement] = []

    def add(self, sql: str, rows: Rows, keys: Keys | None = None) -> None:
        if len(rows) > MAX_ROWS:
            self._close()
            self._out.extend(_statements(sql, rows))
            return
        touched = keys if keys is not None else ((sql,),)
        width = len(rows) * len(rows[0])
        if not self._keys.isdisjoint(touched) or len(self._params) + width > MAX_PARAMS:
            self._close()
        self._keys.update(touched)
        self._texts.append(multi_row(sql, len(rows)) if len(rows) > 1 else sql)
        for row in rows:
            self._params.extend(row)

    def _close(self) -> None:
        if self._texts:
            texts = tuple(self._texts)
            self._out.append((_with(texts) if len(texts) > 1 else texts[0], self._params))
            self._texts, self._params = [], []
            self._keys = set()

    def statements(self) -> list[Statement]:
        """What was collected, in order."""
        self._close()
        return self._out


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

    def lock_members(self, member_ids: Sequence[str], held: set[str]) -> list[Statement]:
        """The statements taking each member's transaction-scoped lock not held yet, in
        ascending member id order (none on SQLite, where BEGIN IMMEDIATE holds the
        database's write lock)."""
        if self.dialect != "postgresql":
            return []
        out: list[Statement] = []
        for member_id in sorted(set(member_ids)):
            if member_id not in held:
                out.append((self.sql.lock_member, (self.lock_key(member_id),)))
                held.add(member_id)
        return out

    def send(self, cur: Cursor, statements: list[Statement]) -> None:
        """Run ``statements`` in order (inside the caller's pipeline, if it has one)."""
        for sql, params in statements:
            if params is None:
                cur.execute(sql)
            else:
                cur.execute(sql, params)

    def flush(self, cur: Cursor, pending: Pending | None) -> None:
        """Send what ``pending`` holds back (one round trip on PostgreSQL)."""
        if pending is None or not pending.statements:
            return
        statements = pending.take()
        if len(statements) > 1:
            with self.pipeline(cur):
                self.send(cur, statements)
        else:
            self.send(cur, statements)

    def run(self, cur: Cursor, pending: Pending | None, sql: str, params: Sequence[Any]) -> None:
        """Run one statement after what ``pending`` holds back, in one round trip."""
        if pending is not None and pending.statements:
            with self.pipeline(cur):
                self.send(cur, pending.take())
                cur.execute(sql, params)
        else:
            cur.execute(sql, params)

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
        self,
        cur: Cursor,
        member_id: str,
        loaded: MemberRows | None = None,
        pending: Pending | None = None,
    ) -> MemberRecord | None:
        """The member, or None; its row as stored goes into ``loaded`` (see :meth:`apply`).

        Each unit-of-work read sends what ``pending`` holds back first, in its round trip.
        """
        self.run(cur, pending, self.sql.load_member, (member_id,))
        row = cur.fetchone()
        if row is None:
            return None
        record = self.member(row)
        if loaded is not None:
            loaded[member_id] = tuple(row)
        return record

    def idempotency_and_member(
        self, cur: Cursor, pending: Pending | None, member_id: str, kind: str, key: str
    ) -> tuple[IdempotencyRecord | None, tuple[Any, ...] | None]:
        """The key's first record (or None) and the member's row (or None), read together."""
        self.run(cur, pending, self.sql.idempotency_and_member, (member_id, member_id, kind, key))
        row = cur.fetchone()
        member = tuple(row[:_MEMBER_WIDTH]) if row[0] is not None else None
        fingerprint, result, at = row[_MEMBER_WIDTH:]
        if fingerprint is None:
            return None, member
        first = self.codec.to_instant(at)
        assert first is not None
        record = IdempotencyRecord(member_id, kind, key, fingerprint, result, first)
        return record, member

    def member_by_code(self, cur: Cursor, code: str, pending: Pending | None = None) -> str | None:
        self.run(cur, pending, self.sql.member_by_code, (code,))
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
        return IdempotencyRecord(member_id, kind, key, row[0], row[1], at)

    def member_snapshot(
        self, cur: Cursor, member_id: str
    ) -> tuple[MemberRecord | None, dict[str, int]]:
        self.run(cur, None, self.sql.member_snapshot, (member_id,))
        rows = cur.fetchall()
        if not rows:
            return None, {}
        balances = {
            str(row[_MEMBER_WIDTH]): int(row[_MEMBER_WIDTH + 1])
            for row in rows
            if row[_MEMBER_WIDTH] is not None
        }
        return self.member(rows[0][:_MEMBER_WIDTH]), balances

    def balances(
        self, cur: Cursor, member_id: str, pending: Pending | None = None
    ) -> dict[str, int]:
        self.run(cur, pending, self.sql.balances, (member_id,))
        return {account: int(amount) for account, amount in cur.fetchall()}

    def lots(
        self,
        cur: Cursor,
        member_id: str,
        currency: str,
        key: str | None,
        pending: Pending | None = None,
    ) -> list[Lot]:
        if key is None:
            self.run(cur, pending, self.sql.open_lots, (member_id, currency))
        else:
            self.run(cur, pending, self.sql.lots_by_key, (member_id, key, currency))
        return [self.lot(row) for row in cur.fetchall()]

    def get_lots(
        self, cur: Cursor, lot_ids: Sequence[str], pending: Pending | None = None
    ) -> list[Lot]:
        if not lot_ids:
            return []
        self.run(cur, pending, self.sql.lots_by_ids, (self.codec.id_list(list(lot_ids)),))
        found = {lot.lot_id: lot for lot in map(self.lot, cur.fetchall())}
        return [found[i] for i in lot_ids if i in found]

    def entries_for_key(
        self, cur: Cursor, member_id: str, key: str, pending: Pending | None = None
    ) -> list[LedgerEntry]:
        self.run(cur, pending, self.sql.entries_for_key, (member_id, key))
        return [self.entry(row) for row in cur.fetchall()]

    def award_tiers(
        self, cur: Cursor, member_id: str, badge: str, pending: Pending | None = None
    ) -> list[str]:
        self.run(cur, pending, self.sql.award_tiers, (member_id, badge))
        return [str(row[0]) for row in cur.fetchall()]

    # The write -----------------------------------------------------------------------------

    def apply(
        self,
        cur: Cursor,
        changes: Changes,
        loaded: MemberRows | None = None,
        pending: Pending | None = None,
        *,
        defer: bool = False,
    ) -> None:
        """Write ``changes``, or raise and write nothing.

        ``defer`` (PostgreSQL, in a transaction the store owns): the write's statements
        are held back in ``pending``, to go out with the transaction's next read or its
        COMMIT. Unique records are then refused by a unique violation there, which
        aborts the transaction: the unit of work fails as a whole (the store rolls it
        back), so no savepoint is needed. Debits still run at once, so that a refused
        one raises here; a write that sets a new referral code runs at once too, so that
        its refusal leaves the unit usable.

        Otherwise, on PostgreSQL, a write without debits goes out in one round trip (with
        what ``pending`` holds back): a savepoint, then every statement, unique records
        refused by a unique violation; an error rolls back to the savepoint. Its
        release is held back in ``pending`` (when given) for the next round trip.

        Otherwise, writes that the database may refuse (debits, unique records, a new
        referral code) run first. With one of them, its refusal comes before any write;
        with several, the whole write runs inside a savepoint that a refusal rolls back.
        (A new referral code is refused by an error rather than a count of rows: on
        PostgreSQL, where an error aborts the transaction, it always gets a savepoint.)

        ``loaded`` holds the member rows as this unit of work read them (it holds
        their locks, so they are current): a member is then written by an UPDATE of
        the columns that changed only, or not at all, and ``loaded`` follows the write.
        """
        if changes.forgotten:
            self.flush(cur, pending)
            for member_id in changes.forgotten:
                for sql in self.sql.forget:
                    cur.execute(sql, (member_id,))
                if loaded is not None:
                    loaded.pop(member_id, None)  # a later write inserts the member afresh
        deltas = changes.balance_deltas()
        debits = [(key, d) for key, d in deltas.items() if d < 0]
        members, rows = self._member_writes(changes.members, loaded or {})
        coded = sum(1 for write in members if write.refusable)
        if defer and pending is not None and not coded:
            if debits:
                self._debit_now(cur, pending, debits)
            pending.statements += self._combined(changes, deltas, members)
            pending.writes = True
            if loaded is not None:
                loaded.update(rows)
            return
        if self.dialect == "postgresql" and not debits:
            self._write_pipelined(cur, changes, deltas, members, pending)
            if loaded is not None:
                loaded.update(rows)
            return
        self.flush(cur, pending)
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
            member_id = record.member_id
            old = rows.get(member_id) or loaded.get(member_id)
            if old is None:
                writes.append(
                    _MemberWrite(
                        member_id, self.sql.upsert_member, new, record.referral_code is not None
                    )
                )
            else:
                changed = tuple(i for i in range(1, len(new)) if new[i] != old[i])
                if changed:
                    writes.append(
                        _MemberWrite(
                            member_id,
                            self.sql.update_member(changed),
                            (*(new[i] for i in changed), member_id),
                            _CODE in changed and record.referral_code is not None,
                        )
                    )
            rows[member_id] = new
        return writes, rows

    def _debit_now(
        self, cur: Cursor, pending: Pending, debits: list[tuple[tuple[str, str], int]]
    ) -> None:
        """Run the debits (the first with what ``pending`` holds back); when one is refused,
        undo those before it (the undo is held back too) and raise."""
        sql = self.sql
        done: list[tuple[tuple[str, str], int]] = []
        for (member_id, account), delta in debits:
            self.run(cur, pending, sql.debit, (delta, member_id, account, delta))
            if cur.rowcount == 1:
                done.append(((member_id, account), delta))
                continue
            for (m, a), d in done:
                pending.statements.append((sql.debit, (-d, m, a, -d)))
                pending.writes = True
            raise self._refused_debit(cur, pending, member_id, account, delta)

    def _refused_debit(
        self, cur: Cursor, pending: Pending | None, member_id: str, account: str, delta: int
    ) -> InsufficientBalanceError:
        """The error for a debit the balance could not cover, with the balance there is."""
        self.run(cur, pending, self.sql.balance, (member_id, account))
        row = cur.fetchone()
        return InsufficientBalanceError(
            member_id, account, -delta, int(row[0]) if row is not None else 0
        )

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
                raise self._refused_debit(cur, None, member_id, account, delta)
        if changes.idempotency:
            rows: Rows = [
                (r.member_id, r.kind, r.key, r.fingerprint, r.result, instant(r.at))
                for r in changes.idempotency
            ]
            if _many(cur, sql.insert_idempotency, rows) != len(rows):
                keys = ", ".join(repr(r.key) for r in changes.idempotency)
                raise DuplicateError(f"idempotency key already recorded (one of {keys})")
        if changes.awards:
            award_rows: Rows = [
                (a.member_id, a.badge, a.tier, a.occurrence, instant(a.at)) for a in changes.awards
            ]
            if _many(cur, sql.insert_award, award_rows) != len(award_rows):
                raise DuplicateError("award already given")
        for write in members:
            if write.refusable:  # a new referral code, unique across members
                cur.execute(write.sql, write.params)

        # 2. What cannot be refused: on PostgreSQL sent in one round trip (a pipeline).
        def run(sql: str, rows: Rows, keys: Keys | None) -> None:
            _many(cur, sql, rows)

        with self.pipeline(cur):
            self._write_rest(changes, deltas, [w for w in members if not w.refusable], run)

    def _combined(
        self, changes: Changes, deltas: dict[tuple[str, str], int], members: list[_MemberWrite]
    ) -> list[Statement]:
        """The write but its debits as one statement (PostgreSQL) where it can be, unique
        records refused by a unique violation."""
        sql, c = self.sql, self.codec
        instant = c.instant
        combined = _Combined()
        add = combined.add
        if changes.idempotency:
            add(
                sql.insert_idempotency_strict,
                [
                    (r.member_id, r.kind, r.key, r.fingerprint, r.result, instant(r.at))
                    for r in changes.idempotency
                ],
            )
        if changes.awards:
            add(
                sql.insert_award_strict,
                [
                    (a.member_id, a.badge, a.tier, a.occurrence, instant(a.at))
                    for a in changes.awards
                ],
            )
        self._write_rest(changes, deltas, members, add)
        return combined.statements()

    def _write_pipelined(
        self,
        cur: Cursor,
        changes: Changes,
        deltas: dict[tuple[str, str], int],
        members: list[_MemberWrite],
        pending: Pending | None,
    ) -> None:
        """The whole write in one round trip, inside a savepoint (PostgreSQL, no debits)."""
        begin, release, rollback = _APPLY_SAVEPOINT
        statements = self._combined(changes, deltas, members)
        try:
            with self.pipeline(cur):
                if pending is not None:
                    self.send(cur, pending.take())
                cur.execute(begin)
                self.send(cur, statements)
        except BaseException:
            # A failed rollback (a lost connection) must not hide why the write failed.
            with contextlib.suppress(Exception), self.pipeline(cur):
                cur.execute(rollback)
                cur.execute(release)
            raise
        if pending is not None:
            pending.statements.append((release, None))
        else:
            cur.execute(release)

    def pipeline(self, cur: Cursor) -> AbstractContextManager[Any]:
        """Statements run inside are sent together (PostgreSQL; a no-op on SQLite)."""
        if self.dialect == "postgresql":
            own = getattr(cur, "pipeline", None)  # the store's own cursor (see _pq)
            return cast(AbstractContextManager[Any], own() if own else cur.connection.pipeline())
        return contextlib.nullcontext()

    def _write_rest(
        self,
        changes: Changes,
        deltas: dict[tuple[str, str], int],
        members: list[_MemberWrite],
        out: Out,
    ) -> None:
        """The writes that cannot be refused, each through ``out`` with the rows it
        touches where a unit may write them twice (members, lots, earned totals)."""
        sql, c = self.sql, self.codec
        instant = c.instant
        for write in members:
            out(write.sql, [write.params], (("member", write.member_id),))
        credits = [(m, a, d) for (m, a), d in deltas.items() if d >= 0]
        if credits:
            out(sql.credit, credits, None)  # one row per (member, account)
        if changes.entries:
            out(
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
                None,
            )
        if changes.new_lots:
            lots = [_lot_row(lot, instant) for lot in changes.new_lots]
            out(sql.insert_lot, lots, [("lot", row[0]) for row in lots])
        for ch in changes.lot_changes:
            out(
                sql.update_lot,
                [(ch.remaining, ch.status, instant(ch.expires_at), ch.lot_id)],
                (("lot", ch.lot_id),),
            )
        if changes.earned:
            earned = [
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
            ]
            if len({row[:2] for row in earned}) == len(earned):
                out(sql.add_earned, earned, None)
            else:  # an upsert statement may not touch one row twice
                for row in earned:
                    out(sql.add_earned, [row], None)
        if changes.outbox:
            out(
                sql.insert_outbox,
                [
                    (msg.event_id, msg.name, msg.member_id, instant(msg.at), c.json(msg.payload))
                    for msg in changes.outbox
                ],
                None,
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
        if limit <= 0:  # SQLite would read a negative LIMIT as none, PostgreSQL refuse it
            return DueWork([], [], [])
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

    def member_rank(
        self, cur: Cursor, member_id: str, currency: str, period: str, tier: str | None
    ) -> tuple[int, int] | None:
        """See :meth:`gamify.store.Store.member_rank`; the caller gives one snapshot."""
        score = self.score(cur, member_id, currency, period)
        if score <= 0:
            return None
        if tier is not None:
            record = self.load_member(cur, member_id)
            if record is None or record.tier != tier:
                return None
        return score, self.count_above(cur, currency, period, score, tier)

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
        window = (*accounts, c.instant(start), c.instant(end))
        cur.execute(self.sql.earned_between, (*window, *window, *accounts))
        return {str(m): int(total) for m, total in cur.fetchall() if total}

    def ledger_totals(
        self, cur: Cursor, start: datetime | None, end: datetime | None
    ) -> list[tuple[str, str, str | None, int]]:
        params = tuple(self.codec.instant(t) for t in (start, end) if t is not None)
        cur.execute(self.sql.ledger_totals[start is not None, end is not None], params)
        rows = [(str(a), str(k), act, int(total)) for a, k, act, total in cur.fetchall()]
        return sorted(rows, key=lambda r: (r[0], r[1], r[2] or ""))

    def pending_outbox(
        self, cur: Cursor, limit: int, *, claim: bool = False
    ) -> list[OutboxMessage]:
        """The oldest ``limit`` events; with ``claim``, locked to the end of the transaction
        (PostgreSQL), skipping those that another transaction holds."""
        if limit <= 0:
            return []
        cur.execute(self.sql.claim_outbox if claim else self.sql.pending_outbox, (limit,))
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
    """A unit of work on one cursor inside a transaction the store manages.

    ``pending`` holds statements that go out with the unit's next read: the
    transaction's BEGIN and this unit's locks, and with ``defer`` (PostgreSQL, in a
    transaction the store owns) its writes, which otherwise go out with the COMMIT.
    A keyed call's first read, the key's record, brings the row of a member the unit
    holds (``member_ids``) along for the ``load_member`` that follows.
    """

    def __init__(
        self,
        queries: Queries,
        cur: Cursor,
        sent: list[OutboxMessage] | None = None,
        pending: Pending | None = None,
        member_ids: Collection[str] = (),
        *,
        defer: bool = False,
    ):
        self._q = queries
        self._cur = cur
        self._sent = sent
        self._pending = pending
        self._defer = defer
        # SQLite's write lock holds every member; on PostgreSQL the unit's locks hold its own.
        self._held = None if queries.dialect == "sqlite" else frozenset(member_ids)
        self._loaded: MemberRows = {}
        self._fetched: dict[str, tuple[Any, ...] | None] = {}  # read along, not yet loaded

    def load_member(self, member_id: str) -> MemberRecord | None:
        if member_id in self._fetched:
            row = self._fetched.pop(member_id)
            if row is None:
                return None
            self._loaded[member_id] = row
            return self._q.member(row)
        with translated():
            return self._q.load_member(self._cur, member_id, self._loaded, self._pending)

    def member_by_code(self, code: str) -> str | None:
        with translated():
            return self._q.member_by_code(self._cur, code, self._pending)

    def get_idempotency(self, member_id: str, kind: str, key: str) -> IdempotencyRecord | None:
        with translated():
            record, row = self._q.idempotency_and_member(
                self._cur, self._pending, member_id, kind, key
            )
        if self._held is None or member_id in self._held:
            self._fetched[member_id] = row
        return record

    def balances(self, member_id: str) -> dict[str, int]:
        with translated():
            return self._q.balances(self._cur, member_id, self._pending)

    def lots(self, member_id: str, currency: str, *, key: str | None = None) -> list[Lot]:
        with translated():
            return self._q.lots(self._cur, member_id, currency, key, self._pending)

    def get_lots(self, lot_ids: Sequence[str]) -> list[Lot]:
        with translated():
            return self._q.get_lots(self._cur, lot_ids, self._pending)

    def entries_for_key(self, member_id: str, key: str) -> list[LedgerEntry]:
        with translated():
            return self._q.entries_for_key(self._cur, member_id, key, self._pending)

    def award_tiers(self, member_id: str, badge: str) -> list[str] | None:
        with translated():
            return self._q.award_tiers(self._cur, member_id, badge, self._pending)

    def apply(self, changes: Changes) -> None:
        self._fetched.clear()  # rows read along may be about to change
        with translated():
            self._q.apply(self._cur, changes, self._loaded, self._pending, defer=self._defer)
        if self._sent is not None:
            self._sent.extend(changes.outbox)
