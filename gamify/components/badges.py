"""Badges: achievements awarded when a metric of the member's state reaches a threshold.

Pure: :func:`evaluate` checks the named badges against a :class:`BadgeFacts`
and returns the awards due, given how many times each was already awarded
(``held``: tiers reached for tiered badges, occurrences for repeatable ones,
1 for a one-off badge held).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from gamify.program import Badge

__all__ = ["BadgeFacts", "Due", "LazyMapping", "evaluate", "exhausted", "progress", "value"]

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


MAX_OCCURRENCES = 100  # awards of one repeatable badge in one check


@dataclass(slots=True)  # not frozen: refreshed between the checks of one event
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
    attributes: Mapping[str, object] = field(default_factory=dict)
    predicates: Mapping[str, Predicate] = field(default_factory=dict)


@dataclass(slots=True)  # a value, never changed (frozen fields cost ~5x to set)
class Due:
    """One award: the badge, its tier name (or ``""``), the occurrence and its reward."""

    badge: str
    tier: str
    occurrence: int
    reward: Mapping[str, int]


def value(badge: Badge, facts: BadgeFacts) -> Decimal:
    """The member's current value of the badge's metric."""
    metric = badge.metric
    if metric == "count":
        return Decimal(facts.counts.get(badge.action or "", 0))
    if metric == "sum":
        return facts.sums.get(badge.action or "", Decimal(0))
    if metric == "streak":
        return Decimal(facts.streaks.get(badge.streak or "", 0))
    if metric == "level":
        return Decimal(facts.level)
    if metric == "earned":
        return Decimal(facts.earned.get(badge.currency or "", 0))
    if metric == "tier":
        return Decimal(
            1 if facts.tier_rank >= facts.tier_ranks.get(badge.tier or "", 1 << 30) else 0
        )
    predicate = facts.predicates.get(badge.predicate or "")
    return Decimal(1 if predicate is not None and predicate(facts) else 0)


def _target(badge: Badge) -> Decimal:
    return badge.threshold if badge.threshold is not None else Decimal(1)


def exhausted(badge: Badge, held: int) -> bool:
    """Whether nothing more can be awarded: a one-off badge held, every tier reached."""
    if badge.kind == "one_off":
        return held > 0
    if badge.kind == "tiered":
        return held >= len(badge.tiers)
    return False


def evaluate(badges: Mapping[str, Badge], names: Iterable[str], facts: BadgeFacts) -> list[Due]:
    """Every award due for the badges ``names`` (each checked once, in the given order)."""
    out: list[Due] = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        badge = badges[name]
        held = facts.badges.get(name, 0)
        if exhausted(badge, held):
            continue
        current = value(badge, facts)
        if badge.kind == "one_off":
            if current >= _target(badge):
                out.append(Due(name, "", 1, badge.reward))
        elif badge.kind == "tiered":
            for i in range(held, len(badge.tiers)):
                tier = badge.tiers[i]
                if current < tier.threshold:
                    break
                out.append(Due(name, tier.name, 1, {**badge.reward, **tier.reward}))
        else:
            # At most MAX_OCCURRENCES a call: the rest come with the next change of the value.
            try:
                reached = min(int(current // _target(badge)), held + MAX_OCCURRENCES)
            except ArithmeticError:  # a quotient past 28 digits
                reached = held + MAX_OCCURRENCES
            for n in range(held + 1, reached + 1):
                out.append(Due(name, "", n, badge.reward))
    return out


def progress(badge: Badge, facts: BadgeFacts, held: int) -> tuple[Decimal, Decimal]:
    """(current, target) toward the next award of ``badge``."""
    current = value(badge, facts)
    if badge.kind == "tiered":
        index = min(held, len(badge.tiers) - 1)
        return current, badge.tiers[index].threshold
    if badge.kind == "repeatable":
        return current, _target(badge) * (held + 1)
    return current, _target(badge)
