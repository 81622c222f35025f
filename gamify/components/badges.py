"""Badges: achievements awarded when a metric of the member's state reaches a threshold.

Pure: :func:`evaluate` checks the named badges against a :class:`BadgeFacts`
and returns the awards due, given how many times each was already awarded
(``held``: tiers reached for tiered badges, occurrences for repeatable ones,
1 for a one-off badge held). A tier of a tiered badge is known by its name: the
names held are recorded beside the count (see :func:`tiers_held`), so a program that
inserts, reorders or renames tiers never awards a held tier twice. Each reads the
program's badges through plain-data plans made once per program.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, TypeVar

from gamify._native import own_abc_cache
from gamify.components._plans import per_program
from gamify.program import Program

__all__ = [
    "BadgeFacts",
    "Due",
    "LazyMapping",
    "evaluate",
    "exhausted",
    "open_names",
    "progress",
    "tiers_held",
]

Predicate = Callable[["BadgeFacts"], bool]
_V = TypeVar("_V")


class LazyMapping(Mapping[str, _V]):
    """A read-only mapping over ``source``'s keys whose values are made on first read."""

    __slots__ = ("_made", "_make", "_source")

    def __init__(self, source: Mapping[str, Any], make: Callable[[str], _V]) -> None:
        self._source = source
        self._make = make
        self._made: dict[str, _V] = {}

    def __getitem__(self, key: str) -> _V:
        if key not in self._made:
            if key not in self._source:
                raise KeyError(key)
            self._made[key] = self._make(key)
        return self._made[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._source)

    def __len__(self) -> int:
        return len(self._source)


own_abc_cache(LazyMapping)


MAX_OCCURRENCES: Final = 100  # awards of one repeatable badge in one check


# Not frozen: refreshed between the checks of one event. __init__ by hand: compiled, it
# runs natively.
@dataclass
class BadgeFacts:
    """What badge conditions read about a member after an event.

    One is made per event and brought up to date before each later check of
    that event (level, tier, totals and badges held move as rewards are paid);
    a predicate should read it, not keep it.
    """

    member_id: str
    counts: Mapping[str, int]
    sums: Mapping[str, Decimal]
    streaks: Mapping[str, int]
    level: int
    tier_rank: int
    tier_ranks: Mapping[str, int]
    earned: Mapping[str, int]
    badges: Mapping[str, int]
    action: str | None = None
    # Tiered badge -> the names of the tiers held, where the member's state records them.
    badge_tiers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # Any, as engine.track takes them: a predicate compares JSON values without casts.
    attributes: Mapping[str, Any] = field(default_factory=dict)
    predicates: Mapping[str, Predicate] = field(default_factory=dict)

    def __init__(
        self,
        member_id: str,
        counts: Mapping[str, int],
        sums: Mapping[str, Decimal],
        streaks: Mapping[str, int],
        level: int,
        tier_rank: int,
        tier_ranks: Mapping[str, int],
        earned: Mapping[str, int],
        badges: Mapping[str, int],
        action: str | None = None,
        badge_tiers: Mapping[str, Sequence[str]] | None = None,
        attributes: Mapping[str, Any] | None = None,
        predicates: Mapping[str, Predicate] | None = None,
    ) -> None:
        self.member_id = member_id
        self.counts = counts
        self.sums = sums
        self.streaks = streaks
        self.level = level
        self.tier_rank = tier_rank
        self.tier_ranks = tier_ranks
        self.earned = earned
        self.badges = badges
        self.action = action
        self.badge_tiers = {} if badge_tiers is None else badge_tiers
        self.attributes = {} if attributes is None else attributes
        self.predicates = {} if predicates is None else predicates


# A value, never changed (frozen fields cost ~5x to set); __init__ by hand: compiled, it
# runs natively.
@dataclass
class Due:
    """One award: the badge, its tier name (or ``""``), the occurrence and its reward."""

    badge: str
    tier: str
    occurrence: int
    reward: Mapping[str, int]

    def __init__(self, badge: str, tier: str, occurrence: int, reward: Mapping[str, int]) -> None:
        self.badge = badge
        self.tier = tier
        self.occurrence = occurrence
        self.reward = reward


def _count(facts: BadgeFacts, key: str) -> int | Decimal:
    return facts.counts.get(key, 0)


def _sum(facts: BadgeFacts, key: str) -> int | Decimal:
    return facts.sums.get(key, 0)


def _streak(facts: BadgeFacts, key: str) -> int | Decimal:
    return facts.streaks.get(key, 0)


def _level(facts: BadgeFacts, key: str) -> int | Decimal:
    return facts.level


def _earned(facts: BadgeFacts, key: str) -> int | Decimal:
    return facts.earned.get(key, 0)


def _tier(facts: BadgeFacts, key: str) -> int | Decimal:
    return 1 if facts.tier_rank >= facts.tier_ranks.get(key, 1 << 30) else 0


def _custom(facts: BadgeFacts, key: str) -> int | Decimal:
    predicate = facts.predicates.get(key)
    return 1 if predicate is not None and predicate(facts) else 0


_READERS: dict[str, Callable[[BadgeFacts, str], int | Decimal]] = {
    "count": _count,
    "sum": _sum,
    "streak": _streak,
    "level": _level,
    "earned": _earned,
    "tier": _tier,
    "custom": _custom,
}
# The badge field that names what each metric reads (a level needs no name).
_NAMED_BY: Final = {
    "count": "action",
    "sum": "action",
    "streak": "streak",
    "earned": "currency",
    "tier": "tier",
    "custom": "predicate",
}


@dataclass(frozen=True, slots=True)
class _Plan:
    """A badge's settings as plain attributes (see :func:`per_program`)."""

    kind: str
    read: Callable[[BadgeFacts, str], int | Decimal]  # the metric's current value
    key: str  # what the metric reads: an action, streak, currency, tier or predicate
    target: Decimal
    most: int  # awards it can give: 1 (one-off), one per tier, or no limit (repeatable)
    tiers: tuple[tuple[str, Decimal, Mapping[str, int]], ...]  # name, threshold, reward
    tier_names: tuple[str, ...]
    reward: Mapping[str, int]


@per_program
def _plans(program: Program) -> dict[str, _Plan]:
    return {
        name: _Plan(
            kind=badge.kind,
            read=_READERS[badge.metric],
            key=getattr(badge, _NAMED_BY.get(badge.metric, ""), None) or "",
            target=badge.threshold if badge.threshold is not None else Decimal(1),
            most={"one_off": 1, "tiered": len(badge.tiers)}.get(badge.kind, sys.maxsize),
            tiers=tuple((t.name, t.threshold, {**badge.reward, **t.reward}) for t in badge.tiers),
            tier_names=tuple(t.name for t in badge.tiers),
            reward=badge.reward,
        )
        for name, badge in program.badges.items()
    }


def tiers_held(
    program: Program, name: str, held: int, recorded: Sequence[str] | None
) -> Sequence[str]:
    """The names of the tiers of badge ``name`` the member holds: as ``recorded``, or, for
    state that keeps only how many (``held``, written before the names were kept), the
    first ``held`` tiers of the program's list."""
    return _names_held(_plans(program)[name], held, recorded)


def _names_held(plan: _Plan, held: int, recorded: Sequence[str] | None) -> Sequence[str]:
    return recorded if recorded is not None else plan.tier_names[:held]


def _is_open(plan: _Plan, held: int, recorded: Sequence[str] | None) -> bool:
    """Whether the badge can award more: fewer awards held than it gives (then some tier
    of the program's list is not held, whatever the names), or, with the names of the
    tiers held recorded, a tier of the list not among them (inserted or renamed)."""
    if held < plan.most:
        return True
    return recorded is not None and any(t not in recorded for t in plan.tier_names)


def exhausted(
    program: Program, name: str, held: int, recorded: Sequence[str] | None = None
) -> bool:
    """Whether nothing more can be awarded: a one-off badge held, every tier reached."""
    return not _is_open(_plans(program)[name], held, recorded)


def open_names(
    program: Program,
    names: Iterable[str],
    held: Mapping[str, int],
    tiers: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """The badges of ``names`` that can still be awarded, given how many times each is held
    (and, for tiered badges, the names of the tiers held where ``tiers`` records them)."""
    plans = _plans(program)
    recorded = tiers or {}
    return [
        name
        for name in names
        if (count := held.get(name, 0)) < (plan := plans[name]).most
        or (plan.tier_names and _is_open(plan, count, recorded.get(name)))
    ]


def evaluate(program: Program, names: Iterable[str], facts: BadgeFacts) -> list[Due]:
    """Every award due for the badges ``names`` (each checked once, in the given order)."""
    plans = _plans(program)
    out: list[Due] = []
    seen: set[str] = set()
    held_by_name = facts.badges
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        plan = plans[name]
        held = held_by_name.get(name, 0)
        if plan.kind == "tiered":
            recorded = facts.badge_tiers.get(name)
            if not _is_open(plan, held, recorded):
                continue
            have = _names_held(plan, held, recorded)
            current = plan.read(facts, plan.key)
            for tier_name, threshold, reward in plan.tiers:
                if tier_name in have:
                    continue
                if current < threshold:
                    break
                out.append(Due(name, tier_name, 1, reward))
            continue
        if held >= plan.most:
            continue
        current = plan.read(facts, plan.key)
        if plan.kind == "one_off":
            if current >= plan.target:
                out.append(Due(name, "", 1, plan.reward))
        else:
            # At most MAX_OCCURRENCES a call: the rest come with the next change of the value.
            try:
                reached = min(int(current // plan.target), held + MAX_OCCURRENCES)
            except ArithmeticError:  # a quotient past 28 digits
                reached = held + MAX_OCCURRENCES
            for n in range(held + 1, reached + 1):
                out.append(Due(name, "", n, plan.reward))
    return out


def progress(
    program: Program,
    name: str,
    facts: BadgeFacts,
    held: int,
    recorded: Sequence[str] | None = None,
) -> tuple[Decimal, Decimal]:
    """(current, target) toward the next award of the badge ``name``."""
    plan = _plans(program)[name]
    current = Decimal(plan.read(facts, plan.key))
    if plan.kind == "tiered":
        have = _names_held(plan, held, recorded)
        missing = [tier[1] for tier in plan.tiers if tier[0] not in have]
        return current, missing[0] if missing else plan.tiers[-1][1]
    if plan.kind == "repeatable":
        return current, plan.target * (held + 1)
    return current, plan.target
