"""The ``gamify`` command: a typer application with one-line usage errors (exit code 2)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click
import typer
from typer.core import TyperGroup

from gamify.cli import _curve, _plan, _program, _report, _simulate

__all__ = ["app", "main"]


class _Group(TyperGroup):
    """The top-level group: a usage error prints one line on stderr and exits with 2."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except click.ClickException as exc:
            if not standalone_mode:
                raise
            where = ""
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                where = f" (see '{exc.ctx.command_path} --help')"
            message = " ".join(exc.format_message().split())
            click.echo(f"Error: {message}{where}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            if not standalone_mode:
                raise
            click.echo("Aborted.", err=True)
            sys.exit(1)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


app = typer.Typer(
    cls=_Group,
    name="gamify",
    help="Designer tools for gamify programs: level curves, program checks, "
    "points-budget plans, population simulations and economy health reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

program_app = typer.Typer(
    help="Validate and summarise program files.", no_args_is_help=True, rich_markup_mode=None
)
program_app.command("check")(_program.check)
app.add_typer(program_app, name="program")

curve_app = typer.Typer(
    help="Print and plot level curves.", no_args_is_help=True, rich_markup_mode=None
)
curve_app.command("show")(_curve.show)
curve_app.command("plot")(_curve.plot)
app.add_typer(curve_app, name="curve")

app.command("plan")(_plan.plan)
app.command("simulate")(_simulate.simulate)
app.command("report")(_report.report)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line (the ``gamify`` console script and ``python -m gamify``)."""
    app(args=list(argv) if argv is not None else None, prog_name="gamify")
