"""What every command shares: JSON output, one-line errors (exit code 2) and number formats."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import NoReturn, TypeAlias

import typer
from rich.console import Console
from rich.table import Table

from gamify.errors import GamifyError, ProgramError

__all__ = [
    "BadInput",
    "JSONValue",
    "bad_input",
    "console",
    "decimal_text",
    "emit_json",
    "fail",
    "fmt_amount",
    "fmt_decimal",
    "fmt_percent",
    "jsonable",
    "titled_table",
]

JSONValue: TypeAlias = str | int | float | bool | list["JSONValue"] | dict[str, "JSONValue"] | None

EXIT_BAD_INPUT = 2
_WIDE = Context(prec=100)
_PIPE_WIDTH = 120


class BadInput(Exception):
    """A command-line value the command cannot use (a malformed ``--param``, say)."""


def console(*, stderr: bool = False) -> Console:
    """A rich console (no markup) on stdout or stderr; 120 columns when not a terminal."""
    # No markup: names from files are printed as written ("[vip]" stays "[vip]").
    out = Console(stderr=stderr, highlight=False, markup=False)
    if not out.is_terminal:
        out = Console(stderr=stderr, highlight=False, markup=False, width=_PIPE_WIDTH)
    return out


def decimal_text(value: Decimal) -> str:
    """Plain notation, no exponent, no trailing zeros: ``1E+2`` -> ``"100"``."""
    text = format(value.normalize(_WIDE), "f")
    return "0" if text == "-0" else text


def jsonable(value: object) -> JSONValue:
    """Decimals as exact strings, dates as ISO text, dataclasses and mappings as objects."""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime | date | time):  # TOML dates and times too
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [jsonable(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    raise TypeError(f"cannot convert {type(value).__name__} to JSON")


def emit_json(data: object) -> None:
    """Print ``data`` as indented JSON on stdout, and nothing else."""
    typer.echo(json.dumps(jsonable(data), indent=2, ensure_ascii=False))


def _error_data(exc: BaseException) -> dict[str, JSONValue]:
    data: dict[str, JSONValue] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, ProgramError):
        data.update(file=exc.file, key_path=exc.key_path or None, reason=exc.reason)
    return data


def fail(exc: BaseException, *, as_json: bool) -> NoReturn:
    """Report bad input in one line on stderr (and as JSON on stdout with ``--json``), exit 2."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    if as_json:
        emit_json({"error": _error_data(exc)})
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


@contextmanager
def bad_input(*, as_json: bool) -> Iterator[None]:
    """Turn gamify's typed errors and :class:`BadInput` into :func:`fail`."""
    try:
        yield
    except (GamifyError, BadInput) as exc:
        fail(exc, as_json=as_json)


# -- numbers in tables ------------------------------------------------------------------


def fmt_decimal(value: Decimal | int, places: int = 2) -> str:
    """Thousands separators and ``places`` decimals, rounded half up: ``1,071.45``."""
    quantum = Decimal(1).scaleb(-places)
    return format(Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP), ",f")


def fmt_amount(value: Decimal | int, places: int = 2) -> str:
    """Whole numbers without decimals (``1,000``), others with up to ``places`` (``22.35``)."""
    number = Decimal(value)
    if number == number.to_integral_value():
        return format(number.to_integral_value(), ",f")
    quantum = Decimal(1).scaleb(-places)
    text = format(number.quantize(quantum, rounding=ROUND_HALF_UP), ",f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_percent(share: Decimal | None, places: int = 2) -> str:
    """A fraction as a percentage: ``0.7`` -> ``70.00 %``; ``None`` -> ``-``."""
    if share is None:
        return "-"
    return f"{fmt_decimal(share * 100, places)} %"


def titled_table(title: str, *columns: str, text: Collection[str] | None = None) -> Table:
    """A table titled on the left. With ``text``, the columns it names are left-aligned and
    the others (figures) right-aligned; without it, every column is left-aligned."""
    table = Table(title=title, title_justify="left", title_style="bold")
    for name in columns:
        right = text is not None and name not in text
        table.add_column(name, justify="right" if right else "left")
    return table
