"""Numbers no designer means (1e-5000, 1e999999999) and consoles without Unicode: exit code 2
with one line, or plain output, never a traceback or a run that does not end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--family", "linear", "-p", "step=100", "--xp-per-day", "1e-5000"], "--xp-per-day"),
        (["--family", "linear", "-p", "step=100", "--xp-per-day", "1e-999999999"], "1e-30"),
        (["--family", "linear", "-p", "step=1e-99999999"], "between 1e-30 and 1e30"),
        (["--family", "linear", "-p", "step=9e30"], "between 1e-30 and 1e30"),
        (["--family", "exponential", "-p", "base=1", "-p", "r=1e999999999"], "1e30"),
    ],
)
def test_curve_numbers_out_of_any_range_exit_2(gamify_cli, args, message):
    run = gamify_cli("curve", "show", *args)
    assert run.exit_code == 2
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_a_plan_number_out_of_any_range_exits_2(gamify_cli, write):
    text = (EXAMPLE / "economy" / "plan.toml").read_text(encoding="utf-8")
    text += '\n[[catalog]]\nname = "yacht"\ncash_value = 1e999999999\n'
    run = gamify_cli("plan", write("plan.toml", text))
    assert run.exit_code == 2
    assert "catalog[3].cash_value: must lie between 1e-18 and 1e18" in run.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["program", "check", str(EXAMPLE / "fitness" / "program.toml")],
        ["simulate", str(EXAMPLE / "fitness" / "program.toml"), "-n", "20", "-d", "3"],
    ],
)
def test_a_console_without_unicode_gets_its_output(args):
    """A legacy console encoding (cp1252) shows a replacement for signs it lacks."""
    env = {**os.environ, "PYTHONIOENCODING": "cp1252"}
    run = subprocess.run(
        [sys.executable, "-m", "gamify", *args], capture_output=True, env=env, timeout=300
    )
    assert run.returncode == 0, run.stderr.decode("cp1252", "replace")
    assert b"Traceback" not in run.stderr
