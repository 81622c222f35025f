"""How the engine joins streaks, levels and badges within one call: domain events,
the ``streak`` formula name, rewards that feed further levels and badges, zones, and
repairs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import gamify
from gamify.errors import IdempotencyConflictError, InvalidEventError
from gamify.testing.plugin import EngineFactory


def at(day: int, hour: int = 9, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def repair_program(cost: int = 30) -> dict[str, Any]:
    """Workouts pay 10 points; a daily streak with a badge at 3 days, repairable for 48
    hours at ``cost`` points.
    """
    return {
        "timezone": "UTC",
        "actions": {"workout": {}},
        "rules": [{"name": "workout_points", "action": "workout", "fixed": 10}],
        "streaks": {
            "daily": {"actions": ["workout"], "repair": {"window_hours": 48, "cost": cost}}
        },
        "badges": {"three_days": {"metric": "streak", "streak": "daily", "threshold": 3}},
    }


def test_streak_extended_fires_once_per_counted_day(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A second workout on the same day fires no ``streak_extended``; the next day's does."""
    engine = gamify_engine(repair_program())
    seen: list[gamify.DomainEvent] = []
    engine.on("streak_extended", seen.append)
    for day, hour in ((2, 9), (2, 18), (3, 9)):
        gamify_clock.set(at(day, hour))
        engine.track("m", "workout")
    assert [(e.at, e.payload["length"]) for e in seen] == [(at(2), 1), (at(3), 2)]


def test_formula_streak_reads_the_first_declared_streak_of_the_action(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Without a ``streak`` key, ``streak`` is the first streak in file order that counts
    the action: on Tuesday after Monday the daily run is 2 while the weekly one is 1.
    """
    engine = gamify_engine(
        {
            "timezone": "UTC",
            "actions": {"workout": {}},
            "rules": [{"name": "by_streak", "action": "workout", "formula": "streak"}],
            "streaks": {
                "daily": {"actions": ["workout"]},
                "weekly": {"actions": ["workout"], "period": "week"},
            },
        }
    )
    paid = []
    for day in (2, 3):  # Monday 2 and Tuesday 3 March 2026
        gamify_clock.set(at(day))
        paid.append(engine.track("m", "workout").credits[0].amount)
    assert paid == [1, 2]


def test_a_badge_reward_in_xp_levels_up_and_awards_a_level_badge_in_the_same_event(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """The workout pays 10 XP, ``first`` pays 40 more: 50 XP reaches level 2 (linear step
    50), and the badge on level 2 follows in that same outcome.
    """
    engine = gamify_engine(
        {
            "timezone": "UTC",
            "actions": {"workout": {}},
            "rules": [{"name": "xp", "action": "workout", "currency": "xp", "fixed": 10}],
            "levels": {"curve": "linear", "params": {"step": 50}},
            "badges": {
                "first": {
                    "metric": "count",
                    "action": "workout",
                    "threshold": 1,
                    "reward": {"xp": 40},
                },
                "level_2": {"metric": "level", "threshold": 2},
            },
        }
    )
    gamify_clock.set(at(2))
    outcome = engine.track("m", "workout")
    assert [u.level for u in outcome.level_ups] == [2]
    assert sorted(b.badge for b in outcome.badges) == ["first", "level_2"]
    profile = engine.member("m")
    assert (profile.xp, profile.level) == (50, 2)


def test_a_badge_reward_counts_toward_a_badge_on_earned_points_in_the_same_event(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """The workout pays 10 points and ``first`` 100 more: 110 earned reaches ``rich`` (100)."""
    engine = gamify_engine(
        {
            "timezone": "UTC",
            "actions": {"workout": {}},
            "rules": [{"name": "points", "action": "workout", "fixed": 10}],
            "badges": {
                "first": {
                    "metric": "count",
                    "action": "workout",
                    "threshold": 1,
                    "reward": {"points": 100},
                },
                "rich": {"metric": "earned", "currency": "points", "threshold": 100},
            },
        }
    )
    gamify_clock.set(at(2))
    outcome = engine.track("m", "workout")
    assert sorted(b.badge for b in outcome.badges) == ["first", "rich"]
    assert engine.balance("m") == 110


def test_badge_progress_reads_the_streak_in_the_members_zone(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A Shanghai member works out on 2 March (10:00 local). At 01:00 local on 4 March
    (17:00 UTC on 3 March) their 3 March has passed empty: the run reads 0, though the
    program's UTC day 3 March is not over.
    """
    engine = gamify_engine(repair_program())
    engine.set_member("m", timezone="Asia/Shanghai")
    gamify_clock.set(at(2, 2))
    engine.track("m", "workout")
    gamify_clock.set(at(3, 17))
    assert engine.member("m").streaks[0].length == 0
    assert engine.badge_progress("m", "three_days").current == 0


def test_a_repair_that_joins_runs_awards_the_streak_badge(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Two days, 4 March missed, one day: the repair joins them into 3 days, which earns
    the badge on a 3-day streak.
    """
    engine = gamify_engine(repair_program())
    for day in (2, 3, 5):
        gamify_clock.set(at(day))
        engine.track("m", "workout")
    gamify_clock.set(at(5, 12))
    assert engine.repair_streak("m", "daily").length == 3
    assert [b.badge for b in engine.member("m").badges] == ["three_days"]
    assert engine.badge_progress("m", "three_days").held == 1


def test_a_repair_costing_one_point_spends_it(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    engine = gamify_engine(repair_program(cost=1))
    for day in (2, 4):
        gamify_clock.set(at(day))
        engine.track("m", "workout")
    gamify_clock.set(at(4, 12))
    engine.repair_streak("m", "daily")
    assert engine.balance("m") == 2 * 10 - 1


def test_streak_history_keeps_the_latest_fifty_runs(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """51 one-day runs, each broken by a missed day (the last one read after its break):
    the history lists the latest 50, oldest first.
    """
    engine = gamify_engine(repair_program())
    start = at(1, month=1)
    for n in range(51):
        gamify_clock.set(start + dt.timedelta(days=2 * n))
        engine.track("m", "workout")
    gamify_clock.set(start + dt.timedelta(days=2 * 51))
    runs = engine.streak_history("m", "daily")
    assert len(runs) == 50
    assert runs[0].start.date() == (start + dt.timedelta(days=2)).date()
    assert runs[-1].start.date() == (start + dt.timedelta(days=100)).date()
    assert {r.length for r in runs} == {1}


def test_events_dated_in_the_past_count_in_their_own_days(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Logged on 10 March for 2, 4 and 5 March: 3 March was missed, so the run breaks on
    4 March and reaches 2 on 5 March, paying its milestone; the events carry those dates.
    """
    spec = repair_program()
    spec["streaks"]["daily"]["milestones"] = [{"length": 2, "reward": {"points": 5}}]
    engine = gamify_engine(spec)
    seen: list[gamify.DomainEvent] = []
    engine.on("*", seen.append)
    gamify_clock.set(at(10))
    outcomes = [engine.track("m", "workout", at=at(day)) for day in (2, 4, 5)]
    assert [(o.streaks[0].length, o.streaks[0].broken) for o in outcomes] == [
        (1, False),
        (1, True),
        (2, False),
    ]
    assert [c.amount for c in outcomes[2].credits if c.source == "streak"] == [5]
    streak_events = [(e.name, e.at) for e in seen if e.name.startswith("streak_")]
    assert streak_events == [
        ("streak_extended", at(2)),
        ("streak_broken", at(4)),
        ("streak_extended", at(4)),
        ("streak_extended", at(5)),
        ("streak_milestone", at(5)),
    ]


def test_a_predicate_on_an_event_dated_in_the_past_sees_the_streak_of_that_time(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Workouts on 2 and 3 March; a stretch logged on 6 March for 3 March evening sees the
    run at 2, as it stood then (by 6 March it would read 0).
    """
    seen: list[int] = []

    def watch(facts: gamify.BadgeFacts) -> bool:
        seen.append(facts.streaks.get("daily", 0))
        return False

    spec = repair_program()
    spec["actions"]["stretch"] = {}
    spec["badges"] = {"watch": {"metric": "custom", "predicate": "watch", "actions": ["stretch"]}}
    engine = gamify_engine(spec, predicates={"watch": watch})
    for day in (2, 3):
        gamify_clock.set(at(day))
        engine.track("m", "workout")
    gamify_clock.set(at(6))
    engine.track("m", "stretch", at=at(3, 20))
    assert seen == [2]


def test_at_max_stop_cuts_a_credit_one_past_the_maximum(gamify_engine: EngineFactory) -> None:
    """Max level 2 at 100 XP under ``stop``: 99 XP, then 2 more pay 1 and cut 1."""
    engine = gamify_engine(
        {
            "timezone": "UTC",
            "actions": {"quest": {"amount": "required"}},
            "rules": [{"name": "quest_xp", "action": "quest", "currency": "xp", "per_amount": 1}],
            "levels": {
                "curve": "linear",
                "params": {"step": 100},
                "max_level": 2,
                "at_max": "stop",
            },
        }
    )
    engine.track("m", "quest", amount=99)
    outcome = engine.track("m", "quest", amount=2)
    assert [(c.amount, c.capped) for c in outcome.credits] == [(1, 1)]
    assert (engine.member("m").xp, engine.member("m").level) == (100, 2)


def test_at_max_stop_cuts_points_when_levels_follow_points(gamify_engine: EngineFactory) -> None:
    """Levels on points, max level 2 at 100 points under ``stop``: 150 points pay 100."""
    engine = gamify_engine(
        {
            "timezone": "UTC",
            "actions": {"purchase": {"amount": "required"}},
            "rules": [{"name": "purchase_points", "action": "purchase", "per_amount": 1}],
            "levels": {
                "currency": "points",
                "curve": "linear",
                "params": {"step": 100},
                "max_level": 2,
                "at_max": "stop",
            },
        }
    )
    outcome = engine.track("m", "purchase", amount=150)
    assert [(c.amount, c.capped) for c in outcome.credits] == [(100, 50)]
    assert (engine.balance("m"), engine.member("m").level) == (100, 2)


def test_streak_repaired_reports_the_repaired_length(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A 5-day run long broken, then 9 March, 10 March missed, 11 March: the repair joins
    1 + 1 = 2 days; ``streak_repaired`` reports 2, not the longest run (5).
    """
    engine = gamify_engine(repair_program(cost=0))
    seen: list[gamify.DomainEvent] = []
    engine.on("streak_repaired", seen.append)
    for day in (2, 3, 4, 5, 6, 9, 11):
        gamify_clock.set(at(day))
        engine.track("m", "workout")
    gamify_clock.set(at(11, 12))
    state = engine.repair_streak("m", "daily")
    assert (state.length, state.longest) == (2, 5)
    assert [e.payload["length"] for e in seen] == [2]


@pytest.mark.parametrize("member", ["", "   ", None, 42, "m" * 1000])
def test_the_badge_list_refuses_a_malformed_member_id(
    gamify_engine: EngineFactory, member: Any
) -> None:
    """``badges`` refuses the member ids that ``badge_progress`` and ``track`` refuse."""
    engine = gamify_engine(repair_program())
    with pytest.raises(InvalidEventError, match="member id"):
        engine.badges(member)
    with pytest.raises(InvalidEventError, match="member id"):
        engine.badge_progress(member, "three_days")


def test_one_repair_key_on_two_streaks_is_a_conflict(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A repair key names one repair: reused for another streak it is refused, and nothing
    more is spent.
    """
    spec = repair_program(cost=5)
    spec["streaks"]["stretching"] = {
        "actions": ["workout"],
        "repair": {"window_hours": 48, "cost": 5},
    }
    engine = gamify_engine(spec)
    for day in (2, 4):
        gamify_clock.set(at(day))
        engine.track("m", "workout")
    gamify_clock.set(at(4, 12))
    assert engine.repair_streak("m", "daily", key="r1").length == 2
    with pytest.raises(IdempotencyConflictError):
        engine.repair_streak("m", "stretching", key="r1")
    assert engine.balance("m") == 2 * 10 - 5
    assert [s.length for s in engine.member("m").streaks] == [2, 1]


def test_a_repair_spends_the_currency_the_program_names(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A repair costing 3 gems takes gems and leaves points alone."""
    spec = repair_program(cost=3)
    spec["currencies"] = {"points": {}, "gems": {}}
    spec["rules"].append({"name": "gems", "action": "workout", "currency": "gems", "fixed": 4})
    spec["streaks"]["daily"]["repair"]["currency"] = "gems"
    engine = gamify_engine(spec)
    for day in (2, 4):
        gamify_clock.set(at(day))
        engine.track("m", "workout")
    gamify_clock.set(at(4, 12))
    engine.repair_streak("m", "daily")
    assert (engine.balance("m"), engine.balance("m", "gems")) == (20, 2 * 4 - 3)


def test_a_secret_badge_in_progress_stays_hidden(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A secret badge at 1 of 3 workouts is not listed; at 3 it is."""
    spec = repair_program()
    spec["badges"] = {
        "hidden": {"metric": "count", "action": "workout", "threshold": 3, "secret": True}
    }
    engine = gamify_engine(spec)
    engine.track("m", "workout")
    assert engine.badge_progress("m", "hidden").current == 1
    assert engine.badges("m") == []
    engine.track("m", "workout")
    engine.track("m", "workout")
    assert [b.badge for b in engine.badges("m")] == ["hidden"]
