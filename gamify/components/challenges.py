"""Challenges: progress of a run from enrolment, windows, completion.

Pure functions over a run's JSON-ready state::

    {"status": "active", "since": "...", "ends": "..." | None,
     "counts": [3, 0], "days": [["2026-03-01", ...], []], "done": 1}

A completed run also keeps the instant it ended (``"ended"``). Instants are in UTC.

Count and total conditions count from enrolment; state conditions (level,
tier, streak, badge, custom) are judged on the member's current state.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from gamify import _time
from gamify.components.badges import BadgeFacts
from gamify.program import Challenge, Goal

__all__ = [
    "counts_met",
    "ended_at",
    "enrol",
    "expired",
    "goal_values",
    "is_complete",
    "observe",
    "window_end",
]


def window_end(spec: Challenge, at: datetime, tz: str) -> datetime | None:
    """Where a run enrolled at ``at`` ends: the local midnight after day N, or the fixed end."""
    if spec.days is not None:
        day = _time.local_date(at, tz) + timedelta(days=spec.days)
        return _time.local_midnight(day, tz)
    return spec.end


def can_enrol(spec: Challenge, at: datetime) -> bool:
    """A fixed window admits enrolments only while it runs."""
    return spec.start is None or spec.end is None or spec.start <= at < spec.end


def enrol(spec: Challenge, at: datetime, tz: str, done: int = 0) -> dict[str, Any]:
    """A fresh run with zero progress and its own window."""
    end = window_end(spec, at, tz)
    return {
        "status": "active",
        "since": at.isoformat(),
        "ends": end.astimezone(UTC).isoformat() if end is not None else None,
        "counts": [0] * len(spec.conditions),
        "days": [[] for _ in spec.conditions],
        "done": done,
    }


def expired(run: Mapping[str, Any], at: datetime) -> bool:
    """Whether the run's window has ended by ``at`` (half-open: ended at its end instant)."""
    return run["ends"] is not None and at >= datetime.fromisoformat(run["ends"])


def ended_at(run: Mapping[str, Any]) -> datetime:
    """When a finished run ended: at its completion, or (failed) at its window's end. A run
    completed before completions were dated reads its enrolment."""
    if run.get("ended"):
        return datetime.fromisoformat(run["ended"])
    if run["status"] == "failed" and run["ends"] is not None:
        return datetime.fromisoformat(run["ends"])
    return datetime.fromisoformat(run["since"])


def observe(
    spec: Challenge,
    run: dict[str, Any],
    action: str,
    at: datetime,
    tz: str,
    earned: Mapping[str, int],
) -> dict[str, Any]:
    """Count an event that happened at ``at`` (events before enrolment do not count)."""
    if at < datetime.fromisoformat(run["since"]):
        return run
    counts = list(run["counts"])
    days = [list(d) for d in run["days"]]
    for i, goal in enumerate(spec.conditions):
        if goal.kind == "count" and goal.action == action:
            if goal.distinct_days:
                day = _time.local_date(at, tz).isoformat()
                if day not in days[i]:
                    days[i].append(day)
                    counts[i] = len(days[i])
            else:
                counts[i] += 1
        elif goal.kind == "earned" and goal.currency in earned:
            counts[i] += earned[goal.currency or ""]
    return {**run, "counts": counts, "days": days}


def _state_value(goal: Goal, facts: BadgeFacts) -> Decimal:
    if goal.kind == "level":
        return Decimal(facts.level)
    if goal.kind == "tier":
        reached = facts.tier_rank >= facts.tier_ranks.get(goal.tier or "", 1 << 30)
        return Decimal(1 if reached else 0)
    if goal.kind == "streak":
        return Decimal(facts.streaks.get(goal.streak or "", 0))
    if goal.kind == "badge":
        return Decimal(1 if facts.badges.get(goal.badge or "", 0) else 0)
    predicate = facts.predicates.get(goal.predicate or "")
    return Decimal(1 if predicate is not None and predicate(facts) else 0)


def goal_values(
    spec: Challenge, run: Mapping[str, Any], facts: BadgeFacts
) -> list[tuple[Decimal, Decimal]]:
    """(current, target) of each condition."""
    out: list[tuple[Decimal, Decimal]] = []
    for i, goal in enumerate(spec.conditions):
        if goal.kind in ("count", "earned"):
            current = Decimal(run["counts"][i])
        else:
            current = _state_value(goal, facts)
        target = goal.target if goal.kind not in ("tier", "badge", "custom") else Decimal(1)
        out.append((current, target))
    return out


def counts_met(spec: Challenge, run: Mapping[str, Any]) -> bool:
    """Whether every count and total condition has reached its target (cheap pre-check)."""
    return all(
        run["counts"][i] >= goal.target
        for i, goal in enumerate(spec.conditions)
        if goal.kind in ("count", "earned")
    )


def is_complete(spec: Challenge, run: Mapping[str, Any], facts: BadgeFacts) -> bool:
    return all(current >= target for current, target in goal_values(spec, run, facts))
