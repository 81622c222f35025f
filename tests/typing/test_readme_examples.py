"""The README's and the docs' examples run, and type-check under mypy --strict."""

from __future__ import annotations

import asyncio
import sys
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from readme_examples import (
    SHOP,
    app_session,
    badges,
    batch,
    boards,
    curves,
    double_points,
    events,
    first_program,
    float_amounts,
    forgotten,
    loyalty,
    shared_memory_store,
    storage,
    tracked_from_async_code,
)

from gamify import Engine, ManualClock, Program
from gamify.testing.plugin import EngineFactory

HERE = Path(__file__).resolve().parent


def test_the_first_program_example_runs(tmp_path: Path) -> None:
    """The shop example earns double points in the campaign, replays and caps as described."""
    outcome = first_program(tmp_path)
    assert outcome.total("points") == 39  # floor(19.99 x 2): rounded once, after the campaign


def test_the_badge_examples_run() -> None:
    """Both predicates read the event's attributes: a 4 a.m. workout earns both badges."""
    assert sorted(b.badge for b in badges()) == ["early_bird", "night_owl"]


def test_the_plugin_example_runs(gamify_engine: EngineFactory, gamify_clock: ManualClock) -> None:
    """The README's plugin test, with its fixtures annotated as the README says."""
    double_points(gamify_engine, gamify_clock)


def test_the_async_example_runs() -> None:
    """The awaited track applies once; its key replays the same outcome."""
    engine = Engine(Program.from_dict(tomllib.loads(SHOP)))
    first = asyncio.run(tracked_from_async_code(engine, "alice", "w-1"))
    again = asyncio.run(tracked_from_async_code(engine, "alice", "w-1"))
    assert (first, again, engine.balance("alice")) == (5, 5, 5)


def test_the_batch_example_runs() -> None:
    """The batch returns one outcome per event, in order."""
    assert [(o.member_id, o.total()) for o in batch()] == [("alice", 5), ("bob", 5)]


def test_the_subscriber_examples_run() -> None:
    """Both subscribers get the check-in's credited event; notify's True is ignored."""
    assert events() == (["alice: +check_in"], ["credited"])


def test_a_float_order_total_is_exact() -> None:
    """An order total of 0.5 (a float) less 19 points at 100 a unit leaves exactly 0.31."""
    redemption = float_amounts()
    assert (redemption.points, redemption.cash) == (19, Decimal("0.31"))


def test_the_curve_example_runs() -> None:
    """The medium slow curve answers as the published table (level 10 needs 560 XP)."""
    assert curves() == (560, 742 - 560, 19)  # level 20 needs 5,460 XP


def test_the_loyalty_and_board_examples_run() -> None:
    """The loyalty calls and the boards of the README run on the example programs."""
    assert loyalty().points == 2500
    assert [(r.rank, r.score) for r in boards()] == [(1, 62), (1, 62)]


def test_the_storage_examples_run(tmp_path: Path) -> None:
    """has_schema answers on any store: false before create_schema, true after."""
    assert storage(tmp_path) == (False, True)


def test_engines_share_a_memory_store_object_not_its_url() -> None:
    """Two engines on one store object see the same balance; a new memory:// sees none."""
    assert shared_memory_store() == (5, 5, 0)


def test_the_app_session_example_runs(tmp_path: Path) -> None:
    """immediate_session gives a SQLModel session the engine joins: the award commits."""
    assert app_session(tmp_path) == 7


@pytest.mark.slow
def test_the_examples_type_check() -> None:
    """mypy --strict accepts the README's examples as written."""
    from mypy import api  # the test extra installs mypy

    limit = sys.getrecursionlimit()
    try:
        out, err, status = api.run(["--strict", str(HERE / "readme_examples.py")])
    finally:
        sys.setrecursionlimit(limit)  # mypy raises it for the whole process
    assert status == 0, out + err


def test_forgetting_a_member_example(tmp_path: Path) -> None:
    """The member is erased with the app's commit; a second call finds nothing."""
    assert forgotten(tmp_path) == (True, False, 0)
