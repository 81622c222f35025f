"""Caps: limits on what earning rules credit, applied after multipliers.

Pure: :func:`apply` takes the awards of one event and the member's cap
counters and returns the credited amounts, what each cap cut and the new
counters.

A cap keeps a counter for every period a late event may still fall in (up to
``late_event_days`` and a month back), and a member's state is loaded and
saved with every event. So each cap's counters are one short list: the latest
period, its count, and the earlier periods as one text of ``,period=count``
pairs, oldest first::

    {"daily_points": ["2026-11-27", 15, ",2026-11-25=40,2026-11-26=30"]}

Nearly every event counts toward the latest period; only a late event reads
the text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from gamify._time import period_key
from gamify.components._plans import per_program
from gamify.components.earning import RuleAward
from gamify.program import Program

__all__ = ["Capped", "apply", "prune", "used"]


@dataclass  # __init__ by hand: compiled, it runs natively
class Capped:
    """An award after caps: ``amount`` credited, ``cut`` removed by ``cap`` (None if uncut)."""

    award: RuleAward
    amount: int
    cut: int
    cap: str | None

    def __init__(self, award: RuleAward, amount: int, cut: int, cap: str | None) -> None:
        self.award = award
        self.amount = amount
        self.cut = cut
        self.cap = cap


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
    # More counters than this cannot all lie in the late-event window, so some can go: a
    # cap has at most one counter per local period that starts within late_event_days + 31
    # days of today (plus today's and, after a zone change, tomorrow's).
    most: int


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
        most=program.late_event_days + 34,
    )


Counter = list[Any]  # [latest period, its count, the earlier periods as text]


def used(counters: Mapping[str, Counter], cap: str, period: str) -> int:
    """What cap ``cap`` has counted in ``period`` (a :func:`~gamify._time.period_key`)."""
    counter = counters.get(cap)
    if counter is None:
        return 0
    latest, count, earlier = counter
    if period == latest:
        return int(count)
    start = earlier.rfind(f",{period}=")
    if start < 0:
        return 0
    start += len(period) + 2
    end = earlier.find(",", start)
    return int(earlier[start:] if end < 0 else earlier[start:end])


def _counted(counter: Counter | None, period: str, total: int) -> Counter:
    """``counter`` with ``period``'s count set to ``total``."""
    if counter is None:
        return [period, total, ""]
    latest, count, earlier = counter
    if period == latest:
        return [latest, total, earlier]
    if period > latest:  # the common case: the first event of a new period
        return [period, total, f"{earlier},{latest}={count}"]
    pair = f",{period}={total}"  # a late event
    start = earlier.rfind(f",{period}=")
    if start >= 0:
        end = earlier.find(",", start + 1)
        return [latest, count, earlier[:start] + pair + ("" if end < 0 else earlier[end:])]
    pairs = sorted([*earlier[1:].split(","), pair[1:]] if earlier else [pair[1:]])
    return [latest, count, "".join(f",{p}" for p in pairs)]


def apply(
    program: Program,
    action: str,
    awards: Sequence[RuleAward],
    counters: Mapping[str, Any],
    day: date,
) -> tuple[list[Capped], dict[str, Counter]]:
    """Cap ``awards`` of one event on local ``day``; return them and the updated counters.

    ``counters`` is not changed; the returned dict is a new one when anything was counted.
    Counters in the earlier form (``{"cap|period": used}``) are read too.
    """
    current = _current_form(counters)
    if not program.caps or not awards:
        return [Capped(a, a.amount, 0, None) for a in awards], current
    plan = _plan(program)
    spent: dict[str, int] = {}  # per cap: its period's count (or this event's), read once
    periods: dict[str, tuple[str, int]] = {}  # per cap counted by period: (period, count)
    out: list[Capped] = []
    for award in awards:
        applicable = plan.by_input[(action, award.rule.currency)]
        allowed = award.amount
        binding: str | None = None
        for cap in applicable:
            if cap.name not in spent:
                if cap.period == "event":
                    spent[cap.name] = 0
                else:
                    period = _period(cap.period, day, plan.first_weekday)
                    count = used(current, cap.name, period)
                    spent[cap.name] = count
                    periods[cap.name] = (period, count)
            room = max(cap.limit - spent[cap.name], 0)
            if room < allowed:
                allowed, binding = room, cap.name
        for cap in applicable:
            spent[cap.name] += allowed
        out.append(Capped(award, allowed, award.amount - allowed, binding))
    new = current
    for name, (period, before) in periods.items():
        if spent[name] != before:
            if new is current:
                new = dict(current)  # copied on the first write only
            counter = _counted(current.get(name), period, spent[name])
            if counter[2].count(",") >= plan.most:  # the latest one makes one more
                counter[2] = prune(counter[2], day, plan.keep_days)
            new[name] = counter
    return out, new


@lru_cache(maxsize=512)  # a few caps' periods of the days events fall on
def _period(period: str, day: date, first_weekday: int) -> str:
    return period_key(period, day, first_weekday)


def prune(text: str, today: date, keep_days: int) -> str:
    """One cap's counters without those of periods that began before the late-event horizon
    (``keep_days`` and a month before ``today``)."""
    horizon = today - timedelta(days=keep_days + 31)
    kept = []
    for pair in text[1:].split(","):
        period = pair.partition("=")[0].removeprefix("w")
        if date.fromisoformat(period if len(period) == 10 else period + "-01") >= horizon:
            kept.append(f",{pair}")
    return "".join(kept)


def _current_form(counters: Mapping[str, Any]) -> dict[str, Counter]:
    """Counters in the current form; the earlier one (``{"cap|period": used}``) converted."""
    # Converted as a whole, so one counter tells the form.
    if not counters or isinstance(next(iter(counters.values())), list):
        return counters if isinstance(counters, dict) else dict(counters)
    pairs: dict[str, list[tuple[str, int]]] = {}
    for key, value in counters.items():
        cap, _, period = key.rpartition("|")
        pairs.setdefault(cap, []).append((period, int(value)))
    out: dict[str, Counter] = {}
    for cap, found in pairs.items():
        *earlier, (latest, count) = sorted(found)
        out[cap] = [latest, count, "".join(f",{p}={n}" for p, n in earlier)]
    return out
