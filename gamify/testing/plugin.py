"""pytest fixtures for code that uses gamify.

The plugin is registered through the ``pytest11`` entry point, so installing
gamify makes its fixtures available in every test suite; nothing to import or
list in ``conftest.py``. Loading it imports the ``gamify`` package (the engine
and pydantic, pendulum and PyYAML), but not the SQL adapter or the command
line's libraries (SQLModel, typer, rich).

``gamify_clock``
    A :class:`gamify.ManualClock` standing still at :data:`DEFAULT_START`
    (Monday 2026-01-05 12:00 UTC) until the test moves it::

        gamify_clock.set(pendulum.datetime(2026, 3, 8, 1, 30, tz="America/New_York"))
        gamify_clock.advance(hours=3)                      # an exact duration
        gamify_clock.advance(days=1, tz="Asia/Shanghai")   # the next local day, same wall time
        gamify_clock.now()                                 # an aware UTC datetime

    Override the fixture in your ``conftest.py`` to start elsewhere.

``gamify_engine``
    A factory of fresh engines on the memory store::

        engine = gamify_engine("program.toml")             # a path (TOML, JSON or YAML)
        engine = gamify_engine({"timezone": "UTC", ...})   # a dict, validated as a Program
        engine = gamify_engine(program, clock=other_clock, store="sqlite:///t.db")

    ``program`` is a :class:`gamify.Program`, a path or a dict; ``clock``
    defaults to the ``gamify_clock`` fixture (the same object, so moving the
    fixture moves the engine); ``store`` is a URL (default ``memory://``) or a
    store object; other keyword arguments go to :class:`gamify.Engine`. Stores
    the factory opened from a URL are closed when the test ends; a store
    object passed in stays the caller's to close.

Frozen time
    To let ``freezegun`` or ``time-machine`` drive the engine instead, pass
    ``clock=gamify.SystemClock()``: it reads ``pendulum.now("UTC")``, which
    follows both::

        with freezegun.freeze_time("2026-03-01 09:00:00+00:00") as frozen:
            engine = gamify_engine(program, clock=gamify.SystemClock())
            engine.track("alice", "check_in")      # at 2026-03-01 09:00 UTC
            frozen.tick(datetime.timedelta(days=1))
            engine.track("alice", "check_in")      # a day later
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:
    from gamify import Clock, Engine, ManualClock, Program, Store

__all__ = ["DEFAULT_START", "EngineFactory", "gamify_clock", "gamify_engine"]

DEFAULT_START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
"""Where ``gamify_clock`` starts: Monday 2026-01-05 12:00 UTC."""


class EngineFactory(Protocol):
    """The type of the ``gamify_engine`` fixture."""

    def __call__(
        self,
        program: Program | str | Path | Mapping[str, Any],
        clock: Clock | None = None,
        store: Store | str = "memory://",
        **options: Any,
    ) -> Engine: ...


@pytest.fixture
def gamify_clock() -> ManualClock:
    """A manual clock at :data:`DEFAULT_START`; ``set`` it or ``advance`` it (in any zone)."""
    from gamify.clock import ManualClock

    return ManualClock(DEFAULT_START)


@pytest.fixture
def gamify_engine(gamify_clock: ManualClock) -> Iterator[EngineFactory]:
    """A factory of fresh engines: ``gamify_engine(program, clock=None, store="memory://")``."""
    from gamify import Engine, _registry

    opened: list[Store] = []

    def make(
        program: Program | str | Path | Mapping[str, Any],
        clock: Clock | None = None,
        store: Store | str = "memory://",
        **options: Any,
    ) -> Engine:
        if isinstance(store, str):
            store = _registry.open_store(store)
            opened.append(store)
        return Engine(program, store=store, clock=clock or gamify_clock, **options)

    yield make
    for store in reversed(opened):
        store.close()
