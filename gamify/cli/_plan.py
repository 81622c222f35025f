"""``gamify plan``: the points-budget method as tables (or ``plan_to_dict`` as JSON)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from gamify.cli._output import (
    bad_input,
    console,
    decimal_text,
    emit_json,
    fmt_amount,
    fmt_decimal,
    fmt_percent,
    titled_table,
)
from gamify.errors import ProgramError
from gamify.planning import PlanResult, SegmentIssuance, compute_plan, load_plan, plan_to_dict

__all__ = ["plan", "render_plan"]


def plan(
    file: Annotated[Path, typer.Argument(help="Plan file (.toml, .json, .yaml).")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON only (exact decimals).")
    ] = False,
) -> None:
    """Plan a points budget: issuance per segment, exchange ratio, calibration, prices."""
    with bad_input(as_json=json_output):
        loaded = load_plan(file)
        try:
            result = compute_plan(loaded)
        except ProgramError as exc:  # a plan that predicts nothing: name its file too
            raise ProgramError(exc.reason, file=str(file), key_path=exc.key_path) from None
    if json_output:
        emit_json(plan_to_dict(result))
        return
    render_plan(result, console())


def _issuance_table(
    title: str, segments: tuple[SegmentIssuance, ...], result: PlanResult, *, calibrated: bool
) -> Table:
    total = result.calibrated_total if calibrated else result.total
    table = titled_table(
        title,
        "segment",
        "members",
        "core amount / member",
        "max / member",
        "predicted / member",
        "max (segment)",
        "predicted (segment)",
        text={"segment"},
    )
    for s in segments:
        table.add_row(
            s.name,
            f"{s.members:,}",
            fmt_amount(s.core_amount_per_member),
            fmt_amount(s.max_points_per_member),
            fmt_amount(s.predicted_points_per_member),
            fmt_amount(s.max_points),
            fmt_amount(s.predicted_points),
        )
    table.add_section()
    table.add_row(
        "total",
        f"{total.members:,}",
        "",
        fmt_amount(total.max_points_per_member),
        fmt_amount(total.predicted_points_per_member),
        fmt_amount(total.max_points),
        fmt_amount(total.predicted_points),
        style="bold",
    )
    return table


def _share_table(
    title: str, segments: tuple[SegmentIssuance, ...], result: PlanResult, *, calibrated: bool
) -> Table:
    total = result.calibrated_total if calibrated else result.total
    table = titled_table(
        title,
        "segment",
        "core points",
        "non-core points",
        "core share",
        "non-core share",
        "target",
        "gap",
        "status",
        text={"segment", "status"},
    )
    for s in segments:
        table.add_row(
            s.name,
            fmt_amount(s.predicted_core_points),
            fmt_amount(s.predicted_noncore_points),
            fmt_percent(s.core_share),
            fmt_percent(s.noncore_share),
            fmt_percent(s.target_noncore_share),
            f"{fmt_decimal(s.share_gap * 100)} pp",
            Text("off target", style="yellow") if s.off_target else Text("ok", style="green"),
        )
    table.add_section()
    table.add_row(
        "total",
        fmt_amount(total.predicted_core_points),
        fmt_amount(total.predicted_noncore_points),
        fmt_percent(total.core_share),
        fmt_percent(total.noncore_share),
        "",
        "",
        "",
        style="bold",
    )
    return table


def _actions_table(result: PlanResult) -> Table:
    table = titled_table(
        "Per action (plan values, yearly)",
        "segment",
        "action",
        "rule",
        "count / member",
        "completion",
        "max / member",
        "predicted / member",
        "predicted (segment)",
        text={"segment", "action"},
    )
    for s in result.segments:
        for a in s.actions:
            table.add_row(
                s.name,
                a.action + (" (core)" if a.core else ""),
                ("× " if a.core else "") + decimal_text(a.rule_value),
                fmt_amount(a.count_per_member),
                fmt_percent(a.completion_rate, 0),
                fmt_amount(a.max_points_per_member),
                fmt_amount(a.predicted_points_per_member),
                fmt_amount(a.predicted_points),
            )
        if s is not result.segments[-1]:
            table.add_section()
    return table


def render_plan(result: PlanResult, out: Console) -> None:
    """Print a plan result as tables."""
    if result.name:
        out.print(f"Plan: {result.name}", style="bold")
    basis = (
        "a share of sales"
        if result.budget_basis == "share_of_sales"
        else ("an amount per active member")
    )
    out.print(f"budget (yearly, {basis}): {fmt_amount(result.budget)}")
    out.print(
        f"target exchange ratio: {decimal_text(result.target_ratio)} points = 1 unit of money"
    )
    out.print(f"maximum issuable (budget × ratio): {fmt_amount(result.issuable_points)} points")
    out.print()
    out.print(
        _issuance_table(
            "Issuance per segment (plan values, yearly)", result.segments, result, calibrated=False
        )
    )
    out.print(
        _share_table("Core vs non-core (plan values)", result.segments, result, calibrated=False)
    )
    out.print(_actions_table(result))
    out.print()

    out.print("Exchange ratio", style="bold")
    out.print(
        f"  raw ratio = predicted / budget = {fmt_amount(result.total.predicted_points)} / "
        f"{fmt_amount(result.budget)} = {fmt_amount(result.raw_ratio, 4)}"
    )
    out.print(
        Text.assemble(
            f"  calibration factor = target / raw ratio = {decimal_text(result.target_ratio)} / "
            f"{fmt_amount(result.raw_ratio, 4)} = ",
            (str(result.calibration_factor_rounded), "bold"),
            f" (exact {fmt_decimal(result.calibration_factor, 10)}...)",
        )
    )
    out.print(
        f"  recomputed ratio from the rounded rules = "
        f"{fmt_amount(result.calibrated_total.predicted_points)} / {fmt_amount(result.budget)} "
        f"= {fmt_amount(result.recomputed_ratio, 4)}"
    )
    out.print()

    rules = titled_table(
        "Calibrated rules (value × factor)",
        "action",
        "kind",
        "value",
        "exact",
        "rounded",
        text={"action", "kind"},
    )
    for rule in result.rules:
        kind = "per amount" if rule.kind == "per_amount" else "fixed"
        if rule.per is not None:
            kind += f" per {rule.per}"
        rules.add_row(
            rule.action + (" (core)" if rule.core else ""),
            kind,
            decimal_text(rule.value),
            fmt_decimal(rule.exact, 6),
            decimal_text(rule.rounded),
        )
    out.print(rules)

    out.print(
        _issuance_table(
            "Issuance per segment (calibrated rules, yearly)",
            result.calibrated_segments,
            result,
            calibrated=True,
        )
    )
    out.print(
        _share_table(
            "Core vs non-core (calibrated rules)",
            result.calibrated_segments,
            result,
            calibrated=True,
        )
    )

    costs = titled_table(
        f"Cost at the target ratio {decimal_text(result.target_ratio)}",
        "segment",
        "members",
        "predicted points",
        "cost",
        "cost / member",
        "share of budget",
        text={"segment"},
    )
    for cost in result.costs:
        costs.add_row(
            cost.segment,
            f"{cost.members:,}",
            fmt_amount(cost.predicted_points),
            fmt_decimal(cost.cost),
            fmt_decimal(cost.cost_per_member),
            fmt_percent(cost.budget_share),
        )
    costs.add_section()
    members = result.calibrated_total.members
    costs.add_row(
        "total",
        f"{members:,}",
        fmt_amount(result.calibrated_total.predicted_points),
        fmt_decimal(result.total_cost),
        fmt_decimal(result.total_cost / members if members else Decimal(0)),
        fmt_percent(result.total_cost / result.budget),
        style="bold",
    )
    out.print(costs)

    if result.catalog:
        catalog = titled_table(
            "Reward prices (ratio × cash value × cost rate × premium, rounded up)",
            "reward",
            "cash value",
            "cost rate",
            "premium",
            "ratio",
            "points",
            text={"reward"},
        )
        for item in result.catalog:
            catalog.add_row(
                item.name,
                fmt_amount(item.cash_value),
                decimal_text(item.cost_rate),
                fmt_decimal(item.premium, 4).rstrip("0").rstrip("."),
                decimal_text(item.exchange_ratio),
                f"{item.points:,}",
            )
        out.print(catalog)

    if result.warnings:
        out.print("Warnings", style="bold yellow")
        for warning in result.warnings:
            out.print(Text.assemble("  ", ("!", "yellow"), f" {warning.message}"))
    else:
        out.print("No warnings.", style="green")
