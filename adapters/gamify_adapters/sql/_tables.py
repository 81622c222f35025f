"""The SQL store's tables, as SQLAlchemy Core metadata with a configurable name prefix.

Tables are built by a function rather than declared as SQLModel classes so that
one process can hold several prefixes (``gamify_``, ``loyalty_``) side by side:
a declarative class is registered once, under one table name, for the life of
the process. The result is plain :class:`sqlalchemy.MetaData` that an app's
Alembic ``target_metadata`` can include::

    from gamify_adapters.sql import metadata
    target_metadata = [SQLModel.metadata, metadata(prefix="gamify_")]

Instants are ``TIMESTAMP WITH TIME ZONE`` on PostgreSQL; on SQLite they are
UTC text in SQLAlchemy's own ``DATETIME`` format (``2026-11-27 08:00:00.000000``),
so the Core type reads them back and text order is time order. Identifiers and
period keys use the ``C`` collation on PostgreSQL so that every ordering (ties
by member id, ``member_ids()``, period keys) is by code point, as in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeEngine

from gamify.errors import ConfigurationError

__all__ = ["DEFAULT_PREFIX", "Tables", "build_tables", "check_prefix", "metadata"]

DEFAULT_PREFIX = "gamify_"

# Lower case only: PostgreSQL folds unquoted names to lower case, so a mixed-case prefix
# would name one table in the schema and another in the statements.
_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,30}\Z")


def check_prefix(prefix: str) -> str:
    """``prefix`` if it is a safe SQL identifier start (lower-case letters, digits, ``_``),
    else ConfigurationError.

    Table names are written into statement texts, so only plain identifiers are allowed.
    """
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        raise ConfigurationError(
            f"table prefix {prefix!r} must be lower-case letters, digits and underscores "
            "(not starting with a digit, at most 31 characters)"
        )
    return prefix


def _key(length: int = 255) -> TypeEngine[str]:
    """A string compared by code point on every database (``COLLATE "C"`` on PostgreSQL)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def _rowid() -> TypeEngine[int]:
    """An autoincrementing 64-bit key (SQLite only autoincrements ``INTEGER PRIMARY KEY``)."""
    return BigInteger().with_variant(Integer(), "sqlite")


_AT = DateTime(timezone=True)

# Tables whose rows are small and found by their primary key are stored in that key on
# SQLite (WITHOUT ROWID): one B-tree to write instead of a table and an index.
_CLUSTERED: dict[str, Any] = {"sqlite_with_rowid": False}


def _only(condition: str) -> dict[str, Any]:
    """A partial index: rows that will never be looked up through it are not in it, so
    writing them costs no index page (queries repeat the condition word for word)."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


#: Conditions of the partial indexes; the store's queries repeat them.
OPEN_LOT = "status IN ('open', 'pending')"
EXPIRING_LOT = "status = 'open' AND expires_at IS NOT NULL"
MATURING_LOT = "status = 'pending' AND pending_until IS NOT NULL"


@dataclass(frozen=True)
class Tables:
    """The store's tables for one prefix, and the metadata holding them."""

    prefix: str
    metadata: MetaData
    members: Table
    balances: Table
    ledger: Table
    lots: Table
    idempotency: Table
    awards: Table
    earned: Table
    outbox: Table

    def all(self) -> list[Table]:
        return [
            self.members,
            self.balances,
            self.ledger,
            self.lots,
            self.idempotency,
            self.awards,
            self.earned,
            self.outbox,
        ]


def build_tables(prefix: str = DEFAULT_PREFIX, into: MetaData | None = None) -> Tables:
    """Define the store's tables named ``<prefix>members`` ... in ``into`` (or a new MetaData)."""
    p = check_prefix(prefix)
    md = into if into is not None else MetaData()

    members = Table(
        f"{p}members",
        md,
        Column("member_id", _key(), primary_key=True),
        Column("timezone", String(64), nullable=False),
        Column("birthday", Date, nullable=True),
        Column("tags", JSON, nullable=False),
        Column("level", Integer, nullable=False, default=1),
        Column("tier", _key(), nullable=True),
        Column("review_at", _AT, nullable=True),
        Column("referral_code", _key(64), nullable=True),
        Column("referrer", _key(), nullable=True),
        Column("created_at", _AT, nullable=True),
        Column("state", JSON, nullable=False),
        Index(
            f"{p}members_referral_code_key",
            "referral_code",
            unique=True,
            **_only("referral_code IS NOT NULL"),
        ),
        # due(): tier reviews, soonest first
        Index(
            f"{p}members_review_at_idx",
            "review_at",
            "member_id",
            **_only("review_at IS NOT NULL"),
        ),
    )

    balances = Table(
        f"{p}balances",
        md,
        Column("member_id", _key(), nullable=False),
        Column("account", _key(), nullable=False),
        Column("amount", BigInteger, nullable=False),
        PrimaryKeyConstraint("member_id", "account", name=f"{p}balances_pkey"),
        **_CLUSTERED,
    )

    ledger = Table(
        f"{p}ledger",
        md,
        Column("id", _rowid(), primary_key=True, autoincrement=True),
        Column("entry_id", _key(64), nullable=False),
        Column("member_id", _key(), nullable=False),
        Column("account", _key(), nullable=False),
        Column("amount", BigInteger, nullable=False),
        Column("at", _AT, nullable=False),
        Column("kind", _key(16), nullable=False),
        Column("reason", Text, nullable=False),
        Column("key", _key(), nullable=True),
        Column("action", _key(), nullable=True),
        Column("lot_id", _key(64), nullable=True),
        UniqueConstraint("entry_id", name=f"{p}ledger_entry_id_key"),
        # history: a member's entries newest first
        Index(f"{p}ledger_member_idx", "member_id", "id"),
        # custom-window aggregates (earned_between, reports)
        Index(f"{p}ledger_account_at_idx", "account", "at"),
        # entries_for_key (reversals)
        Index(f"{p}ledger_member_key_idx", "member_id", "key", **_only("key IS NOT NULL")),
    )

    # ``id`` keeps insertion order (spends break ties by it, like the memory store);
    # ``lot_id`` is the lot's identity.
    lots = Table(
        f"{p}lots",
        md,
        Column("id", _rowid(), primary_key=True, autoincrement=True),
        Column("lot_id", _key(64), nullable=False),
        Column("member_id", _key(), nullable=False),
        Column("currency", _key(), nullable=False),
        Column("amount", BigInteger, nullable=False),
        Column("remaining", BigInteger, nullable=False),
        Column("earned_at", _AT, nullable=False),
        Column("expires_at", _AT, nullable=True),
        Column("pending_until", _AT, nullable=True),
        Column("rule", Text, nullable=False),
        Column("key", _key(), nullable=True),
        Column("status", _key(16), nullable=False),
        UniqueConstraint("lot_id", name=f"{p}lots_lot_id_key"),
        # due(): lots to expire, lots to mature
        Index(f"{p}lots_expiring_idx", "expires_at", "lot_id", **_only(EXPIRING_LOT)),
        Index(f"{p}lots_maturing_idx", "pending_until", "lot_id", **_only(MATURING_LOT)),
        # a member's spendable lots, and the lots an event key wrote
        Index(f"{p}lots_member_idx", "member_id", "currency", "id", **_only(OPEN_LOT)),
        Index(f"{p}lots_member_key_idx", "member_id", "key", **_only("key IS NOT NULL")),
    )

    idempotency = Table(
        f"{p}idempotency",
        md,
        Column("member_id", _key(), nullable=False),
        Column("kind", _key(32), nullable=False),
        Column("key", _key(), nullable=False),
        Column("fingerprint", String(128), nullable=False),
        Column("result", JSON, nullable=False),
        Column("at", _AT, nullable=False),
        PrimaryKeyConstraint("member_id", "kind", "key", name=f"{p}idempotency_pkey"),
        **_CLUSTERED,
    )

    awards = Table(
        f"{p}awards",
        md,
        Column("member_id", _key(), nullable=False),
        Column("badge", _key(), nullable=False),
        Column("tier", _key(), nullable=False),
        Column("occurrence", Integer, nullable=False),
        Column("at", _AT, nullable=False),
        PrimaryKeyConstraint("member_id", "badge", "tier", "occurrence", name=f"{p}awards_pkey"),
        **_CLUSTERED,
    )

    # Earned totals for leaderboards: all time and the current day, week and month of
    # the program's zone, each with the key of the period it holds. Each board reads
    # one index in order: score descending, then member id ascending.
    earned = Table(
        f"{p}earned",
        md,
        Column("member_id", _key(), nullable=False),
        Column("currency", _key(), nullable=False),
        Column("all_time", BigInteger, nullable=False),
        Column("day_key", _key(16), nullable=False),
        Column("day_amount", BigInteger, nullable=False),
        Column("week_key", _key(16), nullable=False),
        Column("week_amount", BigInteger, nullable=False),
        Column("month_key", _key(16), nullable=False),
        Column("month_amount", BigInteger, nullable=False),
        PrimaryKeyConstraint("member_id", "currency", name=f"{p}earned_pkey"),
        **_CLUSTERED,
    )
    c = earned.c
    Index(f"{p}earned_all_idx", c.currency, c.all_time.desc(), c.member_id)
    Index(f"{p}earned_day_idx", c.currency, c.day_key, c.day_amount.desc(), c.member_id)
    Index(f"{p}earned_week_idx", c.currency, c.week_key, c.week_amount.desc(), c.member_id)
    Index(f"{p}earned_month_idx", c.currency, c.month_key, c.month_amount.desc(), c.member_id)

    # Domain events written with the changes that caused them; a row is deleted when
    # acknowledged, so every row is undelivered and ``id`` orders them oldest first.
    outbox = Table(
        f"{p}outbox",
        md,
        Column("id", _rowid(), primary_key=True, autoincrement=True),
        Column("event_id", _key(64), nullable=False),
        Column("name", _key(64), nullable=False),
        Column("member_id", _key(), nullable=False),
        Column("at", _AT, nullable=False),
        Column("payload", JSON, nullable=False),
        UniqueConstraint("event_id", name=f"{p}outbox_event_id_key"),
    )

    return Tables(p, md, members, balances, ledger, lots, idempotency, awards, earned, outbox)


def metadata(prefix: str = DEFAULT_PREFIX, *, into: MetaData | None = None) -> MetaData:
    """The store's tables as SQLAlchemy metadata, for an app's Alembic ``target_metadata``.

    With ``into``, the tables are added to that metadata (e.g. ``SQLModel.metadata``)
    and it is returned; otherwise a new :class:`~sqlalchemy.MetaData` holds them. Adding
    them to ``into`` again (an ``env.py`` run twice in one process) changes nothing.
    """
    if into is not None:
        names = set(build_tables(prefix).metadata.tables)
        present = names & set(into.tables)
        if present == names:
            return into
        if present:
            raise ConfigurationError(
                f"the metadata holds some of the store's tables ({', '.join(sorted(present))}) "
                "but not all: give another prefix or a fresh MetaData"
            )
    return build_tables(prefix, into).metadata
