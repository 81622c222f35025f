"""Program files: one schema in TOML, JSON and YAML; every malformed file names file, key path and
reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

import gamify
from gamify import Program, ProgramError

SHOP_TOML = """
name = "shop"
timezone = "Asia/Shanghai"
week_start = "sunday"
rounding = "half_up"
stacking = "additive"

[actions.purchase]
amount = "required"

[actions.check_in]
amount = "none"

[[rules]]
name = "daily"
action = "check_in"
fixed = 5

[[rules]]
name = "spend"
action = "purchase"
per_amount = 1.5
conditions = { channel = "app" }

[[rules]]
name = "bottles"
action = "purchase"
fixed = 100
per = { attribute = "bottles", size = 5 }

[[multipliers]]
name = "double"
kind = "campaign"
factor = 2
start = 2026-11-27T00:00:00+08:00
end = 2026-11-30T00:00:00+08:00

[[caps]]
name = "daily_points"
limit = 500
period = "day"
"""

SHOP = {
    "name": "shop",
    "timezone": "Asia/Shanghai",
    "week_start": "sunday",
    "rounding": "half_up",
    "stacking": "additive",
    "actions": {"purchase": {"amount": "required"}, "check_in": {"amount": "none"}},
    "rules": [
        {"name": "daily", "action": "check_in", "fixed": 5},
        {
            "name": "spend",
            "action": "purchase",
            "per_amount": 1.5,
            "conditions": {"channel": "app"},
        },
        {
            "name": "bottles",
            "action": "purchase",
            "fixed": 100,
            "per": {"attribute": "bottles", "size": 5},
        },
    ],
    "multipliers": [
        {
            "name": "double",
            "kind": "campaign",
            "factor": 2,
            "start": "2026-11-27T00:00:00+08:00",
            "end": "2026-11-30T00:00:00+08:00",
        }
    ],
    "caps": [{"name": "daily_points", "limit": 500, "period": "day"}],
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> ProgramError:
    with pytest.raises(ProgramError) as info:
        Program.load(path)
    return info.value


@pytest.fixture
def shop_files(tmp_path: Path) -> dict[str, Path]:
    return {
        "toml": write(tmp_path, "shop.toml", SHOP_TOML),
        "json": write(tmp_path, "shop.json", json.dumps(SHOP, indent=2)),
        "yaml": write(tmp_path, "shop.yaml", yaml.safe_dump(SHOP, sort_keys=False)),
        "yml": write(tmp_path, "shop.yml", yaml.safe_dump(SHOP, sort_keys=False)),
    }


# --------------------------------------------------------------------------- loading


def test_toml_json_and_yaml_files_of_one_program_load_equal(shop_files: dict[str, Path]) -> None:
    """The same program written as TOML, JSON, YAML or YML loads to the same Program."""
    programs = {fmt: Program.load(path) for fmt, path in shop_files.items()}
    assert programs["json"] == programs["toml"]
    assert programs["yaml"] == programs["toml"]
    assert programs["yml"] == programs["toml"]


def test_a_loaded_program_holds_the_values_of_the_file(shop_files: dict[str, Path]) -> None:
    """Loading keeps every setting: zone, week start, rounding, stacking, rules, campaign, cap."""
    program = Program.load(shop_files["toml"])
    assert program.timezone == "Asia/Shanghai"
    assert program.week_start == "sunday"
    assert program.week_start_index == 6
    assert program.rounding == "half_up"
    assert program.stacking == "additive"
    assert [r.name for r in program.rules] == ["daily", "spend", "bottles"]
    assert program.rules[0].fixed == Decimal(5)
    assert program.rules[1].per_amount == Decimal("1.5")
    assert [(c.attribute, c.op, c.value) for c in program.rules[1].conditions] == [
        ("channel", "eq", "app")
    ]
    assert program.rules[2].per is not None
    assert (program.rules[2].per.attribute, program.rules[2].per.size) == ("bottles", 5)
    campaign = program.multipliers[0]
    assert campaign.start == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    assert campaign.end == datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
    assert program.caps[0].limit == 500
    assert program.actions["check_in"].amount == "none"


def test_a_path_may_be_given_as_a_string(shop_files: dict[str, Path]) -> None:
    """Program.load takes a str path as well as a Path."""
    assert Program.load(str(shop_files["json"])) == Program.load(shop_files["json"])


def test_float_values_in_json_are_read_as_their_decimal_text(tmp_path: Path) -> None:
    """A JSON rate of 0.1 is the decimal 0.1, not the binary float 0.1000000000000000055..."""
    data = dict(SHOP, rules=[{"name": "spend", "action": "purchase", "per_amount": 0.1}])
    program = Program.load(write(tmp_path, "p.json", json.dumps(data)))
    assert program.rules[0].per_amount == Decimal("0.1")


def test_defaults_fill_what_a_minimal_program_leaves_out() -> None:
    """A program with only a zone has points (spendable) and xp (not), Monday weeks, rounding down,
    compound stacking."""
    program = Program.model_validate({"timezone": "UTC"})
    assert program.currencies["points"].spendable is True
    assert program.currencies["xp"].spendable is False
    settings = (program.week_start, program.rounding, program.stacking)
    assert settings == ("monday", "down", "compound")
    assert program.rules == [] and program.caps == [] and program.multipliers == []


# --------------------------------------------------------------------------- malformed files


def test_bad_toml_syntax_names_the_file_and_the_line(tmp_path: Path) -> None:
    """A file that is not TOML is refused with its path, the words 'not valid TOML' and the line."""
    path = write(tmp_path, "broken.toml", 'timezone = "UTC"\n[[rules]\nname = "x"\n')
    err = load_error(path)
    assert err.file == str(path)
    assert err.key_path == ""
    assert "not valid TOML" in err.reason
    assert "line 2" in err.reason
    assert str(path) in str(err)


def test_bad_json_syntax_names_the_file(tmp_path: Path) -> None:
    """A truncated JSON file is refused with its path and the words 'not valid JSON'."""
    path = write(tmp_path, "broken.json", '{"timezone": "UTC", ')
    err = load_error(path)
    assert err.file == str(path)
    assert "not valid JSON" in err.reason


def test_bad_yaml_syntax_names_the_file(tmp_path: Path) -> None:
    """An unclosed YAML list is refused with its path and the words 'not valid YAML'."""
    path = write(tmp_path, "broken.yaml", "timezone: UTC\nrules: [a, b\n")
    err = load_error(path)
    assert err.file == str(path)
    assert "not valid YAML" in err.reason


def test_a_top_level_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    """A JSON list at the top level is no program: the error says the top level must be a table."""
    err = load_error(write(tmp_path, "list.json", "[1, 2]"))
    assert "top level must be a table" in err.reason


def test_unknown_key_names_its_dotted_path_with_list_index(tmp_path: Path) -> None:
    """A misspelt key inside the third rule is reported at rules[2].<key> as not permitted."""
    text = SHOP_TOML.replace("size = 5 }", "size = 5 }\nbonus = 1")
    path = write(tmp_path, "shop.toml", text)
    err = load_error(path)
    assert (err.file, err.key_path) == (str(path), "rules[2].bonus")
    assert "not permitted" in err.reason
    assert str(err).startswith(f"{path}: rules[2].bonus: ")


def test_wrong_type_names_its_dotted_path_with_list_index(tmp_path: Path) -> None:
    """A fixed award that is not a number is reported at rules[2].fixed as not a valid decimal."""
    text = SHOP_TOML.replace("fixed = 100", 'fixed = "a hundred"')
    path = write(tmp_path, "shop.toml", text)
    err = load_error(path)
    assert (err.file, err.key_path) == (str(path), "rules[2].fixed")
    assert "decimal" in err.reason


def test_unknown_key_in_a_nested_table_names_the_table_path(tmp_path: Path) -> None:
    """A wrong value in an action table is reported at actions.<name>.amount."""
    text = SHOP_TOML.replace('amount = "none"', 'amount = "never"')
    err = load_error(write(tmp_path, "shop.toml", text))
    assert err.key_path == "actions.check_in.amount"
    assert "'none'" in err.reason


def test_rule_on_an_undeclared_action_names_the_rule(tmp_path: Path) -> None:
    """A rule watching an action the program does not declare is reported at rules[i].action."""
    text = SHOP_TOML.replace('action = "check_in"', 'action = "check_out"')
    path = write(tmp_path, "shop.toml", text)
    err = load_error(path)
    assert (err.file, err.key_path) == (str(path), "rules[0].action")
    assert "unknown action 'check_out'" in err.reason


def test_cap_on_an_undeclared_action_names_the_cap(tmp_path: Path) -> None:
    """A cap on an action the program does not declare is reported at caps[i].action."""
    text = SHOP_TOML + '\n[[caps]]\nname = "x"\nlimit = 5\naction = "check_out"\n'
    err = load_error(write(tmp_path, "shop.toml", text))
    assert err.key_path == "caps[1].action"
    assert "unknown action" in err.reason


def test_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    """A zone that is not an IANA name is reported at 'timezone'."""
    text = SHOP_TOML.replace('"Asia/Shanghai"', '"Mars/Olympus_Mons"')
    err = load_error(write(tmp_path, "shop.toml", text))
    assert err.key_path == "timezone"
    assert "unknown IANA time zone 'Mars/Olympus_Mons'" in err.reason


@pytest.mark.parametrize("name", ["localtime", "posixrules", "right/Asia/Shanghai"])
def test_names_that_stand_for_the_servers_zone_are_refused(tmp_path: Path, name: str) -> None:
    """ "localtime" is in the zone database but means whatever zone the server is set to, so
    local days would move with the machine; "right/..." zones count leap seconds. Neither is
    a zone a program can name."""
    err = load_error(
        write(tmp_path, "shop.toml", SHOP_TOML.replace('"Asia/Shanghai"', f'"{name}"'))
    )
    assert err.key_path == "timezone"
    assert f"unknown IANA time zone {name!r}" in err.reason


def test_a_member_cannot_be_put_in_the_servers_zone() -> None:
    """set_member refuses "localtime" with the typed error and stores nothing."""
    engine = gamify.Engine(Program.from_dict(SHOP))
    with pytest.raises(gamify.InvalidEventError, match="localtime"):
        engine.set_member("m", timezone="localtime")
    assert list(engine.store.member_ids()) == []


def test_missing_time_zone_is_refused(tmp_path: Path) -> None:
    """A program without a zone cannot count local days: 'timezone' is reported as required."""
    text = SHOP_TOML.replace('timezone = "Asia/Shanghai"\n', "")
    err = load_error(write(tmp_path, "shop.toml", text))
    assert err.key_path == "timezone"
    assert "required" in err.reason.lower()


def test_unsupported_suffix_is_refused(tmp_path: Path) -> None:
    """A .txt file is refused and the error lists the suffixes that work."""
    path = write(tmp_path, "shop.txt", SHOP_TOML)
    err = load_error(path)
    assert err.file == str(path)
    assert "'.txt'" in err.reason
    assert ".toml" in err.reason and ".json" in err.reason and ".yaml" in err.reason


def test_missing_file_is_refused(tmp_path: Path) -> None:
    """A path that does not exist is a ProgramError naming it, not an OSError."""
    path = tmp_path / "nowhere.toml"
    err = load_error(path)
    assert err.file == str(path)
    assert "cannot read" in err.reason


@pytest.mark.parametrize(
    ("suffix", "text"),
    [
        (".toml", 'timezone = "Asia/Tokyo"\n'),
        (".json", '{"timezone": "Asia/Tokyo"}'),
        (".yaml", "timezone: Asia/Tokyo\n"),
    ],
)
def test_a_byte_order_mark_is_read_alike_in_every_format(
    tmp_path: Path, suffix: str, text: str
) -> None:
    """One schema, three formats: a UTF-8 file saved with a byte-order mark (as some Windows
    editors write it) loads in TOML and JSON as it does in YAML."""
    path = tmp_path / f"bom{suffix}"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert Program.load(path).timezone == "Asia/Tokyo"


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    """Undecodable bytes are a ProgramError naming the file, not a UnicodeDecodeError."""
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'name = "caf\xe9"\n')
    err = load_error(path)
    assert err.file == str(path)
    assert "not UTF-8" in err.reason


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("deep.yaml", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("deep.toml", "a = " + "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("huge.json", '{"late_event_days": ' + "9" * 5000 + "}", "not valid JSON"),
    ],
)
def test_a_file_the_parser_cannot_hold_is_a_program_error(
    tmp_path: Path, name: str, text: str, reason: str
) -> None:
    """Nesting past the interpreter's recursion limit, integers past its digit limit."""
    path = tmp_path / name
    path.write_text(text)
    err = load_error(path)
    assert err.file == str(path)
    assert reason in err.reason


@pytest.mark.parametrize("where", ["shop\x00.toml", None, 42])
def test_a_path_that_is_no_path_is_a_program_error(where: object) -> None:
    with pytest.raises(ProgramError, match=r"cannot read file|is a path"):
        Program.load(where)  # type: ignore[arg-type]


def test_a_campaign_without_an_end_is_refused() -> None:
    """A campaign needs both start and end; the error points at the multiplier."""
    data = dict(
        SHOP,
        multipliers=[
            {"name": "x", "kind": "campaign", "factor": 2, "start": "2026-11-27T00:00:00+08:00"}
        ],
    )
    with pytest.raises(ProgramError) as info:
        Program.from_dict(data)
    assert info.value.key_path == "multipliers[0]"
    assert "'start' and 'end'" in info.value.reason
    assert info.value.file is None


def test_a_naive_campaign_start_is_refused() -> None:
    """Campaign instants must carry a zone: a naive start is reported at multipliers[0].start."""
    data = dict(
        SHOP,
        multipliers=[
            {
                "name": "x",
                "kind": "campaign",
                "factor": 2,
                "start": "2026-11-27T00:00:00",
                "end": "2026-11-30T00:00:00+08:00",
            }
        ],
    )
    with pytest.raises(ProgramError) as info:
        Program.from_dict(data)
    assert info.value.key_path == "multipliers[0].start"


def test_a_rule_needs_exactly_one_award() -> None:
    """A rule with both fixed and per_amount is refused at rules[i]."""
    rules = [{"name": "x", "action": "purchase", "fixed": 1, "per_amount": 2}]
    with pytest.raises(ProgramError) as info:
        Program.from_dict(dict(SHOP, rules=rules))
    assert info.value.key_path == "rules[0]"
    assert "exactly one" in info.value.reason


def test_a_negative_award_is_refused() -> None:
    """A fixed award below zero is refused."""
    rules = [{"name": "x", "action": "purchase", "fixed": -5}]
    with pytest.raises(ProgramError, match="'fixed' must be a finite number >= 0"):
        Program.from_dict(dict(SHOP, rules=rules))


def test_a_program_error_is_a_value_error() -> None:
    """Callers that catch ValueError also catch a malformed program."""
    with pytest.raises(ValueError):
        Program.from_dict({"timezone": "Nowhere/Land"})


def test_two_caps_with_one_name_are_refused() -> None:
    """Cap counters are kept by cap name, so a second cap with the same name is refused at
    caps[1].name."""
    caps = [
        {"name": "daily", "limit": 10, "period": "day", "action": "purchase"},
        {"name": "daily", "limit": 10, "period": "day", "action": "check_in"},
    ]
    with pytest.raises(ProgramError) as info:
        Program.from_dict(dict(SHOP, caps=caps))
    assert info.value.key_path == "caps[1].name"
    assert "duplicate cap name 'daily'" in info.value.reason


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("twice.json", '{"timezone": "UTC", "badges": {}, "badges": {}}'),
        ("twice.yaml", "timezone: UTC\nbadges: {}\nbadges: {}\n"),
        ("nested.yaml", "timezone: UTC\nactions:\n  buy: {}\n  buy: {amount: none}\n"),
    ],
)
def test_a_key_given_twice_is_refused_in_every_format(tmp_path: Path, name: str, text: str) -> None:
    """TOML refuses it; JSON and YAML would keep the last one and drop the first unseen."""
    path = tmp_path / name
    path.write_text(text)
    err = load_error(path)
    assert err.file == str(path)
    assert "is given twice" in err.reason


@pytest.mark.parametrize(
    ("text", "key_path", "reason"),
    [
        ('[[caps]]\nname = "day"\nlimit = true\nperiod = "day"\n', "caps[0].limit", "number"),
        ("late_event_days = false\n", "late_event_days", "number"),
        ('[currencies.points]\nspendable = "yes"\n', "currencies.points.spendable", "true or"),
        ("[currencies.points]\nspendable = 1\n", "currencies.points.spendable", "true or"),
    ],
)
def test_booleans_and_numbers_are_not_mistaken_for_each_other(
    tmp_path: Path, text: str, key_path: str, reason: str
) -> None:
    """`limit = true` is not a limit of 1, and `spendable = "yes"` or `1` is not true: each
    is refused at its key path, naming the file."""
    base = 'timezone = "UTC"\n[actions.buy]\n[[rules]]\nname = "r"\naction = "buy"\nfixed = 5\n'
    if text.startswith("late_event_days"):
        base, text = text + base, ""
    error = load_error(write(tmp_path, "program.toml", base + text))
    assert error.key_path == key_path
    assert reason in str(error)
    assert "program.toml" in str(error)


@pytest.mark.parametrize(
    ("extra", "key_path", "reason"),
    [
        (
            {
                "badges": {
                    "b": {
                        "metric": "count",
                        "action": "purchase",
                        "threshold": 1,
                        "reward": {"points": True},
                    }
                }
            },
            "badges.b.reward",
            "'points': a number is needed, not true",
        ),
        (
            {"levels": {"curve": "table", "thresholds": [0, True, 5]}},
            "levels.thresholds",
            "a number is needed, not true",
        ),
        (
            {"levels": {"curve": "linear", "params": {"step": "1e13"}, "max_level": 2}},
            "levels.params",
            "must lie between 1e-12 and 1e12, not 1E+13",
        ),
        (
            {"rules": [{"name": "r", "action": "purchase", "fixed": "1e13"}]},
            "rules[0].fixed",
            "must lie between 1e-12 and 1e12",
        ),
    ],
)
def test_values_inside_tables_and_lists_are_checked_too(
    extra: dict[str, Any], key_path: str, reason: str
) -> None:
    """A reward of true is not 1 point, a threshold of true not 1 XP, and a curve parameter
    is held to the range of every other number; each error names its key."""
    with pytest.raises(ProgramError) as info:
        Program.from_dict({**SHOP, **extra})
    assert info.value.key_path == key_path
    assert reason in str(info.value)


def test_numbers_written_as_text_and_real_booleans_still_load() -> None:
    """A quoted number ("5") reads as the number, and true/false as flags."""
    program = Program.from_dict(
        dict(
            SHOP,
            caps=[{"name": "day", "limit": "5", "period": "day"}],
            currencies={"points": {"spendable": True}, "xp": {"spendable": False}},
        )
    )
    assert program.caps[0].limit == 5
    assert program.currencies["points"].spendable is True


def test_a_program_is_frozen_and_varied_through_its_data() -> None:
    """docs/program.md: a setting cannot be reassigned; a varied copy is validated again
    from the program's data, and the original stays as it was."""
    program = gamify.Program.from_dict({"timezone": "UTC", "actions": {"buy": {}}})
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        program.name = "x"  # type: ignore[misc]
    varied = gamify.Program.from_dict({**program.model_dump(), "name": "x"})
    assert (varied.name, list(varied.actions), program.name) == ("x", ["buy"], "program")
    with pytest.raises(gamify.ProgramError, match="unknown IANA"):
        gamify.Program.from_dict({**program.model_dump(), "timezone": "Mars/Base"})


@pytest.mark.parametrize("suffix", [".toml", ".json", ".yaml"])
def test_numbers_read_exactly_as_the_page_says(tmp_path: Path, suffix: str) -> None:
    """docs/program.md 'How values are written': a float up to 15 significant digits reads
    exactly; a longer one is rounded by the parser's float, and a string keeps every digit."""
    rules = [
        ("short", "0.123456789012345"),
        ("long", "0.12345678901234567890"),
        ("text", '"0.12345678901234567890"'),
    ]
    if suffix == ".toml":
        text = 'timezone = "UTC"\n[actions.a]\n' + "".join(
            f'[[rules]]\nname = "{n}"\naction = "a"\nper_amount = {v}\n' for n, v in rules
        )
    else:
        body = ", ".join(f'{{"name": "{n}", "action": "a", "per_amount": {v}}}' for n, v in rules)
        text = f'{{"timezone": "UTC", "actions": {{"a": {{}}}}, "rules": [{body}]}}'
    path = tmp_path / f"numbers{suffix}"
    path.write_text(text, encoding="utf-8")
    read = {rule.name: rule.per_amount for rule in Program.load(path).rules}
    assert read == {
        "short": Decimal("0.123456789012345"),
        "long": Decimal("0.12345678901234568"),
        "text": Decimal("0.12345678901234567890"),
    }


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        (
            "timezone: UTC\nactions:\n  workout:\n",
            "actions.workout",
            "expected a table of settings, not None (an empty YAML key reads as null: "
            "write {} for every key at its default)",
        ),
        ("timezone: UTC\nlevels: 5\n", "levels", "expected a table of settings, not 5"),
        ("timezone: UTC\nactions: [a, b]\n", "actions", "expected a table of settings"),
    ],
)
def test_a_value_where_a_table_belongs_is_named_in_file_terms(
    tmp_path: Path, text: str, where: str, reason: str
) -> None:
    """A scalar or list (or an empty YAML key) where a table belongs says a table is
    expected, in the file's words rather than the model's class names."""
    path = tmp_path / "program.yaml"
    path.write_text(text, encoding="utf-8")
    err = load_error(path)
    assert err.key_path == where
    assert err.reason.startswith(reason)
    assert "instance of" not in err.reason
