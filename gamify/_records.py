"""The records the storage port passes between the engine and an adapter.

:mod:`gamify.store` re-exports every name here; import them from there. They live
apart because built wheels compile this module with mypyc (see ``hatch_build.py``),
which makes their fields cheap to set and read on every event, while
:class:`~gamify.store.Store` stays a plain class for adapters to subclass.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, Literal


def _by_fields(record: Any) -> tuple[Any, ...]:
    """How to pickle or copy a frozen record: its class and its fields. A compiled frozen
    dataclass refuses the default way, which sets the fields one by one."""
    return type(record), tuple(getattr(record, f.name) for f in fields(record))


EntryKind = Literal[
    "earn",  # an earning rule
    "reward",  # a level, badge, streak, referral or challenge reward
    "spend",  # a redemption
    "refund",  # a redemption given back
    "expire",  # a lot reached its expiry
    "mature",  # pending points became spendable (pair of entries)
    "reverse",  # an event taken back
    "debt",  # a shortfall booked as debt, or settled
    "adjust",  # a manual correction
]


def pending_account(currency: str) -> str:
    """The side account holding a currency's credits that cannot be spent yet."""
    return f"{currency}:pending"


#: Entry kinds that count as "earned" (leaderboards, badges on totals): credits
#: from rules and rewards, net of reversals; spends, expiry and refunds do not.
EARNED_KINDS = frozenset({"earn", "reward", "reverse"})


@dataclass  # __init__ by hand: compiled, it runs natively
class LedgerEntry:
    """One append-only change of one account.

    ``account`` is a currency (``points``, ``xp``) or a side account of one
    (``points:pending``, ``points:debt``). ``amount`` is signed.
    """

    entry_id: str
    member_id: str
    account: str
    amount: int
    at: datetime
    kind: EntryKind
    reason: str
    key: str | None = None
    action: str | None = None
    lot_id: str | None = None

    def __init__(
        self,
        entry_id: str,
        member_id: str,
        account: str,
        amount: int,
        at: datetime,
        kind: EntryKind,
        reason: str,
        key: str | None = None,
        action: str | None = None,
        lot_id: str | None = None,
    ) -> None:
        self.entry_id = entry_id
        self.member_id = member_id
        self.account = account
        self.amount = amount
        self.at = at
        self.kind = kind
        self.reason = reason
        self.key = key
        self.action = action
        self.lot_id = lot_id


@dataclass  # __init__ by hand: compiled, it runs natively
class Lot:
    """One credit of a spendable currency, spent and expired on its own.

    It is spendable from ``pending_until`` (if any) and before ``expires_at``
    (if any). ``remaining`` is what is left of ``amount``.
    """

    lot_id: str
    member_id: str
    currency: str
    amount: int
    remaining: int
    earned_at: datetime
    expires_at: datetime | None = None
    pending_until: datetime | None = None
    rule: str = ""
    key: str | None = None
    status: Literal["pending", "open", "closed", "cancelled"] = "open"

    def __init__(
        self,
        lot_id: str,
        member_id: str,
        currency: str,
        amount: int,
        remaining: int,
        earned_at: datetime,
        expires_at: datetime | None = None,
        pending_until: datetime | None = None,
        rule: str = "",
        key: str | None = None,
        status: Literal["pending", "open", "closed", "cancelled"] = "open",
    ) -> None:
        self.lot_id = lot_id
        self.member_id = member_id
        self.currency = currency
        self.amount = amount
        self.remaining = remaining
        self.earned_at = earned_at
        self.expires_at = expires_at
        self.pending_until = pending_until
        self.rule = rule
        self.key = key
        self.status = status


@dataclass(frozen=True, slots=True)
class LotChange:
    """A new ``remaining``, ``expires_at`` or ``status`` for an existing lot."""

    lot_id: str
    remaining: int
    status: Literal["pending", "open", "closed", "cancelled"]
    expires_at: datetime | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        return _by_fields(self)


@dataclass  # __init__ by hand: compiled, it runs natively
class MemberRecord:
    """A member as the store keeps it.

    The columns that are queried across members (tier, review date, referral
    code) sit beside ``state``, the member's game state that only the engine
    reads (an opaque, JSON-serialisable dict to the store).
    """

    member_id: str
    timezone: str
    birthday: date | None = None
    tags: tuple[str, ...] = ()
    level: int = 1
    tier: str | None = None
    review_at: datetime | None = None
    referral_code: str | None = None
    referrer: str | None = None
    created_at: datetime | None = None
    state: dict[str, Any] = field(default_factory=dict)

    def __init__(
        self,
        member_id: str,
        timezone: str,
        birthday: date | None = None,
        tags: tuple[str, ...] = (),
        level: int = 1,
        tier: str | None = None,
        review_at: datetime | None = None,
        referral_code: str | None = None,
        referrer: str | None = None,
        created_at: datetime | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.member_id = member_id
        self.timezone = timezone
        self.birthday = birthday
        self.tags = tags
        self.level = level
        self.tier = tier
        self.review_at = review_at
        self.referral_code = referral_code
        self.referrer = referrer
        self.created_at = created_at
        self.state = {} if state is None else state

    def copy(self) -> MemberRecord:
        """A copy whose state dict the caller may change (nested values are replaced)."""
        return MemberRecord(
            self.member_id,
            self.timezone,
            self.birthday,
            self.tags,
            self.level,
            self.tier,
            self.review_at,
            self.referral_code,
            self.referrer,
            self.created_at,
            dict(self.state),
        )


@dataclass(slots=True)  # a value, never changed (frozen fields cost ~5x to set)
class IdempotencyRecord:
    """The first answer to a keyed call: its payload fingerprint and its result.

    ``result`` is JSON text (the call's result model as ``model_dump_json`` gives it):
    stores keep it as it is, and a repeated call is answered by validating it again.
    """

    member_id: str
    kind: str
    key: str
    fingerprint: str
    result: str
    at: datetime


@dataclass  # __init__ by hand: compiled, it runs natively
class Award:
    """A one-time award: unique per member, badge, tier and occurrence."""

    member_id: str
    badge: str
    tier: str
    occurrence: int
    at: datetime

    def __init__(
        self,
        member_id: str,
        badge: str,
        tier: str,
        occurrence: int,
        at: datetime,
    ) -> None:
        self.member_id = member_id
        self.badge = badge
        self.tier = tier
        self.occurrence = occurrence
        self.at = at


@dataclass  # __init__ by hand: compiled, it runs natively
class EarnedDelta:
    """A change of what a member earned of a currency, for leaderboards.

    The store keeps, per member and currency, the all-time total and the
    totals of the current day, week and month of the program's zone, each with
    the key of its period (``2026-11-27``, ``2026-11-23`` for the week that
    starts that day, ``2026-11``). A delta for the period a total holds adds to
    it; one for a later period starts it afresh; one for an earlier period
    (a late event) leaves it alone: the ledger answers for past periods.
    """

    member_id: str
    currency: str
    amount: int
    day: str
    week: str
    month: str

    def __init__(
        self,
        member_id: str,
        currency: str,
        amount: int,
        day: str,
        week: str,
        month: str,
    ) -> None:
        self.member_id = member_id
        self.currency = currency
        self.amount = amount
        self.day = day
        self.week = week
        self.month = month


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A domain event written with the changes that caused it, delivered after commit."""

    event_id: str
    name: str
    member_id: str
    at: datetime
    payload: dict[str, Any]

    def __reduce__(self) -> tuple[Any, ...]:
        return _by_fields(self)


@dataclass  # __init__ by hand: compiled, it runs natively
class Changes:
    """Every write of one unit of work's step, applied all together or not at all."""

    members: list[MemberRecord] = field(default_factory=list)
    entries: list[LedgerEntry] = field(default_factory=list)
    new_lots: list[Lot] = field(default_factory=list)
    lot_changes: list[LotChange] = field(default_factory=list)
    earned: list[EarnedDelta] = field(default_factory=list)
    idempotency: list[IdempotencyRecord] = field(default_factory=list)
    awards: list[Award] = field(default_factory=list)
    outbox: list[OutboxMessage] = field(default_factory=list)
    #: Members to erase, before the writes above: their record, balances, ledger
    #: entries, lots, idempotency records, awards and earned totals. Domain events
    #: already in the outbox stay, and so do other members' referrer links to them.
    forgotten: list[str] = field(default_factory=list)

    def __init__(
        self,
        members: list[MemberRecord] | None = None,
        entries: list[LedgerEntry] | None = None,
        new_lots: list[Lot] | None = None,
        lot_changes: list[LotChange] | None = None,
        earned: list[EarnedDelta] | None = None,
        idempotency: list[IdempotencyRecord] | None = None,
        awards: list[Award] | None = None,
        outbox: list[OutboxMessage] | None = None,
        forgotten: list[str] | None = None,
    ) -> None:
        self.members = [] if members is None else members
        self.entries = [] if entries is None else entries
        self.new_lots = [] if new_lots is None else new_lots
        self.lot_changes = [] if lot_changes is None else lot_changes
        self.earned = [] if earned is None else earned
        self.idempotency = [] if idempotency is None else idempotency
        self.awards = [] if awards is None else awards
        self.outbox = [] if outbox is None else outbox
        self.forgotten = [] if forgotten is None else forgotten

    def balance_deltas(self) -> dict[tuple[str, str], int]:
        """The net change of each (member, account), from the entries."""
        out: dict[tuple[str, str], int] = {}
        for e in self.entries:
            k = (e.member_id, e.account)
            out[k] = out.get(k, 0) + e.amount
        return out


@dataclass(frozen=True, slots=True)
class DueWork:
    """What falls due before an instant, across all members (for ``run_due``)."""

    expiring_lots: list[Lot]
    maturing_lots: list[Lot]
    reviews: list[str]

    def __reduce__(self) -> tuple[Any, ...]:
        return _by_fields(self)


@dataclass(frozen=True, slots=True)
class LeaderboardRow:
    member_id: str
    score: int

    def __reduce__(self) -> tuple[Any, ...]:
        return _by_fields(self)
