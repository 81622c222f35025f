"""docs/program.md documents every key of the program model, and its complete examples load.

Conventions of the reference that this test relies on:

- every key appears in the page as inline code (`` `late_event_days` ``);
- each model's field table follows a ``<!-- model: Name -->`` comment and has the
  header ``| key | type | default | meaning |``; its first column lists exactly the
  model's keys, and its default column reads ``required``, ``not set`` (a default of
  ``None``) or, for a scalar or empty default, that default as a TOML literal in
  inline code;
- every ```` ```toml ```` block is valid TOML; a block whose first line is
  ``# complete program`` is a whole program and must validate.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from gamify import Program, ProgramError, simulation

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "program.md"
DOC = DOC_PATH.read_text(encoding="utf-8")
COMPLETE = "# complete program"
FIELD_HEADER = ["key", "type", "default", "meaning"]
MARKER = re.compile(r"^<!-- model: (\w+) -->$", re.MULTILINE)
TOML_BLOCK = re.compile(r"^```toml\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The pydantic models in an annotation, through Optional, unions, list, dict and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from _models_in(arg)


def reachable_models(root: type[BaseModel] = Program) -> dict[str, type[BaseModel]]:
    """``root`` and every model reachable from its fields, by class name."""
    found: dict[str, type[BaseModel]] = {}
    todo = [root]
    while todo:
        model = todo.pop()
        if model.__name__ in found:
            assert found[model.__name__] is model, f"two models named {model.__name__}"
            continue
        found[model.__name__] = model
        for info in model.model_fields.values():
            todo.extend(_models_in(info.annotation))
    return found


def file_key(name: str, info: FieldInfo) -> str:
    """The key a designer writes: the field's alias if it has one."""
    return info.alias or name


def keys_of(model: type[BaseModel]) -> dict[str, FieldInfo]:
    return {file_key(name, info): info for name, info in model.model_fields.items()}


MODELS = reachable_models()


def _cells(row: str) -> list[str]:
    """The cells of a Markdown table row; a ``|`` inside inline code does not split."""
    cells, current, in_code = [], "", False
    for char in row.strip().strip("|"):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append(current.strip())
            current = ""
        else:
            current += char
    cells.append(current.strip())
    return cells


def field_tables() -> dict[str, list[list[str]]]:
    """Each ``<!-- model: Name -->`` marker's table rows (header and separator excluded)."""
    tables: dict[str, list[list[str]]] = {}
    for match in MARKER.finditer(DOC):
        name = match.group(1)
        assert name not in tables, f"two field tables for model {name}"
        lines = DOC[match.end() :].lstrip("\n").splitlines()
        assert _cells(lines[0]) == FIELD_HEADER, f"the table of {name} has header {lines[0]!r}"
        rows = []
        for line in lines[2:]:
            if not line.startswith("|"):
                break
            rows.append(_cells(line))
        tables[name] = rows
    return tables


TABLES = field_tables()


def toml_blocks() -> list[tuple[int, str]]:
    """Every ```toml block with the line it starts on."""
    return [(DOC.count("\n", 0, m.start()) + 1, m.group(1)) for m in TOML_BLOCK.finditer(DOC)]


BLOCKS = toml_blocks()
COMPLETE_BLOCKS = [(line, text) for line, text in BLOCKS if text.startswith(COMPLETE + "\n")]


def test_the_walk_reaches_every_section() -> None:
    """A sanity check on the walk itself, so the tests below cannot pass vacuously."""
    expected = {
        "Program",
        "Currency",
        "Action",
        "Rule",
        "Condition",
        "PerGroup",
        "Validity",
        "Multiplier",
        "Cap",
        "Levels",
        "Streak",
        "Milestone",
        "Freeze",
        "Repair",
        "Badge",
        "BadgeTier",
        "Tiers",
        "Tier",
        "Referral",
        "Renewal",
        "Redemption",
        "CatalogReward",
        "Challenge",
        "Goal",
    }
    assert expected <= set(MODELS)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_key_appears_as_inline_code(model: str) -> None:
    missing = [key for key in keys_of(MODELS[model]) if f"`{key}`" not in DOC]
    assert not missing, f"docs/program.md does not mention {model} keys {missing}"


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_has_a_field_table_of_exactly_its_keys(model: str) -> None:
    assert model in TABLES, f"docs/program.md has no '<!-- model: {model} -->' field table"
    documented = [row[0] for row in TABLES[model]]
    expected = [f"`{key}`" for key in keys_of(MODELS[model])]
    assert len(documented) == len(set(documented)), f"{model}: a key is listed twice"
    assert not set(expected) - set(documented), f"{model}: undocumented keys"
    assert not set(documented) - set(expected), f"{model}: documented keys the model lacks"


def test_every_field_table_names_a_model() -> None:
    assert not set(TABLES) - set(MODELS)


def _same(literal: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(literal, bool):
        return literal is default
    if isinstance(default, int | Decimal):
        return isinstance(literal, int | float) and Decimal(str(literal)) == default
    return type(literal) is type(default) and literal == default


def _check_default(model: str, key: str, info: FieldInfo, cell: str) -> str | None:
    """What is wrong with the documented default ``cell``, or None."""
    if info.is_required():
        return None if cell == "required" else f"{model}.{key}: write 'required', not {cell!r}"
    if info.default_factory is not None or isinstance(info.default, BaseModel):
        return None  # described in words
    if info.default is None:
        return None if cell == "not set" else f"{model}.{key}: write 'not set', not {cell!r}"
    match = re.fullmatch(r"`([^`]+)`", cell)
    if match is None:
        return f"{model}.{key}: the default {info.default!r} must be an inline TOML literal"
    literal = tomllib.loads(f"v = {match.group(1)}")["v"]
    if not _same(literal, info.default):
        return f"{model}.{key}: documented {cell}, the model says {info.default!r}"
    return None


@pytest.mark.parametrize("model", sorted(MODELS))
def test_documented_defaults_match_the_model(model: str) -> None:
    keys = keys_of(MODELS[model])
    problems = [
        _check_default(model, row[0].strip("`"), keys[row[0].strip("`")], row[2])
        for row in TABLES.get(model, [])
        if row[0].strip("`") in keys
    ]
    assert not [p for p in problems if p]


@pytest.mark.parametrize(("line", "text"), BLOCKS, ids=[f"line{line}" for line, _ in BLOCKS])
def test_every_toml_block_is_valid_toml(line: int, text: str) -> None:
    tomllib.loads(text)


def test_there_is_a_complete_program() -> None:
    assert COMPLETE_BLOCKS, f"no ```toml block starts with {COMPLETE!r}"


@pytest.mark.parametrize(
    ("line", "text"), COMPLETE_BLOCKS, ids=[f"line{line}" for line, _ in COMPLETE_BLOCKS]
)
def test_complete_programs_validate(line: int, text: str) -> None:
    program = Program.from_dict(tomllib.loads(text), file=f"docs/program.md:{line}")
    assert isinstance(program, Program)


SIMULATION_BLOCKS = [text for _, text in BLOCKS if text.startswith("[simulation]\n")]


def test_the_documented_simulation_table_drives_a_simulation(tmp_path: Path) -> None:
    """The '[simulation]' example of the page, in a program file beside the actions it
    names, loads as the simulator reads it and runs; the same table refuses a misspelt
    action with the key path the page shows, and Program.load refuses the table."""
    assert len(SIMULATION_BLOCKS) == 1
    program_text = (
        'timezone = "Europe/Berlin"\n'
        '[actions.purchase]\namount = "required"\n[actions.check_in]\namount = "none"\n'
        '[[rules]]\nname = "spend"\naction = "purchase"\nper_amount = 1\n'
    )
    path = tmp_path / "shop.toml"
    path.write_text(program_text + SIMULATION_BLOCKS[0], encoding="utf-8")
    program, behaviour = simulation.load_program(path)
    assert behaviour is not None
    assert [(s.name, s.share) for s in behaviour.segments] == [
        ("casual", Decimal("0.8")),
        ("fans", Decimal("0.2")),
    ]
    result = simulation.simulate(program, members=20, days=3, behaviour=behaviour)
    assert result.events > 0
    with pytest.raises(ProgramError, match="simulation: Extra inputs are not permitted"):
        Program.load(path)
    path.write_text(
        program_text + SIMULATION_BLOCKS[0].replace("actions.purchase]", "actions.purchse]"),
        encoding="utf-8",
    )
    with pytest.raises(ProgramError) as caught:
        simulation.load_program(path)
    assert caught.value.key_path == "simulation.segments[0].actions.purchse"
    assert caught.value.reason.startswith("unknown action 'purchse'")
