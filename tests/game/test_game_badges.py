"""Badges: one-off, tiered, repeatable and secret badges, custom predicates, progress and the
index.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import pytest

import gamify
from gamify.components import badges as badges_component
from gamify.components.badges import BadgeFacts, LazyMapping
from gamify.errors import ConfigurationError, NotFoundError
from gamify.testing.plugin import EngineFactory

BADGES: dict[str, Any] = {
    "first": {"metric": "count", "action": "workout", "threshold": 1, "reward": {"points": 50}},
    "regular": {
        "kind": "tiered",
        "metric": "count",
        "action": "workout",
        "tiers": [
            {"name": "bronze", "threshold": 3, "reward": {"points": 1}},
            {"name": "silver", "threshold": 5, "reward": {"points": 2}},
            {"name": "gold", "threshold": 10, "reward": {"points": 3}},
        ],
    },
    "minutes": {
        "kind": "tiered",
        "metric": "sum",
        "action": "workout",
        "tiers": [
            {"name": "bronze", "threshold": 100, "reward": {"points": 10}},
            {"name": "silver", "threshold": 300, "reward": {"points": 20}},
            {"name": "gold", "threshold": 600, "reward": {"points": 30}},
        ],
    },
    "every_ten": {
        "kind": "repeatable",
        "metric": "count",
        "action": "workout",
        "threshold": 10,
        "reward": {"points": 5},
    },
    "big_spender": {"kind": "repeatable", "metric": "sum", "action": "purchase", "threshold": 100},
    "earner": {"metric": "earned", "currency": "points", "threshold": 200},
    "three_days": {"metric": "streak", "streak": "daily", "threshold": 3},
    "level_3": {"metric": "level", "threshold": 3},
    "night_owl": {
        "metric": "custom",
        "predicate": "late",
        "actions": ["workout"],
        "secret": True,
        "reward": {"points": 7},
    },
}


def program(badges: dict[str, Any] | None = None) -> dict[str, Any]:
    """Workouts pay 10 points and 40 XP, purchases 1
    point per unit; level n needs 100 * (n - 1) XP.
    """
    return {
        "timezone": "UTC",
        "actions": {"workout": {}, "purchase": {"amount": "required"}, "stretch": {}, "yoga": {}},
        "rules": [
            {"name": "workout_points", "action": "workout", "fixed": 10},
            {"name": "workout_xp", "action": "workout", "currency": "xp", "fixed": 40},
            {"name": "purchase_points", "action": "purchase", "per_amount": 1},
        ],
        "levels": {"curve": "linear", "params": {"step": 100}},
        "streaks": {"daily": {"actions": ["workout"]}},
        "badges": BADGES if badges is None else badges,
    }


def late(facts: BadgeFacts) -> bool:
    """A workout logged with an hour attribute of 22 or later."""
    hour = facts.attributes.get("hour", 0)
    return isinstance(hour, int) and hour >= 22


@pytest.fixture
def engine(gamify_engine: EngineFactory) -> gamify.Engine:
    return gamify_engine(program(), predicates={"late": late})


def awarded(outcome: gamify.Outcome, badge: str) -> list[tuple[str | None, int]]:
    return [(b.tier, b.occurrence) for b in outcome.badges if b.badge == badge]


def test_one_off_badge_is_awarded_once(engine: gamify.Engine) -> None:
    """``first`` (one workout) is awarded on the first workout with its 50 points, never again."""
    first = engine.track("m", "workout")
    assert awarded(first, "first") == [(None, 1)]
    assert [(c.rule, c.amount) for c in first.credits if c.source == "badge"] == [
        ("badge first", 50)
    ]
    for _ in range(3):
        assert awarded(engine.track("m", "workout"), "first") == []
    assert [b.badge for b in engine.member("m").badges].count("first") == 1


def test_tiered_badge_awards_each_tier_once_under_repeated_events(engine: gamify.Engine) -> None:
    """Twelve workouts: bronze at the 3rd, silver at
    the 5th, gold at the 10th, each exactly once.
    """
    seen = {}
    for n in range(1, 13):
        for tier, _ in awarded(engine.track("m", "workout"), "regular"):
            seen[tier] = n
    assert seen == {"bronze": 3, "silver": 5, "gold": 10}
    held = [b.tier for b in engine.member("m").badges if b.badge == "regular"]
    assert held == ["bronze", "silver", "gold"]


def test_the_profile_lists_held_badges_with_what_each_pays(engine: gamify.Engine) -> None:
    """Twenty workouts: the profile shows each held award with its program reward, as the
    outcomes that awarded them did (one-off, each tier, each occurrence)."""
    outcomes = [engine.track("m", "workout") for _ in range(20)]
    paid = {(b.badge, b.tier, b.occurrence): b.reward for o in outcomes for b in o.badges}
    held = {(b.badge, b.tier, b.occurrence): b.reward for b in engine.member("m").badges}
    assert held == paid
    assert held[("first", None, 1)] == 50
    assert held[("regular", "gold", 1)] == 3
    assert held[("every_ten", None, 2)] == 5


def test_the_profile_shows_a_tier_paying_the_badges_own_reward(
    gamify_engine: EngineFactory,
) -> None:
    """A tiered badge's reward is merged into each tier's (the tier's amount wins): the
    profile shows what the outcome paid, for a tier with a reward of its own and without."""
    spec = program()
    spec["badges"] = {
        "steps": {
            "kind": "tiered",
            "metric": "count",
            "action": "workout",
            "reward": {"points": 100},
            "tiers": [
                {"name": "a", "threshold": 1, "reward": {"points": 7}},
                {"name": "b", "threshold": 2},
            ],
        }
    }
    engine = gamify_engine(spec)
    paid = [b for _ in range(2) for b in engine.track("m", "workout").badges]
    assert [(b.tier, b.reward) for b in paid] == [("a", 7), ("b", 100)]
    assert engine.member("m").badges == paid


def test_several_tiers_in_one_event(engine: gamify.Engine) -> None:
    """One 350-minute workout passes 100 and 300: bronze
    and silver in order; a later 250 brings gold.
    """
    first = engine.track("m", "workout", amount=350)
    assert awarded(first, "minutes") == [("bronze", 1), ("silver", 1)]
    assert [b.reward for b in first.badges if b.badge == "minutes"] == [10, 20]
    second = engine.track("m", "workout", amount=250)
    assert awarded(second, "minutes") == [("gold", 1)]
    assert awarded(engine.track("m", "workout", amount=1000), "minutes") == []


def test_repeatable_badge_every_ten_workouts(engine: gamify.Engine) -> None:
    """``every_ten`` is awarded at the 10th, 20th and 30th workout, as occurrences 1, 2 and 3."""
    at = {}
    for n in range(1, 32):
        for _, occurrence in awarded(engine.track("m", "workout"), "every_ten"):
            at[occurrence] = n
    assert at == {1: 10, 2: 20, 3: 30}
    held = [b.occurrence for b in engine.member("m").badges if b.badge == "every_ten"]
    assert held == [1, 2, 3]


def test_repeatable_badge_can_be_awarded_twice_in_one_event(engine: gamify.Engine) -> None:
    """A purchase of 250 passes 100 and 200: ``big_spender``
    occurrences 1 and 2 at once; 60 more passes 300.
    """
    assert awarded(engine.track("m", "purchase", amount=250), "big_spender") == [
        (None, 1),
        (None, 2),
    ]
    assert awarded(engine.track("m", "purchase", amount=40), "big_spender") == []
    assert awarded(engine.track("m", "purchase", amount=10), "big_spender") == [(None, 3)]


def test_secret_badge_is_hidden_until_earned(engine: gamify.Engine) -> None:
    """``night_owl`` is missing from the badge list until earned, then listed as held."""
    engine.track("m", "workout", attributes={"hour": 9})
    names = [b.badge for b in engine.badges("m")]
    assert "night_owl" not in names and "first" in names
    assert engine.badge_progress("m", "night_owl").held == 0  # asked for by name, it answers
    outcome = engine.track("m", "workout", attributes={"hour": 23})
    assert awarded(outcome, "night_owl") == [(None, 1)]
    listed = {b.badge: b for b in engine.badges("m")}
    assert listed["night_owl"].secret and listed["night_owl"].held == 1


def test_custom_predicate_reads_the_event(engine: gamify.Engine) -> None:
    """A registered predicate decides the badge from the event's attributes."""
    assert awarded(engine.track("m", "workout", attributes={"hour": 21}), "night_owl") == []
    assert awarded(engine.track("m", "workout", attributes={"hour": 22}), "night_owl") == [
        (None, 1)
    ]
    assert engine.balance("m") == 2 * 10 + 50 + 7


def test_predicate_registered_after_construction(gamify_engine: EngineFactory) -> None:
    """``engine.register_predicate`` makes a predicate available to its custom badges."""
    engine = gamify_engine(program())
    engine.register_predicate("late", late)
    assert awarded(engine.track("m", "workout", attributes={"hour": 23}), "night_owl") == [
        (None, 1)
    ]


def test_missing_predicate_is_a_configuration_error(gamify_engine: EngineFactory) -> None:
    """An event that must check a badge whose predicate is
    not registered fails clearly and writes nothing.
    """
    engine = gamify_engine(program())
    with pytest.raises(ConfigurationError, match=r"'late'.*register_predicate"):
        engine.track("m", "workout")
    assert engine.store.get_member("m") is None
    assert engine.balance("m") == 0
    # Events that never check the badge are unaffected.
    assert engine.track("m", "stretch").credits == []
    with pytest.raises(ConfigurationError, match="late"):
        engine.badge_progress("m", "night_owl")


def test_earned_badge_counts_lifetime_credits_not_the_balance(engine: gamify.Engine) -> None:
    """``earner`` (200 points earned) is awarded at 210 earned although 100 were spent."""
    engine.track("m", "purchase", amount=150)
    engine.redeem("m", 100)
    outcome = engine.track("m", "purchase", amount=60)
    assert awarded(outcome, "earner") == [(None, 1)]
    assert engine.balance("m") == 150 - 100 + 60


def test_earned_badge_is_net_of_reversals(engine: gamify.Engine) -> None:
    """A reversed purchase no longer counts toward
    ``earner``: 150 reversed plus 100 is 100 earned.
    """
    engine.track("m", "purchase", amount=150, key="p1")
    engine.reverse("m", "p1")
    assert awarded(engine.track("m", "purchase", amount=100), "earner") == []
    progress = engine.badge_progress("m", "earner")
    assert (progress.current, progress.target) == (Decimal(100), Decimal(200))


def test_streak_badge_is_once_per_member_ever(
    engine: gamify.Engine, gamify_clock: gamify.ManualClock
) -> None:
    """``three_days`` comes when the daily streak reaches 3 and not again in a later run."""
    got = []
    for day in (2, 3, 4, 5, 7, 8, 9, 10):  # 6 March missed
        gamify_clock.set(dt.datetime(2026, 3, day, 9, tzinfo=dt.UTC))
        got.append(bool(awarded(engine.track("m", "workout"), "three_days")))
    assert got == [False, False, True, False, False, False, False, False]


def test_level_badge_in_the_same_event_as_the_level_up(engine: gamify.Engine) -> None:
    """The 5th workout brings 200 XP, level 3, and ``level_3`` in the same outcome."""
    for _ in range(4):
        engine.track("m", "workout")
    outcome = engine.track("m", "workout")
    assert [u.level for u in outcome.level_ups] == [3]
    assert awarded(outcome, "level_3") == [(None, 1)]


def test_badge_progress_current_and_target(engine: gamify.Engine) -> None:
    """After 7 workouts of 50 minutes: regular 7/10 (silver
    held), every_ten 7/10, minutes 350/600, first complete.
    """
    for _ in range(7):
        engine.track("m", "workout", amount=50)
    regular = engine.badge_progress("m", "regular")
    assert (regular.current, regular.target, regular.held, regular.complete) == (7, 10, 2, False)
    every = engine.badge_progress("m", "every_ten")
    assert (every.current, every.target, every.held) == (7, 10, 0)
    minutes = engine.badge_progress("m", "minutes")
    assert (minutes.current, minutes.target, minutes.held) == (350, 600, 2)
    first = engine.badge_progress("m", "first")
    assert (first.current, first.target, first.complete) == (7, 1, True)
    for _ in range(6):
        engine.track("m", "workout", amount=50)
    every = engine.badge_progress("m", "every_ten")
    assert (every.current, every.target, every.held) == (13, 20, 1)
    regular = engine.badge_progress("m", "regular")
    assert (regular.held, regular.complete) == (3, True)


def test_badge_progress_for_a_new_member_and_an_unknown_badge(engine: gamify.Engine) -> None:
    """An unknown member starts at 0 of the target; an unknown badge is a NotFoundError."""
    progress = engine.badge_progress("nobody", "regular")
    assert (progress.current, progress.target, progress.held) == (0, 3, 0)
    with pytest.raises(NotFoundError):
        engine.badge_progress("m", "no_such_badge")


def test_badges_are_evaluated_only_on_the_events_they_watch(gamify_engine: EngineFactory) -> None:
    """A custom badge on ``yoga`` is not checked on workout
    or purchase events, and once per yoga event.
    """
    calls: list[str | None] = []

    def counting(facts: BadgeFacts) -> bool:
        calls.append(facts.action)
        return False

    badges = dict(BADGES)
    badges["yogi"] = {"metric": "custom", "predicate": "counting", "actions": ["yoga"]}
    engine = gamify_engine(program(badges), predicates={"late": late, "counting": counting})
    for _ in range(5):
        engine.track("m", "workout")
        engine.track("m", "purchase", amount=80)
    assert calls == []
    engine.track("m", "yoga")
    engine.track("m", "yoga")
    assert calls == ["yoga", "yoga"]


def test_badge_without_actions_is_checked_on_every_event(gamify_engine: EngineFactory) -> None:
    """A custom badge that lists no actions is checked once on each event, whatever its action."""
    calls: list[str | None] = []

    def counting(facts: BadgeFacts) -> bool:
        calls.append(facts.action)
        return False

    engine = gamify_engine(
        program({"any": {"metric": "custom", "predicate": "counting"}}),
        predicates={"counting": counting},
    )
    engine.track("m", "workout")
    engine.track("m", "stretch")
    assert calls == ["workout", "stretch"]


def test_concurrent_events_award_each_tier_once(gamify_engine: EngineFactory) -> None:
    """Twenty workouts from four threads award bronze, silver and gold of ``regular`` once each."""
    engine = gamify_engine(program(), predicates={"late": late})
    outcomes: list[gamify.Outcome] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(20 // 4):
            outcome = engine.track("m", "workout")
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tiers = sorted(tier or "" for o in outcomes for tier, _ in awarded(o, "regular"))
    assert tiers == ["bronze", "gold", "silver"]
    assert engine.badge_progress("m", "every_ten").held == 2


def test_streak_badge_progress_reads_the_current_length(
    engine: gamify.Engine, gamify_clock: gamify.ManualClock
) -> None:
    """Progress toward a streak badge reads the streak as the profile does: 0 after a missed day."""
    for day in (2, 3):
        gamify_clock.set(dt.datetime(2026, 3, day, 9, tzinfo=dt.UTC))
        engine.track("m", "workout")
    gamify_clock.set(dt.datetime(2026, 3, 4, 20, tzinfo=dt.UTC))  # 4 March not over
    assert engine.badge_progress("m", "three_days").current == 2
    gamify_clock.set(dt.datetime(2026, 3, 5, 9, tzinfo=dt.UTC))  # 4 March passed empty
    assert engine.member("m").streaks[0].length == 0
    assert engine.badge_progress("m", "three_days").current == 0


def test_predicates_see_the_current_streak_length(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A custom predicate checked on another action sees a broken streak as 0, not its old
    length.
    """
    seen: list[int] = []

    def record(facts: BadgeFacts) -> bool:
        seen.append(facts.streaks.get("daily", 0))
        return False

    engine = gamify_engine(
        program({"watch": {"metric": "custom", "predicate": "watch", "actions": ["stretch"]}}),
        predicates={"watch": record},
    )
    for day in (2, 3):
        gamify_clock.set(dt.datetime(2026, 3, day, 9, tzinfo=dt.UTC))
        engine.track("m", "workout")
    engine.track("m", "stretch")
    gamify_clock.set(dt.datetime(2026, 3, 6, 9, tzinfo=dt.UTC))  # 4 and 5 March missed
    engine.track("m", "stretch")
    assert seen == [2, 0]


def test_predicates_read_sums_and_streaks_as_plain_mappings(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """The sums and streak lengths a predicate reads behave as dicts: values, membership,
    iteration, and a KeyError for a name never seen."""
    seen: list[tuple[Any, ...]] = []

    def record(facts: BadgeFacts) -> bool:
        with pytest.raises(KeyError):
            facts.sums["never_done"]
        seen.append(
            (facts.sums["workout"], dict(facts.sums), "daily" in facts.streaks, len(facts.streaks))
        )
        return False

    engine = gamify_engine(
        program({"watch": {"metric": "custom", "predicate": "watch", "actions": ["workout"]}}),
        predicates={"watch": record},
    )
    gamify_clock.set(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    engine.track("m", "workout", amount=30)
    engine.track("m", "workout", amount="12.5")
    assert seen == [
        (Decimal(30), {"workout": Decimal(30)}, True, 1),
        (Decimal("42.5"), {"workout": Decimal("42.5")}, True, 1),
    ]


def test_lazy_facts_are_made_once_per_key() -> None:
    made: list[str] = []

    def make(key: str) -> int:
        made.append(key)
        return len(key)

    lazy = LazyMapping({"ab": None, "abc": None}, make)
    assert lazy["ab"] == 2 and lazy["ab"] == 2 and lazy.get("zz") is None
    assert sorted(lazy) == ["ab", "abc"] and len(lazy) == 2
    assert made == ["ab"]


def test_held_badges_are_not_evaluated_again(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Once a one-off badge is held its predicate is no longer called."""
    calls: list[str] = []

    def once(facts: BadgeFacts) -> bool:
        calls.append(facts.member_id)
        return True

    engine = gamify_engine(
        program({"once": {"metric": "custom", "predicate": "once", "actions": ["stretch"]}}),
        predicates={"once": once},
    )
    for _ in range(3):
        engine.track("m", "stretch")
    assert calls == ["m"]
    assert [b.badge for b in engine.member("m").badges] == ["once"]


def test_a_badge_checked_again_after_its_own_reward_sees_itself_held(
    gamify_engine: EngineFactory,
) -> None:
    """A purchase of 100 earns 100 points: the repeatable badge for every 100 points earned is
    awarded once, and the 10 points it pays (110 earned in all) do not make it due again."""
    every_100 = {
        "kind": "repeatable",
        "metric": "earned",
        "currency": "points",
        "threshold": 100,
        "reward": {"points": 10},
    }
    engine = gamify_engine(program({"every_100": every_100}))
    outcome = engine.track("m", "purchase", amount=100)
    assert [(b.badge, b.occurrence) for b in outcome.badges] == [("every_100", 1)]
    assert engine.balance("m") == 110
    outcome = engine.track("m", "purchase", amount=90)  # 200 earned: the second award
    assert [(b.badge, b.occurrence) for b in outcome.badges] == [("every_100", 2)]
    assert engine.balance("m") == 210


def test_a_repeatable_badge_awards_at_most_a_hundred_occurrences_per_check(
    gamify_engine: EngineFactory,
) -> None:
    """Minutes summed, one award per minute: 250 minutes at once give 100 awards, the next
    workout 100 more (an absurd threshold cannot make one event build millions of awards)."""
    spec = program()
    spec["badges"] = {
        "minute": {"kind": "repeatable", "metric": "sum", "action": "workout", "threshold": 1}
    }
    engine = gamify_engine(spec)
    first = engine.track("m", "workout", amount=250)
    assert [b.occurrence for b in first.badges] == list(range(1, 101))
    second = engine.track("m", "workout", amount=1)
    assert [b.occurrence for b in second.badges] == list(range(101, 201))
    assert engine.badge_progress("m", "minute").held == 200


def new_member_facts(counts: dict[str, int], action: str | None = None) -> BadgeFacts:
    """The facts of a member at level 1 with no tier, streak, earning or badge."""
    return BadgeFacts(
        member_id="m",
        counts=counts,
        sums={},
        streaks={},
        level=1,
        tier_rank=0,
        tier_ranks={},
        earned={},
        badges={},
        action=action,
    )


def test_a_badge_named_twice_in_one_check_is_awarded_once() -> None:
    """``evaluate`` checks each badge once however often it is named: 20 workouts give the
    repeatable 'every_ten' occurrences 1 and 2, each once."""
    prog = gamify.Program.model_validate(program())
    facts = new_member_facts(counts={"workout": 20})
    due = badges_component.evaluate(prog, ["every_ten", "every_ten"], facts)
    assert [(d.badge, d.occurrence) for d in due] == [("every_ten", 1), ("every_ten", 2)]


def test_badges_held_in_full_are_no_longer_open() -> None:
    """A one-off badge held, or a tiered badge with every tier reached, can give nothing more;
    a tiered badge short of its last tier and a repeatable badge stay open."""
    prog = gamify.Program.model_validate(program())
    held = {"first": 1, "regular": 3, "minutes": 2, "every_ten": 5}
    names = ["first", "regular", "minutes", "every_ten", "earner"]
    assert badges_component.open_names(prog, names, held) == ["minutes", "every_ten", "earner"]
    assert badges_component.exhausted(prog, "regular", 3)
    assert not badges_component.exhausted(prog, "minutes", 2)


def test_a_custom_badge_without_its_predicate_does_not_hold() -> None:
    """A custom badge holds only when its registered predicate returns true: with no predicate
    given, nothing is due."""
    prog = gamify.Program.model_validate(program())
    facts = new_member_facts(counts={"workout": 1}, action="workout")
    assert badges_component.evaluate(prog, ["night_owl"], facts) == []
    with_predicate = dataclasses.replace(facts, predicates={"late": lambda _: True})
    due = badges_component.evaluate(prog, ["night_owl"], with_predicate)
    assert [(d.badge, d.reward) for d in due] == [("night_owl", {"points": 7})]
