"""``gamify plan``: the points-budget tables and their JSON, checked against hand arithmetic."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

D = Decimal
ECONOMY = Path(__file__).resolve().parents[2] / "examples" / "economy" / "plan.toml"

# A plan small enough to compute by hand:
#   budget 1 a member a month x 10 members x 12 months = 120; target ratio 100
#   segment "all": 10 members, core amount 1,000 a member, 100 check-ins a year at rate 0.5
#   predicted a member = 1,000 x 1 + 100 x 0.5 x 5 = 1,250; the segment 12,500
#   raw ratio 12,500 / 120 = 104.1666...; factor 100 / 104.1666... = 12,000 / 12,500 = 0.96
#   calibrated: purchase 1 x 0.96 = 0.96; check_in 5 x 0.96 = 4.8 -> 5
#   recomputed: 10 x (1,000 x 0.96 + 100 x 0.5 x 5) = 12,100; ratio 12,100 / 120 = 100.8333...
#   non-core share 2,500 / 12,500 = 20 %, target 20 %: no warning
#   prices: 50 cash at ratio 50 -> 2,500; 30 cash at ratio 100 -> 3,000
SMALL = """
name = "small"
core_action = "purchase"
exchange_ratio_target = 100

[budget]
per_active_member = 1
period = "month"

[rules.purchase]
per_amount = 1

[rules.check_in]
fixed = 5

[completion_rates]
check_in = 0.5

[[segments]]
name = "all"
members = 10
core_amount_per_member = 1000
target_noncore_share = 0.2
yearly_counts = { check_in = 100 }

[[catalog]]
name = "coupon"
cash_value = 50
exchange_ratio = 50

[[catalog]]
name = "phone card"
cash_value = 30
"""


def test_small_plan_json_matches_hand_computed_numbers(gamify_cli, write):
    """The JSON carries the hand-computed budget, ratio, factor, calibrated rules and prices."""
    run = gamify_cli("plan", write("plan.toml", SMALL), "--json")
    assert run.exit_code == 0, run.stderr
    data = run.json()
    assert D(data["budget"]) == 120
    assert D(data["issuable_points"]) == 12_000
    assert D(data["total"]["predicted_points"]) == 12_500
    assert D(data["raw_ratio"]) == D(12_500) / D(120)
    factor = D(data["calibration_factor"])
    assert D(data["raw_ratio"]) * factor == 100  # ratio x factor == target
    # The raw ratio is a rounded quotient (28 digits), so the factor is 0.96 to 27 digits.
    assert factor.quantize(D("1e-20")) == D("0.96")
    assert data["calibration_factor_rounded"] == "0.96"
    rules = {r["action"]: r for r in data["rules"]}
    assert D(rules["purchase"]["exact"]) == 1 * factor
    assert D(rules["check_in"]["exact"]) == 5 * factor
    assert D(rules["check_in"]["exact"]).quantize(D("1e-20")) == D("4.8")
    assert D(rules["purchase"]["rounded"]) == D("0.96")
    assert D(rules["check_in"]["rounded"]) == 5
    assert D(data["calibrated_total"]["predicted_points"]) == 12_100
    assert D(data["recomputed_ratio"]) == D(12_100) / D(120)
    assert [(p["name"], p["points"]) for p in data["catalog"]] == [
        ("coupon", 2500),
        ("phone card", 3000),
    ]
    assert data["warnings"] == []


def test_economy_example_json_numbers(gamify_cli):
    """The e-commerce example: ratio x factor is the target, calibrated = raw x factor, prices."""
    run = gamify_cli("plan", ECONOMY, "--json")
    assert run.exit_code == 0, run.stderr
    data = run.json()
    # Budget 1 % of 100,000,000. Predicted a member: low 1,000 + 250x0.8x5 + 3x0.5x300
    # + 10x0.6x20 + 6x0.5x50 = 2,720; high 46,000 + 300x0.8x5 + 6x0.5x300 + 50x0.6x20
    # + 20x0.5x50 = 49,200. Total 8,000 x 2,720 + 2,000 x 49,200 = 120,160,000.
    budget = D(100_000_000) * D("0.01")
    predicted = 8_000 * 2_720 + 2_000 * 49_200
    assert D(data["budget"]) == budget
    assert D(data["total"]["predicted_points"]) == predicted
    raw = D(data["raw_ratio"])
    assert raw == D(predicted) / budget == D("120.16")
    factor = D(data["calibration_factor"])
    assert raw * factor == D(data["target_ratio"]) == 100  # 28-digit context
    assert data["calibration_factor_rounded"] == "0.83"
    for rule in data["rules"]:
        assert D(rule["exact"]) == D(rule["value"]) * factor
    rounded = {r["action"]: D(r["rounded"]) for r in data["rules"]}
    assert rounded == {
        "purchase": D("0.8322"),
        "check_in": 4,
        "referral": 250,
        "review": 17,
        "photo_review": 42,
    }
    # Recomputed from the rounded values: low 1,000x0.8322 + 250x0.8x4 + 3x0.5x250
    # + 10x0.6x17 + 6x0.5x42 = 2,235.2; high 46,000x0.8322 + 300x0.8x4 + 6x0.5x250
    # + 50x0.6x17 + 20x0.5x42 = 40,921.2.
    recomputed = 8_000 * D("2235.2") + 2_000 * D("40921.2")
    assert D(data["calibrated_total"]["predicted_points"]) == recomputed
    assert D(data["recomputed_ratio"]) == recomputed / budget
    prices = {p["name"]: p["points"] for p in data["catalog"]}
    assert prices["coupon 200 minus 50"] == 2500
    assert prices["phone card 30"] == 3000


def test_economy_example_tables_show_the_json_numbers(gamify_cli):
    """The tables print the same figures as the JSON: segments, ratio, factor, rules, prices."""
    run = gamify_cli("plan", ECONOMY)
    assert run.exit_code == 0, run.stderr
    text = run.stdout
    for figure in (
        "1,000,000",  # budget
        "100,000,000",  # maximum issuable
        "21,760,000",  # low-value predicted points
        "98,400,000",  # high-value predicted points
        "120,160,000",  # total predicted
        "120.16",  # raw ratio
        "0.83",  # factor, two decimals
        "0.8322",  # calibrated purchase coefficient
        "99.724",  # recomputed ratio
        "2,500",
        "3,000",
        "15,000",
    ):
        assert figure in text, figure
    assert "off target" in text  # high_value's non-core share is 6.5 % against 30 %
    assert "Warnings" in text


def test_missing_plan_file_exits_2_with_the_file_named(gamify_cli, tmp_path):
    """A plan file that does not exist is bad input: exit code 2, one line naming the file."""
    missing = tmp_path / "nope.toml"
    run = gamify_cli("plan", missing)
    assert run.exit_code == 2
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ")
    assert str(missing) in lines[0]


def test_bad_toml_exits_2(gamify_cli, write):
    """A plan that is not valid TOML is refused with exit code 2."""
    run = gamify_cli("plan", write("plan.toml", "name = [unclosed"))
    assert run.exit_code == 2
    assert "invalid TOML" in run.stderr


def test_invalid_plan_names_key_path_and_reason(gamify_cli, write):
    """A malformed plan names the file, the key path and the reason, also in --json."""
    path = write("plan.toml", SMALL.replace("members = 10", "members = -3"))
    run = gamify_cli("plan", path, "--json")
    assert run.exit_code == 2
    error = run.json()["error"]
    assert error["type"] == "ProgramError"
    assert error["file"] == str(path)
    assert error["key_path"] == "segments[0].members"
    assert error["reason"]
    assert f"{path}: segments[0].members:" in run.stderr


def test_plan_with_no_budget_exits_2(gamify_cli, write):
    """A budget of 0 gives no exchange ratio: bad input, exit code 2."""
    text = SMALL.replace(
        'per_active_member = 1\nperiod = "month"', "share_of_sales = 0.01\nsales = 0"
    )
    path = write("plan.toml", text)
    run = gamify_cli("plan", path)
    assert run.exit_code == 2
    assert f"{path}: budget: the budget is 0" in run.stderr


def test_plan_accepts_the_report_segment_bounds(gamify_cli, write):
    """core_amount_min/max (read by gamify report) are valid in gamify plan too, and do not
    change its figures; a range that holds nothing is refused at its key."""
    plain = gamify_cli("plan", write("plain.toml", SMALL), "--json")
    bounded = SMALL.replace('name = "all"\n', 'name = "all"\ncore_amount_min = 500\n')
    run = gamify_cli("plan", write("plan.toml", bounded), "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json() == plain.json()
    empty = bounded.replace(
        "core_amount_min = 500\n", "core_amount_min = 500\ncore_amount_max = 500\n"
    )
    run = gamify_cli("plan", write("empty.toml", empty))
    assert run.exit_code == 2
    assert (
        "segments[0].core_amount_max: core_amount_max must be above core_amount_min" in run.stderr
    )


def test_economy_example_tables_name_the_plan_its_groups_costs_and_warnings(gamify_cli):
    """The plan's name heads the tables; photo_review pays per group of 3; the total cost a
    member is 997,240 / 10,000 = 99.72; the warning is printed in full."""
    run = gamify_cli("plan", ECONOMY)
    assert run.exit_code == 0, run.stderr
    text = " ".join(run.stdout.split())
    assert run.stdout.startswith("Plan: e-commerce shop\n")
    assert re.search(r"photo_review │ fixed per 3 │ 50 │", text)
    assert re.search(r"total │ 10,000 │ 99,724,000 │ 997,240.00 │ 99.72 │ 99.72 % │", text)
    assert (
        "! segment 'high_value': non-core share 6.50 % is more than 10 percentage points "
        "from its target 30.00 %" in text
    )


def test_a_budget_per_active_member_is_named_so(gamify_cli, write):
    """SMALL: 1 a member a month x 10 members x 12 months = 120 a year."""
    run = gamify_cli("plan", write("plan.toml", SMALL))
    assert run.exit_code == 0, run.stderr
    assert "budget (yearly, an amount per active member): 120\n" in run.stdout
    assert "target exchange ratio: 100 points = 1 unit of money" in run.stdout
    assert "Per action (plan values, yearly)" in run.stdout
    assert run.stdout.rstrip().endswith("No warnings.")  # 20 % non-core against 20 %
