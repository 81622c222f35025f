"""Outcomes the engine builds hold exactly what validating their own fields would give.

The engine builds outcome models without validating them again (``built``); these
tests catch a field left out, fields out of their declared order (the order of the
repr and the JSON) and a value of another type (an ``int`` where the model declares
``Decimal``), which validation would have converted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

import gamify
from gamify._core import built
from gamify._outcome import Credit, Outcome

PROGRAM = {
    "name": "shapes",
    "timezone": "Asia/Shanghai",
    "actions": {"buy": {"amount": "required"}, "visit": {"amount": "none"}},
    "rules": [
        {"name": "buy_points", "action": "buy", "per_amount": "1.5"},
        {"name": "buy_xp", "action": "buy", "currency": "xp", "per_amount": 1},
        {"name": "visit", "action": "visit", "fixed": 5},
    ],
    "multipliers": [{"name": "vip", "kind": "tag", "tag": "vip", "factor": "1.5"}],
    "caps": [{"name": "visit_day", "limit": 8, "period": "day", "action": "visit"}],
    "levels": {"curve": "linear", "params": {"step": 100}, "reward": {"points": "10 * level"}},
    "streaks": {"visits": {"actions": ["visit"], "period": "day"}},
    "badges": {
        "first_buy": {"metric": "count", "action": "buy", "threshold": 1, "reward": {"points": 5}},
        "big": {
            "kind": "tiered",
            "metric": "sum",
            "action": "buy",
            "tiers": [{"name": "bronze", "threshold": 100}, {"name": "gold", "threshold": 500}],
        },
    },
}


def _revalidated(outcome: Outcome) -> Outcome:
    return Outcome.model_validate(outcome.model_dump())


def test_engine_outcomes_equal_their_validated_form() -> None:
    # 23:30 UTC is 07:30 the next day in Shanghai: local days differ from UTC days.
    clock = gamify.ManualClock(datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    engine = gamify.Engine(PROGRAM, clock=clock)
    engine.set_member("ada", tags=["vip"])
    outcomes = []
    for day in range(3):
        outcomes.append(engine.track("ada", "visit", key=f"v{day}a"))
        outcomes.append(engine.track("ada", "visit"))  # the second one is capped
        outcomes.append(engine.track("ada", "buy", amount="333.3", key=f"b{day}"))
        clock.advance(timedelta(days=1))
    outcomes.append(engine.track("ada", "buy", amount="333.3", key="b0"))  # a replay
    # Every kind of built part occurs: credits, caps, level-ups, badges, streaks.
    assert any(o.caps for o in outcomes)
    assert any(o.level_ups for o in outcomes)
    assert any(o.badges for o in outcomes)
    assert any(o.streaks for o in outcomes)
    for outcome in outcomes:
        assert repr(_revalidated(outcome)) == repr(outcome)
        assert Outcome.model_validate_json(outcome.model_dump_json()) == outcome


def test_built_models_stay_frozen() -> None:
    credit = built(
        Credit,
        currency="points",
        amount=1,
        rule="r",
        source="rule",
        capped=0,
        multiplier=Decimal(1),
        pending_until=None,
        expires_at=None,
    )
    assert credit == Credit(currency="points", amount=1, rule="r")
    with pytest.raises(Exception, match="frozen"):
        credit.amount = 2  # type: ignore[misc]


def test_built_models_hold_their_own_set_of_fields_set() -> None:
    """Each built model names every field as set, as validation of all of them would, in a
    set of its own: a copy with an update leaves the others alone."""
    values = {
        "currency": "points",
        "amount": 1,
        "rule": "r",
        "source": "rule",
        "capped": 0,
        "multiplier": Decimal(1),
        "pending_until": None,
        "expires_at": None,
    }
    first, second = built(Credit, **values), built(Credit, **dict(values))
    assert first.model_fields_set == Credit(**values).model_fields_set == set(Credit.model_fields)
    assert first.model_fields_set is not second.model_fields_set
    first.model_fields_set.discard("rule")
    assert second.model_fields_set == set(Credit.model_fields)
    moved = second.model_copy(update={"amount": 2})
    assert moved.amount == 2 and second.amount == 1
    assert built(Credit, **values).model_fields_set == set(Credit.model_fields)
