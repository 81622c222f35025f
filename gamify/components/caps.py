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
from gamify.components._plans import per_program
from gamify.components.earning import RuleAward
from gamify.program import Program


@dataclass(slots=True)  # a value, never changed (frozen fields cost ~5x to set)
class Capped:
    """An award after caps: ``amount`` credited, ``cut`` removed by ``cap`` (None if uncut)."""

    award: RuleAward
    amount: int
    cut: int
    cap: str | None


@dataclass(frozen=True, slots=True)
class _Limit:
    """A cap's settings as plain attributes (see :func:`per_program`)."""

    name: str
    limit: int
    period: str


@dataclass(frozen=True, slots=True)
class _Plan:
    by_input: dict[tuple[str, str], tuple[_Limit, ...]]  # (action, currency) -> its caps
    first_weekday: int
    keep_days: int
    # More counters than this cannot all lie in the late-event window: some can go. A cap
    # has at most one counter per local period that starts within ``late_event_days + 31``
    # days of today (plus today's and, after a zone change, tomorrow's).
    most_counters: int


@per_program
def _plan(program: Program) -> _Plan:
    limits = {id(c): _Limit(c.name, c.limit, c.period) for c in program.caps}
    return _Plan(
        by_input={
            (rule.action, rule.currency): tuple(
                limits[id(c)]
                for c in program.caps
                if c.currency == rule.currency and (c.action is None or c.action == rule.action)
            )
            for rule in program.rules
        },
        first_weekday=program.week_start_index,
        keep_days=program.late_event_days,
        most_counters=len(program.caps) * (program.late_event_days + 34),
    )


@lru_cache(maxsize=4096)  # a few caps times the days of the late-event window
def _counter_key(name: str, period: str, day: date, first_weekday: int) -> str:
    # Interned: every member's counters of a period share one key string.
    return sys.intern(f"{name}|{period_key(period, day, first_weekday)}")


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
    plan = _plan(program)
    new = counters
    keys: dict[str, str | None] = {}  # each cap's counter key (None: per event), made once
    in_event: dict[str, int] = {}
    out: list[Capped] = []
    for award in awards:
        applicable = plan.by_input[(action, award.rule.currency)]
        allowed = award.amount
        binding: str | None = None
        for cap in applicable:
            if cap.name not in keys:
                keys[cap.name] = (
                    None
                    if cap.period == "event"
                    else _counter_key(cap.name, cap.period, day, plan.first_weekday)
                )
            key = keys[cap.name]
            used = in_event.get(cap.name, 0) if key is None else new.get(key, 0)
            room = max(cap.limit - used, 0)
            if room < allowed:
                allowed, binding = room, cap.name
        for cap in applicable:
            key = keys[cap.name]
            if key is None:
                in_event[cap.name] = in_event.get(cap.name, 0) + allowed
            elif allowed:
                if new is counters:
                    new = dict(counters)  # copied on the first write only
                new[key] = new.get(key, 0) + allowed
        out.append(Capped(award, allowed, award.amount - allowed, binding))
    if new is not counters and len(new) > plan.most_counters:
        new = prune(new, day, plan.keep_days)
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
