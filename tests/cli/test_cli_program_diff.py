"""``gamify program diff``: each change of each section, its effect on members and the
changes to plan before deploying; exit codes 0 (same), 1 (different), 2 (bad input)."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gamify.cli._program_diff import EFFECTS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

BASE: dict[str, Any] = {
    "name": "shop",
    "timezone": "Europe/Paris",
    "expiry": {"policy": "months", "months": 24},
    "currencies": {
        "points": {"spendable": True},
        "xp": {"spendable": False},
        "gems": {"spendable": True},
    },
    "actions": {
        "purchase": {"amount": "required"},
        "check_in": {"amount": "none"},
        "review": {"amount": "none"},
    },
    "rules": [
        {"name": "purchase_points", "action": "purchase", "per_amount": 1},
        {"name": "check_in_xp", "action": "check_in", "currency": "xp", "fixed": 10},
    ],
    "multipliers": [{"name": "vip", "kind": "tag", "tag": "vip", "factor": 2}],
    "caps": [{"name": "daily_check_in", "action": "check_in", "period": "day", "limit": 5}],
    "levels": {"curve": "linear", "params": {"step": 100}, "max_level": 20},
    "streaks": {
        "daily": {
            "actions": ["check_in"],
            "period": "day",
            "freeze": {"every": 7},
            "repair": {"cost": 100},
        }
    },
    "badges": {
        "first_purchase": {
            "metric": "count",
            "action": "purchase",
            "threshold": 1,
            "reward": {"points": 50},
        },
        "regular": {
            "kind": "tiered",
            "metric": "count",
            "action": "check_in",
            "tiers": [{"name": "bronze", "threshold": 10}, {"name": "silver", "threshold": 50}],
        },
    },
    "tiers": {
        "metric": "amount",
        "action": "purchase",
        "levels": [
            {"name": "regular", "threshold": 0},
            {"name": "gold", "threshold": 5000, "multiplier": 1.5},
        ],
    },
    "referral": {"qualifying_action": "purchase", "referee_reward": 30, "referrer_fixed": 50},
    "renewal": {"actions": ["purchase"]},
    "redemption": {"exchange_ratio": 100},
    "catalog": {"coffee": {"cash_value": 3}},
    "challenges": {
        "first_week": {
            "days": 7,
            "reward": {"points": 200},
            "conditions": [{"kind": "count", "action": "check_in", "target": 3}],
        }
    },
}


@pytest.fixture
def pair(write: Callable[[str, str], Path]) -> Callable[..., tuple[Path, Path]]:
    """The base program and an edited copy, as JSON files."""

    def make(edit: Callable[[dict[str, Any]], None]) -> tuple[Path, Path]:
        data = copy.deepcopy(BASE)
        edit(data)
        return write("old.json", json.dumps(BASE)), write("new.json", json.dumps(data))

    return make


def _changes(run: Any) -> dict[tuple[str, str, str], dict[str, Any]]:
    assert run.exit_code == 1, run.stderr
    return {(c["section"], c["name"], c["change"]): c for c in run.json()["changes"]}


def _text(run: Any) -> str:
    return " ".join(run.stdout.split())


def _effect(section: str, kind: str) -> str:
    return EFFECTS[(section, kind)][0]


def test_the_same_program_has_no_differences(gamify_cli, pair):
    """Identical files: exit 0, "no differences", and no change in JSON."""
    old, new = pair(lambda data: None)
    run = gamify_cli("program", "diff", old, new)
    assert run.exit_code == 0, run.stderr
    assert run.stdout == f"no differences: {old} and {new} describe the same program\n"
    run = gamify_cli("program", "diff", old, new, "--json")
    assert run.exit_code == 0
    assert run.json() == {"old": str(old), "new": str(new), "changes": [], "level_curve": None}


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit setting ``a.b.0.c`` (list indices as numbers) to ``value``."""

    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            del node[int(last)]
        else:
            del node[last]

    return edit


def _append(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        node: Any = data
        for key in path.split("."):
            node = node[int(key)] if isinstance(node, list) else node[key]
        node.append(value)

    return edit


# (edit, section, name, change, fields expected ({} for added/removed: not checked),
#  attention, the effect's key in EFFECTS)
CASES: list[
    tuple[str, Callable[[dict[str, Any]], None], str, str, str, dict[str, Any], bool, Any]
] = [
    # settings
    (
        "timezone",
        _set("timezone", "UTC"),
        "settings",
        "timezone",
        "changed",
        {"timezone": {"old": "Europe/Paris", "new": "UTC"}},
        False,
        ("settings", "changed:timezone"),
    ),
    (
        "week_start",
        _set("week_start", "sunday"),
        "settings",
        "week_start",
        "changed",
        {"week_start": {"old": "monday", "new": "sunday"}},
        True,
        ("settings", "changed:week_start"),
    ),
    (
        "expiry",
        _set("expiry.months", 12),
        "expiry",
        "expiry",
        "changed",
        {"months": {"old": 24, "new": 12}},
        True,
        ("expiry", "changed"),
    ),
    # currencies
    (
        "currency added",
        _set("currencies.coins", {}),
        "currencies",
        "coins",
        "added",
        {},
        False,
        ("currencies", "added"),
    ),
    (
        "currency removed",
        _drop("currencies.gems"),
        "currencies",
        "gems",
        "removed",
        {"spendable": {"old": True, "new": None}},
        True,
        ("currencies", "removed"),
    ),
    (
        "currency description",
        _set("currencies.gems", {"spendable": True, "description": "shiny"}),
        "currencies",
        "gems",
        "changed",
        {"description": {"old": "", "new": "shiny"}},
        False,
        ("*", "changed:description"),
    ),
    # actions
    (
        "action added",
        _set("actions.share", {}),
        "actions",
        "share",
        "added",
        {},
        False,
        ("*", "added"),
    ),
    (
        "action removed",
        _drop("actions.review"),
        "actions",
        "review",
        "removed",
        {},
        True,
        ("actions", "removed"),
    ),
    (
        "action amount",
        _set("actions.review.amount", "optional"),
        "actions",
        "review",
        "changed",
        {"amount": {"old": "none", "new": "optional"}},
        False,
        ("actions", "changed:amount optional"),
    ),
    (
        "action amount required",
        _set("actions.review.amount", "required"),
        "actions",
        "review",
        "changed",
        {"amount": {"old": "none", "new": "required"}},
        True,
        ("actions", "changed:amount"),
    ),
    # rules
    (
        "rule added",
        _append("rules", {"name": "review_points", "action": "review", "fixed": 5}),
        "rules",
        "review_points",
        "added",
        {"action": {"old": None, "new": "review"}, "fixed": {"old": None, "new": "5"}},
        False,
        ("rules", "added"),
    ),
    (
        "rule removed",
        _drop("rules.1"),
        "rules",
        "check_in_xp",
        "removed",
        {},
        False,
        ("rules", "removed"),
    ),
    (
        "rule award",
        _set("rules.1.fixed", 20),
        "rules",
        "check_in_xp",
        "changed",
        {"fixed": {"old": "10", "new": "20"}},
        False,
        ("rules", "changed"),
    ),
    (
        "rule validity",
        _set("rules.0.validity", {"policy": "months", "months": 6}),
        "rules",
        "purchase_points",
        "changed",
        {"validity": {"old": None, "new": {"policy": "months", "months": 6}}},
        True,
        ("rules", "changed:validity"),
    ),
    # multipliers
    (
        "multiplier added",
        _append("multipliers", {"name": "launch", "kind": "tag", "tag": "launch", "factor": 3}),
        "multipliers",
        "launch",
        "added",
        {},
        False,
        ("multipliers", "added"),
    ),
    (
        "multiplier removed",
        _drop("multipliers.0"),
        "multipliers",
        "vip",
        "removed",
        {},
        False,
        ("multipliers", "removed"),
    ),
    (
        "multiplier factor",
        _set("multipliers.0.factor", 1.5),
        "multipliers",
        "vip",
        "changed",
        {"factor": {"old": "2", "new": "1.5"}},
        False,
        ("multipliers", "changed"),
    ),
    # caps
    (
        "cap added",
        _append("caps", {"name": "reviews", "action": "review", "limit": 1}),
        "caps",
        "reviews",
        "added",
        {},
        False,
        ("*", "added"),
    ),
    (
        "cap removed",
        _drop("caps.0"),
        "caps",
        "daily_check_in",
        "removed",
        {},
        False,
        ("caps", "removed"),
    ),
    (
        "cap lowered",
        _set("caps.0.limit", 2),
        "caps",
        "daily_check_in",
        "changed",
        {"limit": {"old": 5, "new": 2}},
        False,
        ("caps", "changed:limit lowered"),
    ),
    (
        "cap raised",
        _set("caps.0.limit", 9),
        "caps",
        "daily_check_in",
        "changed",
        {"limit": {"old": 5, "new": 9}},
        False,
        ("caps", "changed:limit raised"),
    ),
    # levels
    (
        "levels removed",
        _drop("levels"),
        "levels",
        "levels",
        "removed",
        {},
        False,
        ("levels", "removed"),
    ),
    (
        "curve recompute",
        _set(
            "levels",
            {
                "curve": "linear",
                "params": {"step": 150},
                "max_level": 20,
                "on_curve_change": "recompute",
            },
        ),
        "levels",
        "levels",
        "changed",
        {
            "params": {"old": {"step": "100"}, "new": {"step": "150"}},
            "on_curve_change": {"old": "keep", "new": "recompute"},
        },
        False,
        ("levels", "changed:curve recompute"),
    ),
    (
        "max level lowered",
        _set("levels.max_level", 10),
        "levels",
        "levels",
        "changed",
        {"max_level": {"old": 20, "new": 10}},
        False,
        ("levels", "changed:max_level lowered"),
    ),
    # streaks
    (
        "streak added",
        _set("streaks.buying", {"actions": ["purchase"]}),
        "streaks",
        "buying",
        "added",
        {},
        False,
        ("streaks", "added"),
    ),
    (
        "streak removed",
        _drop("streaks.daily"),
        "streaks",
        "daily",
        "removed",
        {},
        True,
        ("streaks", "removed"),
    ),
    (
        "streak period",
        _set("streaks.daily.period", "week"),
        "streaks",
        "daily",
        "changed",
        {"period": {"old": "day", "new": "week"}},
        True,
        ("streaks", "changed:period"),
    ),
    (
        "freeze removed",
        _drop("streaks.daily.freeze"),
        "streaks",
        "daily",
        "changed",
        {"freeze": {"old": {"every": 7}, "new": None}},
        False,
        ("streaks", "changed:freeze removed"),
    ),
    (
        "repair removed",
        _drop("streaks.daily.repair"),
        "streaks",
        "daily",
        "changed",
        {"repair": {"old": {"cost": 100}, "new": None}},
        False,
        ("streaks", "changed:repair removed"),
    ),
    # badges
    (
        "badge added",
        _set("badges.reviewer", {"metric": "count", "action": "review", "threshold": 3}),
        "badges",
        "reviewer",
        "added",
        {"threshold": {"old": None, "new": "3"}},
        False,
        ("badges", "added"),
    ),
    (
        "badge removed",
        _drop("badges.first_purchase"),
        "badges",
        "first_purchase",
        "removed",
        {"reward": {"old": {"points": 50}, "new": None}},
        True,
        ("badges", "removed"),
    ),
    (
        "badge threshold",
        _set("badges.first_purchase.threshold", 2),
        "badges",
        "first_purchase",
        "changed",
        {"threshold": {"old": "1", "new": "2"}},
        False,
        ("badges", "changed:threshold"),
    ),
    (
        "badge kind",
        _set("badges.first_purchase.kind", "repeatable"),
        "badges",
        "first_purchase",
        "changed",
        {"kind": {"old": "one_off", "new": "repeatable"}},
        False,
        ("badges", "changed:kind"),
    ),
    # badge tiers
    (
        "badge tier added",
        _append("badges.regular.tiers", {"name": "gold", "threshold": 100}),
        "badge tiers",
        "regular: gold",
        "added",
        {"threshold": {"old": None, "new": "100"}},
        False,
        ("badge tiers", "added"),
    ),
    (
        "badge tier removed",
        _drop("badges.regular.tiers.1"),
        "badge tiers",
        "regular: silver",
        "removed",
        {},
        True,
        ("badge tiers", "removed"),
    ),
    (
        "badge tier threshold",
        _set("badges.regular.tiers.1.threshold", 40),
        "badge tiers",
        "regular: silver",
        "changed",
        {"threshold": {"old": "50", "new": "40"}},
        False,
        ("badge tiers", "changed:threshold"),
    ),
    # tiers
    (
        "tiers removed",
        _drop("tiers"),
        "tiers",
        "tiers",
        "removed",
        {},
        True,
        ("tiers", "removed"),
    ),
    (
        "tiers window",
        _set("tiers.window", "lifetime"),
        "tiers",
        "tiers",
        "changed",
        {"window": {"old": "calendar_year", "new": "lifetime"}},
        False,
        ("tiers", "changed:window"),
    ),
    (
        "tier added",
        _append("tiers.levels", {"name": "platinum", "threshold": 20000, "multiplier": 2}),
        "tier levels",
        "platinum",
        "added",
        {},
        False,
        ("tier levels", "added"),
    ),
    (
        "tier removed",
        _drop("tiers.levels.1"),
        "tier levels",
        "gold",
        "removed",
        {"multiplier": {"old": "1.5", "new": None}},
        True,
        ("tier levels", "removed"),
    ),
    (
        "tier multiplier",
        _set("tiers.levels.1.multiplier", 2),
        "tier levels",
        "gold",
        "changed",
        {"multiplier": {"old": "1.5", "new": "2"}},
        False,
        ("tier levels", "changed:multiplier"),
    ),
    (
        "tier discount",
        _set("tiers.levels.1.discount", 0.9),
        "tier levels",
        "gold",
        "changed",
        {"discount": {"old": "1", "new": "0.9"}},
        False,
        ("tier levels", "changed:discount"),
    ),
    # referral, renewal, redemption, catalog
    (
        "referral removed",
        _drop("referral"),
        "referral",
        "referral",
        "removed",
        {},
        True,
        ("referral", "removed"),
    ),
    (
        "referral reward",
        _set("referral.referrer_fixed", 80),
        "referral",
        "referral",
        "changed",
        {"referrer_fixed": {"old": 50, "new": 80}},
        False,
        ("referral", "changed"),
    ),
    (
        "renewal removed",
        _drop("renewal"),
        "renewal",
        "renewal",
        "removed",
        {},
        False,
        ("renewal", "removed"),
    ),
    (
        "renewal months",
        _set("renewal.months", 12),
        "renewal",
        "renewal",
        "changed",
        {"months": {"old": 6, "new": 12}},
        False,
        ("renewal", "changed"),
    ),
    (
        "redemption ratio",
        _set("redemption.exchange_ratio", 200),
        "redemption",
        "redemption",
        "changed",
        {"exchange_ratio": {"old": "100", "new": "200"}},
        False,
        ("redemption", "changed"),
    ),
    (
        "catalog added",
        _set("catalog.tea", {"cash_value": 2}),
        "catalog",
        "tea",
        "added",
        {"cash_value": {"old": None, "new": "2"}},
        False,
        ("*", "added"),
    ),
    (
        "catalog removed",
        _drop("catalog.coffee"),
        "catalog",
        "coffee",
        "removed",
        {},
        False,
        ("catalog", "removed"),
    ),
    (
        "catalog price",
        _set("catalog.coffee.cash_value", 4),
        "catalog",
        "coffee",
        "changed",
        {"cash_value": {"old": "3", "new": "4"}},
        False,
        ("catalog", "changed"),
    ),
    # challenges
    (
        "challenge added",
        _set(
            "challenges.reviews",
            {"conditions": [{"kind": "count", "action": "review", "target": 2}]},
        ),
        "challenges",
        "reviews",
        "added",
        {},
        False,
        ("challenges", "added"),
    ),
    (
        "challenge removed",
        _drop("challenges.first_week"),
        "challenges",
        "first_week",
        "removed",
        {"days": {"old": 7, "new": None}},
        True,
        ("challenges", "removed"),
    ),
    (
        "challenge days",
        _set("challenges.first_week.days", 14),
        "challenges",
        "first_week",
        "changed",
        {"days": {"old": 7, "new": 14}},
        False,
        ("challenges", "changed:days"),
    ),
]


@pytest.mark.parametrize(
    ("edit", "section", "name", "change", "fields", "attention", "effect"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_each_change_of_each_section(
    gamify_cli, pair, edit, section, name, change, fields, attention, effect
):
    """One edit: exit 1, exactly that change with its fields, its effect and its flag, in
    JSON and in the table of its section."""
    old, new = pair(edit)
    run = gamify_cli("program", "diff", old, new, "--json")
    changes = _changes(run)
    assert list(changes) == [(section, name, change)]
    found = changes[(section, name, change)]
    assert found["effect"] == EFFECTS[effect][0]
    assert found["attention"] is attention
    for key, value in fields.items():
        assert found["fields"][key] == value
    if change == "changed":
        assert set(found["fields"]) == set(fields)
    human = gamify_cli("program", "diff", old, new)
    assert human.exit_code == 1
    text = _text(human)
    marked = 1 if attention else 0
    assert f"1 change, {marked} to plan before deploying (marked !)" in text
    assert section.capitalize() in human.stdout
    assert name in text
    assert f"│ {'!' if attention else ' '} │ {name.split(':')[0]}" in human.stdout


def test_a_changed_field_is_shown_old_to_new(gamify_cli, pair):
    """A changed field prints as ``field: old → new``, values as `program check` prints
    them; an added item lists what it sets."""

    def edit(data: dict[str, Any]) -> None:
        data["caps"][0]["limit"] = 2
        data["badges"]["reviewer"] = {"metric": "count", "action": "review", "threshold": 3}
        data["streaks"]["daily"]["freeze"] = {"every": 5, "max_tokens": 2}

    run = gamify_cli("program", "diff", *pair(edit))
    assert run.exit_code == 1
    text = _text(run)
    assert "limit: 5 → 2" in text
    assert "metric: count; action: review; threshold: 3" in text
    assert "freeze: every=7 → every=5, max_tokens=2" in text
    assert "3 changes, 0 to plan before deploying" in text


def test_a_renamed_action_is_removed_and_added_with_a_hint(gamify_cli, pair):
    """An action renamed with equal settings: a removal and an addition, each naming the
    other as a possible rename, both flagged (counts on the new name start afresh)."""

    def edit(data: dict[str, Any]) -> None:
        data["actions"]["comment"] = data["actions"].pop("review")

    old, new = pair(edit)
    changes = _changes(gamify_cli("program", "diff", old, new, "--json"))
    removed = changes[("actions", "review", "removed")]
    added = changes[("actions", "comment", "added")]
    assert (removed["renamed"], added["renamed"]) == ("comment", "review")
    assert removed["attention"] and added["attention"]
    assert removed["effect"] == added["effect"] == _effect("actions", "renamed")
    text = _text(gamify_cli("program", "diff", old, new))
    assert "removed (renamed to comment?)" in text
    assert "added (renamed from review?)" in text


def test_a_renamed_badge_tier_pays_again(gamify_cli, pair):
    """A badge tier renamed with its threshold kept: flagged, it is a new tier that pays
    again. A removed and an added item of different settings are no rename."""

    def edit(data: dict[str, Any]) -> None:
        data["badges"]["regular"]["tiers"][1]["name"] = "argent"
        data["currencies"]["coins"] = {"spendable": False}

    changes = _changes(gamify_cli("program", "diff", *pair(edit), "--json"))
    assert set(changes) == {
        ("badge tiers", "regular: silver", "removed"),
        ("badge tiers", "regular: argent", "added"),
        ("currencies", "coins", "added"),
    }
    renamed = changes[("badge tiers", "regular: argent", "added")]
    assert renamed["renamed"] == "regular: silver"
    assert renamed["attention"] is True
    assert renamed["effect"] == _effect("badge tiers", "renamed")
    assert changes[("currencies", "coins", "added")]["renamed"] is None


@pytest.mark.parametrize(
    ("section", "edit", "old_name", "new_name"),
    [
        ("badges", "badges", "first_purchase", "first_order"),
        ("streaks", "streaks", "daily", "every_day"),
        ("challenges", "challenges", "first_week", "week_one"),
    ],
)
def test_a_renamed_badge_streak_or_challenge_is_new_and_flagged(
    gamify_cli, pair, section, edit, old_name, new_name
):
    """A badge, streak or challenge renamed with its settings kept is a new one that
    starts afresh (a badge pays again): both sides flagged with the rename's effect."""

    def rename(data: dict[str, Any]) -> None:
        data[edit][new_name] = data[edit].pop(old_name)

    changes = _changes(gamify_cli("program", "diff", *pair(rename), "--json"))
    removed = changes[(section, old_name, "removed")]
    added = changes[(section, new_name, "added")]
    assert (removed["renamed"], added["renamed"]) == (new_name, old_name)
    assert removed["effect"] == added["effect"] == _effect(section, "renamed")
    assert removed["attention"] is added["attention"] is True


def test_one_change_of_several_fields_joins_their_effects(gamify_cli, pair):
    """A streak whose period changes and whose repair goes: one change, both fields, both
    effects, flagged for the period."""

    def edit(data: dict[str, Any]) -> None:
        data["streaks"]["daily"]["period"] = "week"
        del data["streaks"]["daily"]["repair"]

    changes = _changes(gamify_cli("program", "diff", *pair(edit), "--json"))
    (change,) = changes.values()
    assert set(change["fields"]) == {"period", "repair"}
    assert change["effect"] == (
        _effect("streaks", "changed:period") + " " + _effect("streaks", "changed:repair removed")
    )
    assert change["attention"] is True


def test_a_curve_change_lists_the_levels_whose_xp_changes(gamify_cli, pair):
    """A new step: the levels whose cumulative XP changes, the first ten in a table and a
    count of the rest; JSON lists every one."""
    old, new = pair(_set("levels.params.step", 120))
    run = gamify_cli("program", "diff", old, new)
    assert run.exit_code == 1
    text = _text(run)
    assert "params: step=100 → step=120" in text
    assert "Level curve: cumulative XP changes at 19 levels" in text
    assert "│ 2 │ 100 │ 120 │ +20 │" in text
    assert "│ 11 │ 1,000 │ 1,200 │ +200 │" in text
    assert "│ 12 │" not in text
    assert "... and 9 more levels" in text
    assert "Levels stay until XP" in text
    data = gamify_cli("program", "diff", old, new, "--json").json()
    assert data["changes"][0]["effect"] == _effect("levels", "changed:curve keep")
    curve = data["level_curve"]
    assert (curve["old_max_level"], curve["new_max_level"]) == (20, 20)
    assert len(curve["levels"]) == 19
    assert curve["levels"][0] == {"level": 2, "old": 100, "new": 120}
    assert curve["levels"][-1] == {"level": 20, "old": 1900, "new": 2280}


def test_a_higher_max_level_is_a_curve_change_without_changed_levels(gamify_cli, pair):
    """Raising max_level keeps every level's XP: the maximum is reported, no level table."""
    old, new = pair(_set("levels.max_level", 30))
    run = gamify_cli("program", "diff", old, new)
    text = _text(run)
    assert "Level curve: max level 20 → 30" in text
    assert "cumulative XP changes" not in text
    data = gamify_cli("program", "diff", old, new, "--json").json()
    assert data["level_curve"] == {"old_max_level": 20, "new_max_level": 30, "levels": []}
    (change,) = data["changes"]
    assert change["effect"] == _effect("levels", "changed:curve keep")


def test_an_unset_max_level_equal_to_the_default_is_no_difference(gamify_cli, write):
    """A linear curve without max_level has 100 levels: writing max_level = 100 changes
    nothing."""
    old = write("old.toml", 'timezone = "UTC"\n[levels]\nparams = { step = 10 }\n')
    new = write("new.toml", 'timezone = "UTC"\n[levels]\nparams = { step = 10 }\nmax_level = 100\n')
    run = gamify_cli("program", "diff", old, new)
    assert run.exit_code == 0, run.stdout
    assert "no differences" in run.stdout


def test_levels_added_to_a_program_without_them(gamify_cli, write):
    """[levels] added: one added change, no curve table (there was no curve before)."""
    old = write("old.toml", 'timezone = "UTC"\n')
    new = write("new.toml", 'timezone = "UTC"\n[levels]\nparams = { step = 10 }\n')
    data = gamify_cli("program", "diff", old, new, "--json").json()
    assert [(c["section"], c["change"]) for c in data["changes"]] == [("levels", "added")]
    assert data["level_curve"] is None


def test_json_shape(gamify_cli, pair):
    """--json prints only JSON: old, new, the changes with every key, and the curve."""
    old, new = pair(_drop("currencies.gems"))
    run = gamify_cli("program", "diff", old, new, "--json")
    assert run.exit_code == 1
    data = json.loads(run.stdout)
    assert set(data) == {"old", "new", "changes", "level_curve"}
    assert (data["old"], data["new"]) == (str(old), str(new))
    assert data["changes"] == [
        {
            "section": "currencies",
            "name": "gems",
            "change": "removed",
            "fields": {"spendable": {"old": True, "new": None}},
            "effect": _effect("currencies", "removed"),
            "attention": True,
            "renamed": None,
        }
    ]


def test_dates_and_times_are_json_text(gamify_cli, write):
    """A campaign's end and a TOML time in a tier's benefits print as ISO text."""
    text = """
timezone = "UTC"
[actions.buy]
[[multipliers]]
name = "launch"
kind = "campaign"
factor = 2
start = 2026-01-01T00:00:00Z
end = 2026-02-01T00:00:00Z
[tiers]
action = "buy"
levels = [{ name = "base", benefits = { opens = 09:00:00 } }]
"""
    old = write("old.toml", text)
    new = write("new.toml", text.replace("2026-02-01", "2026-03-01").replace("09:00", "10:00"))
    changes = _changes(gamify_cli("program", "diff", old, new, "--json"))
    assert changes[("multipliers", "launch", "changed")]["fields"] == {
        "end": {"old": "2026-02-01T00:00:00+00:00", "new": "2026-03-01T00:00:00+00:00"}
    }
    benefits = changes[("tier levels", "base", "changed")]
    assert benefits["fields"] == {
        "benefits": {"old": {"opens": "09:00:00"}, "new": {"opens": "10:00:00"}}
    }
    assert benefits["effect"] == _effect("tier levels", "changed:benefits")
    human = _text(gamify_cli("program", "diff", old, new))
    assert "end: 2026-02-01T00:00:00+00:00 →" in human


def test_simulation_segments_are_compared_and_affect_no_member(gamify_cli, write):
    """The [simulation] table of a program file: its segments by name, read by gamify
    simulate only."""
    base = 'timezone = "UTC"\n[actions.visit]\n'
    old = write("old.toml", base + '[[simulation.segments]]\nname = "all"\nshare = 1\n')
    new = write(
        "new.toml",
        base
        + '[[simulation.segments]]\nname = "a"\nshare = 0.5\n'
        + '[[simulation.segments]]\nname = "b"\nshare = 0.5\n',
    )
    changes = _changes(gamify_cli("program", "diff", old, new, "--json"))
    assert set(changes) == {
        ("simulation segments", "all", "removed"),
        ("simulation segments", "a", "added"),
        ("simulation segments", "b", "added"),
    }
    assert all(not c["attention"] for c in changes.values())
    assert changes[("simulation segments", "a", "added")]["effect"] == _effect(
        "simulation", "added"
    )


def test_a_missing_file_exits_2_naming_it(gamify_cli, pair, tmp_path):
    """A file that does not exist: exit 2 and one line naming it (old or new)."""
    old, _ = pair(lambda data: None)
    run = gamify_cli("program", "diff", old, tmp_path / "none.toml")
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1
    assert "none.toml: cannot read file" in run.stderr
    run = gamify_cli("program", "diff", tmp_path / "gone.json", old)
    assert run.exit_code == 2
    assert "gone.json: cannot read file" in run.stderr


def test_an_invalid_program_exits_2_naming_file_and_key_path(gamify_cli, pair):
    """An invalid program, old or new: exit 2, the file, the key path and the reason, as
    `program check` reports it; with --json the error object only."""
    old, new = pair(_set("rules.1.action", "checkin"))
    run = gamify_cli("program", "diff", old, new)
    assert run.exit_code == 2
    assert run.stdout == ""
    assert f"Error: {new}: rules[1].action: unknown action 'checkin'" in run.stderr
    run = gamify_cli("program", "diff", new, old, "--json")
    assert run.exit_code == 2
    error = run.json()["error"]
    assert (error["file"], error["key_path"]) == (str(new), "rules[1].action")
    assert "checkin" in error["reason"]


def test_the_same_program_in_toml_json_and_yaml_has_no_differences(gamify_cli, write):
    """The fitness example as TOML, as JSON and as YAML: no differences either way."""
    path = EXAMPLES / "fitness" / "program.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    as_json = write("fitness.json", json.dumps(data))
    as_yaml = write("fitness.yaml", yaml.safe_dump(data))
    for left, right in ((path, as_json), (as_yaml, path), (as_json, as_yaml)):
        run = gamify_cli("program", "diff", left, right)
        assert run.exit_code == 0, run.stdout
        assert run.stdout.startswith("no differences:")


def test_decimals_written_differently_are_equal(gamify_cli, write):
    """1.5 in TOML and "1.50" in YAML are one multiplier; 2 and 2.0 one factor."""
    toml = 'timezone = "UTC"\n[actions.buy]\n[[multipliers]]\nname = "m"\nkind = "tag"\n'
    old = write("old.toml", toml + 'tag = "t"\nfactor = 1.5\n')
    new = write(
        "new.yaml",
        "timezone: UTC\nactions: {buy: {}}\n"
        "multipliers: [{name: m, kind: tag, tag: t, factor: '1.50'}]\n",
    )
    run = gamify_cli("program", "diff", old, new)
    assert run.exit_code == 0, run.stdout


def test_every_effect_names_what_members_see():
    """The effect table is the one place effects are written: every entry is one line of
    text ending with a full stop, and every section's removal of held things is flagged."""
    for key, (text, _) in EFFECTS.items():
        assert text.endswith(".") and "\n" not in text, key
    for section in ("currencies", "actions", "badges", "badge tiers", "tier levels"):
        assert EFFECTS[(section, "removed")][1] is True
    for section in ("referral", "challenges", "tiers", "streaks"):
        assert EFFECTS[(section, "removed")][1] is True


def test_adding_renewal_names_its_own_effect(gamify_cli, pair):
    """A program that gains [renewal]: the base without it, then the base."""
    base, without = pair(_drop("renewal"))
    changes = _changes(gamify_cli("program", "diff", without, base, "--json"))
    assert list(changes) == [("renewal", "renewal", "added")]
    found = changes[("renewal", "renewal", "added")]
    assert (found["effect"], found["attention"]) == (_effect("renewal", "added"), False)
