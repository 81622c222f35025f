"""The engine: the only part of gamify that talks to the store.

For each call it opens one unit of work (holding the member's lock), loads
what the pure components need, lets them decide, writes every effect with
one ``apply`` and, after the commit, hands domain events to subscribers.
:class:`Engine` is the public face: it checks the caller's arguments and
runs the call with :class:`gamify._core.Core`, the part built wheels compile.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from gamify import _time
from gamify._core import (
    Core,
    _canonical_amount,
    _check_limit,
    _check_name,
    _fingerprint,
    _is_text,
    _named,
    _normalize_amount,
    _remember_zone,
    _Step,
    _text_problem,
)
from gamify._events import Dispatcher, DomainEvent, new_id
from gamify._numbers import MAX_CREDIT
from gamify._outcome import (
    Adjustment,
    BadgeProgress,
    ChallengeProgress,
    DueReport,
    ExpiringLot,
    GoalProgress,
    HistoryEntry,
    LeaderboardRow,
    Outcome,
    Profile,
    Redemption,
    Reversal,
    StreakRun,
    StreakState,
)
from gamify._registry import open_store
from gamify.clock import Clock, SystemClock, zone
from gamify.components import (
    challenges,
    ledger,
    referrals,
    streaks,
)
from gamify.components.badges import Predicate
from gamify.errors import (
    ConfigurationError,
    InvalidAmountError,
    InvalidEventError,
    NotFoundError,
    ReferralError,
    UnknownMemberError,
)
from gamify.program import Program
from gamify.store import (
    Changes,
    OutboxMessage,
    Store,
)

__all__ = ["Engine", "Event"]


@dataclass(frozen=True, slots=True)
class Event:
    """One thing a member did, as passed to :meth:`Engine.track_many`."""

    member_id: str
    action: str
    at: datetime | None = None
    amount: Decimal | int | float | str | None = None
    key: str | None = None
    attributes: Mapping[str, Any] | None = None


_EVENT_FIELDS = [f.name for f in dataclasses.fields(Event)]


def _in_batch(exc: InvalidEventError, index: int) -> InvalidEventError:
    """``exc`` naming the event of a ``track_many`` batch at fault; its type and
    attributes (the refused amount, action, ...) stay."""
    exc.args = (f"events[{index}]: {exc}",)
    return exc


def _as_event(index: int, item: Any) -> Event:
    """Item ``index`` of a batch as an Event: an Event, or a mapping of its fields."""
    if isinstance(item, Event):
        return item
    if not isinstance(item, Mapping):
        raise InvalidEventError(f"events[{index}] must be an Event or a mapping, not {item!r}")
    unknown = sorted(str(name) for name in item if name not in _EVENT_FIELDS)
    missing = [name for name in ("member_id", "action") if name not in item]
    if unknown or missing:
        problem = (
            f"unknown field {', '.join(unknown)}"
            if unknown
            else f"missing field {', '.join(missing)}"
        )
        raise InvalidEventError(
            f"events[{index}]: {problem} (an event has {', '.join(_EVENT_FIELDS)})"
        )
    return Event(**item)


class Engine:
    """Runs a :class:`~gamify.Program` against a :class:`~gamify.store.Store`.

    ``program`` is a :class:`~gamify.Program`, a program file's path or a mapping
    validated as one. ``store`` is a URL (``memory://``, ``sqlite:///gamify.db``,
    ...) or a store object; ``clock`` defaults to one reading
    ``pendulum.now("UTC")``. Arguments of the wrong kind raise
    :class:`~gamify.errors.ConfigurationError` here, not at the first call.
    ``deliver_events=False`` leaves domain events in the outbox for a worker
    (:meth:`drain_outbox`) instead of delivering them in process.
    """

    def __init__(
        self,
        program: Program | str | Path | Mapping[str, Any],
        store: Store | str = "memory://",
        clock: Clock | None = None,
        *,
        deliver_events: bool = True,
        requires: Iterable[str] = (),
        max_retries: int = 5,
        predicates: Mapping[str, Predicate] | None = None,
    ) -> None:
        if isinstance(program, Program):
            checked_program = program
        elif isinstance(program, Mapping):
            checked_program = Program.from_dict(dict(program))
        elif isinstance(program, str | os.PathLike):
            checked_program = Program.load(Path(program))
        else:
            raise ConfigurationError(
                f"program must be a gamify.Program, a file path or a mapping, not {program!r}"
            )
        if isinstance(store, str):
            checked_store = open_store(store)
        elif isinstance(store, Store):
            checked_store = store
        else:
            raise ConfigurationError(f"store must be a URL or a gamify Store, not {store!r}")
        if clock is not None and (isinstance(clock, type) or not isinstance(clock, Clock)):
            raise ConfigurationError(
                f"clock must be a gamify Clock instance (with now()), not {clock!r}"
            )
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError(
                f"max_retries must be a whole number >= 0, not {max_retries!r}"
            )
        if isinstance(requires, str) or not isinstance(requires, Iterable):
            raise ConfigurationError(f"requires is a list of capability names, not {requires!r}")
        missing = set(requires) - checked_store.capabilities
        if missing:
            raise ConfigurationError(
                f"store {type(checked_store).__name__} lacks {', '.join(sorted(missing))}"
            )
        if not isinstance(deliver_events, bool):
            raise ConfigurationError(
                f"deliver_events must be True or False, not {deliver_events!r}"
            )
        if predicates is not None and not isinstance(predicates, Mapping):
            raise ConfigurationError(f"predicates map names to callables, not {predicates!r}")
        self._core = Core(
            checked_program,
            checked_store,
            clock if clock is not None else SystemClock(),
            deliver_events=deliver_events,
            max_retries=max_retries,
            dispatcher=Dispatcher(),
            predicates={},
        )
        for name, predicate in (predicates or {}).items():
            self.register_predicate(name, predicate)

    @property
    def program(self) -> Program:
        """The program this engine runs."""
        return self._core.program

    @property
    def store(self) -> Store:
        """The store it writes to (an app session's, for an engine from :meth:`using`)."""
        return self._core.store

    @property
    def clock(self) -> Clock:
        """The clock that dates its calls."""
        return self._core.clock

    @property
    def max_retries(self) -> int:
        """How many times a write that met a deadlock or serialization failure is retried."""
        return self._core.max_retries

    def register_predicate(self, name: str, predicate: Predicate) -> None:
        """Make ``predicate(facts) -> bool`` available to ``custom`` badges and challenges."""
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"a predicate's name must be a non-empty string, not {name!r}")
        if not callable(predicate):
            raise ConfigurationError(f"predicate {name!r} must be callable, not {predicate!r}")
        self._core._predicates[name] = predicate

    def using(self, session: Any) -> Engine:
        """An engine whose writes join the app's own SQLAlchemy ``session`` (or connection).

        Its awards commit or roll back with the app's transaction, and its
        domain events are delivered only after the app commits. Needs a store
        with the ``app_session`` capability (the SQL store).
        """
        if "app_session" not in self.store.capabilities:
            raise ConfigurationError(
                f"{type(self.store).__name__} cannot join an app's session: use a SQL store"
            )
        bound = copy.copy(self)
        bound._core = self._core.with_store(
            self.store.bind(session, on_commit=self._core._publish_after_commit)
        )
        return bound

    # Members ---------------------------------------------------------------------

    def set_member(
        self,
        member_id: str,
        *,
        timezone: str | None = None,
        birthday: date | None = None,
        tags: Iterable[str] | None = None,
    ) -> Profile:
        """Register a member or change their zone, birthday or tags.

        A zone change moves no past event: days already counted stay counted, and an
        event dated before the change is read in the zone the member was in then.
        """
        self._core._check_member_id(member_id)
        if timezone is not None:
            try:
                zone(timezone)
            except Exception:
                raise InvalidEventError(f"unknown IANA time zone {timezone!r}") from None
        if birthday is not None and not isinstance(birthday, date):
            raise InvalidEventError(f"birthday must be a date, not {birthday!r}")
        if tags is not None:
            # A string is iterable too: "vip" would become the tags v, i and p.
            if isinstance(tags, str) or not isinstance(tags, Iterable):
                raise InvalidEventError(f"tags must be a list of strings, not {tags!r}")
            tags = list(tags)
            if not all(isinstance(tag, str) for tag in tags):
                raise InvalidEventError(f"tags must be a list of strings, not {tags!r}")
            if not all(_is_text(tag) for tag in tags):
                raise InvalidEventError(f"tags {tags!r} are not valid Unicode text")
        now = self._core._now()
        with self._core._unit([member_id]) as uow:
            stored = uow.load_member(member_id)
            member = stored or self._core._new_member(member_id, now)
            if timezone is not None and timezone != member.timezone:
                if stored is not None:  # a move: late events dated before it keep the old zone
                    _remember_zone(member, now)
                if member.review_at is not None:
                    # The pending review (due or not) keeps its date, at midnight in the new
                    # zone: due at once when that midnight has passed there, never held twice.
                    review_day = _time.local_date(member.review_at, member.timezone)
                    member.review_at = _time.local_midnight(review_day, timezone)
                member.timezone = timezone
            if birthday is not None:
                member.birthday = birthday
            if tags is not None:
                member.tags = tuple(sorted(set(tags)))
            uow.apply(Changes(members=[member]))
        return self.member(member_id)

    def forget_member(self, member_id: str) -> bool:
        """Erase everything the store keeps for the member, for a request to be forgotten.

        In one unit of work: the profile, balances, ledger entries, lots, idempotency
        records, badge awards and leaderboard totals. The member leaves every board,
        report and sum computed afterwards; a later call with the same id starts a new
        member. Domain events already written stay in the outbox, and members they
        referred keep the link (a referrer who is gone is paid nothing). Returns
        whether there was anything to erase.
        """
        self._core._check_member_id(member_id)

        def run() -> bool:
            with self._core._unit([member_id]) as uow:
                if uow.load_member(member_id) is None and not uow.balances(member_id):
                    return False
                uow.apply(Changes(forgotten=[member_id]))
                return True

        return self._core._retrying(run)

    def member(self, member_id: str) -> Profile:
        """The member's profile: balances, pending points, debt, XP, level, tier."""
        self._core._check_member_id(member_id)
        record, accounts = self.store.member_snapshot(member_id)
        if record is None:
            raise UnknownMemberError(member_id)
        dropped = self._core._dropped_currencies(accounts)
        balances = {c: accounts.get(c, 0) for c in [*self.program.currencies, *dropped]}
        pending = {c: accounts.get(f"{c}:pending", 0) for c in [*self._core._spendable, *dropped]}
        debt = {c: accounts.get(f"{c}:debt", 0) for c in [*self._core._spendable, *dropped]}
        now = self._core._now()
        streak_states = record.state.get("streaks", {})
        return Profile(
            streaks=[
                StreakState(
                    name=name,
                    length=streaks.current_length(
                        spec,
                        streak_states.get(name),
                        now,
                        record.timezone,
                        self.program.week_start_index,
                    ),
                    longest=streak_states.get(name, {}).get("longest", 0),
                    tokens=streaks.current_tokens(
                        spec,
                        streak_states.get(name),
                        now,
                        record.timezone,
                        self.program.week_start_index,
                    ),
                )
                for name, spec in self.program.streaks.items()
            ],
            badges=self._core._held_badges(record),
            member_id=member_id,
            timezone=record.timezone,
            birthday=record.birthday,
            tags=list(record.tags),
            balances=balances,
            pending=pending,
            debt=debt,
            xp=self._core._level_xp(record, accounts),
            level=record.level,
            next_level_xp=self._core._next_level_xp(record.level),
            tier=record.tier,
            tier_value=self._core._tier_value(record, now),
            referrer=record.referrer,
        )

    def badges(self, member_id: str) -> list[BadgeProgress]:
        """Every badge with the member's progress; secret badges only once earned."""
        self._core._check_member_id(member_id)
        record = self.store.get_member(member_id)
        out: list[BadgeProgress] = []
        for name, badge in self.program.badges.items():
            progress = self._core._badge_progress(record, member_id, name)
            if badge.secret and not progress.held:
                continue
            out.append(progress)
        return out

    def badge_progress(self, member_id: str, badge: str) -> BadgeProgress:
        """How far the member is toward the next award of ``badge`` (current and target)."""
        _named(self.program.badges, badge, "badge")
        self._core._check_member_id(member_id)
        return self._core._badge_progress(self.store.get_member(member_id), member_id, badge)

    def streak_history(self, member_id: str, streak: str) -> list[StreakRun]:
        """The member's finished runs of ``streak``, oldest first (the latest 50 are kept).

        A run is finished once a period passed that no event or token covers, as the
        profile reads it (length 0), even before the next event writes it down. For a
        streak the program no longer has, the member's stored runs are returned, the last
        one finished."""
        if not isinstance(streak, str):
            raise NotFoundError(f"unknown streak {streak!r}")
        self._core._check_member_id(member_id)
        record = self.store.get_member(member_id)
        state = record.state.get("streaks", {}).get(streak) if record is not None else None
        spec = self.program.streaks.get(streak)
        if spec is None:
            if state is None:
                raise NotFoundError(f"unknown streak {streak!r}")
            # A streak the program dropped: its runs are kept, the last one finished.
            runs = streaks.past_runs(state)
            if state["len"] > 0:
                runs = [*runs, (state["start"], int(state["len"]))][-streaks.MAX_RUNS :]
            return [StreakRun(start=datetime.fromisoformat(s), length=n) for s, n in runs]
        if record is None:
            raise UnknownMemberError(member_id)
        runs = streaks.past_runs(state)
        if (
            state
            and state["len"] > 0
            and not streaks.current_length(
                spec, state, self._core._now(), record.timezone, self.program.week_start_index
            )
        ):
            # Broken as read now (as the profile shows it): finished, though the next event
            # is what writes it down.
            runs = [*runs, (state["start"], int(state["len"]))][-streaks.MAX_RUNS :]
        return [StreakRun(start=datetime.fromisoformat(start), length=n) for start, n in runs]

    def repair_streak(self, member_id: str, streak: str, *, key: str | None = None) -> StreakState:
        """Restore a broken streak within the program's window, paying its cost.

        Refused with :class:`~gamify.errors.StreakRepairError` outside the
        window or past the monthly limit; nothing is written then.
        """
        self._core._check_member_id(member_id)
        self._core._check_key(key)
        _check_name(self.program.streaks, streak, "streak", keyed=key is not None)
        now = self._core._now()
        fingerprint = _fingerprint("repair", streak)

        def run() -> tuple[StreakState, list[OutboxMessage]]:
            with self._core._unit([member_id]) as uow:
                first = self._core._replay(uow, member_id, "repair", key, fingerprint)
                if first is not None:  # answers even after the program dropped the streak
                    return StreakState.model_validate_json(first), []
                spec = _named(self.program.streaks, streak, "streak")
                step = _Step(self._core._known_member(uow, member_id), now, key, None)
                member = step.member
                all_states = dict(step.state.get("streaks", {}))
                repaired = streaks.repair(
                    spec,
                    all_states.get(streak),
                    now,
                    member.timezone,
                    self.program.week_start_index,
                )
                new = repaired.state
                assert spec.repair is not None
                if spec.repair.cost:
                    self._core._settle_due_lots(uow, step, DueReport())  # matured points can pay
                    self._core._spend(
                        uow, step, spec.repair.currency, spec.repair.cost, f"repair {streak}"
                    )
                all_states[streak] = new
                step.state["streaks"] = all_states
                step.counted_streaks.add(streak)
                self._core._announce(
                    step, "streak_repaired", member_id, now, streak=streak, length=new["len"]
                )
                for milestone in repaired.milestones:  # passed over by the joined length
                    self._core._reward(
                        uow, step, milestone.reward, f"streak {streak} {milestone.length}", "streak"
                    )
                    self._core._announce(
                        step,
                        "streak_milestone",
                        member_id,
                        now,
                        streak=streak,
                        length=milestone.length,
                    )
                self._core._progress(uow, step, {("streak", streak)}, None)  # badges on its length
                result = StreakState(
                    name=streak,
                    length=new["len"],
                    longest=new["longest"],
                    tokens=new.get("tokens", 0),
                )
                self._core._remember(step, "repair", key, fingerprint, result.model_dump_json())
                step.changes.members.append(member)
                self._core._commit(uow, step)
                return result, step.changes.outbox

        return self._core._write(run)

    def balance(self, member_id: str, currency: str = "points") -> int:
        """The member's balance of ``currency`` (the spendable one for points); 0 if unknown."""
        if not isinstance(currency, str):
            raise NotFoundError(f"unknown currency {currency!r}")
        self._core._check_member_id(member_id)
        accounts = self.store.get_balances(member_id)
        if currency not in self.program.currencies and (
            currency not in self._core._dropped_currencies(accounts)
        ):
            raise NotFoundError(f"unknown currency {currency!r}")
        return accounts.get(currency, 0)

    def history(self, member_id: str, *, limit: int | None = None) -> list[HistoryEntry]:
        """The member's ledger entries, newest first, with their reasons."""
        self._core._check_member_id(member_id)
        if limit is not None:
            _check_limit(limit)
        return [
            HistoryEntry(
                entry_id=e.entry_id,
                account=e.account,
                amount=e.amount,
                at=e.at,
                kind=e.kind,
                reason=e.reason,
                key=e.key,
                action=e.action,
            )
            for e in self.store.history(member_id, limit=limit)
        ]

    # Events ---------------------------------------------------------------------------

    def on(self, name: str, callback: Callable[[DomainEvent], object]) -> None:
        """Call ``callback`` with each domain event ``name`` (``"*"``: all), after commit."""
        self._core._dispatcher.subscribe(name, callback)

    def track(
        self,
        member_id: str,
        action: str,
        *,
        at: datetime | None = None,
        amount: Decimal | int | float | str | None = None,
        key: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """Record that ``member_id`` did ``action`` and apply the program to it.

        A repeated ``key`` with the same payload returns the first outcome and
        writes nothing; with a different payload it raises
        :class:`~gamify.errors.IdempotencyConflictError`.
        """
        return self._core.track(member_id, action, at, amount, key, attributes)

    def track_many(self, events: Iterable[Event | Mapping[str, Any]]) -> list[Outcome]:
        """Track a batch as one transaction; an invalid event fails the call and writes nothing."""
        if not isinstance(events, Iterable) or isinstance(events, str | bytes | Mapping):
            raise InvalidEventError(
                f"track_many takes an iterable of Events or mappings, not {events!r}"
            )
        now = self._core._now()
        checked = []
        for index, item in enumerate(events):
            e = _as_event(index, item)
            try:
                checked.append(
                    self._core._check(
                        e.member_id, e.action, e.at, e.amount, e.key, e.attributes, now
                    )
                )
            except InvalidEventError as exc:
                raise _in_batch(exc, index) from None
        if not checked:
            return []

        def run() -> tuple[list[Outcome], list[OutboxMessage]]:
            outcomes: list[Outcome] = []
            messages: list[OutboxMessage] = []
            # Every member the batch may touch, locked up front in id order (no deadlock
            # between batches that name the same members in another order); read again
            # on a retry, when a referrer may have joined.
            locks = [self._core._lock_set(event) for event in checked]
            with self.store.batch(sorted({m for lock in locks for m in lock})):
                for index, (event, locked) in enumerate(zip(checked, locks, strict=True)):
                    try:
                        # The program's checks (action, amount, lateness) run here.
                        outcome, sent = self._core._track_once(event, locked)
                    except InvalidEventError as exc:
                        raise _in_batch(exc, index) from None
                    outcomes.append(outcome)
                    messages.extend(sent)
            return outcomes, messages

        return self._core._write(run)

    def redeem(
        self,
        member_id: str,
        points: int | None = None,
        *,
        reward: str | None = None,
        order_total: Decimal | int | float | str | None = None,
        key: str | None = None,
    ) -> Redemption:
        """Spend points from the member's lots, earliest expiry first.

        Give ``points``, or a catalog ``reward`` (priced by the program), or an
        ``order_total`` to pay partly in points: at most the program's
        ``max_order_share`` of it (all spendable points up to that when
        ``points`` is omitted); the redemption reports the cash left to pay.
        Raises :class:`~gamify.errors.InsufficientBalanceError` (nothing
        written) when fewer points are spendable.
        """
        self._core._check_member_id(member_id)
        self._core._check_key(key)
        reason = "redemption"
        total = _normalize_amount(order_total)
        if reward is not None:
            if points is not None:
                raise InvalidAmountError(points, "give either points or a reward, not both")
            _check_name(self.program.catalog, reward, "reward", keyed=key is not None)
            reason = f"reward {reward}"
        if points is not None and (
            isinstance(points, bool) or not isinstance(points, int) or points <= 0
        ):
            raise InvalidAmountError(points, "points to redeem must be a positive integer")
        if points is not None and points >= MAX_CREDIT:  # no balance holds as many
            raise InvalidAmountError(points, f"at most {MAX_CREDIT - 1:,} points a redemption")
        if points is None and reward is None and total is None:
            raise InvalidAmountError(None, "give points, a reward or an order_total")
        now = self._core._now()
        # What the caller asked for: a retry replays even after the reward's price changed.
        fingerprint = _fingerprint("redeem", points, reason, _canonical_amount(total))
        return self._core._write(
            lambda: self._core._redeem_once(
                member_id, points, reward, total, key, reason, now, fingerprint
            )
        )

    def refund(self, redemption: Redemption | str, member_id: str | None = None) -> Redemption:
        """Give back exactly the lots a redemption spent (an expired lot comes back expired)."""
        if isinstance(redemption, Redemption):
            redemption_id, member = redemption.redemption_id, member_id or redemption.member_id
        elif isinstance(redemption, str) and redemption:
            if member_id is None:
                raise InvalidEventError("refund by id needs the member_id")
            redemption_id, member = redemption, member_id
        else:
            raise InvalidEventError(
                f"refund takes a Redemption or a redemption id, not {redemption!r}"
            )
        self._core._check_member_id(member)
        if _text_problem(redemption_id) is not None:  # no store holds such an id
            raise NotFoundError(f"member {member!r} has no redemption {redemption_id!r}")
        now = self._core._now()
        return self._core._write(lambda: self._core._refund_once(member, redemption_id, now))

    def adjust(
        self,
        member_id: str,
        amount: int,
        *,
        reason: str,
        currency: str = "points",
        key: str | None = None,
    ) -> Adjustment:
        """Correct a member's balance by hand: goodwill or a missed credit (``amount``
        above zero), or a mistaken credit taken back (below zero).

        A credit opens one lot on the program's expiry terms and settles the
        member's debt first, as any credit does; a debit takes from the lots
        earliest expiry first and raises
        :class:`~gamify.errors.InsufficientBalanceError` (nothing written) when
        fewer points are spendable. Only spendable currencies can be adjusted:
        XP moves levels, and only ``reverse`` takes it back. Adjustments are not
        earnings: they count toward no leaderboard, badge, level or tier. The
        ledger keeps them as ``adjust`` entries with ``reason``; a ``key`` makes
        a retry return the first result. The member must be known
        (:class:`~gamify.errors.UnknownMemberError` otherwise).
        """
        self._core._check_member_id(member_id)
        self._core._check_key(key)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
            raise InvalidAmountError(amount, "an adjustment is a non-zero integer")
        if not -MAX_CREDIT < amount < MAX_CREDIT:
            raise InvalidAmountError(
                amount, f"an adjustment is at most {MAX_CREDIT - 1:,} either way"
            )
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidEventError(
                f"an adjustment needs a reason (non-empty text), not {reason!r}"
            )
        problem = _text_problem(reason, limit=None)
        if problem is not None:
            raise InvalidEventError(f"an adjustment's reason {reason!r} {problem}")
        _check_name(self.program.currencies, currency, "currency", keyed=key is not None)
        now = self._core._now()
        fingerprint = _fingerprint("adjust", currency, amount, reason)

        def run() -> tuple[Adjustment, list[OutboxMessage]]:
            with self._core._unit([member_id]) as uow:
                first = self._core._replay(uow, member_id, "adjust", key, fingerprint)
                if first is not None:
                    return Adjustment.model_validate_json(first), []
                self._core._check_adjustable(currency)  # after the replay: the program may change
                # A correction is for someone known: a mistyped id must not make a member.
                member = self._core._known_member(uow, member_id)
                step = _Step(member, now, key, None)
                expires_at: datetime | None = None
                if amount > 0:
                    credit = self._core._credit(
                        uow, step, currency, amount, kind="adjust", reason=reason
                    )
                    expires_at = credit.expires_at
                    lots = [(step.changes.new_lots[-1].lot_id, amount)]
                else:
                    self._core._settle_due_lots(uow, step, DueReport())
                    picks = self._core._spend(uow, step, currency, -amount, reason, kind="adjust")
                    lots = [(lot.lot_id, used) for lot, used in picks]
                adjustment = Adjustment(
                    adjustment_id=new_id(),
                    member_id=member_id,
                    currency=currency,
                    amount=amount,
                    reason=reason,
                    at=now,
                    key=key,
                    expires_at=expires_at,
                    lots=lots,
                )
                self._core._remember(step, "adjust", key, fingerprint, adjustment.model_dump_json())
                self._core._announce(
                    step,
                    "adjusted",
                    member_id,
                    now,
                    adjustment_id=adjustment.adjustment_id,
                    currency=currency,
                    amount=amount,
                    reason=reason,
                )
                step.changes.members.append(member)
                self._core._commit(uow, step)
                return adjustment, step.changes.outbox

        return self._core._write(run)

    # Loyalty ----------------------------------------------------------------------------------

    def referral_code(self, member_id: str) -> str:
        """The member's referral code: made on first request, unique, never changed.

        Raises :class:`~gamify.errors.ConfigurationError` when the program has no
        referral scheme, as :meth:`join` does: no code could be used.
        """
        self._core._check_member_id(member_id)
        if self.program.referral is None:
            raise ConfigurationError("the program has no referral scheme")

        def run() -> str:
            with self._core._unit([member_id]) as uow:
                member = uow.load_member(member_id) or self._core._new_member(
                    member_id, self._core._now()
                )
                if member.referral_code is None:
                    # A taken code raises DuplicateError; _retrying draws another one.
                    member.referral_code = referrals.new_code()
                    uow.apply(Changes(members=[member]))
                return member.referral_code

        return self._core._retrying(run)

    def join(self, member_id: str, *, referral_code: str) -> Profile:
        """Attach a new member to the referrer owning ``referral_code``; the welcome reward
        is paid now, or with the qualifying event under ``referee_reward_on = "qualify"``.

        Refused with :class:`~gamify.errors.ReferralError` for an unknown code,
        self-referral, a cycle, a second referrer, or a member who already
        tracked an event.
        """
        self._core._check_member_id(member_id)
        scheme = self.program.referral
        if scheme is None:
            raise ConfigurationError("the program has no referral scheme")
        code = referrals.normalize(referral_code)
        if _text_problem(code) is not None:  # no store holds such a code
            raise ReferralError(f"unknown referral code {referral_code!r}")
        now = self._core._now()
        with self._core._unit([member_id]) as uow:
            referrer_id = uow.member_by_code(code)
        if referrer_id is None:
            raise ReferralError(f"unknown referral code {referral_code!r}")

        def run() -> list[OutboxMessage]:
            with self._core._unit([member_id, referrer_id]) as uow:
                member = uow.load_member(member_id) or self._core._new_member(member_id, now)
                referrals.check_join(
                    member, referrer_id, code, uow.member_by_code(code), uow.load_member
                )
                member.referrer = referrer_id
                step = _Step(member, now, None, None)
                if scheme.referee_reward_on == "join":
                    self._core._welcome(uow, step)
                    self._core._progress(uow, step, set(), None)
                step.changes.members.append(member)
                self._core._announce(
                    step,
                    "referral_joined",
                    member_id,
                    now,
                    referrer=referrer_id,
                    credits=[c.model_dump(mode="json") for c in step.credits],
                )
                self._core._commit(uow, step)
                return step.changes.outbox

        self._core._publish(self._core._retrying(run))
        return self.member(member_id)

    def expiring(self, member_id: str, *, within: timedelta) -> list[ExpiringLot]:
        """The member's points lots that expire within ``within`` from now, soonest first.

        Pending points are listed too when they mature before they expire (they can
        still be spent), with ``pending_until`` set; points that would expire before
        they mature are not listed.
        """
        if not isinstance(within, timedelta) or within <= timedelta(0):
            raise InvalidEventError(f"within must be a positive timedelta, not {within!r}")
        self._core._check_member_id(member_id)
        self._core._check_points("expiring")
        now = self._core._now()
        try:
            until = now + within
        except OverflowError:  # past the last representable instant: every lot is within
            until = datetime.max.replace(tzinfo=UTC)
        lots = [
            lot
            for lot in self.store.member_lots(member_id, "points")
            if lot.remaining > 0
            and lot.expires_at is not None
            and now < lot.expires_at < until
            and (
                lot.status == "open"
                or (
                    lot.status == "pending"
                    and lot.pending_until is not None
                    and lot.pending_until < lot.expires_at
                )
            )
        ]
        return [
            ExpiringLot(
                lot_id=lot.lot_id,
                points=lot.remaining,
                expires_at=lot.expires_at,
                earned_at=lot.earned_at,
                rule=lot.rule,
                # Matured but not yet settled by run_due: a redemption settles it first.
                pending_until=(
                    lot.pending_until
                    if lot.status == "pending"
                    and lot.pending_until is not None
                    and lot.pending_until > now
                    else None
                ),
            )
            for lot in ledger.spend_order(lots)
            if lot.expires_at is not None
        ]

    def reward_price(self, reward: str) -> int:
        """The points price of a catalog reward."""
        return self._core._reward_price(reward)

    def reverse(self, member_id: str, key: str) -> Reversal:
        """Undo the event tracked with ``key``: its rule credits, XP and tier-qualifying amount.

        Pending points are cancelled; matured ones are clawed back down to a
        zero balance and the rest is booked as debt that later credits settle
        first. Badges, level rewards, streaks and referral rewards stay.
        Reversing twice changes nothing the second time.
        """
        self._core._check_member_id(member_id)
        if key is None:
            raise InvalidEventError("reverse needs the idempotency key of the tracked event")
        self._core._check_key(key)
        now = self._core._now()

        def run() -> tuple[Reversal, list[OutboxMessage]]:
            with self._core._unit([member_id]) as uow:
                done = uow.get_idempotency(member_id, "reverse", key)
                if done is not None:
                    return Reversal.model_validate_json(done.result), []
                record = uow.get_idempotency(member_id, "track", key)
                member = uow.load_member(member_id)
                if record is None or member is None:
                    raise NotFoundError(f"member {member_id!r} has no event with key {key!r}")
                tracked = Outcome.model_validate_json(record.result)
                step = _Step(member, now, key, tracked.action)
                result = self._core._reverse_event(uow, step, tracked)
                self._core._remember(step, "reverse", key, "", result.model_dump_json())
                step.changes.members.append(member)
                self._core._commit(uow, step)
                return result, step.changes.outbox

        return self._core._write(run)

    def run_due(self) -> DueReport:
        """Expire due lots, mature pending points and run due tier reviews, for every member.

        Idempotent: safe to call from a cron job any number of times.
        """
        now = self._core._now()
        report = DueReport()
        while True:
            work = self.store.due(now, limit=500)
            # Lots mature and expire at the instants they were written with, also those of
            # a currency the program no longer declares.
            currencies: dict[str, set[str]] = {m: set() for m in work.reviews}
            for lot in (*work.expiring_lots, *work.maturing_lots):
                currencies.setdefault(lot.member_id, set()).add(lot.currency)
            if not currencies:
                return report
            progressed = False
            for member_id in sorted(currencies):
                messages, changed = self._core._retrying(
                    functools.partial(
                        self._core._due_for, member_id, now, report, currencies[member_id]
                    )
                )
                progressed = progressed or changed
                self._core._publish(messages)
            if not progressed:
                return report

    # Challenges and leaderboards ----------------------------------------------------------------

    def enroll(self, member_id: str, challenge: str) -> ChallengeProgress:
        """Enrol the member in ``challenge`` now; events from this instant on count."""
        spec = _named(self.program.challenges, challenge, "challenge")
        self._core._check_member_id(member_id)
        now = self._core._now()
        if not challenges.can_enrol(spec, now):
            raise InvalidEventError(f"challenge {challenge!r} is not open for enrolment now")
        with self._core._unit([member_id]) as uow:
            member = uow.load_member(member_id) or self._core._new_member(member_id, now)
            runs = dict(member.state.get("challenges", {}))
            run = runs.get(challenge)
            if run is not None and run["status"] == "active" and not challenges.expired(run, now):
                raise InvalidEventError(
                    f"member {member_id!r} is already enrolled in {challenge!r}"
                )
            if run is not None and not spec.repeatable:
                # A one-time challenge has one run: completed, failed or left to expire.
                status = "failed" if run["status"] == "active" else run["status"]
                raise InvalidEventError(
                    f"member {member_id!r} already {status} the one-time challenge {challenge!r}"
                )
            runs[challenge] = challenges.enrol(
                spec, now, member.timezone, done=run["done"] if run else 0
            )
            member.state["challenges"] = runs
            uow.apply(Changes(members=[member]))
        return self.challenge_progress(member_id, challenge)

    def challenge_progress(self, member_id: str, challenge: str) -> ChallengeProgress:
        """The member's current run of ``challenge``: status, window and each condition."""
        spec = _named(self.program.challenges, challenge, "challenge")
        self._core._check_member_id(member_id)
        now = self._core._now()
        record = self.store.get_member(member_id) or self._core._new_member(member_id, now)
        run = record.state.get("challenges", {}).get(challenge)
        if run is None:
            return ChallengeProgress(challenge=challenge, status="not_enrolled")
        status = run["status"]
        if status == "active" and challenges.expired(run, now):
            status = "failed"
        facts = self._core._badge_facts(_Step(record, now, None, None), None)
        return ChallengeProgress(
            challenge=challenge,
            status=status,
            enrolled_at=datetime.fromisoformat(run["since"]),
            ends_at=datetime.fromisoformat(run["ends"]) if run["ends"] else None,
            conditions=[
                GoalProgress(kind=goal.kind, current=current, target=target)
                for goal, (current, target) in zip(
                    spec.conditions, challenges.goal_values(spec, run, facts), strict=True
                )
            ],
            completions=run["done"],
        )

    def leaderboard(
        self,
        metric: str = "points",
        *,
        period: str | tuple[datetime, datetime] = "all",
        limit: int = 10,
        tier: str | None = None,
    ) -> list[LeaderboardRow]:
        """The best members by what they earned of ``metric`` (a currency, or ``xp``).

        ``period``: ``all``, ``day``, ``week`` or ``month`` (the current one in
        the program's zone) or a ``(start, end)`` window. Ties share a rank.
        """
        key = self._core._board_period(metric, period, tier)
        _check_limit(limit)
        if isinstance(key, str):
            rows = [
                (r.member_id, r.score)
                for r in self.store.leaderboard(metric, key, limit=limit, tier=tier)
            ]
        else:
            rows = self._core._window_board(metric, key, tier)[:limit]
        out: list[LeaderboardRow] = []
        for i, (member_id, score) in enumerate(rows):
            rank = out[-1].rank if out and out[-1].score == score else i + 1
            out.append(LeaderboardRow(rank=rank, member_id=member_id, score=score))
        return out

    def rank(
        self,
        member_id: str,
        metric: str = "points",
        *,
        period: str | tuple[datetime, datetime] = "all",
        tier: str | None = None,
    ) -> LeaderboardRow | None:
        """One member's rank and score (None when they earned nothing in the period)."""
        key = self._core._board_period(metric, period, tier)
        self._core._check_member_id(member_id)
        if isinstance(key, str):
            found = self.store.member_rank(member_id, metric, key, tier=tier)
            if found is None:
                return None
            score, above = found
            return LeaderboardRow(rank=above + 1, member_id=member_id, score=score)
        rows = self._core._window_board(metric, key, tier)
        scores = dict(rows)
        if member_id not in scores:
            return None
        score = scores[member_id]
        return LeaderboardRow(
            rank=1 + sum(1 for _, s in rows if s > score), member_id=member_id, score=score
        )

    def drain_outbox(self, limit: int = 100) -> int:
        """Deliver domain events left in the outbox (for workers); returns how many.

        The store takes up to ``limit`` events, oldest first, that no other drain holds,
        and removes them once they are delivered (see :meth:`~gamify.store.Store.drain_outbox`).
        """
        _check_limit(limit)
        return self.store.drain_outbox(limit, self._core._deliver_all)
