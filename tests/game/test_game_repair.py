"""Streak repair: within the window after the first missed period, at a cost, a few
times a month.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import gamify
from gamify.errors import StreakRepairError
from gamify.testing.plugin import EngineFactory


def program(period: str = "day", **repair: Any) -> dict[str, Any]:
    """Workouts pay 10 points; one streak with milestone
    3 (20 points) and the given repair terms.
    """
    return {
        "timezone": "UTC",
        "actions": {"workout": {}, "stretch": {}},
        "rules": [{"name": "workout_points", "action": "workout", "fixed": 10}],
        "streaks": {
            "daily": {
                "actions": ["workout"],
                "period": period,
                "milestones": [{"length": 3, "reward": {"points": 20}}],
                "repair": {"window_hours": 48, "cost": 30, **repair},
            }
        },
    }


def at(day: int, hour: int = 9, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def work(engine: gamify.Engine, clock: gamify.ManualClock, *days: int, month: int = 3) -> None:
    for day in days:
        clock.set(at(day, month=month))
        engine.track("m", "workout")


def snapshot(engine: gamify.Engine) -> tuple[Any, ...]:
    """What a refused repair must leave untouched: balances, ledger and streak state."""
    record = engine.store.get_member("m")
    assert record is not None
    return (
        engine.store.get_balances("m"),
        len(engine.history("m")),
        record.state.get("streaks"),
    )


def test_repair_after_a_new_run_began_joins_the_runs(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A run of 4, a missed day, 1 new day, then a repair:
    length 5, 30 points paid, milestone 3 not paid again.
    """
    engine = gamify_engine(program())
    work(engine, gamify_clock, 2, 3, 4, 5)  # milestone 3 on 4 March
    assert engine.balance("m") == 4 * 10 + 20
    work(engine, gamify_clock, 7)  # 6 March missed: the run broke
    assert engine.member("m").streaks[0].length == 1
    gamify_clock.set(at(7, 12))
    state = engine.repair_streak("m", "daily")
    assert (state.length, state.longest) == (5, 5)
    assert engine.balance("m") == 4 * 10 + 20 + 10 - 30
    assert engine.member("m").streaks[0].length == 5
    lengths, milestone_credits = [], []
    for day in (8, 9):
        gamify_clock.set(at(day))
        outcome = engine.track("m", "workout")
        lengths.append(outcome.streaks[0].length)
        milestone_credits += [c for c in outcome.credits if c.source == "streak"]
    assert lengths == [6, 7]
    assert milestone_credits == []
    cost = [e.amount for e in engine.history("m") if e.reason == "repair daily"]
    assert sum(cost) == -30  # taken from the 10-point lots, earliest first


def test_repair_takes_the_joined_run_out_of_the_history(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Runs of 2 (1-2 March) and 4 (4-7 March) are filed; 9 March starts a new run and a
    repair joins it to the 4-day one: that run leaves the history, the first stays, and
    the next break files the joined run from its first day, 4 March."""
    engine = gamify_engine(program())
    work(engine, gamify_clock, 1, 2, 4, 5, 6, 7, 9)
    assert [(r.start, r.length) for r in engine.streak_history("m", "daily")] == [
        (at(1), 2),
        (at(4), 4),
    ]
    gamify_clock.set(at(9, 12))
    assert engine.repair_streak("m", "daily").length == 5
    assert [(r.start, r.length) for r in engine.streak_history("m", "daily")] == [(at(1), 2)]
    work(engine, gamify_clock, 11)  # 10 March missed
    assert [(r.start, r.length) for r in engine.streak_history("m", "daily")] == [
        (at(1), 2),
        (at(4), 5),
    ]


def test_repair_with_no_event_since_bridges_the_gap(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A run of 4, a missed day, a repair before the next
    workout: length 4 now, 5 with today's workout.
    """
    engine = gamify_engine(program())
    work(engine, gamify_clock, 2, 3, 4, 5)
    gamify_clock.set(at(7, 8))
    assert engine.member("m").streaks[0].length == 0
    assert engine.repair_streak("m", "daily").length == 4
    assert engine.member("m").streaks[0].length == 4
    gamify_clock.set(at(7, 9))
    outcome = engine.track("m", "workout")
    assert (outcome.streaks[0].length, outcome.streaks[0].broken) == (5, False)


@pytest.mark.parametrize(
    ("now", "allowed"),
    [(at(8, 23, 59), True), (at(9, 0, 0), False)],
    ids=["last-minute", "window-closed"],
)
def test_repair_window_counts_from_the_end_of_the_missed_day(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock, now: dt.datetime, allowed: bool
) -> None:
    """6 March missed: it ends at 7 March 00:00, so a
    48-hour window is open until (not at) 9 March 00:00.
    """
    engine = gamify_engine(program())
    work(engine, gamify_clock, 2, 3, 4, 5)
    gamify_clock.set(now)
    before = snapshot(engine)
    if allowed:
        assert engine.repair_streak("m", "daily").length == 4
    else:
        with pytest.raises(StreakRepairError, match="window"):
            engine.repair_streak("m", "daily")
        assert snapshot(engine) == before


def test_repair_after_a_new_run_is_refused_outside_the_window(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Once 48 hours have passed since the end of the missed day, the old run cannot be joined."""
    engine = gamify_engine(program())
    work(engine, gamify_clock, 2, 3, 4, 5, 7, 8)
    gamify_clock.set(at(9, 0, 0))
    before = snapshot(engine)
    with pytest.raises(StreakRepairError):
        engine.repair_streak("m", "daily")
    assert snapshot(engine) == before
    assert engine.member("m").streaks[0].length == 2


def test_repair_past_the_monthly_limit_is_refused(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """With one repair a month, a second break in March cannot be repaired; one in April can."""
    engine = gamify_engine(program(per_month=1))
    work(engine, gamify_clock, 2, 3, 4, 5)
    gamify_clock.set(at(7, 8))
    engine.repair_streak("m", "daily")
    work(engine, gamify_clock, 7, 8, 9, 10)  # 11 March missed
    gamify_clock.set(at(12, 8))
    before = snapshot(engine)
    with pytest.raises(StreakRepairError, match="a month"):
        engine.repair_streak("m", "daily")
    assert snapshot(engine) == before
    work(engine, gamify_clock, 1, 2, month=4)  # 3 April missed
    gamify_clock.set(at(4, 8, month=4))
    assert engine.repair_streak("m", "daily").length == 2


def test_nothing_to_repair_is_refused_and_writes_nothing(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """An intact streak cannot be repaired: StreakRepairError, no cost taken, no state changed."""
    engine = gamify_engine(program())
    work(engine, gamify_clock, 2, 3, 4, 5, 6)
    gamify_clock.set(at(7, 8))  # 6 March counted: nothing is missed yet
    before = snapshot(engine)
    with pytest.raises(StreakRepairError, match="not broken"):
        engine.repair_streak("m", "daily")
    assert snapshot(engine) == before


def test_no_streak_yet_is_refused(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A member who never did a qualifying action has no streak to repair."""
    engine = gamify_engine(program())
    engine.track("m", "stretch")
    with pytest.raises(StreakRepairError, match="no streak"):
        engine.repair_streak("m", "daily")
    with pytest.raises(gamify.UnknownMemberError):
        engine.repair_streak("nobody", "daily")


def test_repair_needs_the_points_it_costs(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A repair costing more than the spendable balance fails and writes nothing."""
    engine = gamify_engine(program(cost=1000))
    work(engine, gamify_clock, 2, 3)
    gamify_clock.set(at(5, 8))
    before = snapshot(engine)
    with pytest.raises(gamify.InsufficientBalanceError):
        engine.repair_streak("m", "daily")
    assert snapshot(engine) == before


def test_streak_without_repair_terms_cannot_be_repaired(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A streak whose program gives no repair section refuses every repair."""
    plain = program()
    del plain["streaks"]["daily"]["repair"]
    engine = gamify_engine(plain)
    work(engine, gamify_clock, 2, 3)
    gamify_clock.set(at(5, 8))
    with pytest.raises(StreakRepairError):
        engine.repair_streak("m", "daily")


def test_repeated_repair_key_pays_once(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A repair retried with its key returns the first result and takes the cost once, also
    after the program dropped the streak (a new call is then refused)."""
    engine = gamify_engine(program())
    work(engine, gamify_clock, 2, 3, 4, 5)
    gamify_clock.set(at(7, 8))
    first = engine.repair_streak("m", "daily", key="fix-1")
    again = engine.repair_streak("m", "daily", key="fix-1")
    assert first == again
    assert engine.balance("m") == 4 * 10 + 20 - 30
    spec = program()
    del spec["streaks"]["daily"]
    later = gamify.Engine(spec, store=engine.store, clock=gamify_clock)
    assert later.repair_streak("m", "daily", key="fix-1") == first
    with pytest.raises(gamify.errors.NotFoundError, match="unknown streak 'daily'"):
        later.repair_streak("m", "daily", key="fix-2")
    with pytest.raises(gamify.errors.NotFoundError, match="unknown streak 'daily'"):
        later.repair_streak("m", "daily")
    assert engine.balance("m") == 4 * 10 + 20 - 30


def test_weekly_repair_window_starts_when_the_missed_week_ends(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """The week of Monday 9 March missed ends Monday 16
    March 00:00; a 48-hour repair is open until 18 March.
    """
    engine = gamify_engine(program(period="week", cost=0))
    work(engine, gamify_clock, 4)
    gamify_clock.set(at(17, 12))
    assert engine.repair_streak("m", "daily").length == 1
    # The repaired run continues in the week of 16 March.
    gamify_clock.set(at(18, 9))
    assert engine.track("m", "workout").streaks[0].length == 2


def test_weekly_repair_window_closes_48_hours_after_the_missed_week(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """At Wednesday 18 March 00:00 the window for the week of 9 March has closed."""
    engine = gamify_engine(program(period="week", cost=0))
    work(engine, gamify_clock, 4)
    gamify_clock.set(at(18, 0))
    with pytest.raises(StreakRepairError, match="window"):
        engine.repair_streak("m", "daily")


def test_repair_judges_the_latest_break_not_an_older_one(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """An earlier, unrepaired break does not stop repairing the current run's missed day."""
    engine = gamify_engine(program())
    work(engine, gamify_clock, 1, 2, 3, 4, 5, 7, 8, 9, 10)  # 6 and 11 March missed
    gamify_clock.set(at(12, 10))
    state = engine.repair_streak("m", "daily")
    assert (state.length, state.longest) == (4, 5)


def test_a_repair_can_pay_with_points_that_matured_before_run_due(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Pending points are spendable from their maturity instant, for a repair as for a
    redemption, whether or not run_due has booked the maturity yet."""
    spec = program()
    spec["actions"]["purchase"] = {"amount": "required"}
    spec["rules"].append(
        {"name": "purchase_points", "action": "purchase", "per_amount": 1, "pending_days": 1}
    )
    engine = gamify_engine(spec)
    gamify_clock.set(at(1))
    engine.track("m", "purchase", amount=30)  # matures on 2 March 09:00
    work(engine, gamify_clock, 2, 4)  # 3 March missed: broken (10 + 10 points spendable)
    assert engine.store.get_balances("m")["points:pending"] == 30
    state = engine.repair_streak("m", "daily")
    assert state.length == 2
    balances = engine.store.get_balances("m")
    assert (balances["points"], balances["points:pending"]) == (20, 0)


def test_a_repair_pays_the_milestones_and_tokens_the_joined_length_passes(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Runs of 2 and 2 joined make 4: milestone 3, which neither run reached, is paid by the
    repair (once), and the token for reaching 3 (every 3 days) is granted."""
    spec = program(window_hours=96, cost=0)
    spec["streaks"]["daily"]["freeze"] = {"every": 3, "max_tokens": 1}
    engine = gamify_engine(spec)
    events: list[tuple[str, dict[str, object]]] = []
    engine.on("*", lambda event: events.append((event.name, dict(event.payload))))
    work(engine, gamify_clock, 1, 2, 4, 5)  # 3 March missed
    before = engine.balance("m")
    state = engine.repair_streak("m", "daily")
    assert (state.length, state.tokens) == (4, 1)
    assert engine.balance("m") == before + 20  # milestone 3 pays 20 points
    assert ("streak_milestone", {"streak": "daily", "length": 3}) in events
    gamify_clock.set(at(6))
    outcome = engine.track("m", "workout")
    assert outcome.streaks[0].length == 5
    assert outcome.streaks[0].milestones == []  # paid once, by the repair


def test_a_repair_grants_no_token_the_current_run_already_earned(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Runs of 2 and 3 (every 3 days grants a token) joined make 5: the joined run reached a
    multiple of 3 once, and the current run's token for it is already held, so the member
    still holds one token, not two."""
    spec = program(window_hours=96, cost=0)
    spec["streaks"]["daily"]["freeze"] = {"every": 3, "max_tokens": 3}
    engine = gamify_engine(spec)
    work(engine, gamify_clock, 1, 2, 4, 5, 6)  # 3 March missed
    assert engine.member("m").streaks[0].tokens == 1
    gamify_clock.set(at(6, 12))
    state = engine.repair_streak("m", "daily")
    assert (state.length, state.tokens) == (5, 1)


def ny(month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=gamify.clock.zone("America/New_York"))


@pytest.mark.parametrize(
    ("worked", "now", "allowed"),
    [
        # 8 March 2026 (clocks spring forward) is missed: 23 hours, ending at 9 March 00:00.
        ([(3, 6), (3, 7)], ny(3, 9, 23, 59), True),
        ([(3, 6), (3, 7)], ny(3, 10, 0, 0), False),
        ([(3, 6), (3, 7)], ny(3, 10, 0, 30), False),
        # 1 November 2026 (clocks fall back) is missed: 25 hours, ending at 2 November 00:00.
        ([(10, 30), (10, 31)], ny(11, 2, 23, 30), True),
        ([(10, 30), (10, 31)], ny(11, 3, 0, 0), False),
    ],
    ids=["spring-last-minute", "spring-closed", "spring-closed-later", "fall-open", "fall-closed"],
)
def test_repair_window_after_a_missed_dst_day_counts_from_its_local_end(
    gamify_engine: EngineFactory,
    gamify_clock: gamify.ManualClock,
    worked: list[tuple[int, int]],
    now: dt.datetime,
    allowed: bool,
) -> None:
    """A missed day of 23 or 25 hours still ends at the next local midnight; a 24-hour
    window runs from there, not from 24 hours after the missed day began."""
    engine = gamify_engine({**program(window_hours=24, cost=20), "timezone": "America/New_York"})
    for month, day in worked:
        gamify_clock.set(ny(month, day))
        engine.track("m", "workout")
    gamify_clock.set(now)
    if allowed:
        assert engine.repair_streak("m", "daily").length == 2
    else:
        with pytest.raises(StreakRepairError, match="window"):
            engine.repair_streak("m", "daily")
