"""``gamify simulate``: a population of members run through a program's real engine."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from gamify.cli._output import (
    BadInput,
    bad_input,
    console,
    emit_json,
    fmt_percent,
    jsonable,
    titled_table,
)
from gamify.program import Program
from gamify.simulation import (
    NO_TIER,
    Behaviour,
    SimulationResult,
    default_workers,
    load_behaviour,
    load_program,
)
from gamify.simulation import simulate as run

__all__ = ["level_stats", "result_to_dict", "simulate"]


def result_to_dict(result: SimulationResult) -> dict[str, Any]:
    """The result as JSON-ready data (decimals as exact strings); the same for the same seed."""
    data = jsonable(result)
    assert isinstance(data, dict)
    data["currencies"] = [
        {**asdict(flow), "net_spent": flow.net_spent} for flow in result.currencies
    ]
    converted = jsonable(data)
    assert isinstance(converted, dict)
    return converted


def level_stats(levels: Mapping[str, int]) -> dict[str, Any]:
    """Mean, median, 90th percentile and maximum of a level distribution (level -> members)."""
    pairs = sorted((int(level), count) for level, count in levels.items())
    total = sum(count for _, count in pairs)
    if not total:
        return {"mean": Decimal(0), "median": 1, "p90": 1, "max": 1}
    mean = Decimal(sum(level * count for level, count in pairs)) / total

    def quantile(q: Decimal) -> int:
        rank = q * total
        seen = 0
        for level, count in pairs:
            seen += count
            if seen >= rank:
                return level
        return pairs[-1][0]

    return {
        "mean": mean,
        "median": quantile(Decimal("0.5")),
        "p90": quantile(Decimal("0.9")),
        "max": pairs[-1][0],
    }


def simulate(
    file: Annotated[Path, typer.Argument(help="Program file; may hold a [simulation] table.")],
    members: Annotated[int, typer.Option("--members", "-n", min=1, help="Members to simulate.")],
    days: Annotated[int, typer.Option("--days", "-d", min=1, help="Local days to simulate.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same result.")] = 0,
    behaviour_file: Annotated[
        Path | None,
        typer.Option("--behaviour", "--behavior", help="Behaviour file (overrides [simulation])."),
    ] = None,
    store: Annotated[
        str,
        typer.Option("--store", help="Store URL to keep the simulated ledger in (must be empty)."),
    ] = "memory://",
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Processes to split the members over (default: one per CPU, "
            "at least 1,000 members each; 1 with --store). Same result for any count.",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Simulate members using a program; report levels, badges, tiers and points over time."""
    with bad_input(as_json=json_output):
        program, behaviour = load_program(file)
        if behaviour_file is not None:
            behaviour = load_behaviour(behaviour_file, program)
        if workers is None:
            workers = default_workers(members) if store == "memory://" else 1
        elif workers > 1 and store != "memory://":
            raise BadInput(
                "--workers above 1 keeps each worker's ledger in its own memory store: "
                "use --workers 1 with --store"
            )
    started = time.perf_counter()
    with bad_input(as_json=json_output):
        if json_output:
            result = _run(program, behaviour, members, days, seed, store, workers)
        else:
            with Progress(
                TextColumn("simulating"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("days"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console(stderr=True),
            ) as bar:
                task = bar.add_task("days", total=days)
                result = _run(
                    program,
                    behaviour,
                    members,
                    days,
                    seed,
                    store,
                    workers,
                    lambda done, _total: bar.update(task, completed=done),
                )
    elapsed = time.perf_counter() - started
    if json_output:
        emit_json(result_to_dict(result))
        return
    _render(result, elapsed)


def _run(
    program: Program,
    behaviour: Behaviour | None,
    members: int,
    days: int,
    seed: int,
    store: str,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    return run(
        program,
        members=members,
        days=days,
        seed=seed,
        behaviour=behaviour,
        progress=progress,
        store=store,
        workers=workers,
    )


def _render(result: SimulationResult, elapsed: float) -> None:
    out = console()
    out.print(
        f"{result.program}: {result.members:,} members over {result.days} days "
        f"({result.start} to {result.end - timedelta(days=1)}, seed {result.seed}); "
        f"{result.events:,} events, {result.redemptions:,} redemptions in {elapsed:.1f} s"
    )
    out.print(
        "segments: "
        + ", ".join(f"{s.name} {s.members:,} ({fmt_percent(s.share, 0)})" for s in result.segments)
    )

    points = titled_table(
        "Currencies",
        "currency",
        "issued",
        "by rules",
        "rewards",
        "reversed",
        "spent",
        "expired",
        "outstanding",
        "burn rate",
        text={"currency"},
    )
    for flow in result.currencies:
        burn = Decimal(flow.net_spent) / flow.issued if flow.issued and flow.spendable else None
        points.add_row(
            flow.currency,
            f"{flow.issued:,}",
            f"{flow.earned:,}",
            f"{flow.rewarded:,}",
            f"{flow.reversed:,}",
            f"{flow.net_spent:,}" if flow.spendable else "-",
            f"{flow.expired:,}" if flow.spendable else "-",
            f"{flow.outstanding:,}" if flow.outstanding is not None else "-",
            fmt_percent(burn) if burn is not None else "-",
        )
    out.print(points)

    if result.issued_by_action:
        actions = titled_table(
            "Issued by action", "currency", "action", "issued", text={"currency", "action"}
        )
        for currency, rows in result.issued_by_action.items():
            for action, amount in rows.items():
                actions.add_row(currency, action, f"{amount:,}")
        out.print(actions)

    levels = titled_table(
        "Levels over time",
        "day",
        "date",
        "mean",
        "median",
        "90th pct",
        "max",
        "members per level",
        text={"date", "members per level"},
    )
    for snap in result.snapshots:
        stats = level_stats(snap.levels)
        spread = ", ".join(f"L{level}: {count:,}" for level, count in snap.levels.items())
        if len(spread) > 60:
            spread = spread[:57] + "..."
        levels.add_row(
            str(snap.day),
            snap.date.isoformat(),
            f"{stats['mean']:.1f}",
            str(stats["median"]),
            str(stats["p90"]),
            str(stats["max"]),
            spread,
        )
    out.print(levels)

    if result.snapshots:
        last = result.snapshots[-1]
        final = titled_table(
            f"Level distribution on day {last.day}", "level", "members", "share", "", text={""}
        )
        for level, count in last.levels.items():
            share = Decimal(count) / result.members
            final.add_row(level, f"{count:,}", fmt_percent(share, 1), "█" * round(share * 40))
        out.print(final)

        names = list(last.tiers)
        for snap in result.snapshots:
            names.extend(t for t in snap.tiers if t not in names)
        if names != [NO_TIER]:
            tiers = titled_table("Tiers over time", "day", *names, text=())
            for snap in result.snapshots:
                tiers.add_row(str(snap.day), *(f"{snap.tiers.get(name, 0):,}" for name in names))
            out.print(tiers)
        else:
            out.print("Tiers: none reached")

    if result.badges:
        badges = titled_table(
            "Badge unlocks", "badge", "members", "unlock rate", "awards", text={"badge"}
        )
        for badge in result.badges:
            badges.add_row(
                badge.badge, f"{badge.members:,}", fmt_percent(badge.rate, 1), f"{badge.awards:,}"
            )
        out.print(badges)
