"""The quickstart example runs and prints what its comments promise."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"


def test_the_quickstart_runs_and_reports_readably(capsys: pytest.CaptureFixture[str]) -> None:
    """examples/quickstart.py replays a key, hits a cap, doubles in the campaign and redeems."""
    runpy.run_path(str(QUICKSTART), run_name="__main__")
    out = capsys.readouterr().out
    assert "+ 42 points from rule 'spend'" in out
    assert "returns the first outcome (True)" in out
    assert "Reusing order-1001 for 99.00 is refused" in out
    assert "10 cut by a cap" in out
    assert "+ 31 points from rule 'spend' (x2)" in out
    assert "Profile of alice (Europe/Paris): 93 points" in out
    assert "object at 0x" not in out  # no raw reprs


def test_the_quickstart_figures_follow_its_rules(capsys: pytest.CaptureFixture[str]) -> None:
    """1 point per unit (rounded down once), +10 in the app, 20 per check-in, at most 30
    check-in points a local day; double points on the weekend, x1.5 for VIPs.

    Friday: alice 42.50 in the app pays 42 + 10; bob (VIP) 42.50 x 1.5 = 63.75 pays 63;
    alice's check-ins pay 20, then 10 (the 30-point day has 10 left). Saturday: 15.99 x 2
    = 31.98 pays 31; a check-in 20 x 2 = 40 is cut to 30. 52 + 30 + 31 + 30 = 143; a
    50-point coffee takes the 42-point lot and 8 of the 10-point lot, leaving 93.
    """
    runpy.run_path(str(QUICKSTART), run_name="__main__")
    out = capsys.readouterr().out
    assert "+ 10 points from rule 'app_bonus'" in out
    assert "[subscriber] alice was credited 52 points" in out
    assert "+ 63 points from rule 'spend' (x1.5)" in out
    assert "+ 10 points from rule 'daily', 10 cut by a cap" in out
    assert "+ 30 points from rule 'daily' (x2), 10 cut by a cap" in out
    assert "taken from 2 lots; balance now 93" in out
    assert "only 93 spendable" in out
    history = out[out.index("History, newest first:") :].splitlines()[1:]
    assert [line.split()[2] for line in history] == [
        "-8",
        "-42",
        "+30",
        "+31",
        "+10",
        "+20",
        "+10",
        "+42",
    ]
