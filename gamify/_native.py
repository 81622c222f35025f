"""What the modules that built wheels compile with mypyc (see ``hatch_build.py``) need
from plain Python."""

from __future__ import annotations

import abc
import importlib


def own_abc_cache(cls: type) -> None:
    """Give the abstract class ``cls`` an instance-check cache of its own.

    mypyc creates a compiled class without running ``ABCMeta.__new__``, so the class
    shares its base's cache: after ``isinstance(x, Store)`` said True for a SQL store,
    ``isinstance(x, MemoryStore)`` would say True too. A class built by Python already
    has its own, and is left alone.
    """
    if isinstance(cls, abc.ABCMeta) and "_abc_impl" not in vars(cls):
        importlib.import_module("_abc")._abc_init(cls)
