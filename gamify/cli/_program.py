"""``gamify program check``: validate a program file and summarise it."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.text import Text

from gamify.cli._output import bad_input, console, decimal_text, emit_json, titled_table
from gamify.program import Program
from gamify.simulation import Behaviour, load_program

__all__ = ["check", "summarise"]

# Sections shown by their own table; any other non-default section of the
# program (tiers, referral, renewal, catalog, challenges, ...) is listed generically.
_KNOWN = {
    "name",
    "timezone",
    "week_start",
    "rounding",
    "stacking",
    "late_event_days",
    "currencies",
    "actions",
    "rules",
    "multipliers",
    "caps",
    "levels",
    "streaks",
    "badges",
}


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, BaseModel):
        return ", ".join(f"{k}={_text(v)}" for k, v in _dump(value).items())
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return str(value)


def _dump(model: BaseModel) -> dict[str, Any]:
    """The fields a file set or that differ from their defaults, unconverted."""
    out: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if name in model.model_fields_set or value != info.get_default(call_default_factory=True):
            out[name] = value
    return out


def _award(rule: Any) -> str:
    if rule.fixed is not None:
        text = f"{decimal_text(rule.fixed)} fixed"
    elif rule.per_amount is not None:
        text = f"amount × {decimal_text(rule.per_amount)}"
    else:
        text = str(rule.formula)
    if rule.per is not None:
        text += f" per {rule.per.size} {rule.per.attribute}"
    return text


def _rewards(reward: Mapping[str, Any]) -> str:
    return ", ".join(f"{_text(v)} {k}" for k, v in reward.items()) or "-"


def _other_sections(program: Program) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, info in type(program).model_fields.items():
        if name in _KNOWN:
            continue
        value = getattr(program, name, None)
        default = info.get_default(call_default_factory=True)
        if value is None or (value == default and name not in program.model_fields_set):
            continue
        out[name] = value
    return out


def summarise(program: Program, behaviour: Behaviour | None) -> dict[str, Any]:
    """The JSON summary of a valid program: counts per section and each section's data."""
    levels = program.levels
    curve = levels.level_curve if levels is not None else None
    others = _other_sections(program)
    counts: dict[str, int] = {
        "currencies": len(program.currencies),
        "actions": len(program.actions),
        "rules": len(program.rules),
        "multipliers": len(program.multipliers),
        "caps": len(program.caps),
        "streaks": len(program.streaks),
        "badges": len(program.badges),
    }
    tiers = getattr(program, "tiers", None)
    counts["tiers"] = len(getattr(tiers, "levels", None) or []) if tiers is not None else 0
    challenges = getattr(program, "challenges", None)
    counts["challenges"] = len(challenges) if challenges else 0
    return {
        "valid": True,
        "name": program.name,
        "timezone": program.timezone,
        "counts": counts,
        "level_curve": None
        if levels is None or curve is None
        else {
            "family": levels.curve,
            "params": {k: decimal_text(v) for k, v in levels.params.items()},
            "max_level": curve.max_level,
            "currency": levels.currency,
            "xp_at_max_level": curve.thresholds[-1],
        },
        "simulation": None
        if behaviour is None
        else {"segments": [s.name for s in behaviour.segments]},
        "program": program.model_dump(mode="json"),
        "other_sections": sorted(others),
    }


def check(
    file: Annotated[Path, typer.Argument(help="Program file (.toml, .json, .yaml).")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON only.")
    ] = False,
) -> None:
    """Validate a program file and summarise it (actions, rules, caps, curve, streaks, badges)."""
    with bad_input(as_json=json_output):
        program, behaviour = load_program(file)
    if json_output:
        data = summarise(program, behaviour)
        data["file"] = str(file)
        emit_json(data)
        return
    _render(program, behaviour, file)


def _render(program: Program, behaviour: Behaviour | None, file: Path) -> None:
    out = console()
    out.print(
        Text.assemble(("✓", "green"), f" {file} is a valid program: ", (program.name, "bold"))
    )
    out.print(
        f"time zone {program.timezone}, weeks start on {program.week_start}, "
        f"rounding {program.rounding}, multipliers stack {program.stacking}"
    )
    currencies = ", ".join(
        f"{name} ({'spendable' if spec.spendable else 'not spendable'})"
        for name, spec in program.currencies.items()
    )
    out.print(f"currencies: {currencies}")
    expiry = getattr(program, "expiry", None)
    if expiry is not None:
        out.print(f"expiry: {_text(expiry) or 'never'}")

    actions = titled_table("Actions", "action", "amount", "description")
    for name, action in program.actions.items():
        actions.add_row(name, action.amount, action.description)
    out.print(actions)

    rules = titled_table(
        "Earning rules", "rule", "action", "currency", "award", "conditions", "other"
    )
    for rule in program.rules:
        extra = {
            k: v
            for k, v in _dump(rule).items()
            if k not in ("name", "action", "currency", "fixed", "per_amount", "formula", "per")
            and k != "conditions"
        }
        rules.add_row(
            rule.name,
            rule.action,
            rule.currency,
            _award(rule),
            "; ".join(f"{c.attribute} {c.op} {_text(c.value)}" for c in rule.conditions) or "-",
            _text(extra) or "-",
        )
    out.print(rules if program.rules else "Earning rules: none")

    if program.multipliers:
        table = titled_table("Multipliers", "multiplier", "kind", "factor", "applies to", "when")
        for mult in program.multipliers:
            when = mult.tag or ""
            if mult.start is not None and mult.end is not None:
                when = f"{mult.start.isoformat()} to {mult.end.isoformat()}"
            table.add_row(
                mult.name,
                mult.kind,
                decimal_text(mult.factor),
                ", ".join(mult.rules) if mult.rules else "every points rule",
                when or "-",
            )
        out.print(table)
    else:
        out.print("Multipliers: none")

    if program.caps:
        table = titled_table("Caps", "cap", "limit", "period", "action", "currency")
        for cap in program.caps:
            table.add_row(cap.name, str(cap.limit), cap.period, cap.action or "all", cap.currency)
        out.print(table)
    else:
        out.print("Caps: none")

    levels = program.levels
    if levels is not None:
        curve = levels.level_curve
        params = ", ".join(f"{k}={decimal_text(v)}" for k, v in levels.params.items())
        out.print(
            "Level curve: "
            + levels.curve
            + (f" ({params})" if params else "")
            + f", levels 1..{curve.max_level} on {levels.currency}, "
            f"{curve.thresholds[1]:,} XP for level 2, {curve.thresholds[-1]:,} XP for level "
            f"{curve.max_level}; reward per level: {_rewards(levels.reward)}"
        )
    else:
        out.print("Level curve: none")

    if program.streaks:
        table = titled_table(
            "Streaks", "streak", "actions", "period", "milestones", "freeze", "repair"
        )
        for name, streak in program.streaks.items():
            table.add_row(
                name,
                ", ".join(streak.actions),
                streak.period,
                ", ".join(f"{m.length}: {_rewards(m.reward)}" for m in streak.milestones) or "-",
                _text(streak.freeze) if streak.freeze else "-",
                _text(streak.repair) if streak.repair else "-",
            )
        out.print(table)
    else:
        out.print("Streaks: none")

    if program.badges:
        table = titled_table("Badges", "badge", "kind", "metric", "of", "threshold", "reward")
        for name, badge in program.badges.items():
            of = badge.action or badge.streak or badge.currency or badge.tier or badge.predicate
            if badge.kind == "tiered":
                threshold = ", ".join(f"{t.name} {decimal_text(t.threshold)}" for t in badge.tiers)
                reward = "; ".join(f"{t.name}: {_rewards(t.reward)}" for t in badge.tiers)
            else:
                threshold = decimal_text(badge.threshold) if badge.threshold is not None else "-"
                reward = _rewards(badge.reward)
            table.add_row(
                name + (" (secret)" if badge.secret else ""),
                badge.kind,
                badge.metric,
                of or "-",
                threshold,
                reward,
            )
        out.print(table)
    else:
        out.print("Badges: none")

    tiers = getattr(program, "tiers", None)
    levels_of_tiers = getattr(tiers, "levels", None)
    if tiers is not None and levels_of_tiers:
        settings = {k: v for k, v in _dump(tiers).items() if k != "levels"}
        table = titled_table(
            f"Tiers ({_text(settings)})", "tier", "threshold", "multiplier", "other"
        )
        for tier in levels_of_tiers:
            other = {
                k: v for k, v in _dump(tier).items() if k not in ("name", "threshold", "multiplier")
            }
            table.add_row(
                str(tier.name),
                _text(getattr(tier, "threshold", "-")),
                _text(getattr(tier, "multiplier", "-")),
                _text(other) or "-",
            )
        out.print(table)

    for name, value in _other_sections(program).items():
        if name == "tiers" or name == "expiry":
            continue
        if isinstance(value, Mapping) and value:
            table = titled_table(name.replace("_", " ").capitalize(), "name", "settings")
            for key, item in value.items():
                table.add_row(str(key), _text(item))
            out.print(table)
        elif isinstance(value, list | tuple) and value:
            table = titled_table(name.replace("_", " ").capitalize(), "#", "settings")
            for index, item in enumerate(value):
                table.add_row(str(index), _text(item))
            out.print(table)
        else:
            out.print(f"{name.replace('_', ' ').capitalize()}: {_text(value)}")

    if behaviour is not None:
        out.print(
            "Simulation behaviour: "
            + ", ".join(f"{s.name} ({decimal_text(s.share * 100)} %)" for s in behaviour.segments)
        )
        # Valid for the command-line tools, but an app loading this file would be refused.
        out.print(
            "note: the [simulation] table is read by gamify simulate only; Program.load "
            "and gamify.Engine refuse a file holding it (keep it in a --behaviour file)"
        )
