"""The beauty-store example app runs from any directory and prints every section of its story."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "beauty_store" / "app.py"

SECTIONS = [
    "== Members and the referral chain (lin -> chen -> zhou) ==",
    "== Tier changes ==",
    "== mei's birthday month (double points) and the 5000-point cap per purchase ==",
    "== Points earned per month",
    "== Redemptions: a catalog reward and points plus cash ==",
    "== A returned order ==",
    "== Customer care: adjustments by hand ==",
    "== Reminders on 2027-01-05: lots expiring within 60 days ==",
    "== Renewal: a purchase on 2027-01-20",
    "== Month ends: run_due",
    "== Profiles at the end ==",
]


@pytest.fixture(scope="module")
def output() -> str:
    """The app's output, run as documented from the repository root."""
    run = subprocess.run(
        [sys.executable, "examples/beauty_store/app.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_the_app_prints_every_section(output: str) -> None:
    """Each section of the demo appears once, in order."""
    positions = [output.index(title) for title in SECTIONS]
    assert positions == sorted(positions)


def test_the_app_tells_the_story_of_the_year(output: str) -> None:
    """The coupon costs 2500, points pay at most 30 % of an order, zhou's returned order costs
    him silver at the January review, and chen's January purchase renews lots to end of July."""
    assert "mei takes 'coupon_200_minus_50' for 2500 points" in output
    assert "at most 30 %" in output
    assert "mei (silver) buys 2400.00: x2.4 = 5760, cut to 5000 by the per-purchase cap" in output
    assert "mei    regular -> silver" in output
    assert "zhou    silver -> regular  (January review)" in output
    assert "January review" in output and "tier changes: zhou silver -> regular" in output
    assert "renewed: due 2027-02-01 00:00 -> 2027-08-01 00:00" in output
    assert "zhou joins with chen's code" in output


def test_customer_care_adjustments_are_paid_once(output: str) -> None:
    """Each adjustment, sent twice with one key, moves the balance once."""
    assert "chen +300 points ('goodwill: delivery 5 days late', ticket-0803, sent twice): " \
        "balance 2687 -> 2987" in output
    assert "lin -50 points ('promotion paid by mistake', ticket-0804, sent twice): " \
        "balance 2581 -> 2531" in output


def test_the_app_runs_from_another_directory(tmp_path: Path) -> None:
    """The program file is found next to the app, whatever the working directory."""
    run = subprocess.run(
        [sys.executable, str(APP)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "== Profiles at the end ==" in run.stdout
