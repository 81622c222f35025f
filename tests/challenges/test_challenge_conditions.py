"""Each kind of challenge condition, read through ``challenge_progress`` (current / target)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
import pytest

import gamify
from gamify.components.badges import BadgeFacts
from gamify.testing.plugin import EngineFactory

UTC = dt.UTC
START = dt.datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def program(**challenges: dict[str, Any]) -> dict[str, Any]:
    """Workouts pay 10 points and 60 XP, purchases 1 point per unit; level n needs 100 * (n - 1)
    XP; a daily workout streak; badge ``three_buys`` at 3 purchases; tiers on lifetime purchase
    amounts: base 0, silver 100, gold 500.
    """
    return {
        "timezone": "UTC",
        "actions": {"workout": {}, "buy": {"amount": "required"}, "stretch": {}},
        "rules": [
            {"name": "workout_points", "action": "workout", "fixed": 10},
            {"name": "workout_xp", "action": "workout", "currency": "xp", "fixed": 60},
            {"name": "buy_points", "action": "buy", "per_amount": 1},
        ],
        "levels": {"curve": "linear", "params": {"step": 100}, "max_level": 10},
        "streaks": {"daily": {"actions": ["workout"], "period": "day"}},
        "badges": {"three_buys": {"metric": "count", "action": "buy", "threshold": 3}},
        "tiers": {
            "metric": "amount",
            "action": "buy",
            "window": "lifetime",
            "levels": [
                {"name": "base"},
                {"name": "silver", "threshold": 100},
                {"name": "gold", "threshold": 500},
            ],
        },
        "challenges": {
            name: {"reward": {"points": 1000}, **spec} for name, spec in challenges.items()
        },
    }


def goal(*, enrolment: str = "auto", **condition: Any) -> dict[str, Any]:
    """A challenge of one condition."""
    return {"enrolment": enrolment, "conditions": [condition]}


def progress(engine: gamify.Engine, challenge: str, member: str = "m") -> tuple[Any, ...]:
    """(status, [(kind, current, target), ...]) with whole numbers."""
    p = engine.challenge_progress(member, challenge)
    return p.status, [(c.kind, int(c.current), int(c.target)) for c in p.conditions]


def statuses(outcome: gamify.Outcome) -> dict[str, str]:
    return {c.name: c.status for c in outcome.challenges}


def test_count_condition(gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock) -> None:
    """A count condition counts the action's events since enrolment up to its target."""
    engine = gamify_engine(program(c=goal(kind="count", action="workout", target=3)))
    gamify_clock.set(START)
    engine.track("m", "workout")
    engine.track("m", "stretch")  # another action: not counted
    engine.track("m", "workout")
    assert progress(engine, "c") == ("active", [("count", 2, 3)])
    assert statuses(engine.track("m", "workout")) == {"c": "completed"}
    assert progress(engine, "c") == ("completed", [("count", 3, 3)])


def test_count_on_distinct_local_days(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """With ``distinct_days`` only different local days count, in the member's zone, not UTC."""
    engine = gamify_engine(
        program(c=goal(kind="count", action="workout", distinct_days=True, target=3))
    )
    engine.set_member("m", timezone="Asia/Shanghai")

    def at(*local: int) -> None:
        gamify_clock.set(pendulum.datetime(*local, tz="Asia/Shanghai"))
        engine.track("m", "workout")

    at(2026, 6, 1, 7, 0)  # 31 May 23:00 UTC
    at(2026, 6, 1, 9, 0)  # 1 June 01:00 UTC: a different UTC date, the same local day
    assert progress(engine, "c") == ("active", [("count", 1, 3)])
    at(2026, 6, 2, 7, 0)
    at(2026, 6, 2, 23, 59)
    assert progress(engine, "c") == ("active", [("count", 2, 3)])
    at(2026, 6, 3, 0, 30)  # 2 June 16:30 UTC: still 2 June in UTC, a third local day
    assert progress(engine, "c") == ("completed", [("count", 3, 3)])


def test_earned_condition_counts_credits_since_enrolment(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """An earned condition adds up the currency's credits from enrolment on (rules and rewards)."""
    engine = gamify_engine(
        program(
            pts=goal(kind="earned", currency="points", target=25),
            xp=goal(kind="earned", currency="xp", target=150, enrolment="explicit"),
        )
    )
    gamify_clock.set(START)
    engine.track("m", "workout")  # 10 points, 60 XP (before the xp enrolment)
    engine.enroll("m", "xp")
    assert progress(engine, "pts") == ("active", [("earned", 10, 25)])
    assert progress(engine, "xp") == ("active", [("earned", 0, 150)])
    engine.track("m", "buy", amount=12)
    assert progress(engine, "pts") == ("active", [("earned", 22, 25)])
    assert statuses(engine.track("m", "buy", amount=3))["pts"] == "completed"
    assert progress(engine, "pts") == ("completed", [("earned", 25, 25)])
    engine.track("m", "workout")
    engine.track("m", "workout")
    assert progress(engine, "xp") == ("active", [("earned", 120, 150)])
    assert statuses(engine.track("m", "workout"))["xp"] == "completed"


def test_earned_condition_counts_what_other_challenges_pay_in_the_same_event(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """``first`` completes at the first workout and pays 1000 points: they count toward
    ``big`` (2000 points) in that same event, in whichever order the file lists them, and so
    does a reward that the completion of ``big`` itself would chain into another challenge."""
    engine = gamify_engine(
        program(
            big=goal(kind="earned", currency="points", target=2000, enrolment="explicit"),
            first=goal(kind="count", action="workout", target=1),
            after_big=goal(kind="earned", currency="points", target=3000, enrolment="explicit"),
        )
    )
    gamify_clock.set(START)
    engine.enroll("m", "big")
    engine.enroll("m", "after_big")
    outcome = engine.track("m", "workout")  # 10 + 1000 (first)
    assert progress(engine, "big") == ("active", [("earned", 1010, 2000)])
    assert statuses(outcome) == {"first": "completed", "big": "active", "after_big": "active"}
    outcome = engine.track("m", "buy", amount=990)  # 990 -> big (2000) pays 1000 -> after_big
    assert statuses(outcome) == {"big": "completed", "after_big": "completed"}
    assert sorted(c.name for c in outcome.challenges) == ["after_big", "big"]  # each once
    assert progress(engine, "after_big") == ("completed", [("earned", 3000, 3000)])
    assert engine.balance("m") == 10 + 1000 + 990 + 1000 + 1000


def test_level_condition(gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock) -> None:
    """A level condition reads the member's level: 60 XP a workout reaches level 3 at 240 XP."""
    engine = gamify_engine(program(c=goal(kind="level", target=3)))
    gamify_clock.set(START)
    engine.track("m", "workout")  # 60 XP: level 1
    assert progress(engine, "c") == ("active", [("level", 1, 3)])
    engine.track("m", "workout")  # 120: level 2
    engine.track("m", "workout")  # 180: level 2
    assert progress(engine, "c") == ("active", [("level", 2, 3)])
    outcome = engine.track("m", "workout")  # 240: level 3
    assert [u.level for u in outcome.level_ups] == [3]
    assert statuses(outcome) == {"c": "completed"}


@pytest.mark.parametrize("order", [("first", "c"), ("c", "first")])
def test_level_reached_through_another_challenges_reward_completes_in_that_event(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock, order: tuple[str, str]
) -> None:
    """The first workout pays 60 XP and completes ``first``, which pays 100 XP: 160 XP is
    level 2, so ``c`` (level 2) completes in that same event, whichever is listed first."""
    specs = {
        "first": {**goal(kind="count", action="workout", target=1), "reward": {"xp": 100}},
        "c": goal(kind="level", target=2),
    }
    engine = gamify_engine(program(**{name: specs[name] for name in order}))
    gamify_clock.set(START)
    outcome = engine.track("m", "workout")
    assert [u.level for u in outcome.level_ups] == [2]
    assert statuses(outcome) == {"first": "completed", "c": "completed"}
    assert sorted(c.name for c in outcome.challenges) == ["c", "first"]
    assert progress(engine, "c") == ("completed", [("level", 2, 2)])
    assert engine.balance("m") == 10 + 1000


def test_state_condition_is_judged_on_current_state(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A level reached before enrolment satisfies a level condition at the next event."""
    engine = gamify_engine(program(c=goal(kind="level", target=3, enrolment="explicit")))
    gamify_clock.set(START)
    for _ in range(4):
        engine.track("m", "workout")  # 240 XP: level 3, before enrolling
    engine.enroll("m", "c")
    assert progress(engine, "c") == ("active", [("level", 3, 3)])
    assert statuses(engine.track("m", "stretch")) == {"c": "completed"}


def test_tier_condition_is_met_by_the_tier_or_above(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A tier condition holds once the member's tier is the named one or higher."""
    engine = gamify_engine(program(c=goal(kind="tier", tier="silver")))
    gamify_clock.set(START)
    engine.track("m", "buy", amount=60)
    assert progress(engine, "c") == ("active", [("tier", 0, 1)])
    outcome = engine.track("m", "buy", amount=50)  # 110 in all: silver
    assert outcome.tier_change is not None and outcome.tier_change.to_tier == "silver"
    assert statuses(outcome) == {"c": "completed"}
    assert progress(engine, "c") == ("completed", [("tier", 1, 1)])
    engine.track("jumper", "buy", amount=600)  # straight to gold
    assert progress(engine, "c", "jumper") == ("completed", [("tier", 1, 1)])


def test_streak_condition_reads_the_current_length(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A streak condition reads the current run: a missed day resets it before it reaches 3."""
    engine = gamify_engine(program(c=goal(kind="streak", streak="daily", target=3)))
    gamify_clock.set(START)  # 1 June
    engine.track("m", "workout")
    gamify_clock.advance(days=1)
    engine.track("m", "workout")
    assert progress(engine, "c") == ("active", [("streak", 2, 3)])
    gamify_clock.advance(days=2)  # 4 June: 3 June passed without a workout
    assert progress(engine, "c") == ("active", [("streak", 0, 3)])
    engine.track("m", "workout")
    gamify_clock.advance(days=1)
    engine.track("m", "workout")
    assert progress(engine, "c") == ("active", [("streak", 2, 3)])
    gamify_clock.advance(days=1)
    assert statuses(engine.track("m", "workout")) == {"c": "completed"}
    assert progress(engine, "c")[0] == "completed"


def test_badge_condition(gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock) -> None:
    """A badge condition holds once the badge is held (awarded by the same event here)."""
    engine = gamify_engine(program(c=goal(kind="badge", badge="three_buys")))
    gamify_clock.set(START)
    engine.track("m", "buy", amount=1)
    engine.track("m", "buy", amount=1)
    assert progress(engine, "c") == ("active", [("badge", 0, 1)])
    outcome = engine.track("m", "buy", amount=1)
    assert [b.badge for b in outcome.badges] == ["three_buys"]
    assert statuses(outcome) == {"c": "completed"}


def test_custom_predicate_condition(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A custom condition calls the predicate registered under its name with the member's facts."""
    engine = gamify_engine(program(c=goal(kind="custom", predicate="big_basket")))
    calls: list[BadgeFacts] = []

    def big_basket(facts: BadgeFacts) -> bool:
        calls.append(facts)
        return facts.action == "buy" and facts.attributes.get("items", 0) >= 5

    engine.register_predicate("big_basket", big_basket)
    gamify_clock.set(START)
    engine.track("m", "buy", amount=10, attributes={"items": 4})
    assert progress(engine, "c") == ("active", [("custom", 0, 1)])
    outcome = engine.track("m", "buy", amount=10, attributes={"items": 5})
    assert statuses(outcome) == {"c": "completed"}
    assert [c.amount for c in outcome.credits if c.source == "challenge"] == [1000]
    facts = calls[-1]  # the completing event's facts
    assert (facts.member_id, facts.action, facts.counts["buy"]) == ("m", "buy", 2)


def test_custom_predicate_on_member_state(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A predicate may judge accumulated state: two stretches and 20 points earned."""
    engine = gamify_engine(program(c=goal(kind="custom", predicate="flexible")))
    engine.register_predicate(
        "flexible",
        lambda f: f.counts.get("stretch", 0) >= 2 and f.earned.get("points", 0) >= 20,
    )
    gamify_clock.set(START)
    engine.track("m", "stretch")
    engine.track("m", "stretch")
    assert progress(engine, "c") == ("active", [("custom", 0, 1)])
    engine.track("m", "workout")  # 10 points
    assert progress(engine, "c")[0] == "active"
    assert statuses(engine.track("m", "workout")) == {"c": "completed"}  # 20 points


def test_every_condition_must_hold(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A challenge of a count and a level completes only when both reach their targets."""
    engine = gamify_engine(
        program(
            c={
                "conditions": [
                    {"kind": "count", "action": "buy", "target": 2},
                    {"kind": "level", "target": 2},
                ]
            }
        )
    )
    gamify_clock.set(START)
    engine.track("m", "buy", amount=1)
    engine.track("m", "buy", amount=1)
    assert progress(engine, "c") == ("active", [("count", 2, 2), ("level", 1, 2)])
    engine.track("m", "workout")  # 60 XP
    assert progress(engine, "c") == ("active", [("count", 2, 2), ("level", 1, 2)])
    assert statuses(engine.track("m", "workout")) == {"c": "completed"}  # 120 XP: level 2
    assert progress(engine, "c") == ("completed", [("count", 2, 2), ("level", 2, 2)])
