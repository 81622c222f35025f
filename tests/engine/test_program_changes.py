"""Changing a running program: an engine built from an edited program meets the state
members earned under the old one, on the same store.

Each case builds the same members under program v1 (points, XP, gems, lots with expiry
and pending lots, caps used today, streak runs and freeze tokens, one-off, tiered and
repeatable badges, a tier and its review date, a referral, challenge enrolments and
leaderboard totals), then builds engine v2 from an edited copy of v1's dict on the same
store object and runs every read and every write, on the memory store, a SQLite file
and PostgreSQL (with GAMIFY_PG_URL). The doc section "Changing a running program"
(docs/program.md) states what the assertions below check.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pendulum
import pytest

import gamify
from gamify import Engine, ManualClock
from gamify.errors import GamifyError, NotFoundError, UnknownActionError
from gamify.store import Changes
from gamify.testing import assert_ledger_consistent

if TYPE_CHECKING:
    from conftest import StoreTarget  # tests/conftest.py

START = pendulum.datetime(2026, 3, 2, 9, tz="UTC")  # a Monday
NOW = START.add(days=2, hours=1)  # the third day, when v2 takes over

V1: dict[str, Any] = {
    "timezone": "UTC",
    "currencies": {
        "points": {"spendable": True},
        "xp": {"spendable": False},
        "gems": {"spendable": True},
    },
    "actions": {
        "purchase": {"amount": "required"},
        "check_in": {"amount": "none"},
        "workout": {"amount": "none"},
        "gift": {"amount": "none"},
    },
    "rules": [
        {"name": "purchase_points", "action": "purchase", "per_amount": 1, "pending_days": 14},
        {
            "name": "check_in_points",
            "action": "check_in",
            "fixed": 5,
            "validity": {"policy": "months", "months": 3},
        },
        {"name": "workout_points", "action": "workout", "fixed": 10},
        {"name": "workout_xp", "action": "workout", "currency": "xp", "fixed": 120},
        {"name": "gift_gems", "action": "gift", "currency": "gems", "fixed": 3},
    ],
    "caps": [{"name": "daily_check_in", "action": "check_in", "period": "day", "limit": 10}],
    "expiry": {"policy": "months_end", "months": 12},
    "levels": {
        "curve": "linear",
        "params": {"step": 100},
        "max_level": 20,
        "reward": {"points": "10 * level"},
    },
    "streaks": {
        "daily_workout": {
            "actions": ["workout"],
            "period": "day",
            "milestones": [{"length": 3, "reward": {"points": 30}}],
            "freeze": {"every": 2, "max_tokens": 2},
            "repair": {"window_hours": 48},
        },
    },
    "badges": {
        "first_workout": {"metric": "count", "action": "workout", "threshold": 1},
        "workouts": {
            "kind": "tiered",
            "metric": "count",
            "action": "workout",
            "tiers": [
                {"name": "bronze", "threshold": 2, "reward": {"points": 20}},
                {"name": "silver", "threshold": 3, "reward": {"points": 40}},
                {"name": "gold", "threshold": 10, "reward": {"points": 100}},
            ],
        },
        "big_spender": {
            "kind": "repeatable",
            "metric": "sum",
            "action": "purchase",
            "threshold": 100,
            "reward": {"gems": 1},
        },
        "streak_3": {"metric": "streak", "streak": "daily_workout", "threshold": 3},
        "gold_member": {"metric": "tier", "tier": "gold"},
    },
    "tiers": {
        "metric": "amount",
        "action": "purchase",
        "window": "calendar_year",
        "multiplier_rules": ["workout_points"],
        "levels": [
            {"name": "regular", "threshold": 0},
            {"name": "silver", "threshold": 100, "multiplier": 1.5},
            {"name": "gold", "threshold": 300, "multiplier": 2},
        ],
    },
    "referral": {
        "qualifying_action": "purchase",
        "referee_reward": 30,
        "referrer_fixed": 50,
    },
    # Members tagged vip (none in the history below) earn double on workouts.
    "multipliers": [
        {"name": "vip", "kind": "tag", "tag": "vip", "factor": 2, "rules": ["workout_points"]}
    ],
    # A purchase moves lots due within 30 days 6 months on (none falls due in the history).
    "renewal": {"actions": ["purchase"], "within_days": 30, "months": 6},
    "redemption": {"exchange_ratio": 100},
    "catalog": {"mug": {"cash_value": 1}},
    "challenges": {
        "first_week": {
            "enrolment": "auto",
            "days": 7,
            "reward": {"points": 200},
            "conditions": [{"kind": "count", "action": "workout", "target": 5}],
        },
        "spring": {
            "enrolment": "explicit",
            "start": "2026-03-01T00:00:00+00:00",
            "end": "2026-06-01T00:00:00+00:00",
            "reward": {"points": 300},
            "conditions": [
                {"kind": "count", "action": "check_in", "target": 20},
                {"kind": "streak", "streak": "daily_workout", "target": 10},
            ],
        },
    },
}


# The edits, each a function of v1's dict ----------------------------------------------------


def edit(change: Callable[[dict[str, Any]], None]) -> Callable[[], dict[str, Any]]:
    def v2() -> dict[str, Any]:
        program = copy.deepcopy(V1)
        change(program)
        return program

    return v2


def _drop_action(p: dict[str, Any], action: str) -> None:
    del p["actions"][action]
    p["rules"] = [r for r in p["rules"] if r["action"] != action]
    p["caps"] = [c for c in p["caps"] if c["action"] != action]


def remove_gift(p: dict[str, Any]) -> None:
    _drop_action(p, "gift")


def rename_workout(p: dict[str, Any]) -> None:
    p["actions"]["training"] = p["actions"].pop("workout")
    for rule in p["rules"]:
        if rule["action"] == "workout":
            rule["action"] = "training"
    p["streaks"]["daily_workout"]["actions"] = ["training"]
    for name in ("first_workout", "workouts"):
        p["badges"][name]["action"] = "training"
    p["challenges"]["first_week"]["conditions"][0]["action"] = "training"


def remove_rule(p: dict[str, Any]) -> None:
    p["rules"] = [r for r in p["rules"] if r["name"] != "purchase_points"]


def change_award(p: dict[str, Any]) -> None:
    p["rules"][2]["fixed"] = 25  # workout_points


def remove_gems(p: dict[str, Any]) -> None:
    remove_gift(p)
    del p["currencies"]["gems"]
    p["badges"]["big_spender"]["reward"] = {"points": 1}


def lower_cap(p: dict[str, Any]) -> None:
    p["caps"][0]["limit"] = 5


def remove_cap(p: dict[str, Any]) -> None:
    p["caps"] = []


def expiry_never(p: dict[str, Any]) -> None:
    p["expiry"] = {"policy": "never"}
    p["rules"][1].pop("validity")


def expiry_shorter(p: dict[str, Any]) -> None:
    p["expiry"] = {"policy": "months", "months": 1}


def remove_pending(p: dict[str, Any]) -> None:
    p["rules"][0].pop("pending_days")


def curve_keep(p: dict[str, Any]) -> None:
    p["levels"]["params"] = {"step": 50}


def curve_recompute(p: dict[str, Any]) -> None:
    p["levels"]["params"] = {"step": 50}
    p["levels"]["on_curve_change"] = "recompute"


def curve_harder_recompute(p: dict[str, Any]) -> None:
    p["levels"]["params"] = {"step": 1000}
    p["levels"]["on_curve_change"] = "recompute"


def max_level_lowered(p: dict[str, Any]) -> None:
    p["levels"]["max_level"] = 2
    p["levels"]["at_max"] = "stop"


def remove_levels(p: dict[str, Any]) -> None:
    del p["levels"]


def remove_streak(p: dict[str, Any]) -> None:
    del p["streaks"]["daily_workout"]
    del p["badges"]["streak_3"]
    p["challenges"]["spring"]["conditions"].pop()


def streak_weekly(p: dict[str, Any]) -> None:
    p["streaks"]["daily_workout"]["period"] = "week"


def remove_freeze(p: dict[str, Any]) -> None:
    del p["streaks"]["daily_workout"]["freeze"]


def remove_repair(p: dict[str, Any]) -> None:
    del p["streaks"]["daily_workout"]["repair"]


def remove_badge(p: dict[str, Any]) -> None:
    del p["badges"]["workouts"]


def badge_tiers_inserted(p: dict[str, Any]) -> None:
    p["badges"]["workouts"]["tiers"].insert(
        0, {"name": "copper", "threshold": 1, "reward": {"points": 5}}
    )


def badge_tiers_renamed(p: dict[str, Any]) -> None:
    tiers = p["badges"]["workouts"]["tiers"]
    tiers[0]["name"], tiers[1]["name"] = "starter", "regular"


def badge_tiers_dropped(p: dict[str, Any]) -> None:
    p["badges"]["workouts"]["tiers"] = p["badges"]["workouts"]["tiers"][1:2]  # silver only


def badge_threshold_raised(p: dict[str, Any]) -> None:
    p["badges"]["first_workout"]["threshold"] = 50
    p["badges"]["big_spender"]["threshold"] = 1000


def badge_kind_changed(p: dict[str, Any]) -> None:
    p["badges"]["first_workout"]["kind"] = "repeatable"
    p["badges"]["big_spender"]["kind"] = "one_off"


def remove_tier(p: dict[str, Any]) -> None:
    p["tiers"]["levels"].pop()  # gold
    del p["badges"]["gold_member"]


def rename_tier(p: dict[str, Any]) -> None:
    p["tiers"]["levels"][2]["name"] = "platinum"
    p["badges"]["gold_member"]["tier"] = "platinum"


def tier_multiplier_changed(p: dict[str, Any]) -> None:
    p["tiers"]["levels"][2]["multiplier"] = 3


def remove_tiers(p: dict[str, Any]) -> None:
    del p["tiers"]
    del p["badges"]["gold_member"]


def remove_referral(p: dict[str, Any]) -> None:
    del p["referral"]


def remove_challenge(p: dict[str, Any]) -> None:
    del p["challenges"]["spring"]
    del p["challenges"]["first_week"]


def add_things(p: dict[str, Any]) -> None:
    p["currencies"]["stars"] = {"spendable": False}
    p["actions"]["share"] = {"amount": "none"}
    p["rules"].append(
        {"name": "workout_stars", "action": "workout", "currency": "stars", "fixed": 1}
    )
    p["streaks"]["weekly_workout"] = {"actions": ["workout"], "period": "week"}
    p["badges"]["workouts"]["tiers"].insert(2, {"name": "steel", "threshold": 4})
    p["badges"]["four_workouts"] = {"metric": "count", "action": "workout", "threshold": 4}
    p["tiers"]["levels"].append({"name": "platinum", "threshold": 1000, "multiplier": 3})
    p["challenges"]["second_week"] = {
        "enrolment": "auto",
        "days": 7,
        "conditions": [{"kind": "count", "action": "workout", "target": 2}],
    }


def change_timezone(p: dict[str, Any]) -> None:
    p["timezone"] = "Asia/Shanghai"


def remove_multiplier(p: dict[str, Any]) -> None:
    del p["multipliers"]


def change_multiplier(p: dict[str, Any]) -> None:
    p["multipliers"][0]["factor"] = 3


def remove_renewal(p: dict[str, Any]) -> None:
    del p["renewal"]


def change_renewal(p: dict[str, Any]) -> None:
    p["renewal"]["months"] = 3


def change_reward_price(p: dict[str, Any]) -> None:
    p["catalog"]["mug"]["cash_value"] = 2


def remove_reward(p: dict[str, Any]) -> None:
    del p["catalog"]["mug"]


def change_exchange_ratio(p: dict[str, Any]) -> None:
    p["redemption"]["exchange_ratio"] = 300


def require_workout_amount(p: dict[str, Any]) -> None:
    p["actions"]["workout"]["amount"] = "required"


def raise_cap(p: dict[str, Any]) -> None:
    p["caps"][0]["limit"] = 20


def lengthen_challenge(p: dict[str, Any]) -> None:
    p["challenges"]["first_week"]["days"] = 14


def change_referral(p: dict[str, Any]) -> None:
    p["referral"]["referrer_fixed"] = 80
    p["referral"]["referee_reward"] = 10


EDITS: dict[str, Callable[[], dict[str, Any]]] = {
    name: edit(change)
    for name, change in {
        "unchanged": lambda p: None,
        "action_removed": remove_gift,
        "action_renamed": rename_workout,
        "rule_removed": remove_rule,
        "rule_award_changed": change_award,
        "currency_removed": remove_gems,
        "cap_lowered": lower_cap,
        "cap_removed": remove_cap,
        "expiry_never": expiry_never,
        "expiry_shorter": expiry_shorter,
        "pending_removed": remove_pending,
        "curve_keep": curve_keep,
        "curve_recompute": curve_recompute,
        "curve_harder_recompute": curve_harder_recompute,
        "max_level_lowered": max_level_lowered,
        "levels_removed": remove_levels,
        "streak_removed": remove_streak,
        "streak_day_to_week": streak_weekly,
        "freeze_removed": remove_freeze,
        "repair_removed": remove_repair,
        "badge_removed": remove_badge,
        "badge_tier_inserted": badge_tiers_inserted,
        "badge_tiers_renamed": badge_tiers_renamed,
        "badge_tiers_dropped": badge_tiers_dropped,
        "badge_threshold_raised": badge_threshold_raised,
        "badge_kind_changed": badge_kind_changed,
        "tier_removed": remove_tier,
        "tier_renamed": rename_tier,
        "tier_multiplier_changed": tier_multiplier_changed,
        "tiers_removed": remove_tiers,
        "referral_removed": remove_referral,
        "challenges_removed": remove_challenge,
        "things_added": add_things,
        "timezone_changed": change_timezone,
        "multiplier_removed": remove_multiplier,
        "multiplier_changed": change_multiplier,
        "renewal_removed": remove_renewal,
        "renewal_changed": change_renewal,
        "reward_price_changed": change_reward_price,
        "reward_removed": remove_reward,
        "exchange_ratio_changed": change_exchange_ratio,
        "referral_changed": change_referral,
        "cap_raised": raise_cap,
        "action_amount_required": require_workout_amount,
        "challenge_lengthened": lengthen_challenge,
    }.items()
}


# v1 state, built once per case ----------------------------------------------------------------


class World:
    """The store, the clock and the v1 engine after the members' history."""

    def __init__(self, store: gamify.Store) -> None:
        self.store = store
        self.clock = ManualClock(START)
        self.v1 = Engine(V1, store=store, clock=self.clock)
        self.redemption_id = ""
        self._history()

    def _history(self) -> None:
        e, clock = self.v1, self.clock
        code = e.referral_code("ann")
        # Day 1: a workout, a purchase (pending 14 days; silver), gems, a referral.
        e.track("ann", "workout", key="w1")
        e.track("ann", "purchase", amount=150, key="p1")
        e.track("ann", "gift", key="g1")
        e.join("bob", referral_code=code)
        e.track("bob", "purchase", amount=50, key="b1")
        e.join("dan", referral_code=code)  # joined, not yet qualified
        e.enroll("ann", "spring")
        # Day 2: a workout (bronze, a freeze token) and a purchase (gold).
        clock.set(START.add(days=1))
        e.track("ann", "workout", key="w2")
        e.track("ann", "purchase", amount=200, key="p2")
        self.redemption_id = e.redeem("ann", 15, key="r1").redemption_id
        # Day 3: a workout (streak 3, silver) and check-ins filling today's cap.
        clock.set(START.add(days=2))
        e.track("ann", "workout", key="w3")
        e.track("ann", "check_in", key="c1")
        e.track("ann", "check_in", key="c2")
        clock.set(NOW)

    def v2(self, program: dict[str, Any]) -> Engine:
        return Engine(program, store=self.store, clock=self.clock)


@pytest.fixture
def store(gamify_store_target: StoreTarget) -> Iterator[gamify.Store]:
    """The memory store, a SQLite file, PostgreSQL (when GAMIFY_PG_URL is set)."""
    opened = gamify_store_target.open()
    yield opened
    opened.close()


@pytest.fixture
def world(store: gamify.Store) -> World:
    return World(store)


def test_v1_state_is_what_the_cases_expect(world: World) -> None:
    ann = world.v1.member("ann")
    assert ann.tier == "gold"
    assert ann.level == 4  # 360 XP on a 100-per-level curve
    assert ann.pending == {"points": 350, "gems": 0}
    assert {s.name: (s.length, s.tokens) for s in ann.streaks} == {"daily_workout": (3, 1)}
    assert [(b.badge, b.tier, b.occurrence) for b in ann.badges] == [
        ("big_spender", None, 1),
        ("big_spender", None, 2),
        ("big_spender", None, 3),
        ("first_workout", None, 1),
        ("gold_member", None, 1),
        ("streak_3", None, 1),
        ("workouts", "bronze", 1),
        ("workouts", "silver", 1),
    ]
    assert ann.balances["gems"] == 6
    assert world.v1.challenge_progress("ann", "spring").status == "active"
    assert world.v1.challenge_progress("ann", "first_week").status == "active"
    assert world.v1.track("ann", "check_in").caps[0].cut == 5  # the cap is used up today


# Every read and every write, on every edit ----------------------------------------------------


def _reads(e: Engine, member: str) -> None:
    if e.store.get_member(member) is None:  # carol joins only under a referral scheme
        return
    e.member(member)
    for currency in e.program.currencies:
        e.balance(member, currency)
        e.leaderboard(currency)
        e.leaderboard(currency, period=(START, NOW + timedelta(days=1)))
        e.rank(member, currency)
    e.history(member)
    e.badges(member)
    for badge in e.program.badges:
        e.badge_progress(member, badge)
    for streak in e.program.streaks:
        e.streak_history(member, streak)
    e.expiring(member, within=timedelta(days=800))
    for challenge in e.program.challenges:
        e.challenge_progress(member, challenge)
    if e.program.tiers is not None:
        for tier in e.program.tiers.levels:
            e.leaderboard("points", tier=tier.name)


def _typed(call: Callable[[], object]) -> object:
    """Run a call; only a gamify error may stop it."""
    try:
        return call()
    except GamifyError as exc:
        return exc


def _writes(e: Engine, world: World) -> dict[str, object]:
    out: dict[str, object] = {}
    for action in ("workout", "training", "check_in", "purchase", "gift"):
        out[action] = _typed(
            functools.partial(e.track, "ann", action, amount=10 if action == "purchase" else None)
        )
    out["track_many"] = _typed(
        lambda: e.track_many(
            [{"member_id": "bob", "action": a} for a in ("check_in",) if a in e.program.actions]
        )
    )
    out["replay"] = _typed(lambda: e.track("ann", "workout", key="w1"))
    out["redeem"] = _typed(lambda: e.redeem("ann", 1))
    out["redeem_reward"] = _typed(lambda: e.redeem("ann", reward="mug"))
    out["refund"] = _typed(lambda: e.refund(world.redemption_id, "ann"))
    out["reverse"] = _typed(lambda: e.reverse("ann", "p2"))
    out["reverse_gift"] = _typed(lambda: e.reverse("ann", "g1"))
    out["reverse_workout"] = _typed(lambda: e.reverse("ann", "w1"))
    out["adjust"] = _typed(lambda: e.adjust("ann", 7, reason="goodwill"))
    out["adjust_gems"] = _typed(lambda: e.adjust("ann", -1, reason="fix", currency="gems"))
    out["join"] = _typed(lambda: e.join("carol", referral_code=e.referral_code("ann")))
    out["enroll"] = _typed(lambda: e.enroll("bob", "spring"))
    out["repair"] = _typed(lambda: e.repair_streak("ann", "daily_workout"))
    return out


def _consistent(e: Engine, member: str) -> None:
    """Every account equals the sum of its entries; no spendable balance is negative."""
    if e.store.get_member(member) is None:
        return
    assert_ledger_consistent(e.store, member)


MEMBERS = ("ann", "bob", "carol", "dan")


def _no_store_failure(outcomes: dict[str, object]) -> None:
    """A call may be refused (a typed error naming what is missing), never fail in the store
    (a duplicate award retried until it gives up, say)."""
    failed = {k: v for k, v in outcomes.items() if isinstance(v, gamify.errors.StoreError)}
    assert not failed


@pytest.mark.parametrize("name", list(EDITS))
def test_every_read_and_write_survives_the_edit(name: str, store: gamify.Store) -> None:
    world = World(store)
    e = world.v2(EDITS[name]())
    for member in MEMBERS:
        _reads(e, member)
    _no_store_failure(_writes(e, world))
    # Days later, then a year later: pending points mature, lots expire, tiers are reviewed.
    for later in (timedelta(days=3), timedelta(days=20), timedelta(days=400)):
        world.clock.set(NOW + later)
        e.run_due()
        assert e.run_due() == gamify.DueReport()  # nothing left due
        for member in MEMBERS:
            _reads(e, member)
            _consistent(e, member)
        _no_store_failure(_writes(e, world))
    for member in MEMBERS:
        _consistent(e, member)


# What the doc promises, edit by edit ----------------------------------------------------------


def v2(world: World, name: str) -> Engine:
    return world.v2(EDITS[name]())


def held_badges(e: Engine, member: str = "ann") -> list[tuple[str, str | None, int]]:
    return [(b.badge, b.tier, b.occurrence) for b in e.member(member).badges]


def paid(outcome: gamify.Outcome) -> dict[str, int]:
    """What an outcome credited, by rule or reward."""
    return {c.rule: c.amount for c in outcome.credits}


def test_a_key_from_before_the_change_replays_and_reverses(world: World) -> None:
    """Replays return the first outcome and reverse takes back exactly what the event wrote,
    even when its action, rule or currency is gone."""
    e = v2(world, "action_renamed")
    first = world.v1.track("ann", "workout", key="w1")
    assert e.track("ann", "workout", key="w1") == first
    with pytest.raises(UnknownActionError, match="'workout'"):
        e.track("ann", "workout", key="new")
    reversal = v2(world, "currency_removed").reverse("ann", "g1")
    assert [(c.currency, c.amount) for c in reversal.credits] == [("gems", -3)]
    reversal = v2(world, "rule_removed").reverse("ann", "p2")
    assert [(c.rule, c.amount) for c in reversal.credits] == [("purchase_points", -200)]
    assert world.v1.member("ann").pending["points"] == 150


def test_a_renamed_action_counts_afresh_but_streaks_continue(world: World) -> None:
    e = v2(world, "action_renamed")
    progress = e.badge_progress("ann", "workouts")
    assert (progress.current, progress.target, progress.held) == (0, 10, 2)
    # A challenge run keeps what it counted, condition by condition.
    assert e.challenge_progress("ann", "first_week").conditions[0].current == 3
    world.clock.set(NOW.add(days=1))
    outcome = e.track("ann", "training")
    assert outcome.streaks[0].length == 4
    assert outcome.badges == []  # first_workout is held already
    assert e.badge_progress("ann", "workouts").current == 1


def test_new_rules_pay_new_events_and_past_credits_stay(world: World) -> None:
    e = v2(world, "rule_award_changed")
    before = e.history("ann")
    assert paid(e.track("ann", "workout"))["workout_points"] == 50  # 25, x2 for gold
    assert e.history("ann")[-len(before) :] == before
    e = v2(world, "rule_removed")
    assert "purchase_points" not in paid(e.track("ann", "purchase", amount=80))
    world.clock.set(NOW.add(days=20))
    e.run_due()
    assert e.member("ann").pending["points"] == 0  # what the dropped rule left pending matured


def test_a_dropped_currency_is_kept_and_shown(world: World) -> None:
    e = v2(world, "currency_removed")
    assert e.member("ann").balances["gems"] == 6
    assert e.balance("ann", "gems") == 6
    with pytest.raises(NotFoundError, match="'gems'"):
        e.balance("bob", "gems")  # bob never held any
    with pytest.raises(NotFoundError, match="'gems'"):
        e.adjust("ann", -6, reason="retired", currency="gems")
    with pytest.raises(NotFoundError, match="'gems'"):
        e.leaderboard("gems")
    with pytest.raises(NotFoundError, match="'gems'"):
        e.rank("ann", "gems")
    assert [h.account for h in e.history("ann")].count("gems") == 4  # a gift, 3 badges


def test_lots_of_a_dropped_currency_still_expire(world: World) -> None:
    e = v2(world, "currency_removed")
    world.clock.set(pendulum.datetime(2027, 4, 1, tz="UTC"))  # the end of March 2027
    e.run_due()
    expired = [h.amount for h in e.history("ann") if (h.account, h.kind) == ("gems", "expire")]
    assert sum(expired) == -6
    assert "gems" not in e.member("ann").balances  # nothing left to show
    with pytest.raises(NotFoundError, match="unknown currency 'gems'"):
        e.balance("ann", "gems")


def test_a_lowered_cap_counts_what_was_used_today(world: World) -> None:
    outcome = v2(world, "cap_lowered").track("ann", "check_in")
    assert outcome.total() == 0
    assert [(c.cap, c.cut) for c in outcome.caps] == [("daily_check_in", 5)]
    assert world.v1.balance("ann") == v2(world, "cap_removed").balance("ann")  # nothing taken
    assert v2(world, "cap_removed").track("ann", "check_in").total() == 5


def test_lots_keep_the_expiry_and_maturity_they_were_written_with(world: World) -> None:
    def lots(e: Engine) -> list[tuple[str | None, Any, Any]]:
        return [
            (lot.rule, lot.expires_at, lot.pending_until)
            for lot in e.expiring("ann", within=timedelta(days=800))
        ]

    before = lots(world.v1)
    assert len(before) == 13  # points lots of day 1 to 3, one per credit
    assert [lot[0] for lot in before if lot[2] is not None] == ["purchase_points"] * 2
    e = v2(world, "expiry_never")
    assert lots(e) == before
    new = e.track("ann", "workout").credits[0]
    assert (new.rule, new.expires_at) == ("workout_points", None)  # new credits: new terms
    e = v2(world, "pending_removed")
    outcome = e.track("ann", "purchase", amount=40)
    assert outcome.credits[0].pending_until is None  # a new purchase is spendable at once
    assert e.member("ann").pending["points"] == 350  # the old ones wait for their instant
    world.clock.set(START.add(days=14))
    e.run_due()
    assert e.member("ann").pending["points"] == 200
    world.clock.set(START.add(days=15))
    e.run_due()
    assert e.member("ann").pending["points"] == 0


def test_levels_stay_through_a_curve_change_until_xp_moves_them(world: World) -> None:
    e = v2(world, "curve_keep")
    assert e.member("ann").level == 4  # 360 XP is level 8 on the new curve
    outcome = e.track("ann", "workout")
    assert [u.level for u in outcome.level_ups] == [5, 6, 7, 8, 9, 10]  # 480 XP, rewards paid
    assert paid(outcome)["level 5"] == 50


def test_recompute_reads_the_level_again_at_the_next_event_never_lower(world: World) -> None:
    e = v2(world, "curve_harder_recompute")
    assert e.track("ann", "check_in").level_ups == []
    assert e.member("ann").level == 4
    outcome = v2(world, "curve_recompute").track("ann", "check_in")
    assert [u.level for u in outcome.level_ups] == [5, 6, 7, 8]


def test_a_reversal_after_a_harder_curve_lowers_only_what_its_xp_spans(world: World) -> None:
    assert v2(world, "unchanged").reverse("ann", "w3").level_down == 3  # 240 XP: level 3
    e = v2(world, "curve_harder_recompute")  # where 120 XP is level 1
    reversal = e.reverse("ann", "w2")  # used to drop to level 1
    assert reversal.level_down is None
    assert e.member("ann").level == 3


def test_levels_above_a_lowered_maximum_are_kept(world: World) -> None:
    e = v2(world, "max_level_lowered")  # max level 2, XP stops there
    assert e.member("ann").level == 4
    outcome = e.track("ann", "workout")
    assert outcome.level_ups == []
    xp = next(c for c in outcome.credits if c.currency == "xp")
    assert (xp.amount, xp.capped) == (0, 120)
    e = v2(world, "levels_removed")
    assert e.member("ann").level == 4
    assert e.track("ann", "workout").level_ups == []


def test_a_dropped_streak_is_kept_and_its_runs_still_read(world: World) -> None:
    e = v2(world, "streak_removed")
    assert e.member("ann").streaks == []
    assert [(r.start, r.length) for r in e.streak_history("ann", "daily_workout")] == [(START, 3)]
    with pytest.raises(NotFoundError, match="'daily_workout'"):
        e.repair_streak("ann", "daily_workout")
    with pytest.raises(NotFoundError, match="'daily_workout'"):
        e.streak_history("bob", "daily_workout")  # bob never had it
    assert e.track("ann", "workout").streaks == []


def test_a_run_keeps_its_length_when_the_period_changes(world: World) -> None:
    e = v2(world, "streak_day_to_week")
    same_week = e.track("ann", "workout").streaks[0]
    assert (same_week.length, same_week.extended) == (3, False)
    world.clock.set(NOW.add(days=5))  # the next Monday
    assert e.track("ann", "workout").streaks[0].length == 4


def test_freeze_tokens_held_still_cover_a_miss_when_freezes_are_removed(world: World) -> None:
    e = v2(world, "freeze_removed")
    assert e.member("ann").streaks[0].tokens == 1
    world.clock.set(NOW.add(days=2))  # a day missed
    streak = e.track("ann", "workout").streaks[0]
    assert (streak.length, streak.frozen_periods, streak.tokens) == (4, 1, 0)  # none granted
    with pytest.raises(gamify.errors.StreakRepairError, match="cannot be repaired"):
        v2(world, "repair_removed").repair_streak("ann", "daily_workout")


def test_a_dropped_badge_is_kept_and_no_longer_awarded(world: World) -> None:
    e = v2(world, "badge_removed")
    assert ("workouts", "bronze", 1) in held_badges(e)
    assert ("workouts", "silver", 1) in held_badges(e)
    assert all(b.reward == 0 for b in e.member("ann").badges if b.badge == "workouts")
    with pytest.raises(NotFoundError, match="'workouts'"):
        e.badge_progress("ann", "workouts")
    assert e.track("ann", "workout").badges == []


def test_a_tier_inserted_below_held_ones_is_awarded_and_none_twice(world: World) -> None:
    e = v2(world, "badge_tier_inserted")
    outcome = e.track("ann", "workout")  # used to give up: silver was awarded again
    assert [(b.badge, b.tier, b.reward) for b in outcome.badges] == [("workouts", "copper", 5)]
    tiers = [t for b, t, _ in held_badges(e) if b == "workouts"]
    assert tiers == ["bronze", "silver", "copper"]
    progress = e.badge_progress("ann", "workouts")
    assert (progress.current, progress.target, progress.complete) == (4, 10, False)


def test_a_renamed_badge_tier_is_a_new_tier(world: World) -> None:
    e = v2(world, "badge_tiers_renamed")
    outcome = e.track("ann", "workout")
    assert [(b.tier, b.reward) for b in outcome.badges] == [("starter", 20), ("regular", 40)]
    tiers = [t for b, t, _ in held_badges(e) if b == "workouts"]
    assert tiers == ["bronze", "silver", "starter", "regular"]


def test_a_dropped_badge_tier_is_kept(world: World) -> None:
    e = v2(world, "badge_tiers_dropped")  # silver only
    workouts = [b for b in e.member("ann").badges if b.badge == "workouts"]
    assert [(b.tier, b.reward) for b in workouts] == [("bronze", 0), ("silver", 40)]
    assert e.badge_progress("ann", "workouts").complete
    assert e.track("ann", "workout").badges == []


def test_a_raised_threshold_keeps_held_awards(world: World) -> None:
    e = v2(world, "badge_threshold_raised")
    assert ("first_workout", None, 1) in held_badges(e)
    progress = e.badge_progress("ann", "big_spender")
    assert (progress.held, progress.target) == (3, 4000)  # the 4th at 4 x 1000
    assert e.track("ann", "purchase", amount=1000).badges == []


def test_state_without_tier_names_reads_them_from_the_award_records(world: World) -> None:
    """State written before tier names were kept records only how many tiers are held:
    read as the first tiers of the list until an event checks the badge, which reads the
    names from the store's award records."""
    with world.store.unit_of_work(["ann"]) as uow:
        ann = uow.load_member("ann")
        assert ann is not None
        del ann.state["badge_tiers"]
        uow.apply(Changes(members=[ann]))
    e = v2(world, "badge_tier_inserted")
    assert [t for b, t, _ in held_badges(e) if b == "workouts"] == ["copper", "bronze"]
    outcome = e.track("ann", "workout")  # silver is not awarded again
    assert [(b.badge, b.tier) for b in outcome.badges] == [("workouts", "copper")]
    assert [t for b, t, _ in held_badges(e) if b == "workouts"] == ["bronze", "silver", "copper"]


def test_a_badge_whose_kind_changes_keeps_its_count(world: World) -> None:
    e = v2(world, "badge_kind_changed")
    first = e.badge_progress("ann", "first_workout")  # one-off, now repeatable
    assert (first.held, first.target) == (1, 2)
    awarded = e.track("ann", "workout").badges  # the 4th workout: occurrences 2 to 4
    assert [(b.badge, b.occurrence) for b in awarded] == [("first_workout", n) for n in (2, 3, 4)]
    spender = e.badge_progress("ann", "big_spender")  # repeatable, now one-off
    assert (spender.held, spender.complete) == (3, True)
    assert [o for b, _, o in held_badges(e) if b == "big_spender"] == [1, 2, 3]


@pytest.mark.parametrize(
    ("name", "placed", "factor"), [("tier_removed", "silver", 1.5), ("tier_renamed", "platinum", 2)]
)
def test_a_member_whose_tier_is_gone_is_placed_at_the_next_event(
    world: World, name: str, placed: str, factor: float
) -> None:
    e = v2(world, name)
    assert e.member("ann").tier == "gold"  # as stored, until the next event
    outcome = e.track("ann", "workout")
    assert outcome.tier_change is not None
    assert (outcome.tier_change.from_tier, outcome.tier_change.to_tier) == ("gold", placed)
    assert paid(outcome)["workout_points"] == 10 * factor
    assert e.member("ann").tier == placed


def test_a_member_whose_tier_is_gone_is_placed_at_the_review(world: World) -> None:
    e = v2(world, "tier_removed")
    world.clock.set(pendulum.datetime(2027, 1, 1, tz="UTC"))
    report = e.run_due()
    assert [(c.from_tier, c.to_tier) for c in report.tier_changes] == [("gold", "silver")]
    assert e.member("ann").tier == "silver"  # 2026's 350 reaches silver


def test_tier_multipliers_apply_to_new_events_only(world: World) -> None:
    e = v2(world, "tier_multiplier_changed")
    before = {h.entry_id: h.amount for h in e.history("ann")}
    assert paid(e.track("ann", "workout"))["workout_points"] == 30
    assert all(before[h.entry_id] == h.amount for h in e.history("ann") if h.entry_id in before)


@pytest.mark.parametrize(("name", "pays"), [("multiplier_removed", 10), ("multiplier_changed", 30)])
def test_multipliers_apply_to_new_events_only(world: World, name: str, pays: int) -> None:
    world.v1.set_member("eve", tags=["vip"])
    first = world.v1.track("eve", "workout", key="e1")
    assert paid(first)["workout_points"] == 20  # 10, doubled for vip
    e = v2(world, name)
    assert paid(e.track("eve", "workout"))["workout_points"] == pays
    assert e.track("eve", "workout", key="e1") == first  # a replay answers as it did
    assert [h.amount for h in e.history("eve") if h.reason == "workout_points"] == [pays, 20]


def _lot_expiries(e: Engine) -> set[Any]:
    return {lot.expires_at for lot in e.expiring("ann", within=timedelta(days=800))}


@pytest.mark.parametrize(
    ("name", "expires"),
    [
        ("unchanged", pendulum.datetime(2027, 10, 1, tz="UTC")),  # v1's terms: 6 months on
        ("renewal_changed", pendulum.datetime(2027, 7, 1, tz="UTC")),
        ("renewal_removed", pendulum.datetime(2027, 4, 1, tz="UTC")),
    ],
)
def test_renewal_follows_the_program_at_the_renewing_event(
    world: World, name: str, expires: Any
) -> None:
    """Ann's March 2026 lots expire on 1 April 2027; a purchase on 10 March 2027 renews
    them by the terms of the program in force then, and a renewal already made stays."""
    world.clock.set(pendulum.datetime(2027, 3, 10, 12, tz="UTC"))
    e = v2(world, name)
    e.run_due()  # pending points mature; check-in lots (3 months) are long gone
    assert _lot_expiries(e) == {pendulum.datetime(2027, 4, 1, tz="UTC")}
    e.track("ann", "purchase", amount=1)
    renewed = _lot_expiries(e) - {pendulum.datetime(2028, 4, 1, tz="UTC")}  # the new lot
    assert renewed == {expires}
    world.clock.set(pendulum.datetime(2027, 6, 20, 12, tz="UTC"))
    assert _lot_expiries(v2(world, "renewal_removed")) - {
        pendulum.datetime(2028, 4, 1, tz="UTC")
    } == ({expires} if expires > world.clock.now() else set())


@pytest.mark.parametrize(
    ("name", "price"), [("reward_price_changed", 200), ("exchange_ratio_changed", 300)]
)
def test_new_redemptions_pay_the_new_price_and_refunds_restore_what_was_spent(
    world: World, name: str, price: int
) -> None:
    world.v1.adjust("ann", 1000, reason="enough for both")
    first = world.v1.redeem("ann", reward="mug", key="m1")
    assert first.points == 100
    e = v2(world, name)
    assert e.reward_price("mug") == price
    assert e.redeem("ann", reward="mug", key="m1") == first  # a replay answers as it did
    balance = e.balance("ann")
    assert e.redeem("ann", reward="mug").points == price
    assert e.balance("ann") == balance - price
    e.refund(first.redemption_id, "ann")
    assert e.balance("ann") == balance - price + 100


def test_a_removed_reward_is_refused_and_its_redemptions_still_refund(world: World) -> None:
    first = world.v1.redeem("ann", reward="mug", key="m1")
    e = v2(world, "reward_removed")
    with pytest.raises(NotFoundError, match="'mug'"):
        e.reward_price("mug")
    with pytest.raises(NotFoundError, match="'mug'"):
        e.redeem("ann", reward="mug")
    balance = e.balance("ann")
    e.refund(first.redemption_id, "ann")
    assert e.balance("ann") == balance + 100


def test_without_tiers_the_stored_tier_is_inert_and_reviews_are_dropped(world: World) -> None:
    e = v2(world, "tiers_removed")
    assert e.member("ann").tier == "gold"
    assert paid(e.track("ann", "workout"))["workout_points"] == 10
    world.clock.set(pendulum.datetime(2027, 1, 2, tz="UTC"))
    e.run_due()
    assert e.store.get_member("ann").review_at is None
    assert e.member("ann").tier == "gold"


def test_without_a_referral_scheme_links_stay_and_pay_nothing(world: World) -> None:
    e = v2(world, "referral_removed")
    assert e.member("dan").referrer == "ann"
    before = e.balance("ann")
    assert e.track("dan", "purchase", amount=100).referral_rewards == []
    assert e.balance("ann") == before
    with pytest.raises(gamify.ConfigurationError, match="no referral scheme"):
        e.referral_code("ann")
    with pytest.raises(gamify.ConfigurationError, match="no referral scheme"):
        e.join("erin", referral_code=world.v1.referral_code("ann"))


def test_an_action_that_now_requires_an_amount_refuses_calls_without_one(
    world: World,
) -> None:
    """Workouts now need an amount: one without is refused, one with pays, and a key tracked
    without an amount before the change still replays."""
    first = world.v1.track("ann", "workout", key="w1")
    e = v2(world, "action_amount_required")
    with pytest.raises(gamify.InvalidAmountError, match="requires an amount"):
        e.track("ann", "workout")
    assert paid(e.track("ann", "workout", amount=30))["workout_points"] == 20  # gold: x2
    assert e.track("ann", "workout", key="w1") == first


def test_a_raised_cap_counts_what_was_used_today(world: World) -> None:
    """Ann used the whole 10 of today's check-in cap; at 20 she earns 10 more today."""
    e = v2(world, "cap_raised")
    paid_today = [e.track("ann", "check_in").total() for _ in range(3)]
    assert paid_today == [5, 5, 0]


def test_a_run_in_progress_keeps_its_window_when_the_days_change(world: World) -> None:
    """Ann's first_week run (enrolled on 2 March, 7 days) keeps its end; a member enrolled
    after the change gets 14 days."""
    e = v2(world, "challenge_lengthened")
    assert e.challenge_progress("ann", "first_week").ends_at == START.start_of("day").add(days=7)
    e.track("gil", "workout")
    assert e.challenge_progress("gil", "first_week").ends_at == NOW.start_of("day").add(days=14)


def test_a_changed_referral_scheme_pays_referrals_that_qualify_later(world: World) -> None:
    """Bob qualified under v1 (ann got 50); dan, joined but not yet qualified, qualifies
    under v2 and pays ann the new 80; a new referee gets the new welcome reward."""
    e = v2(world, "referral_changed")
    rewards = {h.amount for h in e.history("ann") if h.reason.startswith("referral")}
    assert rewards == {50}
    before = e.balance("ann")
    e.track("dan", "purchase", amount=100)
    assert e.balance("ann") == before + 80
    e.join("erin", referral_code=e.referral_code("ann"))
    assert e.balance("erin") == 10


def test_a_dropped_challenge_keeps_its_runs_for_a_program_that_brings_it_back(
    world: World,
) -> None:
    e = v2(world, "challenges_removed")
    with pytest.raises(NotFoundError, match="'first_week'"):
        e.challenge_progress("ann", "first_week")
    with pytest.raises(NotFoundError, match="'spring'"):
        e.enroll("bob", "spring")
    assert e.track("ann", "workout").challenges == []  # not counted
    back = v2(world, "unchanged").challenge_progress("ann", "first_week")
    assert (back.status, back.conditions[0].current) == ("active", 3)


def test_what_a_program_adds_starts_at_the_next_event(world: World) -> None:
    e = v2(world, "things_added")
    assert e.member("ann").tier == "gold"
    outcome = e.track("ann", "workout")  # the 4th
    assert paid(outcome)["workout_stars"] == 1
    assert {(s.name, s.length) for s in outcome.streaks} == {
        ("daily_workout", 3),
        ("weekly_workout", 1),
    }
    assert {(b.badge, b.tier) for b in outcome.badges} == {
        ("workouts", "steel"),
        ("four_workouts", None),
    }
    assert outcome.tier_change is None
    assert e.challenge_progress("ann", "second_week").conditions[0].current == 1


def test_a_currency_adjusted_to_zero_before_it_is_removed_is_gone(world: World) -> None:
    world.v1.adjust("ann", -6, reason="gems retired", currency="gems")
    e = v2(world, "currency_removed")
    assert "gems" not in e.member("ann").balances


def test_members_keep_their_zone_when_the_program_zone_changes(world: World) -> None:
    e = v2(world, "timezone_changed")
    assert e.member("ann").timezone == "UTC"
    e.track("erin", "check_in")
    assert e.member("erin").timezone == "Asia/Shanghai"


# Changing week_start ---------------------------------------------------------------------------

WEEKLY: dict[str, Any] = {
    "timezone": "UTC",
    "week_start": "monday",
    "actions": {"workout": {"amount": "none"}},
    "rules": [{"name": "workout_points", "action": "workout", "fixed": 10}],
    "caps": [{"name": "weekly", "action": "workout", "period": "week", "limit": 25}],
    "streaks": {"weekly": {"actions": ["workout"], "period": "week"}},
}


def _weekly(store: gamify.Store, clock: ManualClock, week_start: str) -> Engine:
    return Engine({**WEEKLY, "week_start": week_start}, store=store, clock=clock)


def _at(day: int) -> Any:
    return pendulum.datetime(2026, 3, day, 9, tz="UTC")  # 2 March 2026 is a Monday


def _week_board(e: Engine) -> list[tuple[str, int]]:
    return [(r.member_id, r.score) for r in e.leaderboard(period="week")]


def test_week_start_changed_on_the_first_day_of_a_new_week(store: gamify.Store) -> None:
    """Monday weeks until Sunday 8 March, Sunday weeks from then: the new week's cap, streak
    period and board start with it."""
    clock = ManualClock(_at(2))
    v1 = _weekly(store, clock, "monday")
    v1.track("ann", "workout")
    clock.set(_at(4))
    v1.track("ann", "workout")  # 20 of the week's 25
    clock.set(_at(8))  # a Sunday: the first day of a week under the new setting
    outcome = _weekly(store, clock, "sunday").track("ann", "workout")
    assert (outcome.total(), outcome.caps) == (10, [])  # a new week: the cap starts afresh
    assert [(s.name, s.length) for s in outcome.streaks] == [("weekly", 2)]
    assert _week_board(_weekly(store, clock, "sunday")) == [("ann", 10)]


@pytest.mark.parametrize(
    ("new_start", "board"),
    [
        ("sunday", []),  # the new week (1-7 March) reads as earlier than the stored one
        ("wednesday", [("ann", 10)]),  # the new week (4-10 March) restarts at the change
    ],
)
def test_week_start_changed_mid_week_splits_the_week_in_progress(
    store: gamify.Store, new_start: str, board: list[tuple[str, int]]
) -> None:
    """Changed on Thursday 5 March: the weekly cap starts afresh (20 of 25 were used); the
    streak reads its last counted workout (Monday 2 March) in the new weeks, so the
    Thursday adds nothing under Sunday weeks (1-7 March) and a period under Wednesday
    weeks (Monday fell in the week before); and the week board leaves the days until
    the next week out or restarts at the change."""
    clock = ManualClock(_at(2))
    v1 = _weekly(store, clock, "monday")
    v1.track("ann", "workout")
    clock.set(_at(4))
    v1.track("ann", "workout")
    clock.set(_at(5))
    v2 = _weekly(store, clock, new_start)
    outcome = v2.track("ann", "workout")
    assert (outcome.total(), outcome.caps) == (10, [])
    assert _week_board(v2) == board
    length = {"sunday": 1, "wednesday": 2}[new_start]
    assert [(s.name, s.length) for s in v2.member("ann").streaks] == [("weekly", length)]


# Changing the tier window ----------------------------------------------------------------------

TIERED: dict[str, Any] = {
    "timezone": "UTC",
    "actions": {"purchase": {"amount": "required"}, "check_in": {"amount": "none"}},
    "rules": [{"name": "purchase_points", "action": "purchase", "per_amount": 1}],
    "tiers": {
        "metric": "amount",
        "action": "purchase",
        "window": "calendar_year",
        "levels": [
            {"name": "regular", "threshold": 0},
            {"name": "silver", "threshold": 100},
            {"name": "gold", "threshold": 300},
        ],
    },
}


def _tiered(store: gamify.Store, clock: ManualClock, **window: Any) -> Engine:
    program = copy.deepcopy(TIERED)
    program["tiers"].update(window)
    return Engine(program, store=store, clock=clock)


@pytest.mark.parametrize(
    ("window", "tier_after_purchase", "tier_after_review"),
    [
        ({"window": "lifetime"}, "gold", "gold"),  # 200 + 150 + 1 reaches gold at once
        ({"window": "rolling_months", "months": 1}, "silver", "regular"),  # a drop waits
    ],
)
def test_a_changed_tier_window_is_read_at_the_next_qualifying_event(
    store: gamify.Store,
    window: dict[str, Any],
    tier_after_purchase: str,
    tier_after_review: str,
) -> None:
    """Fay bought 200 in December 2025 and 150 in January 2026: silver on the calendar year.
    The new window reads the monthly totals her state keeps; a tier it reaches is given at
    her next purchase (not at another action), and a drop waits for the review."""
    clock = ManualClock(pendulum.datetime(2025, 12, 10, tz="UTC"))
    v1 = _tiered(store, clock)
    v1.track("fay", "purchase", amount=200)
    clock.set(pendulum.datetime(2026, 1, 10, tz="UTC"))
    v1.run_due()  # the 1 January review keeps silver (2025 reached it)
    v1.track("fay", "purchase", amount=150)
    assert v1.member("fay").tier == "silver"
    v2 = _tiered(store, clock, **window)
    v2.track("fay", "check_in")
    assert v2.member("fay").tier == "silver"
    v2.track("fay", "purchase", amount=1)
    assert v2.member("fay").tier == tier_after_purchase
    clock.set(pendulum.datetime(2027, 1, 2, tz="UTC"))
    v2.run_due()
    assert v2.member("fay").tier == tier_after_review


def test_week_start_changed_mid_week_can_merge_two_old_weeks(store: gamify.Store) -> None:
    """A workout on Sunday 8 March (Monday weeks) and one on Monday 9 March after the start
    moved to Wednesday: both fall in the week of 4-10 March, so the run stays at 1."""
    clock = ManualClock(_at(8))
    _weekly(store, clock, "monday").track("ann", "workout")
    clock.set(_at(9))
    outcome = _weekly(store, clock, "wednesday").track("ann", "workout")
    assert [(s.name, s.length, s.extended) for s in outcome.streaks] == [("weekly", 1, False)]
