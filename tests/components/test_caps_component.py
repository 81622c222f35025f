"""Caps as a pure function: what is credited, what is cut, and the counters per local period."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from gamify import Program
from gamify.components.caps import apply, prune, used
from gamify.components.earning import RuleAward


def program(caps: list[dict[str, Any]], **extra: Any) -> Program:
    return Program.model_validate(
        {
            "timezone": "UTC",
            "actions": {"purchase": {}, "check_in": {}},
            "rules": [
                {"name": "spend", "action": "purchase", "per_amount": 1},
                {"name": "visit", "action": "purchase", "fixed": 10},
                {"name": "daily", "action": "check_in", "fixed": 5},
                {"name": "xp", "action": "purchase", "currency": "xp", "fixed": 50},
            ],
            "caps": caps,
            **extra,
        }
    )


def award(prog: Program, rule: str, amount: int) -> RuleAward:
    found = next(r for r in prog.rules if r.name == rule)
    return RuleAward(rule=found, amount=amount, multiplier=Decimal(1))


MON = date(2026, 5, 4)  # a Monday


def flat(counters: dict[str, Any]) -> dict[str, int]:
    """Every counter as ``{"cap|period": count}``, read from the documented stored form: per
    cap, [latest period, its count, ",period=count" pairs of earlier periods, oldest first]."""
    out: dict[str, int] = {}
    for cap, (latest, count, earlier) in counters.items():
        pairs = [p.split("=") for p in earlier.split(",")[1:]]
        periods = [period for period, _ in pairs]
        assert earlier == "" or earlier.startswith(",")
        assert periods == sorted(periods) and all(p < latest for p in periods), counters
        out.update({f"{cap}|{period}": int(n) for period, n in pairs})
        out[f"{cap}|{latest}"] = count
    return out


def test_without_caps_everything_is_credited() -> None:
    """A program with no caps credits each award in full and counts nothing."""
    prog = program([])
    out, counters = apply(prog, "purchase", [award(prog, "spend", 70)], {}, MON)
    assert [(c.amount, c.cut, c.cap) for c in out] == [(70, 0, None)]
    assert counters == {}


def test_per_event_cap_is_shared_by_the_rules_of_one_event() -> None:
    """A 50-point per-event cap lets 40 + 10 through but cuts a third rule's award to nothing."""
    prog = program([{"name": "per_event", "limit": 50, "period": "event"}])
    awards = [award(prog, "spend", 40), award(prog, "visit", 10), award(prog, "visit", 10)]
    out, counters = apply(prog, "purchase", awards, {}, MON)
    assert [(c.amount, c.cut) for c in out] == [(40, 0), (10, 0), (0, 10)]
    assert out[2].cap == "per_event"
    assert counters == {}


def test_per_event_cap_does_not_carry_over_to_the_next_event() -> None:
    """Each event gets the per-event limit afresh."""
    prog = program([{"name": "per_event", "limit": 50, "period": "event"}])
    out1, counters = apply(prog, "purchase", [award(prog, "spend", 80)], {}, MON)
    out2, _ = apply(prog, "purchase", [award(prog, "spend", 80)], counters, MON)
    assert [(c.amount, c.cut) for c in out1 + out2] == [(50, 30), (50, 30)]


def test_daily_action_cap_counts_per_local_day() -> None:
    """A 100-point daily purchase cap: 70 then 70 on one day credits 70 and 30; the next day starts
    afresh."""
    prog = program([{"name": "buy_day", "limit": 100, "period": "day", "action": "purchase"}])
    out1, c1 = apply(prog, "purchase", [award(prog, "spend", 70)], {}, MON)
    out2, c2 = apply(prog, "purchase", [award(prog, "spend", 70)], c1, MON)
    out3, c3 = apply(prog, "purchase", [award(prog, "spend", 70)], c2, date(2026, 5, 5))
    assert [(o.amount, o.cut) for o in out1 + out2 + out3] == [(70, 0), (30, 40), (70, 0)]
    assert flat(c3) == {"buy_day|2026-05-04": 100, "buy_day|2026-05-05": 70}


def test_an_action_cap_ignores_other_actions() -> None:
    """A cap on purchases leaves check-ins uncapped."""
    prog = program([{"name": "buy_day", "limit": 0, "period": "day", "action": "purchase"}])
    out, _ = apply(prog, "check_in", [award(prog, "daily", 5)], {}, MON)
    assert (out[0].amount, out[0].cut) == (5, 0)


def test_overall_daily_cap_covers_every_action() -> None:
    """An overall 60-point daily cap counts purchases and check-ins together."""
    prog = program([{"name": "all_day", "limit": 60, "period": "day"}])
    out1, c = apply(prog, "purchase", [award(prog, "spend", 50)], {}, MON)
    out2, c = apply(prog, "check_in", [award(prog, "daily", 5)], c, MON)
    out3, c = apply(prog, "check_in", [award(prog, "daily", 5)], c, MON)
    out4, c = apply(prog, "check_in", [award(prog, "daily", 5)], c, MON)
    assert [o.amount for o in out1 + out2 + out3 + out4] == [50, 5, 5, 0]
    assert flat(c) == {"all_day|2026-05-04": 60}


def test_caps_of_one_currency_leave_others_alone() -> None:
    """A points cap does not cut XP."""
    prog = program([{"name": "all_day", "limit": 0, "period": "day"}])
    out, _ = apply(prog, "purchase", [award(prog, "xp", 50)], {}, MON)
    assert (out[0].amount, out[0].cut) == (50, 0)


def test_the_tightest_cap_binds_and_every_cap_counts_what_passed() -> None:
    """Under a 100/day action cap and a 30/event cap, 80 credits 30 (cut by the event cap) and both
    count 30."""
    prog = program(
        [
            {"name": "buy_day", "limit": 100, "period": "day", "action": "purchase"},
            {"name": "per_event", "limit": 30, "period": "event"},
        ]
    )
    out, c = apply(prog, "purchase", [award(prog, "spend", 80)], {}, MON)
    assert [(o.amount, o.cut, o.cap) for o in out] == [(30, 50, "per_event")]
    assert flat(c) == {"buy_day|2026-05-04": 30}


def test_an_award_that_fits_the_room_exactly_is_not_reported_as_capped() -> None:
    """With 30 points of room left, an award of 30 is credited whole: nothing is cut, so no
    cap is named as binding it."""
    prog = program([{"name": "buy_day", "limit": 100, "period": "day", "action": "purchase"}])
    _, c = apply(prog, "purchase", [award(prog, "spend", 70)], {}, MON)
    out, c = apply(prog, "purchase", [award(prog, "spend", 30)], c, MON)
    assert [(o.amount, o.cut, o.cap) for o in out] == [(30, 0, None)]
    assert flat(c) == {"buy_day|2026-05-04": 100}


def test_weekly_cap_weeks_start_on_monday_by_default() -> None:
    """With Monday weeks, Sunday 10 May and Monday 11 May fall in different weekly periods."""
    prog = program([{"name": "week", "limit": 100, "period": "week"}])
    _, c = apply(prog, "purchase", [award(prog, "spend", 60)], {}, date(2026, 5, 10))
    out, c = apply(prog, "purchase", [award(prog, "spend", 60)], c, date(2026, 5, 11))
    assert out[0].amount == 60
    assert flat(c) == {"week|w2026-05-04": 60, "week|w2026-05-11": 60}


def test_weekly_cap_follows_the_program_week_start() -> None:
    """With Sunday weeks, Sunday 10 May and Monday 11 May share a week, so the second award is cut
    to 40."""
    prog = program([{"name": "week", "limit": 100, "period": "week"}], week_start="sunday")
    _, c = apply(prog, "purchase", [award(prog, "spend", 60)], {}, date(2026, 5, 10))
    out, c = apply(prog, "purchase", [award(prog, "spend", 60)], c, date(2026, 5, 11))
    assert (out[0].amount, out[0].cut) == (40, 20)
    assert flat(c) == {"week|w2026-05-10": 100}


def test_monthly_cap_counts_per_calendar_month() -> None:
    """A monthly cap resets on the 1st: 31 May and 1 June are different periods."""
    prog = program([{"name": "month", "limit": 100, "period": "month"}])
    _, c = apply(prog, "purchase", [award(prog, "spend", 100)], {}, date(2026, 5, 31))
    out, c = apply(prog, "purchase", [award(prog, "spend", 100)], c, date(2026, 6, 1))
    assert out[0].amount == 100
    assert flat(c) == {"month|2026-05": 100, "month|2026-06": 100}


def test_apply_does_not_change_the_counters_passed_in() -> None:
    """The counters given are left as they were; the new ones are returned."""
    prog = program([{"name": "day", "limit": 100, "period": "day"}])
    _, before = apply(prog, "purchase", [award(prog, "spend", 10)], {}, MON)
    kept = copy.deepcopy(before)
    _, after = apply(prog, "purchase", [award(prog, "spend", 5)], before, MON)
    assert before == kept
    assert flat(after) == {"day|2026-05-04": 15}


def test_counters_in_the_earlier_form_are_read_and_rewritten() -> None:
    """A state saved as {"cap|period": count} keeps counting: 90 of a 100 limit already used
    today leaves 10, and the counters come back in the current form, every period kept."""
    prog = program([{"name": "day", "limit": 100, "period": "day"}])
    earlier = {"day|2026-05-03": 40, "day|2026-05-04": 90, "day|2026-04-30": 7}
    out, after = apply(prog, "purchase", [award(prog, "spend", 50)], earlier, MON)
    assert (out[0].amount, out[0].cut) == (10, 40)
    assert after == {"day": ["2026-05-04", 100, ",2026-04-30=7,2026-05-03=40"]}


def test_a_late_event_counts_toward_its_own_period() -> None:
    """An event dated two days back is counted in that day's counter (new or not), and
    today's counter, the latest, stays as it was."""
    prog = program([{"name": "day", "limit": 100, "period": "day"}])
    _, c = apply(prog, "purchase", [award(prog, "spend", 30)], {}, date(2026, 5, 1))
    _, c = apply(prog, "purchase", [award(prog, "spend", 20)], c, MON)
    out, c = apply(prog, "purchase", [award(prog, "spend", 90)], c, date(2026, 5, 2))
    assert out[0].amount == 90
    out, c = apply(prog, "purchase", [award(prog, "spend", 90)], c, date(2026, 5, 1))
    assert (out[0].amount, out[0].cut) == (70, 20)
    assert flat(c) == {"day|2026-05-01": 100, "day|2026-05-02": 90, "day|2026-05-04": 20}
    assert used(c, "day", "2026-05-03") == 0


def test_a_late_event_older_than_every_kept_period_keeps_them_oldest_first() -> None:
    """Counters of earlier periods stay in their stored order, oldest first, when a late
    event lands before all of them."""
    prog = program([{"name": "day", "limit": 100, "period": "day"}])
    _, c = apply(prog, "purchase", [award(prog, "spend", 30)], {}, date(2026, 5, 2))
    _, c = apply(prog, "purchase", [award(prog, "spend", 20)], c, MON)
    _, c = apply(prog, "purchase", [award(prog, "spend", 10)], c, date(2026, 5, 1))
    assert c["day"] == ["2026-05-04", 20, ",2026-05-01=10,2026-05-02=30"]


def test_prune_drops_periods_older_than_the_late_event_horizon() -> None:
    """Counters of periods that began before today − (late days + 31) are dropped, newer ones
    kept."""
    # today 2026-05-01, keep 60 days: horizon = 2026-05-01 − 91 days = 2026-01-30
    assert prune(",2026-01-01=5,2026-03-01=5", date(2026, 5, 1), 60) == ",2026-03-01=5"
    assert prune(",w2026-01-05=5,w2026-02-02=1", date(2026, 5, 1), 60) == ",w2026-02-02=1"
    assert prune(",2026-01=5,2026-02=5", date(2026, 5, 1), 60) == ",2026-02=5"
    # A period that begins on the horizon itself is kept.
    assert prune(",2026-01-29=5,2026-01-30=7", date(2026, 5, 1), 60) == ",2026-01-30=7"


def test_counters_of_periods_past_the_late_event_window_are_dropped() -> None:
    """With late_event_days = 1, a year of daily counters never holds more than 35 days' worth."""
    prog = program([{"name": "day", "limit": 100, "period": "day"}], late_event_days=1)
    counters: dict[str, Any] = {}
    first = date(2026, 1, 1)
    for n in range(365):
        day = first + timedelta(days=n)
        _, counters = apply(prog, "purchase", [award(prog, "spend", 1)], counters, day)
        assert len(flat(counters)) <= 1 * (1 + 34)
    last = first + timedelta(days=364)
    kept = sorted(date.fromisoformat(k.split("|")[1]) for k in flat(counters))
    assert kept[-1] == last
    assert kept[0] > last - timedelta(days=1 + 34)
