"""Edge rules: repairs announce themselves and move badges, challenge predicates must exist,
rules read only streaks their action counts, attribute names are strings, one-time
challenges run once, and a fully capped event announces no credit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pendulum
import pytest

import gamify
from gamify import ConfigurationError, DomainEvent, Engine, InvalidEventError, ProgramError

EngineFactory = Callable[..., Engine]
START = pendulum.datetime(2026, 3, 2, 9, tz="UTC")

STREAKS: dict[str, Any] = {
    "timezone": "UTC",
    "actions": {"workout": {"amount": "none"}},
    "rules": [{"name": "w", "action": "workout", "fixed": 10}],
    "streaks": {"daily": {"actions": ["workout"], "repair": {"window_hours": 48, "cost": 5}}},
    "badges": {"three_days": {"metric": "streak", "streak": "daily", "threshold": 3}},
}


def test_a_repair_is_announced_and_awards_a_streak_badge(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A repair that lifts a run to a badge's length awards the badge and sends streak_repaired."""
    engine = gamify_engine(STREAKS)
    events: list[DomainEvent] = []
    engine.on("*", events.append)
    gamify_clock.set(START)
    engine.track("m", "workout")
    engine.track("m", "workout", at=START)  # same day: counts once
    gamify_clock.set(START + timedelta(days=2))  # 3 March missed
    engine.track("m", "workout")  # a new run of 1 after the break
    repaired = engine.repair_streak("m", "daily")
    assert repaired.length == 2  # 1 before the break + 1 since
    gamify_clock.set(START + timedelta(days=3))
    assert [b.badge for b in engine.track("m", "workout").badges] == ["three_days"]
    assert [e.payload["length"] for e in events if e.name == "streak_repaired"] == [2]


def test_a_challenge_needs_its_predicate_registered(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A challenge whose custom predicate was never registered is a configuration error."""
    program = dict(STREAKS)
    program["challenges"] = {
        "odd": {"conditions": [{"kind": "custom", "predicate": "is_odd"}], "reward": {"points": 1}}
    }
    engine = gamify_engine(program)
    gamify_clock.set(START)
    with pytest.raises(ConfigurationError, match="is_odd"):
        engine.track("m", "workout")
    assert engine.store.get_member("m") is None
    engine.register_predicate("is_odd", lambda facts: True)
    assert engine.track("m", "workout").challenges[0].completed


def test_a_rule_reads_only_a_streak_its_action_counts() -> None:
    """A rule naming a streak that its action does not count is refused at load."""
    program: dict[str, Any] = {
        "timezone": "UTC",
        "actions": {"workout": {}, "run": {}},
        "rules": [{"name": "r", "action": "run", "formula": "streak", "streak": "daily"}],
        "streaks": {"daily": {"actions": ["workout"]}},
    }
    with pytest.raises(ProgramError) as info:
        gamify.Program.from_dict(program)
    assert info.value.key_path == "rules[0].streak"


def test_attribute_names_must_be_strings(engine_plain: Engine) -> None:
    """Attributes with non-string names are refused: {1: 2} would read as {"1": 2}."""
    with pytest.raises(InvalidEventError, match="attribute names"):
        engine_plain.track("m", "workout", attributes={1: 2})  # type: ignore[dict-item]
    assert engine_plain.store.get_member("m") is None


def test_a_one_time_challenge_that_failed_cannot_be_entered_again(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A one-time challenge whose window ran out refuses a new enrolment."""
    program = dict(STREAKS)
    program["challenges"] = {
        "twice": {
            "enrolment": "explicit",
            "days": 1,
            "conditions": [{"kind": "count", "action": "workout", "target": 2}],
        }
    }
    engine = gamify_engine(program)
    gamify_clock.set(START)
    engine.enroll("m", "twice")
    gamify_clock.set(START + timedelta(days=2))
    assert engine.challenge_progress("m", "twice").status == "failed"
    with pytest.raises(InvalidEventError, match="already failed"):
        engine.enroll("m", "twice")


def test_an_event_capped_to_nothing_announces_no_credit(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """When caps cut every credit to zero, no 'credited' event goes out."""
    program = dict(STREAKS)
    program["caps"] = [{"name": "daily", "limit": 10, "period": "day"}]
    engine = gamify_engine(program)
    seen: list[DomainEvent] = []
    engine.on("credited", seen.append)
    gamify_clock.set(START)
    engine.track("m", "workout")
    capped = engine.track("m", "workout")
    assert capped.total() == 0 and capped.caps[0].cut == 10
    assert len(seen) == 1


@pytest.fixture
def engine_plain(gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock) -> Engine:
    gamify_clock.set(START)
    return gamify_engine(STREAKS)


def test_rewards_are_neither_multiplied_nor_capped_and_use_no_cap_room(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Badge and level rewards skip multipliers and caps; only rule credits fill a cap."""
    program: dict[str, Any] = {
        "timezone": "UTC",
        "actions": {"workout": {"amount": "none"}},
        "rules": [
            {"name": "w", "action": "workout", "fixed": 10},
            {"name": "w_xp", "action": "workout", "currency": "xp", "fixed": 100},
        ],
        "multipliers": [{"name": "vip", "kind": "tag", "tag": "vip", "factor": 2}],
        "caps": [{"name": "daily", "limit": 30, "period": "day"}],
        "levels": {"curve": "linear", "params": {"step": 100}, "reward": {"points": "50"}},
        "badges": {
            "first": {
                "metric": "count",
                "action": "workout",
                "threshold": 1,
                "reward": {"points": 70},
            }
        },
    }
    engine = gamify_engine(program)
    gamify_clock.set(START)
    engine.set_member("m", tags=["vip"])
    first = engine.track("m", "workout")
    by_source = {c.source: c.amount for c in first.credits if c.currency == "points"}
    # The rule pays 10 x 2; the level-2 reward (50) and the badge (70) are paid as declared.
    assert by_source == {"rule": 20, "level": 50, "badge": 70}
    second = engine.track("m", "workout")
    # 20 of the 30-point cap were used by the rule alone: 10 of the next 20 fit.
    rule_credit = next(c for c in second.credits if c.source == "rule" and c.currency == "points")
    assert (rule_credit.amount, rule_credit.capped) == (10, 10)


def test_a_token_covering_a_missed_day_reads_as_spent_before_the_next_event(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Between events, a freeze token already due to cover a missed day reads as spent,
    and it stays spent once a second missed day breaks the run (it covered the first)."""
    program: dict[str, Any] = {
        "timezone": "UTC",
        "actions": {"workout": {"amount": "none"}},
        "streaks": {"daily": {"actions": ["workout"], "freeze": {"every": 2, "max_tokens": 1}}},
    }
    engine = gamify_engine(program)
    for day in range(2):
        gamify_clock.set(START + timedelta(days=day))
        engine.track("m", "workout")
    assert (engine.member("m").streaks[0].length, engine.member("m").streaks[0].tokens) == (2, 1)
    gamify_clock.set(START + timedelta(days=3))  # 4 March: 3 March was missed
    state = engine.member("m").streaks[0]
    assert (state.length, state.tokens) == (2, 0)
    gamify_clock.set(START + timedelta(days=4))  # 5 March: a second missed day breaks it
    state = engine.member("m").streaks[0]
    assert (state.length, state.tokens) == (0, 0)
    gamify_clock.set(START + timedelta(days=5))
    after = engine.track("m", "workout").streaks[0]
    assert (after.length, after.tokens, after.broken) == (1, 0, True)


def test_a_rule_formula_reads_the_members_level_before_the_event(
    gamify_engine: Callable[..., Engine],
) -> None:
    """``5 * level`` pays 5 at level 1; the event that reaches level 2 still pays at level 1,
    the next one at level 2."""
    engine = gamify_engine(
        {
            "timezone": "UTC",
            "actions": {"run": {"amount": "none"}},
            "rules": [
                {"name": "xp", "action": "run", "currency": "xp", "fixed": 60},
                {"name": "bonus", "action": "run", "formula": "5 * level"},
            ],
            "levels": {"curve": "linear", "params": {"step": 100}},
        }
    )
    assert engine.track("m", "run").total("points") == 5
    second = engine.track("m", "run")
    assert [up.level for up in second.level_ups] == [2]
    assert second.total("points") == 5
    assert engine.track("m", "run").total("points") == 10
