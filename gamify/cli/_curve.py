"""``gamify curve show`` and ``gamify curve plot``: level curves as tables and charts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gamify._numbers import sized
from gamify.cli._output import (
    BadInput,
    bad_input,
    console,
    decimal_text,
    emit_json,
    titled_table,
)
from gamify.components import curves
from gamify.components.curves import FAMILIES, LevelCurve, build_curve
from gamify.errors import ProgramError
from gamify.simulation import load_program

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["LabelledCurve", "build_figure", "days_to_reach", "plot", "resolve_curves", "show"]

PLOT_EXTRA_HINT = "pip install 'gamify-sdk[plot]'"
# Overlaid curves differ by marker (and line style after six), not only by colour.
_MARKERS = ("o", "s", "^", "D", "v", "x")
_LINES = ("-", "--", ":")


@dataclass(frozen=True, slots=True)
class LabelledCurve:
    label: str
    curve: LevelCurve
    source: str | None
    """The program file it came from, or None for a ``--family`` curve."""


# A table's cumulative XP per level, written as ``thresholds=0,100,250`` both in
# ``--param`` and inline in ``--family table:thresholds=0,100,250``.
THRESHOLDS = "thresholds"
_TABLE_EXAMPLE = "thresholds=0,100,250"
# A table label shows at most this many thresholds (the first ones and the last).
_LABEL_THRESHOLDS = 6


@dataclass(slots=True)
class _Spec:
    """One ``--family``: its name, numeric parameters and, for a table, its thresholds."""

    name: str
    params: dict[str, Decimal]
    thresholds: tuple[int, ...] | None = None


def _family_parameters(family: str) -> tuple[str, ...]:
    if family == "table":
        return (THRESHOLDS,)
    return curves.PARAMETERS.get(family, ())


def _number(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise BadInput(f"{what}: {text.strip()!r} is not a number") from None
    if not value.is_finite():
        raise BadInput(f"{what}: {text.strip()!r} is not a finite number")
    if not sized(value, 30):
        raise BadInput(f"{what}: {text.strip()!r} must lie between 1e-30 and 1e30")
    return value


def _split(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or (name.strip() != THRESHOLDS and not value.strip()):
        raise BadInput(
            f"bad {option} {text!r}: expected NAME=NUMBER, e.g. step=100 "
            f"(a table's cumulative XP per level: {_TABLE_EXAMPLE})"
        )
    return name.strip(), value


def _thresholds(values: Sequence[str], what: str) -> tuple[int, ...]:
    """The comma-separated items of ``thresholds=0,100,250`` as integers."""
    if not any(v.strip() for v in values):
        raise BadInput(
            f"{what}: thresholds= needs the cumulative XP of each level from level 1, "
            f"e.g. {_TABLE_EXAMPLE}"
        )
    out: list[int] = []
    for item in values:
        text = item.strip()
        if not text:
            raise BadInput(f"{what}: an empty threshold; write e.g. {_TABLE_EXAMPLE}")
        if len(text.split()) > 1:
            raise BadInput(
                f"{what}: {text!r} is not a number; separate thresholds with commas, "
                f"e.g. {_TABLE_EXAMPLE}"
            )
        value = _number(text, what)
        if value != value.to_integral_value():
            raise BadInput(f"{what}: threshold {text!r} is not a whole number of XP")
        out.append(int(value))
    return tuple(out)


def _set(spec: _Spec, key: str, raw: str, option: str, text: str) -> None:
    """Give ``spec`` the parameter ``key`` written as ``raw`` (a list for thresholds)."""
    if key == THRESHOLDS:
        spec.thresholds = _thresholds(raw.split(","), f"bad {option} {text!r}")
    else:
        spec.params[key] = _number(raw, f"bad {option} {text!r}")


def _family_spec(text: str) -> _Spec:
    """``polynomial:a=2,p=3`` -> ``polynomial`` with ``{"a": 2, "p": 3}``.

    In ``table:thresholds=0,100,250`` the items after ``thresholds=`` that name no
    parameter (they have no ``=``) are the next thresholds.
    """
    name, _, inline = text.partition(":")
    name = name.strip()
    if name not in FAMILIES:
        raise BadInput(f"unknown curve family {name!r}; valid families: {', '.join(FAMILIES)}")
    spec = _Spec(name, {})
    option = "--family parameter"
    parts = inline.split(",")
    index = 0
    while index < len(parts):
        part = parts[index].strip()
        index += 1
        if not part:
            continue
        key, value = _split(part, option)
        if key != THRESHOLDS:
            spec.params[key] = _number(value, f"bad {option} {part!r}")
            continue
        items = [value]
        while index < len(parts) and "=" not in parts[index]:
            items.append(parts[index])
            index += 1
        joined = ",".join(items)
        spec.thresholds = _thresholds(items, f"bad {option} {f'{key}={joined}'!r}")
    return spec


def _threshold_text(values: Sequence[int]) -> str:
    shown = [str(v) for v in values]
    if len(shown) > _LABEL_THRESHOLDS:
        shown = [*shown[: _LABEL_THRESHOLDS // 2], "...", shown[-1]]
    return f"{THRESHOLDS}=" + ",".join(shown)


def _label(curve: LevelCurve, params: Mapping[str, Decimal]) -> str:
    shown = [f"{k}={decimal_text(v)}" for k, v in params.items()]
    if curve.family == "table":
        shown.append(_threshold_text(curve.thresholds))
    inner = ", ".join(shown)
    return f"{curve.family}" + (f" ({inner})" if inner else "") + f", max level {curve.max_level}"


def _check_table_max_level(count: int, max_level: int | None) -> None:
    """Follow the library: a table's max level is its number of thresholds."""
    if max_level is not None and max_level != count:
        raise BadInput(
            f"--max-level {max_level} does not match the table's {count} thresholds "
            f"(levels 1..{count}): a table's max level is its number of thresholds; "
            "leave out --max-level or give one threshold per level"
        )


def _build(spec: _Spec, max_level: int | None) -> LevelCurve:
    if spec.name == "table":
        if spec.thresholds is None:
            raise BadInput(
                "the table family needs thresholds, e.g. -p "
                f"{_TABLE_EXAMPLE} or -f table:{_TABLE_EXAMPLE} "
                "(the cumulative XP of each level from level 1)"
            )
        _check_table_max_level(len(spec.thresholds), max_level)
        return build_curve("table", spec.params, thresholds=spec.thresholds)
    if spec.thresholds is not None:
        raise BadInput(f"thresholds are only for the table family, not {spec.name!r}")
    return build_curve(spec.name, spec.params, max_level=max_level)


def resolve_curves(
    files: Sequence[Path],
    families: Sequence[str],
    params: Sequence[str],
    max_level: int | None,
) -> list[LabelledCurve]:
    """The curves named on the command line: each FILE's level curve, then each ``--family``.

    ``--param NAME=V`` goes to every ``--family`` that takes NAME (to the only
    one when there is one); ``--param FAMILY.NAME=V`` to that family only;
    ``--family NAME:k=v,...`` carries its own parameters. A table's thresholds are
    written ``thresholds=0,100,250`` in either form.
    """
    if not files and not families:
        raise BadInput("name a curve: a program FILE or --family NAME (see --help)")
    if max_level is not None and max_level < 2:
        raise BadInput(f"--max-level must be at least 2, not {max_level}")
    out: list[LabelledCurve] = []
    for file in files:
        program, _ = load_program(file)
        levels = program.levels
        if levels is None:
            raise ProgramError(
                "the program has no levels section", file=str(file), key_path="levels"
            )
        if max_level is None:
            curve = levels.level_curve
        else:
            if levels.thresholds is not None:
                _check_table_max_level(len(levels.thresholds), max_level)
            try:
                curve = build_curve(
                    levels.curve,
                    dict(levels.params),
                    max_level=max_level,
                    thresholds=levels.thresholds,
                )
            except ProgramError as exc:
                raise ProgramError(exc.reason, file=str(file), key_path="levels") from None
        label = f"{program.name}: {_label(curve, dict(levels.params))}"
        out.append(LabelledCurve(label, curve, str(file)))

    specs = [_family_spec(text) for text in families]
    for text in params:
        target, dot, rest = text.partition(".")
        if dot and "=" not in target:
            if target not in {spec.name for spec in specs}:
                raise BadInput(f"bad --param {text!r}: no --family {target!r} was given")
            key, raw = _split(rest, "--param")
            for spec in specs:
                if spec.name == target:
                    _set(spec, key, raw, "--param", text)
            continue
        key, raw = _split(text, "--param")
        if not specs:
            raise BadInput(f"--param {text!r} needs a --family to apply to")
        takers = [spec for spec in specs if key in _family_parameters(spec.name)]
        if len(specs) == 1:
            takers = [specs[0]]
        if not takers:
            names = ", ".join(spec.name for spec in specs)
            raise BadInput(f"bad --param {text!r}: no given family ({names}) takes {key!r}")
        for spec in takers:
            _set(spec, key, raw, "--param", text)
    for spec in specs:
        curve = _build(spec, max_level)
        out.append(LabelledCurve(_label(curve, spec.params), curve, None))
    return out


def days_to_reach(cumulative_xp: int, xp_per_day: Decimal) -> int:
    """Whole days of ``xp_per_day`` needed to reach ``cumulative_xp`` (rounded up)."""
    return math.ceil(Fraction(cumulative_xp) / Fraction(xp_per_day))


# Shared options -----------------------------------------------------------------------

_Files = Annotated[
    list[Path] | None,
    typer.Argument(help="Program files whose level curves to use.", show_default=False),
]
_Families = Annotated[
    list[str] | None,
    typer.Option(
        "--family",
        "-f",
        help="A curve family (repeatable): "
        + ", ".join(FAMILIES)
        + "; parameters inline as NAME:k=v,k=v, a table's as table:thresholds=0,100,250.",
        show_default=False,
    ),
]
_Params = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="A family parameter k=v (repeatable); FAMILY.k=v for one family; "
        "a table's cumulative XP per level from level 1 as thresholds=0,100,250.",
        show_default=False,
    ),
]
_MaxLevel = Annotated[
    int | None,
    typer.Option(
        "--max-level",
        help="The highest level (default: the file's, else 100; "
        "a table's is its number of thresholds).",
    ),
]
_Json = Annotated[bool, typer.Option("--json", help="Print JSON only.")]


def show(
    files: _Files = None,
    family: _Families = None,
    param: _Params = None,
    max_level: _MaxLevel = None,
    xp_per_day: Annotated[
        str | None,
        typer.Option("--xp-per-day", help="XP earned a day, for the days-to-reach column."),
    ] = None,
    json_output: _Json = False,
) -> None:
    """Print level curves: level, XP to next, cumulative XP, days to reach at X XP a day."""
    with bad_input(as_json=json_output):
        rate: Decimal | None = None
        if xp_per_day is not None:
            rate = _number(xp_per_day, "--xp-per-day")
            if rate <= 0:
                raise BadInput(f"--xp-per-day must be positive, not {xp_per_day}")
        chosen = resolve_curves(files or [], family or [], param or [], max_level)
    if json_output:
        emit_json({"curves": [_curve_data(c, rate) for c in chosen]})
        return
    out = console()
    for item in chosen:
        table = titled_table(item.label, "level", "XP to next", "cumulative XP", text=())
        table.min_width = min(len(item.label), out.width)  # the label on one line
        if rate is not None:
            table.add_column(f"days at {decimal_text(rate)} XP/day", justify="right")
        for row in item.curve.table():
            cells = [
                str(row.level),
                f"{row.xp_to_next:,}" if row.xp_to_next is not None else "-",
                f"{row.cumulative_xp:,}",
            ]
            if rate is not None:
                cells.append(f"{days_to_reach(row.cumulative_xp, rate):,}")
            table.add_row(*cells)
        out.print(table)


def _curve_data(item: LabelledCurve, rate: Decimal | None) -> dict[str, Any]:
    return {
        "label": item.label,
        "source": item.source,
        "family": item.curve.family,
        "params": {k: decimal_text(v) for k, v in item.curve.params.items()},
        "thresholds": list(item.curve.thresholds) if item.curve.family == "table" else None,
        "max_level": item.curve.max_level,
        "xp_per_day": decimal_text(rate) if rate is not None else None,
        "levels": [
            {
                "level": row.level,
                "xp_to_next": row.xp_to_next,
                "cumulative_xp": row.cumulative_xp,
                "days_to_reach": days_to_reach(row.cumulative_xp, rate)
                if rate is not None
                else None,
            }
            for row in item.curve.table()
        ],
    }


def _literal(text: str) -> str:
    """``text`` as matplotlib draws it, dollar signs included (``$...$`` is math to it)."""
    return text.replace("$", r"\$")


def build_figure(
    chosen: Sequence[LabelledCurve], *, title: str | None = None, log_y: bool = False
) -> Figure:
    """A matplotlib figure (Agg canvas) with every curve overlaid, axes labelled, a legend.

    Raises :class:`BadInput` naming the extra to install when matplotlib is missing.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        raise BadInput(f"curve plot needs matplotlib: {PLOT_EXTRA_HINT}") from None
    figure = Figure(figsize=(9, 5.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for index, item in enumerate(chosen):
        table = item.curve.table()
        axes.plot(
            [row.level for row in table],
            [row.cumulative_xp for row in table],
            marker=_MARKERS[index % len(_MARKERS)] if len(table) <= 60 else None,
            markersize=4,
            linestyle=_LINES[index // len(_MARKERS) % len(_LINES)],
            label=_literal(item.label),
        )
    axes.set_xlabel("Level")
    axes.set_ylabel("Cumulative XP")
    if title is None:
        title = f"Level curve: {chosen[0].label}" if len(chosen) == 1 else "Level curves compared"
    axes.set_title(_literal(title))
    if log_y:
        axes.set_yscale("log")
    else:
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left")
    return figure


def plot(
    files: _Files = None,
    family: _Families = None,
    param: _Params = None,
    max_level: _MaxLevel = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="The PNG file to write.")] = Path(
        "curve.png"
    ),
    title: Annotated[str | None, typer.Option("--title", help="The chart's title.")] = None,
    log_y: Annotated[bool, typer.Option("--log", help="A logarithmic XP axis.")] = False,
    json_output: _Json = False,
) -> None:
    """Plot level curves (several overlaid) to a PNG; needs the 'plot' extra (matplotlib)."""
    with bad_input(as_json=json_output):
        chosen = resolve_curves(files or [], family or [], param or [], max_level)
        figure = build_figure(chosen, title=title, log_y=log_y)
        try:
            figure.savefig(out, dpi=120, format="png")
        except OSError as exc:
            raise BadInput(f"cannot write {out}: {exc.strerror or exc}") from None
    if json_output:
        emit_json({"out": str(out), "curves": [c.label for c in chosen]})
        return
    console().print(f"wrote {out} ({len(chosen)} curve{'s' if len(chosen) > 1 else ''})")
