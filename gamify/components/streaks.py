"""Streaks: consecutive local days or weeks with a qualifying action.

Pure functions over a streak's JSON-ready state dict::

    {"len": 5, "longest": 9, "last_at": "2026-03-01T15:30:00+00:00",
     "covered": 0, "tokens": 1, "paid": [3], "runs": "<start> <len>;...",
     "broken": {...}, "repairs": {"2026-03": 1}}

The last counted event is kept as an instant and re-read in the member's
current zone, so a zone change alone never breaks a run nor counts one
period twice. ``covered`` counts missed periods bridged by a repair.

Past runs are kept as one string (read them with :func:`past_runs`): the state
is loaded and saved with every qualifying event, and one string costs far less
to decode than a list of fifty pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from gamify import _time
from gamify.errors import StreakRepairError
from gamify.program import Milestone, Streak

__all__ = [
    "StreakStep",
    "current_length",
    "current_tokens",
    "past_runs",
    "period_index",
    "record",
    "repair",
]

MAX_RUNS: Final = 50  # past runs kept in the state, newest last


def past_runs(state: dict[str, Any] | None) -> list[tuple[str, int]]:
    """The finished runs, oldest first: (the instant of the first event, the length)."""
    stored = (state or {}).get("runs")
    if not stored:
        return []
    if isinstance(stored, list):  # the earlier form: a list of [start, length] pairs
        return [(str(start), int(length)) for start, length in stored]
    return [
        (start, int(length)) for start, _, length in (r.partition(" ") for r in stored.split(";"))
    ]


def _encode_runs(runs: list[tuple[str, int]]) -> str:
    return ";".join(f"{start} {length}" for start, length in runs[-MAX_RUNS:])


def _add_run(state: dict[str, Any], start: str, length: int) -> str:
    """The runs with one more, the oldest dropped past MAX_RUNS (no decoding: breaks are common)."""
    stored = state.get("runs") or ""
    if isinstance(stored, list):
        stored = _encode_runs(past_runs(state))
    runs = f"{stored};{start} {length}" if stored else f"{start} {length}"
    if runs.count(";") >= MAX_RUNS:
        runs = runs[runs.index(";") + 1 :]
    return runs


# A value, never changed (frozen fields cost ~5x to set); __init__ by hand: compiled, it
# runs natively.
@dataclass
class StreakStep:
    """A streak after one event: its new state and what happened."""

    state: dict[str, Any]
    counted: bool = False
    extended: bool = False
    broken: bool = False
    frozen: int = 0
    milestones: list[Milestone] = field(default_factory=list)

    def __init__(
        self,
        state: dict[str, Any],
        counted: bool = False,
        extended: bool = False,
        broken: bool = False,
        frozen: int = 0,
        milestones: list[Milestone] | None = None,
    ) -> None:
        self.state = state
        self.counted = counted
        self.extended = extended
        self.broken = broken
        self.frozen = frozen
        self.milestones = [] if milestones is None else milestones


def period_index(period: str, day: date, first_weekday: int = 0) -> int:
    """Consecutive integers for consecutive local periods."""
    if period == "day":
        return day.toordinal()
    return _time.week_start(day, first_weekday).toordinal() // 7


def _period_end(period: str, index: int, tz: str, first_weekday: int) -> datetime:
    """The instant the period ``index`` ends (the local midnight starting the next one)."""
    if period == "day":
        return _time.local_midnight(date.fromordinal(index + 1), tz)
    # ``index`` is the week's first day's ordinal // 7. Ordinal 1 (0001-01-01) is a
    # Monday, so a week starting on ``first_weekday`` starts on an ordinal that is
    # ``first_weekday + 1`` modulo 7; the next week starts 7 days later.
    first_day = index * 7 + (first_weekday + 1) % 7
    return _time.local_midnight(date.fromordinal(first_day + 7), tz)


def _last_index(spec: Streak, state: dict[str, Any], tz: str, first_weekday: int) -> int:
    last = datetime.fromisoformat(state["last_at"])
    index = period_index(spec.period, _time.local_date(last, tz), first_weekday)
    return index + int(state.get("covered", 0))


def record(
    spec: Streak, state: dict[str, Any] | None, at: datetime, tz: str, first_weekday: int = 0
) -> StreakStep:
    """Count a qualifying event at ``at`` (read in zone ``tz``)."""
    index = period_index(spec.period, _time.local_date(at, tz), first_weekday)
    new: dict[str, Any] = (
        dict(state) if state else {"len": 0, "longest": 0, "tokens": 0, "paid": []}
    )
    frozen = 0
    broken = False
    if new["len"] > 0:
        last = _last_index(spec, new, tz, first_weekday)
        if index <= last:
            return StreakStep(state=new)  # same period, or a late event: never rewrites a run
        missed = index - last - 1
        if missed and new.get("tokens", 0) >= missed:
            new["tokens"] -= missed
            frozen = missed
        elif missed:
            # The tokens covered the first missed periods (run_due may have spent them
            # already); the next one broke the run, so none is left.
            broken = True
            new["tokens"] = 0
            new["runs"] = _add_run(new, new["start"], new["len"])
            end = _period_end(spec.period, last + 1, tz, first_weekday)
            new["broken"] = {"len": new["len"], "paid": new["paid"], "end": end.isoformat()}
            new["len"] = 0
            new["paid"] = []
    instant = _time.utc_text(at)
    if new["len"] == 0:
        new["start"] = instant
    new["len"] += 1
    new["last_at"] = instant
    new["covered"] = 0
    new["longest"] = max(new["longest"], new["len"])
    reached = [m for m in spec.milestones if m.length == new["len"] and m.length not in new["paid"]]
    if reached:
        new["paid"] = [*new["paid"], *(m.length for m in reached)]
    if spec.freeze is not None and new["len"] % spec.freeze.every == 0:
        new["tokens"] = min(new.get("tokens", 0) + 1, spec.freeze.max_tokens)
    return StreakStep(
        state=new, counted=True, extended=True, broken=broken, frozen=frozen, milestones=reached
    )


def current_length(
    spec: Streak, state: dict[str, Any] | None, now: datetime, tz: str, first_weekday: int = 0
) -> int:
    """The length as read between events: 0 once a whole period passed uncovered."""
    if not state or state["len"] == 0:
        return 0
    now_index = period_index(spec.period, _time.local_date(now, tz), first_weekday)
    missed = now_index - _last_index(spec, state, tz, first_weekday) - 1
    return int(state["len"]) if missed <= state.get("tokens", 0) else 0


def current_tokens(
    spec: Streak, state: dict[str, Any] | None, now: datetime, tz: str, first_weekday: int = 0
) -> int:
    """The freeze tokens as read between events: those already due to cover missed
    periods count as spent (the next event or repair spends them for good), and once more
    periods are missed than they cover, the run is broken and every one is spent."""
    if not state:
        return 0
    tokens = int(state.get("tokens", 0))
    if state["len"] == 0:
        return tokens
    now_index = period_index(spec.period, _time.local_date(now, tz), first_weekday)
    missed = max(now_index - _last_index(spec, state, tz, first_weekday) - 1, 0)
    return tokens - missed if missed <= tokens else 0


def repair(
    spec: Streak, state: dict[str, Any] | None, now: datetime, tz: str, first_weekday: int = 0
) -> StreakStep:
    """Restore the length held before a break (no milestone is paid again).

    Joining the run a break ended to the current one lengthens it at once: the milestones
    neither part paid up to the joined length are due (in ``milestones``), and the freeze
    tokens of the multiples it reaches beyond those each part reached are granted.

    Refused with :class:`~gamify.errors.StreakRepairError` when nothing is
    broken, outside the repair window (counted from the end of the first
    missed period) or past the monthly limit.
    """
    if spec.repair is None:
        raise StreakRepairError("this streak cannot be repaired")
    if not state or state["len"] == 0:
        raise StreakRepairError("there is no streak to repair")
    new = dict(state)
    now_index = period_index(spec.period, _time.local_date(now, tz), first_weekday)
    last = _last_index(spec, new, tz, first_weekday)
    # The current run missed a whole period since its last event: bridge that gap.
    # Only when it did not, join the run that a break ended (the current run began
    # after it). A "broken" record can be stale: checking it first would judge an
    # older break's window and refuse (or join) the wrong run.
    bridge = now_index - last - 1 > new.get("tokens", 0)
    if bridge:
        end = _period_end(spec.period, last + 1, tz, first_weekday)
    elif "broken" in new:
        end = datetime.fromisoformat(new["broken"]["end"])
    else:
        raise StreakRepairError("the streak is not broken")
    if now >= end + timedelta(hours=spec.repair.window_hours):
        raise StreakRepairError(
            f"the repair window of {spec.repair.window_hours} hours "
            "after the missed period has closed"
        )
    month = _time.month_key(_time.local_date(now, tz))
    used = dict(new.get("repairs", {}))
    if spec.repair.per_month is not None and used.get(month, 0) >= spec.repair.per_month:
        raise StreakRepairError(f"at most {spec.repair.per_month} repairs a month")
    used = {k: v for k, v in used.items() if k >= month}  # older months no longer matter
    used[month] = used.get(month, 0) + 1
    new["repairs"] = used
    reached: list[Milestone] = []
    if not bridge:
        broken = new.pop("broken")
        # A new run began after the break: join it to the run before.
        current = new["len"]
        new["len"] += broken["len"]
        paid = {*broken["paid"], *new["paid"]}
        reached = [m for m in spec.milestones if m.length <= new["len"] and m.length not in paid]
        new["paid"] = sorted(paid | {m.length for m in reached})
        if spec.freeze is not None:
            every = spec.freeze.every
            extra = new["len"] // every - broken["len"] // every - current // every
            if extra > 0:
                new["tokens"] = min(new.get("tokens", 0) + extra, spec.freeze.max_tokens)
        runs = past_runs(new)
        if runs:
            new["start"] = runs[-1][0]
        new["runs"] = _encode_runs(runs[:-1])
    else:
        # No event since: bridge the missed periods up to the current one.
        new["covered"] = int(new.get("covered", 0)) + max(now_index - last - 1, 0)
    new["longest"] = max(new["longest"], new["len"])
    return StreakStep(state=new, milestones=reached)
