"""Changing a running program: an engine built from an edited program meets the state
members earned under the old one, on the same store.

Each case builds the same members under program v1 (points, XP, gems, lots with expiry
and pending lots, caps used today, streak runs and freeze tokens, one-off, tiered and
repeatable badges, a tier and its review date, a referral, challenge enrolments and
leaderboard totals), then builds engine v2 from an edited copy of v1's dict on the same
store object and runs every read and every write. The doc section "Changing a running
program" (docs/program.md) states what the assertions below check.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest

import gamify
from gamify import Engine, ManualClock
from gamify.errors import GamifyError, NotFoundError, UnknownActionError

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


def change_timezone(p: dict[str, Any]) -> None:
    p["timezone"] = "Asia/Shanghai"


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
        "timezone_changed": change_timezone,
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


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[gamify.Store]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'g.db'}"
    opened = gamify.open_store(url)
    yield opened
    opened.close()


@pytest.fixture
def world() -> World:
    """On the memory store: the focused tests below."""
    return World(gamify.open_store("memory://"))


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
        amount = 10 if action == "purchase" else None
        out[action] = _typed(lambda: e.track("ann", action, amount=amount))
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
    accounts = e.store.get_balances(member)
    sums: dict[str, int] = {}
    for entry in e.history(member):
        sums[entry.account] = sums.get(entry.account, 0) + entry.amount
    assert {a: v for a, v in accounts.items() if v} == {a: v for a, v in sums.items() if v}
    assert all(v >= 0 for v in accounts.values()), accounts


@pytest.mark.parametrize("name", list(EDITS))
def test_every_read_and_write_survives_the_edit(name: str, store: gamify.Store) -> None:
    world = World(store)
    e = world.v2(EDITS[name]())
    for member in ("ann", "bob"):
        _reads(e, member)
    _writes(e, world)
    # Days later, then a year later: pending points mature, lots expire, tiers are reviewed.
    for later in (timedelta(days=3), timedelta(days=20), timedelta(days=400)):
        world.clock.set(NOW + later)
        e.run_due()
        e.run_due()  # idempotent
        for member in ("ann", "bob", "carol"):
            _reads(e, member)
            _consistent(e, member)
        _writes(e, world)
    for member in ("ann", "bob", "carol"):
        _consistent(e, member)
