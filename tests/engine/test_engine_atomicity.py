"""Atomicity and domain events: all of an event's effects or none; subscribers hear after the
commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from gamify_adapters.memory import MemoryStore

from gamify import DomainEvent, Engine, Event

EngineFactory = Callable[..., Engine]

SHOP: dict[str, Any] = {
    "timezone": "UTC",
    "actions": {"purchase": {"amount": "required"}, "check_in": {"amount": "none"}},
    "rules": [
        {"name": "spend", "action": "purchase", "per_amount": 1},
        {"name": "visit", "action": "purchase", "fixed": 10},
        {"name": "xp", "action": "purchase", "currency": "xp", "fixed": 7},
        {"name": "daily", "action": "check_in", "fixed": 5},
    ],
    "caps": [{"name": "day", "limit": 1000, "period": "day"}],
}


class Boom(RuntimeError):
    pass


@pytest.fixture
def engine(gamify_engine: EngineFactory, gamify_patchable_store: MemoryStore) -> Engine:
    return gamify_engine(SHOP, store=gamify_patchable_store)


def everything(engine: Engine, member: str) -> tuple[Any, ...]:
    store = engine.store
    return (
        store.get_member(member),
        {k: v for k, v in store.get_balances(member).items() if v},
        store.history(member),
        store.member_lots(member, "points"),
        store.pending_outbox(),
        store.leaderboard("points", "all", limit=10),
    )


# --------------------------------------------------------------------------- atomicity


def test_a_failure_after_every_write_rolls_the_event_back(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the store fails after writing an event's effects, none of them remain."""
    engine.track("alice", "purchase", amount=20, key="before")
    before = everything(engine, "alice")
    real_apply = engine.store._apply  # type: ignore[attr-defined]

    def apply_then_fail(changes: Any) -> None:
        real_apply(changes)
        raise Boom("disk full")

    monkeypatch.setattr(engine.store, "_apply", apply_then_fail)
    with pytest.raises(Boom):
        engine.track("alice", "purchase", amount=30, key="during")
    assert everything(engine, "alice") == before
    monkeypatch.undo()
    # Nothing of the failed event lingers: its key is still free.
    assert engine.track("alice", "purchase", amount=30, key="during").total() == 40
    assert engine.balance("alice") == 30 + 40


def test_a_failure_part_way_through_the_ledger_rolls_back(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the store fails after writing the event's first rows, those rows, balances and lots
    go too."""
    real_append = engine.store._append  # type: ignore[attr-defined]
    calls = []

    def append_once(container: Any, value: Any) -> None:
        calls.append(value)
        if len(calls) == 2:
            raise Boom("connection lost")
        real_append(container, value)

    monkeypatch.setattr(engine.store, "_append", append_once)
    with pytest.raises(Boom):
        engine.track("bob", "purchase", amount=30)
    assert len(calls) == 2
    assert everything(engine, "bob") == (None, {}, [], [], [], [])


def test_a_failing_batch_writes_none_of_its_events(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """track_many is one unit: if the third event fails in the store, the first two are undone."""
    real_apply = engine.store._apply  # type: ignore[attr-defined]
    seen = []

    def fail_third(changes: Any) -> None:
        seen.append(changes)
        if len(seen) == 3:
            raise Boom("third")
        real_apply(changes)

    monkeypatch.setattr(engine.store, "_apply", fail_third)
    events: list[DomainEvent] = []
    engine.on("*", events.append)
    with pytest.raises(Boom):
        engine.track_many(
            [Event("carol", "check_in"), Event("dave", "check_in"), Event("erin", "check_in")]
        )
    assert [everything(engine, m)[:4] for m in ("carol", "dave", "erin")] == [
        (None, {}, [], [])
    ] * 3
    assert events == []


# --------------------------------------------------------------------------- domain events


def test_subscribers_hear_after_the_effects_are_stored(engine: Engine) -> None:
    """A 'credited' subscriber already sees the new balance and the new ledger entries."""
    seen: list[tuple[str, int, int]] = []

    def on_credit(event: DomainEvent) -> None:
        seen.append((event.name, engine.balance(event.member_id), len(engine.history("alice"))))

    engine.on("credited", on_credit)
    engine.track("alice", "purchase", amount=20)
    assert seen == [("credited", 30, 3)]


def test_the_credited_event_describes_the_credits(engine: Engine) -> None:
    """The 'credited' payload names the action, the key and each credit."""
    events: list[DomainEvent] = []
    engine.on("credited", events.append)
    outcome = engine.track("alice", "purchase", amount=20, key="o-1")
    [event] = events
    assert (event.name, event.member_id, event.at) == ("credited", "alice", outcome.at)
    assert event.payload["action"] == "purchase"
    assert event.payload["key"] == "o-1"
    credited = sorted((c["rule"], c["amount"]) for c in event.payload["credits"])
    assert credited == [("spend", 20), ("visit", 10), ("xp", 7)]


def test_a_batch_is_announced_after_the_whole_batch_is_stored(engine: Engine) -> None:
    """During track_many, the first event's subscriber already sees the second event's credit."""
    seen: list[int] = []
    engine.on("credited", lambda e: seen.append(engine.balance("alice")))
    engine.track_many([Event("alice", "check_in"), Event("alice", "purchase", amount=5)])
    assert seen == [20, 20]


def test_a_raising_subscriber_does_not_undo_the_award_and_is_logged(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A subscriber that raises is logged on the 'gamify' logger; the award stays and others
    still hear."""
    heard: list[str] = []

    def broken(event: DomainEvent) -> None:
        raise Boom("subscriber bug")

    engine.on("credited", broken)
    engine.on("credited", lambda e: heard.append(e.name))
    with caplog.at_level(logging.ERROR, logger="gamify"):
        outcome = engine.track("alice", "check_in")
    assert outcome.total() == 5
    assert engine.balance("alice") == 5
    assert heard == ["credited"]
    [record] = [r for r in caplog.records if r.name == "gamify"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[0] is Boom
    assert "credited" in record.getMessage()


def test_subscribing_to_an_unknown_event_name_is_refused(engine: Engine) -> None:
    """on('levelup') (a typo of 'level_up') raises instead of silently never firing."""
    with pytest.raises(ValueError, match="unknown domain event 'levelup'"):
        engine.on("levelup", lambda e: None)


def test_star_subscribes_to_every_event(engine: Engine) -> None:
    """A '*' subscriber hears credits, redemptions and refunds, in order."""
    names: list[str] = []
    engine.on("*", lambda e: names.append(e.name))
    engine.track("alice", "purchase", amount=100)
    redemption = engine.redeem("alice", 30)
    engine.refund(redemption)
    assert names == ["credited", "redeemed", "refunded"]


def test_an_event_that_credits_nothing_announces_nothing(gamify_engine: EngineFactory) -> None:
    """A purchase of 0.50 at 1 point per unit rounds to 0, credits nothing and sends no event."""
    engine = gamify_engine({**SHOP, "rules": [SHOP["rules"][0]]})
    names: list[str] = []
    engine.on("*", lambda e: names.append(e.name))
    assert engine.track("alice", "purchase", amount="0.50").credits == []
    assert names == []


def test_a_failed_event_announces_nothing(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the store refuses an event, no subscriber hears of it."""
    names: list[str] = []
    engine.on("*", lambda e: names.append(e.name))

    def refuse(changes: Any) -> None:
        raise Boom("refused")

    monkeypatch.setattr(engine.store, "_apply", refuse)
    with pytest.raises(Boom):
        engine.track("alice", "check_in")
    assert names == []


def test_events_can_be_left_for_a_worker(gamify_engine: EngineFactory) -> None:
    """With deliver_events=False events wait in the outbox until drain_outbox delivers them once."""
    engine = gamify_engine(SHOP, deliver_events=False)
    names: list[str] = []
    engine.on("*", lambda e: names.append(e.name))
    engine.track("alice", "check_in")
    assert names == []
    assert [m.name for m in engine.store.pending_outbox()] == ["credited"]
    assert engine.drain_outbox() == 1
    assert names == ["credited"]
    assert engine.drain_outbox() == 0


def test_every_domain_event_carries_its_own_id(engine: Engine) -> None:
    """Domain events have unique ids, so a subscriber can ignore a repeated delivery."""
    seen: list[DomainEvent] = []
    engine.on("*", seen.append)
    for _ in range(20):
        engine.track("alice", "check_in")
        engine.track("bob", "purchase", amount=3)
    assert len(seen) == 40
    assert len({e.event_id for e in seen}) == 40
