"""Every SQL text the store runs, built once from the prefixed table names.

The store runs these texts on the DBAPI connection SQLAlchemy holds
(SQLAlchemy Core costs more per statement than a whole event may take). This
module is the one place that writes SQL: a text is written once with ``?``
placeholders and rendered for the dialect's parameter style, and
:class:`Codec` converts values in and out (SQLite keeps instants as UTC text,
dates as ISO text and JSON as text; PostgreSQL takes them natively).
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime
from typing import Any, Literal

from gamify.errors import StoreError
from gamify.store import EARNED_KINDS

from ._tables import EXPIRING_LOT, MATURING_LOT, OPEN_LOT, Tables

__all__ = ["PERIOD_KINDS", "Codec", "Dialect", "Statements", "multi_row"]

Dialect = Literal["sqlite", "postgresql"]

#: Leaderboard period kinds and the columns of the earned table that hold them.
PERIOD_KINDS: dict[str, tuple[str | None, str]] = {
    "all": (None, "all_time"),
    "day": ("day_key", "day_amount"),
    "week": ("week_key", "week_amount"),
    "month": ("month_key", "month_amount"),
}

MEMBER_COLUMNS = (
    "member_id, timezone, birthday, tags, level, tier, review_at, "
    "referral_code, referrer, created_at, state"
)
ENTRY_COLUMNS = "entry_id, member_id, account, amount, at, kind, reason, key, action, lot_id"
LOT_COLUMNS = (
    "lot_id, member_id, currency, amount, remaining, earned_at, expires_at, "
    "pending_until, rule, key, status"
)
EARNED_COLUMNS = "all_time, day_key, day_amount, week_key, week_amount, month_key, month_amount"
OUTBOX_COLUMNS = "event_id, name, member_id, at, payload"


@functools.lru_cache(maxsize=1024)
def multi_row(insert: str, count: int) -> str:
    """A single-row ``INSERT ... VALUES (?, ...)`` of :class:`Statements` with ``count``
    rows of VALUES: one statement for several rows costs the driver and the server less
    than the same statement run once per row."""
    head, _, rest = insert.partition(" VALUES (")
    row, _, tail = rest.partition(")")
    return f"{head} VALUES {', '.join([f'({row})'] * count)}{tail}"


def _member_columns(dialect: Dialect, alias: str = "") -> str:
    """The member columns to read; PostgreSQL hands JSON back as stored text (as SQLite
    does), so that a member row read is also the row to compare a write with."""
    names = [f"{alias}{name}" for name in MEMBER_COLUMNS.split(", ")]
    if dialect == "postgresql":
        names = [f"{n}::text" if n.endswith(("tags", "state")) else n for n in names]
    return ", ".join(names)


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"the SQL store keeps JSON-ready data only: {exc}") from None


def _json_value(value: Any) -> Any:
    # psycopg parses json columns itself; SQLite hands back the text.
    return json.loads(value) if isinstance(value, str | bytes) else value


class Codec:
    """Python values to and from database parameters, for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.text_time = dialect == "sqlite"

    # Instants ----------------------------------------------------------------------

    def instant(self, value: datetime | None) -> Any:
        if value is None:
            return None
        offset = value.utcoffset()
        if not self.text_time:
            return value if offset is not None else value.replace(tzinfo=UTC)
        if offset:
            # Not ``value - offset``: pendulum subtracts elapsed time, which is off by
            # an hour when a DST change lies in between.
            value = value.astimezone(UTC)
        return (
            f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
            f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
        )

    def to_instant(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    # Dates and JSON ----------------------------------------------------------------

    def day(self, value: date | None) -> Any:
        if value is None or not self.text_time:
            return value
        return value.isoformat()

    def to_day(self, value: Any) -> date | None:
        if value is None or isinstance(value, date):
            return value
        return date.fromisoformat(value)

    json = staticmethod(_json_text)
    from_json = staticmethod(_json_value)

    def id_list(self, ids: list[str]) -> Any:
        """A list of ids as one parameter (a JSON array on SQLite, an array on PostgreSQL)."""
        return _json_text(ids) if self.text_time else ids


class Statements:
    """The SQL texts of one store (one prefix, one dialect)."""

    def __init__(self, tables: Tables, dialect: Dialect) -> None:
        self.dialect = dialect
        m = tables.members.name
        b = tables.balances.name
        e = tables.ledger.name
        lt = tables.lots.name
        i = tables.idempotency.name
        a = tables.awards.name
        r = tables.earned.name
        o = tables.outbox.name
        q = self._render
        self._members = m
        self._member_updates: dict[tuple[int, ...], str] = {}

        if dialect == "sqlite":
            self.begin = "BEGIN IMMEDIATE"
            in_ids = "IN (SELECT value FROM json_each(?))"
        else:
            self.begin = "BEGIN ISOLATION LEVEL READ COMMITTED"
            in_ids = "= ANY(?)"
        self.commit = "COMMIT"
        self.rollback = "ROLLBACK"
        # Several reads of one instant: SQLite's snapshot starts at the first read.
        self.begin_snapshot = (
            "BEGIN" if dialect == "sqlite" else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        )
        self.lock_member = q("SELECT pg_advisory_xact_lock(?)")

        # Units of work: reads -----------------------------------------------------------
        self.load_member = q(f"SELECT {_member_columns(dialect)} FROM {m} WHERE member_id = ?")
        # One statement reads one snapshot: the member row beside each of its balances.
        self.member_snapshot = q(
            f"SELECT {_member_columns(dialect, 'm.')}, b.account, b.amount FROM {m} m "
            f"LEFT JOIN {b} b ON b.member_id = m.member_id WHERE m.member_id = ?"
        )
        self.member_by_code = q(f"SELECT member_id FROM {m} WHERE referral_code = ?")
        # A result is JSON text in and out (PostgreSQL would parse a json column).
        result = "result::text" if dialect == "postgresql" else "result"
        self.get_idempotency = q(
            f"SELECT fingerprint, {result}, at FROM {i} "
            "WHERE member_id = ? AND kind = ? AND key = ?"
        )
        # The key's record and its member's row in one statement: a keyed call reads both
        # first thing. Parameters: member id, member id, kind, key.
        self.idempotency_and_member = q(
            f"SELECT {_member_columns(dialect, 'm.')}, x.fingerprint, x.{result}, x.at "
            f"FROM (SELECT 1) AS one LEFT JOIN {m} m ON m.member_id = ? "
            f"LEFT JOIN {i} x ON x.member_id = ? AND x.kind = ? AND x.key = ?"
        )
        self.balances = q(f"SELECT account, amount FROM {b} WHERE member_id = ?")
        self.balance = q(f"SELECT amount FROM {b} WHERE member_id = ? AND account = ?")
        self.open_lots = q(
            f"SELECT {LOT_COLUMNS} FROM {lt} WHERE member_id = ? AND currency = ? "
            f"AND {OPEN_LOT} ORDER BY id"
        )
        self.lots_by_key = q(
            f"SELECT {LOT_COLUMNS} FROM {lt} WHERE member_id = ? AND key = ? AND currency = ? "
            "ORDER BY id"
        )
        self.lots_by_ids = q(f"SELECT {LOT_COLUMNS} FROM {lt} WHERE lot_id {in_ids}")
        self.entries_for_key = q(
            f"SELECT {ENTRY_COLUMNS} FROM {e} WHERE member_id = ? AND key = ? ORDER BY id"
        )
        self.award_tiers = q(
            f"SELECT tier FROM {a} WHERE member_id = ? AND badge = ? AND tier <> '' ORDER BY tier"
        )

        # Units of work: writes ----------------------------------------------------------
        # Erasing a member, each statement through an index: lots through the member's
        # ledger entries (each lot has its credit's entry) and the open-lot index.
        self.forget = [
            q(
                f"DELETE FROM {lt} WHERE lot_id IN "
                f"(SELECT lot_id FROM {e} WHERE member_id = ? AND lot_id IS NOT NULL)"
            ),
            q(f"DELETE FROM {lt} WHERE member_id = ? AND {OPEN_LOT}"),
            *(q(f"DELETE FROM {t} WHERE member_id = ?") for t in (e, b, i, a, r, m)),
        ]
        # Unique records are inserted with DO NOTHING and counted, so a duplicate never
        # aborts a PostgreSQL transaction.
        self.insert_idempotency = q(
            f"INSERT INTO {i} (member_id, kind, key, fingerprint, result, at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        )
        self.insert_award = q(
            f"INSERT INTO {a} (member_id, badge, tier, occurrence, at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        )
        # The same, refused by a unique violation: for writes inside a savepoint that the
        # refusal rolls back (PostgreSQL sends them with the rest, in one round trip).
        self.insert_idempotency_strict = self.insert_idempotency.removesuffix(
            " ON CONFLICT DO NOTHING"
        )
        self.insert_award_strict = self.insert_award.removesuffix(" ON CONFLICT DO NOTHING")
        # A debit: conditional in the database, never read-modify-write.
        self.debit = q(
            f"UPDATE {b} SET amount = amount + ? "
            "WHERE member_id = ? AND account = ? AND amount + ? >= 0"
        )
        self.credit = q(
            f"INSERT INTO {b} (member_id, account, amount) VALUES (?, ?, ?) "
            f"ON CONFLICT (member_id, account) DO UPDATE SET amount = {b}.amount + excluded.amount"
        )
        member_updates = ", ".join(
            f"{col} = excluded.{col}" for col in MEMBER_COLUMNS.split(", ")[1:]
        )
        self.upsert_member = q(
            f"INSERT INTO {m} ({MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (member_id) DO UPDATE SET {member_updates}"
        )
        self.insert_entry = q(
            f"INSERT INTO {e} ({ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self.insert_lot = q(
            f"INSERT INTO {lt} ({LOT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self.update_lot = q(
            f"UPDATE {lt} SET remaining = ?, status = ?, expires_at = COALESCE(?, expires_at) "
            "WHERE lot_id = ?"
        )

        # Earned totals (EarnedDelta): the same period key adds, a later one restarts,
        # an earlier one (a late event) leaves the total alone. Every SET expression
        # reads the row as it was before the update.
        def period(key: str, amount: str) -> str:
            return (
                f"{amount} = CASE WHEN excluded.{key} = {r}.{key} "
                f"THEN {r}.{amount} + excluded.{amount} "
                f"WHEN excluded.{key} > {r}.{key} THEN excluded.{amount} ELSE {r}.{amount} END, "
                f"{key} = CASE WHEN excluded.{key} > {r}.{key} "
                f"THEN excluded.{key} ELSE {r}.{key} END"
            )

        self.add_earned = q(
            f"INSERT INTO {r} (member_id, currency, {EARNED_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (member_id, currency) DO UPDATE SET "
            f"all_time = {r}.all_time + excluded.all_time, "
            + ", ".join(
                period(key, amount)
                for key, amount in (
                    ("day_key", "day_amount"),
                    ("week_key", "week_amount"),
                    ("month_key", "month_amount"),
                )
            )
        )
        self.insert_outbox = q(f"INSERT INTO {o} ({OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?)")

        # Reads outside units of work ----------------------------------------------------
        history = f"SELECT {ENTRY_COLUMNS} FROM {e} WHERE member_id = ?"
        self.history = {
            (False, False): q(f"{history} ORDER BY id DESC"),
            (False, True): q(f"{history} ORDER BY id DESC LIMIT ?"),
            (True, False): q(f"{history} AND account = ? ORDER BY id DESC"),
            (True, True): q(f"{history} AND account = ? ORDER BY id DESC LIMIT ?"),
        }
        self.expiring = q(
            f"SELECT {LOT_COLUMNS} FROM {lt} WHERE {EXPIRING_LOT} "
            "AND expires_at <= ? ORDER BY expires_at, lot_id LIMIT ?"
        )
        self.maturing = q(
            f"SELECT {LOT_COLUMNS} FROM {lt} WHERE {MATURING_LOT} "
            "AND pending_until <= ? ORDER BY pending_until, lot_id LIMIT ?"
        )
        self.reviews = q(
            f"SELECT member_id FROM {m} WHERE review_at IS NOT NULL AND review_at <= ? "
            "ORDER BY review_at, member_id LIMIT ?"
        )
        self.score = q(f"SELECT {EARNED_COLUMNS} FROM {r} WHERE member_id = ? AND currency = ?")
        # Leaderboards: one index range in (score desc, member id) order; the tier
        # filter looks each row's member up by primary key, never scans members.
        self.leaderboard: dict[tuple[str, bool], str] = {}
        self.count_above: dict[tuple[str, bool], str] = {}
        for kind, (key, amount) in PERIOD_KINDS.items():
            where = f"x.currency = ?{f' AND x.{key} = ?' if key else ''} AND x.{amount} > ?"
            for tiered in (False, True):
                join = f" JOIN {m} t ON t.member_id = x.member_id AND t.tier = ?" if tiered else ""
                self.leaderboard[kind, tiered] = q(
                    f"SELECT x.member_id, x.{amount} FROM {r} x{join} WHERE {where} "
                    f"ORDER BY x.{amount} DESC, x.member_id LIMIT ?"
                )
                self.count_above[kind, tiered] = q(
                    f"SELECT COUNT(*) FROM {r} x{join} WHERE {where}"
                )
        # A window's credits through the (account, at) index; a reversal counts at the
        # instant of the event it takes back, found by the member's key index from the
        # window's keyed credits (parameters: accounts, start, end; again; the accounts).
        credits = ", ".join(f"'{k}'" for k in sorted(EARNED_KINDS - {"reverse"}))
        window = "account IN (?, ?) AND at >= ? AND at < ?"
        self.earned_between = q(
            f"SELECT member_id, SUM(amount) FROM ("
            f"SELECT member_id, amount FROM {e} WHERE {window} AND kind IN ({credits}) "
            f"UNION ALL SELECT r.member_id, r.amount FROM ("
            f"SELECT DISTINCT member_id, key FROM {e} WHERE {window} AND kind = 'earn' "
            f"AND key IS NOT NULL) keyed JOIN {e} r ON r.member_id = keyed.member_id "
            f"AND r.key = keyed.key AND r.key IS NOT NULL "
            f"WHERE r.kind = 'reverse' AND r.account IN (?, ?)"
            f") counted GROUP BY member_id"
        )
        totals = f"SELECT account, kind, action, SUM(amount) FROM {e}"
        group = " GROUP BY account, kind, action"
        self.ledger_totals = {
            (False, False): q(totals + group),
            (True, False): q(f"{totals} WHERE at >= ?{group}"),
            (False, True): q(f"{totals} WHERE at < ?{group}"),
            (True, True): q(f"{totals} WHERE at >= ? AND at < ?{group}"),
        }
        self.pending_outbox = q(f"SELECT {OUTBOX_COLUMNS} FROM {o} ORDER BY id LIMIT ?")
        # A drain's rows, locked to its commit on PostgreSQL; another drain skips them.
        self.claim_outbox = self.pending_outbox + (
            " FOR UPDATE SKIP LOCKED" if dialect == "postgresql" else ""
        )
        self.ack_outbox = q(f"DELETE FROM {o} WHERE event_id {in_ids}")
        self.first_member_ids = q(f"SELECT member_id FROM {m} ORDER BY member_id LIMIT ?")
        self.next_member_ids = q(
            f"SELECT member_id FROM {m} WHERE member_id > ? ORDER BY member_id LIMIT ?"
        )

    def update_member(self, columns: tuple[int, ...]) -> str:
        """An UPDATE of the member columns at these places of :data:`MEMBER_COLUMNS` (1 on)."""
        text = self._member_updates.get(columns)
        if text is None:
            names = MEMBER_COLUMNS.split(", ")
            sets = ", ".join(f"{names[i]} = ?" for i in columns)
            text = self._render(f"UPDATE {self._members} SET {sets} WHERE member_id = ?")
            self._member_updates[columns] = text
        return text

    def _render(self, text: str) -> str:
        """``text`` with ``?`` placeholders in the driver's parameter style."""
        if self.dialect == "sqlite":
            return text
        assert "%" not in text, "a literal % would need escaping for psycopg"
        return text.replace("?", "%s")

    @staticmethod
    def savepoint(name: str) -> tuple[str, str, str]:
        """SAVEPOINT, RELEASE and ROLLBACK TO texts for ``name`` (a plain identifier)."""
        return (
            f"SAVEPOINT {name}",
            f"RELEASE SAVEPOINT {name}",
            f"ROLLBACK TO SAVEPOINT {name}",
        )
