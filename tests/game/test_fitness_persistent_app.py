"""The fitness app on a SQLite file: each run simulates the week after the last, by the rules."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "fitness" / "app.py"


def run(db: Path) -> str:
    """One run of ``app.py --db``, as the README shows it."""
    done = subprocess.run(
        [sys.executable, str(APP), "--db", str(db)],
        cwd=db.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def simulated_range(output: str) -> tuple[date, date]:
    """The days a run says it simulates, from its first line."""
    first, _, last = output.splitlines()[0].rpartition(": ")[2].partition(" to ")
    return date.fromisoformat(first), date.fromisoformat(last)


def test_two_runs_store_and_continue_the_figures_the_rules_give(tmp_path: Path) -> None:
    """Workouts pay 10 + min(2 x streak, 50) points and XP; level n (at 100 x (n - 1) XP) pays
    50 x n; first_workout 50, streak_7 100; first_week (5 days of the first 7) 200.

    ana works out 2 to 8 March: 12 + 50, 14, 16, 18, 20 + 200 (her fifth day), 22 + 100
    (102 XP: level 2), 24 + 100 (streak_7): 576 points, 126 XP. ben (4 and 8 March) and chloe
    (3, 6 and 8 March) each start a new streak every time: 62 + 12 and 62 + 12 + 12.
    The second run starts on 9 March: ana 26, 28, 30 + 150 (210 XP: level 3), a rest on the
    12th, then 12, 14, 16: 852 points, 252 XP; ben 12, 14 (100, 50 XP); chloe three times 12
    (122, 72 XP).
    """
    db = tmp_path / "fitness.db"
    first = run(db)
    assert simulated_range(first) == (date(2026, 3, 2), date(2026, 3, 8))
    assert "2026-03-06  ana     42 min  +220 points  + 20 XP  streak 5" in first
    assert "ana    level  2    576 points    126 XP  badges: first_workout, streak_7" in first
    assert "ben    level  1     74 points     24 XP  badges: first_workout" in first
    assert "chloe  level  1     86 points     36 XP  badges: first_workout" in first
    assert "XP board: 1. ana (126), 2. chloe (36), 3. ben (24)" in first

    second = run(db)
    assert simulated_range(second) == (date(2026, 3, 9), date(2026, 3, 15))
    assert "-> ana reached level 3" in second
    assert "2026-03-13  ana     42 min  + 12 points  + 12 XP  streak 1" in second
    assert "ana    level  3    852 points    252 XP  badges: first_workout, streak_7" in second
    assert "ben    level  1    100 points     50 XP  badges: first_workout" in second
    assert "chloe  level  1    122 points     72 XP  badges: first_workout" in second


def test_each_run_starts_the_day_after_the_last_one_simulated(tmp_path: Path) -> None:
    """A run whose last day has no workout (the fourth ends on 29 March, a rest day for all)
    is still followed by the next day, never by a day already simulated."""
    db = tmp_path / "fitness.db"
    ranges = [simulated_range(run(db)) for _ in range(5)]
    starts = [start for start, _ in ranges]
    assert starts == [date(2026, 3, 2) + timedelta(days=7 * n) for n in range(5)]
    assert all(end - start == timedelta(days=6) for start, end in ranges)
