"""Loyalty test fixtures: the beauty-store program on the memory store, with a manual clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pendulum
import pytest

from gamify import Engine, ManualClock, Program

BEAUTY_PROGRAM = Path(__file__).resolve().parents[2] / "examples" / "beauty_store" / "program.toml"


@pytest.fixture(scope="session")
def beauty_program() -> Program:
    """The beauty-store program, loaded once."""
    return Program.load(BEAUTY_PROGRAM)


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock at 2026-01-05 09:00 in Asia/Shanghai (the beauty store's zone)."""
    return ManualClock(pendulum.datetime(2026, 1, 5, 9, tz="Asia/Shanghai"))


@pytest.fixture
def beauty(
    gamify_engine: Callable[..., Engine], beauty_program: Program, clock: ManualClock
) -> Engine:
    """A fresh beauty-store engine on the memory store, driven by ``clock``."""
    return gamify_engine(beauty_program, clock=clock)
