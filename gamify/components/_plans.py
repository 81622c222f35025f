"""What components work out once per program rather than once per event."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from gamify.program import Program

_T = TypeVar("_T")


def per_program(build: Callable[[Program], _T]) -> Callable[[Program], _T]:
    """``build(program)``, computed once per program object.

    Components use it for plain-data views of the settings an event reads: a
    pydantic model's attribute costs several times a plain one's, and an event
    reads dozens. Programs are few, so the cache is small; an entry keeps its
    program alive, which makes the identity check safe.
    """
    cache: dict[int, tuple[Program, _T]] = {}

    @functools.wraps(build)
    def cached(program: Program) -> _T:
        hit = cache.get(id(program))
        if hit is not None and hit[0] is program:
            return hit[1]
        if len(cache) >= 32:
            cache.clear()
        value = build(program)
        cache[id(program)] = (program, value)
        return value

    return cached
