"""Benchmark: simulate 10,000 members over 365 days of the fitness program.

    python benchmarks/simulate.py [--members N] [--days D] [--seed S] [--workers W]
                                  [--profile FILE]

Prints the wall time of one run of :func:`gamify.simulation.simulate` (the
real engine on the memory store, ``run_due`` once a simulated day), the
target beside it (under 60 s for 10,000 members x 365 days with the
default behaviour: every action with probability 0.3 a day), and where the
time went. The baseline is the engine's own work within the same run: the
time spent inside ``Engine.track``, ``Engine.run_due``, ``Engine.redeem`` and
``set_member``, measured by wrapping those methods, so the simulator's own
cost (drawing behaviour, ordering events, snapshots) is what remains.
``--workers W`` splits the members over W processes (default: as ``gamify
simulate`` does, one per CPU but at least 1,000 members each). The time
inside the engine is measured in this process only, so it is printed for
``--workers 1``. ``--profile FILE`` (also one process) writes a cProfile of the
run and prints its top entries (the profiler slows the run about twofold).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import pstats
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gamify.simulation as simulation
from gamify import Engine
from gamify.simulation import default_workers, load_program, simulate

PROGRAM = Path(__file__).resolve().parents[1] / "examples" / "fitness" / "program.toml"
TARGET_SECONDS = 60.0

spent: dict[str, float] = {}
calls: dict[str, int] = {}


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` adding its wall time to ``spent[name]``."""
    spent[name] = 0.0
    calls[name] = 0

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started
            calls[name] += 1

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--program", type=Path, default=PROGRAM)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    workers = args.workers or default_workers(args.members)
    if args.profile:
        workers = 1

    for name in ("track", "run_due", "redeem", "set_member"):
        if hasattr(Engine, name):
            setattr(Engine, name, timed(f"Engine.{name}", getattr(Engine, name)))
    simulation._distributions = timed("snapshots", simulation._distributions)

    program, behaviour = load_program(args.program)
    profiler = cProfile.Profile() if args.profile else None
    print(
        f"simulating {args.members:,} members x {args.days} days of {args.program} "
        f"on {workers} process{'es' if workers > 1 else ''}",
        flush=True,
    )
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % 30 == 0 or done == total:
            print(f"  day {done}/{total}: {time.perf_counter() - started:.1f} s", flush=True)

    if profiler is not None:
        profiler.enable()
    result = simulate(
        program,
        members=args.members,
        days=args.days,
        seed=args.seed,
        behaviour=behaviour,
        progress=progress,
        workers=workers,
    )
    if profiler is not None:
        profiler.disable()
    wall = time.perf_counter() - started

    verdict = "meets" if wall < TARGET_SECONDS else "misses"
    print(
        f"gamify simulate: {wall:.1f} s wall for {result.events:,} events and "
        f"{result.redemptions:,} redemptions ({verdict} the {TARGET_SECONDS:.0f} s target)"
    )
    if workers > 1:
        print("(the time inside the engine is measured with --workers 1)")
        return
    engine = sum(v for k, v in spent.items() if k.startswith("Engine."))
    tracked = calls.get("Engine.track", 0)
    print(
        f"baseline (the engine's own calls in that run): {engine:.1f} s; "
        f"Engine.track {spent.get('Engine.track', 0.0):.1f} s = "
        f"{spent.get('Engine.track', 0.0) / max(tracked, 1) * 1e6:.0f} us per event"
    )
    for name in sorted(spent):
        print(f"  {name}: {spent[name]:.1f} s in {calls[name]:,} calls")
    print(f"  the simulator itself: {wall - engine - spent['snapshots']:.1f} s")
    if profiler is not None and args.profile is not None:
        profiler.dump_stats(args.profile)
        pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
