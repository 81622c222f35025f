"""Reads of the SQL store are one indexed statement each: no read scans every member or the ledger.

Shown two ways: by the database's own plan for each statement text the store
runs (``EXPLAIN QUERY PLAN`` on SQLite; ``EXPLAIN`` on PostgreSQL with sequential
scans priced out, on analysed tables), and by counting the statements a read
executes (SQLite's statement trace).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from gamify_adapters.sql import SQLStore
from sqlalchemy import event

from gamify.store import Changes, EarnedDelta, LedgerEntry, Lot, MemberRecord

if TYPE_CHECKING:
    from conftest import StoreTarget  # tests/conftest.py

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MEMBERS = 300


@pytest.fixture
def store(gamify_sql_target: StoreTarget) -> Iterator[SQLStore]:
    store = gamify_sql_target.open()
    assert isinstance(store, SQLStore)
    # A few hundred members with totals, entries, lots and reviews, so plans are realistic.
    for start in range(0, MEMBERS, 100):
        ids = [f"m{i:04d}" for i in range(start, start + 100)]
        changes = Changes()
        for n, member_id in enumerate(ids):
            changes.members.append(
                MemberRecord(
                    member_id,
                    "UTC",
                    tier=("gold", "silver", None)[n % 3],
                    review_at=T0 + timedelta(days=n),
                    referral_code=f"CODE{member_id}",
                )
            )
            changes.entries.append(
                LedgerEntry(f"e-{member_id}", member_id, "points", n + 1, T0, "earn", "r", "k")
            )
            changes.new_lots.append(
                Lot(f"l-{member_id}", member_id, "points", n + 1, n + 1, T0, T0 + timedelta(days=n))
            )
            changes.earned.append(
                EarnedDelta(member_id, "points", n + 1, "2026-03-02", "2026-03-02", "2026-03")
            )
        with store.unit_of_work(ids) as uow:
            uow.apply(changes)
    raw: Any = store.engine.raw_connection()
    try:
        raw.driver_connection.cursor().execute("ANALYZE")
        if store.dialect == "postgresql":
            raw.driver_connection.commit()
    finally:
        raw.close()
    yield store
    store.close()


def reads(store: SQLStore) -> dict[str, tuple[str, tuple[Any, ...]]]:
    """Each read statement of the store, with parameters."""
    sql, c = store.queries.sql, store.queries.codec
    at = c.instant(T0 + timedelta(days=5))
    out: dict[str, tuple[str, tuple[Any, ...]]] = {
        "load_member": (sql.load_member, ("m0001",)),
        "balances": (sql.balances, ("m0001",)),
        "member_by_code": (sql.member_by_code, ("CODEm0001",)),
        "get_idempotency": (sql.get_idempotency, ("m0001", "track", "k")),
        "open_lots": (sql.open_lots, ("m0001", "points")),
        "lots_by_key": (sql.lots_by_key, ("m0001", "k", "points")),
        "entries_for_key": (sql.entries_for_key, ("m0001", "k")),
        "history": (sql.history[True, True], ("m0001", "points", 10)),
        "expiring": (sql.expiring, (at, 10)),
        "maturing": (sql.maturing, (at, 10)),
        "reviews": (sql.reviews, (at, 10)),
        "score": (sql.score, ("m0001", "points")),
        "earned_between": (
            sql.earned_between,
            ("points", "points:pending", at, at) * 2 + ("points", "points:pending"),
        ),
    }
    for kind in ("all", "day", "week", "month"):
        key: tuple[Any, ...] = (
            () if kind == "all" else ("2026-03-02" if kind != "month" else "2026-03",)
        )
        out[f"leaderboard {kind}"] = (sql.leaderboard[kind, False], ("points", *key, 0, 10))
        out[f"leaderboard {kind} by tier"] = (
            sql.leaderboard[kind, True],
            ("gold", "points", *key, 0, 10),
        )
        out[f"count_above {kind}"] = (sql.count_above[kind, False], ("points", *key, 50))
        out[f"count_above {kind} by tier"] = (
            sql.count_above[kind, True],
            ("gold", "points", *key, 50),
        )
    return out


def plan(store: SQLStore, text: str, params: tuple[Any, ...], *, in_order: bool = False) -> str:
    """The plan of one statement. On PostgreSQL sequential scans (and, ``in_order``, sorts
    and bitmap scans) are priced out: a plan that still has one has no index to serve it."""
    raw: Any = store.engine.raw_connection()
    try:
        cur = raw.driver_connection.cursor()
        if store.dialect == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + text, params)
            return "\n".join(str(row[3]) for row in cur.fetchall())
        cur.execute("BEGIN")
        cur.execute("SET LOCAL enable_seqscan = off")
        if in_order:
            cur.execute("SET LOCAL enable_sort = off")
            cur.execute("SET LOCAL enable_bitmapscan = off")
        cur.execute("EXPLAIN " + text, params)
        lines = "\n".join(str(row[0]) for row in cur.fetchall())
        cur.execute("ROLLBACK")
        return lines
    finally:
        raw.close()


#: The index each leaderboard period reads.
BOARD_INDEX = {
    "all": "earned_all_idx",
    "day": "earned_day_idx",
    "week": "earned_week_idx",
    "month": "earned_month_idx",
}


def test_every_read_uses_an_index(store: SQLStore) -> None:
    """No read statement scans a whole table: each one searches an index or a primary key."""
    for name, (text, params) in reads(store).items():
        found = plan(store, text, params)
        if store.dialect == "sqlite":
            # Scans of a subquery's rows (``keyed``, ``counted``) read only what an index
            # search produced.
            table_scan = r"^SCAN (?!json_each|keyed$|counted$)"
            assert re.search(table_scan, found, re.M) is None, (name, found)
            assert "USING" in found, (name, found)
        else:
            assert "Seq Scan" not in found, (name, found)
            assert "Index" in found, (name, found)


def test_custom_windows_read_the_time_index_and_find_reversals_by_key(store: SQLStore) -> None:
    """A custom window reads its credits through the (account, at) index and each keyed
    event's reversals through the member's key index."""
    found = plan(store, *reads(store)["earned_between"])
    if store.dialect == "sqlite":
        assert "ledger_account_at_idx" in found, found
        assert "ledger_member_key_idx (member_id=? AND key=?)" in found, found
    else:
        assert "ledger_account_at_idx" in found, found
        assert "ledger_member_key_idx" in found, found


def test_forgetting_a_member_deletes_through_indexes(store: SQLStore) -> None:
    """Each statement that erases a member finds its rows through an index: none scans a
    table (the store's lock is held while they run)."""
    statements = store.queries.sql.forget
    assert len(statements) == 8
    for text in statements:
        found = plan(store, text, ("m0001",))
        if store.dialect == "sqlite":
            assert re.search(r"^SCAN ", found, re.M) is None, (text, found)
            assert "USING" in found, (text, found)
        else:
            assert "Seq Scan" not in found, (text, found)


def test_member_and_balances_by_primary_key(store: SQLStore) -> None:
    """get_member and get_balances look their member up by primary key."""
    member = plan(store, *reads(store)["load_member"])
    balances = plan(store, *reads(store)["balances"])
    if store.dialect == "sqlite":
        assert "(member_id=?)" in member and "autoindex_gamify_members" in member, member
        assert "USING PRIMARY KEY (member_id=?)" in balances, balances
    else:
        assert "members_pkey" in member, member
        assert "balances_pkey" in balances, balances


def test_leaderboards_read_their_index_in_order(store: SQLStore) -> None:
    """Each leaderboard and rank count reads its period's index, already in board order
    (no sort of the candidates), and a tier filter only looks members up by key."""
    boards = reads(store)
    for kind, index in BOARD_INDEX.items():
        for name in (
            f"leaderboard {kind}",
            f"leaderboard {kind} by tier",
            f"count_above {kind}",
            f"count_above {kind} by tier",
        ):
            found = plan(store, *boards[name], in_order=True)
            assert index in found, (name, found)
            if name.startswith("leaderboard"):
                assert "TEMP B-TREE" not in found and "Sort" not in found, (name, found)
            if "tier" in name:
                pk = "autoindex_gamify_members" if store.dialect == "sqlite" else "members_pkey"
                assert pk in found, (name, found)


def test_due_reads_in_index_order(store: SQLStore) -> None:
    """What falls due is read soonest first straight from partial indexes, however many
    members have a lot or a review pending."""
    for name in ("expiring", "maturing", "reviews"):
        found = plan(store, *reads(store)[name], in_order=True)
        assert "TEMP B-TREE" not in found and "Sort" not in found, (name, found)


def traced(store: SQLStore) -> list[str]:
    """The statements the store's SQLite connections execute from now on."""
    statements: list[str] = []
    store.close()  # drop the open connections: new ones are traced (the store stays usable)

    @event.listens_for(store.engine, "connect")
    def _trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    return statements


def test_each_read_is_one_statement(store: SQLStore) -> None:
    """get_member, get_balances, a leaderboard, a rank count and a score each run one statement."""
    if store.dialect != "sqlite":
        pytest.skip("statements are traced through sqlite3")
    statements = traced(store)
    for read in (
        lambda: store.get_member("m0001"),
        lambda: store.get_balances("m0001"),
        lambda: store.leaderboard("points", "week:2026-03-02", limit=10, tier="gold"),
        lambda: store.count_above("points", "all", 50),
        lambda: store.score("m0001", "points", "day:2026-03-02"),
    ):
        statements.clear()
        read()
        assert len([s for s in statements if not s.startswith("PRAGMA")]) == 1, statements


def test_batch_is_one_transaction(store: SQLStore) -> None:
    """Every unit of work opened in a batch runs in one transaction: one BEGIN, one COMMIT."""
    if store.dialect != "sqlite":
        pytest.skip("statements are traced through sqlite3")
    statements = traced(store)
    with store.batch():
        for member_id in ("a", "b", "c"):
            with store.unit_of_work([member_id]) as uow:
                uow.apply(Changes(members=[MemberRecord(member_id, "UTC")]))
    assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == [
        "BEGIN IMMEDIATE",
        "COMMIT",
    ]
    assert list(store.member_ids())[:3] == ["a", "b", "c"]
