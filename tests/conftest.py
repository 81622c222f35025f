"""Shared fixtures: the table of stores the store-level tests run on.

``gamify_store_target`` is parametrised over every adapter (``memory://``, a
SQLite file in the test's ``tmp_path``, PostgreSQL at ``GAMIFY_PG_URL``);
``gamify_sql_target`` over the SQL ones only. PostgreSQL tests carry the
``postgres`` marker and are skipped, with a reason, when ``GAMIFY_PG_URL`` is not
set; under CI (``CI`` set) a missing URL fails instead, so they never go
silently missing. Each PostgreSQL test gets tables of its own (a unique table
prefix, dropped afterwards), so every test starts on a clean schema.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# The contract's asserts should explain themselves: rewrite them (before any import of it).
pytest.register_assert_rewrite("gamify.testing.conformance")

from gamify_adapters.memory import MemoryStore  # noqa: E402

from gamify import Store, open_store  # noqa: E402 - after the rewrite registration

# Hypothesis profiles for every property test: "ci" (chosen when the CI environment
# variable is set) is derandomized so a CI run is reproducible; "dev" explores fresh
# examples each run. Both drop the per-example deadline: one example runs many engine
# calls, and a slow first call (imports, caches) must not fail a test.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=100)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

PG_URL_VARIABLE = "GAMIFY_PG_URL"
PG_SKIP_REASON = "set GAMIFY_PG_URL to run the PostgreSQL tests"

MEMORY = pytest.param("memory", id="memory")
SQLITE = pytest.param("sqlite", id="sqlite")
POSTGRES = pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)


@dataclass(frozen=True)
class StoreTarget:
    """Where a test's store lives: its URL and the options to open it with."""

    kind: str  # memory, sqlite or postgres
    url: str
    options: dict[str, Any] = field(default_factory=dict)

    def open(self, **extra: Any) -> Store:
        """A store on this target (the caller closes it)."""
        return open_store(self.url, **{**self.options, **extra})


def _target(kind: str, tmp_path: Path) -> StoreTarget:
    if kind == "memory":
        return StoreTarget(kind, "memory://")
    if kind == "sqlite":
        return StoreTarget(kind, f"sqlite:///{tmp_path / 'gamify.db'}")
    url = os.environ.get(PG_URL_VARIABLE)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_URL_VARIABLE} is not set under CI")
        pytest.skip(PG_SKIP_REASON)
    return StoreTarget(kind, url, {"prefix": f"t{uuid.uuid4().hex[:12]}_"})


def _drop(target: StoreTarget) -> None:
    if target.kind != "postgres":
        return
    from gamify_adapters.sql import SQLStore

    store = SQLStore(target.url, create=False, **target.options)
    try:
        store.drop_schema()
    finally:
        store.close()


@pytest.fixture(params=[MEMORY, SQLITE, POSTGRES])
def gamify_store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreTarget]:
    """Each adapter in turn: memory, a SQLite file, PostgreSQL (``postgres`` marker)."""
    target = _target(request.param, tmp_path)
    yield target
    _drop(target)


@pytest.fixture(params=[SQLITE, POSTGRES])
def gamify_sql_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreTarget]:
    """Each SQL database in turn: a SQLite file, PostgreSQL (``postgres`` marker)."""
    target = _target(request.param, tmp_path)
    yield target
    _drop(target)


@pytest.fixture
def gamify_pg_target(tmp_path: Path) -> Iterator[StoreTarget]:
    """PostgreSQL only (use with the ``postgres`` marker)."""
    target = _target("postgres", tmp_path)
    yield target
    _drop(target)


class _PatchableStore(MemoryStore):
    """The memory store as an interpreted subclass. A compiled store's methods call each
    other directly; through a subclass they look each other up on the instance, so a
    test can replace one with ``monkeypatch.setattr(store, "_apply", ...)``."""


@pytest.fixture
def gamify_patchable_store() -> MemoryStore:
    """A memory store whose internal steps a test may patch (to inject a fault, say)."""
    return _PatchableStore()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to test an editable install whose compiled modules are older than their
    sources: Python would import the extension and the edit would go untested."""
    import gamify

    root = Path(gamify.__file__).parent.parent
    if not (root / "hatch_build.py").exists():  # an installed wheel, not this checkout
        return
    stale = [
        str(source.relative_to(root))
        for folder in (root / "gamify", root / "adapters")
        for built in folder.rglob("*")
        if built.suffix in (".so", ".pyd")
        and (source := built.with_name(built.name.split(".")[0] + ".py")).exists()
        and source.stat().st_mtime > built.stat().st_mtime
    ]
    if stale:
        pytest.exit(
            f"compiled modules are older than their sources ({', '.join(stale)}): run "
            "scripts/install again, or install with GAMIFY_COMPILE=no while editing them",
            returncode=4,
        )
