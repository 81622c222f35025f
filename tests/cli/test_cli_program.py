"""``gamify program check``: validation with file, key path and reason; a summary of sections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import gamify

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

PROGRAM = """
name = "shop"
timezone = "Europe/Paris"

[actions.purchase]
amount = "required"

[actions.check_in]
amount = "none"

[[rules]]
name = "purchase_points"
action = "purchase"
per_amount = 1

[[rules]]
name = "check_in_points"
action = "check_in"
fixed = 5

[[caps]]
name = "daily_check_in"
action = "check_in"
period = "day"
limit = 5

[levels]
curve = "medium_fast"
max_level = 20
currency = "points"

[streaks.daily]
actions = ["check_in"]

[badges.first_purchase]
metric = "count"
action = "purchase"
threshold = 1
reward = { points = 50 }
"""


def test_check_summarises_a_valid_program(gamify_cli, write):
    """A valid program prints its sections: actions, rules, caps, curve, streaks, badges."""
    run = gamify_cli("program", "check", write("shop.toml", PROGRAM))
    assert run.exit_code == 0, run.stderr
    text = run.stdout
    assert "is a valid program: shop" in text
    for word in (
        "purchase_points",
        "amount × 1",
        "check_in_points",
        "5 fixed",
        "daily_check_in",
        "medium_fast",
        "levels 1..20",
        "8,000 XP for level 20",  # medium fast: 20^3
        "first_purchase",
        "50 points",
        "daily",
    ):
        assert word in text, word


def test_check_json_counts_sections(gamify_cli, write):
    """--json prints only JSON: counts per section and the level curve."""
    run = gamify_cli("program", "check", write("shop.toml", PROGRAM), "--json")
    assert run.exit_code == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["valid"] is True
    assert data["name"] == "shop"
    assert data["timezone"] == "Europe/Paris"
    counts = data["counts"]
    assert (counts["actions"], counts["rules"], counts["caps"]) == (2, 2, 1)
    assert (counts["streaks"], counts["badges"], counts["tiers"]) == (1, 1, 0)
    assert data["level_curve"] == {
        "family": "medium_fast",
        "params": {},
        "max_level": 20,
        "currency": "points",
        "xp_at_max_level": 8000,
    }
    assert data["simulation"] is None


@pytest.mark.parametrize("name", ["fitness", "beauty_store"])
def test_check_examples(gamify_cli, name):
    """The shipped example programs are valid."""
    path = EXAMPLES / name / "program.toml"
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout")
    run = gamify_cli("program", "check", path, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["valid"] is True


def test_simulation_table_is_allowed_and_summarised(gamify_cli, write):
    """A [simulation] table (behaviour for `gamify simulate`) is not a program error."""
    text = (
        PROGRAM
        + """
[[simulation.segments]]
name = "regulars"
share = 1
[simulation.segments.actions.check_in]
probability = 0.5
"""
    )
    run = gamify_cli("program", "check", write("shop.toml", text), "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["simulation"] == {"segments": ["regulars"]}


def test_a_simulation_table_is_flagged_as_unloadable_by_an_app(gamify_cli, write):
    """The check passes a [simulation] table for the command-line tools, and warns that
    Program.load (and so an app's engine) refuses the same file."""
    text = PROGRAM + '[[simulation.segments]]\nname = "all"\nshare = 1\n'
    path = write("shop.toml", text)
    run = gamify_cli("program", "check", path)
    assert run.exit_code == 0, run.stderr
    assert "Program.load and gamify.Engine refuse a file holding it" in " ".join(run.stdout.split())
    with pytest.raises(gamify.ProgramError, match="simulation: Extra inputs"):
        gamify.Program.load(path)
    plain = gamify_cli("program", "check", write("plain.toml", PROGRAM))
    assert "Program.load" not in plain.stdout


def test_missing_file_exits_2(gamify_cli, tmp_path):
    """A program file that does not exist: exit code 2 and a one-line message naming it."""
    run = gamify_cli("program", "check", tmp_path / "none.toml")
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1
    assert "none.toml: cannot read file" in run.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["program", "check", "FILE"],
        ["curve", "show", "FILE"],
        ["simulate", "FILE", "--members", "2", "--days", "1"],
        ["report", "--store", "memory://", "--program", "FILE"],
    ],
)
def test_a_program_file_that_is_not_utf8_exits_2(gamify_cli, tmp_path, command):
    """Every command reading a program file reports undecodable bytes with exit code 2."""
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'name = "caf\xe9"\n')
    run = gamify_cli(*(path if arg == "FILE" else arg for arg in command))
    assert run.exit_code == 2
    assert "latin1.toml: not UTF-8 text" in run.stderr


def test_bad_toml_exits_2(gamify_cli, write):
    """Unparseable TOML names the file and says it is not valid TOML."""
    run = gamify_cli("program", "check", write("bad.toml", "timezone = 'UTC\n"))
    assert run.exit_code == 2
    assert "bad.toml" in run.stderr and "not valid TOML" in run.stderr


def test_validation_error_names_file_key_path_and_reason(gamify_cli, write):
    """A program error names the file, the dotted key path with list indices, and the reason."""
    path = write(
        "shop.toml",
        PROGRAM.replace('action = "check_in"\nfixed = 5', 'action = "checkin"\nfixed = 5'),
    )
    run = gamify_cli("program", "check", path, "--json")
    assert run.exit_code == 2
    error = run.json()["error"]
    assert error["file"] == str(path)
    assert error["key_path"] == "rules[1].action"
    assert "checkin" in error["reason"]
    assert f"{path}: rules[1].action: " in run.stderr


def test_bad_simulation_table_names_its_key_path(gamify_cli, write):
    """An unknown action in the simulation table is reported under simulation.segments[i]."""
    text = (
        PROGRAM
        + """
[[simulation.segments]]
name = "regulars"
share = 1
[simulation.segments.actions.dance]
probability = 0.5
"""
    )
    run = gamify_cli("program", "check", write("shop.toml", text))
    assert run.exit_code == 2
    assert "simulation.segments[0].actions.dance: unknown action 'dance'" in run.stderr


def test_unknown_extension_exits_2(gamify_cli, write):
    """Only .toml, .json, .yaml and .yml files are read."""
    run = gamify_cli("program", "check", write("shop.ini", PROGRAM))
    assert run.exit_code == 2
    assert "unsupported file type" in run.stderr


def test_yaml_program(gamify_cli, write):
    """YAML files hold the same schema."""
    text = "name: tiny\ntimezone: UTC\nactions:\n  visit:\n    amount: none\n"
    run = gamify_cli("program", "check", write("tiny.yaml", text), "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["counts"]["actions"] == 1


def test_tiers_and_other_sections_are_listed(gamify_cli, write):
    """Sections beyond the earning and game ones (tiers, referral, ...) are summarised too."""
    from gamify.program import Program

    if "tiers" not in Program.model_fields:
        pytest.skip("this program model has no tiers yet")
    text = (
        PROGRAM
        + """
[tiers]
metric = "amount"
action = "purchase"
levels = [
    { name = "regular", threshold = 0 },
    { name = "gold", threshold = 5000, multiplier = 1.5 },
]
"""
    )
    path = write("shop.toml", text)
    run = gamify_cli("program", "check", path)
    assert run.exit_code == 0, run.stderr
    assert "Tiers" in run.stdout and "gold" in run.stdout and "1.5" in run.stdout
    data = gamify_cli("program", "check", path, "--json").json()
    assert data["counts"]["tiers"] == 2
    assert "tiers" in data["other_sections"]


def test_check_shows_per_group_awards_and_a_multipliers_default_rules(gamify_cli, write):
    """A rule paying per group of an attribute says so, and a multiplier without ``rules``
    names its default: the rules paying points (XP only when listed)."""
    program = """
timezone = "UTC"
[actions.buy]
[[rules]]
name = "bottles"
action = "buy"
fixed = 100
per = { attribute = "bottles", size = 5 }
[[rules]]
name = "buy_xp"
action = "buy"
currency = "xp"
fixed = 10
[[multipliers]]
name = "vip"
kind = "tag"
tag = "vip"
factor = 2
"""
    run = gamify_cli("program", "check", write("shop.toml", program))
    assert run.exit_code == 0, run.stderr
    text = " ".join(run.stdout.split())
    assert "100 fixed per 5 bottles" in text
    assert "every points rule" in text


def test_a_section_the_file_sets_is_summarised_even_at_its_defaults():
    """The summary lists the sections a file sets (or that differ from their defaults):
    `[redemption]` with the default ratio is listed; without it, nothing is."""
    from gamify import Program
    from gamify.cli._program import summarise

    base = {"timezone": "UTC", "actions": {"buy": {}}}
    with_section = {**base, "redemption": {"exchange_ratio": 100}}
    assert summarise(Program.from_dict(with_section), None)["other_sections"] == ["redemption"]
    assert summarise(Program.from_dict(base), None)["other_sections"] == []
