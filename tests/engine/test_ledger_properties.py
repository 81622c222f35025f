"""Property tests: after any sequence of tracks and spends the ledger stays consistent.

A hypothesis state machine drives one engine on the memory store with a
forward-moving ManualClock, several members in several zones, repeated and
conflicting idempotency keys, and spends that are sometimes too large. After
every step it checks the ledger invariants of the design.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pendulum
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from gamify import (
    Engine,
    IdempotencyConflictError,
    InsufficientBalanceError,
    ManualClock,
    Outcome,
    Program,
    Redemption,
    UnknownMemberError,
)
from gamify.components.ledger import spendable
from gamify.testing import assert_ledger_consistent

PROGRAM = Program.model_validate(
    {
        "timezone": "UTC",
        "actions": {
            "purchase": {"amount": "required"},
            "check_in": {"amount": "none"},
            "review": {"amount": "optional"},
        },
        "rules": [
            {"name": "spend", "action": "purchase", "per_amount": "1.5"},
            {"name": "app", "action": "purchase", "fixed": 10, "conditions": {"channel": "app"}},
            {
                "name": "daily",
                "action": "check_in",
                "fixed": 5,
                "validity": {"policy": "months", "months": 1},
            },
            {
                "name": "review",
                "action": "review",
                "fixed": 20,
                "validity": {"policy": "months_end", "months": 0},
            },
            {"name": "review_xp", "action": "review", "currency": "xp", "fixed": 3},
        ],
        "multipliers": [{"name": "vip", "kind": "tag", "tag": "vip", "factor": "1.25"}],
        "caps": [
            {"name": "purchase_day", "limit": 400, "period": "day", "action": "purchase"},
            {"name": "all_day", "limit": 600, "period": "day"},
            {"name": "per_event", "limit": 300, "period": "event"},
        ],
    }
)

MEMBERS = {"ana": "UTC", "bo": "Asia/Shanghai", "cy": "America/New_York"}
LATECOMER = "dee"  # never set up: registered by her first track

members = st.sampled_from([*MEMBERS, LATECOMER])
amounts = st.decimals(min_value=0, max_value=500, places=2, allow_nan=False, allow_infinity=False)
track_keys = st.one_of(st.none(), st.sampled_from(["k0", "k1", "k2", "k3"]))
redeem_keys = st.one_of(st.none(), st.sampled_from(["r0", "r1"]))


def event_for(action: str, amount: Decimal, as_float: bool, channel: str | None) -> dict[str, Any]:
    given: Any = None
    if action == "purchase" or (action == "review" and amount > 1):
        given = float(amount) if as_float else amount
    attributes = {"channel": channel} if channel else {}
    return {"action": action, "amount": given, "attributes": attributes}


def payload(event: dict[str, Any]) -> tuple[Any, ...]:
    """What idempotency compares, computed here independently: exact amount, attributes."""
    amount = event["amount"]
    exact = Decimal(repr(amount)) if isinstance(amount, float) else amount
    return (event["action"], exact, sorted(event["attributes"].items()))


class LedgerMachine(RuleBasedStateMachine):
    """Random tracks and redeems; the ledger invariants hold after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(pendulum.datetime(2026, 3, 1, 6, tz="UTC"))
        self.engine = Engine(PROGRAM, clock=self.clock)
        self.tracked: dict[tuple[str, str], tuple[tuple[Any, ...], Outcome]] = {}
        self.redeemed: dict[tuple[str, str], tuple[int, Redemption]] = {}
        self.known: set[str] = set()

    @initialize(vip=st.sampled_from(list(MEMBERS)))
    def set_up_members(self, vip: str) -> None:
        for member, zone in MEMBERS.items():
            self.engine.set_member(member, timezone=zone, tags=["vip"] if member == vip else [])
            self.known.add(member)

    def state_of(self, member: str) -> tuple[Any, ...]:
        store = self.engine.store
        return (store.get_member(member), store.get_balances(member), store.history(member))

    # Steps -----------------------------------------------------------------------------

    @rule(hours=st.integers(min_value=0, max_value=40), minutes=st.integers(0, 59))
    def time_passes(self, hours: int, minutes: int) -> None:
        self.clock.advance(hours=hours, minutes=minutes)

    @rule(
        member=members,
        action=st.sampled_from(["purchase", "check_in", "review"]),
        amount=amounts,
        as_float=st.booleans(),
        channel=st.one_of(st.none(), st.sampled_from(["app", "web"])),
        key=track_keys,
    )
    def track(
        self,
        member: str,
        action: str,
        amount: Decimal,
        as_float: bool,
        channel: str | None,
        key: str | None,
    ) -> None:
        event = event_for(action, amount, as_float, channel)
        first = self.tracked.get((member, key)) if key is not None else None
        if first is not None and first[0] != payload(event):
            before = self.state_of(member)
            try:
                self.engine.track(member, key=key, **event)
            except IdempotencyConflictError:
                pass
            else:
                raise AssertionError("a changed payload under a used key was accepted")
            assert self.state_of(member) == before
            return
        before = self.state_of(member) if first is not None else None
        outcome = self.engine.track(member, key=key, **event)
        self.known.add(member)
        if first is not None:
            assert outcome == first[1], "a replay returned a different outcome"
            assert self.state_of(member) == before, "a replay wrote something"
        elif key is not None:
            self.tracked[(member, key)] = (payload(event), outcome)

    @rule(member=members, points=st.integers(min_value=1, max_value=700), key=redeem_keys)
    def redeem(self, member: str, points: int, key: str | None) -> None:
        before = self.state_of(member)
        first = self.redeemed.get((member, key)) if key is not None else None
        if member not in self.known:
            try:
                self.engine.redeem(member, points, key=key)
            except UnknownMemberError:
                return
            raise AssertionError("an unknown member redeemed")
        if first is not None:
            if first[0] == points:
                assert self.engine.redeem(member, points, key=key) == first[1]
            else:
                try:
                    self.engine.redeem(member, points, key=key)
                except IdempotencyConflictError:
                    pass
                else:
                    raise AssertionError("a changed redeem under a used key was accepted")
            assert self.state_of(member) == before
            return
        now = self.clock.now()
        available = sum(
            lot.remaining
            for lot in self.engine.store.member_lots(member, "points")
            if spendable(lot, now)
        )
        if points > available:
            try:
                self.engine.redeem(member, points, key=key)
            except InsufficientBalanceError:
                pass
            else:
                raise AssertionError(f"redeemed {points} with only {available} spendable")
            assert self.state_of(member) == before
            return
        redemption = self.engine.redeem(member, points, key=key)
        assert sum(used for _, used in redemption.lots) == points
        assert self.engine.balance(member) == before[1].get("points", 0) - points
        if key is not None:
            self.redeemed[(member, key)] = (points, redemption)

    @precondition(lambda self: bool(self.tracked))
    @rule(data=st.data())
    def replay_a_tracked_key(self, data: st.DataObject) -> None:
        (member, key), (_, first) = data.draw(st.sampled_from(sorted(self.tracked.items())))
        event = {
            "action": first.action,
            "amount": first.amount,
            "attributes": dict(self.tracked[(member, key)][0][2]),
        }
        before = self.state_of(member)
        assert self.engine.track(member, key=key, **event) == first
        assert self.state_of(member) == before

    # Invariants --------------------------------------------------------------------------

    @invariant()
    def every_balance_is_the_sum_of_its_entries_and_none_is_negative(self) -> None:
        for member in [*MEMBERS, LATECOMER]:
            assert_ledger_consistent(self.engine.store, member)

    @invariant()
    def open_lots_hold_the_points_balance(self) -> None:
        for member in [*MEMBERS, LATECOMER]:
            lots = self.engine.store.member_lots(member, "points")
            held = sum(lot.remaining for lot in lots if lot.status == "open")
            assert held == self.engine.balance(member, "points"), member


TestLedgerProperties = LedgerMachine.TestCase
