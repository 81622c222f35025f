"""Lock order of events that touch several members.

An event that touches several members (a referral reward) locks them in
ascending member id order. The store's
``unit_of_work`` receives the member ids to lock; these tests record every call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import pytest

from gamify import Engine
from gamify.store import UnitOfWork

EngineFactory = Callable[..., Engine]

REFERRALS: dict[str, Any] = {
    "timezone": "UTC",
    "actions": {"purchase": {"amount": "required"}},
    "rules": [{"name": "spend", "action": "purchase", "per_amount": 1}],
    "referral": {"qualifying_action": "purchase", "referee_reward": 30, "referrer_fixed": 50},
}


def record_locks(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Wrap the engine's store so each ``unit_of_work`` call appends the ids it locks."""
    calls: list[list[str]] = []
    original = engine.store.unit_of_work

    def unit_of_work(member_ids: Sequence[str]) -> AbstractContextManager[UnitOfWork]:
        calls.append(list(member_ids))
        return original(member_ids)

    monkeypatch.setattr(engine.store, "unit_of_work", unit_of_work)
    return calls


def test_a_referral_reward_locks_both_members_in_ascending_id_order(
    gamify_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Referee "a" of referrer "z" and referee "y" of referrer "b" make their first purchase:
    the two units are locked as ["a", "z"] and ["b", "y"], and every unit of several members
    (joins included) lists its ids ascending. The rewards prove both referrals qualified."""
    engine = gamify_engine(REFERRALS)
    calls = record_locks(engine, monkeypatch)
    engine.join("a", referral_code=engine.referral_code("z"))
    engine.join("y", referral_code=engine.referral_code("b"))
    before = len(calls)
    engine.track("a", "purchase", amount=10, key="a1")
    engine.track("y", "purchase", amount=10, key="y1")

    assert [c for c in calls[before:] if len(c) > 1] == [["a", "z"], ["b", "y"]]
    several = [c for c in calls if len(c) > 1]
    assert all(c == sorted(c) for c in several), several
    assert {m: engine.balance(m) for m in "abyz"} == {"a": 40, "b": 50, "y": 40, "z": 50}


def test_an_event_after_the_referral_qualified_locks_only_its_member(
    gamify_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once "y"'s referral has qualified, its next purchase locks ["y"] alone and pays the
    referrer "b" nothing more."""
    engine = gamify_engine(REFERRALS)
    engine.join("y", referral_code=engine.referral_code("b"))
    engine.track("y", "purchase", amount=10, key="y1")
    calls = record_locks(engine, monkeypatch)
    engine.track("y", "purchase", amount=10, key="y2")
    assert calls == [["y"]]
    assert (engine.balance("b"), engine.balance("y")) == (50, 50)


def test_a_batch_locks_its_members_and_their_referrers_up_front_in_id_order(
    gamify_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of "y"'s and "a"'s first purchases asks the store for ["a", "b", "y", "z"]:
    both referees and both referrers, sorted, before any unit of work."""
    engine = gamify_engine(REFERRALS)
    engine.join("a", referral_code=engine.referral_code("z"))
    engine.join("y", referral_code=engine.referral_code("b"))
    asked: list[list[str]] = []
    real = engine.store.batch
    monkeypatch.setattr(engine.store, "batch", lambda ids=(): asked.append(list(ids)) or real(ids))
    engine.track_many([{"member_id": m, "action": "purchase", "amount": 10} for m in ("y", "a")])
    assert asked == [["a", "b", "y", "z"]]
    assert {m: engine.balance(m) for m in "abyz"} == {"a": 40, "b": 50, "y": 40, "z": 50}
