"""The game sections of a program file: references and shapes are checked when it loads."""

from __future__ import annotations

from typing import Any

import pytest

import gamify
from gamify.errors import ProgramError


def program(**sections: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "timezone": "UTC",
        "actions": {"workout": {}},
        "streaks": {"daily": {"actions": ["workout"]}},
    }
    base.update(sections)
    return base


@pytest.mark.parametrize(
    ("sections", "where"),
    [
        ({"streaks": {"daily": {"actions": ["run"]}}}, "streaks.daily.actions[0]"),
        (
            {"badges": {"b": {"metric": "count", "action": "run", "threshold": 1}}},
            "badges.b.action",
        ),
        (
            {"badges": {"b": {"metric": "streak", "streak": "weekly", "threshold": 2}}},
            "badges.b.streak",
        ),
        (
            {
                "badges": {
                    "b": {
                        "metric": "count",
                        "action": "workout",
                        "threshold": 1,
                        "reward": {"gems": 5},
                    }
                }
            },
            "badges.b.reward.gems",
        ),
        ({"badges": {"b": {"metric": "level", "threshold": 3}}}, "badges.b.metric"),
        (
            {
                "streaks": {
                    "daily": {
                        "actions": ["workout"],
                        "milestones": [{"length": 3, "reward": {"gems": 1}}],
                    }
                }
            },
            "streaks.daily.milestones[0].reward.gems",
        ),
        (
            {"rules": [{"name": "r", "action": "workout", "formula": "streak", "streak": "x"}]},
            "rules[0].streak",
        ),
    ],
    ids=[
        "streak-action",
        "badge-action",
        "badge-streak",
        "badge-reward-currency",
        "level-badge-without-levels",
        "milestone-currency",
        "rule-streak",
    ],
)
def test_unknown_references_name_their_key_path(sections: dict[str, Any], where: str) -> None:
    """A game section naming an unknown action, streak or currency fails with its key path."""
    with pytest.raises(ProgramError) as caught:
        gamify.Program.from_dict(program(**sections))
    assert where in str(caught.value)


@pytest.mark.parametrize(
    "badge",
    [
        {"kind": "tiered", "metric": "count", "action": "workout"},
        {
            "kind": "tiered",
            "metric": "count",
            "action": "workout",
            "tiers": [{"name": "a", "threshold": 5}, {"name": "b", "threshold": 5}],
        },
        {"kind": "repeatable", "metric": "count", "action": "workout"},
        {"kind": "repeatable", "metric": "count", "action": "workout", "threshold": 0},
        {"metric": "count", "action": "workout"},
        {"metric": "custom"},
    ],
    ids=[
        "tiered-without-tiers",
        "tiers-not-increasing",
        "repeatable-without-threshold",
        "repeatable-zero",
        "one-off-without-threshold",
        "custom-without-predicate",
    ],
)
def test_malformed_badges_are_refused(badge: dict[str, Any]) -> None:
    """A badge without what its kind and metric need is a program error."""
    with pytest.raises(ProgramError):
        gamify.Program.from_dict(program(badges={"b": badge}))


def test_fitness_program_loads_with_the_issue_rules() -> None:
    """The fitness program holds the documented curve, rewards, streak and four badges."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "fitness" / "program.toml"
    loaded = gamify.Program.load(path)
    assert loaded.levels is not None
    assert [loaded.levels.level_curve.xp_for_level(n) for n in (1, 2, 3, 10)] == [0, 100, 200, 900]
    assert {name: (b.metric, b.threshold, dict(b.reward)) for name, b in loaded.badges.items()} == {
        "first_workout": ("count", 1, {"points": 50}),
        "streak_7": ("streak", 7, {"points": 100}),
        "streak_30": ("streak", 30, {"points": 300}),
        "workouts_100": ("count", 100, {"points": 1000}),
    }
    daily = loaded.streaks["daily_workout"]
    assert (daily.actions, daily.period, daily.freeze) == (["workout"], "day", None)


def test_custom_badge_actions_must_be_known() -> None:
    """A custom badge watching an action the program does not declare is a program error."""
    badge = {"metric": "custom", "predicate": "p", "actions": ["wrokout"]}
    with pytest.raises(ProgramError, match=r"badges\.b\.actions\[0\]"):
        gamify.Program.from_dict(program(badges={"b": badge}))


def test_repair_currency_must_be_known() -> None:
    """A streak repair priced in an unknown currency is a program error."""
    streaks = {"daily": {"actions": ["workout"], "repair": {"cost": 5, "currency": "gems"}}}
    with pytest.raises(ProgramError, match=r"streaks\.daily\.repair\.currency"):
        gamify.Program.from_dict(program(streaks=streaks))


def test_a_level_reward_naming_anything_but_level_is_refused_at_load(tmp_path: Any) -> None:
    """docs/program.md: a level reward formula reads only ``level``; a typo such as ``lvl``
    could only fail at a member's first level-up, so the file is refused with its key path."""
    path = tmp_path / "game.toml"
    path.write_text(
        'timezone = "UTC"\n[levels]\nparams = { step = 100 }\n'
        'reward = { points = "50 * level", xp = "5 * lvl" }\n',
        encoding="utf-8",
    )
    with pytest.raises(ProgramError) as caught:
        gamify.Program.load(path)
    assert (caught.value.file, caught.value.key_path) == (str(path), "levels.reward.xp")
    assert "unknown name 'lvl'" in caught.value.reason
    ok = program(levels={"params": {"step": 100}, "reward": {"points": "max(50 * level, 1)"}})
    assert gamify.Program.from_dict(ok).levels is not None


@pytest.mark.parametrize(
    ("formula", "reason"),
    [
        ("level * 1e12", "pays 1,000,000,000,000,000 at level 1000"),
        ("1e30 / (level - 2)", "at level 2: "),
        ("100 // (50 - level)", "at level 50: "),
    ],
)
def test_a_level_reward_is_evaluated_for_every_level_at_load(formula: str, reason: str) -> None:
    """A level reward reads only ``level``, so every level it can pay is known at load: one
    that fails or pays more than one credit may (999,999,999,999,999) would make the
    event that reaches the level fail, for every member, so the file is refused."""
    levels = {"params": {"step": 1}, "max_level": 1000, "reward": {"points": formula}}
    with pytest.raises(ProgramError) as caught:
        gamify.Program.from_dict(program(levels=levels))
    assert caught.value.key_path == "levels.reward.points"
    assert reason in caught.value.reason
    levels["max_level"] = 999
    if formula == "level * 1e12":  # level 999 pays 999e12: it still fits
        assert gamify.Program.from_dict(program(levels=levels)).levels is not None
