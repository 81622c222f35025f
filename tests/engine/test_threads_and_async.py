"""One engine shared by the threads of a process, and called from asyncio through threads.

docs/storage.md ("Threads, processes and async code") promises that an app builds
one Engine per process and shares it: every thread may call it at once, each
event is applied once and delivered once, and async code reaches it through
``asyncio.to_thread``. The threads start together at a barrier; the results
rest on the stores' locks, never on timing.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import gamify
from gamify.testing.plugin import EngineFactory

SHOP: dict[str, Any] = {
    "name": "shop",
    "timezone": "Asia/Shanghai",
    "actions": {"purchase": {"amount": "required"}, "check_in": {"amount": "none"}},
    "rules": [
        {"name": "purchase_points", "action": "purchase", "per_amount": 1},
        {"name": "check_in_points", "action": "check_in", "fixed": 5},
    ],
    "caps": [{"name": "check_ins", "limit": 20, "period": "day", "action": "check_in"}],
}
THREADS = 8
PER_THREAD = 25


@pytest.fixture(autouse=True)
def frequent_switches() -> Iterator[None]:
    """Threads switch every microsecond, so a missing lock shows as a wrong total."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def store_url(kind: str, tmp_path: Path) -> str:
    return "memory://" if kind == "memory" else f"sqlite:///{tmp_path / 'gamify.db'}"


def ledger_sum(engine: gamify.Engine, member_id: str) -> int:
    return sum(e.amount for e in engine.store.history(member_id, account="points"))


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_threads_sharing_one_engine_apply_and_deliver_each_event_once(
    gamify_engine: EngineFactory, kind: str, tmp_path: Path
) -> None:
    """Eight threads track on one engine, for one shared member and their own: every
    event counts once, every domain event reaches the subscriber once, and a key
    retried from another thread replays the first outcome."""
    engine = gamify_engine(SHOP, store=store_url(kind, tmp_path))
    delivered: list[gamify.DomainEvent] = []
    engine.on("credited", delivered.append)
    start = threading.Barrier(THREADS)

    def work(t: int) -> list[gamify.Outcome]:
        start.wait(timeout=60)
        outcomes = []
        for i in range(PER_THREAD):
            outcomes.append(engine.track("shared", "purchase", amount=2, key=f"t{t}-{i}"))
            outcomes.append(engine.track(f"own-{t}", "purchase", amount=1, key=f"o{i}"))
        # every thread retries the same key of the shared member once
        outcomes.append(engine.track("shared", "purchase", amount=2, key="t0-0"))
        return outcomes

    with ThreadPoolExecutor(THREADS) as pool:
        results = [f.result(timeout=600) for f in [pool.submit(work, t) for t in range(THREADS)]]

    assert engine.balance("shared") == THREADS * PER_THREAD * 2 == ledger_sum(engine, "shared")
    for t in range(THREADS):
        assert engine.balance(f"own-{t}") == PER_THREAD == ledger_sum(engine, f"own-{t}")
    first = engine.track("shared", "purchase", amount=2, key="t0-0")
    assert all(outcomes[-1] == first for outcomes in results)
    # one credited event per applied event, none for the replays
    assert len(delivered) == THREADS * PER_THREAD * 2
    assert len({e.event_id for e in delivered}) == len(delivered)
    assert Counter(e.member_id for e in delivered)["shared"] == THREADS * PER_THREAD


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_daily_cap_holds_across_threads(
    gamify_engine: EngineFactory, kind: str, tmp_path: Path
) -> None:
    """Sixteen check-ins of 5 points at once against a daily cap of 20: exactly 20."""
    engine = gamify_engine(SHOP, store=store_url(kind, tmp_path))
    start = threading.Barrier(16)

    def check_in(i: int) -> gamify.Outcome:
        start.wait(timeout=60)
        return engine.track("amy", "check_in", key=f"c{i}")

    with ThreadPoolExecutor(16) as pool:
        outcomes = [f.result(timeout=600) for f in [pool.submit(check_in, i) for i in range(16)]]
    assert engine.balance("amy") == 20 == ledger_sum(engine, "amy")
    assert sum(o.total() for o in outcomes) == 20


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_async_code_calls_the_engine_through_to_thread(
    gamify_engine: EngineFactory, kind: str, tmp_path: Path
) -> None:
    """An async app awaits ``asyncio.to_thread(engine.track, ...)``: forty calls gathered
    at once all apply, and a redemption racing them never overdraws."""
    engine = gamify_engine(SHOP, store=store_url(kind, tmp_path))
    engine.track("bea", "purchase", amount=100, key="opening")

    async def app() -> list[Any]:
        tracks = [
            asyncio.to_thread(engine.track, "bea", "purchase", amount=1, key=f"a{i}")
            for i in range(40)
        ]
        spends = [asyncio.to_thread(engine.redeem, "bea", 50, key=f"r{i}") for i in range(3)]
        return await asyncio.gather(*tracks, *spends, return_exceptions=True)

    results = asyncio.run(app())
    tracked, spent = results[:40], results[40:]
    assert all(isinstance(r, gamify.Outcome) for r in tracked)
    redemptions = [r for r in spent if isinstance(r, gamify.Redemption)]
    refused = [r for r in spent if not isinstance(r, gamify.Redemption)]
    assert all(isinstance(r, gamify.InsufficientBalanceError) for r in refused)
    # 100 to 140 points when they run: two redemptions of 50 always fit, a third never
    assert len(redemptions) == 2
    assert engine.balance("bea") == 140 - 100 == ledger_sum(engine, "bea")
