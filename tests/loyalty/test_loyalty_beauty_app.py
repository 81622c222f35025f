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
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
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
    assert (
        "chen +300 points ('goodwill: delivery 5 days late', ticket-0803, sent twice): "
        "balance 2687 -> 2987" in output
    )
    assert (
        "lin -50 points ('promotion paid by mistake', ticket-0804, sent twice): "
        "balance 2581 -> 2531" in output
    )


def test_the_app_runs_from_another_directory(tmp_path: Path) -> None:
    """The program file is found next to the app, whatever the working directory."""
    run = subprocess.run(
        [sys.executable, str(APP)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "== Profiles at the end ==" in run.stdout


MONTHS = """\
  month         mei     lin    chen    zhou
  2026-01      1002     373     384     173
  2026-02      1486     443     370     158
  2026-03      9028     426     483     140
  2026-04      1243     351     254      73
  2026-05      2225     297     452      61
  2026-06      1664     218     375     125
  2026-07      5002     473     369     144
  2026-08      2652     415     439     151
  2026-09      1781     235     380     154
  2026-10      7664     322     372     135
  2026-11      2079     521     586    2694
  2026-12      2390     336     550   -2425
  2027-01      1040       0     312       0
  2027-02         0       0       0       0
  total       39256    4410    5326    1583
"""


def test_points_earned_per_month_follow_the_rules(output: str) -> None:
    """Each purchase pays floor(amount x tier multiplier), x2 for mei in March, at most 5000;
    the purchase that crosses a tier earns at the old multiplier. A trial report pays 150,
    bottles 100 per 5 (chen's 7 pay 100, lin's 12 pay 200). Joining through a code pays the
    referee 30; the first purchase pays the referrer 50 + 5 % of it. zhou's returned order
    (2600 at regular, x1) comes off December. Figures from the example's seeded order amounts.
    """
    assert MONTHS in output
    assert "chen's first purchase (184.68) pays lin 59 (referral chen)" in output  # 50 + 9.23
    assert "zhou's first purchase (143.85) pays chen 57 (referral zhou)" in output  # 50 + 7.19
    assert "mei (gold) buys 692.19: x3 = 2076" in output  # 1.5 x 2 in March
    assert "mei (diamond) buys 3600.00: x2 = 7200, cut to 5000 by the per-purchase cap" in output


def test_redemption_return_expiry_and_final_balances_follow_the_rules(output: str) -> None:
    """lin pays 3181 points (31.81 at 100 points a unit, under 30 % of 800) and 768.19 in
    cash; zhou's return takes back 2600 of 4008. Lots expire at the end of the twelfth month
    after earning: zhou's January 30 + 143 at 1 February 2027, chen's February 153 + 217 and
    zhou's 158 at 1 March (chen's January lots were renewed). Final balances: mei 39256 - 2500,
    lin 4410 - 50 - 3181, chen 5326 + 300 - 370, zhou 1583 - 173 - 158.
    """
    assert "3181 points (= 31.81, at most 30 %) plus 768.19 in cash; balance 3181 -> 0" in output
    assert "2600 points taken back, debt 0; balance 1408, tier still silver" in output
    assert "2027-02-01 00:00  month end      expired   173 points in 2 lots" in output
    assert "2027-03-01 00:00  month end      expired   528 points in 3 lots" in output
    assert "mei   tier diamond  balance  36756  debt 0" in output
    assert "lin   tier silver   balance   1179  debt 0" in output
    assert "chen  tier silver   balance   5256  debt 0, referred by lin" in output
    assert "zhou  tier regular  balance   1252  debt 0, referred by chen" in output
