"""``gamify report``: the health of a store's points economy, against a plan."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.text import Text

from gamify._registry import open_store
from gamify.cli._output import (
    BadInput,
    bad_input,
    console,
    emit_json,
    fmt_amount,
    fmt_decimal,
    fmt_percent,
    jsonable,
    titled_table,
)
from gamify.clock import SystemClock
from gamify.errors import ProgramError
from gamify.planning import plan_program
from gamify.report import (
    BURN_RATE_RANGE,
    BURNER_SHARE_MIN,
    EARN_BURN_RANGE,
    EXPIRY_RATE_MAX,
    IssuanceCheck,
    Report,
    Spending,
    build_report,
    load_report_plan,
    members_text,
    unassigned_text,
)
from gamify.simulation import load_program
from gamify.store import Store

__all__ = ["report", "report_to_dict"]


def report_to_dict(result: Report) -> dict[str, Any]:
    """The report as JSON-ready data (decimals as exact strings)."""
    data = jsonable(result)
    assert isinstance(data, dict)
    flow = asdict(result.flow)
    flow["net_spent"] = result.flow.net_spent
    data["flow"] = jsonable(flow)
    data["window"] = jsonable(
        {**asdict(result.window), "year_fraction": result.window.year_fraction}
    )
    return data


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{option} {text!r} is not a date (YYYY-MM-DD)") from None
    if not date(1900, 1, 1) <= day <= date(9998, 12, 31):  # every zone can place its midnight
        raise BadInput(f"{option} {text} is outside the years 1900 to 9998")
    return day


def _open_existing(url: str, prefix: str | None) -> Store:
    """The store at ``url`` as it is: a report never creates a database or tables, so a
    mistyped path or prefix is an error rather than an empty report."""
    # Imported here: the other commands need no SQL libraries.
    from gamify_adapters.sql import SQLStore

    if url.split(":", 1)[0].lower() == "memory":
        if prefix is not None:
            raise BadInput("--prefix applies to SQL stores only")
        return open_store(url)
    options: dict[str, Any] = {"create": False}
    if prefix is not None:
        options["prefix"] = prefix
    opened = open_store(url, **options)  # connects at first use, so nothing is created yet
    if not isinstance(opened, SQLStore):
        return opened
    problem = None
    if opened.dialect == "sqlite" and opened.database_file is None:
        problem = "a new in-memory SQLite database holds nothing to report"
    elif opened.database_file is not None and not Path(opened.database_file).is_file():
        problem = f"no database file at {opened.database_file}"
    elif not opened.has_schema():
        problem = (
            f"no gamify tables with the prefix {opened.tables.prefix!r} "
            "(give the app's prefix with --prefix)"
        )
    if problem is not None:
        opened.close()
        raise BadInput(f"{opened.url}: {problem}")
    return opened


def report(
    store: Annotated[
        str, typer.Option("--store", help="Store URL: memory://, sqlite:///file.db, postgresql://")
    ],
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="Plan file to judge issuance against.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="First local day of the window (default: first member)."),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Local day the window ends before (default: now).")
    ] = None,
    program_file: Annotated[
        Path | None, typer.Option("--program", help="Program file: its time zone counts the days.")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            help="Time zone of the window (default: that of --program, else of the program "
            "the plan names).",
        ),
    ] = None,
    currency: Annotated[str, typer.Option("--currency", help="The points currency.")] = "points",
    calibrated: Annotated[
        bool,
        typer.Option(
            "--calibrated", help="Predict with the plan's calibrated rules, not its own values."
        ),
    ] = False,
    prefix: Annotated[
        str | None,
        typer.Option("--prefix", help="Table prefix of a SQL store (default: gamify_)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Judge a store's points economy: issuance against plan, burn, spenders, expiry, alerts."""
    with bad_input(as_json=json_output):
        first = _date(since, "--since")
        last = _date(until, "--until")
        if first is not None and last is not None and last <= first:
            raise BadInput(f"--until {until} must be after --since {since}")
        if timezone is not None and not timezone.strip():
            raise BadInput("--timezone must name a time zone, such as Europe/Paris")
        if not currency.strip():
            raise BadInput("--currency must name a currency, such as points")
        if calibrated and plan_file is None:
            raise BadInput("--calibrated compares with a plan's calibrated rules: give --plan")
        zone = timezone
        if program_file is not None:
            program, _ = load_program(program_file)
            zone = zone or program.timezone
            if currency not in program.currencies:
                declared = ", ".join(sorted(program.currencies))
                raise BadInput(
                    f"--currency {currency!r} is not a currency of the program ({declared})"
                )
        plan = ranges = None
        if plan_file is not None:
            plan, ranges = load_report_plan(plan_file)
            if zone is None:
                named = plan_program(plan_file)  # program = "shop.toml" in the plan
                zone = named.timezone if named is not None else None
        if zone is None:
            # Days counted in another zone than the program's would misjudge the plan.
            raise BadInput(
                "the store does not know the program's time zone, which counts the "
                "window's days: give --program or --timezone"
            )
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadInput(f"unknown time zone {zone!r}") from None
        now = SystemClock().now()
        today = now.astimezone(ZoneInfo(zone)).date()
        if first is not None and first > today:
            raise BadInput(f"--since {since} is after today ({today} in {zone}): nothing to report")
        opened = _open_existing(store, prefix)
        try:
            result = build_report(
                opened,
                now=now,
                plan=plan,
                ranges=ranges,
                since=first,
                until=last,
                timezone=zone,
                currency=currency,
                calibrated=calibrated,
            )
        except ProgramError as exc:  # a plan that predicts nothing: name its file too
            if exc.file is not None or plan_file is None:
                raise
            raise ProgramError(exc.reason, file=str(plan_file), key_path=exc.key_path) from None
        finally:
            opened.close()
    if json_output:
        data = report_to_dict(result)
        data["store"] = store
        emit_json(data)
        return
    _render(result, store)


def _rate(value: Decimal | None) -> str:
    return fmt_percent(value, 1) if value is not None else "-"


def _issuance_row(check: IssuanceCheck) -> list[str | Text]:
    colour = {"healthy": "green", "too_easy": "red", "too_hard": "yellow", "watch": "yellow"}
    return [
        fmt_amount(check.maximum, 0),
        fmt_amount(check.predicted, 0),
        fmt_amount(check.actual, 0),
        Text(check.case.replace("_", " "), style=colour[check.verdict]),
    ]


def _spending_lines(spending: Spending) -> list[str]:
    low, high = BURN_RATE_RANGE
    return [
        f"burn rate (spent / issued): {_rate(spending.burn_rate)} "
        f"({fmt_amount(spending.spent)} of {fmt_amount(spending.issued)}; healthy "
        f"{fmt_percent(low, 0)}-{fmt_percent(high, 0)})",
        f"holders who spent: {_rate(spending.spender_share)} ({spending.spenders:,} of "
        f"{spending.holders:,}; healthy from {fmt_percent(BURNER_SHARE_MIN, 0)})",
        f"expiry rate (expired / issued): {_rate(spending.expiry_rate)} "
        f"({fmt_amount(spending.expired)}; alarm above {fmt_percent(EXPIRY_RATE_MAX, 0)})",
        "earn/burn ratio (issued / spent): "
        + (fmt_decimal(spending.earn_burn) if spending.earn_burn is not None else "-")
        + f" (steady stock {EARN_BURN_RANGE[0]}-{EARN_BURN_RANGE[1]})",
    ]


def _render(result: Report, store: str) -> None:
    out = console()
    window = result.window
    zone = ZoneInfo(window.timezone)
    end = window.end.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    out.print(
        f"Economy report for {store}: {result.currency}, from {window.since} 00:00 to {end} "
        f"{window.timezone} ({fmt_decimal(window.days)} days), {members_text(result.members)}"
    )
    flow = result.flow
    out.print(
        f"issued {fmt_amount(flow.issued)} (rules {fmt_amount(flow.earned)}, rewards "
        f"{fmt_amount(flow.rewarded)}, reversed {fmt_amount(flow.reversed)}); spent "
        f"{fmt_amount(flow.net_spent)} (refunds {fmt_amount(flow.refunded)}); expired "
        f"{fmt_amount(flow.expired)}; "
        + (f"adjusted by hand {flow.adjusted:+,}; " if flow.adjusted else "")
        + f"outstanding balances {fmt_amount(flow.outstanding or 0)}"
    )
    out.print()

    if result.issuance is not None:
        table = titled_table(
            "Issuance against plan (prorated by "
            f"{fmt_decimal(window.days)} / 365 days"
            + (", calibrated rules" if result.calibrated else "")
            + ")",
            "scope",
            "maximum",
            "predicted",
            "actual",
            "case",
            text={"scope", "case"},
        )
        table.add_row("total", *_issuance_row(result.issuance))
        for segment in result.segments:
            table.add_row(f"segment {segment.name}", *_issuance_row(segment.issuance))
        out.print(table)
        out.print(f"advice: {result.issuance.advice}")
        out.print()
    else:
        out.print("No plan given (--plan): issuance is not judged against a budget.")

    actions = titled_table(
        "Per action (earning rules)",
        "action",
        "issued",
        "predicted",
        "deviation",
        "members",
        "planned members",
        text={"action"},
    )
    for action in result.actions:
        actions.add_row(
            action.action,
            fmt_amount(action.issued),
            fmt_amount(action.predicted, 0) if action.predicted is not None else "-",
            fmt_percent(action.deviation, 1) if action.deviation is not None else "-",
            f"{action.members:,}",
            f"{action.planned_members:,}" if action.planned_members is not None else "-",
        )
    out.print(actions)
    if result.action_deviation is not None:
        out.print(
            "sum of per-action deviations: "
            f"{fmt_percent(result.action_deviation, 1)} of the predicted points"
        )
    out.print()

    out.print("Spending", style="bold")
    for line in _spending_lines(result.spending):
        out.print(f"  {line}")
    out.print()

    if result.segments:
        table = titled_table(
            "Segments",
            "segment",
            "core amount / year",
            "members",
            "by tag",
            "planned",
            "predicted / member",
            "actual / member",
            "burn rate",
            "spenders",
            "expiry rate",
            text={"segment"},
        )
        for segment in result.segments:
            low, high = segment.range.low, segment.range.high
            if high is None:
                span = f"from {fmt_amount(low or 0, 0)}"
            else:
                span = f"{fmt_amount(low or 0, 0)} to {fmt_amount(high, 0)}"
            table.add_row(
                segment.name,
                span,
                f"{segment.members:,}",
                f"{segment.by_tag:,}",
                f"{segment.planned_members:,}",
                fmt_amount(segment.predicted_per_member),
                fmt_amount(segment.actual_per_member)
                if segment.actual_per_member is not None
                else "-",
                _rate(segment.spending.burn_rate),
                _rate(segment.spending.spender_share),
                _rate(segment.spending.expiry_rate),
            )
        out.print(table)
        if result.unassigned:
            out.print(unassigned_text(result.unassigned))
        out.print()

    if result.alerts:
        out.print("Alerts", style="bold")
        for alert in result.alerts:
            mark = ("!", "red") if alert.level == "warning" else ("i", "blue")
            out.print(Text.assemble("  ", mark, f" {alert.scope}: {alert.message}"))
    else:
        out.print("No alerts.", style="green")
