"""The store contract, shipped as code: what every :class:`~gamify.store.Store` must do.

Subclass :class:`StoreContract` in a test module and provide a ``store`` fixture
that yields a fresh, empty store; pytest then runs every contract test on it::

    import pytest
    from gamify.testing.conformance import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self):
            store = MyStore("my://test")
            yield store
            store.close()

The tests drive the port directly (units of work, :class:`~gamify.store.Changes`,
the reads) and, at the end, through :class:`gamify.Engine`, so that engine-level
behaviour is the same on every store. They import nothing heavier than gamify
itself and pytest.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from gamify.errors import IdempotencyConflictError, InsufficientBalanceError, StoreError
from gamify.store import (
    Award,
    Changes,
    DuplicateError,
    EarnedDelta,
    EntryKind,
    IdempotencyRecord,
    LeaderboardRow,
    LedgerEntry,
    Lot,
    LotChange,
    MemberRecord,
    OutboxMessage,
    Store,
)

if TYPE_CHECKING:
    from gamify import Engine

__all__ = ["StoreContract"]

T0 = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)
"""A Monday morning, with microseconds (stores keep instants to the microsecond)."""


def at(days: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def new_id() -> str:
    return uuid.uuid4().hex


def entry(
    member_id: str,
    amount: int,
    account: str = "points",
    *,
    when: datetime = T0,
    kind: EntryKind = "earn",
    reason: str = "rule",
    key: str | None = None,
    action: str | None = "purchase",
    lot_id: str | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        new_id(), member_id, account, amount, when, kind, reason, key, action, lot_id
    )


def lot(
    member_id: str,
    amount: int,
    *,
    currency: str = "points",
    remaining: int | None = None,
    earned_at: datetime = T0,
    expires_at: datetime | None = None,
    pending_until: datetime | None = None,
    key: str | None = None,
    status: Any = "open",
    lot_id: str | None = None,
) -> Lot:
    return Lot(
        lot_id or new_id(),
        member_id,
        currency,
        amount,
        amount if remaining is None else remaining,
        earned_at,
        expires_at,
        pending_until,
        "rule",
        key,
        status,
    )


def member(member_id: str, **fields: Any) -> MemberRecord:
    return MemberRecord(member_id=member_id, timezone=fields.pop("timezone", "UTC"), **fields)


def earned(
    member_id: str, amount: int, day: str = "2026-03-02", currency: str = "points"
) -> EarnedDelta:
    """An earned delta for ``day`` (its week starts on the Monday before; month from the day)."""
    d = date.fromisoformat(day)
    week = (d - timedelta(days=d.weekday())).isoformat()
    return EarnedDelta(member_id, currency, amount, day, week, day[:7])


def message(member_id: str, name: str = "credited", **payload: Any) -> OutboxMessage:
    return OutboxMessage(new_id(), name, member_id, T0, payload)


class StoreContract:
    """Every rule of the store port, as tests; subclasses provide the ``store`` fixture."""

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        raise NotImplementedError("a StoreContract subclass provides a `store` fixture")

    # Helpers ---------------------------------------------------------------------------------

    @staticmethod
    def apply(store: Store, changes: Changes, member_ids: list[str] | None = None) -> None:
        ids = member_ids or sorted(
            {m.member_id for m in changes.members} | {e.member_id for e in changes.entries}
        )
        with store.unit_of_work(ids) as uow:
            uow.apply(changes)

    def credit(self, store: Store, member_id: str, amount: int, account: str = "points") -> None:
        self.apply(store, Changes(entries=[entry(member_id, amount, account)]), [member_id])

    @staticmethod
    def snapshot(store: Store, member_ids: list[str]) -> dict[str, Any]:
        """Everything the store shows about these members, for before/after comparisons."""
        return {
            "members": {m: store.get_member(m) for m in member_ids},
            "balances": {m: store.get_balances(m) for m in member_ids},
            "history": {m: store.history(m) for m in member_ids},
            "lots": {m: store.member_lots(m, "points") for m in member_ids},
            "scores": {m: store.score(m, "points", "all") for m in member_ids},
            "outbox": store.pending_outbox(1000),
            "ids": list(store.member_ids()),
        }

    # Members ---------------------------------------------------------------------------------

    def test_unknown_member_has_nothing(self, store: Store) -> None:
        """A member never written is absent everywhere, and reading it writes nothing."""
        assert store.get_member("ghost") is None
        assert store.get_balances("ghost") == {}
        assert store.history("ghost") == []
        assert store.member_lots("ghost", "points") == []
        with store.unit_of_work(["ghost"]) as uow:
            assert uow.load_member("ghost") is None
            assert uow.balances("ghost") == {}
            assert uow.lots("ghost", "points") == []
            assert uow.get_idempotency("ghost", "track", "k") is None
            assert uow.entries_for_key("ghost", "k") == []
            assert uow.member_by_code("NOPE") is None
        assert list(store.member_ids()) == []

    def test_member_round_trips(self, store: Store) -> None:
        """A member is read back with every field it was written with, its state as JSON data."""
        record = member(
            "alice",
            timezone="Asia/Shanghai",
            birthday=date(1990, 3, 14),
            tags=("new", "vip"),
            level=4,
            tier="gold",
            review_at=at(days=300),
            referral_code="ABCD2345",
            referrer="bob",
            created_at=T0,
            state={
                "counts": {"workout": 3},
                "streaks": [{"len": 2, "last": "2026-03-01"}],
                "flag": True,
                "none": None,
                "text": "café ☕",
                "big": 2**53 + 1,
            },
        )
        self.apply(store, Changes(members=[record]))
        assert store.get_member("alice") == record
        with store.unit_of_work(["alice"]) as uow:
            assert uow.load_member("alice") == record

    def test_member_update_replaces_fields(self, store: Store) -> None:
        """Writing a member again replaces its fields, including clearing them."""
        self.apply(
            store, Changes(members=[member("alice", tier="gold", review_at=T0, state={"a": 1})])
        )
        with store.unit_of_work(["alice"]) as uow:
            loaded = uow.load_member("alice")
            assert loaded is not None
            loaded.tier = None
            loaded.review_at = None
            loaded.level = 2
            loaded.state["b"] = 2
            uow.apply(Changes(members=[loaded]))
        assert store.get_member("alice") == member("alice", level=2, state={"a": 1, "b": 2})

    def test_loaded_member_is_a_copy(self, store: Store) -> None:
        """Changing a loaded member changes nothing stored until it is applied."""
        self.apply(store, Changes(members=[member("alice", state={"a": 1})]))
        with store.unit_of_work(["alice"]) as uow:
            loaded = uow.load_member("alice")
            assert loaded is not None
            loaded.level = 9
            loaded.state["a"] = 2
        assert store.get_member("alice") == member("alice", state={"a": 1})

    def test_nested_state_is_never_shared(self, store: Store) -> None:
        """The store keeps no object of the caller's state, nor hands out one of its own:
        changing a nested section (counts, a streak's list) of the record written, or of
        a record read, changes nothing stored."""

        def state() -> dict[str, Any]:
            return {
                "counts": {"workout": 3, "read": 1},
                "sums": {"purchase": "12.50"},
                "streaks": {"daily": {"len": 2, "paid": [3], "broken": {"len": 1}}},
                "caps": {"day": ["2026-03-01", 5, ""]},
                "level_paid": 2,
            }

        record = member("alice", state=state())
        self.apply(store, Changes(members=[record]))
        record.state["counts"]["workout"] = 99
        record.state["streaks"]["daily"]["paid"].append(7)
        record.state["caps"]["day"][1] = 0
        assert store.get_member("alice") == member("alice", state=state())
        with store.unit_of_work(["alice"]) as uow:
            loaded = uow.load_member("alice")
            assert loaded is not None
            loaded.state["sums"]["purchase"] = "0"
            loaded.state["streaks"]["daily"]["broken"]["len"] = 9
        got = store.get_member("alice")
        assert got is not None
        got.state["counts"]["read"] = 5
        assert store.get_member("alice") == member("alice", state=state())

    def test_state_that_is_not_json_ready_is_refused(self, store: Store) -> None:
        """A member whose state holds a value JSON cannot carry (a Decimal, a datetime) is
        refused with a StoreError, and the unit of work writes nothing."""
        for bad in (Decimal("1.5"), T0):
            before = self.snapshot(store, ["alice", "bob"])
            with pytest.raises(StoreError):
                self.apply(
                    store,
                    Changes(
                        members=[member("alice"), member("bob", state={"x": bad})],
                        entries=[entry("alice", 5)],
                    ),
                )
            assert self.snapshot(store, ["alice", "bob"]) == before

    def test_member_by_referral_code(self, store: Store) -> None:
        """A referral code finds the member holding it."""
        self.apply(
            store, Changes(members=[member("alice", referral_code="ALICE234"), member("bob")])
        )
        with store.unit_of_work(["carol"]) as uow:
            assert uow.member_by_code("ALICE234") == "alice"
            assert uow.member_by_code("BOB23456") is None

    def test_referral_code_is_unique(self, store: Store) -> None:
        """A second member cannot take a code already held; the refused write leaves nothing."""
        self.apply(store, Changes(members=[member("alice", referral_code="SAME2345")]))
        before = self.snapshot(store, ["alice", "bob"])
        with pytest.raises(DuplicateError):
            self.apply(
                store,
                Changes(
                    members=[member("bob", referral_code="SAME2345")],
                    entries=[entry("bob", 10)],
                    outbox=[message("bob")],
                ),
            )
        assert self.snapshot(store, ["alice", "bob"]) == before
        # Writing the holder again with its own code is no conflict.
        self.apply(store, Changes(members=[member("alice", referral_code="SAME2345", level=2)]))
        assert store.get_member("alice") == member("alice", referral_code="SAME2345", level=2)

    def test_refused_referral_code_leaves_the_unit_usable(self, store: Store) -> None:
        """A code refused as taken writes nothing, and the unit of work can go on and commit."""
        self.apply(store, Changes(members=[member("alice", referral_code="TAKEN234")]))
        with store.unit_of_work(["bob"]) as uow:
            with pytest.raises(DuplicateError):
                uow.apply(
                    Changes(
                        members=[member("bob", referral_code="TAKEN234")], entries=[entry("bob", 1)]
                    )
                )
            uow.apply(Changes(members=[member("bob", referral_code="FREE2345")]))
        assert store.get_member("bob") == member("bob", referral_code="FREE2345")
        assert store.get_balances("bob") == {}

    def test_member_ids_ascending(self, store: Store) -> None:
        """Member ids come back in ascending code-point order."""
        ids = ["bob", "Alice", "alice", "_x", "Z9", "é", "a-b", "a_b", "10", "9"]
        self.apply(store, Changes(members=[member(i) for i in ids]))
        assert list(store.member_ids()) == sorted(ids)

    def test_reading_a_member_gives_a_copy(self, store: Store) -> None:
        """get_member and member_snapshot, like load_member, return records the caller may
        change without changing the store."""
        self.apply(store, Changes(members=[member("alice", state={"a": 1})]))
        got = store.get_member("alice")
        assert got is not None
        got.state["a"] = 2
        got.level = 9
        assert store.get_member("alice") == member("alice", state={"a": 1})
        snapshot, _ = store.member_snapshot("alice")
        assert snapshot == member("alice", state={"a": 1})

    def test_one_referral_code_for_two_members_in_one_write_is_refused(self, store: Store) -> None:
        with pytest.raises(DuplicateError):
            self.apply(
                store,
                Changes(
                    members=[
                        member("amy", referral_code="SAME2345"),
                        member("bob", referral_code="SAME2345"),
                    ]
                ),
            )
        assert store.get_member("amy") is None and store.get_member("bob") is None

    def test_a_replaced_referral_code_no_longer_finds_the_member(self, store: Store) -> None:
        self.apply(store, Changes(members=[member("amy", referral_code="OLD23456")]))
        self.apply(store, Changes(members=[member("amy", referral_code="NEW23456")]))
        with store.unit_of_work(["x"]) as uow:
            assert uow.member_by_code("OLD23456") is None
            assert uow.member_by_code("NEW23456") == "amy"
        self.apply(store, Changes(members=[member("bob", referral_code="OLD23456")]))

    # Forgetting a member ---------------------------------------------------------------------

    def _history_of(self, store: Store, member_id: str, code: str) -> None:
        """A member with a record, balances, entries, lots of every status, a key, an award,
        earned totals and a review."""
        open_lot = lot(member_id, 30, expires_at=at(days=10))
        spent = lot(member_id, 20, remaining=0, status="closed")
        pending = lot(member_id, 5, pending_until=at(days=3), status="pending")
        self.apply(
            store,
            Changes(
                members=[member(member_id, referral_code=code, review_at=at(days=5))],
                entries=[
                    entry(member_id, 30, when=at(1), key="k", lot_id=open_lot.lot_id),
                    entry(member_id, 20, when=at(1), lot_id=spent.lot_id),
                    entry(member_id, -20, when=at(2), kind="spend", lot_id=spent.lot_id),
                    entry(member_id, 5, "points:pending", when=at(1), lot_id=pending.lot_id),
                    entry(member_id, 9, "xp", when=at(1)),
                ],
                new_lots=[open_lot, spent, pending],
                idempotency=[IdempotencyRecord(member_id, "track", "k", "fp", "{}", T0)],
                awards=[Award(member_id, "first", "", 1, T0)],
                earned=[earned(member_id, 55), earned(member_id, 9, currency="xp")],
            ),
        )

    def test_a_forgotten_member_leaves_nothing_and_others_keep_everything(
        self, store: Store
    ) -> None:
        """Forgetting erases the member's every row; another member's rows stay as they were."""
        self._history_of(store, "alice", "ALICE234")
        self._history_of(store, "bob", "BOB23456")
        bob_before = self.snapshot(store, ["bob"])
        alice_lots = sorted({e.lot_id for e in store.history("alice") if e.lot_id})
        assert len(alice_lots) == 3  # open, spent (closed) and pending
        self.apply(store, Changes(forgotten=["alice"]), ["alice"])

        assert self.snapshot(store, ["bob"]) == {**bob_before, "ids": ["bob"]}
        assert store.get_member("alice") is None
        assert store.get_balances("alice") == {}
        assert store.history("alice") == []
        assert store.member_lots("alice", "points") == []
        assert list(store.member_ids()) == ["bob"]
        with store.unit_of_work(["alice"]) as uow:
            assert uow.load_member("alice") is None
            assert uow.get_idempotency("alice", "track", "k") is None
            assert uow.get_lots(alice_lots) == []
            assert uow.member_by_code("ALICE234") is None
            assert uow.entries_for_key("alice", "k") == []
        for period in ("all", "day:2026-03-02", "week:2026-03-02", "month:2026-03"):
            assert [r.member_id for r in store.leaderboard("points", period, limit=10)] == ["bob"]
            assert store.score("alice", "points", period) == 0
        assert store.earned_between("points", at(0), at(5)) == {"bob": 55}
        assert {t[:2] for t in store.ledger_totals()} >= {("points", "earn")}
        due = store.due(at(days=400))
        assert {lt.member_id for lt in [*due.expiring_lots, *due.maturing_lots]} == {"bob"}
        assert due.reviews == ["bob"]
        # Everything unique is free again: the same key, award and referral code.
        self._history_of(store, "alice", "ALICE234")
        assert store.get_balances("alice") == store.get_balances("bob")

    def test_forgetting_is_part_of_its_unit_of_work(self, store: Store) -> None:
        """A unit that forgets a member and then fails erases nothing; one that forgets and
        writes again leaves only the new writes."""
        self._history_of(store, "alice", "ALICE234")
        before = self.snapshot(store, ["alice"])
        with pytest.raises(RuntimeError), store.unit_of_work(["alice"]) as uow:
            uow.apply(Changes(forgotten=["alice"]))
            raise RuntimeError("the app's own failure")
        assert self.snapshot(store, ["alice"]) == before
        self.apply(
            store,
            Changes(forgotten=["alice"], members=[member("alice")], entries=[entry("alice", 4)]),
        )
        assert store.get_balances("alice") == {"points": 4}
        assert [e.amount for e in store.history("alice")] == [4]
        assert store.get_member("alice") == member("alice")

    def test_forgetting_a_member_never_written_changes_nothing(self, store: Store) -> None:
        self._history_of(store, "bob", "BOB23456")
        before = self.snapshot(store, ["bob", "ghost"])
        self.apply(store, Changes(forgotten=["ghost"]), ["ghost"])
        assert self.snapshot(store, ["bob", "ghost"]) == before

    # Balances and the ledger -----------------------------------------------------------------

    def test_balances_follow_entries(self, store: Store) -> None:
        """Each account's balance is the net of its entries in one write."""
        self.apply(
            store,
            Changes(
                entries=[
                    entry("alice", 30),
                    entry("alice", 12),
                    entry("alice", 7, "xp"),
                    entry("alice", 5, "points:pending"),
                ]
            ),
        )
        assert store.get_balances("alice") == {"points": 42, "xp": 7, "points:pending": 5}
        with store.unit_of_work(["alice"]) as uow:
            assert uow.balances("alice") == {"points": 42, "xp": 7, "points:pending": 5}

    def test_member_snapshot_reads_the_member_and_its_balances(self, store: Store) -> None:
        """``member_snapshot`` gives what ``get_member`` and ``get_balances`` give, together;
        an unknown member is (None, {}), and a member without entries has no balances."""
        self.apply(
            store,
            Changes(
                members=[member("alice", level=3), member("bob")],
                entries=[entry("alice", 30), entry("alice", 7, "xp")],
            ),
        )
        assert store.member_snapshot("alice") == (
            store.get_member("alice"),
            {"points": 30, "xp": 7},
        )
        assert store.member_snapshot("bob") == (store.get_member("bob"), {})
        assert store.member_snapshot("nobody") == (None, {})

    def test_balance_equals_sum_of_entries(self, store: Store) -> None:
        """After credits and debits, every balance equals the sum of its ledger entries."""
        for amount in (50, -20, 35, -65, 10, 0):
            self.credit(store, "alice", amount)
        self.credit(store, "alice", 3, "xp")
        history = store.history("alice")
        sums: dict[str, int] = {}
        for e in history:
            sums[e.account] = sums.get(e.account, 0) + e.amount
        assert store.get_balances("alice") == sums == {"points": 10, "xp": 3}

    def test_debit_to_exactly_zero_is_allowed(self, store: Store) -> None:
        """A debit of the whole balance leaves zero."""
        self.credit(store, "alice", 25)
        self.credit(store, "alice", -25)
        assert store.get_balances("alice") == {"points": 0}

    def test_debit_beyond_balance_is_refused(self, store: Store) -> None:
        """A debit larger than the balance raises InsufficientBalanceError saying what was asked
        and what there is."""
        self.credit(store, "alice", 40)
        with pytest.raises(InsufficientBalanceError) as info:
            self.credit(store, "alice", -41)
        assert (info.value.member_id, info.value.currency) == ("alice", "points")
        assert (info.value.requested, info.value.available) == (41, 40)
        assert store.get_balances("alice") == {"points": 40}

    def test_debit_of_a_missing_account_is_refused(self, store: Store) -> None:
        """An account never credited cannot be debited."""
        with pytest.raises(InsufficientBalanceError):
            self.credit(store, "alice", -1)
        assert store.get_balances("alice") == {}
        assert store.history("alice") == []

    def test_refused_debit_in_the_middle_writes_nothing(self, store: Store) -> None:
        """When one account of a write would go negative, none of the write stays: not the
        other accounts, entries, lots, members, keys, awards, totals or events."""
        self.credit(store, "alice", 10)
        self.credit(store, "bob", 10)
        before = self.snapshot(store, ["alice", "bob"])
        changes = Changes(
            members=[member("alice", level=3), member("bob", level=3)],
            entries=[
                entry("alice", 50),
                entry("alice", 5, "xp"),
                entry("bob", -11),  # bob has 10
                entry("alice", -3, "points:pending"),  # never credited
            ],
            new_lots=[lot("alice", 50)],
            earned=[earned("alice", 50)],
            idempotency=[IdempotencyRecord("alice", "track", "k1", "fp", '{"ok":true}', T0)],
            awards=[Award("alice", "first", "", 1, T0)],
            outbox=[message("alice")],
        )
        with pytest.raises(InsufficientBalanceError):
            self.apply(store, changes, ["alice", "bob"])
        assert self.snapshot(store, ["alice", "bob"]) == before
        with store.unit_of_work(["alice"]) as uow:
            assert uow.get_idempotency("alice", "track", "k1") is None
        # The award was not kept either: writing it now succeeds.
        self.apply(store, Changes(awards=[Award("alice", "first", "", 1, T0)]), ["alice"])

    def test_refused_write_leaves_the_unit_usable(self, store: Store) -> None:
        """A refused apply writes nothing, and the unit of work can go on and commit others."""
        self.credit(store, "alice", 10)
        with store.unit_of_work(["alice"]) as uow:
            with pytest.raises(InsufficientBalanceError):
                uow.apply(
                    Changes(
                        entries=[entry("alice", 5, "xp"), entry("alice", -20)],
                        idempotency=[IdempotencyRecord("alice", "redeem", "r", "", "{}", T0)],
                    )
                )
            uow.apply(Changes(entries=[entry("alice", -4)]))
        assert store.get_balances("alice") == {"points": 6}
        assert [e.amount for e in store.history("alice")] == [-4, 10]

    def test_concurrent_debits_never_overdraw(self, store: Store) -> None:
        """Sixteen threads debiting one balance: exactly what the balance holds is spent, it
        never goes negative, and every refusal is InsufficientBalanceError."""
        self.credit(store, "alice", 100)
        outcomes: list[str] = []
        lock = threading.Lock()

        def spend() -> None:
            for _ in range(3):
                try:
                    with store.unit_of_work(["alice"]) as uow:
                        uow.balances("alice")
                        uow.apply(Changes(entries=[entry("alice", -10, kind="spend")]))
                    result = "ok"
                except InsufficientBalanceError:
                    result = "refused"
                with lock:
                    outcomes.append(result)

        self._in_threads(16, spend)
        assert outcomes.count("ok") == 10
        assert outcomes.count("refused") == 38
        assert store.get_balances("alice") == {"points": 0}
        assert sum(e.amount for e in store.history("alice")) == 0

    def test_concurrent_credits_all_count(self, store: Store) -> None:
        """Sixteen threads crediting one member: every credit counts, in balance and totals."""

        def earn() -> None:
            for _ in range(10):
                with store.unit_of_work(["alice"]) as uow:
                    uow.apply(
                        Changes(
                            entries=[entry("alice", 1, "xp")],
                            earned=[earned("alice", 1, currency="xp")],
                        )
                    )

        self._in_threads(16, earn)
        assert store.get_balances("alice") == {"xp": 160}
        assert store.score("alice", "xp", "all") == 160
        assert len(store.history("alice")) == 160

    @staticmethod
    def _in_threads(count: int, work: Callable[[], None]) -> None:
        with ThreadPoolExecutor(count) as pool:
            for future in [pool.submit(work) for _ in range(count)]:
                future.result(timeout=300)

    @pytest.mark.parametrize("account", ["points:pending", "points:debt"])
    def test_side_accounts_never_go_negative(self, store: Store, account: str) -> None:
        """Pending and debt accounts are balances too: a debit beyond them is refused."""
        self.credit(store, "alice", 3, account)
        with pytest.raises(InsufficientBalanceError):
            self.credit(store, "alice", -4, account)
        assert store.get_balances("alice") == {account: 3}

    def test_balances_read_are_a_copy(self, store: Store) -> None:
        self.credit(store, "alice", 5)
        store.get_balances("alice")["points"] = 999
        assert store.get_balances("alice") == {"points": 5}
        with store.unit_of_work(["alice"]) as uow:
            uow.balances("alice")["points"] = 999
            assert uow.balances("alice") == {"points": 5}

    # History ---------------------------------------------------------------------------------

    def test_history_newest_first(self, store: Store) -> None:
        """History lists a member's entries newest first, with every field kept."""
        first = entry("alice", 10, when=at(0), key="k1", lot_id="lot-1")
        second = entry("alice", 4, "xp", when=at(1), kind="reward", reason="level 2", action=None)
        third = entry("alice", -3, when=at(2), kind="spend", reason="coffee")
        for e in (first, second, third):
            self.apply(store, Changes(entries=[e]))
        self.apply(store, Changes(entries=[entry("bob", 99)]))
        assert store.history("alice") == [third, second, first]

    def test_history_limit_and_account(self, store: Store) -> None:
        """History takes a limit and an account filter, alone or together."""
        written = [entry("alice", i + 1, "xp" if i % 2 else "points") for i in range(6)]
        self.apply(store, Changes(entries=written))
        newest = list(reversed(written))
        assert store.history("alice", limit=2) == newest[:2]
        assert store.history("alice", account="xp") == [e for e in newest if e.account == "xp"]
        assert (
            store.history("alice", account="points", limit=2)
            == [e for e in newest if e.account == "points"][:2]
        )
        assert store.history("alice", limit=0) == []

    def test_a_limit_of_zero_or_less_reads_nothing(self, store: Store) -> None:
        """Every ``limit`` of the port counts rows to return: none for 0 or a negative count
        (a list slice would count a negative one from the end)."""
        self.apply(
            store,
            Changes(
                members=[member("alice", review_at=at(1)), member("bob", review_at=at(1))],
                entries=[entry("alice", 5), entry("bob", 6)],
                new_lots=[lot("alice", 5, expires_at=at(1)), lot("bob", 6, expires_at=at(1))],
                earned=[earned("alice", 5), earned("bob", 6)],
                outbox=[message("alice"), message("bob")],
            ),
            ["alice", "bob"],
        )
        for limit in (0, -1):
            assert store.history("alice", limit=limit) == []
            due = store.due(at(2), limit=limit)
            assert (due.expiring_lots, due.maturing_lots, due.reviews) == ([], [], [])
            assert store.leaderboard("points", "all", limit=limit) == []
            assert store.pending_outbox(limit) == []
        assert len(store.due(at(2), limit=1).expiring_lots) == 1
        assert len(store.leaderboard("points", "all", limit=1)) == 1
        assert len(store.pending_outbox(1)) == 1

    def test_instants_in_any_zone_are_kept_and_compared_as_instants(self, store: Store) -> None:
        """The port takes aware datetimes in any zone, pendulum's too, and keeps and compares
        them as instants, also an hour or two before a DST change (pendulum subtracts a
        timedelta as elapsed time, so shifting the clock time by the offset is an hour off
        there)."""
        import pendulum

        # 04:30:00.123456 UTC, 90 minutes before New York's clocks go back; and 06:30 UTC.
        earned_at = pendulum.datetime(2026, 11, 1, 0, 30, 0, 123456, tz="America/New_York")
        due_at = pendulum.datetime(2026, 11, 1, 1, 30, 0, 654321, tz="America/New_York", fold=1)
        tick = timedelta(microseconds=1)

        def utc(value: datetime | None) -> datetime | None:
            # A time in a DST fold never equals one of another zone (PEP 495): compare in UTC.
            return None if value is None else value.astimezone(UTC)

        kept = lot("alice", 10, earned_at=earned_at, expires_at=due_at)
        self.apply(
            store,
            Changes(
                members=[member("alice", review_at=due_at)],
                entries=[entry("alice", 10, when=earned_at, lot_id=kept.lot_id)],
                new_lots=[kept],
            ),
        )
        [written] = store.history("alice")
        assert utc(written.at) == utc(earned_at)
        [read] = store.member_lots("alice", "points")
        assert (utc(read.earned_at), utc(read.expires_at)) == (utc(earned_at), utc(due_at))
        record = store.get_member("alice")
        assert record is not None and utc(record.review_at) == utc(due_at)
        hour = timedelta(hours=1)
        assert store.earned_between("points", earned_at, earned_at + hour) == {"alice": 10}
        assert store.earned_between("points", earned_at + tick, earned_at + hour) == {}
        assert store.earned_between("points", earned_at - hour, earned_at) == {}
        assert store.ledger_totals(earned_at, None) == [("points", "earn", "purchase", 10)]
        assert store.ledger_totals(None, earned_at) == []
        work = store.due(due_at)
        assert ([x.lot_id for x in work.expiring_lots], work.reviews) == ([kept.lot_id], ["alice"])
        early = store.due(due_at - tick)
        assert (early.expiring_lots, early.reviews) == ([], [])

    def test_entries_for_key(self, store: Store) -> None:
        """The entries an event key wrote come back oldest first, for that member only."""
        a1 = entry("alice", 10, key="k")
        a2 = entry("alice", 2, "xp", key="k")
        self.apply(store, Changes(entries=[a1, a2, entry("alice", 1, key="other")]))
        self.apply(store, Changes(entries=[entry("bob", 5, key="k")]))
        with store.unit_of_work(["alice"]) as uow:
            assert uow.entries_for_key("alice", "k") == [a1, a2]

    # Idempotency and awards ------------------------------------------------------------------

    def test_idempotency_record_round_trips(self, store: Store) -> None:
        """An idempotency record is read back with its fingerprint, result and instant."""
        record = IdempotencyRecord(
            "alice", "track", "evt-1", "f" * 64, '{"credits":[{"amount":5}],"note":null}', T0
        )
        self.apply(store, Changes(idempotency=[record]), ["alice"])
        with store.unit_of_work(["alice"]) as uow:
            assert uow.get_idempotency("alice", "track", "evt-1") == record
            assert uow.get_idempotency("alice", "redeem", "evt-1") is None
            assert uow.get_idempotency("bob", "track", "evt-1") is None

    def test_duplicate_idempotency_key_is_refused(self, store: Store) -> None:
        """A key already recorded for the member and kind raises DuplicateError and the
        write that carried it leaves nothing."""
        first = IdempotencyRecord("alice", "track", "evt-1", "fp", '{"n":1}', T0)
        self.apply(store, Changes(idempotency=[first]), ["alice"])
        before = self.snapshot(store, ["alice"])
        with pytest.raises(DuplicateError):
            self.apply(
                store,
                Changes(
                    members=[member("alice")],
                    entries=[entry("alice", 10)],
                    idempotency=[
                        IdempotencyRecord("alice", "track", "evt-1", "fp2", '{"n":2}', T0)
                    ],
                    outbox=[message("alice")],
                ),
            )
        assert self.snapshot(store, ["alice"]) == before
        with store.unit_of_work(["alice"]) as uow:
            assert uow.get_idempotency("alice", "track", "evt-1") == first
        # The same key of another kind or member is another record.
        self.apply(
            store,
            Changes(
                idempotency=[
                    IdempotencyRecord("alice", "redeem", "evt-1", "", "{}", T0),
                    IdempotencyRecord("bob", "track", "evt-1", "", "{}", T0),
                ]
            ),
            ["alice", "bob"],
        )

    def test_duplicate_key_within_one_write_is_refused(self, store: Store) -> None:
        """Two records with one key in the same write are refused together."""
        twice = IdempotencyRecord("alice", "track", "k", "fp", "{}", T0)
        with pytest.raises(DuplicateError):
            self.apply(store, Changes(entries=[entry("alice", 1)], idempotency=[twice, twice]))
        assert store.get_balances("alice") == {}

    def test_duplicate_award_is_refused(self, store: Store) -> None:
        """An award is unique per member, badge, tier and occurrence."""
        self.apply(store, Changes(awards=[Award("alice", "runner", "gold", 1, T0)]), ["alice"])
        with pytest.raises(DuplicateError):
            self.apply(
                store,
                Changes(
                    entries=[entry("alice", 100)], awards=[Award("alice", "runner", "gold", 1, T0)]
                ),
            )
        assert store.get_balances("alice") == {}
        self.apply(
            store,
            Changes(
                awards=[
                    Award("alice", "runner", "gold", 2, T0),
                    Award("alice", "runner", "silver", 1, T0),
                    Award("alice", "walker", "gold", 1, T0),
                    Award("bob", "runner", "gold", 1, T0),
                ]
            ),
            ["alice", "bob"],
        )
        with pytest.raises(DuplicateError):
            same = Award("carol", "runner", "", 1, T0)
            self.apply(store, Changes(awards=[same, same]), ["carol"])

    def test_award_tiers_lists_the_tiers_of_one_badge(self, store: Store) -> None:
        """``award_tiers`` names the tiers awarded of one member's badge (one-off and
        repeatable awards have no tier); a store may answer None (it cannot say)."""
        self.apply(
            store,
            Changes(
                awards=[
                    Award("alice", "runner", "gold", 1, T0),
                    Award("alice", "runner", "bronze", 1, T0),
                    Award("alice", "runner", "", 1, T0),
                    Award("alice", "walker", "silver", 1, T0),
                    Award("bob", "runner", "silver", 1, T0),
                ]
            ),
            ["alice", "bob"],
        )
        with store.unit_of_work(["alice"]) as uow:
            found = uow.award_tiers("alice", "runner")
            if found is not None:
                assert sorted(found) == ["bronze", "gold"]
                assert uow.award_tiers("alice", "swimmer") == []

    # Atomicity -------------------------------------------------------------------------------

    def test_exception_after_apply_leaves_nothing(self, store: Store) -> None:
        """An exception raised inside a unit of work after its write undoes all of it."""
        self.credit(store, "alice", 10)
        before = self.snapshot(store, ["alice", "bob"])
        with (
            pytest.raises(RuntimeError, match="crash"),
            store.unit_of_work(["alice", "bob"]) as uow,
        ):
            uow.apply(
                Changes(
                    members=[member("alice", level=5), member("bob")],
                    entries=[entry("alice", -10), entry("bob", 7)],
                    new_lots=[lot("bob", 7)],
                    earned=[earned("bob", 7)],
                    idempotency=[IdempotencyRecord("bob", "track", "k", "", "{}", T0)],
                    awards=[Award("bob", "b", "", 1, T0)],
                    outbox=[message("bob")],
                )
            )
            raise RuntimeError("crash")
        assert self.snapshot(store, ["alice", "bob"]) == before
        self.apply(
            store,
            Changes(
                idempotency=[IdempotencyRecord("bob", "track", "k", "", "{}", T0)],
                awards=[Award("bob", "b", "", 1, T0)],
            ),
            ["bob"],
        )

    def test_unit_reads_its_own_writes(self, store: Store) -> None:
        """Inside a unit of work, reads after a write see it."""
        with store.unit_of_work(["alice"]) as uow:
            uow.apply(Changes(members=[member("alice")], entries=[entry("alice", 8)]))
            assert uow.balances("alice") == {"points": 8}
            assert uow.load_member("alice") == member("alice")

    def test_batch_commits_every_unit_together(self, store: Store) -> None:
        """Units of work opened in a batch all commit at its end."""
        with store.batch():
            self.credit(store, "alice", 5)
            self.credit(store, "bob", 6)
            with store.unit_of_work(["alice"]) as uow:
                assert uow.balances("alice") == {"points": 5}
        assert store.get_balances("alice") == {"points": 5}
        assert store.get_balances("bob") == {"points": 6}

    def test_batch_failure_leaves_nothing(self, store: Store) -> None:
        """An exception in a batch undoes the units of work that ran before it in the batch."""
        self.credit(store, "alice", 1)
        before = self.snapshot(store, ["alice", "bob"])
        with pytest.raises(InsufficientBalanceError), store.batch():
            self.credit(store, "alice", 5)
            self.apply(store, Changes(members=[member("bob")], outbox=[message("bob")]))
            self.credit(store, "bob", -1)
        assert self.snapshot(store, ["alice", "bob"]) == before

    def test_batch_failure_undoes_rows_written_twice(self, store: Store) -> None:
        """Rows that several units of one batch rewrite (a member, its balance, its
        earned totals) come back as they were before the batch, not as the first unit
        left them."""
        first = {"counts": {"w": 1}}
        self.apply(
            store, Changes(members=[member("alice", state=first)], earned=[earned("alice", 2)])
        )
        self.credit(store, "alice", 2)
        before = self.snapshot(store, ["alice"])
        with pytest.raises(RuntimeError), store.batch():
            for n in (2, 3):
                self.apply(
                    store,
                    Changes(
                        members=[member("alice", level=n, state={"counts": {"w": n}})],
                        earned=[earned("alice", n)],
                    ),
                )
                self.credit(store, "alice", n)
            raise RuntimeError("after the writes")
        assert self.snapshot(store, ["alice"]) == before

    def test_rollback_drops_a_new_referral_code(self, store: Store) -> None:
        with pytest.raises(RuntimeError), store.unit_of_work(["bob"]) as uow:
            uow.apply(Changes(members=[member("bob", referral_code="BOB23456")]))
            raise RuntimeError("after the write")
        with store.unit_of_work(["x"]) as uow:
            assert uow.member_by_code("BOB23456") is None
        self.apply(store, Changes(members=[member("carol", referral_code="BOB23456")]))

    def test_rollback_restores_a_changed_state(self, store: Store) -> None:
        """A unit that rewrites a member's state, sections added, changed and dropped, and
        then fails leaves the state as it was; the next write starts from it."""
        first = {"counts": {"w": 1}, "streaks": {"s": {"len": 1, "paid": []}}, "curve": "a"}
        self.apply(store, Changes(members=[member("alice", state=first)]))
        with pytest.raises(RuntimeError), store.unit_of_work(["alice"]) as uow:
            changed = {"counts": {"w": 2}, "sums": {"buy": "5"}, "curve": "b"}
            uow.apply(Changes(members=[member("alice", level=2, state=changed)]))
            assert uow.load_member("alice") == member("alice", level=2, state=changed)
            raise RuntimeError("after the write")
        assert store.get_member("alice") == member("alice", state=first)
        self.apply(store, Changes(members=[member("alice", state={**first, "curve": "c"})]))
        assert store.get_member("alice") == member("alice", state={**first, "curve": "c"})

    def test_rollback_restores_changed_lots(self, store: Store) -> None:
        kept = lot("alice", 10, expires_at=at(5))
        self.apply(store, Changes(new_lots=[kept]), ["alice"])
        with pytest.raises(RuntimeError), store.unit_of_work(["alice"]) as uow:
            uow.apply(Changes(lot_changes=[LotChange(kept.lot_id, 0, "closed", at(9))]))
            raise RuntimeError("after the write")
        assert store.member_lots("alice", "points") == [kept]
        with store.unit_of_work(["alice"]) as uow:
            assert uow.get_lots([kept.lot_id]) == [kept]
        assert store.due(at(6)).expiring_lots == [kept]

    def test_rollback_restores_every_period_total(self, store: Store) -> None:
        with pytest.raises(RuntimeError), store.unit_of_work(["bob"]) as uow:
            uow.apply(Changes(earned=[earned("bob", 7)]))
            raise RuntimeError("after the write")
        for period in ("all", "day:2026-03-02", "week:2026-03-02", "month:2026-03"):
            assert store.score("bob", "points", period) == 0, period
            assert store.leaderboard("points", period, limit=5) == [], period

    @pytest.mark.parametrize("amount", [10, -4], ids=["credit", "debit"])
    @pytest.mark.parametrize("duplicate", ["award", "key"])
    def test_a_refused_duplicate_writes_nothing_of_its_write(
        self, store: Store, duplicate: str, amount: int
    ) -> None:
        """A refused duplicate writes nothing of its write, a debit beside it included:
        refused by ``apply`` (the unit may then catch the error and commit), or at the
        unit's commit, which then fails whole."""
        award = Award("alice", "b", "", 1, T0)
        record = IdempotencyRecord("alice", "track", "k", "", "{}", T0)
        self.apply(
            store, Changes(awards=[award], idempotency=[record], entries=[entry("alice", 10)])
        )
        before = self.snapshot(store, ["alice"])
        again = Changes(entries=[entry("alice", amount)], outbox=[message("alice")])
        if duplicate == "award":
            again.awards.append(award)
        else:
            again.idempotency.append(record)
        refused = 0
        try:
            with store.unit_of_work(["alice"]) as uow:
                try:
                    uow.apply(again)
                except DuplicateError:
                    refused += 1
        except DuplicateError:
            refused += 1
        assert refused == 1
        assert self.snapshot(store, ["alice"]) == before

    def test_the_last_record_of_a_member_in_one_write_wins(self, store: Store) -> None:
        """One write may hold a member twice (a unit that wrote it, then changed it again):
        what is stored is the last, also after the unit read the member."""
        self.apply(store, Changes(members=[member("alice", level=1)]))
        with store.unit_of_work(["alice"]) as uow:
            assert uow.load_member("alice") is not None
            uow.apply(Changes(members=[member("alice", level=2), member("alice", level=1)]))
        stored = store.get_member("alice")
        assert stored is not None and stored.level == 1

    # Lots ------------------------------------------------------------------------------------

    def test_open_and_pending_lots_in_insertion_order(self, store: Store) -> None:
        """A member's lots of a currency that are open or pending come back in the order written."""
        a = lot("alice", 10, expires_at=at(30))
        b = lot("alice", 20, pending_until=at(14), status="pending")
        c = lot("alice", 5, status="closed", remaining=0)
        d = lot("alice", 7, currency="gems")
        e = lot("alice", 1, earned_at=at(-1))
        self.apply(store, Changes(new_lots=[a, b, c, d]), ["alice"])
        self.apply(store, Changes(new_lots=[e, lot("bob", 3)]), ["alice", "bob"])
        assert store.member_lots("alice", "points") == [a, b, e]
        with store.unit_of_work(["alice"]) as uow:
            assert uow.lots("alice", "points") == [a, b, e]
            assert uow.lots("alice", "gems") == [d]

    def test_lots_by_key_include_every_status(self, store: Store) -> None:
        """The lots an event key wrote come back whatever their status."""
        a = lot("alice", 10, key="evt")
        b = lot("alice", 4, key="evt", status="cancelled", remaining=0)
        self.apply(store, Changes(new_lots=[a, lot("alice", 1, key="other"), b]), ["alice"])
        with store.unit_of_work(["alice"]) as uow:
            assert uow.lots("alice", "points", key="evt") == [a, b]
            assert uow.lots("alice", "gems", key="evt") == []

    def test_get_lots_by_id(self, store: Store) -> None:
        """Lots are found by id whatever their status, in the order asked; unknown ids are
        skipped."""
        a = lot("alice", 10)
        b = lot("alice", 3, status="closed", remaining=0)
        self.apply(store, Changes(new_lots=[a, b]), ["alice"])
        with store.unit_of_work(["alice"]) as uow:
            assert uow.get_lots([b.lot_id, "nope", a.lot_id]) == [b, a]
            assert uow.get_lots([]) == []

    def test_lot_changes(self, store: Store) -> None:
        """A lot change sets remaining and status, and expiry only when it gives one."""
        a = lot("alice", 10, expires_at=at(30))
        b = lot("alice", 10, expires_at=at(30))
        self.apply(store, Changes(new_lots=[a, b]), ["alice"])
        self.apply(
            store,
            Changes(
                lot_changes=[
                    LotChange(a.lot_id, 4, "open"),
                    LotChange(b.lot_id, 10, "open", expires_at=at(60)),
                ]
            ),
            ["alice"],
        )
        with store.unit_of_work(["alice"]) as uow:
            assert uow.get_lots([a.lot_id, b.lot_id]) == [
                lot("alice", 10, remaining=4, expires_at=at(30), lot_id=a.lot_id),
                lot("alice", 10, expires_at=at(60), lot_id=b.lot_id),
            ]
            uow.apply(Changes(lot_changes=[LotChange(a.lot_id, 0, "closed")]))
        assert store.member_lots("alice", "points") == [
            lot("alice", 10, expires_at=at(60), lot_id=b.lot_id)
        ]

    # What falls due --------------------------------------------------------------------------

    def test_due_lots_and_reviews(self, store: Store) -> None:
        """due() lists open lots expiring and pending lots maturing at or before the instant,
        soonest first (ties by lot or member id), and members whose review falls by then."""
        cut = at(10)
        ids = sorted(new_id() for _ in range(3))
        exp_late = lot("bob", 1, expires_at=cut, lot_id=ids[2])
        exp_early_b = lot("alice", 1, expires_at=at(5), lot_id=ids[1])
        exp_early_a = lot("carol", 1, expires_at=at(5), lot_id=ids[0])
        mat = lot("alice", 2, pending_until=at(1), status="pending")
        mat_at = lot("bob", 2, pending_until=cut, status="pending")
        not_yet = [
            lot("alice", 1, expires_at=cut + timedelta(microseconds=1)),
            lot("alice", 1, pending_until=at(11), status="pending"),
            lot("alice", 1, expires_at=at(1), status="closed", remaining=0),
            lot("alice", 1, expires_at=at(1), status="pending", pending_until=at(20)),
            lot("alice", 1),
        ]
        self.apply(
            store,
            Changes(
                members=[
                    member("zed", review_at=at(3)),
                    member("amy", review_at=cut),
                    member("bea", review_at=at(3)),
                    member("max", review_at=at(11)),
                    member("kim"),
                ],
                new_lots=[exp_late, exp_early_b, exp_early_a, mat, mat_at, *not_yet],
            ),
            ["alice", "amy", "bea", "bob", "carol", "kim", "max", "zed"],
        )
        work = store.due(cut)
        assert work.expiring_lots == [exp_early_a, exp_early_b, exp_late]
        assert work.maturing_lots == [mat, mat_at]
        assert work.reviews == ["bea", "zed", "amy"]
        limited = store.due(cut, limit=1)
        assert limited.expiring_lots == [exp_early_a]
        assert limited.maturing_lots == [mat]
        assert limited.reviews == ["bea"]
        nothing = store.due(at(-1))
        assert (nothing.expiring_lots, nothing.maturing_lots, nothing.reviews) == ([], [], [])

    def test_only_pending_lots_mature(self, store: Store) -> None:
        opened = lot("alice", 2, pending_until=at(1), status="open")
        cancelled = lot("alice", 2, pending_until=at(1), status="cancelled", remaining=0)
        pending = lot("alice", 2, pending_until=at(1), status="pending")
        self.apply(store, Changes(new_lots=[opened, cancelled, pending]), ["alice"])
        assert store.due(at(2)).maturing_lots == [pending]
        self.apply(store, Changes(lot_changes=[LotChange(pending.lot_id, 2, "open")]), ["alice"])
        assert store.due(at(2)).maturing_lots == []

    def test_due_follows_lot_changes(self, store: Store) -> None:
        """A closed lot no longer expires, a renewed one at its new instant, a reopened one
        again."""
        closed, renewed, kept = (lot("alice", 1, expires_at=at(1)) for _ in range(3))
        self.apply(store, Changes(new_lots=[closed, renewed, kept]), ["alice"])
        self.apply(
            store,
            Changes(
                lot_changes=[
                    LotChange(closed.lot_id, 0, "closed"),
                    LotChange(renewed.lot_id, 1, "open", at(30)),
                ]
            ),
            ["alice"],
        )
        assert [x.lot_id for x in store.due(at(2)).expiring_lots] == [kept.lot_id]
        self.apply(store, Changes(lot_changes=[LotChange(closed.lot_id, 1, "open")]), ["alice"])
        assert sorted(x.lot_id for x in store.due(at(2)).expiring_lots) == sorted(
            [closed.lot_id, kept.lot_id]
        )
        assert renewed.lot_id in [x.lot_id for x in store.due(at(30)).expiring_lots]

    def test_a_lot_closed_and_reopened_falls_due_once(self, store: Store) -> None:
        reopened = lot("alice", 1, expires_at=at(1))
        self.apply(store, Changes(new_lots=[reopened]), ["alice"])
        self.apply(store, Changes(lot_changes=[LotChange(reopened.lot_id, 0, "closed")]), ["alice"])
        self.apply(store, Changes(lot_changes=[LotChange(reopened.lot_id, 1, "open")]), ["alice"])
        assert [x.lot_id for x in store.due(at(2)).expiring_lots] == [reopened.lot_id]

    def test_due_reviews_follow_member_writes(self, store: Store) -> None:
        self.apply(
            store, Changes(members=[member("amy", review_at=at(1)), member("bea", review_at=at(1))])
        )
        self.apply(store, Changes(members=[member("amy", review_at=at(30)), member("bea")]))
        assert store.due(at(2)).reviews == []
        assert store.due(at(30)).reviews == ["amy"]

    def test_maturing_ties_by_lot_id(self, store: Store) -> None:
        ids = sorted(f"{i:032x}" for i in (3, 1, 2))
        lots = [
            lot("alice", 1, pending_until=at(1), status="pending", lot_id=i) for i in reversed(ids)
        ]
        self.apply(store, Changes(new_lots=lots), ["alice"])
        assert [x.lot_id for x in store.due(at(1)).maturing_lots] == ids
        assert [x.lot_id for x in store.due(at(1), limit=1).maturing_lots] == ids[:1]

    # Earned totals and leaderboards ----------------------------------------------------------

    def test_earned_same_period_adds(self, store: Store) -> None:
        """Deltas for the period a total holds add to it (day, week, month, all time)."""
        self.apply(store, Changes(earned=[earned("alice", 10, "2026-03-02")]), ["alice"])
        self.apply(store, Changes(earned=[earned("alice", 5, "2026-03-02")]), ["alice"])
        for period, expected in (
            ("all", 15),
            ("day:2026-03-02", 15),
            ("week:2026-03-02", 15),
            ("month:2026-03", 15),
        ):
            assert store.score("alice", "points", period) == expected, period

    def test_earned_later_period_restarts(self, store: Store) -> None:
        """A delta for a later period starts that total afresh; the old period reads zero."""
        self.apply(store, Changes(earned=[earned("alice", 10, "2026-03-02")]), ["alice"])
        self.apply(store, Changes(earned=[earned("alice", 4, "2026-03-03")]), ["alice"])
        assert store.score("alice", "points", "day:2026-03-03") == 4
        assert store.score("alice", "points", "day:2026-03-02") == 0
        assert store.score("alice", "points", "week:2026-03-02") == 14
        self.apply(store, Changes(earned=[earned("alice", 6, "2026-03-09")]), ["alice"])
        assert store.score("alice", "points", "week:2026-03-09") == 6
        assert store.score("alice", "points", "week:2026-03-02") == 0
        assert store.score("alice", "points", "month:2026-03") == 20
        self.apply(store, Changes(earned=[earned("alice", 1, "2026-04-01")]), ["alice"])
        assert store.score("alice", "points", "month:2026-04") == 1
        assert store.score("alice", "points", "month:2026-03") == 0
        assert store.score("alice", "points", "all") == 21

    def test_earned_earlier_period_leaves_current(self, store: Store) -> None:
        """A late delta for an earlier period leaves the current totals alone but counts all
        time."""
        self.apply(store, Changes(earned=[earned("alice", 10, "2026-03-10")]), ["alice"])
        self.apply(store, Changes(earned=[earned("alice", 7, "2026-03-02")]), ["alice"])
        assert store.score("alice", "points", "day:2026-03-10") == 10
        assert store.score("alice", "points", "week:2026-03-09") == 10
        assert store.score("alice", "points", "month:2026-03") == 17  # same month: adds
        assert store.score("alice", "points", "day:2026-03-02") == 0
        assert store.score("alice", "points", "all") == 17

    def test_earned_several_deltas_in_one_write(self, store: Store) -> None:
        """Several deltas in one write, for one or more members and currencies, all count."""
        self.apply(
            store,
            Changes(
                earned=[
                    earned("alice", 3),
                    earned("alice", 4),
                    earned("alice", 9, currency="xp"),
                    earned("bob", 2),
                ]
            ),
            ["alice", "bob"],
        )
        assert store.score("alice", "points", "day:2026-03-02") == 7
        assert store.score("alice", "xp", "all") == 9
        assert store.score("bob", "points", "all") == 2
        assert store.score("carol", "points", "all") == 0

    def _board_fixture(self, store: Store) -> None:
        rows = {"dan": 50, "amy": 80, "cat": 50, "bob": 50, "eve": 10, "fay": 0, "gus": -5}
        tiers = {"dan": "gold", "amy": "silver", "cat": "gold", "bob": None, "eve": "gold"}
        self.apply(
            store,
            Changes(
                members=[member(m, tier=tiers.get(m)) for m in rows],
                earned=[earned(m, s) for m, s in rows.items()]
                + [earned("zoe", 500, currency="xp"), earned("amy", 5, "2026-03-03")],
            ),
            [*rows, "zoe"],
        )

    def test_leaderboard_order(self, store: Store) -> None:
        """A board lists positive scores only, highest first, ties by member id, up to the limit."""
        self._board_fixture(store)
        assert store.leaderboard("points", "all", limit=10) == [
            LeaderboardRow("amy", 85),
            LeaderboardRow("bob", 50),
            LeaderboardRow("cat", 50),
            LeaderboardRow("dan", 50),
            LeaderboardRow("eve", 10),
        ]
        assert store.leaderboard("points", "all", limit=3) == [
            LeaderboardRow("amy", 85),
            LeaderboardRow("bob", 50),
            LeaderboardRow("cat", 50),
        ]
        assert store.leaderboard("xp", "all", limit=10) == [LeaderboardRow("zoe", 500)]
        assert store.leaderboard("gems", "all", limit=10) == []

    def test_leaderboard_periods(self, store: Store) -> None:
        """A period board counts only totals currently held for that period's key."""
        self._board_fixture(store)
        assert store.leaderboard("points", "day:2026-03-03", limit=10) == [LeaderboardRow("amy", 5)]
        assert store.leaderboard("points", "day:2026-03-02", limit=2) == [
            LeaderboardRow("bob", 50),
            LeaderboardRow("cat", 50),
        ]
        assert [r.member_id for r in store.leaderboard("points", "week:2026-03-02", limit=10)] == [
            "amy",
            "bob",
            "cat",
            "dan",
            "eve",
        ]
        assert store.leaderboard("points", "month:2026-02", limit=10) == []

    def test_leaderboard_tier_filter(self, store: Store) -> None:
        """A tier filter keeps members whose current tier is that tier."""
        self._board_fixture(store)
        assert store.leaderboard("points", "all", limit=10, tier="gold") == [
            LeaderboardRow("cat", 50),
            LeaderboardRow("dan", 50),
            LeaderboardRow("eve", 10),
        ]
        assert store.leaderboard("points", "all", limit=1, tier="silver") == [
            LeaderboardRow("amy", 85)
        ]
        assert store.leaderboard("points", "all", limit=10, tier="bronze") == []

    def test_count_above(self, store: Store) -> None:
        """count_above counts members with a positive score strictly above the one given."""
        self._board_fixture(store)
        assert store.count_above("points", "all", 50) == 1
        assert store.count_above("points", "all", 49) == 4
        assert store.count_above("points", "all", 0) == 5
        assert store.count_above("points", "all", -100) == 5
        assert store.count_above("points", "all", 85) == 0
        assert store.count_above("points", "all", 10, tier="gold") == 2
        assert store.count_above("points", "day:2026-03-02", 40) == 3
        assert store.count_above("points", "week:2026-03-02", 80) == 1

    def test_member_rank(self, store: Store) -> None:
        """member_rank gives (score, members above it), or None without a positive score or
        outside the tier asked for."""
        self._board_fixture(store)
        assert store.member_rank("amy", "points", "all") == (85, 0)
        assert store.member_rank("dan", "points", "all") == (50, 1)
        assert store.member_rank("eve", "points", "all", tier="gold") == (10, 2)
        assert store.member_rank("amy", "points", "all", tier="gold") is None
        assert store.member_rank("gus", "points", "all") is None  # -5
        assert store.member_rank("nobody", "points", "all") is None
        assert store.member_rank("amy", "points", "day:2026-03-02") is None

    def test_scores(self, store: Store) -> None:
        """score() reads one member's total for a period, 0 when nothing is held for it."""
        self._board_fixture(store)
        assert store.score("amy", "points", "all") == 85
        assert store.score("amy", "points", "day:2026-03-03") == 5
        assert store.score("amy", "points", "day:2026-03-02") == 0
        assert store.score("gus", "points", "all") == -5
        assert store.score("nobody", "points", "week:2026-03-02") == 0

    def test_earned_earlier_month_leaves_current(self, store: Store) -> None:
        self.apply(store, Changes(earned=[earned("alice", 10, "2026-03-02")]), ["alice"])
        self.apply(store, Changes(earned=[earned("alice", 7, "2026-02-27")]), ["alice"])
        assert store.score("alice", "points", "month:2026-03") == 10
        assert store.score("alice", "points", "month:2026-02") == 0
        assert store.score("alice", "points", "week:2026-03-02") == 10
        assert store.score("alice", "points", "all") == 17

    def test_boards_follow_writes_after_a_read(self, store: Store) -> None:
        """A board read once still moves with later scores and tier changes."""
        self.apply(
            store,
            Changes(
                members=[member("amy", tier="gold"), member("bob", tier="gold")],
                earned=[earned("amy", 5), earned("bob", 3)],
            ),
        )
        for period in ("all", "day:2026-03-02"):
            assert store.leaderboard("points", period, limit=5)[0] == LeaderboardRow("amy", 5)
            store.leaderboard("points", period, limit=5, tier="gold")
        self.apply(store, Changes(earned=[earned("bob", 10)]), ["bob"])
        for period in ("all", "day:2026-03-02"):
            assert store.leaderboard("points", period, limit=5) == [
                LeaderboardRow("bob", 13),
                LeaderboardRow("amy", 5),
            ]
            assert store.count_above("points", period, 5) == 1
            top = store.leaderboard("points", period, limit=5, tier="gold")
            assert top[0] == LeaderboardRow("bob", 13)
        self.apply(store, Changes(members=[member("bob", tier="silver")]), ["bob"])
        assert store.leaderboard("points", "all", limit=5, tier="gold") == [
            LeaderboardRow("amy", 5)
        ]
        assert store.count_above("points", "all", 0, tier="gold") == 1
        assert store.member_rank("bob", "points", "all", tier="gold") is None

    def test_tier_filter_on_period_boards(self, store: Store) -> None:
        self.apply(
            store,
            Changes(
                members=[member("amy", tier="gold"), member("bob")],
                earned=[earned("amy", 5), earned("bob", 9)],
            ),
        )
        assert store.leaderboard("points", "day:2026-03-02", limit=5, tier="gold") == [
            LeaderboardRow("amy", 5)
        ]
        assert store.count_above("points", "week:2026-03-02", 0, tier="gold") == 1
        assert store.member_rank("amy", "points", "month:2026-03", tier="gold") == (5, 0)

    def test_member_rank_matches_the_board_in_every_period(self, store: Store) -> None:
        self.apply(
            store,
            Changes(
                earned=[
                    earned("amy", 80, "2026-03-02"),
                    earned("amy", 5, "2026-03-03"),
                    earned("bob", 50, "2026-03-02"),
                ]
            ),
        )
        for period in ("all", "day:2026-03-02", "day:2026-03-03", "week:2026-03-02"):
            for above, row in enumerate(store.leaderboard("points", period, limit=10)):
                assert store.member_rank(row.member_id, "points", period) == (row.score, above)

    # Reports ---------------------------------------------------------------------------------

    def test_earned_between(self, store: Store) -> None:
        """earned_between sums, per member, the earning entries of the currency and of its
        pending account in [start, end)."""
        start, end = at(1), at(3)
        self.apply(
            store,
            Changes(
                entries=[
                    entry("alice", 10, when=start),
                    entry("alice", 5, when=at(2), kind="reward"),
                    entry("alice", 3, when=at(2), key="k"),
                    entry("alice", -3, when=at(2), kind="reverse", key="k"),
                    entry("alice", -4, when=at(2), kind="spend"),
                    entry("alice", 4, when=at(2), kind="refund"),
                    entry("alice", 8, "points:pending", when=at(2)),
                    entry("alice", 7, "xp", when=at(2)),
                    entry("alice", 100, when=end),
                    entry("alice", 100, when=start - timedelta(microseconds=1)),
                    entry("bob", 6, when=at(2)),
                    entry("carol", 6, when=at(2), key="c"),
                    entry("carol", -6, when=at(2), kind="reverse", key="c"),
                ]
            ),
        )
        # 10 + 5 + 3 - 3 + 8 pending: spends and refunds do not count.
        assert store.earned_between("points", start, end) == {"alice": 23, "bob": 6}
        assert store.earned_between("xp", start, end) == {"alice": 7}
        assert store.earned_between("points", end, at(4)) == {"alice": 100}

    def test_earned_between_counts_a_reversal_in_the_window_of_its_event(
        self, store: Store
    ) -> None:
        """A reverse entry counts at the instant of the member's earn entry with its key (in
        either account), not when it was booked; one without such an entry counts nowhere."""
        self.apply(
            store,
            Changes(
                entries=[
                    entry("alice", 30, when=at(1), key="a1"),
                    entry("alice", 20, "points:pending", when=at(1), key="a1"),
                    entry("alice", 5, when=at(1), key="a1", kind="reward"),
                    entry("alice", 7, when=at(1), key="a2"),
                    entry("bob", 30, when=at(1), key="a1"),  # another member's same key
                    entry("bob", 9, when=at(3)),
                ]
            ),
        )
        # Booked two days later: the claw-back, the cancelled pending part, and a reverse
        # entry whose key names no event of the member.
        self.apply(
            store,
            Changes(
                entries=[
                    entry("alice", -30, when=at(3), kind="reverse", key="a1"),
                    entry("alice", -20, "points:pending", when=at(3), kind="reverse", key="a1"),
                    entry("bob", -4, when=at(3), kind="reverse", key="nothing"),
                ]
            ),
        )
        first, later = (at(1), at(2)), (at(2), at(4))
        assert store.earned_between("points", *first) == {"alice": 12, "bob": 30}
        assert store.earned_between("points", *later) == {"bob": 9}
        assert store.earned_between("points", at(0), at(4)) == {"alice": 12, "bob": 39}

    def test_ledger_totals(self, store: Store) -> None:
        """ledger_totals sums amounts by account, kind and action, sorted, within [start, end)."""
        self.apply(
            store,
            Changes(
                entries=[
                    entry("alice", 10, when=at(0)),
                    entry("bob", 20, when=at(1)),
                    entry("alice", 5, when=at(1), action="check_in"),
                    entry("alice", -7, when=at(2), kind="spend", action=None),
                    entry("alice", 3, "xp", when=at(2), kind="reward", action=None),
                ]
            ),
        )
        assert store.ledger_totals() == [
            ("points", "earn", "check_in", 5),
            ("points", "earn", "purchase", 30),
            ("points", "spend", None, -7),
            ("xp", "reward", None, 3),
        ]
        assert store.ledger_totals(at(1), at(2)) == [
            ("points", "earn", "check_in", 5),
            ("points", "earn", "purchase", 20),
        ]
        assert store.ledger_totals(start=at(2)) == [
            ("points", "spend", None, -7),
            ("xp", "reward", None, 3),
        ]
        assert store.ledger_totals(end=at(1)) == [("points", "earn", "purchase", 10)]

    # Outbox ----------------------------------------------------------------------------------

    def test_outbox_pending_and_ack(self, store: Store) -> None:
        """Outbox messages wait oldest first, with their payload, until acknowledged."""
        first = message("alice", amount=5, credits=[{"currency": "points", "amount": 5}])
        second = message("bob", "redeemed", points=3)
        third = message("alice", "level_up", level=2)
        self.apply(store, Changes(outbox=[first, second]), ["alice", "bob"])
        self.apply(store, Changes(outbox=[third]), ["alice"])
        assert store.pending_outbox() == [first, second, third]
        assert store.pending_outbox(limit=2) == [first, second]
        store.ack_outbox([second.event_id, "unknown"])
        assert store.pending_outbox() == [first, third]
        store.ack_outbox([])
        store.ack_outbox([first.event_id, third.event_id])
        assert store.pending_outbox() == []

    def test_drain_outbox_delivers_oldest_first_then_removes(self, store: Store) -> None:
        """A drain hands up to ``limit`` events, oldest first, to its delivery in one call,
        then removes them; with none left (or a limit of 0 or less) it calls nothing."""
        events = [message("alice", amount=i) for i in range(3)]
        self.apply(store, Changes(outbox=events[:2]), ["alice"])
        self.apply(store, Changes(outbox=events[2:]), ["alice"])
        batches: list[list[OutboxMessage]] = []
        assert store.drain_outbox(0, batches.append) == 0
        assert store.drain_outbox(-1, batches.append) == 0
        assert store.drain_outbox(2, batches.append) == 2
        assert batches == [events[:2]]
        assert store.pending_outbox() == events[2:]
        assert store.drain_outbox(100, batches.append) == 1
        assert store.drain_outbox(100, batches.append) == 0
        assert batches == [events[:2], events[2:]]
        assert store.pending_outbox() == []

    @pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
    def test_a_drain_whose_delivery_raises_removes_nothing(
        self, store: Store, failure: type[BaseException]
    ) -> None:
        """An error out of the delivery (a bug, or the process stopping) reaches the caller
        and leaves every event taken in the outbox: the next drain delivers them."""
        events = [message("alice", amount=i) for i in range(3)]
        self.apply(store, Changes(outbox=events), ["alice"])

        def fail(batch: list[OutboxMessage]) -> None:
            raise failure("delivery stopped")

        with pytest.raises(failure):
            store.drain_outbox(2, fail)
        assert store.pending_outbox() == events
        batches: list[list[OutboxMessage]] = []
        assert store.drain_outbox(100, batches.append) == 3
        assert batches == [events]
        assert store.pending_outbox() == []

    def test_a_drain_meanwhile_never_gets_the_events_being_delivered(self, store: Store) -> None:
        """While one drain is delivering, a second one (another thread) gets only the other
        events: it skips the first one's events or waits for it to finish."""
        events = [message("alice", amount=i) for i in range(5)]
        self.apply(store, Changes(outbox=events), ["alice"])
        inside, release = threading.Event(), threading.Event()
        first: list[OutboxMessage] = []
        second: list[OutboxMessage] = []

        def deliver_slowly(batch: list[OutboxMessage]) -> None:
            first.extend(batch)
            inside.set()
            assert release.wait(300)

        with ThreadPoolExecutor(2) as pool:
            slow = pool.submit(store.drain_outbox, 2, deliver_slowly)
            assert inside.wait(300)
            other = pool.submit(store.drain_outbox, 100, second.extend)
            release.set()
            assert slow.result(timeout=300) == 2
            assert other.result(timeout=300) == 3
        assert first == events[:2]
        assert second == events[2:]
        assert store.pending_outbox() == []

    def test_sixteen_threads_draining_deliver_each_event_once(self, store: Store) -> None:
        """Sixteen threads drain one store in small batches until it is empty: every event
        is delivered exactly once."""
        events = [message(f"m{i:02d}", amount=i) for i in range(48)]
        self.apply(store, Changes(outbox=events), sorted({e.member_id for e in events}))
        delivered: list[str] = []
        lock = threading.Lock()

        def deliver(batch: list[OutboxMessage]) -> None:
            with lock:
                delivered.extend(m.event_id for m in batch)

        def drain() -> None:
            while store.drain_outbox(2, deliver):
                pass

        self._in_threads(16, drain)
        assert sorted(delivered) == sorted(e.event_id for e in events)  # none twice
        assert store.pending_outbox() == []

    # Through the engine ----------------------------------------------------------------------

    @staticmethod
    def engine(store: Store, *, deliver_events: bool = True) -> Engine:
        from gamify import Engine, ManualClock, Program

        program = Program.model_validate(
            {
                "timezone": "UTC",
                "actions": {"purchase": {"amount": "required"}, "check_in": {"amount": "none"}},
                "rules": [
                    {"name": "spend", "action": "purchase", "per_amount": 1},
                    {"name": "daily", "action": "check_in", "fixed": 5},
                    {"name": "daily_xp", "action": "check_in", "currency": "xp", "fixed": 10},
                ],
            }
        )
        return Engine(program, store=store, clock=ManualClock(T0), deliver_events=deliver_events)

    def test_engine_track_redeem_refund(self, store: Store) -> None:
        """Through the engine: a purchase earns, a redemption spends, a refund gives it back."""
        engine = self.engine(store)
        engine.track("alice", "purchase", amount=100)
        engine.track("alice", "check_in")
        assert engine.balance("alice") == 105
        assert engine.balance("alice", "xp") == 10
        redemption = engine.redeem("alice", 30)
        assert engine.balance("alice") == 75
        engine.refund(redemption)
        assert engine.balance("alice") == 105
        assert [(h.kind, h.amount) for h in engine.history("alice") if h.account == "points"] == [
            ("refund", 30),
            ("spend", -30),
            ("earn", 5),
            ("earn", 100),
        ]
        assert store.get_balances("alice") == {"points": 105, "xp": 10}

    def test_engine_replay_and_conflict(self, store: Store) -> None:
        """Through the engine: a repeated key returns the first outcome and writes nothing; a
        different payload under it is a conflict."""
        engine = self.engine(store)
        first = engine.track("alice", "purchase", amount="20.0", key="order-1")
        history = engine.history("alice")
        again = engine.track("alice", "purchase", amount=20, key="order-1")
        assert again == first
        assert engine.history("alice") == history
        with pytest.raises(IdempotencyConflictError):
            engine.track("alice", "purchase", amount=21, key="order-1")
        assert engine.balance("alice") == 20
        spent = engine.redeem("alice", 5, key="r-1")
        assert engine.redeem("alice", 5, key="r-1") == spent
        assert engine.balance("alice") == 15

    def test_engine_refuses_overdraft(self, store: Store) -> None:
        """Through the engine: a redemption beyond the balance fails and changes nothing."""
        engine = self.engine(store)
        engine.track("alice", "purchase", amount=10)
        before = self.snapshot(store, ["alice"])
        with pytest.raises(InsufficientBalanceError):
            engine.redeem("alice", 11)
        assert self.snapshot(store, ["alice"]) == before

    def test_engine_batch_and_events(self, store: Store) -> None:
        """Through the engine: a batch tracks every event, a key repeated in it counts once,
        and each domain event is delivered once with the outbox left empty."""
        engine = self.engine(store)
        seen: list[str] = []
        engine.on("credited", lambda event: seen.append(event.member_id))
        outcomes = engine.track_many(
            [
                {"member_id": "alice", "action": "check_in", "key": "c1"},
                {"member_id": "bob", "action": "purchase", "amount": 7},
                {"member_id": "alice", "action": "check_in", "key": "c1"},
            ]
        )
        assert outcomes[2] == outcomes[0]
        assert engine.balance("alice") == 5
        assert engine.balance("bob") == 7
        assert sorted(seen) == ["alice", "bob"]
        assert store.pending_outbox() == []

    def test_engine_drain_holds_no_lock_that_writes_need(self, store: Store) -> None:
        """While a drain's subscribers run, the store takes writes from other threads: a
        drain holds none of the locks units of work take (SQLite's write lock, the memory
        store's lock). Here a subscriber records a check-in for each purchase, in a thread
        of its own; the check-ins' events wait for the next drain."""
        from gamify import DomainEvent

        worker = self.engine(store, deliver_events=False)
        worker.track("alice", "purchase", amount=10)
        worker.track("bob", "purchase", amount=20)
        recorded: list[str] = []

        def record(event: DomainEvent) -> None:
            if event.payload["action"] != "purchase":
                return
            writer = threading.Thread(
                target=worker.track,
                args=(event.member_id, "check_in"),
                kwargs={"key": f"seen-{event.event_id}"},
                daemon=True,  # a writer stuck behind the drain must not keep pytest alive
            )
            writer.start()
            writer.join(timeout=300)
            if not writer.is_alive():
                recorded.append(event.member_id)

        worker.on("credited", record)
        assert worker.drain_outbox(10) == 2
        assert recorded == ["alice", "bob"]
        assert (worker.balance("alice"), worker.balance("bob")) == (15, 25)
        assert worker.drain_outbox(10) == 2
        assert worker.drain_outbox(10) == 0
        assert recorded == ["alice", "bob"]

    def test_engine_drain_counts_an_event_whose_subscriber_raises_as_delivered(
        self, store: Store
    ) -> None:
        """An ``Exception`` from a subscriber during a drain is logged and goes no further:
        the other subscribers receive the event, and it is removed like any other."""
        from gamify import DomainEvent

        worker = self.engine(store, deliver_events=False)
        worker.track("alice", "purchase", amount=10)
        worker.track("bob", "purchase", amount=20)
        seen: list[str] = []

        def fail(event: DomainEvent) -> None:
            raise RuntimeError("the push service is down")

        worker.on("credited", fail)
        worker.on("*", lambda event: seen.append(event.member_id))
        assert worker.drain_outbox(10) == 2
        assert seen == ["alice", "bob"]
        assert store.pending_outbox() == []
        assert worker.drain_outbox(10) == 0
