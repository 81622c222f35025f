"""Caps: limits on what earning rules credit, applied after multipliers.

Pure: :func:`apply` takes the awards of one event and the member's cap
counters and returns the credited amounts, what each cap cut and the new
counters. Counters are keyed by cap and local period
(``"daily_points|2026-11-27"``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from gamify._time import period_key
from gamify.components.earning import RuleAward
from gamify.program import Cap, Program


@dataclass(slots=True)  # a value, never changed (frozen fields cost ~5x to set)
class Capped:
    """An award after caps: ``amount`` credited, ``cut`` removed by ``cap`` (None if uncut)."""

    award: RuleAward
    amount: int
    cut: int
    cap: str | None


def _key(cap: Cap, day: date, first_weekday: int) -> str | None:
    if cap.period == "event":
        return None
    return _counter_key(cap.name, cap.period, day, first_weekday)


@lru_cache(maxsize=4096)  # a few caps times the days of the late-event window
def _counter_key(name: str, period: str, day: date, first_weekday: int) -> str:
    # Interned: every member's counters of a period share one key string.
    return sys.intern(f"{name}|{period_key(period, day, first_weekday)}")


_PLANS: dict[int, tuple[Program, dict[tuple[str, str], tuple[Cap, ...]]]] = {}


def _caps_for(program: Program, action: str, currency: str) -> tuple[Cap, ...]:
    """The caps that limit ``currency`` earned by ``action`` (looked up once per program)."""
    hit = _PLANS.get(id(program))
    if hit is None or hit[0] is not program:
        if len(_PLANS) >= 32:  # programs are few; the entry keeps its program alive
            _PLANS.clear()
        hit = _PLANS[id(program)] = (program, {})
    table = hit[1]
    found = table.get((action, currency))
    if found is None:
        found = table[(action, currency)] = tuple(
            c
            for c in program.caps
            if c.currency == currency and (c.action is None or c.action == action)
        )
    return found


def _horizon_size(program: Program) -> int:
    """More counters than this cannot all lie in the late-event window: some can go.

    A cap has at most one counter per local period that starts within
    ``late_event_days + 31`` days of today (plus today's and, after a zone
    change, tomorrow's): daily caps have the most.
    """
    return len(program.caps) * (program.late_event_days + 34)


def apply(
    program: Program,
    action: str,
    awards: Sequence[RuleAward],
    counters: dict[str, int],
    day: date,
) -> tuple[list[Capped], dict[str, int]]:
    """Cap ``awards`` of one event on local ``day``; return them and the updated counters.

    ``counters`` is not changed; the returned dict is a new one when anything was counted.
    """
    if not program.caps or not awards:
        return [Capped(a, a.amount, 0, None) for a in awards], counters
    first = program.week_start_index
    new = counters
    keys: dict[int, str | None] = {}  # by id(cap): each cap's period key, computed once
    in_event: dict[str, int] = {}
    out: list[Capped] = []
    for award in awards:
        applicable = _caps_for(program, action, award.rule.currency)
        allowed = award.amount
        binding: str | None = None
        for cap in applicable:
            if id(cap) not in keys:
                keys[id(cap)] = _key(cap, day, first)
            key = keys[id(cap)]
            used = in_event.get(cap.name, 0) if key is None else new.get(key, 0)
            room = max(cap.limit - used, 0)
            if room < allowed:
                allowed, binding = room, cap.name
        for cap in applicable:
            key = keys[id(cap)]
            if key is None:
                in_event[cap.name] = in_event.get(cap.name, 0) + allowed
            elif allowed:
                if new is counters:
                    new = dict(counters)  # copied on the first write only
                new[key] = new.get(key, 0) + allowed
        out.append(Capped(award, allowed, award.amount - allowed, binding))
    if new is not counters and len(new) > _horizon_size(program):
        new = prune(new, day, program.late_event_days)
    return out, new


def prune(counters: dict[str, int], today: date, keep_days: int) -> dict[str, int]:
    """Drop counters of periods that ended before the late-event horizon."""
    horizon = today - timedelta(days=keep_days + 31)
    out: dict[str, int] = {}
    for key, used in counters.items():
        _, _, period = key.rpartition("|")
        text = period.removeprefix("w")
        start = date.fromisoformat(text if len(text) == 10 else text + "-01")
        if start >= horizon:
            out[key] = used
    return out


__all__ = ["Capped", "apply", "prune"]
