"""Earning rules and multipliers as pure functions: what one event pays before caps."""

from __future__ import annotations

import decimal
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from gamify import InvalidEventError, Program
from gamify.components.earning import MemberFacts, awards, combine, round_award

D = Decimal
AT = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
NOBODY = MemberFacts(tags=frozenset(), birthday=None, local_day=AT.date())


def program(**extra: Any) -> Program:
    data: dict[str, Any] = {
        "timezone": "UTC",
        "actions": {"purchase": {}, "check_in": {"amount": "none"}, "recycle": {}},
        "rules": [],
    }
    data.update(extra)
    return Program.model_validate(data)


def paid(
    prog: Program,
    action: str = "purchase",
    amount: Decimal | None = None,
    attributes: dict[str, Any] | None = None,
    facts: MemberFacts = NOBODY,
    at: datetime = AT,
) -> dict[str, int]:
    """{rule name: points} for one event."""
    context = {"amount": amount or D(0), "count": 1}
    found = awards(prog, action, amount, attributes or {}, facts, at, context)
    return {a.rule.name: a.amount for a in found}


# --------------------------------------------------------------------------- rules


def test_fixed_rule_pays_its_amount() -> None:
    """A fixed rule (check_in: 5) pays 5 whatever the event carries."""
    prog = program(rules=[{"name": "daily", "action": "check_in", "fixed": 5}])
    assert paid(prog, "check_in") == {"daily": 5}


def test_proportional_rule_pays_amount_times_rate() -> None:
    """A proportional rule (purchase: amount × 2) pays 2 points per unit: 37.50 pays 75."""
    prog = program(rules=[{"name": "spend", "action": "purchase", "per_amount": 2}])
    assert paid(prog, amount=D("37.50")) == {"spend": 75}


def test_proportional_rule_without_amount_pays_nothing() -> None:
    """An event without an amount earns nothing from a proportional rule."""
    prog = program(rules=[{"name": "spend", "action": "purchase", "per_amount": 2}])
    assert paid(prog, amount=None) == {}


def test_rules_of_other_actions_do_not_pay() -> None:
    """Only the rules watching the event's action pay."""
    prog = program(rules=[{"name": "daily", "action": "check_in", "fixed": 5}])
    assert paid(prog, "purchase", D(10)) == {}


def test_every_matching_rule_of_an_action_pays() -> None:
    """Two rules on one action both pay for one event."""
    prog = program(
        rules=[
            {"name": "spend", "action": "purchase", "per_amount": 1},
            {"name": "visit", "action": "purchase", "fixed": 10},
        ]
    )
    assert paid(prog, amount=D(25)) == {"spend": 25, "visit": 10}


BOTTLES_RULE = {
    "name": "bottles",
    "action": "recycle",
    "fixed": 100,
    "per": {"attribute": "bottles", "size": 5},
}


@pytest.mark.parametrize(
    ("bottles", "expected"),
    [
        (0, {}),
        (4, {}),
        (5, {"bottles": 100}),
        (7, {"bottles": 100}),
        (10, {"bottles": 200}),
        (14, {"bottles": 200}),
        ("12", {"bottles": 200}),
        (None, {}),
    ],
)
def test_per_group_rule_pays_per_whole_group(bottles: Any, expected: dict[str, int]) -> None:
    """'100 per 5 bottles' pays 100 × floor(bottles / 5): 7 bottles pay 100, 4 pay nothing."""
    prog = program(rules=[BOTTLES_RULE])
    attributes = {} if bottles is None else {"bottles": bottles}
    assert paid(prog, "recycle", attributes=attributes) == expected


def test_a_negative_count_gives_no_group_even_under_a_negative_formula() -> None:
    """A negative attribute gives 0 groups, so the rule pays nothing: a formula that comes
    out negative is not turned into an award by a negative group count."""
    rule = {
        "name": "bottles",
        "action": "recycle",
        "formula": "amount - 100",
        "per": {"attribute": "bottles", "size": 5},
    }
    assert paid(program(rules=[rule]), "recycle", D(0), {"bottles": -10}) == {}


@pytest.mark.parametrize("bottles", ["five", True, [10], float("nan"), 1e130])
def test_a_per_group_attribute_that_is_no_countable_number_is_an_event_error(
    bottles: Any,
) -> None:
    """Text, a boolean, a list, NaN or a number too large to count raise InvalidEventError
    naming the rule and attribute, rather than paying 0 groups."""
    prog = program(rules=[BOTTLES_RULE])
    with pytest.raises(InvalidEventError, match="rule 'bottles' pays per 5 bottles: attribute"):
        paid(prog, "recycle", attributes={"bottles": bottles})


# --------------------------------------------------------------------------- conditions


def conditional(conditions: Any) -> Program:
    return program(
        rules=[{"name": "r", "action": "purchase", "fixed": 10, "conditions": conditions}]
    )


@pytest.mark.parametrize(
    ("conditions", "attributes", "pays"),
    [
        ([{"attribute": "channel", "op": "eq", "value": "app"}], {"channel": "app"}, True),
        ([{"attribute": "channel", "op": "eq", "value": "app"}], {"channel": "web"}, False),
        ([{"attribute": "channel", "op": "eq", "value": "app"}], {}, False),
        ([{"attribute": "channel", "op": "ne", "value": "app"}], {"channel": "web"}, True),
        ([{"attribute": "channel", "op": "ne", "value": "app"}], {}, True),
        ([{"attribute": "items", "op": "gt", "value": 3}], {"items": 4}, True),
        ([{"attribute": "items", "op": "gt", "value": 3}], {"items": 3}, False),
        ([{"attribute": "items", "op": "gt", "value": 3}], {"items": "many"}, False),
        ([{"attribute": "items", "op": "gte", "value": 3}], {"items": 3}, True),
        ([{"attribute": "items", "op": "lt", "value": 3}], {"items": 2.5}, True),
        ([{"attribute": "items", "op": "lte", "value": 3}], {"items": 4}, False),
        ([{"attribute": "items", "op": "lte", "value": 3}], {"items": 3}, True),
        ([{"attribute": "items", "op": "lt", "value": 3}], {"items": 3}, False),
        ([{"attribute": "items", "op": "gte", "value": 3}], {"items": 2.5}, False),
        # Text that reads as NaN is not a number: the comparison fails, it does not raise.
        ([{"attribute": "items", "op": "gt", "value": 3}], {"items": "NaN"}, False),
        ([{"attribute": "items", "op": "lte", "value": 3}], {"items": "sNaN"}, False),
        ([{"attribute": "items", "op": "lt", "value": 3}], {"items": "-nan"}, False),
        ([{"attribute": "items", "op": "gte", "value": 3}], {"items": D("NaN")}, False),
        ([{"attribute": "items", "op": "gt", "value": 3}], {"items": "Infinity"}, True),
        ([{"attribute": "store", "op": "in", "value": ["paris", "lyon"]}], {"store": "lyon"}, 1),
        ([{"attribute": "store", "op": "in", "value": ["paris", "lyon"]}], {"store": "nice"}, 0),
        ([{"attribute": "store", "op": "not_in", "value": ["paris"]}], {"store": "nice"}, True),
        ([{"attribute": "coupon", "op": "exists"}], {"coupon": "X1"}, True),
        ([{"attribute": "coupon", "op": "exists"}], {"other": 1}, False),
        ({"channel": "app", "first": True}, {"channel": "app", "first": True}, True),
        ({"channel": "app", "first": True}, {"channel": "app", "first": False}, False),
    ],
)
def test_conditions_on_attributes(conditions: Any, attributes: dict[str, Any], pays: int) -> None:
    """A rule with conditions pays only when every condition holds on the event's attributes."""
    assert paid(conditional(conditions), attributes=attributes) == ({"r": 10} if pays else {})


def test_a_condition_may_test_the_amount() -> None:
    """A condition on 'amount' reads the event amount: purchases over 100 pay a bonus."""
    prog = conditional([{"attribute": "amount", "op": "gt", "value": 100}])
    assert paid(prog, amount=D("100.01")) == {"r": 10}
    assert paid(prog, amount=D(100)) == {}


def test_dict_shorthand_means_equality_tests() -> None:
    """conditions = {channel = "app"} is read as one equality condition."""
    rule = conditional({"channel": "app"}).rules[0]
    assert [(c.attribute, c.op, c.value) for c in rule.conditions] == [("channel", "eq", "app")]


# --------------------------------------------------------------------------- multipliers


def multiplied(stacking: str = "compound", **extra: Any) -> Program:
    return program(
        stacking=stacking,
        rules=[
            {"name": "spend", "action": "purchase", "fixed": 100},
            {"name": "xp", "action": "purchase", "currency": "xp", "fixed": 100},
        ],
        **extra,
    )


VIP = {"name": "vip", "kind": "tag", "tag": "vip", "factor": "1.2"}
START = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
END = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
DOUBLE = {
    "name": "double",
    "kind": "campaign",
    "factor": 2,
    "start": START.isoformat(),
    "end": END.isoformat(),
}


def facts(*tags: str, birthday: date | None = None, day: date | None = None) -> MemberFacts:
    return MemberFacts(tags=frozenset(tags), birthday=birthday, local_day=day or AT.date())


def test_tag_multiplier_applies_to_members_with_the_tag() -> None:
    """A VIP ×1.2 multiplier turns 100 points into 120 for a VIP and leaves others at 100."""
    prog = multiplied(multipliers=[VIP])
    assert paid(prog, facts=facts("vip"))["spend"] == 120
    assert paid(prog, facts=facts("regular"))["spend"] == 100


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (START - timedelta(microseconds=1), 100),
        (START, 200),
        (END - timedelta(microseconds=1), 200),
        (END, 100),
    ],
)
def test_campaign_is_active_from_its_start_and_not_at_its_end(at: datetime, expected: int) -> None:
    """Double points run on [start, end): active at the start instant, inactive at the end
    instant."""
    prog = multiplied(multipliers=[DOUBLE])
    assert paid(prog, at=at)["spend"] == expected


def test_birthday_multiplier_follows_the_local_day_given() -> None:
    """A birthday-month ×2 pays double when the member's local day is in the birthday month."""
    prog = multiplied(multipliers=[{"name": "bday", "kind": "birthday_month", "factor": 2}])
    march_14 = date(1990, 3, 14)
    assert paid(prog, facts=facts(birthday=march_14, day=date(2026, 3, 1)))["spend"] == 200
    assert paid(prog, facts=facts(birthday=march_14, day=date(2026, 2, 28)))["spend"] == 100
    assert paid(prog, facts=facts(day=date(2026, 3, 1)))["spend"] == 100


@pytest.mark.parametrize(
    ("stacking", "expected"),
    [("compound", 240), ("additive", 220), ("highest", 200)],
)
def test_stacking_strategies(stacking: str, expected: int) -> None:
    """VIP ×1.2 with double points ×2 on 100: compound 1.2×2 = 240, additive 1+0.2+1 = 220, highest
    200."""
    prog = multiplied(stacking, multipliers=[VIP, DOUBLE])
    assert paid(prog, facts=facts("vip"), at=START)["spend"] == expected


def test_a_tier_multiplier_of_one_is_no_factor_even_under_highest() -> None:
    """A trial tag at ×0.5 under highest: a member of a tier at ×1 earns 50, as a member of
    no tier does (the tier's 1 does not outbid the tag); a tier at ×1.5 outbids it: 150."""
    trial = {"name": "trial", "kind": "tag", "tag": "trial", "factor": "0.5"}
    prog = multiplied("highest", multipliers=[trial])

    def tiered(multiplier: str | None) -> MemberFacts:
        tier = D(multiplier) if multiplier is not None else None
        return MemberFacts(
            tags=frozenset({"trial"}), birthday=None, local_day=AT.date(), tier_multiplier=tier
        )

    assert paid(prog, facts=tiered(None))["spend"] == 50
    assert paid(prog, facts=tiered("1"))["spend"] == 50
    assert paid(prog, facts=tiered("1.5"))["spend"] == 150


def test_combine_by_hand() -> None:
    """combine() gives the product, 1 + the sum of excesses, or the maximum; no factor is 1."""
    factors = [D("1.2"), D("2.0")]
    assert combine(factors, "compound") == D("2.4")
    assert combine(factors, "additive") == D("2.2")
    assert combine(factors, "highest") == D("2.0")
    assert combine([], "additive") == 1


def test_multipliers_act_on_points_rules_by_default_not_on_xp() -> None:
    """A multiplier that lists no rules multiplies points rules only; XP stays at its base."""
    prog = multiplied(multipliers=[DOUBLE])
    assert paid(prog, at=START) == {"spend": 200, "xp": 100}


def test_a_multiplier_listing_rules_acts_on_those_only() -> None:
    """A multiplier that lists the XP rule doubles XP and leaves the points rule alone."""
    prog = multiplied(multipliers=[dict(DOUBLE, rules=["xp"])])
    assert paid(prog, at=START) == {"spend": 100, "xp": 200}


def test_the_award_reports_its_combined_multiplier() -> None:
    """Each award carries the combined factor that was applied to it."""
    prog = multiplied(multipliers=[VIP, DOUBLE])
    found = awards(prog, "purchase", None, {}, facts("vip"), START, {"amount": D(0), "count": 1})
    assert {a.rule.name: a.multiplier for a in found} == {"spend": D("2.4"), "xp": D(1)}


# --------------------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("down", "10.5", 10),
        ("down", "10.99", 10),
        ("down", "3", 3),
        ("up", "10.01", 11),
        ("up", "10.5", 11),
        ("up", "10", 10),
        ("half_up", "10.5", 11),
        ("half_up", "10.49", 10),
        ("half_up", "11.5", 12),
        ("half_even", "10.5", 10),
        ("half_even", "11.5", 12),
        ("half_even", "10.51", 11),
    ],
)
def test_rounding_modes(mode: str, value: str, expected: int) -> None:
    """Fractional awards round by the program's mode: down, up, half up or half to even."""
    assert round_award(D(value), mode) == expected
    prog = program(rounding=mode, rules=[{"name": "spend", "action": "purchase", "per_amount": 1}])
    assert paid(prog, amount=D(value)) == ({"spend": expected} if expected else {})


def test_rounding_happens_once_after_multipliers() -> None:
    """2.7 at ×1.5 pays floor(4.05) = 4, not floor(2.7) × 1.5 = 3."""
    prog = program(
        rules=[{"name": "spend", "action": "purchase", "per_amount": 1}],
        multipliers=[{"name": "vip", "kind": "tag", "tag": "vip", "factor": "1.5"}],
    )
    assert paid(prog, amount=D("2.7"), facts=facts("vip")) == {"spend": 4}


def test_every_cent_amount_at_one_and_a_half_rounds_down_exactly() -> None:
    """Every amount from 0.01 to 1,000.00 at ×1.5 pays floor(amount × 1.5), computed in integers as
    3c // 200."""
    prog = program(
        rules=[{"name": "spend", "action": "purchase", "per_amount": 1}],
        multipliers=[{"name": "vip", "kind": "tag", "tag": "vip", "factor": "1.5"}],
    )
    vip = facts("vip")
    wrong = []
    for cents in range(1, 100_001):
        amount = D(cents).scaleb(-2)
        expected = 3 * cents // 200
        found = awards(prog, "purchase", amount, {}, vip, AT, {})
        got = found[0].amount if found else 0
        if got != expected:
            wrong.append((amount, got, expected))
    assert wrong == []


def test_huge_amounts_keep_exact_products() -> None:
    """99999999999999999999999999.99 × 1.5 floors to 149999999999999999999999999 (no 28-digit
    rounding)."""
    prog = program(rules=[{"name": "spend", "action": "purchase", "per_amount": "1.5"}])
    amount = D("99999999999999999999999999.99")
    assert paid(prog, amount=amount) == {"spend": 149999999999999999999999999}


def test_the_applications_decimal_context_neither_limits_nor_changes_awards() -> None:
    """A host app running with 6 significant digits still gets exact awards, and its context
    (precision and flags) is left as it was."""
    prog = program(
        rules=[{"name": "spend", "action": "purchase", "per_amount": "1.5"}],
        multipliers=[VIP],
    )
    with decimal.localcontext(decimal.Context(prec=6)) as app:
        got = paid(prog, amount=D("12345678.91"), facts=facts("vip"))
        assert app.prec == 6
        assert not app.flags[decimal.Inexact]
    assert got == {"spend": 22222222}  # 12345678.91 × 1.5 × 1.2 = 22222222.038
