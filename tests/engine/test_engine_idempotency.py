"""Idempotency keys: a replay returns the first outcome and writes nothing; a changed payload is
refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pendulum
import pytest

from gamify import (
    DomainEvent,
    Engine,
    IdempotencyConflictError,
    InvalidEventError,
    InvalidTimeError,
    ManualClock,
    Program,
)

EngineFactory = Callable[..., Engine]

SHOP: dict[str, Any] = {
    "timezone": "UTC",
    "actions": {"purchase": {"amount": "optional"}, "check_in": {"amount": "none"}},
    "rules": [
        {"name": "spend", "action": "purchase", "per_amount": "1.5"},
        {"name": "daily", "action": "check_in", "fixed": 5},
    ],
}


@pytest.fixture
def engine(gamify_engine: EngineFactory) -> Engine:
    return gamify_engine(SHOP)


def snapshot(engine: Engine, member: str) -> tuple[Any, ...]:
    """Everything a track could have written for ``member``."""
    return (
        engine.store.get_member(member),
        engine.store.get_balances(member),
        engine.store.history(member),
        engine.store.member_lots(member, "points"),
        engine.store.pending_outbox(),
    )


def test_the_same_key_sent_a_thousand_times_credits_once(engine: Engine) -> None:
    """1,000 sends of one keyed purchase: one credit, one ledger entry, 1,000 equal outcomes."""
    events: list[DomainEvent] = []
    engine.on("*", events.append)
    outcomes = [engine.track("alice", "purchase", amount=10, key="order-1") for _ in range(1000)]
    assert all(outcome == outcomes[0] for outcome in outcomes)
    assert [(c.rule, c.amount) for c in outcomes[0].credits] == [("spend", 15)]
    assert engine.balance("alice") == 15
    assert [(h.amount, h.key) for h in engine.history("alice")] == [(15, "order-1")]
    assert [e.name for e in events] == ["credited"]


def test_a_replay_does_not_count_toward_caps_or_counts(gamify_engine: EngineFactory) -> None:
    """Replays use no cap room: after 3 replays a second real check-in still fits a 10-point
    daily cap."""
    engine = gamify_engine({**SHOP, "caps": [{"name": "day", "limit": 10, "period": "day"}]})
    for _ in range(3):
        engine.track("alice", "check_in", key="c1")
    assert engine.track("alice", "check_in", key="c2").total() == 5
    assert engine.balance("alice") == 10


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 11},
        {"amount": None},
        {"action": "check_in", "amount": None},
        {"attributes": {"channel": "web"}},
        {"attributes": {}},
    ],
    ids=["amount", "no-amount", "action", "attribute-value", "attributes-dropped"],
)
def test_the_same_key_with_another_payload_is_refused_and_writes_nothing(
    engine: Engine, change: dict[str, Any]
) -> None:
    """Reusing a key for a different action, amount or attributes raises a conflict and changes
    nothing."""
    first = {"action": "purchase", "amount": 10, "attributes": {"channel": "app"}}
    engine.track("alice", key="k1", **first)  # type: ignore[arg-type]
    before = snapshot(engine, "alice")
    with pytest.raises(IdempotencyConflictError) as info:
        engine.track("alice", key="k1", **{**first, **change})  # type: ignore[arg-type]
    assert (info.value.member_id, info.value.key, info.value.kind) == ("alice", "k1", "track")
    assert snapshot(engine, "alice") == before


@pytest.mark.parametrize("amount", [10, 10.0, Decimal("10.00"), "10", "10.000", Decimal("1E+1")])
def test_equal_amounts_in_any_spelling_replay(engine: Engine, amount: Any) -> None:
    """10, 10.0, Decimal("10.00") and "10" are one amount: the retry replays the first outcome."""
    first = engine.track("alice", "purchase", amount=Decimal("10.0"), key="k")
    assert engine.track("alice", "purchase", amount=amount, key="k") == first
    assert engine.balance("alice") == 15


def test_attribute_order_does_not_matter(engine: Engine) -> None:
    """Attributes are compared as canonical JSON, so their order is irrelevant."""
    first = engine.track("alice", "purchase", amount=1, key="k", attributes={"a": 1, "b": [1, 2]})
    again = engine.track("alice", "purchase", amount=1, key="k", attributes={"b": [1, 2], "a": 1})
    assert again == first


def test_without_at_retries_are_not_compared_on_time(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    """A retry without 'at' an hour later replays the first outcome, which keeps the first clock
    time."""
    first = engine.track("alice", "purchase", amount=10, key="k")
    gamify_clock.advance(hours=1)
    again = engine.track("alice", "purchase", amount=10, key="k")
    assert again == first
    assert again.at == first.at == gamify_clock.now() - timedelta(hours=1)


def test_with_at_the_instant_is_part_of_the_payload(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    """With 'at', the same instant in another zone replays, and another instant is a conflict."""
    at = gamify_clock.now() - timedelta(hours=2)
    first = engine.track("alice", "purchase", amount=10, key="k", at=at)
    same_instant = pendulum.instance(at).in_timezone("Asia/Shanghai")
    assert engine.track("alice", "purchase", amount=10, key="k", at=same_instant) == first
    with pytest.raises(IdempotencyConflictError):
        engine.track("alice", "purchase", amount=10, key="k", at=at + timedelta(seconds=1))
    assert engine.balance("alice") == 15


def test_keys_are_scoped_per_member(engine: Engine) -> None:
    """The same key used by two members is two events."""
    engine.track("alice", "check_in", key="k")
    engine.track("bob", "check_in", key="k")
    assert (engine.balance("alice"), engine.balance("bob")) == (5, 5)


def test_keys_are_scoped_per_kind_of_call(engine: Engine) -> None:
    """A redeem may use a key a track already used: they do not collide."""
    engine.track("alice", "purchase", amount=100, key="k")
    redemption = engine.redeem("alice", 50, key="k")
    assert redemption.points == 50
    assert engine.balance("alice") == 100


def test_a_replay_answers_after_the_program_changed(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    """After the rate changes from 1.5 to 3, a retry still returns the first outcome and credits
    nothing."""
    first = engine.track("alice", "purchase", amount=10, key="k")
    changed = Program.from_dict(
        {**SHOP, "rules": [{"name": "spend", "action": "purchase", "per_amount": 3}]}
    )
    new_engine = Engine(changed, store=engine.store, clock=gamify_clock)
    assert new_engine.track("alice", "purchase", amount=10, key="k") == first
    assert new_engine.balance("alice") == 15
    assert new_engine.track("alice", "purchase", amount=10, key="k2").total() == 30


@pytest.mark.parametrize(
    "change",
    [
        {"actions": {"check_in": {"amount": "none"}}, "rules": []},  # purchase is gone
        {  # purchase takes no amount now, and pays a fixed award
            "actions": {**SHOP["actions"], "purchase": {"amount": "none"}},
            "rules": [{"name": "spend", "action": "purchase", "fixed": 7}],
        },
    ],
    ids=["action removed", "amount no longer taken"],
)
def test_a_replay_answers_when_the_program_would_now_refuse_the_event(
    engine: Engine, gamify_clock: ManualClock, change: dict[str, Any]
) -> None:
    """The first outcome is returned before the event is checked against the changed program;
    a new key is refused by it."""
    first = engine.track("alice", "purchase", amount=10, key="k")
    changed = Program.from_dict({**SHOP, **change})
    new_engine = Engine(changed, store=engine.store, clock=gamify_clock)
    assert new_engine.track("alice", "purchase", amount=10, key="k") == first
    with pytest.raises(IdempotencyConflictError):
        new_engine.track("alice", "purchase", amount=11, key="k")
    with pytest.raises(InvalidEventError):
        new_engine.track("alice", "purchase", amount=10, key="k2")
    assert new_engine.balance("alice") == 15


def test_a_replay_answers_after_the_late_event_window_has_passed(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    """A retry naming the first call's instant still gets the first outcome once that instant
    is older than late_event_days; a new key at that instant is refused."""
    at = gamify_clock.now()
    first = engine.track("alice", "purchase", amount=10, key="k", at=at)
    gamify_clock.advance(timedelta(days=400))
    assert engine.track("alice", "purchase", amount=10, key="k", at=at) == first
    with pytest.raises(InvalidTimeError, match="days late"):
        engine.track("alice", "purchase", amount=10, key="k2", at=at)
    assert engine.balance("alice") == 15


def test_a_keyed_redeem_replays(engine: Engine) -> None:
    """Redeeming twice with one key spends once and returns the first redemption."""
    engine.track("alice", "purchase", amount=100)
    first = engine.redeem("alice", 40, key="r1")
    assert engine.redeem("alice", 40, key="r1") == first
    assert engine.balance("alice") == 110
    with pytest.raises(IdempotencyConflictError):
        engine.redeem("alice", 41, key="r1")
    assert engine.balance("alice") == 110


def test_a_refused_event_does_not_use_up_its_key(engine: Engine) -> None:
    """A key whose first send was invalid can still be used for a valid event."""
    with pytest.raises(ValueError):
        engine.track("alice", "purchase", amount=-1, key="k")
    assert engine.track("alice", "purchase", amount=2, key="k").total() == 3


def test_a_key_repeated_within_a_batch_behaves_as_a_repeated_key(engine: Engine) -> None:
    """In track_many, a key seen earlier in the same batch returns that event's outcome."""
    first, again, other = engine.track_many(
        [
            {"member_id": "ann", "action": "purchase", "amount": 10, "key": "o-1"},
            {"member_id": "ann", "action": "purchase", "amount": "10.0", "key": "o-1"},
            {"member_id": "ann", "action": "purchase", "amount": 4, "key": "o-2"},
        ]
    )
    assert again == first
    assert first.total() == 15 and other.total() == 6
    assert engine.balance("ann") == 21
    assert len(engine.history("ann")) == 2


def test_a_conflicting_key_within_a_batch_fails_the_whole_batch(engine: Engine) -> None:
    """In track_many, a key reused with another payload refuses the batch: nothing is written."""
    engine.track("ann", "check_in", key="c-0")
    before = snapshot(engine, "ann")
    with pytest.raises(IdempotencyConflictError):
        engine.track_many(
            [
                {"member_id": "ann", "action": "purchase", "amount": 10, "key": "o-1"},
                {"member_id": "ann", "action": "purchase", "amount": 11, "key": "o-1"},
            ]
        )
    assert snapshot(engine, "ann") == before


def test_time_is_compared_only_when_both_calls_name_it(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    """A retry is compared on its event time only when both it and the first call passed one."""
    first = engine.track("ann", "purchase", amount=10, key="o-1")
    later = gamify_clock.now() - timedelta(minutes=5)
    assert engine.track("ann", "purchase", amount=10, key="o-1", at=later) == first
    named = engine.track("ann", "purchase", amount=4, key="o-2", at=later)
    assert engine.track("ann", "purchase", amount=4, key="o-2") == named
    with pytest.raises(IdempotencyConflictError):
        engine.track("ann", "purchase", amount=4, key="o-2", at=later - timedelta(minutes=1))
    assert engine.balance("ann") == 15 + 6


def test_whole_floats_in_attributes_are_the_same_json_numbers(engine: Engine) -> None:
    """JSON has one kind of number: a retry sending 1.0 for 1 (nested too) replays; 1.5 does
    not."""
    first = engine.track("alice", "check_in", key="k", attributes={"n": 1, "tags": [2, -0.0]})
    assert engine.track("alice", "check_in", key="k", attributes={"n": 1.0, "tags": [2.0, 0]}) == (
        first
    )
    with pytest.raises(IdempotencyConflictError):
        engine.track("alice", "check_in", key="k", attributes={"n": 1.5, "tags": [2, 0]})
    assert engine.balance("alice") == 5


def test_a_replay_shows_a_combined_multiplier_with_the_same_digits(
    gamify_engine: EngineFactory,
) -> None:
    """Tags 2.5 and 0.4 compound to 1: the credit reads ``1`` the first time and on the
    replay (a stored outcome leaves out a multiplier equal to its default of 1)."""
    engine = gamify_engine(
        {
            **SHOP,
            "multipliers": [
                {"name": "gold", "kind": "tag", "tag": "gold", "factor": "2.5"},
                {"name": "slow", "kind": "tag", "tag": "slow", "factor": "0.4"},
            ],
        }
    )
    engine.set_member("alice", tags=["gold", "slow"])
    first = engine.track("alice", "purchase", amount=10, key="k1")
    again = engine.track("alice", "purchase", amount=10, key="k1")
    assert str(first.credits[0].multiplier) == str(again.credits[0].multiplier) == "1"
    assert first.model_dump_json() == again.model_dump_json()
