"""Population simulation: a program's real engine run over many members and days.

Behaviour comes from an optional ``[simulation]`` table of the program file or
from a separate behaviour file (the same keys, at the top level or under
``[simulation]``)::

    [simulation]
    start = 2026-01-01          # the first simulated local day (program zone)
    snapshot_days = 7           # level and tier distributions every 7 days

    [[simulation.segments]]
    name = "casual"
    share = 0.8                 # of the members; shares add up to 1
    tags = ["casual"]           # optional: set on each member (tag multipliers)
    timezone = "Europe/Paris"   # optional: the members' zone
    redeem = { probability = 0.02, share = 0.5 }   # optional: spend half the balance
    [simulation.segments.actions.purchase]
    probability = 0.1           # chance of doing the action on a given day
    amount = { distribution = "lognormal", mu = 4, sigma = 0.8 }
    attributes = { channel = "app" }

Amounts: ``fixed`` (``value``; a bare number is short for it), ``uniform``
(``low``, ``high``), ``normal`` (``mean``, ``sd``) or ``lognormal`` (``mu``,
``sigma`` of the underlying normal); clipped to ``min`` (default 0) and
``max``, rounded to ``decimals`` (default 2). A segment that lists no actions
does every action of the program. Without any behaviour, one segment does
every action with probability 0.3 a day and amounts uniform from 1 to 100.
An action that takes no amount is tracked without one.

The simulation runs the real :class:`~gamify.Engine` on the memory store with
a :class:`~gamify.ManualClock`, one local day of the program's zone at a time:
each member's events of the day get instants spread over the day and are
tracked in time order (ties by member id, then action name), then the clock
moves to the next local midnight and ``engine.run_due()`` runs (expiry,
maturity, tier reviews). Results depend only on the seed: one
``random.Random(seed)`` draws a seed per member in member-id order, and each
member's own generator draws that member's behaviour; nothing iterates in hash
order. Points issued, spent and expired come from the store's ledger totals.

Members never affect one another, so a run can be split over processes
(``workers``): each takes every n-th member, with that member's own seed, on
its own memory store, and the figures of all are summed. The result is the
same for any number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gamify._engine import Engine
from gamify._time import local_midnight
from gamify.clock import ManualClock
from gamify.errors import (
    ConfigurationError,
    InsufficientBalanceError,
    ProgramError,
    SimulationError,
)
from gamify.program import Program
from gamify.program._base import TimeZoneName
from gamify.program._loader import from_validation_error, read_mapping
from gamify.report import CurrencyFlow, currency_flows, ratio
from gamify.store import Store

__all__ = [
    "DEFAULT_AMOUNT",
    "DEFAULT_PROBABILITY",
    "MEMBERS_PER_WORKER",
    "ActionBehaviour",
    "Amount",
    "BadgeRate",
    "Behaviour",
    "Redeem",
    "SegmentBehaviour",
    "SegmentSize",
    "SimulationResult",
    "Snapshot",
    "default_workers",
    "load_behaviour",
    "load_program",
    "parse_behaviour",
    "simulate",
]

DEFAULT_PROBABILITY = Decimal("0.3")
NO_TIER = "(none)"
_SHARE_TOLERANCE = Decimal("1e-9")
_MAX_MU, _MAX_SIGMA = 50, 10


# --------------------------------------------------------------------------- behaviour model


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Amount(_Model):
    """How an event's amount is drawn."""

    distribution: Literal["fixed", "uniform", "normal", "lognormal"] = "uniform"
    value: Decimal | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    mean: Decimal | None = None
    sd: Decimal | None = Field(default=None, ge=0)
    mu: Decimal | None = None
    sigma: Decimal | None = Field(default=None, ge=0)
    min: Decimal = Field(default=Decimal(0), ge=0)
    max: Decimal | None = None
    decimals: int = Field(default=2, ge=0, le=6)

    @model_validator(mode="before")
    @classmethod
    def _number_is_fixed(cls, data: Any) -> Any:
        if isinstance(data, int | float | Decimal) and not isinstance(data, bool):
            return {"distribution": "fixed", "value": data}
        return data

    @model_validator(mode="after")
    def _parameters(self) -> Amount:
        needs = {
            "fixed": ("value",),
            "uniform": ("low", "high"),
            "normal": ("mean", "sd"),
            "lognormal": ("mu", "sigma"),
        }[self.distribution]
        if self.distribution == "uniform" and self.low is None and self.high is None:
            return self.model_copy(update={"low": Decimal(1), "high": Decimal(100)})
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(
                f"a {self.distribution} amount needs {' and '.join(map(repr, missing))}"
            )
        if self.distribution == "fixed" and self.value is not None and self.value < 0:
            raise ValueError("a fixed amount must not be negative")
        if self.low is not None and self.high is not None and self.high < self.low:
            raise ValueError("'high' must not be below 'low'")
        if self.max is not None and self.max < self.min:
            raise ValueError("'max' must not be below 'min'")
        # e^mu is the median of a lognormal amount (mu = 4 gives about 55): past these the
        # draws overflow a float, and amounts far past any order.
        if self.mu is not None and abs(self.mu) > _MAX_MU:
            raise ValueError(
                f"'mu' is the mean of the amount's logarithm (e^mu is the median amount): "
                f"at most {_MAX_MU} in size, not {self.mu}"
            )
        if self.sigma is not None and self.sigma > _MAX_SIGMA:
            raise ValueError(f"'sigma' must be at most {_MAX_SIGMA}, not {self.sigma}")
        return self


DEFAULT_AMOUNT = Amount(distribution="uniform", low=Decimal(1), high=Decimal(100))


class ActionBehaviour(_Model):
    """One action in one segment: its daily probability, amount and attributes."""

    probability: Decimal = Field(default=DEFAULT_PROBABILITY, ge=0, le=1)
    amount: Amount = DEFAULT_AMOUNT
    attributes: dict[str, Any] = {}


class Redeem(_Model):
    """A daily chance to spend ``share`` of the spendable points balance."""

    probability: Decimal = Field(ge=0, le=1)
    share: Decimal = Field(default=Decimal(1), gt=0, le=1)
    min_points: int = Field(default=1, ge=1)
    """No redemption below this many points."""


class SegmentBehaviour(_Model):
    """A share of the population that behaves alike."""

    name: str = Field(min_length=1)
    share: Decimal = Field(gt=0, le=1)
    actions: dict[str, ActionBehaviour] | None = None
    """``None``: every action of the program with the default behaviour."""
    redeem: Redeem | None = None
    tags: list[str] = []
    timezone: TimeZoneName | None = None


def _default_segments() -> list[SegmentBehaviour]:
    return [SegmentBehaviour(name="everyone", share=Decimal(1))]


class Behaviour(_Model):
    """The simulated population's behaviour."""

    start: date = date(2026, 1, 1)
    snapshot_days: int = Field(default=7, ge=1)
    segments: list[SegmentBehaviour] = Field(default_factory=_default_segments, min_length=1)

    @model_validator(mode="after")
    def _segments(self) -> Behaviour:
        names = [s.name for s in self.segments]
        if len(set(names)) != len(names):
            raise ValueError("segment names must be unique")
        total = sum((s.share for s in self.segments), Decimal(0))
        if abs(total - 1) > _SHARE_TOLERANCE:
            raise ValueError(f"segment shares must add up to 1, not {total}")
        return self


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix + ("" if path.startswith("[") else ".") + path


def parse_behaviour(
    data: object, program: Program, *, file: str | None = None, prefix: str = "simulation"
) -> Behaviour:
    """Validate behaviour data against ``program``; failures are ProgramErrors with key paths."""
    try:
        behaviour = Behaviour.model_validate(data)
    except ValidationError as exc:
        err = from_validation_error(exc, file)
        raise ProgramError(err.reason, file=file, key_path=_join(prefix, err.key_path)) from None
    for index, segment in enumerate(behaviour.segments):
        points = program.currencies.get("points")
        if segment.redeem is not None and (points is None or not points.spendable):
            raise ProgramError(
                "redemptions spend 'points', which this program has no spendable currency of",
                file=file,
                key_path=_join(prefix, f"segments[{index}].redeem"),
            )
        for action, spec in (segment.actions or {}).items():
            where = _join(prefix, f"segments[{index}].actions.{action}")
            declared = program.actions.get(action)
            if declared is None:
                raise ProgramError(
                    f"unknown action {action!r}: it is not declared in the program",
                    file=file,
                    key_path=where,
                )
            if declared.amount == "none" and "amount" in spec.model_fields_set:
                raise ProgramError(
                    f"action {action!r} takes no amount", file=file, key_path=f"{where}.amount"
                )
    return behaviour


def load_program(path: str | Path) -> tuple[Program, Behaviour | None]:
    """Read a program file whose optional ``[simulation]`` table describes behaviour.

    The program model refuses unknown keys, so the table is taken out of the
    file's mapping before the rest is validated as a :class:`~gamify.Program`.
    """
    data = read_mapping(path)
    raw = data.pop("simulation", None)
    program = Program.from_dict(data, file=str(path))
    if raw is None:
        return program, None
    return program, parse_behaviour(raw, program, file=str(path), prefix="simulation")


def load_behaviour(path: str | Path, program: Program) -> Behaviour:
    """Read a behaviour file: the behaviour keys at its top level or under ``[simulation]``."""
    data = read_mapping(path)
    if "simulation" in data:
        extra = sorted(k for k in data if k != "simulation")
        if extra:
            raise ProgramError(
                "unknown key beside the simulation table", file=str(path), key_path=extra[0]
            )
        return parse_behaviour(data["simulation"], program, file=str(path), prefix="simulation")
    return parse_behaviour(data, program, file=str(path), prefix="")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class SegmentSize:
    name: str
    share: Decimal
    members: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The level and tier distributions at the end of a simulated day (day 1 is the first)."""

    day: int
    date: date
    levels: dict[str, int]
    """Level (as text) -> members at that level, ascending by level."""
    tiers: dict[str, int]
    """Tier name -> members, in the program's tier order; ``(none)`` for no tier."""


@dataclass(frozen=True, slots=True)
class BadgeRate:
    """How many members unlocked a badge, their share of the population, and all awards."""

    badge: str
    members: int
    rate: Decimal
    awards: int


@dataclass(frozen=True, slots=True)
class SimulationResult:
    program: str
    seed: int
    members: int
    days: int
    start: date
    end: date
    """The day after the last simulated day."""
    segments: tuple[SegmentSize, ...]
    events: int
    redemptions: int
    snapshots: tuple[Snapshot, ...]
    badges: tuple[BadgeRate, ...]
    currencies: tuple[CurrencyFlow, ...]
    issued_by_action: dict[str, dict[str, int]]
    """Currency -> action -> points net issued by events of that action (rules and rewards)."""


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True, slots=True)
class _ActionPlan:
    action: str
    probability: float
    amount: Callable[[random.Random], Decimal] | None
    attributes: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class _SegmentPlan:
    actions: tuple[_ActionPlan, ...]
    redeem: Redeem | None
    redeem_probability: float


def _sampler(spec: Amount) -> Callable[[random.Random], Decimal]:
    decimals = spec.decimals
    low_clip = float(spec.min)
    high_clip = float(spec.max) if spec.max is not None else None

    def finish(x: float) -> Decimal:
        x = max(x, low_clip)
        if high_clip is not None:
            x = min(x, high_clip)
        return Decimal(f"{x:.{decimals}f}")

    if spec.distribution == "fixed":
        assert spec.value is not None
        value = finish(float(spec.value))
        return lambda rng: value
    if spec.distribution == "uniform":
        assert spec.low is not None and spec.high is not None
        low, high = float(spec.low), float(spec.high)
        return lambda rng: finish(rng.uniform(low, high))
    if spec.distribution == "normal":
        assert spec.mean is not None and spec.sd is not None
        mean, sd = float(spec.mean), float(spec.sd)
        return lambda rng: finish(rng.normalvariate(mean, sd))
    assert spec.mu is not None and spec.sigma is not None
    mu, sigma = float(spec.mu), float(spec.sigma)
    return lambda rng: finish(rng.lognormvariate(mu, sigma))


def _segment_plan(program: Program, segment: SegmentBehaviour) -> _SegmentPlan:
    specs = segment.actions
    if specs is None:
        specs = {action: ActionBehaviour() for action in program.actions}
    actions = []
    for action in sorted(specs):
        spec = specs[action]
        takes_amount = program.actions[action].amount != "none"
        actions.append(
            _ActionPlan(
                action=action,
                probability=float(spec.probability),
                amount=_sampler(spec.amount) if takes_amount else None,
                attributes=dict(spec.attributes),
            )
        )
    redeem = segment.redeem
    return _SegmentPlan(
        actions=tuple(actions),
        redeem=redeem,
        redeem_probability=float(redeem.probability) if redeem is not None else 0.0,
    )


def _sizes(segments: Sequence[SegmentBehaviour], members: int) -> list[int]:
    """Members per segment by largest remainder (ties to the earlier segment)."""
    exact = [segment.share * members for segment in segments]
    sizes = [int(value) for value in exact]
    left = members - sum(sizes)
    order = sorted(range(len(segments)), key=lambda i: (-(exact[i] - sizes[i]), i))
    for i in order[:left]:
        sizes[i] += 1
    return sizes


_Event = tuple[float, int, int, str, Decimal | None, Mapping[str, Any] | None]
# (fraction of the day, member index, order within the member's day, action or
# "" for a redemption, amount, attributes)

# Below this many members per process, starting a process costs more than it saves.
MEMBERS_PER_WORKER = 1000


def default_workers(members: int) -> int:
    """One process per CPU, but no more than one per ``MEMBERS_PER_WORKER`` members."""
    return max(1, min(os.cpu_count() or 1, members // MEMBERS_PER_WORKER))


def simulate(
    program: Program,
    *,
    members: int,
    days: int,
    seed: int = 0,
    behaviour: Behaviour | None = None,
    progress: Callable[[int, int], None] | None = None,
    store: Store | str = "memory://",
    workers: int = 1,
) -> SimulationResult:
    """Run ``members`` simulated members through ``days`` local days of ``program``.

    ``progress(done, days)`` is called after each simulated day. ``store`` (a
    URL or a store; it must hold no member yet) keeps the simulated ledger,
    for ``gamify report`` to read afterwards. ``workers`` > 1 splits the
    members over that many processes, each with its own memory store (members
    never affect one another, so the result is the same for any count); it
    needs the default ``memory://`` store, since the ledgers stay in the workers.
    The workers are spawned, so a script that asks for several runs its code
    under ``if __name__ == "__main__":``, as any ``multiprocessing`` code must.
    """
    if not isinstance(program, Program):
        raise SimulationError(
            f"program must be a gamify.Program (read a file with load_program), not {program!r}"
        )
    for name, value in (("members", members), ("days", days), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise SimulationError(f"{name} must be a whole number, not {value!r}")
        if value < 1:
            raise SimulationError(f"{name} must be at least 1, not {value}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SimulationError(f"seed must be a whole number, not {seed!r}")
    if behaviour is not None and not isinstance(behaviour, Behaviour):
        raise SimulationError(
            f"behaviour must be a Behaviour (see parse_behaviour), not {behaviour!r}"
        )
    if progress is not None and not callable(progress):
        raise SimulationError(f"progress must be callable, not {progress!r}")
    if workers > 1 and store != "memory://":
        raise SimulationError(
            "a run on several workers keeps each worker's ledger in its own memory store: "
            "simulate into a store with workers=1"
        )
    behaviour = behaviour if behaviour is not None else Behaviour()
    width = len(str(members))
    ids = [f"m{i:0{width}d}" for i in range(1, members + 1)]
    sizes = _sizes(behaviour.segments, members)
    segment_of = [index for index, size in enumerate(sizes) for _ in range(size)]
    master = random.Random(seed)
    seeds = [master.getrandbits(64) for _ in ids]
    workers = min(workers, members)
    if workers == 1:
        shard = _Shard(ids, seeds, segment_of)
        partials = [_run_in(program, behaviour, shard, days, store, progress)]
    else:
        shards = [
            _Shard(ids[k::workers], seeds[k::workers], segment_of[k::workers])
            for k in range(workers)
        ]
        partials = _run_parallel(program, behaviour, shards, days, progress)
    return _result(program, behaviour, seed, members, days, sizes, partials)


@dataclass(frozen=True, slots=True)
class _Shard:
    """The members one process simulates, with their seeds and segment indexes."""

    ids: list[str]
    seeds: list[int]
    segment_of: list[int]


@dataclass(slots=True)
class _Partial:
    """What one shard's run adds to the result; every figure is a sum over members."""

    events: int = 0
    redemptions: int = 0
    badge_members: dict[str, int] = field(default_factory=dict)
    badge_awards: dict[str, int] = field(default_factory=dict)
    # per snapshot: (day number, date, level -> members, tier -> members)
    snapshots: list[tuple[int, date, Counter[int], Counter[str]]] = field(default_factory=list)
    totals: list[tuple[str, str, str | None, int]] = field(default_factory=list)
    outstanding: dict[str, int] = field(default_factory=dict)


def _run_in(
    program: Program,
    behaviour: Behaviour,
    shard: _Shard,
    days: int,
    store: Store | str,
    on_day: Callable[[int, int], None] | None,
) -> _Partial:
    """Run one shard in this process on ``store``."""
    tz = ZoneInfo(program.timezone)
    clock = ManualClock(local_midnight(behaviour.start, tz.key))
    engine = Engine(program, store=store, clock=clock)
    try:
        if next(iter(engine.store.member_ids()), None) is not None:
            raise ConfigurationError(
                "the store already holds members: simulate into an empty store"
            )
        return _run(engine, clock, tz, behaviour, shard, days, on_day)
    finally:
        if isinstance(store, str):
            engine.store.close()


class _ParentGone(Exception):
    """The process that started a worker has ended: nobody will read its results."""


def _worker(
    program_data: dict[str, Any],
    behaviour_data: dict[str, Any],
    shard: _Shard,
    days: int,
    number: int,
    results: Any,
    parent: int,
) -> None:
    """A worker process: run one shard and send ``("day"|"done"|"error", number, payload)``.

    It stops at the end of a simulated day once its parent (process ``parent``) has
    ended, say killed by a signal that left it no time to stop its workers.
    """

    def day_done(done: int, _: int) -> None:
        if os.getppid() != parent:
            raise _ParentGone
        results.put(("day", number, done))

    try:
        program = Program.model_validate(program_data)
        behaviour = Behaviour.model_validate(behaviour_data)
        partial = _run_in(program, behaviour, shard, days, "memory://", day_done)
        results.put(("done", number, partial))
    except _ParentGone:
        os._exit(1)  # leave at once: flushing the queue to no reader could block
    except BaseException as exc:  # handed to the caller, who raises it
        try:
            pickle.dumps(exc)
            error: BaseException = exc
        except Exception:
            error = RuntimeError(f"{type(exc).__name__}: {exc}")
        results.put(("error", number, error))


def _run_parallel(
    program: Program,
    behaviour: Behaviour,
    shards: Sequence[_Shard],
    days: int,
    progress: Callable[[int, int], None] | None,
) -> list[_Partial]:
    # Spawned, not forked: a fork would copy the caller's threads' locks (a
    # progress bar's, a logger's) in whatever state they were.
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    program_data = program.model_dump(mode="json")
    behaviour_data = behaviour.model_dump(mode="json")
    processes = [
        context.Process(
            target=_worker,
            args=(program_data, behaviour_data, shard, days, number, results, os.getpid()),
            daemon=True,
        )
        for number, shard in enumerate(shards)
    ]
    done = [0] * len(shards)
    partials: list[_Partial | None] = [None] * len(shards)
    try:
        for process in processes:
            process.start()
        while any(partial is None for partial in partials):
            try:
                kind, number, payload = results.get(timeout=1.0)
            except queue.Empty:
                for process in processes:
                    if process.exitcode not in (None, 0):
                        raise RuntimeError(
                            f"a simulation worker stopped with exit code {process.exitcode}"
                        ) from None
                continue
            if kind == "error":
                raise payload
            if kind == "done":
                partials[number] = payload
            elif payload > done[number]:
                before = min(done)
                done[number] = payload
                if progress is not None and min(done) > before:
                    progress(min(done), days)
    finally:
        for process in processes:
            if process.pid is None:
                continue  # never started
            if process.is_alive():
                process.terminate()
            process.join()
        results.close()
    return [partial for partial in partials if partial is not None]


def _run(
    engine: Engine,
    clock: ManualClock,
    tz: ZoneInfo,
    behaviour: Behaviour,
    shard: _Shard,
    days: int,
    on_day: Callable[[int, int], None] | None,
) -> _Partial:
    program = engine.program
    store = engine.store
    run_due: Callable[[], object] | None = getattr(engine, "run_due", None)
    ids = shard.ids
    plans = [_segment_plan(program, s) for s in behaviour.segments]
    plan_of = [plans[index] for index in shard.segment_of]
    for member_id, index in zip(ids, shard.segment_of, strict=True):
        segment = behaviour.segments[index]
        if segment.tags or segment.timezone:
            engine.set_member(member_id, timezone=segment.timezone, tags=segment.tags or None)
    rngs = [random.Random(seed) for seed in shard.seeds]
    out = _Partial()
    badge_members: dict[str, set[str]] = {}

    for day_index in range(days):
        day = behaviour.start + timedelta(days=day_index)
        start = local_midnight(day, tz.key)
        length = local_midnight(day + timedelta(days=1), tz.key) - start
        todo: list[_Event] = []
        for index, rng in enumerate(rngs):
            plan = plan_of[index]
            order = 0
            for spec in plan.actions:
                if rng.random() < spec.probability:
                    amount = spec.amount(rng) if spec.amount is not None else None
                    todo.append(
                        (rng.random(), index, order, spec.action, amount, spec.attributes or None)
                    )
                    order += 1
            if plan.redeem is not None and rng.random() < plan.redeem_probability:
                todo.append((rng.random(), index, order, "", None, None))
        todo.sort(key=lambda e: (e[0], e[1], e[2]))
        for fraction, index, _, action, amount, attributes in todo:
            clock.set(start + length * fraction)
            member_id = ids[index]
            if action:
                outcome = engine.track(member_id, action, amount=amount, attributes=attributes)
                out.events += 1
                for award in outcome.badges:
                    badge_members.setdefault(award.badge, set()).add(member_id)
                    out.badge_awards[award.badge] = out.badge_awards.get(award.badge, 0) + 1
            else:
                redeem = plan_of[index].redeem
                assert redeem is not None
                balance = engine.balance(member_id, "points")
                points = int(balance * redeem.share)
                if points >= redeem.min_points:
                    try:
                        engine.redeem(member_id, points)
                    except InsufficientBalanceError:
                        continue  # some of the balance expired earlier today
                    out.redemptions += 1
        clock.set(start + length)
        if run_due is not None:
            run_due()
        if (day_index + 1) % behaviour.snapshot_days == 0 or day_index + 1 == days:
            out.snapshots.append((day_index + 1, day, *_distributions(store, ids)))
        if on_day is not None:
            on_day(day_index + 1, days)

    out.badge_members = {name: len(held) for name, held in badge_members.items()}
    out.totals = store.ledger_totals()
    out.outstanding = {
        name: sum(store.get_balances(m).get(name, 0) for m in ids) for name in program.currencies
    }
    return out


def _distributions(store: Store, ids: Sequence[str]) -> tuple[Counter[int], Counter[str]]:
    """Members per level and per tier (``NO_TIER`` for none)."""
    levels: Counter[int] = Counter()
    tiers: Counter[str] = Counter()
    for member_id in ids:
        record = store.get_member(member_id)
        levels[record.level if record is not None else 1] += 1
        tiers[(record.tier if record is not None else None) or NO_TIER] += 1
    return levels, tiers


def _result(
    program: Program,
    behaviour: Behaviour,
    seed: int,
    members: int,
    days: int,
    sizes: Sequence[int],
    partials: Sequence[_Partial],
) -> SimulationResult:
    """The shards' sums as one result."""
    badge_members: Counter[str] = Counter()
    badge_awards: Counter[str] = Counter()
    outstanding: Counter[str] = Counter()
    totals: list[tuple[str, str, str | None, int]] = []
    for part in partials:
        badge_members.update(part.badge_members)
        badge_awards.update(part.badge_awards)
        outstanding.update(part.outstanding)
        totals.extend(part.totals)
    tier_names = [t.name for t in getattr(getattr(program, "tiers", None), "levels", None) or []]
    rank = {name: i for i, name in enumerate([NO_TIER, *tier_names])}
    snapshots = []
    for taken in zip(*(part.snapshots for part in partials), strict=True):
        day, when = taken[0][0], taken[0][1]
        levels: Counter[int] = Counter()
        tiers: Counter[str] = Counter()
        for _, _, shard_levels, shard_tiers in taken:
            levels.update(shard_levels)
            tiers.update(shard_tiers)
        snapshots.append(
            Snapshot(
                day=day,
                date=when,
                levels={str(level): levels[level] for level in sorted(levels)},
                tiers={
                    t: tiers[t] for t in sorted(tiers, key=lambda t: (rank.get(t, len(rank)), t))
                },
            )
        )

    flows = tuple(
        currency_flows(totals, name, spendable=spec.spendable).with_outstanding(outstanding[name])
        for name, spec in program.currencies.items()
    )
    by_action: dict[str, dict[str, int]] = {}
    for account, kind, done, points in totals:
        currency = account.split(":", 1)[0]
        if done is None or currency not in program.currencies:
            continue
        if kind in ("earn", "reward", "reverse") and account in (currency, f"{currency}:pending"):
            row = by_action.setdefault(currency, {})
            row[done] = row.get(done, 0) + points
    return SimulationResult(
        program=program.name,
        seed=seed,
        members=members,
        days=days,
        start=behaviour.start,
        end=behaviour.start + timedelta(days=days),
        segments=tuple(
            SegmentSize(s.name, s.share, size)
            for s, size in zip(behaviour.segments, sizes, strict=True)
        ),
        events=sum(part.events for part in partials),
        redemptions=sum(part.redemptions for part in partials),
        snapshots=tuple(snapshots),
        badges=tuple(
            BadgeRate(
                badge=name,
                members=badge_members.get(name, 0),
                rate=ratio(Decimal(badge_members.get(name, 0)), Decimal(members)),
                awards=badge_awards.get(name, 0),
            )
            for name in program.badges
        ),
        currencies=flows,
        issued_by_action={c: dict(sorted(rows.items())) for c, rows in sorted(by_action.items())},
    )
