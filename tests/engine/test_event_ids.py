"""Domain event ids: 32 hex digits, unique across threads and across a fork."""

from __future__ import annotations

import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from gamify._events import new_id

HEX32 = re.compile(r"[0-9a-f]{32}")


def test_ids_are_32_hex_digits_and_never_repeat_across_threads() -> None:
    def draw(_: int) -> list[str]:
        return [new_id() for _ in range(2_000)]

    with ThreadPoolExecutor(8) as pool:
        ids = [i for batch in pool.map(draw, range(8)) for i in batch]
    assert all(HEX32.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids) == 16_000


@pytest.mark.skipif(sys.platform == "win32", reason="os.fork is POSIX only")
def test_a_forked_child_draws_ids_its_parent_never_does() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave at once
        os.write(write, " ".join(new_id() for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    parent = {new_id() for _ in range(100)}
    assert len(child) == 100 and not child & parent
    assert {i[:16] for i in child}.isdisjoint({i[:16] for i in parent})


def test_ids_keep_32_digits_whatever_the_random_half_draws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A random half drawn as zeros (or small) still gives 32 digits, all distinct."""
    from gamify import _events

    for drawn in (bytes(8), b"\x00\x00\x00\x00\x00\x00\x00\x01", b"\x0f" + bytes(7)):
        monkeypatch.setattr(os, "urandom", lambda n, drawn=drawn: drawn[:n])
        _events._IDS.reseed()
        ids = [new_id() for _ in range(20)]
        assert all(HEX32.fullmatch(i) for i in ids), ids
        assert len(set(ids)) == 20
    monkeypatch.undo()
    _events._IDS.reseed()
