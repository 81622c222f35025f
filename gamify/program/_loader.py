"""Reading program files (TOML, JSON, YAML) and turning failures into ProgramError."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gamify.errors import ProgramError, _shown


def key_path(loc: Sequence[int | str]) -> str:
    """``("rules", 2, "amount")`` -> ``rules[2].amount``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: a key given twice is refused, as TOML
    refuses it, rather than the first one silently dropped."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} is given twice")
        out[key] = value
    return out


class UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a mapping key given twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


@contextmanager
def parser_limits(file: str, what: str) -> Iterator[None]:
    """Failures of a parser beyond syntax, as ProgramError naming ``file``: nesting past the
    interpreter's recursion limit, an integer past its digit limit."""
    try:
        yield
    except ProgramError:
        raise
    except RecursionError:
        raise ProgramError("nested too deeply to read", file=file) from None
    except ValueError as exc:
        raise ProgramError(f"{what}: {exc}", file=file) from exc


def read_mapping(path: str | Path) -> dict[str, Any]:
    """Parse a TOML, JSON or YAML file into a dict, by its suffix."""
    if not isinstance(path, str | os.PathLike):
        raise ProgramError(f"a program file is a path, not {path!r}")
    file = str(path)
    suffix = Path(path).suffix.lower()
    try:
        # utf-8-sig: a byte-order mark (as some Windows editors write) is dropped in every format.
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProgramError(
            f"not UTF-8 text (byte {exc.start} cannot be decoded)", file=file
        ) from exc
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ProgramError(f"cannot read file: {reason}", file=file) from exc
    with parser_limits(file, f"not valid {suffix[1:].upper()}"):
        try:
            if suffix == ".toml":
                data: Any = tomllib.loads(text)
            elif suffix == ".json":
                data = json.loads(text, object_pairs_hook=unique_keys)
            elif suffix in (".yaml", ".yml"):
                data = yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader: plain data only
            else:
                raise ProgramError(
                    f"unsupported file type {suffix or '(none)'!r}: "
                    "use .toml, .json, .yaml or .yml",
                    file=file,
                )
        except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
            raise ProgramError(f"not valid {suffix[1:].upper()}: {exc}", file=file) from exc
    if not isinstance(data, dict):
        raise ProgramError("the top level must be a table of settings", file=file)
    return data


def as_written(loc: Sequence[int | str], data: Any) -> list[int | str]:
    """``loc`` as the file wrote it: a table's keys as keys, even when they are numbers,
    and a table that stands for a list (``conditions = { channel = "app" }``, short for a
    list of tests) named by its key, not by the position of the list item it became."""
    out: list[int | str] = []
    node = data
    for part in loc:
        if part == "[key]":  # pydantic's mark of a table's key: the key itself is the place
            continue
        if isinstance(part, int) and isinstance(node, dict) and part not in node:
            keys = list(node)
            if part < len(keys):
                # The item's own fields (attribute, value) are that key and its value.
                return [*out, str(keys[part])]
        if isinstance(node, dict):
            # A table's key that is no text (YAML reads ``1:`` as a number, ``true:`` as a
            # boolean, which pydantic reports as 1) is named as written.
            part = str(next((key for key in node if key == part), part))
        out.append(part)
        in_table = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        node = node[part] if in_table or in_list else None
    return out


def from_validation_error(exc: ValidationError, file: str | None, data: Any = None) -> ProgramError:
    """The first pydantic error as a ProgramError (file, key path, reason); ``data``, the
    mapping validated, lets the key path follow how the file wrote it."""
    first = exc.errors(include_url=False)[0]
    loc = [p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    path = key_path(as_written(loc, data))
    reason = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] in ("model_type", "dict_type"):
        # Pydantic names its model class ("instance of Action"); a file has tables.
        reason = f"expected a table of settings, not {_shown(first.get('input'))}"
        if first.get("input") is None:
            reason += " (an empty YAML key reads as null: write {} for every key at its default)"
    # Cross-reference checks raise ProgramError with their own key path inside a validator.
    inner = (first.get("ctx") or {}).get("error")
    if isinstance(inner, ProgramError):
        reason = inner.reason
        path = ".".join(p for p in (path, inner.key_path) if p)
    count = exc.error_count()
    if count > 1:
        reason += f" (and {count - 1} more error{'s' if count > 2 else ''})"
    return ProgramError(reason, file=file, key_path=path)
