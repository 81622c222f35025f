"""Documented bounds of program keys, at their edges: the last value accepted, the first
refused with the key's path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gamify import ManualClock, Program, ProgramError
from gamify.errors import InvalidTimeError

BASE: dict[str, Any] = {"timezone": "UTC", "actions": {"buy": {}}}


def program(**sections: Any) -> Program:
    return Program.from_dict({**BASE, **sections})


@pytest.mark.parametrize(("day", "ok"), [(1, True), (28, True), (29, False), (0, False)])
def test_review_day_is_1_to_28(day: int, ok: bool) -> None:
    tiers = {"action": "buy", "review_day": day, "levels": [{"name": "a"}]}
    if ok:
        assert program(tiers=tiers).tiers is not None
    else:
        with pytest.raises(ProgramError) as refused:
            program(tiers=tiers)
        assert refused.value.key_path == "tiers.review_day"


@pytest.mark.parametrize(("share", "ok"), [(1, True), ("0.3", True), ("1.5", False), (0, False)])
def test_max_order_share_is_above_0_and_at_most_1(share: Any, ok: bool) -> None:
    redemption = {"max_order_share": share}
    if ok:
        assert program(redemption=redemption).redemption.max_order_share is not None
    else:
        with pytest.raises(ProgramError) as refused:
            program(redemption=redemption)
        assert refused.value.key_path == "redemption.max_order_share"


def test_a_fixed_window_must_end_after_it_starts() -> None:
    challenge = {
        "start": "2026-03-01T00:00:00+00:00",
        "end": "2026-03-01T00:00:00+00:00",
        "conditions": [{"kind": "count", "action": "buy", "target": 1}],
    }
    with pytest.raises(ProgramError, match="after"):
        program(challenges={"sprint": challenge})
    challenge["end"] = "2026-03-01T00:00:01+00:00"
    assert "sprint" in program(challenges={"sprint": challenge}).challenges


@pytest.mark.parametrize("name", ["posix/Europe/Paris", "right/Europe/Paris", "localtime"])
def test_names_for_the_servers_zone_are_no_zones(name: str) -> None:
    with pytest.raises(ProgramError):
        Program.from_dict({**BASE, "timezone": name})
    manual = ManualClock()
    with pytest.raises(InvalidTimeError):
        manual.advance(days=1, tz=name)


@pytest.mark.parametrize(
    ("fixed", "ok"),
    [
        ("1e12", True),
        ("1.000001e12", False),
        ("9e12", False),
        ("1e-12", True),
        ("9.9e-13", False),
        (0, True),
    ],
)
def test_a_number_lies_between_1e_12_and_1e12(fixed: str, ok: bool) -> None:
    """docs/program.md: every number lies between 1e-12 and 1e12, or is 0; the bounds
    themselves are accepted."""
    rules = [{"name": "r", "action": "buy", "fixed": fixed}]
    if ok:
        assert program(rules=rules).rules[0].fixed is not None
    else:
        with pytest.raises(ProgramError) as refused:
            program(rules=rules)
        assert refused.value.key_path == "rules[0].fixed"


def test_the_stated_formula_bounds_themselves_are_accepted() -> None:
    """Exactly 1e30 and 1e-30 in a formula, the ends its error names, load."""
    Program.from_dict(
        {
            "timezone": "UTC",
            "actions": {"check_in": {"amount": "none"}},
            "rules": [{"name": "r", "action": "check_in", "formula": "1e30 * 1e-30"}],
        }
    )


@pytest.mark.parametrize(
    ("edit", "key_path"),
    [
        (lambda p: p["actions"].update({"check\x00in": {"amount": "none"}}), "actions.check\x00in"),
        (lambda p: p["rules"][0].update(name=""), "rules[0].name"),
        (lambda p: p["rules"][0].update(name="tab\tbed"), "rules[0].name"),
        (lambda p: p.update(badges={"b\ud800": {"metric": "level", "threshold": 2}}), None),
        (
            lambda p: p.update(
                badges={
                    "steps": {
                        "kind": "tiered",
                        "metric": "count",
                        "action": "check_in",
                        "tiers": [{"name": "gold\n", "threshold": 1}],
                    }
                }
            ),
            "badges.steps.tiers[0].name",
        ),
    ],
)
def test_names_with_control_characters_are_refused_at_load(edit: Any, key_path: str | None) -> None:
    """Names end up in ledger reasons and member state: a NUL cannot be stored on
    PostgreSQL and a control character reads as nothing, so the file is refused there."""
    program: dict[str, Any] = {
        "timezone": "UTC",
        "actions": {"check_in": {"amount": "none"}},
        "rules": [{"name": "r", "action": "check_in", "fixed": 5}],
        "levels": {"curve": "linear", "params": {"step": 100}},
    }
    edit(program)
    refused = r"without control characters|not valid Unicode"
    with pytest.raises(ProgramError, match=refused) as caught:
        Program.from_dict(program)
    if key_path is not None:
        assert caught.value.key_path == key_path


def test_names_with_spaces_of_any_script_load() -> None:
    """Only control characters are refused: a full-width space or a no-break space is text."""
    program = Program.from_dict(
        {
            "timezone": "Asia/Shanghai",
            "actions": {"早起\u3000打卡": {"amount": "none"}},
            "rules": [{"name": "check\u00a0in", "action": "早起\u3000打卡", "fixed": 5}],
        }
    )
    assert [rule.name for rule in program.rules] == ["check\u00a0in"]


def _badge(n: int) -> dict[str, Any]:
    badge = {"metric": "count", "action": "buy", "threshold": 1, "reward": {"points": n}}
    return {"badges": {"first": badge}}


def _milestone(n: int) -> dict[str, Any]:
    milestone = {"length": 1, "reward": {"points": n}}
    return {"streaks": {"daily": {"actions": ["buy"], "milestones": [milestone]}}}


def _challenge(n: int) -> dict[str, Any]:
    goal = {"kind": "count", "action": "buy"}
    return {"challenges": {"once": {"conditions": [goal], "reward": {"points": n}}}}


def _referral(key: str) -> Any:
    return lambda n: {"referral": {"qualifying_action": "buy", "bonus_after": 1, key: n}}


REWARD_PLACES = [
    ("badges.first.reward.points", _badge),
    ("streaks.daily.milestones[0].reward.points", _milestone),
    ("challenges.once.reward.points", _challenge),
    ("referral.referee_reward", _referral("referee_reward")),
    ("referral.referrer_fixed", _referral("referrer_fixed")),
    ("referral.bonus", _referral("bonus")),
]


@pytest.mark.parametrize(("key_path", "sections"), REWARD_PLACES)
def test_a_reward_is_at_most_what_one_credit_may_pay(
    key_path: str, sections: Callable[[int], dict[str, Any]]
) -> None:
    """The engine refuses to credit 10**15 or more at once: a reward that large could never
    be paid, and every event that earns it would be refused, so the program is refused."""
    assert program(**sections(10**15 - 1))
    with pytest.raises(ProgramError) as refused:
        program(**sections(10**15))
    assert refused.value.key_path == key_path
    assert "999,999,999,999,999" in refused.value.reason
