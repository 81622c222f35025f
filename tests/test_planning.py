"""Points-budget planning: issuance per segment, exchange ratio, calibration, plan files."""

from __future__ import annotations

import decimal
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gamify.errors import ProgramError
from gamify.planning import (
    Plan,
    PlanResult,
    compute_plan,
    load_plan,
    parse_plan,
    plan_to_dict,
)

D = Decimal
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "economy" / "plan.toml"

# A small two-segment plan whose arithmetic is done by hand below.
#
# budget: 0.5 % of sales 100,000 = 500; target ratio 100
# rules: buy = amount x 1 (core), check_in 5, review 20 per 3 photos
# completion rates: check_in 0.5, review 0.25 (buy: default 1)
#
# segment a: 10 members, 1,500 core amount per member, target non-core 35 %
#   counts per member: check_in 120, review 40
#   max/member       = 1500x1 + 120x5 + 40x20             = 1500 + 600 + 800 = 2,900
#   predicted/member = 1500x1 + 120x0.5x5 + 40x0.25x20     = 1500 + 300 + 200 = 2,000
#   segment: max 29,000, predicted 20,000 = core 15,000 + non-core 5,000
#   non-core share 5,000 / 20,000 = 25 %: exactly 10 points below 35 % (no warning)
#
# segment b: 5 members, 45,000 core amount in total (9,000 per member), target 20 %
#   counts per member: check_in 240, review 80
#   max/member       = 9000 + 240x5 + 80x20                = 9000 + 1200 + 1600 = 11,800
#   predicted/member = 9000 + 240x0.5x5 + 80x0.25x20        = 9000 + 600 + 400  = 10,000
#   segment: max 59,000, predicted 50,000 = core 45,000 + non-core 5,000
#   non-core share 5,000 / 50,000 = 10 %: exactly 10 points below 20 % (no warning)
#
# total: 15 members, max 88,000, predicted 70,000 = core 60,000 + non-core 10,000
# raw ratio 70,000 / 500 = 140; factor 100 / 140 = 5/7 = 0.714285...
# calibrated: buy 5/7 -> 0.7143, check_in 25/7 = 3.5714... -> 4, review 100/7 = 14.2857... -> 14
# recomputed with rounded values:
#   a/member = 1500x0.7143 + 120x0.5x4 + 40x0.25x14 = 1071.45 + 240 + 140 = 1451.45 -> 14,514.5
#   b/member = 9000x0.7143 + 240x0.5x4 + 80x0.25x14 = 6428.7 + 480 + 280  = 7188.7  -> 35,943.5
#   total 50,458; recomputed ratio 50,458 / 500 = 100.916
# cost at ratio 100: a 145.145 (14.5145 a member), b 359.435 (71.887 a member), total 504.58


def small_plan_data() -> dict[str, Any]:
    return {
        "budget": {"share_of_sales": D("0.005"), "sales": D(100_000)},
        "exchange_ratio_target": D(100),
        "core_action": "buy",
        "rules": {
            "buy": {"per_amount": D(1)},
            "check_in": {"fixed": D(5)},
            "review": {"fixed": D(20), "per": 3},
        },
        "completion_rates": {"check_in": D("0.5"), "review": D("0.25")},
        "segments": [
            {
                "name": "a",
                "members": 10,
                "core_amount_per_member": D(1500),
                "target_noncore_share": D("0.35"),
                "yearly_counts": {"check_in": D(120), "review": D(40)},
            },
            {
                "name": "b",
                "members": 5,
                "total_core_amount": D(45_000),
                "target_noncore_share": D("0.2"),
                "yearly_counts": {"check_in": D(240), "review": D(80)},
            },
        ],
    }


SMALL_PLAN_TOML = """\
core_action = "buy"
exchange_ratio_target = 100

[budget]
share_of_sales = 0.005
sales = 100_000

[rules]
buy = { per_amount = 1 }
check_in = { fixed = 5 }
review = { fixed = 20, per = 3 }

[completion_rates]
check_in = 0.5
review = 0.25

[[segments]]
name = "a"
members = 10
core_amount_per_member = 1500
target_noncore_share = 0.35
yearly_counts = { check_in = 120, review = 40 }

[[segments]]
name = "b"
members = 5
total_core_amount = 45_000
target_noncore_share = 0.2
yearly_counts = { check_in = 240, review = 80 }
"""


def small_result(**changes: Any) -> PlanResult:
    data = small_plan_data()
    data.update(changes)
    return compute_plan(parse_plan(data))


# --------------------------------------------------------------------------- issuance


def test_segment_maximum_and_predicted_points() -> None:
    """Maximum counts every expected action; predicted weighs each by its completion rate."""
    a, b = small_result().segments
    assert (a.max_points_per_member, a.predicted_points_per_member) == (D(2900), D(2000))
    assert (a.max_points, a.predicted_points) == (D(29_000), D(20_000))
    assert (a.predicted_core_points, a.predicted_noncore_points) == (D(15_000), D(5_000))
    assert (b.core_amount_per_member, b.core_amount) == (D(9000), D(45_000))
    assert (b.max_points_per_member, b.predicted_points_per_member) == (D(11_800), D(10_000))
    assert (b.max_points, b.predicted_points) == (D(59_000), D(50_000))
    assert (b.predicted_core_points, b.predicted_noncore_points) == (D(45_000), D(5_000))


def test_per_action_points() -> None:
    """Each action's row shows its count, rate, and points per member and in total."""
    a = small_result().segments[0]
    rows = {row.action: row for row in a.actions}
    assert [row.action for row in a.actions] == ["buy", "check_in", "review"]
    assert rows["buy"].core and rows["buy"].count_per_member == 1500
    assert rows["buy"].completion_rate == 1
    assert rows["check_in"].max_points_per_member == 600
    assert rows["check_in"].predicted_points_per_member == 300
    assert rows["review"].predicted_points == 2000


def test_segment_shares() -> None:
    """Core and non-core shares are of the segment's predicted points."""
    a, b = small_result().segments
    assert (a.core_share, a.noncore_share) == (D("0.75"), D("0.25"))
    assert (b.core_share, b.noncore_share) == (D("0.9"), D("0.1"))
    assert a.share_gap == D("-0.10")


def test_totals() -> None:
    """Totals sum the segments; total shares are of all predicted points."""
    total = small_result().total
    assert total.members == 15
    assert (total.max_points, total.predicted_points) == (D(88_000), D(70_000))
    assert (total.predicted_core_points, total.predicted_noncore_points) == (D(60_000), D(10_000))
    assert total.noncore_share == D(1) / D(7)
    assert total.core_share == D(6) / D(7)


def test_exactly_ten_points_from_target_does_not_warn() -> None:
    """A non-core share exactly 10 percentage points from its target is within tolerance."""
    result = small_result()
    assert [s.off_target for s in result.segments] == [False, False]
    assert result.warnings == ()


def test_more_than_ten_points_from_target_warns() -> None:
    """10.01 points from the target (10 % against 20.01 %) is a warning."""
    data = small_plan_data()
    data["segments"][1]["target_noncore_share"] = D("0.2001")
    result = compute_plan(parse_plan(data))
    assert [s.off_target for s in result.segments] == [False, True]
    assert [(w.code, w.subject) for w in result.warnings] == [("noncore_share", "b")]
    assert "10.00 %" in result.warnings[0].message
    assert "20.01 %" in result.warnings[0].message


def test_tolerance_applies_above_the_target_too() -> None:
    """25 % against a 15 % target is exactly 10 points; against 14.99 % it warns."""
    data = small_plan_data()
    data["segments"][0]["target_noncore_share"] = D("0.15")
    assert not compute_plan(parse_plan(data)).segments[0].off_target
    data["segments"][0]["target_noncore_share"] = D("0.1499")
    assert compute_plan(parse_plan(data)).segments[0].off_target


# --------------------------------------------------------------------------- budget and ratio


def test_budget_as_share_of_sales() -> None:
    """0.5 % of 100,000 is a budget of 500, paying for 50,000 points at ratio 100."""
    result = small_result()
    assert result.budget_basis == "share_of_sales"
    assert result.budget == 500
    assert result.issuable_points == 50_000


def test_budget_per_active_member_per_month() -> None:
    """5 a month per active member for 100 active members is 6,000 a year."""
    budget = {"per_active_member": D(5), "active_members": 100, "period": "month"}
    result = small_result(budget=budget)
    assert result.budget_basis == "per_active_member"
    assert result.budget == 6000
    assert result.raw_ratio == D(70_000) / D(6000)


def test_budget_per_active_member_defaults_to_all_segment_members() -> None:
    """Without active_members, every member of the segments (15) counts: 15 x 60 = 900."""
    result = small_result(budget={"per_active_member": D(60)})
    assert result.budget == 900


def test_raw_ratio_is_predicted_points_over_budget() -> None:
    """70,000 predicted points over a budget of 500 is a ratio of 140."""
    assert small_result().raw_ratio == 140


def test_calibration_factor_brings_the_ratio_exactly_to_target() -> None:
    """raw ratio x factor equals the target exactly; the factor is only printed rounded."""
    result = small_result()
    assert result.raw_ratio * result.calibration_factor == result.target_ratio == 100
    assert result.calibration_factor_rounded == D("0.71")
    with decimal.localcontext(prec=50):
        assert result.calibration_factor == D(5) / D(7)  # 50 significant digits of 5/7


def test_factor_is_exact_for_an_awkward_ratio() -> None:
    """The worked example: a raw ratio of 112.29 times 100 / 112.29 (0.8906, shown 0.89) is 100."""
    data = small_plan_data()
    # budget 1 % of 100,000 = 1,000; a third segment adds 42,290 core points to the 70,000,
    # so 112,290 predicted points / 1,000 = 112.29.
    data["budget"] = {"share_of_sales": D("0.01"), "sales": D(100_000)}
    data["segments"].append(
        {"name": "c", "members": 1, "core_amount_per_member": D(42_290), "target_noncore_share": 0}
    )
    result = compute_plan(parse_plan(data))
    assert result.raw_ratio == D("112.29")
    assert result.raw_ratio * result.calibration_factor == 100
    assert result.calibration_factor.quantize(D("0.0001")) == D("0.8906")
    assert result.calibration_factor_rounded == D("0.89")
    # and with an odd target: 140 x (3 / 140) is exactly 3
    result = small_result(exchange_ratio_target=D(3))
    assert result.raw_ratio * result.calibration_factor == 3


@pytest.mark.parametrize(
    ("sales", "target"),
    [("623.37", "100"), ("98765.4321", "100"), ("3", "7"), ("1000000", "0.33"), ("0.07", "250")],
)
def test_raw_ratio_times_factor_is_target_for_any_budget(sales: str, target: str) -> None:
    """Whatever the budget and target, the unrounded factor brings the raw ratio to the target."""
    data = small_plan_data()
    data["budget"] = {"share_of_sales": D(1), "sales": D(sales)}
    data["exchange_ratio_target"] = D(target)
    result = compute_plan(parse_plan(data))
    assert result.raw_ratio * result.calibration_factor == D(target)


def test_calibrated_values_are_raw_values_times_factor() -> None:
    """Each rule's exact calibrated value is its value times the unrounded factor."""
    result = small_result()
    for rule in result.rules:
        assert rule.exact == rule.value * result.calibration_factor
    exact = {rule.action: rule.exact for rule in result.rules}
    assert abs(exact["check_in"] - D(25) / D(7)) < D("1E-26")
    assert abs(exact["review"] - D(100) / D(7)) < D("1E-25")


def test_calibrated_values_are_rounded_for_a_program() -> None:
    """Fixed rules round to whole points, coefficients to four decimals."""
    rules = {rule.action: rule for rule in small_result().rules}
    assert rules["buy"].rounded == D("0.7143")
    assert rules["buy"].rounded.as_tuple().exponent == -4
    assert (rules["check_in"].rounded, rules["review"].rounded) == (D(4), D(14))
    assert rules["review"].per == 3 and rules["review"].kind == "fixed"
    assert rules["buy"].kind == "per_amount" and rules["buy"].core


def test_calibrated_halves_round_up() -> None:
    """At factor 0.5, check-in 5 -> 2.5 -> 3 and coefficient 0.0005 -> 0.00025 -> 0.0003."""
    data = {
        "budget": {"share_of_sales": D("0.01"), "sales": D(100)},  # budget 1
        "exchange_ratio_target": D(100),
        "core_action": "buy",
        "rules": {"buy": {"per_amount": D("0.0005")}, "check_in": {"fixed": D(5)}},
        "completion_rates": {"check_in": D(1)},
        "segments": [
            {
                "name": "all",
                "members": 1,
                "core_amount_per_member": D(200_000),  # 200,000 x 0.0005 = 100 points
                "target_noncore_share": D("0.5"),
                "yearly_counts": {"check_in": D(20)},  # 20 x 5 = 100 points
            }
        ],
    }
    result = compute_plan(parse_plan(data))
    assert result.raw_ratio == 200
    assert result.calibration_factor == D("0.5")
    rules = {rule.action: rule for rule in result.rules}
    assert (rules["check_in"].exact, rules["check_in"].rounded) == (D("2.5"), D(3))
    assert (rules["buy"].exact, rules["buy"].rounded) == (D("0.00025"), D("0.0003"))


def test_rule_rounding_to_zero_warns() -> None:
    """A fixed rule whose calibrated value rounds to 0 points is flagged."""
    data = small_plan_data()
    data["rules"]["check_in"] = {"fixed": D("0.5")}  # 0.5 x 5/7 = 0.357 -> 0
    result = compute_plan(parse_plan(data))
    assert ("rule_rounds_to_zero", "check_in") in [(w.code, w.subject) for w in result.warnings]


def test_recomputed_ratio_uses_rounded_values() -> None:
    """The ratio recomputed from the rounded rules is 50,458 / 500 = 100.916."""
    result = small_result()
    a, b = result.calibrated_segments
    assert a.predicted_points_per_member == D("1451.45")
    assert b.predicted_points_per_member == D("7188.7")
    assert result.calibrated_total.predicted_points == D("50458")
    assert result.recomputed_ratio == D("100.916")


def test_cost_per_member() -> None:
    """Each segment costs its calibrated predicted points / target ratio in money."""
    result = small_result()
    a, b = result.costs
    assert (a.segment, a.cost, a.cost_per_member) == ("a", D("145.145"), D("14.5145"))
    assert (b.segment, b.cost, b.cost_per_member) == ("b", D("359.435"), D("71.887"))
    assert a.budget_share == D("0.29029")
    assert result.total_cost == D("504.58")


def test_calibrated_shares_are_checked_again() -> None:
    """After rounding, a's non-core share is 380 / 1451.45 and still within tolerance."""
    a, _ = small_result().calibrated_segments
    assert a.predicted_noncore_points == 3800
    assert a.noncore_share == D(380) / D("1451.45")
    assert not a.off_target


def test_catalog_prices() -> None:
    """Catalog rewards are priced at their own ratio, else the plan's target."""
    catalog = [
        {"name": "coupon", "cash_value": D(50), "exchange_ratio": D(50)},
        {"name": "card", "cash_value": D(30)},
        {"name": "speaker", "cash_value": D(100), "price": D(100), "max_discount": D(20)},
    ]
    priced = {item.name: item for item in small_result(catalog=catalog).catalog}
    assert priced["coupon"].points == 2500
    assert (priced["card"].exchange_ratio, priced["card"].points) == (D(100), 3000)
    assert (priced["speaker"].premium, priced["speaker"].points) == (D("1.25"), 12_500)


def test_nothing_predicted_is_an_error() -> None:
    """With no predicted points there is no ratio to calibrate."""
    data = small_plan_data()
    for segment in data["segments"]:
        segment.pop("core_amount_per_member", None)
        segment.pop("total_core_amount", None)
        segment["total_core_amount"] = D(0)
        segment["yearly_counts"] = {}
    with pytest.raises(ProgramError, match="predicts no points"):
        compute_plan(parse_plan(data))


def test_computation_ignores_the_callers_decimal_context() -> None:
    """Results do not depend on the thread's decimal precision."""
    expected = small_result()
    with decimal.localcontext() as ctx:
        ctx.prec = 5
        assert small_result() == expected


# --------------------------------------------------------------------------- JSON


def test_plan_to_dict_is_json_ready() -> None:
    """Decimals become exact strings; the factor also appears rounded to two decimals."""
    data = plan_to_dict(small_result())
    text = json.dumps(data)
    assert "Decimal" not in text
    assert data["budget"] == "500"
    assert data["raw_ratio"] == "140"
    assert data["calibration_factor_rounded"] == "0.71"
    assert data["recomputed_ratio"] == "100.916"
    assert D(str(data["calibration_factor"])) == small_result().calibration_factor
    segments = data["segments"]
    assert isinstance(segments, list) and isinstance(segments[0], dict)
    assert segments[0]["noncore_share"] == "0.25"
    assert segments[0]["off_target"] is False


# --------------------------------------------------------------------------- plan files


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_plan_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    """A plan saved with a UTF-8 byte-order mark loads as the same plan without one."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + SMALL_PLAN_TOML.encode())
    assert load_plan(path) == load_plan(write(tmp_path, "plan.toml", SMALL_PLAN_TOML))


def test_toml_json_and_yaml_load_the_same_plan(tmp_path: Path) -> None:
    """One schema in three formats; floats are read as exact decimals."""
    toml_plan = load_plan(write(tmp_path, "plan.toml", SMALL_PLAN_TOML))
    json_text = json.dumps(small_plan_data(), default=str)
    json_text = json_text.replace('"0.35"', "0.35").replace('"0.005"', "0.005")
    json_plan = load_plan(write(tmp_path, "plan.json", json_text))
    yaml_text = """\
core_action: buy
exchange_ratio_target: 100
budget: {share_of_sales: 0.005, sales: 100_000}
rules:
  buy: {per_amount: 1}
  check_in: {fixed: 5}
  review: {fixed: 20, per: 3}
completion_rates: {check_in: 0.5, review: 0.25}
segments:
  - {name: a, members: 10, core_amount_per_member: 1500, target_noncore_share: 0.35,
     yearly_counts: {check_in: 120, review: 40}}
  - {name: b, members: 5, total_core_amount: 45000, target_noncore_share: 0.2,
     yearly_counts: {check_in: 240, review: 80}}
"""
    yaml_plan = load_plan(write(tmp_path, "plan.yaml", yaml_text))
    expected = parse_plan(small_plan_data())
    assert toml_plan == json_plan == yaml_plan == expected
    assert toml_plan.budget.share_of_sales == D("0.005")
    assert isinstance(yaml_plan.completion_rates["check_in"], Decimal)
    assert compute_plan(yaml_plan) == compute_plan(expected)


def test_plan_load_classmethod(tmp_path: Path) -> None:
    """Plan.load is load_plan."""
    assert Plan.load(write(tmp_path, "plan.toml", SMALL_PLAN_TOML)) == parse_plan(small_plan_data())


def load_error(tmp_path: Path, text: str, name: str = "plan.toml") -> ProgramError:
    path = write(tmp_path, name, text)
    with pytest.raises(ProgramError) as info:
        load_plan(path)
    assert info.value.file == str(path)
    assert str(path) in str(info.value)
    return info.value


def test_missing_key_names_file_and_key(tmp_path: Path) -> None:
    """A missing required key is reported with its key path."""
    text = SMALL_PLAN_TOML.replace("exchange_ratio_target = 100\n", "")
    error = load_error(tmp_path, text)
    assert error.key_path == "exchange_ratio_target"
    assert "missing" in error.reason


def test_missing_key_in_a_list_item(tmp_path: Path) -> None:
    """A key missing in the second segment is at segments[1]."""
    text = SMALL_PLAN_TOML.replace("members = 5\n", "")
    error = load_error(tmp_path, text)
    assert error.key_path == "segments[1].members"
    assert "segments[1].members" in str(error)


def test_wrong_type_names_file_and_key(tmp_path: Path) -> None:
    """A value of the wrong type is reported with its key path and the reason."""
    text = SMALL_PLAN_TOML.replace("members = 5\n", 'members = "many"\n')
    error = load_error(tmp_path, text)
    assert error.key_path == "segments[1].members"
    assert "integer" in error.reason


def test_out_of_range_rate(tmp_path: Path) -> None:
    """A completion rate above 1 is refused at completion_rates.<action>."""
    error = load_error(tmp_path, SMALL_PLAN_TOML.replace("review = 0.25", "review = 1.5"))
    assert error.key_path == "completion_rates.review"


def test_bad_toml_names_file(tmp_path: Path) -> None:
    """A syntax error is a ProgramError naming the file and the TOML problem."""
    error = load_error(tmp_path, SMALL_PLAN_TOML.replace("members = 10", "members = = 10"))
    assert error.reason.startswith("invalid TOML")


def test_bad_json_and_yaml_name_the_file(tmp_path: Path) -> None:
    """JSON and YAML syntax errors are ProgramErrors too."""
    assert load_error(tmp_path, "{", "plan.json").reason.startswith("invalid JSON")
    assert load_error(tmp_path, "a: [1", "plan.yaml").reason.startswith("invalid YAML")


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    """Keys outside the schema are errors, not silently ignored."""
    text = SMALL_PLAN_TOML.replace('name = "a"\n', 'name = "a"\ncolour = "blue"\n')
    error = load_error(tmp_path, text)
    assert error.key_path == "segments[0].colour"
    assert "unknown key" in error.reason


def test_core_amount_bounds_are_accepted_and_leave_the_figures_alone(tmp_path: Path) -> None:
    """A segment's core_amount_min/max (the report's segment ranges) load with the plan
    and change none of its figures."""
    text = SMALL_PLAN_TOML.replace(
        'name = "b"\n', 'name = "b"\ncore_amount_min = 5000\ncore_amount_max = 20_000\n'
    )
    plan = load_plan(write(tmp_path, "plan.toml", text))
    assert (plan.segments[1].core_amount_min, plan.segments[1].core_amount_max) == (5000, 20_000)
    assert (plan.segments[0].core_amount_min, plan.segments[0].core_amount_max) == (None, None)
    assert compute_plan(plan) == small_result()


@pytest.mark.parametrize(
    ("bounds", "key_path", "reason"),
    [
        ("core_amount_min = -1", "segments[1].core_amount_min", "greater than or equal to 0"),
        ('core_amount_max = "lots"', "segments[1].core_amount_max", "valid decimal"),
        (
            "core_amount_min = 9000\ncore_amount_max = 9000",
            "segments[1].core_amount_max",
            "core_amount_max must be above core_amount_min",
        ),
    ],
    ids=["negative", "not a number", "empty range"],
)
def test_bad_core_amount_bounds_name_their_key(
    tmp_path: Path, bounds: str, key_path: str, reason: str
) -> None:
    text = SMALL_PLAN_TOML.replace('name = "b"\n', f'name = "b"\n{bounds}\n')
    error = load_error(tmp_path, text)
    assert error.key_path == key_path
    assert reason in error.reason


def test_unknown_action_in_counts(tmp_path: Path) -> None:
    """A count for an action without a rule is reported at its key."""
    text = SMALL_PLAN_TOML.replace(
        "{ check_in = 120, review = 40 }", "{ check_in = 120, dance = 4 }"
    )
    error = load_error(tmp_path, text)
    assert error.key_path == "segments[0].yearly_counts.dance"


def test_missing_completion_rate(tmp_path: Path) -> None:
    """Every non-core action needs a completion rate."""
    error = load_error(tmp_path, SMALL_PLAN_TOML.replace("review = 0.25\n", ""))
    assert error.key_path == "completion_rates.review"


def test_share_of_sales_needs_sales(tmp_path: Path) -> None:
    """A share-of-sales budget without sales names budget.sales."""
    error = load_error(tmp_path, SMALL_PLAN_TOML.replace("sales = 100_000\n", ""))
    assert error.key_path == "budget.sales"


def test_core_rule_must_be_per_amount() -> None:
    """The core action earns amount x coefficient."""
    data = small_plan_data()
    data["rules"]["buy"] = {"fixed": D(10)}
    with pytest.raises(ProgramError) as info:
        parse_plan(data)
    assert info.value.key_path == "rules.buy.fixed"
    assert info.value.file is None


def test_unknown_file_type_and_missing_file(tmp_path: Path) -> None:
    """Only .toml, .json, .yaml and .yml are plan files; a missing file is a ProgramError."""
    assert "unknown plan file type" in load_error(tmp_path, "x", "plan.txt").reason
    with pytest.raises(ProgramError, match="cannot read"):
        load_plan(tmp_path / "absent.toml")


# --------------------------------------------------------------------------- the example


def test_economy_example_loads_and_computes() -> None:
    """The e-commerce plan: 1 % of 100,000,000 sales, two segments, a small catalog."""
    plan = load_plan(EXAMPLE)
    result = compute_plan(plan)
    assert result.budget == 1_000_000
    assert result.issuable_points == 100_000_000
    low, high = result.segments
    assert (low.members, low.core_amount_per_member) == (8000, D(1000))
    assert (high.members, high.core_amount_per_member) == (2000, D(46_000))
    # Every unit of the 100,000,000 sales earns 1 point with completion 1.
    assert result.total.predicted_core_points == 100_000_000
    assert result.total.predicted_points == low.predicted_points + high.predicted_points
    assert result.total.predicted_points > result.issuable_points
    assert result.raw_ratio == result.total.predicted_points / result.budget
    assert result.raw_ratio * result.calibration_factor == 100
    assert abs(result.recomputed_ratio - 100) < 1
    assert result.calibration_factor_rounded < 1
    prices = {item.name: item.points for item in result.catalog}
    assert prices["coupon 200 minus 50"] == 2500
    assert prices["phone card 30"] == 3000
    assert json.dumps(plan_to_dict(result))


# --------------------------------------------------------------------------- rules from a program

SHOP_PROGRAM = """
timezone = "Asia/Shanghai"
[currencies.points]
spendable = true
[currencies.xp]
spendable = false
[actions.purchase]
amount = "required"
[actions.check_in]
[actions.referral]
[actions.review]
[actions.photo_review]
[[rules]]
name = "purchase_points"
action = "purchase"
per_amount = 1
[[rules]]
name = "purchase_xp"          # pays XP: not part of the points budget
action = "purchase"
currency = "xp"
per_amount = 5
[[rules]]
name = "check_in"
action = "check_in"
fixed = 2
[[rules]]
name = "check_in_bonus"       # a second fixed rule on one action adds up: 5 a check-in
action = "check_in"
fixed = 3
[[rules]]
name = "referral"
action = "referral"
fixed = 300
[[rules]]
name = "review"
action = "review"
fixed = 20
[[rules]]
name = "photo_review"
action = "photo_review"
fixed = 50
per = { attribute = "photos", size = 3 }
"""


def _plan_with_program(tmp_path: Path, program: str, *, keep_rules: bool = False) -> Path:
    """The economy example with ``program = "shop.toml"`` in place of its [rules] tables."""
    (tmp_path / "shop.toml").write_text(program, encoding="utf-8")
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    kept: list[str] = []
    in_rules = False
    for line in lines:
        if line.startswith("["):
            in_rules = line.startswith("[rules.")
        if not in_rules or keep_rules:
            kept.append(line)
    text = 'program = "shop.toml"\n' + "\n".join(kept) + "\n"
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_plan_takes_its_rules_from_a_program_file(tmp_path: Path) -> None:
    """The program's points rules, summed per action with their group size, give the very
    plan the explicit [rules] give (the XP rule is left out)."""
    from_program = load_plan(_plan_with_program(tmp_path, SHOP_PROGRAM))
    explicit = load_plan(EXAMPLE)
    assert from_program.rules == explicit.rules
    assert compute_plan(from_program) == compute_plan(explicit)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            (
                'name = "review"\naction = "review"\nfixed = 20',
                'name = "review"\naction = "review"\nfixed = 20\nconditions = { photo = false }',
            ),
            "rule 'review' has conditions",
        ),
        (
            (
                'name = "review"\naction = "review"\nfixed = 20',
                'name = "review"\naction = "review"\nformula = "20"',
            ),
            "rule 'review' pays by a formula",
        ),
        (
            (
                'name = "check_in_bonus"       # a second fixed rule on one action adds up: 5 a '
                'check-in\naction = "check_in"\nfixed = 3',
                'name = "check_in_bonus"\naction = "check_in"\nper_amount = 3',
            ),
            "action 'check_in' has both fixed and per-amount rules",
        ),
        (
            (
                'fixed = 50\nper = { attribute = "photos", size = 3 }',
                'fixed = 50\nper = { attribute = "photos", size = 3 }\n[[rules]]\n'
                'name = "photo_bonus"\naction = "photo_review"\nfixed = 10',
            ),
            "action 'photo_review' has a rule paying per group ('photo_review') and one "
            "paying per action ('photo_bonus')",
        ),
        (
            (
                'fixed = 50\nper = { attribute = "photos", size = 3 }',
                'fixed = 50\nper = { attribute = "photos", size = 3 }\n[[rules]]\n'
                'name = "photo_bonus"\naction = "photo_review"\nfixed = 10\n'
                'per = { attribute = "photos", size = 5 }',
            ),
            "rule 'photo_bonus' pays per 5, another rule of 'photo_review' per 3",
        ),
    ],
    ids=["conditions", "formula", "mixed kinds", "grouped and ungrouped", "two group sizes"],
)
def test_a_program_rule_a_plan_cannot_weigh_is_refused(
    tmp_path: Path, change: tuple[str, str], reason: str
) -> None:
    """Conditions, formulas, mixed rule kinds and a per-group rule beside a per-action one
    name the rules; the error points at program."""
    old, new = change
    assert old in SHOP_PROGRAM
    path = _plan_with_program(tmp_path, SHOP_PROGRAM.replace(old, new))
    with pytest.raises(ProgramError) as info:
        load_plan(path)
    assert info.value.file == str(path)
    assert info.value.key_path == "program"
    assert reason in info.value.reason


def test_a_program_without_points_rules_gives_a_plan_no_rules(tmp_path: Path) -> None:
    """Rules paying only XP leave the points budget nothing to weigh: named at program."""
    xp_only = 'timezone = "UTC"\n[currencies.xp]\nspendable = false\n[actions.purchase]\n'
    xp_only += '[[rules]]\nname = "xp"\naction = "purchase"\ncurrency = "xp"\nfixed = 1\n'
    path = _plan_with_program(tmp_path, xp_only)
    with pytest.raises(ProgramError) as info:
        load_plan(path)
    assert info.value.key_path == "program"
    assert "the program has no earning rule paying 'points'" in info.value.reason


def test_a_blank_program_path_is_refused(tmp_path: Path) -> None:
    path = _plan_with_program(tmp_path, SHOP_PROGRAM)
    path.write_text(path.read_text().replace('program = "shop.toml"', 'program = "  "'))
    with pytest.raises(ProgramError, match="must be the path of a program file") as info:
        load_plan(path)
    assert info.value.key_path == "program"


def test_a_plan_with_both_rules_and_a_program_is_refused(tmp_path: Path) -> None:
    path = _plan_with_program(tmp_path, SHOP_PROGRAM, keep_rules=True)
    with pytest.raises(ProgramError, match="either rules or a program") as info:
        load_plan(path)
    assert info.value.key_path == "program"


def test_a_missing_or_broken_program_file_is_named(tmp_path: Path) -> None:
    """The error of the program file names that file, not the plan."""
    path = _plan_with_program(tmp_path, SHOP_PROGRAM)
    (tmp_path / "shop.toml").unlink()
    with pytest.raises(ProgramError, match="cannot read file") as info:
        load_plan(path)
    assert info.value.file == str(tmp_path / "shop.toml")
    (tmp_path / "shop.toml").write_text('timezone = "Mars/Olympus"\n', encoding="utf-8")
    with pytest.raises(ProgramError) as info:
        load_plan(path)
    assert info.value.file == str(tmp_path / "shop.toml")
    assert info.value.key_path == "timezone"


@pytest.mark.parametrize(("key", "value"), [("exchange_ratio_target", "1e30"), ("sales", "1e40")])
def test_numbers_past_the_plan_range_are_refused(key: str, value: str) -> None:
    data = small_plan_data()
    if key == "sales":
        data["budget"]["sales"] = value
    else:
        data[key] = value
    with pytest.raises(ProgramError, match="must lie between 1e-18 and 1e18"):
        parse_plan(data)


@pytest.mark.parametrize(
    ("sales", "ok"),
    [("1e18", True), ("1.5e18", False), ("9e18", False), ("1e-18", True), ("9e-19", False)],
)
def test_a_plan_number_lies_between_1e_18_and_1e18(sales: str, ok: bool) -> None:
    """The bounds themselves are accepted; 1.5e18 is past 1e18, 9e-19 below 1e-18."""
    data = small_plan_data()
    data["budget"]["sales"] = sales
    if ok:
        assert parse_plan(data).budget.sales == D(sales)
    else:
        with pytest.raises(ProgramError, match="must lie between 1e-18 and 1e18") as info:
            parse_plan(data)
        assert info.value.key_path == "budget.sales"


def test_a_plan_built_past_its_arithmetic_is_a_program_error() -> None:
    """A plan assembled in code without validation: its 28-digit arithmetic refuses."""
    plan = parse_plan(small_plan_data()).model_copy(update={"exchange_ratio_target": D("1e40")})
    with pytest.raises(ProgramError, match="too large to compute"):
        compute_plan(plan)


def test_a_plan_file_nested_too_deeply_is_a_program_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ProgramError, match="nested too deeply") as info:
        load_plan(path)
    assert info.value.file == str(path)


def test_a_plan_key_given_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.json"
    path.write_text('{"exchange_ratio_target": 100, "exchange_ratio_target": 50}')
    with pytest.raises(ProgramError, match="is given twice"):
        load_plan(path)


# --------------------------------------------------------------------------- plan rules


def _changed(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = small_plan_data()
    change(data)
    return data


def _set(*path: str | int, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path
        target: Any = data
        for key in parents:
            target = target[key]
        target[last] = value

    return change


PER_MEMBER_BUDGET = {"per_active_member": D(5)}
CATALOG_ITEM = {"name": "mug", "cash_value": D(5)}


@pytest.mark.parametrize(
    ("change", "key_path", "reason"),
    [
        (_set("budget", "share_of_sales", value=D(0)), "budget.share_of_sales", "greater than 0"),
        (
            _set("budget", "period", value="month"),
            "budget.period",
            "belongs to a per_active_member budget",
        ),
        (
            _set("budget", value={**PER_MEMBER_BUDGET, "sales": D(100)}),
            "budget.sales",
            "sales belongs to a share_of_sales budget",
        ),
        (
            _set("budget", value={**PER_MEMBER_BUDGET, "active_members": 0}),
            "budget.active_members",
            "greater than 0",
        ),
        (
            _set("rules", "buy", value={"per_amount": D(1), "per": 3}),
            "rules.buy.per",
            "only applies to fixed rules",
        ),
        (_set("rules", "review", "per", value=0), "rules.review.per", "greater than 0"),
        (
            _set("rules", "check_in", value={"per_amount": D(5)}),
            "rules.check_in.per_amount",
            "only the core action earns per amount",
        ),
        (
            _set("completion_rates", "dance", value=D("0.5")),
            "completion_rates.dance",
            "no rule for action 'dance'",
        ),
        (
            _set("segments", 0, "yearly_counts", "buy", value=D(3)),
            "segments[0].yearly_counts.buy",
            "planned by core amount, not by count",
        ),
        (_set("segments", 0, "members", value=0), "segments[0].members", "greater than 0"),
        (
            _set("segments", 0, "target_noncore_share", value=D("1.5")),
            "segments[0].target_noncore_share",
            "less than or equal to 1",
        ),
        (
            _set("segments", 1, "name", value="a"),
            "segments[1].name",
            "duplicate segment name 'a'",
        ),
        (
            _set("catalog", value=[{**CATALOG_ITEM, "max_discount": D(2)}]),
            "catalog[0].price",
            "max_discount needs the item's price",
        ),
        (
            _set("catalog", value=[{**CATALOG_ITEM, "price": D(20), "max_discount": D(20)}]),
            "catalog[0].max_discount",
            "max_discount must be less than price",
        ),
        (
            _set("catalog", value=[CATALOG_ITEM, {**CATALOG_ITEM, "cash_value": D(9)}]),
            "catalog[1].name",
            "duplicate reward name 'mug'",
        ),
    ],
    ids=[
        "share of sales 0",
        "period of a share of sales",
        "sales of a per-member budget",
        "no active members",
        "group size on a per-amount rule",
        "group size 0",
        "non-core per amount",
        "rate of an unknown action",
        "core action counted",
        "segment of 0 members",
        "target share above 1",
        "segment named twice",
        "discount without a price",
        "discount equal to the price",
        "reward named twice",
    ],
)
def test_a_plan_that_breaks_a_rule_is_refused_at_its_key(
    change: Callable[[dict[str, Any]], None], key_path: str, reason: str
) -> None:
    with pytest.raises(ProgramError) as info:
        parse_plan(_changed(change))
    assert info.value.key_path == key_path
    assert reason in info.value.reason


def test_an_error_counts_the_other_problems() -> None:
    """The first problem is named; the rest are counted."""
    data = small_plan_data()
    del data["core_action"], data["exchange_ratio_target"]
    with pytest.raises(ProgramError) as info:
        parse_plan(data)
    assert info.value.reason == "missing required key (and 1 more problem)"
    del data["budget"]
    with pytest.raises(ProgramError) as info:
        parse_plan(data)
    assert info.value.reason == "missing required key (and 2 more problems)"


def test_a_plan_of_the_core_action_completion_rate() -> None:
    """A completion rate for the core action weighs its predicted points, not its maximum.

    buy at rate 0.8, segment a: max 1,500 a member as before, predicted 1,500 x 0.8 = 1,200
    core + 500 non-core = 1,700 a member, 17,000 for its 10 members.
    """
    a = small_result(completion_rates={"buy": D("0.8"), "check_in": D("0.5"), "review": D("0.25")})
    a = a.segments[0]
    buy = a.actions[0]
    assert (buy.completion_rate, buy.max_points_per_member) == (D("0.8"), D(1500))
    assert buy.predicted_points_per_member == D(1200)
    assert (a.max_points_per_member, a.predicted_points_per_member) == (D(2900), D(1700))
    assert (a.max_points, a.predicted_points) == (D(29_000), D(17_000))


def test_totals_per_member() -> None:
    """Per member over all 15 members: max 88,000 / 15, predicted 70,000 / 15."""
    total = small_result().total
    assert total.max_points_per_member == D(88_000) / D(15)
    assert total.predicted_points_per_member == D(70_000) / D(15)


def test_a_segment_that_predicts_nothing_is_judged_against_a_zero_share() -> None:
    """A segment of no core amount and no counts has a non-core share of 0: a target of
    exactly 10 % is within the tolerance, 10.01 % is not."""
    quiet = {
        "name": "c",
        "members": 1,
        "core_amount_per_member": D(0),
        "target_noncore_share": D("0.10"),
    }
    result = small_result(segments=[*small_plan_data()["segments"], quiet])
    assert result.segments[2].predicted_points == 0
    assert not result.segments[2].off_target
    result = small_result(
        segments=[*small_plan_data()["segments"], {**quiet, "target_noncore_share": D("0.1001")}]
    )
    assert result.segments[2].off_target


def test_the_printed_factor_rounds_a_half_up() -> None:
    """Budget 0.000875 x 100,000 = 87.5: raw ratio 70,000 / 87.5 = 800, factor 100 / 800 =
    0.125, printed 0.13 (halves round up, as calibrated rule values do)."""
    result = small_result(budget={"share_of_sales": D("0.000875"), "sales": D(100_000)})
    assert result.raw_ratio == 800
    assert result.calibration_factor == D("0.125")
    assert result.calibration_factor_rounded == D("0.13")


def test_a_segment_off_target_before_calibration_warns_once() -> None:
    """Segment a (25 % non-core) against a 50 % target is off before and after calibration;
    the warning names the plan's values, once."""
    data = small_plan_data()
    data["segments"][0]["target_noncore_share"] = D("0.5")
    result = compute_plan(parse_plan(data))
    assert result.segments[0].off_target and result.calibrated_segments[0].off_target
    assert [(w.code, w.subject) for w in result.warnings] == [("noncore_share", "a")]


def test_a_yml_plan_loads(tmp_path: Path) -> None:
    """.yml is a YAML plan file as .yaml is."""
    text = json.dumps(small_plan_data(), default=str)  # this JSON is YAML too
    assert load_plan(write(tmp_path, "plan.yml", text)) == parse_plan(small_plan_data())


def test_plan_file_numbers_keep_every_digit(tmp_path: Path) -> None:
    """A float in TOML or JSON is read as the decimal written, even past a binary float's
    17 digits."""
    digits = "0.00500000000000000000001"
    toml_text = SMALL_PLAN_TOML.replace("share_of_sales = 0.005", f"share_of_sales = {digits}")
    json_text = json.dumps(small_plan_data(), default=str).replace('"0.005"', digits)
    for path in (write(tmp_path, "plan.toml", toml_text), write(tmp_path, "plan.json", json_text)):
        assert load_plan(path).budget.share_of_sales == D(digits)


def test_a_core_action_without_a_rule_is_refused_at_core_action() -> None:
    data = small_plan_data()
    data["core_action"] = "sell"
    with pytest.raises(ProgramError) as info:
        parse_plan(data)
    assert info.value.key_path == "core_action"
    assert "the core action 'sell' has no rule in rules" in info.value.reason
