"""Program values that would misbehave at run time are refused at load, with a key path."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from gamify import Program, ProgramError
from gamify.components.ledger import expiry_for
from gamify.program import Condition, Validity


def base(**extra: Any) -> dict[str, Any]:
    """A small valid program, with ``extra`` sections merged in."""
    data: dict[str, Any] = {
        "timezone": "Europe/Paris",
        "actions": {"purchase": {"amount": "required"}, "check_in": {"amount": "none"}},
        "rules": [{"name": "daily", "action": "check_in", "fixed": 5}],
    }
    data.update(extra)
    return data


def refused(data: dict[str, Any]) -> ProgramError:
    with pytest.raises(ProgramError) as info:
        Program.from_dict(data)
    return info.value


def with_condition(condition: dict[str, Any]) -> dict[str, Any]:
    rule = {"name": "spend", "action": "purchase", "per_amount": 1, "conditions": [condition]}
    return base(rules=[{"name": "daily", "action": "check_in", "fixed": 5}, rule])


# -- conditions ---------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["in", "not_in"])
@pytest.mark.parametrize("value", ["paris", 3, None, {"a": 1}])
def test_in_needs_a_list(op: str, value: Any) -> None:
    err = refused(with_condition({"attribute": "store", "op": op, "value": value}))
    assert err.key_path == "rules[1].conditions[0].value"
    assert "list" in err.reason


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte"])
@pytest.mark.parametrize("value", ["many", None, True, [1], "NaN", float("inf")])
def test_comparisons_need_a_number(op: str, value: Any) -> None:
    err = refused(with_condition({"attribute": "items", "op": op, "value": value}))
    assert err.key_path == "rules[1].conditions[0].value"
    assert "number" in err.reason


@pytest.mark.parametrize("value", [False, True, "yes", 0])
def test_exists_takes_no_value(value: Any) -> None:
    err = refused(with_condition({"attribute": "coupon", "op": "exists", "value": value}))
    assert err.key_path == "rules[1].conditions[0].value"
    assert "no value" in err.reason


@pytest.mark.parametrize(
    "condition",
    [
        {"attribute": "store", "op": "in", "value": ["paris", "lyon"]},
        {"attribute": "store", "op": "not_in", "value": []},
        {"attribute": "items", "op": "gt", "value": 3},
        {"attribute": "items", "op": "lte", "value": 2.5},
        {"attribute": "items", "op": "gte", "value": "10"},
        {"attribute": "coupon", "op": "exists"},
        {"attribute": "channel", "op": "eq", "value": None},
    ],
)
def test_well_formed_conditions_load(condition: dict[str, Any]) -> None:
    Program.from_dict(with_condition(condition))


# -- expiry -------------------------------------------------------------------------------


def test_months_policy_with_zero_months_expires_at_once() -> None:
    """What the refusal prevents: 0 months after earning is the instant of earning."""
    at = datetime(2026, 3, 15, 10, tzinfo=UTC)
    assert expiry_for(Validity.model_construct(policy="months", months=0), at, "UTC") == at


@pytest.mark.parametrize("months", [{"months": 0}, {}])
def test_months_policy_refuses_zero(months: dict[str, int]) -> None:
    err = refused(base(expiry={"policy": "months", **months}))
    assert err.key_path == "expiry.months"
    assert "at least 1" in err.reason


def test_rule_validity_months_refuses_zero() -> None:
    rule = {
        "name": "spend",
        "action": "purchase",
        "per_amount": 1,
        "validity": {"policy": "months", "months": 0},
    }
    err = refused(base(rules=[rule]))
    assert err.key_path == "rules[0].validity.months"
    assert "at least 1" in err.reason


def test_months_end_with_zero_is_the_end_of_the_month() -> None:
    program = Program.from_dict(base(expiry={"policy": "months_end", "months": 0}))
    at = datetime(2026, 3, 15, 10, tzinfo=UTC)
    assert expiry_for(program.expiry, at, "Europe/Paris") == datetime(2026, 3, 31, 22, tzinfo=UTC)


# -- unique names -------------------------------------------------------------------------


def test_multiplier_names_are_unique() -> None:
    mult = {"name": "vip", "kind": "tag", "tag": "vip", "factor": 2}
    other = {"name": "bday", "kind": "birthday_month", "factor": 2}
    err = refused(base(multipliers=[mult, other, {**mult, "tag": "gold"}]))
    assert err.key_path == "multipliers[2].name"
    assert "duplicate" in err.reason


def test_badge_tier_names_are_unique() -> None:
    badge = {
        "kind": "tiered",
        "metric": "count",
        "action": "check_in",
        "tiers": [
            {"name": "bronze", "threshold": 1},
            {"name": "silver", "threshold": 5},
            {"name": "bronze", "threshold": 10},
        ],
    }
    err = refused(base(badges={"regular": badge}))
    assert err.key_path == "badges.regular.tiers[2].name"
    assert "duplicate" in err.reason


# -- rewards ------------------------------------------------------------------------------


def _streak() -> dict[str, Any]:
    return {"actions": ["check_in"], "milestones": [{"length": 7, "reward": {"points": -5}}]}


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        (
            {"badges": {"first": {"metric": "count", "action": "check_in", "threshold": 1,
                                  "reward": {"points": -10}}}},
            "badges.first.reward.points",
        ),
        (
            {"badges": {"loyal": {"kind": "tiered", "metric": "count", "action": "check_in",
                                  "tiers": [{"name": "a", "threshold": 1},
                                            {"name": "b", "threshold": 2,
                                             "reward": {"xp": -1}}]}}},
            "badges.loyal.tiers[1].reward.xp",
        ),
        ({"streaks": {"daily": _streak()}}, "streaks.daily.milestones[0].reward.points"),
        (
            {"challenges": {"week": {"conditions": [{"kind": "count", "action": "check_in"}],
                                     "reward": {"points": -100}}}},
            "challenges.week.reward.points",
        ),
    ],
)  # fmt: skip
def test_negative_rewards_are_refused(extra: dict[str, Any], where: str) -> None:
    err = refused(base(**extra))
    assert err.key_path == where
    assert "negative" in err.reason


@pytest.mark.parametrize(
    "field", ["referee_reward", "referrer_fixed", "bonus", "referrer_share", "referrer_cap"]
)
def test_negative_referral_rewards_are_refused(field: str) -> None:
    referral = {"qualifying_action": "purchase", field: -1}
    err = refused(base(referral=referral))
    assert err.key_path == f"referral.{field}"
    assert "greater than or equal to 0" in err.reason


def test_zero_rewards_load() -> None:
    badge = {"metric": "count", "action": "check_in", "threshold": 1, "reward": {"points": 0}}
    Program.from_dict(base(badges={"first": badge}))


# -- tier discount ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("discount", "word"), [(-0.1, "greater"), (1.5, "less"), ("NaN", "finite")]
)
def test_tier_discount_is_a_price_factor_from_0_to_1(discount: Any, word: str) -> None:
    tiers = {
        "action": "purchase",
        "levels": [{"name": "base"}, {"name": "gold", "threshold": 100, "discount": discount}],
    }
    err = refused(base(tiers=tiers))
    assert err.key_path == "tiers.levels[1].discount"
    assert word in err.reason


@pytest.mark.parametrize("discount", [0, 0.9, 1])
def test_tier_discount_in_range_loads(discount: Any) -> None:
    tiers = {"action": "purchase", "levels": [{"name": "base", "discount": discount}]}
    Program.from_dict(base(tiers=tiers))


# -- cross-field rules of tiers, referrals, campaigns, groups and challenges ----------------

START = "2026-03-01T00:00:00+00:00"
GOAL = [{"kind": "count", "action": "check_in", "target": 1}]


def tiers(**changes: Any) -> dict[str, Any]:
    section = {
        "action": "purchase",
        "levels": [{"name": "regular", "threshold": 0}, {"name": "silver", "threshold": 2000}],
    }
    return base(tiers={**section, **changes})


@pytest.mark.parametrize(
    ("data", "key_path", "reason"),
    [
        (
            tiers(levels=[{"name": "a", "threshold": 0}, {"name": "b", "threshold": 0}]),
            "tiers",
            "tier thresholds must be strictly increasing",
        ),
        (tiers(action=None), "tiers", "an 'amount' tier metric needs 'action'"),
        (
            tiers(levels=[{"name": "a", "threshold": 0}, {"name": "a", "threshold": 10}]),
            "tiers",
            "tier names must be unique",
        ),
        (
            base(referral={"qualifying_action": "purchase", "bonus_after": 0, "bonus": 5}),
            "referral.bonus_after",
            "greater than or equal to 1",
        ),
        (
            base(
                multipliers=[
                    {"name": "x", "kind": "campaign", "factor": 2, "start": START, "end": START}
                ]
            ),
            "multipliers[0]",
            "a campaign's 'end' must be after its 'start'",
        ),
        (
            base(
                rules=[
                    {
                        "name": "bottles",
                        "action": "purchase",
                        "fixed": 100,
                        "per": {"attribute": "bottles", "size": 0},
                    }
                ]
            ),
            "rules[0].per.size",
            "greater than 0",
        ),
        (
            base(challenges={"sprint": {"start": START, "conditions": GOAL}}),
            "challenges.sprint",
            "a fixed window needs both 'start' and 'end'",
        ),
        (
            base(
                challenges={
                    "sprint": {
                        "days": 7,
                        "start": START,
                        "end": "2026-03-08T00:00:00+00:00",
                        "conditions": GOAL,
                    }
                }
            ),
            "challenges.sprint",
            "give either 'days' or 'start'/'end', not both",
        ),
    ],
    ids=[
        "equal tier thresholds",
        "amount tiers without action",
        "tier named twice",
        "bonus after 0 referrals",
        "campaign of no length",
        "group of 0",
        "window without end",
        "days and a fixed window",
    ],
)
def test_a_section_that_breaks_a_rule_is_refused(
    data: dict[str, Any], key_path: str, reason: str
) -> None:
    err = refused(data)
    assert err.key_path == key_path
    assert reason in err.reason


# -- names one section gives another --------------------------------------------------------

DAILY = {"name": "daily", "action": "check_in", "fixed": 5}
TIERS = {"action": "purchase", "levels": [{"name": "regular"}, {"name": "silver", "threshold": 9}]}
COUNT = {"metric": "count", "action": "check_in", "threshold": 1}


def challenge(**fields: Any) -> dict[str, Any]:
    return base(challenges={"c": {"conditions": GOAL, **fields}})


def goal(**fields: Any) -> dict[str, Any]:
    return base(challenges={"c": {"conditions": [fields]}})


@pytest.mark.parametrize(
    ("data", "key_path", "reason"),
    [
        (
            base(rules=[{**DAILY, "currency": "coins"}]),
            "rules[0].currency",
            "unknown currency 'coins'",
        ),
        (base(rules=[DAILY, DAILY]), "rules[1].name", "duplicate rule name 'daily'"),
        (
            base(rules=[{"name": "r", "action": "check_in", "per_amount": 1}]),
            "rules[0].per_amount",
            "action 'check_in' carries no amount",
        ),
        (
            base(
                multipliers=[{"name": "m", "kind": "tag", "tag": "x", "factor": 2, "rules": ["r"]}]
            ),
            "multipliers[0].rules",
            "unknown rule 'r'",
        ),
        (
            base(tiers={**TIERS, "multiplier_rules": ["daily", "r"]}),
            "tiers.multiplier_rules[1]",
            "unknown rule 'r'",
        ),
        (
            base(caps=[{"name": "c", "limit": 5, "currency": "coins"}]),
            "caps[0].currency",
            "unknown currency 'coins'",
        ),
        (
            base(referral={"qualifying_action": "dance"}),
            "referral.qualifying_action",
            "unknown action 'dance'",
        ),
        (
            base(referral={"qualifying_action": "purchase", "currency": "coins"}),
            "referral.currency",
            "unknown currency 'coins'",
        ),
        (
            base(renewal={"actions": ["purchase", "dance"]}),
            "renewal.actions[1]",
            "unknown action 'dance'",
        ),
        (
            base(tiers=TIERS, badges={"b": {"metric": "tier", "tier": "gold"}}),
            "badges.b.tier",
            "unknown tier 'gold'",
        ),
        (
            base(badges={"b": {"metric": "earned", "currency": "coins", "threshold": 1}}),
            "badges.b.currency",
            "unknown currency 'coins'",
        ),
        (
            base(levels={"curve": "linear", "params": {"step": 10}, "currency": "coins"}),
            "levels.currency",
            "unknown currency 'coins'",
        ),
        (
            base(
                streaks={"s": {"actions": ["check_in"]}},
                rules=[
                    DAILY,
                    {"name": "r", "action": "purchase", "formula": "streak", "streak": "s"},
                ],
            ),
            "rules[1].streak",
            "streak 's' does not count action 'purchase'",
        ),
        (challenge(reward={"coins": 5}), "challenges.c.reward.coins", "unknown currency 'coins'"),
        (challenge(badge="b"), "challenges.c.badge", "unknown badge 'b'"),
        (
            {**challenge(badge="b"), "badges": {"b": {**COUNT, "kind": "repeatable"}}},
            "challenges.c.badge",
            "a challenge awards a one-off badge",
        ),
        (
            goal(kind="count", action="dance"),
            "challenges.c.conditions[0].action",
            "unknown action 'dance'",
        ),
        (
            goal(kind="earned", currency="coins"),
            "challenges.c.conditions[0].currency",
            "unknown currency 'coins'",
        ),
        (
            goal(kind="streak", streak="s"),
            "challenges.c.conditions[0].streak",
            "unknown streak 's'",
        ),
        (goal(kind="badge", badge="b"), "challenges.c.conditions[0].badge", "unknown badge 'b'"),
        (goal(kind="tier", tier="gold"), "challenges.c.conditions[0].tier", "unknown tier 'gold'"),
        (
            goal(kind="level", target=3),
            "challenges.c.conditions[0].kind",
            "a level condition needs a 'levels' section",
        ),
    ],
)
def test_a_name_no_section_declares_is_refused_where_it_is_used(
    data: dict[str, Any], key_path: str, reason: str
) -> None:
    err = refused(data)
    assert err.key_path == key_path
    assert reason in err.reason


@pytest.mark.parametrize(
    ("data", "key_path", "reason"),
    [
        (
            base(rules=[{"name": "r", "action": "check_in"}]),
            "rules[0]",
            "a rule needs exactly one of 'fixed', 'per_amount' or 'formula'",
        ),
        (
            base(multipliers=[{"name": "m", "kind": "tag", "factor": 2}]),
            "multipliers[0]",
            "a 'tag' multiplier needs 'tag'",
        ),
        (base(rules=[{**DAILY, "pending_days": 0}]), "rules[0].pending_days", "greater than"),
        (
            base(levels={"curve": "linear", "params": {"step": 10}, "max_level": 1}),
            "levels.max_level",
            "greater than or equal to 2",
        ),
    ],
    ids=["rule without award", "tag multiplier without tag", "pending 0 days", "max level 1"],
)
def test_a_value_its_section_cannot_use_is_refused(
    data: dict[str, Any], key_path: str, reason: str
) -> None:
    err = refused(data)
    assert err.key_path == key_path
    assert reason in err.reason


def test_condition_shorthand_tests_every_attribute_it_names() -> None:
    rule = {**DAILY, "conditions": {"channel": "app", "store": "paris"}}
    (loaded,) = Program.from_dict(base(rules=[rule])).rules
    assert [(c.attribute, c.op, c.value) for c in loaded.conditions] == [
        ("channel", "eq", "app"),
        ("store", "eq", "paris"),
    ]


def test_floats_in_a_list_of_values_are_read_through_their_text() -> None:
    """9.99 in a list is Decimal("9.99"), as an amount of 9.99 is."""
    condition = Condition(attribute="price", op="in", value=[9.99, 5])
    assert condition.expected == (Decimal("9.99"), 5)


@pytest.mark.parametrize(
    ("conditions", "key_path"),
    [
        ({"channel": "app", "store": Decimal("1e-13")}, "rules[0].conditions.store"),
        ({"channel": "app", 5: "x"}, "rules[0].conditions.5"),
    ],
)
def test_an_error_in_the_condition_shorthand_names_its_key(
    conditions: dict[Any, Any], key_path: str
) -> None:
    """``conditions = { store = ... }`` holds no list: the error names the table's key, not
    the list position the shorthand stands for."""
    rule = {**DAILY, "conditions": conditions}
    err = refused(base(rules=[rule]))
    assert err.key_path == key_path


@pytest.mark.parametrize(
    ("text", "key_path"),
    [("actions:\n  buy: {}\n  1: {}\n", "actions.1"), ("true: 1\n", "True")],
)
def test_a_key_that_is_no_text_is_reported_as_written(
    tmp_path: Any, text: str, key_path: str
) -> None:
    """YAML reads ``1:`` as a number and ``true:`` as a boolean: the error names that key
    as the file wrote it, not as a list position (``actions[1].[key]``) or as 1."""
    path = tmp_path / "shop.yaml"
    path.write_text("timezone: UTC\n" + text, encoding="utf-8")
    with pytest.raises(ProgramError) as info:
        Program.load(path)
    assert info.value.key_path == key_path
