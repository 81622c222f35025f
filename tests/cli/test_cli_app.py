"""The ``gamify`` command as a whole: its commands, usage errors and light imports."""

from __future__ import annotations

import subprocess
import sys


def test_help_lists_every_command(gamify_cli):
    """`gamify --help` lists program, curve, plan, simulate and report."""
    run = gamify_cli("--help")
    assert run.exit_code == 0
    for command in ("program", "curve", "plan", "simulate", "report"):
        assert command in run.stdout


def test_unknown_command_is_one_line_exit_2(gamify_cli):
    """An unknown command is a usage error: one line on stderr, exit code 2."""
    run = gamify_cli("frobnicate")
    assert run.exit_code == 2
    assert run.stderr.strip().splitlines() == [
        "Error: No such command 'frobnicate'. (see 'gamify --help')"
    ]


def test_every_command_takes_json(gamify_cli):
    """Each command documents a --json option."""
    for command in (
        ["program", "check"],
        ["curve", "show"],
        ["curve", "plot"],
        ["plan"],
        ["simulate"],
        ["report"],
    ):
        run = gamify_cli(*command, "--help")
        assert run.exit_code == 0
        assert "--json" in run.stdout, command


def test_import_gamify_stays_light():
    """`import gamify` imports neither the command line, typer, rich nor matplotlib."""
    code = (
        "import sys, gamify\n"
        "heavy = [m for m in ('gamify.cli', 'typer', 'rich', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "import gamify.cli\n"
        "assert 'matplotlib' not in sys.modules, 'the CLI imports matplotlib only to plot'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_python_dash_m_gamify_runs(tmp_path):
    """`python -m gamify` is the same command line."""
    done = subprocess.run(
        [sys.executable, "-m", "gamify", "curve", "show", "--family", "fast",
         "--max-level", "2", "--json"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"family": "fast"' in done.stdout


def test_version_is_the_installed_distribution(gamify_cli):
    """`gamify --version` prints the version pip installed, and runs no command."""
    from importlib.metadata import version

    run = gamify_cli("--version")
    assert run.exit_code == 0
    assert run.stdout.strip() == f"gamify {version('gamify-sdk')}"
