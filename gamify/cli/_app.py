"""The ``gamify`` command: a typer application with one-line usage errors (exit code 2)."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from gamify.cli import _curve, _plan, _program, _program_diff, _report, _simulate

__all__ = ["app", "main"]

# typer 0.29 ships its own copy of click (``typer._click``); older releases use
# click itself. Either way the base of usage errors is an ancestor of
# typer.BadParameter named ClickException.
_ClickException: type[Exception] = next(
    cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "ClickException"
)


class _Group(TyperGroup):
    """The top-level group: a usage error prints one line on stderr and exits with 2."""

    def main(  # type: ignore[override]  # click's overloads; we only narrow the return
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
        except _ClickException as exc:
            if not standalone_mode:
                raise
            if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: show its help
                typer.echo(getattr(exc, "format_message", exc.__str__)(), err=True)
                sys.exit(getattr(exc, "exit_code", 2))
            where = ""
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                where = f" (see '{ctx.command_path} --help')"
            message = " ".join(getattr(exc, "format_message", exc.__str__)().split())
            typer.echo(f"Error: {message}{where}", err=True)
            sys.exit(getattr(exc, "exit_code", 2))
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo("Aborted.", err=True)
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


def _show_version(value: bool) -> None:
    if value:
        from gamify import __version__

        typer.echo(f"gamify {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_show_version,
        is_eager=True,
    ),
) -> None:
    """The group's own options (its help text is the application's, above)."""


program_app = typer.Typer(
    help="Validate, summarise and compare program files.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
program_app.command("check")(_program.check)
program_app.command("diff")(_program_diff.diff)
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
    for stream in (sys.stdout, sys.stderr):
        # A console in a legacy encoding (cp1252) shows "?" for a sign it lacks, not a crash.
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")
    app(args=list(argv) if argv is not None else None, prog_name="gamify")
