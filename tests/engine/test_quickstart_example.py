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
