"""Caps: limits on what earning rules credit, applied after multipliers.

Pure: :func:`apply` takes the awards of one event and the member's cap
counters and returns the credited amounts, what each cap cut and the new
counters. Counters are keyed by cap and local period
(``"daily_points|2026-11-27"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from gamify._time import period_key
from gamify.components.earning import RuleAward
from gamify.program import Cap, Program


@dataclass(frozen=True, slots=True)
class Capped:
    """An award after caps: ``amount`` credited, ``cut`` removed by ``cap`` (None if uncut)."""

    award: RuleAward
    amount: int
    cut: int
    cap: str | None


def _key(cap: Cap, day: date, first_weekday: int) -> str | None:
    if cap.period == "event":
        return None
    return f"{cap.name}|{period_key(cap.period, day, first_weekday)}"


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
    if not program.caps:
        return [Capped(a, a.amount, 0, None) for a in awards], counters
    first = program.week_start_index
    new = dict(counters)
    in_event: dict[str, int] = {}
    out: list[Capped] = []
    for award in awards:
        applicable = [
            c
            for c in program.caps
            if c.currency == award.rule.currency and (c.action is None or c.action == action)
        ]
        allowed = award.amount
        binding: str | None = None
        for cap in applicable:
            key = _key(cap, day, first)
            used = in_event.get(cap.name, 0) if key is None else new.get(key, 0)
            room = max(cap.limit - used, 0)
            if room < allowed:
                allowed, binding = room, cap.name
        for cap in applicable:
            key = _key(cap, day, first)
            if key is None:
                in_event[cap.name] = in_event.get(cap.name, 0) + allowed
            elif allowed:
                new[key] = new.get(key, 0) + allowed
        out.append(Capped(award, allowed, award.amount - allowed, binding))
    if len(new) > 4 * len(program.caps) + 8:
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
