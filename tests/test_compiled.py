"""The modules built wheels compile with mypyc (listed in hatch_build.py) behave as their
sources do; CI, which installs with GAMIFY_COMPILE=yes, checks that they are compiled."""

from __future__ import annotations

import ast
import copy
import dataclasses
import importlib
import importlib.machinery
import inspect
import os
import pickle
from collections.abc import Mapping
from pathlib import Path

import pytest
from gamify_adapters.memory import MemoryStore

from gamify import DomainEvent, Store, open_store
from gamify.components.badges import LazyMapping
from gamify.testing.plugin import EngineFactory

ROOT = Path(__file__).resolve().parent.parent


def compiled_modules() -> list[str]:
    """The module names of hatch_build.COMPILED (read from the file: hatchling is a build
    requirement, not a test one)."""
    tree = ast.parse((ROOT / "hatch_build.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "COMPILED":
            paths = ast.literal_eval(node.value)
            break
    else:
        raise AssertionError("hatch_build.py has no COMPILED list")
    names = []
    for path in paths:
        parts = Path(path).with_suffix("").parts
        names.append(".".join(parts[1:] if parts[0] == "adapters" else parts))
    return names


def test_the_compiled_list_names_modules_that_exist() -> None:
    names = compiled_modules()
    assert "gamify._core" in names and "gamify_adapters.memory" in names
    for name in names:
        importlib.import_module(name)


@pytest.mark.skipif(
    os.environ.get("GAMIFY_COMPILE") != "yes", reason="the install was not asked to compile"
)
def test_every_listed_module_is_compiled() -> None:
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    pure = [
        name
        for name in compiled_modules()
        if not str(importlib.import_module(name).__file__).endswith(suffixes)
    ]
    assert pure == []


def test_a_compiled_store_class_answers_isinstance_for_itself(tmp_path: Path) -> None:
    """A compiled subclass of an ABC would share its base's cache: once a SQL store had
    passed isinstance(..., Store), it would pass isinstance(..., MemoryStore) too."""
    sql = open_store(f"sqlite:///{tmp_path / 'gamify.db'}")
    try:
        assert isinstance(sql, Store)
        assert not isinstance(sql, MemoryStore)
        assert not issubclass(type(sql), MemoryStore)
        assert isinstance(MemoryStore(), Store)
    finally:
        sql.close()


def test_lazy_mappings_are_mappings_and_no_other_mapping_is_one() -> None:
    assert isinstance({}, Mapping)
    assert not isinstance({}, LazyMapping)
    lazy = LazyMapping({"a": 1}, lambda key: key * 2)
    assert isinstance(lazy, Mapping) and isinstance(lazy, LazyMapping)
    assert dict(lazy) == {"a": "aa"}


def test_domain_events_pickle_and_copy(gamify_engine: EngineFactory) -> None:
    """Subscribers may queue domain events for another process. A compiled frozen dataclass
    refuses its own unpickling, so the store's records stay plain Python."""
    engine = gamify_engine(
        {
            "timezone": "UTC",
            "actions": {"a": {"amount": "none"}},
            "rules": [{"name": "r", "action": "a", "fixed": 1}],
        }
    )
    heard: list[DomainEvent] = []
    engine.on("*", heard.append)
    engine.track("m", "a")
    assert heard
    for event in heard:
        assert pickle.loads(pickle.dumps(event)) == event
        assert copy.deepcopy(event) == event and copy.copy(event) == event


def test_hand_written_dataclass_inits_take_exactly_the_fields() -> None:
    """Dataclasses on the hot path write ``__init__`` by hand (compiled, it runs natively;
    the one dataclasses would generate is Python). Each must take the fields in order, with
    their defaults, as the generated one would."""
    hand_written = [
        cls
        for name in compiled_modules()
        for cls in vars(importlib.import_module(name)).values()
        if isinstance(cls, type)
        and dataclasses.is_dataclass(cls)
        and cls.__module__ == name
        # not the __init__ dataclasses writes (Python source compiled from "<string>")
        and getattr(getattr(cls.__init__, "__code__", None), "co_filename", "") != "<string>"
    ]
    assert len(hand_written) >= 5, hand_written
    for cls in hand_written:
        expected = [
            (f.name, f.default if f.default is not dataclasses.MISSING else None)
            for f in dataclasses.fields(cls)
            if f.init
        ]
        parameters = list(inspect.signature(cls).parameters.values())
        got = [(p.name, p.default if p.default is not p.empty else None) for p in parameters]
        assert got == expected, cls
