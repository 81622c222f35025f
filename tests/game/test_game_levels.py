"""Levels in the engine: XP moves members along the curve; each level pays once, ever."""

from __future__ import annotations

import datetime as dt
from typing import Any

import gamify
from gamify.components import levels as levels_component
from gamify.testing.plugin import EngineFactory


def program(**levels: Any) -> dict[str, Any]:
    """``quest`` pays its amount in XP, ``ping`` pays nothing; level n needs 100 * (n - 1) XP."""
    return {
        "timezone": "UTC",
        "actions": {"quest": {"amount": "required"}, "ping": {"amount": "none"}},
        "rules": [{"name": "quest_xp", "action": "quest", "currency": "xp", "per_amount": 1}],
        "levels": {
            "curve": "linear",
            "params": {"step": 100},
            "reward": {"points": "50 * level"},
            **levels,
        },
    }


def test_one_award_crosses_three_levels_in_order(gamify_engine: EngineFactory) -> None:
    """350 XP from level 1 crosses 2, 3 and 4 (100, 200, 300 XP), paying 100, 150 and 200 points."""
    engine = gamify_engine(program())
    outcome = engine.track("m", "quest", amount=350)
    assert [(u.level, u.reward) for u in outcome.level_ups] == [(2, 100), (3, 150), (4, 200)]
    level_credits = [(c.rule, c.amount) for c in outcome.credits if c.source == "level"]
    assert level_credits == [("level 2", 100), ("level 3", 150), ("level 4", 200)]
    profile = engine.member("m")
    assert (profile.level, profile.xp, profile.balances["points"]) == (4, 350, 450)


def test_level_rewards_are_not_xp(gamify_engine: EngineFactory) -> None:
    """Level rewards pay points only: XP stays what the rules credited."""
    engine = gamify_engine(program())
    engine.track("m", "quest", amount=350)
    assert engine.balance("m", "xp") == 350


def test_level_up_events_fire_once_per_level(gamify_engine: EngineFactory) -> None:
    """Crossing three levels in one award delivers three level_up events, in order."""
    engine = gamify_engine(program())
    seen: list[gamify.DomainEvent] = []
    engine.on("level_up", seen.append)
    engine.track("m", "quest", amount=350)
    assert [(e.member_id, e.payload["level"]) for e in seen] == [("m", 2), ("m", 3), ("m", 4)]
    assert [e.payload["rewards"] for e in seen] == [
        {"points": 100},
        {"points": 150},
        {"points": 200},
    ]
    assert len({e.event_id for e in seen}) == 3


def test_level_1_is_never_reached(gamify_engine: EngineFactory) -> None:
    """XP below the level 2 threshold fires no level-up and pays no reward."""
    engine = gamify_engine(program())
    outcome = engine.track("m", "quest", amount=99)
    assert outcome.level_ups == []
    assert engine.balance("m") == 0
    assert engine.member("m").level == 1


def test_exact_threshold_reaches_the_level(gamify_engine: EngineFactory) -> None:
    """Exactly 100 XP reaches level 2 (the threshold is inclusive)."""
    engine = gamify_engine(program())
    assert [u.level for u in engine.track("m", "quest", amount=100).level_ups] == [2]


def test_each_level_pays_once_over_many_events(gamify_engine: EngineFactory) -> None:
    """Ten awards of 50 XP reach level 6; levels 2..6 each pay 50 * n exactly once."""
    engine = gamify_engine(program())
    reached = []
    for _ in range(10):
        reached += [u.level for u in engine.track("m", "quest", amount=50).level_ups]
    assert reached == [2, 3, 4, 5, 6]
    assert engine.balance("m") == 50 * (2 + 3 + 4 + 5 + 6)


def test_level_paid_mark_blocks_a_second_payment() -> None:
    """A level already paid (a member who went down and up again) pays no reward the second time."""
    spec = gamify.Program.model_validate(program()).levels
    assert spec is not None
    change = levels_component.progress(spec, level=2, xp=450, paid=4)
    assert [(n, r) for n, r in change.reached] == [(3, {}), (4, {}), (5, {"points": 250})]
    assert (change.level, change.paid) == (5, 5)


def test_levels_do_not_go_down_without_a_reversal() -> None:
    """Less XP than the current level needs leaves the
    level where it is unless a reversal lowers it.
    """
    spec = gamify.Program.model_validate(program()).levels
    assert spec is not None
    assert levels_component.progress(spec, level=5, xp=150, paid=5).level == 5
    lowered = levels_component.progress(spec, level=5, xp=150, paid=5, taken=250)
    assert (lowered.level, lowered.down_to, lowered.reached) == (2, 2, [])


# -- the maximum level ----------------------------------------------------------------------------


def test_at_max_stop_cuts_the_xp_credit(gamify_engine: EngineFactory) -> None:
    """With max level 3 (200 XP) and ``at_max = "stop"``, XP stops at 200 and the cut is
    reported.
    """
    engine = gamify_engine(program(max_level=3, at_max="stop"))
    first = engine.track("m", "quest", amount=150)
    second = engine.track("m", "quest", amount=150)
    third = engine.track("m", "quest", amount=40)
    xp_credits = [
        [(c.amount, c.capped) for c in o.credits if c.currency == "xp"]
        for o in (first, second, third)
    ]
    assert xp_credits == [[(150, 0)], [(50, 100)], [(0, 40)]]
    assert [u.level for u in second.level_ups] == [3]
    profile = engine.member("m")
    assert (profile.xp, profile.level) == (200, 3)
    assert engine.balance("m") == 100 + 150


def test_at_max_accrue_keeps_counting_xp(gamify_engine: EngineFactory) -> None:
    """With ``at_max = "accrue"`` XP keeps growing past the maximum level, which stays 3."""
    engine = gamify_engine(program(max_level=3, at_max="accrue"))
    outcomes = [engine.track("m", "quest", amount=150) for _ in range(3)]
    assert [[u.level for u in o.level_ups] for o in outcomes] == [[2], [3], []]
    assert [o.total("xp") for o in outcomes] == [150, 150, 150]
    profile = engine.member("m")
    assert (profile.xp, profile.level) == (450, 3)


def test_xp_already_past_the_maximum_under_stop_credits_nothing_more(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A member holding 500 XP when the program switches to ``at_max = "stop"`` at max level 3
    (200 XP) gets no more XP: the event's 40 XP are reported cut, and nothing is taken back."""
    store = gamify.open_store("memory://")
    old = gamify_engine(program(max_level=3), store=store)
    old.track("m", "quest", amount=500)
    gamify_clock.advance(hours=1)
    new = gamify_engine(program(max_level=3, at_max="stop"), store=store)
    outcome = new.track("m", "quest", amount=40)
    assert [(c.amount, c.capped) for c in outcome.credits if c.currency == "xp"] == [(0, 40)]
    assert (new.member("m").xp, new.balance("m", "xp")) == (500, 500)


def test_a_level_whose_reward_comes_to_zero_pays_nothing(gamify_engine: EngineFactory) -> None:
    """A reward of ``50 * (level - 2)`` is 0 at level 2: that level_up carries no reward
    (``{}``, positive amounts only) and writes no credit; level 3 pays 50."""
    engine = gamify_engine(program(reward={"points": "50 * (level - 2)"}))
    seen: list[gamify.DomainEvent] = []
    engine.on("level_up", seen.append)
    outcome = engine.track("m", "quest", amount=200)
    assert [(e.payload["level"], e.payload["rewards"]) for e in seen] == [
        (2, {}),
        (3, {"points": 50}),
    ]
    assert [(u.level, u.reward) for u in outcome.level_ups] == [(2, 0), (3, 50)]
    assert [(c.rule, c.amount) for c in outcome.credits if c.source == "level"] == [("level 3", 50)]


# -- a change of curve ----------------------------------------------------------------------------


def _two_engines(
    gamify_engine: EngineFactory, clock: gamify.ManualClock, mode: str, step: int
) -> gamify.Engine:
    """Put member m at level 2 with 150 XP on the
    100-per-level curve; return an engine on a new curve.
    """
    store = gamify.open_store("memory://")
    old = gamify_engine(program(), store=store)
    old.track("m", "quest", amount=150)
    assert old.member("m").level == 2
    clock.advance(hours=1)
    return gamify_engine(program(params={"step": step}, on_curve_change=mode), store=store)


def test_curve_change_keep_leaves_levels_until_later_xp(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """``keep``: on an easier curve (50 per level) the level
    stays 2 until XP moves, then follows the new curve.
    """
    new = _two_engines(gamify_engine, gamify_clock, "keep", 50)
    assert new.track("m", "ping").level_ups == []
    assert new.member("m").level == 2
    # 160 XP on the new curve is level 4 (150 XP): the event's own XP already follows it.
    outcome = new.track("m", "quest", amount=10)
    assert [(u.level, u.reward) for u in outcome.level_ups] == [(3, 150), (4, 200)]
    assert new.member("m").level == 4


def test_curve_change_keep_never_lowers_levels(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """``keep`` on a harder curve (300 per level): level 2 stays; level 3 comes at 600 XP."""
    new = _two_engines(gamify_engine, gamify_clock, "keep", 300)
    assert new.track("m", "quest", amount=10).level_ups == []
    assert new.member("m").level == 2
    assert [u.level for u in new.track("m", "quest", amount=440).level_ups] == [3]


def test_curve_change_recompute_moves_to_the_new_curve(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """``recompute`` on an easier curve: the next event sets the level from XP (150 XP: level 4)."""
    new = _two_engines(gamify_engine, gamify_clock, "recompute", 50)
    outcome = new.track("m", "ping")
    assert [(u.level, u.reward) for u in outcome.level_ups] == [(3, 150), (4, 200)]
    assert new.member("m").level == 4


def test_curve_change_recompute_with_xp(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """``recompute`` with new XP: 160 XP on the
    50-per-level curve is level 4, paying 3 and 4 once.
    """
    new = _two_engines(gamify_engine, gamify_clock, "recompute", 50)
    outcome = new.track("m", "quest", amount=10)
    assert [u.level for u in outcome.level_ups] == [3, 4]
    assert new.track("m", "quest", amount=10).level_ups == []
    assert new.balance("m") == 100 + 150 + 200


def test_curve_change_recompute_never_lowers_levels(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """``recompute`` on a harder curve keeps level 2 though 160 XP is level 1 there."""
    new = _two_engines(gamify_engine, gamify_clock, "recompute", 300)
    assert new.track("m", "quest", amount=10).level_ups == []
    assert new.member("m").level == 2


def test_raised_maximum_pays_only_new_levels(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A member held at max level 3 whose program raises
    the maximum to 10 is paid for levels 4.. only.
    """
    store = gamify.open_store("memory://")
    old = gamify_engine(program(max_level=3), store=store)
    old.track("m", "quest", amount=500)
    assert (old.member("m").level, old.balance("m")) == (3, 100 + 150)
    gamify_clock.advance(hours=1)
    new = gamify_engine(program(max_level=10, on_curve_change="recompute"), store=store)
    outcome = new.track("m", "quest", amount=10)
    assert [u.level for u in outcome.level_ups] == [4, 5, 6]
    assert new.balance("m") == 100 + 150 + 200 + 250 + 300


def test_xp_from_the_past_counts_on_its_own_day(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A late event's XP moves the level like any other (levels follow total XP)."""
    engine = gamify_engine(program())
    late = gamify_clock.now() - dt.timedelta(days=3)
    assert [u.level for u in engine.track("m", "quest", amount=200, at=late).level_ups] == [2, 3]


def test_levels_on_points_go_down_when_a_reversal_takes_points_back(
    gamify_engine: EngineFactory,
) -> None:
    """Levels may follow a spendable currency: the level reads its lifetime credits (not
    the balance, which spends lower), and a reversal of those credits lowers it."""
    engine = gamify_engine(
        {
            "timezone": "UTC",
            "actions": {"buy": {"amount": "required"}},
            "rules": [{"name": "buy", "action": "buy", "per_amount": 1}],
            "levels": {"curve": "linear", "params": {"step": 100}, "currency": "points"},
        }
    )
    events: list[str] = []
    engine.on("*", lambda event: events.append(event.name))
    engine.track("m", "buy", amount=50, key="k1")
    assert [u.level for u in engine.track("m", "buy", amount=300, key="k2").level_ups] == [2, 3, 4]
    engine.redeem("m", 200)
    assert (engine.member("m").level, engine.member("m").xp) == (4, 350)  # spends keep XP
    events.clear()
    reversal = engine.reverse("m", "k2")
    assert reversal.level_down == 1
    assert (engine.member("m").level, engine.member("m").xp) == (1, 50)
    assert events == ["level_down", "reversed"]


def test_level_rewards_are_paid_once_ever_across_a_reversal(gamify_engine: EngineFactory) -> None:
    """After a reversal takes the XP back, crossing levels
    2 and 3 again reports them but pays nothing.
    """
    engine = gamify_engine(program())
    engine.track("m", "quest", amount=250, key="q1")
    assert engine.balance("m") == 100 + 150
    reversal = engine.reverse("m", "q1")
    assert reversal.level_down == 1
    assert (engine.member("m").level, engine.balance("m", "xp")) == (1, 0)
    again = engine.track("m", "quest", amount=250, key="q2")
    assert [(u.level, u.reward) for u in again.level_ups] == [(2, 0), (3, 0)]
    assert [c for c in again.credits if c.source == "level"] == []
    assert engine.balance("m") == 100 + 150
    # Level 4 was never paid: it pays now.
    assert [(u.level, u.reward) for u in engine.track("m", "quest", amount=100).level_ups] == [
        (4, 200)
    ]


def test_climbing_back_in_steps_after_a_reversal_pays_no_level_twice(
    gamify_engine: EngineFactory,
) -> None:
    """Levels 2 to 4 paid, then reversed to level 1: climbing back one level at a time
    (2, then 3 and 4) reports each level again and pays none of them."""
    engine = gamify_engine(program())
    engine.track("m", "quest", amount=350, key="q1")
    paid = 100 + 150 + 200
    assert engine.balance("m") == paid
    assert engine.reverse("m", "q1").level_down == 1
    step = engine.track("m", "quest", amount=100)
    assert [(u.level, u.reward) for u in step.level_ups] == [(2, 0)]
    steps = engine.track("m", "quest", amount=200)
    assert [(u.level, u.reward) for u in steps.level_ups] == [(3, 0), (4, 0)]
    assert engine.balance("m") == paid


def test_rewards_in_several_currencies_are_reported_by_currency(
    gamify_engine: EngineFactory,
) -> None:
    """A level and a badge paying points and gems report each currency's amount, as credited,
    in the outcome, its replay and the profile (the level_up event's ``rewards`` agrees)."""
    data = program(reward={"points": "50", "gems": "2", "xp": "0"})
    data["currencies"] = {"points": {}, "xp": {"spendable": False}, "gems": {}}
    data["badges"] = {
        "first": {
            "metric": "count",
            "action": "quest",
            "threshold": 1,
            "reward": {"points": 100, "gems": 5},
        },
        "tiers": {
            "kind": "tiered",
            "metric": "count",
            "action": "quest",
            "reward": {"points": 1},
            "tiers": [{"name": "one", "threshold": 1, "reward": {"gems": 3}}],
        },
    }
    engine = gamify_engine(data)
    events: list[gamify.DomainEvent] = []
    engine.on("level_up", events.append)
    outcome = engine.track("m", "quest", amount=100, key="q-1")
    assert [(u.level, u.rewards) for u in outcome.level_ups] == [(2, {"points": 50, "gems": 2})]
    assert [e.payload["rewards"] for e in events] == [u.rewards for u in outcome.level_ups]
    awarded = {(b.badge, b.tier): b.rewards for b in outcome.badges}
    assert awarded == {
        ("first", None): {"points": 100, "gems": 5},
        ("tiers", "one"): {"points": 1, "gems": 3},
    }
    paid = sorted((c.rule, c.currency, c.amount) for c in outcome.credits if c.source == "badge")
    assert paid == [
        ("badge first", "gems", 5),
        ("badge first", "points", 100),
        ("badge tiers one", "gems", 3),
        ("badge tiers one", "points", 1),
    ]
    assert engine.track("m", "quest", amount=100, key="q-1") == outcome
    profile = {(b.badge, b.tier): b.rewards for b in engine.member("m").badges}
    assert profile == awarded


def test_the_profile_shows_the_xp_of_the_next_level(gamify_engine: EngineFactory) -> None:
    """For a progress bar: 250 XP is level 3, and level 4 comes at 300; at the maximum level
    there is no next one; a member never tracked is at level 1 with level 2 at 100."""
    engine = gamify_engine(program(max_level=5))
    engine.set_member("new", timezone="UTC")
    assert (engine.member("new").level, engine.member("new").next_level_xp) == (1, 100)
    engine.track("m", "quest", amount=250)
    profile = engine.member("m")
    assert (profile.xp, profile.level, profile.next_level_xp) == (250, 3, 300)
    engine.track("m", "quest", amount=1000)
    profile = engine.member("m")
    assert (profile.level, profile.next_level_xp) == (5, None)


def test_a_kept_level_on_a_harder_curve_shows_the_next_level_of_that_curve(
    gamify_engine: EngineFactory,
) -> None:
    """Level 3 kept on a curve of 1,000 XP a level: the next level comes at 3,000 XP, above
    the member's 250."""
    store = gamify.open_store("memory://")
    gamify_engine(program(), store=store).track("m", "quest", amount=250)
    harder = gamify_engine(program(params={"step": 1000}), store=store)
    profile = harder.member("m")
    assert (profile.xp, profile.level, profile.next_level_xp) == (250, 3, 3000)


def test_a_program_without_levels_shows_no_next_level(gamify_engine: EngineFactory) -> None:
    plain = program()
    del plain["levels"]
    engine = gamify_engine(plain)
    engine.track("m", "quest", amount=250)
    profile = engine.member("m")
    assert (profile.level, profile.next_level_xp) == (1, None)
