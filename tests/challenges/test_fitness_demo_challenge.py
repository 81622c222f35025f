"""The fitness demo's challenge week and weekly board, checked against hand-computed values."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType

import pytest

APP = Path(__file__).resolve().parents[2] / "examples" / "fitness" / "app.py"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example app, imported from its file."""
    spec = importlib.util.spec_from_file_location("fitness_demo_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "fitness_demo_app", module)  # dataclasses look it up
    spec.loader.exec_module(module)
    return module


def test_demo_first_week_completes_on_the_fifth_workout_day(app: ModuleType) -> None:
    """Workouts on days 1, 2, 4, 5 (twice) and 6 reach 5 days on day 6, which pays 200 once."""
    out = io.StringIO()
    rows = app.run_challenge(out)
    assert [(r.day, r.workouts, r.current, r.status, r.reward) for r in rows] == [
        (1, 1, 1, "active", 0),
        (2, 1, 2, "active", 0),
        (3, 0, 2, "active", 0),
        (4, 1, 3, "active", 0),
        (5, 2, 4, "active", 0),  # the second workout of a day adds no day
        (6, 1, 5, "completed", 200),
        (7, 1, 5, "completed", 0),
    ]
    text = out.getvalue()
    assert "first_week" in text and "+200" in text
    assert "to 2026-04-20 00:00 UTC" in text  # enrolled on 13 April: day 7 is 19 April


def test_demo_weekly_leaderboard(app: ModuleType) -> None:
    """Week two of the group: cara 574; dev and dina tie at 180; eli 36; fay 26; gus absent.

    Every workout pays 10 + 2 x streak (capped at 60) and as much XP. cara (every day) earns
    26 + 28 + ... + 38 = 224 on streak days 8-14 and reaches level 3 (200 XP, +150) and level 4
    (300 XP, +200): 574. dev and dina (weekdays) earn 12 + 14 + 16 + 18 + 20 = 80 and reach
    level 2 (100 XP, +100) on Tuesday: 180 each, sharing rank 2. eli (days 8, 10, 12) earns
    3 x 12 = 36, ranked 4th; fay (Saturday and Sunday) 12 + 14 = 26; gus stopped after week one.
    """
    out = io.StringIO()
    board = app.run_leaderboard(out)
    assert board == [
        (1, "cara", 574),
        (2, "dev", 180),
        (2, "dina", 180),
        (4, "eli", 36),
        (5, "fay", 26),
    ]
    text = out.getvalue()
    assert "Weekly leaderboard" in text
    assert "gus (first week only) earned nothing this week" in text


def test_demo_prints_every_part(app: ModuleType) -> None:
    """The no-argument demo prints the 40-day table, the challenge week and the board."""
    out = io.StringIO()
    rows = app.run_demo(out)
    assert len(rows) == 40
    text = out.getvalue()
    assert text.index("Fitness demo") < text.index("Challenge first_week")
    assert text.index("Challenge first_week") < text.index("Weekly leaderboard")
