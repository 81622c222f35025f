"""The engine's machinery behind :class:`gamify.Engine`.

:class:`Core` holds what an engine is wired to (program, store, clock,
subscribers) and runs every call: one unit of work per call, the pure
components inside it, one ``apply`` of the effects, then delivery of the
domain events. :class:`~gamify.Engine` checks the caller's arguments and
hands them over.

Built wheels compile this module with mypyc. A compiled function refuses an
argument whose type differs from its annotation with a bare ``TypeError``,
before its body runs, so the checks that meet a caller's raw values (the
``_check*`` functions) take ``object`` and raise gamify's typed errors.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar, cast

from pydantic import BaseModel

from gamify import _time
from gamify._events import Dispatcher, log, message, new_id
from gamify._numbers import MAX_CREDIT
from gamify._outcome import (
    BadgeAwarded,
    BadgeProgress,
    CapHit,
    ChallengeState,
    Credit,
    DueReport,
    LevelUp,
    Outcome,
    Redemption,
    Reversal,
    StreakState,
    TierChange,
)
from gamify.clock import Clock, ensure_aware
from gamify.components import (
    badges,
    challenges,
    earning,
    ledger,
    levels,
    rewards,
    streaks,
    tiers,
)
from gamify.components import caps as caps_component
from gamify.components.badges import BadgeFacts, Predicate
from gamify.components.badges import Due as BadgeDue
from gamify.errors import (
    ConcurrencyError,
    ConfigurationError,
    IdempotencyConflictError,
    InsufficientBalanceError,
    InvalidAmountError,
    InvalidEventError,
    InvalidTimeError,
    NotFoundError,
    UnknownActionError,
    UnknownMemberError,
)
from gamify.program import Levels, Program, Referral, Renewal, Rule, Tier, Tiers, Validity
from gamify.store import (
    EARNED_KINDS,
    Award,
    Changes,
    DuplicateError,
    EarnedDelta,
    EntryKind,
    IdempotencyRecord,
    LedgerEntry,
    Lot,
    LotChange,
    MemberRecord,
    OutboxMessage,
    Store,
    UnitOfWork,
)

ZERO: Final = Decimal(0)
MAX_AMOUNT: Final = Decimal(10) ** 15  # beyond any real order; keeps awards inside 64-bit integers
_T = TypeVar("_T")

_M = TypeVar("_M", bound=BaseModel)  # compiled here, with the engine that calls it
_new: Final = object.__new__
_set: Final = object.__setattr__
# Model -> the names of its fields (every one is given), copied into each model built:
# copying a set costs less than making one from the values' keys.
_FIELD_NAMES: Final[dict[type[BaseModel], set[str]]] = {}


def built(model: type[_M], /, **values: Any) -> _M:
    """``model(**values)`` for values the engine made itself: every field, in declaration
    order (the order of its repr and JSON), with its declared type. Validating them again
    costs more than the rest of building a credit, and a few models are built per event.
    Nothing checks the values here: tests compare each kind with its validated form."""
    names = _FIELD_NAMES.get(model)
    if names is None:
        names = _FIELD_NAMES[model] = set(model.model_fields)
    obj = _new(model)
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", names.copy())
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


def _paid(reward: Mapping[str, int]) -> dict[str, int]:
    """A reward as paid, by currency: what ``_reward`` credits (positive amounts only)."""
    return {currency: amount for currency, amount in reward.items() if amount > 0}


@dataclass  # __init__ by hand: compiled, it runs natively
class _Checked:
    """An event after validation: UTC instant, exact amount, canonical attributes."""

    member_id: str
    action: str
    at: datetime
    at_given: bool
    amount: Decimal | None
    key: str | None
    attributes: dict[str, Any]
    now: datetime
    fingerprint: str = ""

    def __init__(
        self,
        member_id: str,
        action: str,
        at: datetime,
        at_given: bool,
        amount: Decimal | None,
        key: str | None,
        attributes: dict[str, Any],
        now: datetime,
        fingerprint: str = "",
    ) -> None:
        self.member_id = member_id
        self.action = action
        self.at = at
        self.at_given = at_given
        self.amount = amount
        self.key = key
        self.attributes = attributes
        self.now = now
        self.fingerprint = fingerprint


@dataclass  # __init__ by hand: compiled, it runs natively
class _Step:
    """What one unit of work is building: the member, the changes and the outcome parts."""

    member: MemberRecord
    at: datetime
    key: str | None
    action: str | None
    changes: Changes = field(default_factory=Changes)
    credits: list[Credit] = field(default_factory=list)
    balances: dict[str, int] | None = None
    earned: dict[str, int] = field(default_factory=dict)
    counted_streaks: set[str] = field(default_factory=set)
    locked: Sequence[str] = ()
    challenge_badges: list[BadgeAwarded] = field(default_factory=list)
    facts: BadgeFacts | None = None  # made at the first badge check, refreshed after
    # The member's zone now, where dates still ahead (a tier review) are read; a late
    # event runs with member.timezone set to the zone the member was in at its instant.
    home_zone: str | None = None
    # The instant whose day, week and month the earned totals go to (default ``at``): a
    # reversal takes its credits out of the periods they were earned in.
    board_at: datetime | None = None
    state: dict[str, Any] = field(init=False)  # the member's state, read many times a step

    def __init__(
        self,
        member: MemberRecord,
        at: datetime,
        key: str | None,
        action: str | None,
        changes: Changes | None = None,
        credits: list[Credit] | None = None,
        balances: dict[str, int] | None = None,
        earned: dict[str, int] | None = None,
        counted_streaks: set[str] | None = None,
        locked: Sequence[str] = (),
        challenge_badges: list[BadgeAwarded] | None = None,
        facts: BadgeFacts | None = None,
        home_zone: str | None = None,
        board_at: datetime | None = None,
    ) -> None:
        self.member = member
        self.at = at
        self.key = key
        self.action = action
        self.changes = Changes() if changes is None else changes
        self.credits = [] if credits is None else credits
        self.balances = balances
        self.earned = {} if earned is None else earned
        self.counted_streaks = set() if counted_streaks is None else counted_streaks
        self.locked = locked
        self.challenge_badges = [] if challenge_badges is None else challenge_badges
        self.facts = facts
        self.home_zone = home_zone
        self.board_at = board_at
        self.state = member.state


_V = TypeVar("_V")


@dataclass(frozen=True, slots=True)
class _Settings:
    """The program settings every event reads, as plain attributes: a pydantic model's
    attribute costs several times a plain one's, and an event reads dozens. The
    engine's program is fixed for its life, so they are read once."""

    levels: Levels | None
    tiers: Tiers | None
    referral: Referral | None
    renewal: Renewal | None
    has_challenges: bool
    badges_by_input: dict[tuple[str, str], tuple[str, ...]]
    tiered_badges: dict[str, tuple[str, ...]]  # tiered badge -> its tiers' names, in order
    formula_actions: frozenset[str]
    streaks_by_action: dict[str, tuple[str, ...]]
    amounts: dict[str, str]  # action -> "required", "optional" or "none"
    badge_predicates: dict[str, str]  # custom badge -> the predicate it calls
    late_event_days: int
    timezone: str
    spendable: frozenset[str]
    # Rule name -> (its lots' validity, None for "never"; its pending days); None for
    # rewards and other credits that no rule pays.
    credit_terms: dict[str | None, tuple[Validity | None, int]]

    @classmethod
    def of(cls, program: Program) -> _Settings:
        def lasting(validity: Validity) -> Validity | None:
            return None if validity.policy == "never" else validity

        terms: dict[str | None, tuple[Validity | None, int]] = {
            r.name: (lasting(r.validity or program.expiry), r.pending_days or 0)
            for r in program.rules
        }
        terms[None] = (lasting(program.expiry), 0)
        return cls(
            levels=program.levels,
            tiers=program.tiers,
            referral=program.referral,
            renewal=program.renewal,
            has_challenges=bool(program.challenges),
            badges_by_input=program.badges_by_input,
            tiered_badges={
                name: tuple(t.name for t in badge.tiers)
                for name, badge in program.badges.items()
                if badge.kind == "tiered"
            },
            formula_actions=program.formula_actions,
            streaks_by_action=program.streaks_by_action,
            amounts={name: spec.amount for name, spec in program.actions.items()},
            badge_predicates={
                name: badge.predicate
                for name, badge in program.badges.items()
                if badge.metric == "custom" and badge.predicate is not None
            },
            late_event_days=program.late_event_days,
            timezone=program.timezone,
            spendable=frozenset(n for n, c in program.currencies.items() if c.spendable),
            credit_terms=terms,
        )


MAX_ZONE_MOVES: Final = 50  # zone moves a member's state keeps, newest last


def _zone_at(member: MemberRecord, at: datetime) -> str:
    """The member's zone at instant ``at``: an earlier one for an instant before a move."""
    zones = member.state.get("zones")
    if not zones or at >= datetime.fromisoformat(zones[-1][0]):  # after the last move
        return member.timezone
    for until, zone_then in zones:  # oldest first
        if at < datetime.fromisoformat(until):
            return str(zone_then)
    return member.timezone


def _remember_zone(member: MemberRecord, now: datetime) -> None:
    """Keep the zone the member leaves now, for instants dated before the move: late
    events, and the reversals and lot renewals of events of any age. Moves are few, so
    the newest MAX_ZONE_MOVES are kept whatever their age."""
    kept = list(member.state.get("zones", ()))[-(MAX_ZONE_MOVES - 1) :]
    member.state["zones"] = [*kept, [now.isoformat(), member.timezone]]


def _is_text(value: str) -> bool:
    """Whether ``value`` can be stored as text: a lone surrogate ("\\ud800") has no UTF-8."""
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


MAX_ID_LENGTH: Final = 255  # characters of a member id or key that every store holds


def _text_problem(value: str, *, limit: int | None = MAX_ID_LENGTH) -> str | None:
    """Why ``value`` cannot be stored as an id or key on every store, or None.

    PostgreSQL text holds no NUL character, and its id and key columns hold 255
    characters; refused the same way on every store, an app's tests on
    ``memory://`` meet what its database would refuse.
    """
    if not _is_text(value):
        return "is not valid Unicode text"
    if "\x00" in value:
        return "contains a NUL character"
    if limit is not None and len(value) > limit:
        return f"is longer than {limit} characters"
    return None


def _tier_metric(state: Mapping[str, Any]) -> tuple[Mapping[str, str], Decimal]:
    """The tier metric as a member's state keeps it: monthly buckets and the lifetime total."""
    return state.get("tierm", {}), Decimal(state.get("tier_total", "0"))


def _named(table: Mapping[str, _V], name: object, what: str) -> _V:
    """The program's ``what`` called ``name``; anything else (a list too) is not found."""
    found = table.get(name) if isinstance(name, str) else None
    if found is None:
        raise NotFoundError(f"unknown {what} {name!r}")
    return found


def _check_name(table: Mapping[str, object], name: object, what: str, *, keyed: bool) -> None:
    """Refuse a ``name`` that names nothing; with a key, an unknown one waits for the replay
    check (the first call may have named what the program has since dropped)."""
    if not isinstance(name, str) or (not keyed and name not in table):
        raise NotFoundError(f"unknown {what} {name!r}")


MAX_LIMIT: Final = 2**31 - 1  # rows a call may ask for: every database takes it as an integer


def _check_limit(limit: Any) -> None:
    """A count of rows to return: a positive integer (a bool is not one) up to MAX_LIMIT."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidEventError(
            f"limit must be a positive integer up to {MAX_LIMIT:,}, not {limit!r}"
        )


def _normalize_amount(amount: Any) -> Decimal | None:
    """An exact decimal; floats go through their repr so 268.28 stays 268.28."""
    if amount is None:
        return None
    if isinstance(amount, bool):
        raise InvalidAmountError(amount, "a boolean is not an amount")
    try:
        if isinstance(amount, float):
            value = Decimal(repr(amount))
        elif isinstance(amount, int | Decimal):
            value = Decimal(amount)
        elif isinstance(amount, str):
            value = Decimal(amount.strip())
        else:
            raise InvalidAmountError(amount, "expected a number")
    except InvalidOperation:
        raise InvalidAmountError(amount, "not a number") from None
    if not value.is_finite():
        raise InvalidAmountError(amount, "must be finite")
    if value < 0:
        raise InvalidAmountError(amount, "must not be negative")
    if value >= MAX_AMOUNT:
        raise InvalidAmountError(amount, f"must be below {MAX_AMOUNT:,}")
    return value


def _canonical_amount(amount: Decimal | None) -> str | None:
    """10, 10.0 and Decimal("10.00") all read "10"."""
    if amount is None:
        return None
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "0") else text


# Outcome.model_dump_json without its per-call argument handling (run for every keyed event).
_OUTCOME_JSON: Final = Outcome.__pydantic_serializer__
# One encoder for every event (json.dumps with options builds a new one per call).
_CANONICAL_JSON: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)
_EXACT_FLOATS: Final = 2.0**53  # beyond this a float is no longer exactly a whole number


MAX_NESTING: Final = 32  # levels of tables and lists an event's attributes may hold


def _json_numbers(value: Any, depth: int = 1) -> Any:
    """``value`` with whole floats as ints: JSON has one kind of number, so an attribute of
    1 and one of 1.0 are the same payload (and so are -0.0 and 0). Tables and lists nested
    more than MAX_NESTING deep (or holding themselves) are refused, whatever the
    interpreter's recursion limit."""
    if type(value) is float:
        return int(value) if value.is_integer() and abs(value) < _EXACT_FLOATS else value
    if isinstance(value, dict | list | tuple) and depth > MAX_NESTING:
        raise InvalidEventError(f"attributes are nested more than {MAX_NESTING} levels deep")
    if isinstance(value, dict):
        for v in value.values():  # most attributes are flat text, flags and whole numbers
            if isinstance(v, float | dict | list | tuple):
                return {k: _json_numbers(v, depth + 1) for k, v in value.items()}
        return value
    if isinstance(value, list | tuple):
        return [_json_numbers(v, depth + 1) for v in value]
    return value


def _flat_json(attributes: dict[str, Any]) -> bool:
    """Whether every value is text, a bool, an int, None or a finite float: a table of
    those (its names are text) is JSON as it is, so encoding it would check nothing."""
    for value in attributes.values():
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                return False
        elif value is not None and kind is not str and kind is not int and kind is not bool:
            return False
    return True


def _fingerprint(*parts: str | int | None) -> str:
    # repr keeps parts apart (None, "None", 5 and "5" differ) and is the same in every process.
    return hashlib.sha256("\x1f".join(map(repr, parts)).encode()).hexdigest()


class Core:
    """One engine's wiring and the steps of its calls (see the module docstring)."""

    def __init__(
        self,
        program: Program,
        store: Store,
        clock: Clock,
        *,
        deliver_events: bool,
        max_retries: int,
        dispatcher: Dispatcher,
        predicates: dict[str, Predicate],
        settings: _Settings | None = None,
    ) -> None:
        self.program = program
        self.store = store
        self.clock = clock
        self.max_retries = max_retries
        self._deliver_events = deliver_events
        self._dispatcher = dispatcher
        self._predicates = predicates
        self._settings = settings if settings is not None else _Settings.of(program)
        self._tier_ranks: dict[str, int] = (
            {t.name: i for i, t in enumerate(program.tiers.levels)} if program.tiers else {}
        )

    def with_store(self, store: Store) -> Core:
        """This wiring on another store (an app session's); subscribers and predicates shared."""
        return Core(
            self.program,
            store,
            self.clock,
            deliver_events=self._deliver_events,
            max_retries=self.max_retries,
            dispatcher=self._dispatcher,
            predicates=self._predicates,
            settings=self._settings,
        )

    def _publish_after_commit(self, messages: list[OutboxMessage]) -> None:
        self._publish(messages, force=True)

    def _next_level_xp(self, level: int) -> int | None:
        spec = self.program.levels
        if spec is None or level >= spec.level_curve.max_level:
            return None
        return spec.level_curve.xp_for_level(level + 1)

    def _tier_value(self, record: MemberRecord, now: datetime) -> Decimal | None:
        spec = self.program.tiers
        if spec is None:
            return None
        buckets, total = _tier_metric(record.state)
        return tiers.value_at(spec, buckets, total, _time.local_date(now, record.timezone))

    def _dropped_currencies(self, accounts: Mapping[str, int]) -> list[str]:
        """Currencies the program no longer declares that the member still holds (a balance,
        pending points or debt): kept in the store, and shown."""
        return sorted(
            {
                account.partition(":")[0]
                for account, amount in accounts.items()
                if amount and account.partition(":")[0] not in self.program.currencies
            }
        )

    def _level_xp(self, record: MemberRecord, accounts: Mapping[str, int]) -> int:
        """What the level reads: the lifetime credits of the levels' currency (points, say,
        whose balance spends go down), else the ``xp`` balance."""
        spec = self.program.levels
        if spec is None or spec.currency == "xp":
            return accounts.get("xp", 0)
        return int(record.state.get("earned", {}).get(spec.currency, 0))

    def _held_badges(self, record: MemberRecord) -> list[BadgeAwarded]:
        out: list[BadgeAwarded] = []
        for name, held in sorted(record.state.get("badges", {}).items()):
            badge = self.program.badges.get(name)
            if badge is None:  # the program dropped it; the member keeps every award
                tiers_held = record.state.get("badge_tiers", {}).get(name)
                if tiers_held:
                    out.extend(BadgeAwarded(badge=name, tier=t) for t in tiers_held)
                else:
                    out.extend(
                        BadgeAwarded(badge=name, occurrence=n) for n in range(1, max(held, 1) + 1)
                    )
            elif badge.kind == "tiered":
                recorded = record.state.get("badge_tiers", {}).get(name)
                tiers_now = {t.name: t for t in badge.tiers}
                for tier_name in badges.tiers_held(self.program, name, held, recorded):
                    t = tiers_now.get(tier_name)
                    if t is None:  # a tier the program dropped; the member keeps it
                        out.append(BadgeAwarded(badge=name, tier=tier_name))
                        continue
                    paid = _paid({**badge.reward, **t.reward})
                    out.append(
                        BadgeAwarded(
                            badge=name, tier=t.name, reward=sum(paid.values()), rewards=paid
                        )
                    )
            else:
                paid = _paid(badge.reward)
                out.extend(
                    BadgeAwarded(
                        badge=name, occurrence=n, reward=sum(paid.values()), rewards=dict(paid)
                    )
                    # Every award held: a badge made one-off since keeps its occurrences.
                    for n in range(1, max(held, 1) + 1)
                )
        return out

    def _badge_progress(
        self, record: MemberRecord | None, member_id: str, name: str
    ) -> BadgeProgress:
        badge = self.program.badges[name]
        if record is None:
            record = self._new_member(member_id, self._now())
        self._check_predicates([name])
        step = _Step(record, self._now(), None, None)
        held = record.state.get("badges", {}).get(name, 0)
        recorded = record.state.get("badge_tiers", {}).get(name)
        facts = self._badge_facts(step, None)
        current, target = badges.progress(self.program, name, facts, held, recorded)
        complete = badges.exhausted(self.program, name, held, recorded)
        return BadgeProgress(
            badge=name,
            current=current,
            target=target,
            held=held,
            complete=complete,
            secret=badge.secret,
        )

    def _check_points(self, call: str) -> None:
        """Redemption and expiry reminders work on the spendable currency named points;
        without one, saying so beats reporting a balance of 0 or no lots."""
        points = self.program.currencies.get("points")
        if points is None or not points.spendable:
            raise NotFoundError(
                f"unknown currency 'points': {call} works on the program's spendable "
                "currency named 'points', which it does not declare"
            )

    def _check_adjustable(self, currency: str) -> None:
        _named(self.program.currencies, currency, "currency")
        levels_spec = self._settings.levels
        if currency not in self._spendable or (
            levels_spec is not None and currency == levels_spec.currency
        ):
            raise InvalidEventError(
                f"only spendable currencies can be adjusted, and {currency!r} is not one "
                "(reverse the event that credited it instead)"
            )

    def _reward_price(self, reward: object) -> int:
        """The points price of a catalog reward."""
        item = _named(self.program.catalog, reward, "reward")
        return rewards.points_price(
            cash_value=item.cash_value,
            exchange_ratio=item.exchange_ratio or self.program.redemption.exchange_ratio,
            cost_rate=item.cost_rate,
            price=item.price,
            max_discount=item.max_discount,
        )

    def _board_period(
        self, metric: object, period: object, tier: object
    ) -> str | tuple[datetime, datetime]:
        """A leaderboard's period key or window from the caller's arguments, checked."""
        if not isinstance(metric, str) or metric not in self.program.currencies:
            raise NotFoundError(f"unknown metric {metric!r}: use a currency of the program")
        if tier is not None and (not isinstance(tier, str) or tier not in self._tier_ranks):
            raise NotFoundError(f"unknown tier {tier!r}")
        if isinstance(period, tuple):
            if len(period) != 2 or not all(isinstance(t, datetime) for t in period):
                raise InvalidTimeError(
                    f"a leaderboard window is a (start, end) pair of datetimes, not {period!r}"
                )
            start, end = (ensure_aware(t, "window bound") for t in period)
            if end <= start:
                raise InvalidTimeError("a leaderboard window needs end after start")
            return start, end
        day = _time.local_date(self._now(), self.program.timezone)
        if period == "all":
            return "all"
        if period == "day":
            return f"day:{day.isoformat()}"
        if period == "week":
            return f"week:{_time.week_start(day, self.program.week_start_index).isoformat()}"
        if period == "month":
            return f"month:{_time.month_key(day)}"
        raise InvalidEventError(
            f"unknown period {period!r}: use all, day, week, month or a (start, end) window"
        )

    def _window_board(
        self, metric: str, window: tuple[datetime, datetime], tier: str | None
    ) -> list[tuple[str, int]]:
        totals = self.store.earned_between(metric, window[0], window[1])
        rows = [
            (m, s)
            for m, s in totals.items()
            if s > 0 and (tier is None or self._member_tier(m) == tier)
        ]
        rows.sort(key=lambda r: (-r[1], r[0]))
        return rows

    def _member_tier(self, member_id: str) -> str | None:
        record = self.store.get_member(member_id)
        return record.tier if record is not None else None

    def _deliver_all(self, messages: list[OutboxMessage]) -> None:
        for msg in messages:
            self._dispatcher.deliver(msg)

    # Internals: validation --------------------------------------------------------------

    @property
    def _spendable(self) -> list[str]:
        return [c for c, spec in self.program.currencies.items() if spec.spendable]

    def _now(self) -> datetime:
        return ensure_aware(self.clock.now(), "clock time")

    @staticmethod
    def _check_key(key: object) -> str | None:
        """A caller's idempotency key: None or storable, non-empty text."""
        if key is None:
            return None
        if not isinstance(key, str) or not key:
            raise InvalidEventError(f"idempotency key must be a non-empty string, not {key!r}")
        problem = _text_problem(key)
        if problem is not None:
            raise InvalidEventError(f"idempotency key {key!r} {problem}")
        return key

    @staticmethod
    def _check_member_id(member_id: object) -> str:
        """A caller's member id: storable, non-blank text."""
        if not isinstance(member_id, str) or not member_id.strip():
            raise InvalidEventError(f"member id must be a non-empty string, not {member_id!r}")
        problem = _text_problem(member_id)
        if problem is not None:
            raise InvalidEventError(f"member id {member_id!r} {problem}")
        return member_id

    def track(
        self,
        member_id: object,
        action: object,
        at: object,
        amount: object,
        key: object,
        attributes: object,
    ) -> Outcome:
        """:meth:`gamify.Engine.track` on the caller's arguments, checked here."""
        event = self._check(member_id, action, at, amount, key, attributes, self._now())
        return self._write(lambda: self._track_once(event, self._lock_set(event)))

    def _check(
        self,
        event_member_id: object,
        event_action: object,
        event_at: object,
        event_amount: object,
        event_key: object,
        event_attributes: object,
        now: datetime,
    ) -> _Checked:
        """One event as the caller gave it, checked and normalised (the arguments take any
        value: a wrong one raises gamify's error, not a compiled function's TypeError)."""
        member_id = self._check_member_id(event_member_id)
        if not isinstance(event_action, str):
            raise InvalidEventError(f"action must be a string, not {event_action!r}")
        action = event_action
        amount = _normalize_amount(event_amount)
        key = self._check_key(event_key)
        if event_at is None:
            at, given = now, False
        else:
            at, given = ensure_aware(event_at, "event time"), True
            if at > now:
                raise InvalidTimeError(
                    f"event time {at.isoformat()} is after the clock ({now.isoformat()})"
                )
        if (
            event_attributes is not None
            and type(event_attributes) is not dict  # the common case, without the ABC check
            and not isinstance(event_attributes, Mapping)
        ):
            raise InvalidEventError(f"attributes must be a mapping, not {event_attributes!r}")
        given_attributes: dict[object, Any] = dict(event_attributes or {})
        if any(not isinstance(name, str) for name in given_attributes):
            raise InvalidEventError("attribute names must be strings")
        attributes = cast(dict[str, Any], given_attributes)
        canonical = "{}"
        # Without a key the JSON text is needed only as a check, which a flat table of
        # plain values passes without being encoded.
        if attributes and (key is not None or not _flat_json(attributes)):
            try:
                canonical = _CANONICAL_JSON.encode(_json_numbers(attributes))
            except (TypeError, ValueError) as exc:
                raise InvalidEventError(f"attributes must be JSON-serialisable: {exc}") from None
        checked = _Checked(member_id, action, at, given, amount, key, attributes, now)
        if key is not None:
            # The payload's hash, then the instant when the caller passed one: a retry
            # is compared on time only when both calls named it.
            checked.fingerprint = _fingerprint(action, _canonical_amount(amount), canonical) + (
                f"@{at.isoformat()}" if given else ""
            )
        return checked

    def _check_against_program(self, ev: _Checked, tz: str) -> None:
        """What the program decides about an event: its action, its amount and how late it
        may be. Checked after a key's replay, which answers even when the program changed."""
        settings = self._settings
        takes = settings.amounts.get(ev.action)
        if takes is None:
            raise UnknownActionError(ev.action)
        if ev.amount is None and takes == "required":
            raise InvalidAmountError(None, f"action {ev.action!r} requires an amount")
        if ev.amount is not None and takes == "none":
            raise InvalidAmountError(ev.amount, f"action {ev.action!r} takes no amount")
        days = settings.late_event_days
        # Calendar days in the member's zone (a DST change moves the limit by an hour),
        # worked out only near the limit.
        if (
            ev.at_given
            and ev.at < ev.now - timedelta(days=days - 1)
            and ev.at < _time.add_local(ev.now, tz, days=-days)
        ):
            raise InvalidTimeError(
                f"event time {ev.at.isoformat()} is more than {days} "
                "days late (the program's late_event_days)"
            )

    # Internals: units of work ------------------------------------------------------------

    def _unit(self, member_ids: Sequence[str]) -> AbstractContextManager[UnitOfWork]:
        if len(member_ids) == 1:  # nearly every unit: one member, already in order
            return self.store.unit_of_work(member_ids)
        return self.store.unit_of_work(sorted(set(member_ids)))

    def _write(self, run: Callable[[], tuple[_T, list[OutboxMessage]]]) -> _T:
        """Run a write (retried as :meth:`_retrying` says), then deliver its domain events."""
        result, messages = self._retrying(run)
        self._publish(messages)
        return result

    def _retrying(self, run: Callable[[], _T]) -> _T:
        # A unique-key race (two first events with one key) resolves on the
        # second try, which finds the first one's record. Deadlocks and
        # serialization failures are retried a bounded number of times, but
        # never inside an app's own transaction: the app retries that.
        attempt = 0
        while True:
            try:
                return run()
            except (DuplicateError, ConcurrencyError) as exc:
                attempt += 1
                if "app_session" in self.store.capabilities and getattr(self.store, "bound", False):
                    raise
                if attempt > self.max_retries:
                    if isinstance(exc, ConcurrencyError):
                        raise
                    raise ConcurrencyError(f"gave up after {attempt} attempts: {exc}") from exc

    def _publish(self, messages: list[OutboxMessage], *, force: bool = False) -> None:
        # A store bound to an app's session hands the messages over after the
        # app commits (through _publish_after_commit), not when track returns.
        if not messages or not self._deliver_events:
            return
        if not force and getattr(self.store, "bound", False):
            return
        for msg in messages:
            self._dispatcher.deliver(msg)
        try:
            self.store.ack_outbox([m.event_id for m in messages])
        except Exception:
            # The event is committed; an unacknowledged message is only delivered
            # again by drain_outbox (at least once), never raised to the caller.
            log.exception("could not acknowledge %d domain events", len(messages))

    @staticmethod
    def _known_member(uow: UnitOfWork, member_id: str) -> MemberRecord:
        """The member as stored; a call that needs one refuses an unknown id."""
        member = uow.load_member(member_id)
        if member is None:
            raise UnknownMemberError(member_id)
        return member

    def _new_member(self, member_id: str, now: datetime) -> MemberRecord:
        """A member as first seen: in the program's zone and, with tiers, the first tier."""
        tiers = self.program.tiers
        return MemberRecord(
            member_id=member_id,
            timezone=self.program.timezone,
            tier=tiers.levels[0].name if tiers is not None else None,
            created_at=now,
        )

    def _replay(
        self, uow: UnitOfWork, member_id: str, kind: str, key: str | None, fingerprint: str
    ) -> str | None:
        """The first result of a keyed call (JSON), or None; a different payload is a conflict."""
        if key is None:
            return None
        record = uow.get_idempotency(member_id, kind, key)
        if record is None:
            return None
        first_payload, _, first_at = record.fingerprint.partition("@")
        payload, _, at = fingerprint.partition("@")
        if first_payload != payload or (first_at and at and first_at != at):
            raise IdempotencyConflictError(member_id, key, kind)
        return record.result

    def _remember(
        self, step: _Step, kind: str, key: str | None, fingerprint: str, result: str
    ) -> None:
        if key is not None:
            step.changes.idempotency.append(
                IdempotencyRecord(step.member.member_id, kind, key, fingerprint, result, step.at)
            )

    # Internals: track --------------------------------------------------------------------

    def _lock_set(self, ev: _Checked) -> list[str]:
        """The members an event may touch: itself, and its referrer on a qualifying action."""
        scheme = self._settings.referral
        if scheme is None or ev.action != scheme.qualifying_action:
            return [ev.member_id]
        record = self.store.get_member(ev.member_id)
        if record is None or record.referrer is None or record.state.get("ref_done"):
            return [ev.member_id]
        return [ev.member_id, record.referrer]

    def _track_once(self, ev: _Checked, locked: list[str]) -> tuple[Outcome, list[OutboxMessage]]:
        """Track one event holding the locks of ``locked`` (see :meth:`_lock_set`)."""
        with self._unit(locked) as uow:
            first = self._replay(uow, ev.member_id, "track", ev.key, ev.fingerprint)
            if first is not None:
                return Outcome.model_validate_json(first), []
            member = uow.load_member(ev.member_id) or self._new_member(ev.member_id, ev.at)
            self._check_against_program(ev, member.timezone)
            zone_now = member.timezone
            # A late event is read in the zone the member was in at its instant.
            member.timezone = _zone_at(member, ev.at)
            step = _Step(member, ev.at, ev.key, ev.action, locked=locked, home_zone=zone_now)
            outcome = self._apply_event(uow, step, ev)
            member.timezone = zone_now
            if self._emitting and any(c.amount for c in step.credits):
                self._announce(
                    step,
                    "credited",
                    ev.member_id,
                    ev.at,
                    action=ev.action,
                    key=ev.key,
                    credits=[c.model_dump(mode="json") for c in step.credits],
                )
            if ev.key is not None:
                # Defaults are left out: the record stays small, and validation restores them.
                first = _OUTCOME_JSON.to_json(outcome, exclude_defaults=True).decode()
                self._remember(step, "track", ev.key, ev.fingerprint, first)
            step.changes.members.append(step.member)
            self._commit(uow, step)
            return outcome, step.changes.outbox

    def _apply_event(self, uow: UnitOfWork, step: _Step, ev: _Checked) -> Outcome:
        """Run the components over one event and collect its effects in ``step``."""
        program = self.program
        settings = self._settings
        member = step.member
        state = member.state
        day = _time.local_date(ev.at, member.timezone)

        counts = dict(state.get("counts", {}))
        counts[ev.action] = counts.get(ev.action, 0) + 1
        state["counts"] = counts
        # What the event moved, for the badges indexed by it (none to tell without badges).
        changed: set[tuple[str, str]] = (
            {("count", ev.action), ("custom", ev.action), ("custom", "*")}
            if settings.badges_by_input
            else set()
        )
        if ev.amount is not None:
            sums = dict(state.get("sums", {}))
            sums[ev.action] = str(Decimal(sums.get(ev.action, "0")) + ev.amount)
            state["sums"] = sums
            changed.add(("sum", ev.action))

        context = (
            self._formula_context(ev, counts[ev.action], member.level)
            if ev.action in settings.formula_actions
            else {}
        )
        streak_results = self._record_streaks(step, ev, context, changed)

        placed = self._place_dropped_tier(step, day, changed)
        tier = self._tier(member)
        facts = earning.MemberFacts(
            tags=member.tags,
            birthday=member.birthday,
            local_day=day,
            tier_multiplier=tier.multiplier if tier is not None else None,
        )
        awards = earning.awards(program, ev.action, ev.amount, ev.attributes, facts, ev.at, context)
        capped, state["caps"] = caps_component.apply(
            program, ev.action, awards, state.get("caps", {}), day
        )
        cap_hits: list[CapHit] = []
        for item in capped:
            rule = item.award.rule
            if item.cut and item.cap is not None:
                cap_hits.append(built(CapHit, cap=item.cap, rule=rule.name, cut=item.cut))
            if item.amount > 0 or item.cut > 0:
                self._credit(
                    uow,
                    step,
                    rule.currency,
                    item.amount,
                    kind="earn",
                    reason=rule.name,
                    rule=rule,
                    capped=item.cut,
                    multiplier=item.award.multiplier,
                )
        for name, result in streak_results:
            for milestone in result.milestones:
                self._reward(
                    uow, step, milestone.reward, f"streak {name} {milestone.length}", "streak"
                )
                self._announce(
                    step,
                    "streak_milestone",
                    member.member_id,
                    ev.at,
                    streak=name,
                    length=milestone.length,
                )
        tier_change = self._update_tier(step, ev, day, changed)
        if placed is not None:
            to_tier = tier_change.to_tier if tier_change is not None else placed.to_tier
            tier_change = placed.model_copy(update={"to_tier": to_tier})
        referral_rewards = self._qualify_referral(uow, step, ev)
        if settings.renewal is not None and ev.action in settings.renewal.actions:
            self._renew_lots(uow, step, ev.now)
        level_ups, awarded = self._progress(uow, step, changed, ev)
        paid_before = len(step.credits)
        challenge_states = self._run_challenges(uow, step, ev)
        awarded += step.challenge_badges
        for _ in range(10):  # rewards feeding challenges settle in a few rounds
            if len(step.credits) == paid_before:
                break
            step.challenge_badges = []
            more_ups, more_badges = self._progress(uow, step, set(), ev)
            level_ups, awarded = level_ups + more_ups, awarded + more_badges
            # What challenges, levels and badges just paid counts toward earned conditions.
            paid, paid_before = step.credits[paid_before:], len(step.credits)
            self._count_paid(uow, step, ev, paid, challenge_states)
            awarded += step.challenge_badges
        return built(
            Outcome,
            member_id=ev.member_id,
            action=ev.action,
            at=ev.at,
            key=ev.key,
            amount=ev.amount,
            credits=step.credits,
            caps=cap_hits,
            level_ups=level_ups,
            level_down=None,
            badges=awarded,
            tier_change=tier_change,
            streaks=[
                built(
                    StreakState,
                    name=name,
                    length=r.state["len"],
                    longest=r.state["longest"],
                    tokens=r.state.get("tokens", 0),
                    extended=r.extended,
                    broken=r.broken,
                    frozen_periods=r.frozen,
                    milestones=[m.length for m in r.milestones],
                )
                for name, r in streak_results
            ],
            challenges=challenge_states,
            referral_rewards=referral_rewards,
        )

    # Internals: game components ------------------------------------------------------------

    def _record_streaks(
        self,
        step: _Step,
        ev: _Checked,
        context: dict[str, Decimal | int],
        changed: set[tuple[str, str]],
    ) -> list[tuple[str, streaks.StreakStep]]:
        """Count the event toward the streaks of its action; put their lengths in ``context``."""
        names = self._settings.streaks_by_action.get(ev.action, ())
        if not names:
            return []
        state = step.state
        all_states = dict(state.get("streaks", {}))
        results: list[tuple[str, streaks.StreakStep]] = []
        for name in names:
            result = streaks.record(
                self.program.streaks[name],
                all_states.get(name),
                ev.at,
                step.member.timezone,
                self.program.week_start_index,
            )
            all_states[name] = result.state
            results.append((name, result))
            context[f"streak_{name}"] = result.state["len"]
            step.counted_streaks.add(name)
            if result.counted:
                changed.add(("streak", name))
                if result.broken:
                    self._announce(step, "streak_broken", step.member.member_id, ev.at, streak=name)
                self._announce(
                    step,
                    "streak_extended",
                    step.member.member_id,
                    ev.at,
                    streak=name,
                    length=result.state["len"],
                )
        context["streak"] = context[f"streak_{names[0]}"]
        state["streaks"] = all_states
        return results

    def _reward(
        self, uow: UnitOfWork, step: _Step, rewards: Mapping[str, int], reason: str, source: str
    ) -> None:
        """Pay a reward: neither multiplied nor capped, using no cap room."""
        for currency, amount in rewards.items():
            if amount > 0:
                self._credit(
                    uow, step, currency, amount, kind="reward", reason=reason, source=source
                )

    def _progress(
        self, uow: UnitOfWork, step: _Step, changed: set[tuple[str, str]], ev: _Checked | None
    ) -> tuple[list[LevelUp], list[BadgeAwarded]]:
        """Levels and badges, repeated while their own rewards move what they watch."""
        settings = self._settings
        level_ups: list[LevelUp] = []
        badges_out: list[BadgeAwarded] = []
        spec = settings.levels
        if spec is None and not settings.badges_by_input:
            return level_ups, badges_out
        if (
            spec is not None
            and spec.on_curve_change == "recompute"
            and step.state.get("curve", spec.signature) != spec.signature
        ):
            # The curve changed: the level is read again from XP (never lowered).
            changed.add(("earned", spec.currency))
        seen_credits = 0
        for _ in range(10):  # rewards feeding rewards settle in a few rounds
            for credit in step.credits[seen_credits:]:
                changed.add(("earned", credit.currency))
            seen_credits = len(step.credits)
            if not changed:
                break
            if spec is not None and ("earned", spec.currency) in changed:
                reached = self._level_up(uow, step)
                if reached:
                    level_ups.extend(reached)
                    changed.add(("level", ""))
            names = [
                name for key in sorted(changed) for name in settings.badges_by_input.get(key, ())
            ]
            changed = set()
            if names:
                badges_out.extend(self._award_badges(uow, step, names, ev))
        return level_ups, badges_out

    def _level_up(self, uow: UnitOfWork, step: _Step) -> list[LevelUp]:
        spec = self._settings.levels
        assert spec is not None
        member = step.member
        state = step.state
        xp = state.get("earned", {}).get(spec.currency, 0)
        state["curve"] = spec.signature
        change = levels.progress(spec, member.level, xp, state.get("level_paid", 1))
        member.level = change.level
        state["level_paid"] = change.paid
        out: list[LevelUp] = []
        for level, paid in change.reached:
            self._reward(uow, step, paid, f"level {level}", "level")
            out.append(built(LevelUp, level=level, reward=sum(paid.values()), rewards=_paid(paid)))
            self._announce(step, "level_up", member.member_id, step.at, level=level, rewards=paid)
        return out

    def _badge_facts(self, step: _Step, ev: _Checked | None) -> BadgeFacts:
        state = step.state
        facts = step.facts
        if facts is not None:
            # Later checks of one step: only levels, tiers, totals and badges can have moved.
            facts.level = step.member.level
            facts.tier_rank = self._tier_rank(step.member.tier)
            facts.earned = state.get("earned", {})
            facts.badges = state.get("badges", {})
            facts.badge_tiers = state.get("badge_tiers", {})
            return facts
        program = self.program
        sums: dict[str, str] = state.get("sums", {})
        runs: dict[str, Any] = state.get("streaks", {})
        if not runs.keys() <= program.streaks.keys():  # a streak the program no longer has
            runs = {name: run for name, run in runs.items() if name in program.streaks}

        # The closure takes what it reads, not the step: the step keeps the facts, and a
        # cycle between them would leave each event's writes to the garbage collector.
        counted, at, tz = step.counted_streaks, step.at, step.member.timezone

        def streak_length(name: str) -> int:
            # A streak this event counted has its stored length; others are read now.
            run = runs[name]
            if name in counted:
                return int(run["len"])
            return streaks.current_length(
                program.streaks[name], run, at, tz, program.week_start_index
            )

        # Read lazily: most checks look at one metric, and these two cost the most to read.
        step.facts = badges.BadgeFacts(
            member_id=step.member.member_id,
            counts=state.get("counts", {}),
            sums=badges.LazyMapping(sums, lambda action: Decimal(sums[action])),
            streaks=badges.LazyMapping(runs, streak_length),
            level=step.member.level,
            tier_rank=self._tier_rank(step.member.tier),
            tier_ranks=self._tier_ranks,
            earned=state.get("earned", {}),
            badges=state.get("badges", {}),
            badge_tiers=state.get("badge_tiers", {}),
            action=ev.action if ev else None,
            attributes=ev.attributes if ev else {},
            predicates=self._predicates,
        )
        return step.facts

    def _award_badges(
        self, uow: UnitOfWork, step: _Step, names: list[str], ev: _Checked | None
    ) -> list[BadgeAwarded]:
        held = step.state.get("badges", {})
        program = self.program
        self._name_held_tiers(uow, step)
        open_names = badges.open_names(program, names, held, step.state.get("badge_tiers"))
        if not open_names:
            return []
        self._check_predicates(open_names)
        due = badges.evaluate(program, open_names, self._badge_facts(step, ev))
        return self._grant_badges(uow, step, due) if due else []

    def _name_held_tiers(self, uow: UnitOfWork, step: _Step) -> None:
        """Record the names of the tiers held of tiered badges, once, for state written
        before the names were kept (it counts the tiers held), from the store's award
        records. Later awards add their tier's name as they are granted."""
        state = step.state
        if "badge_tiers" in state or not state.get("badges"):
            return
        tiered = self._settings.tiered_badges
        named: dict[str, list[str]] = {}
        for name, held in state["badges"].items():
            if name not in tiered or not held:
                continue
            found = uow.award_tiers(step.member.member_id, name)
            if found is None:  # the store cannot say: the first tiers of the list are read
                continue
            order = {t: i for i, t in enumerate(tiered[name])}
            named[name] = sorted(found, key=lambda t: (order.get(t, len(order)), t))
        state["badge_tiers"] = named

    def _grant_badges(
        self, uow: UnitOfWork, step: _Step, due: Sequence[BadgeDue]
    ) -> list[BadgeAwarded]:
        """Record each award (unique in the store), pay its reward and announce it."""
        held = dict(step.state.get("badges", {}))
        named = dict(step.state.get("badge_tiers", {}))
        out: list[BadgeAwarded] = []
        for award in due:
            if award.tier:
                # Tiers are known by name: a program that inserts, reorders or renames
                # tiers then never awards a held one again.
                have = badges.tiers_held(
                    self.program, award.badge, held.get(award.badge, 0), named.get(award.badge)
                )
                named[award.badge] = [*have, award.tier]
            held[award.badge] = held.get(award.badge, 0) + 1
            step.changes.awards.append(
                Award(step.member.member_id, award.badge, award.tier, award.occurrence, step.at)
            )
            label = f"badge {award.badge}" + (f" {award.tier}" if award.tier else "")
            self._reward(uow, step, award.reward, label, "badge")
            out.append(
                built(
                    BadgeAwarded,
                    badge=award.badge,
                    tier=award.tier or None,
                    occurrence=award.occurrence,
                    reward=sum(award.reward.values()),
                    rewards=_paid(award.reward),
                )
            )
            self._announce(
                step,
                "badge_awarded",
                step.member.member_id,
                step.at,
                badge=award.badge,
                tier=award.tier or None,
                occurrence=award.occurrence,
            )
        step.state["badges"] = held
        if named:
            step.state["badge_tiers"] = named
        return out

    def _check_predicates(self, names: Iterable[str]) -> None:
        needed = self._settings.badge_predicates
        for name in names:
            predicate = needed.get(name)
            if predicate is not None and predicate not in self._predicates:
                raise ConfigurationError(
                    f"badge {name!r} needs the predicate {predicate!r}: "
                    "register it with engine.register_predicate"
                )

    # Internals: loyalty components ---------------------------------------------------------------

    def _tier(self, member: MemberRecord) -> Tier | None:
        spec = self._settings.tiers
        if spec is None:
            return None
        return spec.levels[self._tier_ranks.get(member.tier or "", 0)]

    def _place_dropped_tier(
        self, step: _Step, day: date, changed: set[tuple[str, str]] | None
    ) -> TierChange | None:
        """Place a member whose tier the program no longer has (removed or renamed) in the
        tier their qualifying value reaches on local ``day``, as a review would judge it."""
        spec = self._settings.tiers
        member = step.member
        if spec is None or member.tier is None or member.tier in self._tier_ranks:
            return None
        index = tiers.place(spec, *_tier_metric(step.state), day)
        return self._set_tier(step, index, upgraded=True, changed=changed)

    def _update_tier(
        self, step: _Step, ev: _Checked, day: date, changed: set[tuple[str, str]]
    ) -> TierChange | None:
        """Add the event's qualifying amount; upgrade at once when a threshold is met."""
        spec = self._settings.tiers
        if spec is None:
            return None
        if spec.metric == "amount":
            amount = ev.amount if ev.action == spec.action and ev.amount else ZERO
        else:
            amount = Decimal(
                sum(c.amount for c in step.credits if c.source == "rule" and c.currency == "points")
            )
        member = step.member
        current = self._tier_ranks.get(member.tier or "", 0)
        if member.tier is None:
            member.tier = spec.levels[0].name
        if not amount:
            return None
        self._add_tier_metric(step, day, amount)
        value = tiers.value_at(spec, *_tier_metric(step.state), day)
        reached = spec.qualify(value)
        if reached <= current:
            return None
        if ev.at_given and ev.at < tiers.previous_review(spec, ev.now, member.timezone):
            # A late event from before the last review counts, but reopens no decision.
            return None
        return self._set_tier(step, reached, upgraded=True, changed=changed)

    def _add_tier_metric(self, step: _Step, day: date, amount: Decimal) -> None:
        spec = self.program.tiers
        assert spec is not None
        state = step.state
        # A rolling window needs its months; a calendar-year review, the whole last year.
        kept = max(spec.months, 12) + 12
        state["tierm"] = tiers.add(state.get("tierm", {}), day, amount, kept)
        state["tier_total"] = str(Decimal(state.get("tier_total", "0")) + amount)

    def _set_tier(
        self, step: _Step, index: int, *, upgraded: bool, changed: set[tuple[str, str]] | None
    ) -> TierChange:
        spec = self.program.tiers
        assert spec is not None
        member = step.member
        old = member.tier
        member.tier = spec.levels[index].name
        if upgraded:
            step.state["tier_since"] = step.at.isoformat()
        zone_now = step.home_zone or member.timezone
        member.review_at = tiers.next_review(spec, step.at, zone_now) if index > 0 else None
        if changed is not None:
            changed.add(("tier", ""))
        self._announce(
            step, "tier_changed", member.member_id, step.at, from_tier=old, to_tier=member.tier
        )
        return TierChange(from_tier=old, to_tier=member.tier, member_id=member.member_id)

    def _welcome(self, uow: UnitOfWork, step: _Step) -> None:
        """Pay the referee's welcome reward (on joining, or when the referral qualifies)."""
        scheme = self._settings.referral
        assert scheme is not None
        self._reward(
            uow, step, {scheme.currency: scheme.referee_reward}, "referral welcome", "referral"
        )

    def _qualify_referral(self, uow: UnitOfWork, step: _Step, ev: _Checked) -> list[Credit]:
        """Reward the referrer when the referee first completes the qualifying action."""
        scheme = self._settings.referral
        member = step.member
        if (
            scheme is None
            or member.referrer is None
            or ev.action != scheme.qualifying_action
            or step.state.get("ref_done")
            or (ev.amount or ZERO) < scheme.min_amount
        ):
            return []
        if member.referrer not in step.locked:
            # The member joined a referrer after the lock set was chosen: run again
            # holding both locks rather than write the referrer unlocked.
            raise ConcurrencyError(f"referrer of {member.member_id!r} was not locked")
        referrer = uow.load_member(member.referrer)
        if referrer is None:
            return []
        zone_now = referrer.timezone
        # A late event counts in the referrer's period (and lot) of the zone they were in.
        referrer.timezone = _zone_at(referrer, step.at)
        step.state["ref_done"] = True
        if scheme.referee_reward_on == "qualify":
            self._welcome(uow, step)
        other = _Step(referrer, step.at, None, step.action, changes=step.changes)
        state = other.state

        def cap_key(day: date) -> str:
            return _time.month_key(day) if scheme.cap_period == "month" else str(day.year)

        period_key = cap_key(_time.local_date(step.at, referrer.timezone))
        rewarded = dict(state.get("ref_rewarded", {}))
        if scheme.max_rewarded is None or rewarded.get(period_key, 0) < scheme.max_rewarded:
            rewarded[period_key] = rewarded.get(period_key, 0) + 1
            # Counters of periods a late event can still reach are kept (keys sort by time).
            oldest = cap_key(
                _time.local_date(ev.now, referrer.timezone)
                - timedelta(days=self.program.late_event_days + 1)
            )
            state["ref_rewarded"] = {k: v for k, v in rewarded.items() if k >= oldest}
            value = Decimal(scheme.referrer_fixed) + scheme.referrer_share * (ev.amount or ZERO)
            points = earning.round_award(value, self.program.rounding)
            if scheme.referrer_cap is not None:
                points = min(points, scheme.referrer_cap)
            self._reward(
                uow, other, {scheme.currency: points}, f"referral {member.member_id}", "referral"
            )
        state["ref_count"] = state.get("ref_count", 0) + 1
        if scheme.bonus_after is not None and state["ref_count"] == scheme.bonus_after:
            self._reward(uow, other, {scheme.currency: scheme.bonus}, "referral bonus", "referral")
        self._progress(uow, other, set(), None)  # the rewards may lift the referrer's level
        self._finish(other)
        referrer.timezone = zone_now
        step.changes.members.append(referrer)
        self._announce(
            step,
            "referral_qualified",
            referrer.member_id,
            step.at,
            referee=member.member_id,
            credits=[c.model_dump(mode="json") for c in other.credits],
        )
        return other.credits

    def _renew_lots(self, uow: UnitOfWork, step: _Step, now: datetime) -> None:
        """Push back the expiry of lots due within the renewal window of the event.

        A late event renews only lots still alive now: a lot past its expiry instant is
        expired, whether or not run_due has booked it yet."""
        spec = self.program.renewal
        assert spec is not None
        horizon = _time.add_local(step.at, step.member.timezone, days=spec.within_days)
        alive_after = max(step.at, now)
        for lot in uow.lots(step.member.member_id, "points"):
            if (
                lot.status in ("open", "pending")  # pending points would expire unspent
                and lot.expires_at is not None
                and alive_after < lot.expires_at < horizon
            ):
                step.changes.lot_changes.append(
                    LotChange(
                        lot.lot_id,
                        lot.remaining,
                        lot.status,
                        ledger.renewed_expiry(
                            lot.expires_at, spec.months, _zone_at(step.member, lot.earned_at)
                        ),
                    )
                )

    def _run_challenges(self, uow: UnitOfWork, step: _Step, ev: _Checked) -> list[ChallengeState]:
        """Enrol, count, fail and complete the challenges this event touches."""
        if not self._settings.has_challenges:
            return []
        program = self.program
        member = step.member
        tz = member.timezone
        stored: dict[str, Any] = step.state.get("challenges", {})
        runs = dict(stored)
        earned_now: dict[str, int] = {}
        for credit in step.credits:
            earned_now[credit.currency] = earned_now.get(credit.currency, 0) + credit.amount
        out: list[ChallengeState] = []
        for name, spec in program.challenges.items():
            if spec.actions and ev.action not in spec.actions:
                continue
            for goal in spec.conditions:
                if goal.kind == "custom" and goal.predicate not in self._predicates:
                    raise ConfigurationError(
                        f"challenge {name!r} needs the predicate {goal.predicate!r}: "
                        "register it with engine.register_predicate"
                    )
            run = runs.get(name)
            if run is not None and run["status"] != "active" and not spec.repeatable:
                continue  # completed or failed for good: nothing to count
            if run is not None and run["status"] == "active" and challenges.expired(run, ev.at):
                run = {**run, "status": "failed"}
                out.append(ChallengeState(name=name, status="failed", completed=False))
                self._announce(step, "challenge_failed", member.member_id, ev.at, challenge=name)
            if run is None or (spec.repeatable and run["status"] != "active"):
                if run is not None and ev.at < challenges.ended_at(run):
                    # A late event from before the last run ended: that run's outcome stands.
                    runs[name] = run
                    continue
                if spec.enrolment != "auto" or not challenges.can_enrol(spec, ev.at):
                    if run is not None:
                        runs[name] = run
                    continue
                run = challenges.enrol(spec, ev.at, tz, done=run["done"] if run else 0)
            if run["status"] == "active" and ev.at < datetime.fromisoformat(run["since"]):
                # An event from before the enrolment: nothing to count, no state to judge.
                runs[name] = run
                continue
            if run["status"] == "active":
                run = challenges.observe(spec, run, ev.action, ev.at, tz, earned_now)
                completed = self._complete_if_met(uow, step, ev, name, run)
                if completed is not None:
                    run = completed
                    out.append(ChallengeState(name=name, status="completed", completed=True))
                elif not any(c.name == name for c in out):
                    out.append(ChallengeState(name=name, status="active", completed=False))
            runs[name] = run
        if runs != stored:
            step.state["challenges"] = runs
        return out

    def _count_paid(
        self,
        uow: UnitOfWork,
        step: _Step,
        ev: _Checked,
        paid: Sequence[Credit],
        states: list[ChallengeState],
    ) -> None:
        """Count rewards paid after the challenges ran toward active runs' earned conditions
        and judge state conditions again (a paid reward may raise a level or grant a badge),
        completing the runs now met (``states`` gets their new state)."""
        stored: dict[str, Any] = step.state.get("challenges", {})
        earned: dict[str, int] = {}
        for credit in paid:
            earned[credit.currency] = earned.get(credit.currency, 0) + credit.amount
        runs = dict(stored)
        for name, run in stored.items():
            spec = self.program.challenges.get(name)
            if (
                spec is None
                or run["status"] != "active"
                or (spec.actions and ev.action not in spec.actions)
                # Counts cannot move here; earned totals move by what was paid; state
                # conditions (level, tier, streak, badge, custom) may have moved with it.
                or not any(
                    (g.currency in earned) if g.kind == "earned" else g.kind != "count"
                    for g in spec.conditions
                )
                or ev.at < datetime.fromisoformat(run["since"])  # a late event judges nothing
            ):
                continue
            run = challenges.observe(spec, run, "", ev.at, step.member.timezone, earned)
            completed = self._complete_if_met(uow, step, ev, name, run)
            if completed is not None:
                run = completed
                states[:] = [s for s in states if s.name != name]
                states.append(ChallengeState(name=name, status="completed", completed=True))
            runs[name] = run
        if runs != stored:
            step.state["challenges"] = runs

    def _complete_if_met(
        self, uow: UnitOfWork, step: _Step, ev: _Checked, name: str, run: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The run completed, its reward and badge paid, when its conditions now hold."""
        spec = self.program.challenges[name]
        if not (
            challenges.counts_met(spec, run)
            and challenges.is_complete(spec, run, self._badge_facts(step, ev))
        ):
            return None
        self._reward(uow, step, spec.reward, f"challenge {name}", "challenge")
        if spec.badge is not None:  # a one-off badge (the program allows no other kind)
            held = step.state.get("badges", {}).get(spec.badge, 0)
            if not held:
                due = badges.Due(spec.badge, "", 1, self.program.badges[spec.badge].reward)
                step.challenge_badges.extend(self._grant_badges(uow, step, [due]))
        self._announce(step, "challenge_completed", step.member.member_id, step.at, challenge=name)
        return {**run, "status": "completed", "done": run["done"] + 1, "ended": step.at.isoformat()}

    def _tier_rank(self, tier: str | None) -> int:
        return self._tier_ranks.get(tier, 0) if tier is not None else 0

    def _formula_context(self, ev: _Checked, count: int, level: int) -> dict[str, Decimal | int]:
        """What a rule's formula reads: the event's amount and numeric attributes, the count
        of the action including this event, and the member's level before it."""
        context: dict[str, Decimal | int] = {
            "amount": ev.amount or ZERO,
            "count": count,
            "level": level,
        }
        for name, value in ev.attributes.items():
            if isinstance(value, int | Decimal) and not isinstance(value, bool):
                context[name] = value
            elif isinstance(value, float) and math.isfinite(value):
                context[name] = Decimal(repr(value))
        return context

    # Internals: the ledger -----------------------------------------------------------------

    def _balances(self, uow: UnitOfWork, step: _Step) -> dict[str, int]:
        if step.balances is None:
            step.balances = uow.balances(step.member.member_id)
        return step.balances

    def _entry(
        self,
        step: _Step,
        account: str,
        amount: int,
        kind: Any,
        reason: str,
        lot_id: str | None = None,
        *,
        key: str | None = None,
    ) -> LedgerEntry:
        entry = LedgerEntry(
            new_id(),
            step.member.member_id,
            account,
            amount,
            step.at,
            kind,
            reason,
            key if key is not None else step.key,
            step.action,
            lot_id,
        )
        step.changes.entries.append(entry)
        if step.balances is not None:
            step.balances[account] = step.balances.get(account, 0) + amount
        return entry

    def _earned(self, step: _Step, currency: str, amount: int) -> None:
        """Count ``amount`` as earned: the lifetime total now, leaderboard totals at the end."""
        state = step.state
        if not step.earned:
            state["earned"] = dict(state.get("earned", {}))  # copied once per step
        state["earned"][currency] = state["earned"].get(currency, 0) + amount
        step.earned[currency] = step.earned.get(currency, 0) + amount

    def _commit(self, uow: UnitOfWork, step: _Step) -> None:
        self._finish(step)
        uow.apply(step.changes)

    def _announce(
        self, step: _Step, name: str, member_id: str, at: datetime, **payload: Any
    ) -> None:
        """Queue a domain event with the step's writes, if anyone will receive it
        (delivered in process to no one, it would only be written and deleted)."""
        if self._emitting:
            step.changes.outbox.append(message(name, member_id, at, **payload))

    @property
    def _emitting(self) -> bool:
        """Whether domain events go anywhere: to subscribers, or to the outbox for a worker."""
        return not self._deliver_events or self._dispatcher.listening

    def _finish(self, step: _Step) -> None:
        """Write what the step earned as one leaderboard delta per currency."""
        if not step.earned:
            return
        board_at = step.board_at or step.at
        day, week, month = self._board_keys(_time.local_date(board_at, self._settings.timezone))
        for currency, amount in step.earned.items():
            if amount:
                step.changes.earned.append(
                    EarnedDelta(step.member.member_id, currency, amount, day, week, month)
                )
        step.earned = {}

    @functools.lru_cache(maxsize=64)  # noqa: B019 - a few keys per engine; the engine lives long
    def _board_keys(self, day: date) -> tuple[str, str, str]:
        """The leaderboard period keys (day, week, month) of a day of the program's zone."""
        week = _time.week_start(day, self.program.week_start_index)
        return day.isoformat(), week.isoformat(), _time.month_key(day)

    def _credit(
        self,
        uow: UnitOfWork,
        step: _Step,
        currency: str,
        amount: int,
        *,
        kind: str,
        reason: str,
        rule: Rule | None = None,
        capped: int = 0,
        multiplier: Decimal = Decimal(1),
        source: str | None = None,
    ) -> Credit:
        """Write one credit: a ledger entry, a lot for spendable currencies, the earned totals."""
        if amount >= MAX_CREDIT:
            # Past some 4300 digits Python will not print an integer: give its size instead.
            shown = f"{amount:,}" if amount < 10**100 else f"about 10^{int(math.log10(amount))}"
            raise InvalidEventError(
                f"{reason!r} would credit {shown} {currency}, more than one credit may "
                f"pay ({MAX_CREDIT - 1:,}): check the event's amount and attributes"
            )
        member = step.member
        settings = self._settings
        spec = settings.levels
        if spec is not None and currency == spec.currency and amount > 0:
            room = levels.xp_room(spec, step.state.get("earned", {}).get(currency, 0))
            if room is not None and room < amount:
                capped, amount = capped + amount - room, room
        pending_until: datetime | None = None
        expires_at: datetime | None = None
        if amount > 0:
            if currency in settings.spendable:
                validity, pending_days = settings.credit_terms[rule.name if rule else None]
                if validity is not None:
                    expires_at = ledger.expiry_for(validity, step.at, member.timezone)
                if pending_days:
                    pending_until = _time.add_local(step.at, member.timezone, days=pending_days)
                lot_id = new_id()
                account = f"{currency}:pending" if pending_until else currency
                self._entry(step, account, amount, kind, reason, lot_id)
                remaining = amount
                if pending_until is None:
                    remaining -= self._settle_debt(uow, step, currency, amount, lot_id)
                step.changes.new_lots.append(
                    Lot(
                        lot_id,
                        member.member_id,
                        currency,
                        amount,
                        remaining,
                        step.at,
                        expires_at,
                        pending_until,
                        reason,
                        step.key,
                        "pending" if pending_until else ("open" if remaining else "closed"),
                    )
                )
            else:
                self._entry(step, currency, amount, kind, reason)
            if kind in EARNED_KINDS:  # an adjustment is no earning
                self._earned(step, currency, amount)
        credit = built(
            Credit,
            currency=currency,
            amount=amount,
            rule=reason,
            source=source or ("rule" if kind == "earn" else kind),
            capped=capped,
            multiplier=multiplier,
            pending_until=pending_until,
            expires_at=expires_at,
        )
        step.credits.append(credit)
        return credit

    def _settle_debt(
        self, uow: UnitOfWork, step: _Step, currency: str, amount: int, lot_id: str
    ) -> int:
        """Pay the member's debt first out of a new credit; return what it took."""
        owing = step.state.get("debt")
        if not owing or (owing is not True and currency not in owing):
            return 0
        debt_account = f"{currency}:debt"
        owed = self._balances(uow, step).get(debt_account, 0)
        paid = min(owed, amount)
        if paid:
            self._entry(step, currency, -paid, "debt", "debt settled", lot_id)
            self._entry(step, debt_account, -paid, "debt", "debt settled", lot_id)
        if owed - paid <= 0:
            self._set_debt(uow, step, currency, owing=False)
        return paid

    def _set_debt(self, uow: UnitOfWork, step: _Step, currency: str, *, owing: bool) -> None:
        """Keep the currencies the member owes in the state, so credits look only then."""
        flag = step.state.get("debt")
        if flag is True:  # the form kept before debt was per currency: one flag for all
            balances = self._balances(uow, step)
            flag = [c for c in self._spendable if balances.get(f"{c}:debt", 0) > 0]
        currencies = {*(flag or ()), currency} if owing else set(flag or ()) - {currency}
        if currencies:
            step.state["debt"] = sorted(currencies)
        else:
            step.state.pop("debt", None)

    # Internals: redemption ----------------------------------------------------------------

    def _redeem_once(
        self,
        member_id: str,
        points: int | None,
        reward: str | None,
        order_total: Decimal | None,
        key: str | None,
        reason: str,
        now: datetime,
        fingerprint: str,
    ) -> tuple[Redemption, list[OutboxMessage]]:
        with self._unit([member_id]) as uow:
            first = self._replay(uow, member_id, "redeem", key, fingerprint)
            if first is not None:
                return Redemption.model_validate_json(first), []
            self._check_points("redeem")  # after the replay: the program may have changed
            if reward is not None:
                points = self._reward_price(reward)  # priced now: the first call is the one
            step = _Step(self._known_member(uow, member_id), now, key, None)
            member = step.member
            self._settle_due_lots(uow, step, DueReport())
            policy = self.program.redemption
            cash = ZERO
            if order_total is not None:
                share = policy.max_order_share or Decimal(1)
                limit = rewards.max_points_for_order(order_total, share, policy.exchange_ratio)
                if points is None:
                    have = sum(
                        lot.remaining
                        for lot in self._current_lots(uow, step, "points")
                        if ledger.spendable(lot, now)
                    )
                    if limit <= 0:
                        raise InvalidAmountError(
                            order_total, "an order this small cannot be paid with any points"
                        )
                    points = min(have, limit)
                    if points <= 0:
                        raise InsufficientBalanceError(member_id, "points", 1, have)
                elif points > limit:
                    raise InvalidAmountError(
                        points, f"at most {limit} points may pay an order of {order_total}"
                    )
                cash = rewards.cash_due(order_total, points, policy.exchange_ratio)
            assert points is not None
            picks = self._spend(uow, step, "points", points, reason)
            redemption = Redemption(
                redemption_id=new_id(),
                member_id=member_id,
                points=points,
                at=now,
                key=key,
                reward=reason.removeprefix("reward ") if reason != "redemption" else None,
                cash=cash,
                lots=[(lot.lot_id, used) for lot, used in picks],
            )
            result = redemption.model_dump_json()
            self._remember(step, "redeem", key, fingerprint, result)
            self._remember(step, "redemption", redemption.redemption_id, "", result)
            self._announce(
                step,
                "redeemed",
                member_id,
                now,
                redemption_id=redemption.redemption_id,
                points=points,
            )
            step.changes.members.append(member)
            self._commit(uow, step)
            return redemption, step.changes.outbox

    @staticmethod
    def _as_left(step: _Step, lot: Lot) -> Lot:
        """``lot`` with the step's own changes to it applied (the last one wins)."""
        for change in reversed(step.changes.lot_changes):
            if change.lot_id == lot.lot_id:
                return dataclasses.replace(
                    lot,
                    remaining=change.remaining,
                    status=change.status,
                    expires_at=change.expires_at or lot.expires_at,
                )
        return lot

    def _current_lots(self, uow: UnitOfWork, step: _Step, currency: str) -> list[Lot]:
        """The member's pending and open lots as this step has left them so far."""
        lots = uow.lots(step.member.member_id, currency)
        if not step.changes.lot_changes:
            return lots
        return [self._as_left(step, lot) for lot in lots]

    def _spend(
        self,
        uow: UnitOfWork,
        step: _Step,
        currency: str,
        points: int,
        reason: str,
        *,
        kind: EntryKind = "spend",
    ) -> list[tuple[Lot, int]]:
        """Take ``points`` from the member's lots, earliest expiry first, or raise."""
        member_id = step.member.member_id
        lots = self._current_lots(uow, step, currency)
        picks = ledger.take(lots, points, step.at)
        if not picks:
            available = sum(lot.remaining for lot in lots if ledger.spendable(lot, step.at))
            raise InsufficientBalanceError(member_id, currency, points, available)
        for lot, used in picks:
            self._entry(step, currency, -used, kind, reason, lot.lot_id)
            left = lot.remaining - used
            step.changes.lot_changes.append(
                LotChange(lot.lot_id, left, "open" if left else "closed")
            )
        return picks

    def _settle_due_lots(
        self, uow: UnitOfWork, step: _Step, report: DueReport, also: Iterable[str] = ()
    ) -> None:
        """Expire the member's lots past expiry and mature pending lots due by ``step.at``,
        of the spendable currencies and those of ``also`` (due lots of currencies the
        program no longer declares)."""
        member_id = step.member.member_id
        for currency in [*self._spendable, *sorted(set(also) - set(self._spendable))]:
            for lot in uow.lots(member_id, currency):
                if (
                    lot.status == "pending"
                    and lot.pending_until is not None
                    and lot.pending_until <= step.at
                ):
                    step.at, at = (
                        lot.pending_until,
                        step.at,
                    )  # the entries carry the maturity instant
                    self._entry(
                        step, f"{currency}:pending", -lot.remaining, "mature", "matured", lot.lot_id
                    )
                    self._entry(step, currency, lot.remaining, "mature", "matured", lot.lot_id)
                    paid = self._settle_debt(uow, step, currency, lot.remaining, lot.lot_id)
                    step.at = at
                    left = lot.remaining - paid
                    expired = lot.expires_at is not None and lot.expires_at <= step.at
                    if expired and left:
                        self._entry(
                            step, currency, -left, "expire", "expired", lot.lot_id, key=lot.key
                        )
                        report.expired_points += left
                        report.expired_lots += 1
                    step.changes.lot_changes.append(
                        LotChange(
                            lot.lot_id,
                            0 if expired else left,
                            "closed" if expired or not left else "open",
                        )
                    )
                    report.matured_points += lot.remaining
                    report.matured_lots += 1
                    self._announce(
                        step,
                        "points_matured",
                        member_id,
                        step.at,
                        points=lot.remaining,
                        lot_id=lot.lot_id,
                    )
                    if expired and left:
                        self._announce(
                            step,
                            "points_expired",
                            member_id,
                            step.at,
                            points=left,
                            lot_id=lot.lot_id,
                        )
                elif (
                    lot.status == "open"
                    and lot.remaining > 0
                    and lot.expires_at is not None
                    and lot.expires_at <= step.at
                ):
                    self._entry(
                        step, currency, -lot.remaining, "expire", "expired", lot.lot_id, key=lot.key
                    )
                    step.changes.lot_changes.append(LotChange(lot.lot_id, 0, "closed"))
                    report.expired_points += lot.remaining
                    report.expired_lots += 1
                    self._announce(
                        step,
                        "points_expired",
                        member_id,
                        step.at,
                        points=lot.remaining,
                        lot_id=lot.lot_id,
                    )

    def _due_for(
        self, member_id: str, now: datetime, report: DueReport, currencies: Iterable[str] = ()
    ) -> tuple[list[OutboxMessage], bool]:
        """One member's share of ``run_due``, in one unit of work."""
        with self._unit([member_id]) as uow:
            member = uow.load_member(member_id)
            if member is None:
                return [], False
            step = _Step(member, now, None, None)
            self._settle_due_lots(uow, step, report, currencies)
            review_at = member.review_at
            if self.program.tiers is not None and review_at is not None and review_at <= now:
                self._review_tier(step, review_at, report)
            elif review_at is not None and review_at <= now:
                member.review_at = None  # the program has no tiers now: nothing to review
            if (
                not step.changes.entries
                and not step.changes.outbox
                and member.review_at == review_at
            ):
                return [], False
            step.changes.members.append(member)
            self._commit(uow, step)
            return step.changes.outbox, True

    def _review_tier(self, step: _Step, review_at: datetime, report: DueReport) -> None:
        """Judge the window that ended at ``review_at`` (keeping the best tier it or now allows)."""
        spec = self.program.tiers
        assert spec is not None
        member = step.member
        state = step.state
        day = _time.local_date(review_at, member.timezone)
        buckets, total = _tier_metric(state)
        current = self._tier_ranks.get(member.tier or "", 0)
        since = state.get("tier_since")
        # The current window as of the review, and as of now when run_due runs late (a new
        # window may have begun since): the better one counts.
        ongoing = max(
            tiers.value_at(spec, buckets, total, day),
            tiers.value_at(spec, buckets, total, _time.local_date(step.at, member.timezone)),
        )
        before = tiers.value_before(spec, buckets, total, day)
        dropped = member.tier not in self._tier_ranks  # a tier the program no longer has
        if dropped:  # placed where the values reach, as at an event
            index = max(spec.qualify(before), spec.qualify(ongoing))
        else:
            index = tiers.review(
                spec,
                current,
                before,
                ongoing,
                datetime.fromisoformat(since) if since else None,
                review_at,
                member.timezone,
            )
        report.reviews += 1
        if index != current or dropped:
            at, step.at = step.at, review_at
            report.tier_changes.append(self._set_tier(step, index, upgraded=False, changed=None))
            step.at = at
        else:
            member.review_at = (
                tiers.next_review(spec, review_at, member.timezone) if index > 0 else None
            )

    def _reverse_event(self, uow: UnitOfWork, step: _Step, tracked: Outcome) -> Reversal:
        member = step.member
        key = step.key
        assert key is not None
        written = uow.entries_for_key(member.member_id, key)
        earned = [e for e in written if e.kind == "earn"]
        # A reversal is no earning of today's boards: it nets out the event's own periods
        # (those past are no longer kept; the all-time total always nets).
        step.board_at = tracked.at
        expired: dict[str, int] = {}  # per lot of this event, what expiry already took
        for e in written:
            if e.kind == "expire" and e.lot_id:
                expired[e.lot_id] = expired.get(e.lot_id, 0) - e.amount
        lots = {lot.lot_id: lot for lot in uow.get_lots([e.lot_id for e in earned if e.lot_id])}
        credits: list[Credit] = []
        debt = 0
        xp_back = 0  # what the level's currency loses
        for entry in earned:
            currency = entry.account.removesuffix(":pending")
            lot = lots.get(entry.lot_id or "")
            if lot is not None:
                lot = self._as_left(step, lot)
            # The level follows the lifetime credits of its currency, with lots or without.
            if self.program.levels is not None and currency == self.program.levels.currency:
                xp_back += entry.amount
            if lot is None:  # a currency without lots (XP): take the credit back
                self._entry(step, currency, -entry.amount, "reverse", "reversal")
            elif lot.status == "pending":
                self._entry(
                    step, f"{currency}:pending", -lot.remaining, "reverse", "reversal", lot.lot_id
                )
                step.changes.lot_changes.append(LotChange(lot.lot_id, 0, "cancelled"))
            else:
                debt += self._claw_back(uow, step, currency, lot, expired.get(lot.lot_id, 0))
            self._earned(step, currency, -entry.amount)
            credits.append(
                Credit(
                    currency=currency, amount=-entry.amount, rule=entry.reason, source="reversal"
                )
            )
        spec = self.program.tiers
        if spec is not None:
            if spec.metric == "amount":
                back = tracked.amount if tracked.action == spec.action and tracked.amount else ZERO
            else:
                back = Decimal(
                    sum(
                        c.amount
                        for c in tracked.credits
                        if c.source == "rule" and c.currency == "points"
                    )
                )
            if back:
                day = _time.local_date(tracked.at, _zone_at(member, tracked.at))
                self._add_tier_metric(step, day, -back)
        level_down = None
        if xp_back and self.program.levels is not None:
            xp = step.state.get("earned", {}).get(self.program.levels.currency, 0)
            change = levels.progress(
                self.program.levels,
                member.level,
                xp,
                step.state.get("level_paid", 1),
                taken=xp_back,
            )
            if change.down_to is not None:
                member.level = level_down = change.down_to
                self._announce(step, "level_down", member.member_id, step.at, level=level_down)
        self._announce(step, "reversed", member.member_id, step.at, key=key)
        return Reversal(
            member_id=member.member_id,
            key=key,
            at=step.at,
            credits=credits,
            debt=debt,
            level_down=level_down,
        )

    def _claw_back(
        self, uow: UnitOfWork, step: _Step, currency: str, lot: Lot, expired: int = 0
    ) -> int:
        """Take a matured lot's points back: its remainder, then other lots, then debt.

        What expiry already took from the lot (``expired``) is not taken again.
        """
        if lot.remaining:
            self._entry(step, currency, -lot.remaining, "reverse", "reversal", lot.lot_id)
        if expired:
            # The credit is reversed in full: what expiry took counts as reversed instead
            # (earnings net of reversals stay right in every window; the balance is unchanged).
            self._entry(step, currency, -expired, "reverse", "reversal", lot.lot_id)
            self._entry(step, currency, expired, "expire", "expiry reversed", lot.lot_id)
        step.changes.lot_changes.append(LotChange(lot.lot_id, 0, "closed"))
        rest = lot.amount - lot.remaining - expired
        others = [o for o in self._current_lots(uow, step, currency) if o.lot_id != lot.lot_id]
        for other, used in ledger.take_upto(others, rest, step.at):
            self._entry(step, currency, -used, "reverse", "reversal", other.lot_id)
            left = other.remaining - used
            step.changes.lot_changes.append(
                LotChange(other.lot_id, left, "open" if left else "closed")
            )
            rest -= used
        if rest > 0:
            # The shortfall is taken back (so the credit is reversed in full) and at
            # once booked as debt: the two entries leave the spendable balance at zero.
            self._entry(step, currency, -rest, "reverse", "reversal", lot.lot_id)
            self._entry(step, currency, rest, "debt", "reversal shortfall", lot.lot_id)
            self._entry(step, f"{currency}:debt", rest, "debt", "reversal shortfall", lot.lot_id)
            self._set_debt(uow, step, currency, owing=True)
        return max(rest, 0)

    def _refund_once(
        self, member_id: str, redemption_id: str, now: datetime
    ) -> tuple[Redemption, list[OutboxMessage]]:
        with self._unit([member_id]) as uow:
            record = uow.get_idempotency(member_id, "redemption", redemption_id)
            if record is None:
                raise NotFoundError(f"member {member_id!r} has no redemption {redemption_id!r}")
            redemption = Redemption.model_validate_json(record.result)
            done = uow.get_idempotency(member_id, "refund", redemption_id)
            if done is not None:
                return Redemption.model_validate_json(done.result), []
            step = _Step(self._known_member(uow, member_id), now, None, None)
            member = step.member
            lots = {lot.lot_id: lot for lot in uow.get_lots([i for i, _ in redemption.lots])}
            for lot_id, used in redemption.lots:
                lot = lots[lot_id]
                self._entry(step, "points", used, "refund", "refund", lot_id)
                # Points coming back settle a debt first, as any credit does, even those of
                # a lot past its expiry: a redemption and its refund then cancel out.
                left = lot.remaining + used - self._settle_debt(uow, step, "points", used, lot_id)
                if lot.expires_at is not None and lot.expires_at <= now:
                    # Past its expiry: the rest is restored and expired at once, so no
                    # balance shows it.
                    if left:
                        reason = "expired on refund"
                        self._entry(step, "points", -left, "expire", reason, lot_id, key=lot.key)
                        self._announce(
                            step, "points_expired", member_id, now, points=left, lot_id=lot_id
                        )
                    step.changes.lot_changes.append(LotChange(lot_id, 0, "closed"))
                else:
                    step.changes.lot_changes.append(
                        LotChange(lot_id, left, "open" if left else "closed")
                    )
            refunded = redemption.model_copy(update={"refunded": True})
            self._remember(step, "refund", redemption_id, "", refunded.model_dump_json())
            self._announce(
                step,
                "refunded",
                member_id,
                now,
                redemption_id=redemption_id,
                points=redemption.points,
            )
            step.changes.members.append(member)
            self._commit(uow, step)
            return refunded, step.changes.outbox
