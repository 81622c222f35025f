"""Differential test: the memory store and each SQL store behave identically.

A hypothesis state machine drives two engines, one on ``memory://`` and one on a
fresh SQL store (a SQLite file, or PostgreSQL under a fresh table prefix), each
with its own ManualClock moved identically, through the same random sequence
of calls: tracks (late ones, repeated and conflicting keys), redemptions (some
too large, some from the catalog), refunds, reversals, zone and tag changes,
referral joins, streak repairs and time passing (hours to months, across month
ends and DST) with ``run_due``, and members forgotten now and then.
The program exercises most features at once.

After every call both engines must have returned the same value (or raised the
same error type with the same message), emitted the same domain events, and
hold the same profiles, ledgers, lots and leaderboards; every account equals
the sum of its ledger entries and no spendable account is negative. Random ids
(entries, lots, redemptions, events) are compared through a per-engine
renaming in order of first appearance, so they must correspond, not match.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pendulum
from gamify_adapters.sql import SQLStore
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from pydantic import BaseModel

from gamify import DomainEvent, Engine, GamifyError, ManualClock, Program, Redemption, open_store
from gamify.store import Store
from gamify.testing import assert_ledger_consistent

if TYPE_CHECKING:
    from conftest import StoreTarget  # tests/conftest.py

PROGRAM = Program.from_dict(
    {
        "name": "equivalence",
        "timezone": "Europe/Berlin",
        "late_event_days": 10,
        "currencies": {"points": {"spendable": True}, "xp": {"spendable": False}},
        "actions": {
            "purchase": {"amount": "required"},
            "check_in": {"amount": "none"},
            "review": {"amount": "optional"},
        },
        "rules": [
            {"name": "purchase_points", "action": "purchase", "per_amount": 1, "pending_days": 3},
            {"name": "purchase_xp", "action": "purchase", "currency": "xp", "per_amount": "0.5"},
            {
                "name": "app_bonus",
                "action": "purchase",
                "fixed": 15,
                "conditions": {"channel": "app"},
            },
            {"name": "check_in_points", "action": "check_in", "formula": "5 + min(2 * streak, 20)"},
            {"name": "check_in_xp", "action": "check_in", "currency": "xp", "fixed": 20},
            {
                "name": "review_points",
                "action": "review",
                "fixed": 40,
                "validity": {"policy": "months", "months": 1},
            },
        ],
        "multipliers": [
            {
                "name": "black_friday",
                "kind": "campaign",
                "factor": 2,
                "start": "2026-11-27T00:00:00+00:00",
                "end": "2026-12-01T00:00:00+00:00",
            },
            {"name": "vip", "kind": "tag", "tag": "vip", "factor": "1.5"},
        ],
        "caps": [
            {"name": "purchase_day", "period": "day", "action": "purchase", "limit": 300},
            {"name": "all_day", "period": "day", "limit": 400},
            {"name": "per_event", "period": "event", "limit": 250},
        ],
        "expiry": {"policy": "months_end", "months": 1},
        "levels": {
            "curve": "linear",
            "params": {"step": 100},
            "max_level": 30,
            "reward": {"points": "10 * level"},
        },
        "streaks": {
            "daily": {
                "actions": ["check_in"],
                "period": "day",
                "milestones": [{"length": 3, "reward": {"points": 30}}],
                "freeze": {"every": 3, "max_tokens": 2},
                "repair": {"window_hours": 72, "cost": 25, "per_month": 1},
            }
        },
        "badges": {
            "first_purchase": {
                "metric": "count",
                "action": "purchase",
                "threshold": 1,
                "reward": {"points": 20},
            },
            "streak_5": {
                "metric": "streak",
                "streak": "daily",
                "threshold": 5,
                "reward": {"points": 50},
            },
            "spender": {
                "kind": "tiered",
                "metric": "sum",
                "action": "purchase",
                "tiers": [
                    {"name": "bronze", "threshold": 200},
                    {"name": "silver", "threshold": 1000, "reward": {"points": 100}},
                ],
            },
            "regular": {
                "kind": "repeatable",
                "metric": "count",
                "action": "check_in",
                "threshold": 4,
                "reward": {"points": 10},
            },
            "gold_member": {"metric": "tier", "tier": "gold"},
            "level_4": {"metric": "level", "threshold": 4},
        },
        "tiers": {
            "metric": "amount",
            "action": "purchase",
            "window": "rolling_months",
            "months": 2,
            "review_month": 12,
            "review_day": 1,
            "multiplier_rules": ["purchase_points"],
            "levels": [
                {"name": "basic", "threshold": 0},
                {"name": "silver", "threshold": 300, "multiplier": "1.2"},
                {"name": "gold", "threshold": 800, "multiplier": "1.5"},
            ],
        },
        "referral": {
            "qualifying_action": "purchase",
            "min_amount": 20,
            "referee_reward": 25,
            "referrer_fixed": 40,
            "referrer_share": "0.1",
            "referrer_cap": 60,
            "bonus_after": 2,
            "bonus": 70,
        },
        "redemption": {"exchange_ratio": 10},
        "catalog": {"voucher": {"cash_value": 5}},
        "challenges": {
            "first_week": {
                "enrolment": "auto",
                "days": 7,
                "reward": {"points": 60},
                "conditions": [
                    {"kind": "count", "action": "check_in", "distinct_days": True, "target": 3},
                    {"kind": "count", "action": "purchase", "target": 1},
                ],
            }
        },
    }
)

START = pendulum.datetime(2026, 10, 24, 21, 30, tz="UTC")  # a week before New York's DST end
SETUP = {"ana": "UTC", "bo": "Asia/Shanghai", "cy": "America/New_York"}
MEMBERS = (*SETUP, "dan")  # dan starts unknown: joined, tracked or referred
ZONES = ("UTC", "Asia/Shanghai", "America/New_York")

members = st.sampled_from(MEMBERS)
track_keys = st.one_of(st.none(), st.sampled_from(["k0", "k1", "k2", "k3", "k4"]))
redeem_keys = st.one_of(st.none(), st.sampled_from(["r0", "r1"]))
amounts = st.one_of(
    st.integers(0, 400),
    st.decimals(min_value=0, max_value=400, places=2, allow_nan=False, allow_infinity=False),
)
durations = st.one_of(
    st.builds(lambda h: {"hours": h}, st.integers(1, 60)),
    st.builds(lambda d: {"days": d}, st.integers(1, 20)),
    st.builds(lambda m: {"months": m}, st.integers(1, 2)),
)
_ID = re.compile(r"[0-9a-f]{32}")
_DROPPED = frozenset({"event_id", "entry_id"})


class Side:
    """One engine, its clock and store, the domain events it delivered, and its id renaming."""

    def __init__(self, name: str, store: Store) -> None:
        self.name = name
        self.store = store
        self.clock = ManualClock(START)
        self.engine = Engine(PROGRAM, store=store, clock=self.clock)
        self.events: list[DomainEvent] = []
        self.engine.on("*", self.events.append)
        self.names: dict[str, str] = {}
        self.codes: dict[str, str] = {}
        self.redemptions: list[Redemption] = []

    def canon(self, value: Any) -> Any:
        """``value`` as plain data: random ids renamed in order of first sight, instants in UTC."""
        if isinstance(value, BaseModel):
            return self.canon(value.model_dump())
        if isinstance(value, dict):
            return {k: self.canon(v) for k, v in value.items() if k not in _DROPPED}
        if isinstance(value, list | tuple):
            return [self.canon(v) for v in value]
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        if isinstance(value, str):
            for code in self.codes.values():
                value = value.replace(code, "<code>")
            return _ID.sub(self._rename, value)
        return value

    def _rename(self, match: re.Match[str]) -> str:
        return self.names.setdefault(match.group(), f"id{len(self.names)}")

    def call(self, fn: Callable[[Side], Any]) -> tuple[str, Any]:
        try:
            return "ok", self.canon(fn(self))
        except GamifyError as exc:
            return "error", (type(exc).__name__, self.canon(str(exc)))

    def drain_events(self) -> list[Any]:
        out = [self.canon([e.name, e.member_id, e.at, e.payload]) for e in self.events]
        self.events.clear()
        return out

    def state(self) -> dict[str, Any]:
        """Everything observable that must agree between stores."""
        engine, store = self.engine, self.store
        out: dict[str, Any] = {}
        for m in MEMBERS:
            record = store.get_member(m)
            if record is None:
                out[m] = None
                continue
            kept = dataclasses.asdict(record)
            kept["referral_code"] = record.referral_code is not None  # random: made per store
            out[m] = {
                "record": self.canon(kept),
                "balances": store.get_balances(m),
                "profile": self.canon(engine.member(m)),
                "history": [
                    self.canon([e.account, e.amount, e.kind, e.reason, e.at, e.key, e.action])
                    for e in engine.history(m)
                ],
                "lots": [
                    self.canon(
                        [
                            lot.lot_id,
                            lot.amount,
                            lot.remaining,
                            lot.earned_at,
                            lot.expires_at,
                            lot.pending_until,
                            lot.rule,
                            lot.key,
                            lot.status,
                        ]
                    )
                    for lot in store.member_lots(m, "points")
                ],
                "expiring": self.canon(engine.expiring(m, within=timedelta(days=45))),
                "challenge": self.canon(engine.challenge_progress(m, "first_week")),
                "badges": self.canon(engine.badges(m)),
            }
        now = self.clock.now()
        # The kept period totals, and a custom window read from the ledger (reversals
        # counted at their event's instant).
        periods: list[Any] = ["all", "day", "week", "month", (now - timedelta(days=9), now)]
        for metric in ("points", "xp"):
            for period in periods:
                board = engine.leaderboard(metric, period=period, limit=20)
                out[f"board_{metric}_{period}"] = self.canon(board)
        return out


def check_ledger(side: Side) -> None:
    """Every account equals the sum of its entries; no spendable account is negative."""
    for m in MEMBERS:
        assert_ledger_consistent(side.store, m)


def _set_member(side: Side, member: str, **fields: Any) -> Any:
    return side.engine.set_member(member, **fields)


class StoreEquivalence(RuleBasedStateMachine):
    """The same calls on a memory and a SQL engine; everything observable agrees."""

    target: StoreTarget
    db_dir: Path
    counter = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        self.memory = Side("memory", open_store("memory://"))
        n = next(self.counter)
        if self.target.kind == "sqlite":
            sql = open_store(f"sqlite:///{self.db_dir / f'equivalence-{n}.db'}")
        else:  # PostgreSQL: a fresh set of tables for each example
            sql = self.target.open(prefix=f"{self.target.options['prefix']}e{n}_")
        self.sql = Side(self.target.kind, sql)
        self.sides = (self.memory, self.sql)
        self.tracked: dict[tuple[str, str], dict[str, Any]] = {}

    def teardown(self) -> None:
        if self.target.kind == "postgres":
            assert isinstance(self.sql.store, SQLStore)
            self.sql.store.drop_schema()
        for side in self.sides:
            side.store.close()

    def both(self, fn: Callable[[Side], Any]) -> bool:
        """Run ``fn`` on each side; the results and the events delivered must agree."""
        results = [side.call(fn) for side in self.sides]
        other = self.sql.name
        assert results[0] == results[1], f"memory returned {results[0]}, {other} {results[1]}"
        events = [side.drain_events() for side in self.sides]
        assert events[0] == events[1], f"memory emitted {events[0]}, {other} {events[1]}"
        return results[0][0] == "ok"

    # Set-up ----------------------------------------------------------------------------

    @initialize(vip=st.sampled_from(list(SETUP)), birthday=st.booleans())
    def set_up(self, vip: str, birthday: bool) -> None:
        for m, zone in SETUP.items():
            tags = ["vip"] if m == vip else []
            born = date(1990, 11, 14) if birthday and m == vip else None
            self.both(
                functools.partial(_set_member, member=m, timezone=zone, tags=tags, birthday=born)
            )

    # Steps -----------------------------------------------------------------------------

    @rule(
        member=members,
        action=st.sampled_from(["purchase", "purchase", "check_in", "check_in", "review"]),
        amount=st.one_of(st.none(), amounts),
        channel=st.one_of(st.none(), st.sampled_from(["app", "web"])),
        key=track_keys,
        late_hours=st.one_of(st.none(), st.integers(0, 260)),
    )
    def track(
        self,
        member: str,
        action: str,
        amount: Decimal | int | None,
        channel: str | None,
        key: str | None,
        late_hours: int | None,
    ) -> None:
        if action == "purchase" and amount is None:
            amount = 50
        if action == "check_in":
            amount = None
        at = (
            self.memory.clock.now() - timedelta(hours=late_hours)
            if late_hours is not None
            else None
        )
        kwargs: dict[str, Any] = {
            "action": action,
            "amount": amount,
            "key": key,
            "at": at,
            "attributes": {"channel": channel} if channel else {},
        }
        ok = self.both(lambda s: s.engine.track(member, **kwargs))
        if ok and key is not None:
            self.tracked.setdefault((member, key), kwargs)

    @rule(
        member=members,
        amount=amounts,
        channel=st.one_of(st.none(), st.sampled_from(["app", "web"])),
        key=track_keys,
    )
    def purchase(
        self, member: str, amount: Decimal | int, channel: str | None, key: str | None
    ) -> None:
        self.track(member, "purchase", amount, channel, key, None)

    @rule(member=members, skipped=st.sampled_from([0, 0, 0, 1, 2, 3]), key=track_keys)
    def next_day_check_in(self, member: str, skipped: int, key: str | None) -> None:
        """A day or more later in the member's zone (a missed day now and then), a check-in."""
        zone = self.memory.engine.store.get_member(member)
        for side in self.sides:
            side.clock.advance(days=1 + skipped, tz=zone.timezone if zone else None)
        self.track(member, "check_in", None, None, key, None)

    @rule(
        batch=st.lists(
            st.tuples(members, st.sampled_from(["purchase", "check_in"]), amounts, track_keys),
            min_size=1,
            max_size=3,
        )
    )
    def track_many(self, batch: list[tuple[str, str, Decimal | int, str | None]]) -> None:
        """One transaction of a few events (a key repeated inside it acts as a repeat)."""
        events = [
            {"member_id": m, "action": a, "amount": x if a == "purchase" else None, "key": k}
            for m, a, x, k in batch
        ]
        self.both(lambda s: s.engine.track_many(events))

    @precondition(lambda self: self.tracked)
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """A tracked key again with its first payload: the first outcome, no writes."""
        (member, _), kwargs = data.draw(st.sampled_from(sorted(self.tracked.items())))
        self.both(lambda s: s.engine.track(member, **kwargs))

    @rule(
        member=members,
        how=st.sampled_from(["part", "part", "all", "more", "voucher"]),
        share=st.floats(0.05, 1.0),
        key=redeem_keys,
    )
    def redeem(self, member: str, how: str, share: float, key: str | None) -> None:
        """Part of the spendable points, all of them, more than that, or the catalog voucher."""
        held = self.memory.engine.balance(member)
        points: int | None = {
            "part": max(1, int(held * share)),
            "all": max(1, held),
            "more": held + 1 + int(100 * share),
            "voucher": None,
        }[how]
        reward = "voucher" if points is None else None

        def spend(s: Side) -> Redemption:
            redemption = s.engine.redeem(member, points, reward=reward, key=key)
            s.redemptions.append(redemption)
            return redemption

        self.both(spend)

    @precondition(lambda self: self.memory.redemptions)
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(0, len(self.memory.redemptions) - 1))
        self.both(lambda s: s.engine.refund(s.redemptions[index]))

    @rule(data=st.data(), unknown=st.booleans())
    def reverse(self, data: st.DataObject, unknown: bool) -> None:
        if self.tracked and not unknown:
            member, key = data.draw(st.sampled_from(sorted(self.tracked)))
        else:
            member, key = data.draw(members), data.draw(st.sampled_from(["k0", "zz"]))
        self.both(lambda s: s.engine.reverse(member, key))

    @rule(member=members, now=st.integers(0, 3))
    def forget_member(self, member: str, now: int) -> None:
        """Now and then a member is forgotten; the id may come back as a new member."""
        if now == 0:
            self.both(lambda s: s.engine.forget_member(member))
            self.tracked = {k: v for k, v in self.tracked.items() if k[0] != member}

    @rule(
        member=members,
        timezone=st.one_of(st.none(), st.sampled_from(ZONES)),
        vip=st.one_of(st.none(), st.booleans()),
    )
    def set_member(self, member: str, timezone: str | None, vip: bool | None) -> None:
        tags = None if vip is None else (["vip"] if vip else [])
        self.both(lambda s: s.engine.set_member(member, timezone=timezone, tags=tags))

    @rule(member=members, other=st.integers(1, len(MEMBERS)))
    def join(self, member: str, other: int) -> None:
        """Join through another member's code (through one's own when ``other`` wraps round)."""
        referrer = MEMBERS[(MEMBERS.index(member) + other) % len(MEMBERS)]

        def code(s: Side) -> str:
            s.codes[referrer] = s.engine.referral_code(referrer)
            return "<code>"

        if self.both(code):
            self.both(lambda s: s.engine.join(member, referral_code=s.codes[referrer]))

    @rule(
        member=members,
        days=st.integers(1, 5),
        missed=st.integers(1, 3),
        late_hours=st.integers(0, 80),
    )
    def streak_broken_and_repaired(
        self, member: str, days: int, missed: int, late_hours: int
    ) -> None:
        """Check-ins on ``days`` days in a row, ``missed`` days without, then a repair."""
        for _ in range(days):
            self.next_day_check_in(member, 0, None)
        for side in self.sides:
            side.clock.advance(days=missed, hours=late_hours)
        self.repair_streak(member, None)

    @rule(member=members, key=st.one_of(st.none(), st.just("p0")))
    def repair_streak(self, member: str, key: str | None) -> None:
        self.both(lambda s: s.engine.repair_streak(member, "daily", key=key))

    @rule(
        duration=durations, zone=st.one_of(st.none(), st.sampled_from(ZONES)), run_due=st.booleans()
    )
    def time_passes(self, duration: dict[str, int], zone: str | None, run_due: bool) -> None:
        """Hours, days or months (calendar arithmetic in ``zone``, across DST), then run_due."""
        for side in self.sides:
            side.clock.advance(None, tz=zone, **duration)
        if run_due:
            self.both(lambda s: s.engine.run_due())

    @rule(zone=st.sampled_from(ZONES), minutes=st.integers(-90, 90))
    def to_month_end(self, zone: str, minutes: int) -> None:
        """Jump to around the local midnight that ends the current month in ``zone``, run_due."""
        now = pendulum.instance(self.memory.clock.now()).in_timezone(zone)
        target = now.start_of("month").add(months=1).add(minutes=minutes)
        if target > now:
            for side in self.sides:
                side.clock.set(target)
        self.both(lambda s: s.engine.run_due())

    # Checks ----------------------------------------------------------------------------

    @invariant()
    def ledgers_hold(self) -> None:
        for side in self.sides:
            check_ledger(side)

    @invariant()
    def stores_agree(self) -> None:
        memory, sql, other = self.memory.state(), self.sql.state(), self.sql.name
        assert memory.keys() == sql.keys()
        for name, mine in memory.items():
            theirs = sql[name]
            if isinstance(mine, dict) and isinstance(theirs, dict):
                for part in mine.keys() | theirs.keys():
                    assert mine.get(part) == theirs.get(part), (
                        f"{name} {part}: memory has {mine.get(part)}, {other} {theirs.get(part)}"
                    )
            assert mine == theirs, f"{name}: memory has {mine}, {other} {theirs}"


def test_memory_and_sql_stores_behave_identically(
    gamify_sql_target: StoreTarget, tmp_path: Path
) -> None:
    """Random call sequences give the same results, events and state on both stores."""
    StoreEquivalence.target = gamify_sql_target
    StoreEquivalence.db_dir = tmp_path
    run_state_machine_as_test(  # type: ignore[no-untyped-call]
        StoreEquivalence,
        settings=settings(
            max_examples=75,
            stateful_step_count=40,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
