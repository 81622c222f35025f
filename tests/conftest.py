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
