"""``gamify report``: issuance against plan (the five cases), burn, spenders, expiry, segments."""

from __future__ import annotations

import sqlite3
import tomllib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from freezegun import freeze_time

import gamify.cli._report as report_cli
from gamify import Engine, InvalidTimeError, ManualClock, Program, ProgramError, open_store
from gamify.planning import Plan, parse_plan
from gamify.report import (
    Report,
    build_report,
    classify_issuance,
    core_ranges,
    load_report_plan,
    members_text,
    report_window,
)
from gamify.store import Store

D = Decimal
NOW = datetime(2027, 1, 1, tzinfo=UTC)  # a year after the stores' first day
YEAR = {"since": date(2026, 1, 1), "until": date(2027, 1, 1)}  # 365 local days: prorating x 1

PROGRAM = Program.from_dict(
    {
        "name": "shop",
        "timezone": "UTC",
        "actions": {"purchase": {"amount": "required"}, "check_in": {"amount": "none"}},
        "rules": [
            {"name": "purchase_points", "action": "purchase", "per_amount": 1},
            {"name": "check_in_points", "action": "check_in", "fixed": 5},
        ],
    }
)


def plan_text(*, budget: int, core: int, check_ins: int = 0, members: int = 1) -> str:
    """One segment of ``members``: yearly issuable = budget x 100, predicted = core + 5 x check-ins.

    The budget is ``budget`` a member a year; check-ins complete at rate 1.
    """
    return f"""
core_action = "purchase"
exchange_ratio_target = 100
[budget]
per_active_member = {budget}
[rules.purchase]
per_amount = 1
[rules.check_in]
fixed = 5
[completion_rates]
check_in = 1
[[segments]]
name = "all"
members = {members}
core_amount_per_member = {core}
target_noncore_share = 0
yearly_counts = {{ check_in = {check_ins} }}
"""


def plan_of(**kwargs: int) -> Plan:
    return parse_plan(tomllib.loads(plan_text(**kwargs), parse_float=D))


def shop(
    events: list[tuple[str, str, int | None, date]],
    redeem: Sequence[tuple[str, int, date]] = (),
) -> Store:
    """A memory store after ``events`` (member, action, amount, day) and redemptions."""
    store = open_store("memory://")
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    engine = Engine(PROGRAM, store=store, clock=clock)
    todo = [(day, 0, m, a, amt) for m, a, amt, day in events]
    todo += [(day, 1, m, "", pts) for m, pts, day in redeem]
    for day, kind, member, action, amount in sorted(todo, key=lambda t: (t[0], t[1])):
        clock.set(datetime(day.year, day.month, day.day, 12, tzinfo=UTC))
        if kind == 0:
            engine.track(member, action, amount=amount)
        else:
            engine.redeem(member, amount)
    return store


JAN = date(2026, 1, 10)


# The five cases (and the sixth, uncovered one), each from a store built through the engine.
# maximum = budget x 100; predicted = core amount (+ 5 per check-in); actual = points issued.
CASES = [
    # all three 1,000: healthy
    ("healthy", dict(budget=10, core=1000), [("a", "purchase", 1000, JAN)]),
    # max 1,000 < actual 2,000 (predicted 1,000): too easy
    ("max_below_actual", dict(budget=10, core=1000), [("a", "purchase", 2000, JAN)]),
    # max 1,000 < predicted 1,500, actual 1,000 within the maximum: too easy
    ("max_below_predicted", dict(budget=10, core=1500), [("a", "purchase", 1000, JAN)]),
    # predicted 1,000 > 1.1 x actual 800 (max 1,000): too hard
    ("predicted_above_actual", dict(budget=10, core=1000), [("a", "purchase", 800, JAN)]),
    # max 1,000 > 1.1 x actual 800, predicted 800 = actual: too hard
    ("max_above_actual", dict(budget=10, core=800), [("a", "purchase", 800, JAN)]),
    # max 1,000 within 10 % of actual 950, predicted 800 well below it: none of the five
    ("actual_above_predicted", dict(budget=10, core=800), [("a", "purchase", 950, JAN)]),
]


@pytest.mark.parametrize(("case", "plan", "events"), CASES, ids=[c[0] for c in CASES])
def test_issuance_cases_from_constructed_stores(case, plan, events):
    """Maximum, predicted and actual issuance fall in the first case that holds."""
    result = build_report(shop(events), now=NOW, plan=plan_of(**plan), **YEAR)
    assert result.window.days == 365
    assert result.issuance is not None
    assert result.issuance.maximum == plan["budget"] * 100
    assert result.issuance.predicted == plan["core"]
    assert result.issuance.actual == sum(e[2] or 5 for e in events)
    assert result.issuance.case == case
    verdict = {
        "healthy": "healthy",
        "max_below_actual": "too_easy",
        "max_below_predicted": "too_easy",
        "predicted_above_actual": "too_hard",
        "max_above_actual": "too_hard",
        "actual_above_predicted": "watch",
    }[case]
    assert result.issuance.verdict == verdict
    codes = {a.code for a in result.alerts if a.scope == "total"}
    assert (f"issuance_{case}" in codes) == (case != "healthy")


@pytest.mark.parametrize(
    ("figures", "case"),
    [
        ((110, 100, 100), "healthy"),  # exactly 10 % above: still within
        ((D("110.01"), 100, 100), "max_above_actual"),
        ((100, 100, D("110.01")), "max_below_actual"),
        ((100, D("100.5"), 100), "healthy"),
        ((100, 120, 200), "max_below_actual"),  # first case that holds wins
        ((100, 120, 90), "max_below_predicted"),
        ((0, 0, 0), "healthy"),
        ((100, 0, 0), "max_above_actual"),
    ],
)
def test_classification_boundaries(figures, case):
    """'A above B by more than 10 %' means A > 1.1 x B; exactly 10 % is within."""
    assert classify_issuance(*figures).case == case


def test_prorating_by_window_days():
    """Yearly plan figures are prorated by the window's local days / 365."""
    store = shop([("a", "purchase", 300, date(2026, 2, 1))])
    result = build_report(
        store, now=NOW, plan=plan_of(budget=73, core=730), since=date(2026, 1, 1),
        until=date(2026, 3, 1),
    )  # fmt: skip
    assert result.window.days == 59  # January 31 + February 28
    assert result.issuance is not None
    assert result.issuance.maximum == D(7300) * 59 / 365  # = 1,180
    assert result.issuance.predicted == D(730) * 59 / 365  # = 118
    assert result.issuance.actual == 300
    assert result.segments[0].predicted_per_member == 118  # one member: 730 x 59 / 365


def test_window_days_in_the_programs_zone():
    """A window counts local days: DST days are one day; a partial last day counts its share."""
    spring = report_window(date(2026, 3, 29), datetime(2026, 3, 29, 22, tzinfo=UTC), "Europe/Paris")
    assert spring.days == 1  # 23 hours: the whole DST day
    half = report_window(date(2026, 1, 1), datetime(2026, 1, 2, 4, tzinfo=UTC), "Asia/Shanghai")
    assert half.days == D("1.5")  # Jan 1 whole + 12 of Jan 2's 24 hours (UTC+8)


def test_spending_figures_by_hand():
    """Burn rate = spent / issued; holders who spent; expiry rate; earn/burn = issued / spent.

    a earns 1,000 and spends 400; b earns 500; c earns 100: issued 1,600, spent 400,
    burn 25 % (below 30 %), 1 of 3 holders spent (below 50 %), earn/burn 4.
    """
    store = shop(
        [("a", "purchase", 1000, JAN), ("b", "purchase", 500, JAN), ("c", "purchase", 100, JAN)],
        redeem=[("a", 400, date(2026, 2, 1))],
    )
    result = build_report(store, now=NOW, **YEAR)
    spending = result.spending
    assert (spending.issued, spending.spent, spending.expired) == (1600, 400, 0)
    assert spending.burn_rate == D("0.25")
    assert (spending.holders, spending.spenders) == (3, 1)
    assert spending.spender_share == D(1) / D(3)
    assert spending.expiry_rate == 0
    assert spending.earn_burn == 4
    codes = {a.code for a in result.alerts}
    assert {"burn_rate_low", "spender_share_low", "earn_burn"} <= codes
    assert result.issuance is None  # no plan: nothing to judge issuance against
    assert result.flow.outstanding == 1200


def test_window_excludes_earlier_points_but_counts_opening_holders():
    """Points issued before --since are not issued in the window; their holders still hold."""
    store = shop([("a", "purchase", 100, JAN), ("b", "purchase", 50, date(2026, 6, 1))])
    result = build_report(store, now=NOW, since=date(2026, 3, 1), until=date(2027, 1, 1))
    assert result.spending.issued == 50
    assert result.spending.holders == 2  # a held 100 at the window's start


def test_per_action_issued_against_predicted():
    """Each action's rule points against its prorated prediction, with the members doing it."""
    events = [("a", "purchase", 1000, JAN)] + [("a", "check_in", None, JAN)] * 4
    events += [("b", "check_in", None, JAN)]
    result = build_report(
        shop(events), now=NOW, plan=plan_of(budget=20, core=500, check_ins=4, members=2), **YEAR
    )
    actions = {a.action: a for a in result.actions}
    # predicted: purchase 2 x 500 = 1,000; check_in 2 x 4 x 5 = 40
    assert (actions["purchase"].issued, actions["purchase"].predicted) == (1000, 1000)
    assert actions["purchase"].deviation == 0
    assert (actions["check_in"].issued, actions["check_in"].predicted) == (25, 40)
    assert actions["check_in"].deviation == D(25) / D(40) - 1
    assert (actions["check_in"].members, actions["check_in"].planned_members) == (2, 2)
    assert result.action_deviation == D(-15) / D(1040)
    assert "action_under_issued" in {a.code for a in result.alerts}


TWO_SEGMENTS = """
core_action = "purchase"
exchange_ratio_target = 100
[budget]
per_active_member = 100
active_members = 4
[rules.purchase]
per_amount = 1
[rules.check_in]
fixed = 5
[completion_rates]
check_in = 1
[[segments]]
name = "low"
members = 2
core_amount_per_member = 1000
target_noncore_share = 0
[[segments]]
name = "high"
members = 2
core_amount_per_member = 20000
target_noncore_share = 0
"""


def test_segments_by_tag_else_by_core_amount(write):
    """A tag named after a segment places a member; else the yearly core amount's range does.

    Ranges split at the midpoint of the core amounts per member: (1,000 + 20,000) / 2 = 10,500.
    """
    store = shop(
        [
            ("tagged", "purchase", 100, JAN),
            ("big", "purchase", 15_000, JAN),
            ("small", "purchase", 900, JAN),
        ]
    )
    engine = Engine(PROGRAM, store=store, clock=ManualClock(datetime(2026, 2, 1, tzinfo=UTC)))
    engine.set_member("tagged", tags=["high"])
    plan, ranges = load_report_plan(write("plan.toml", TWO_SEGMENTS))
    assert (ranges["low"].high, ranges["high"].low) == (10_500, 10_500)
    result = build_report(store, now=NOW, plan=plan, ranges=ranges, **YEAR)
    segments = {s.name: s for s in result.segments}
    assert (segments["high"].members, segments["high"].by_tag) == (2, 1)
    assert (segments["low"].members, segments["low"].by_tag) == (1, 0)
    assert segments["high"].issuance.actual == 15_100
    assert segments["low"].issuance.actual == 900
    # the segment's maximum is its share of the issuable points: 40,000 x 40,000 / 42,000
    assert segments["high"].issuance.maximum == D(40_000) * (D(40_000) / D(42_000))
    assert segments["high"].predicted_per_member == 20_000
    assert segments["high"].actual_per_member == D("7550")


def test_a_reversal_that_leaves_debt_counts_once_per_member_and_segment(write):
    """a earns 100 + 20 and spends 110; the 100-point purchase is reversed: 10 comes back
    from the balance and 90 is booked as debt; a later 50-point purchase settles 50 of it.
    Issued is 120 - 100 + 50 = 70 in the total, for the member and for its segment alike:
    the debt is part of the reversal, not a second one."""
    store = open_store("memory://")
    clock = ManualClock(datetime(2026, 1, 10, 12, tzinfo=UTC))
    engine = Engine(PROGRAM, store=store, clock=clock)
    engine.set_member("a", tags=["low"])
    engine.track("a", "purchase", amount=100, key="order")
    engine.track("a", "purchase", amount=20)
    clock.set(datetime(2026, 1, 11, 12, tzinfo=UTC))
    engine.redeem("a", 110)
    clock.set(datetime(2026, 1, 12, 12, tzinfo=UTC))
    engine.reverse("a", "order")
    assert engine.member("a").debt == {"points": 90}
    clock.set(datetime(2026, 1, 13, 12, tzinfo=UTC))
    engine.track("a", "purchase", amount=50)
    plan, ranges = load_report_plan(write("plan.toml", TWO_SEGMENTS))
    result = build_report(store, now=NOW, plan=plan, ranges=ranges, **YEAR)
    assert result.flow.issued == 70
    assert (result.spending.issued, result.spending.spent) == (70, 110)
    assert (result.spending.holders, result.spending.spenders) == (1, 1)
    low = {s.name: s for s in result.segments}["low"]
    assert low.issuance.actual == 70
    assert (low.spending.issued, low.spending.holders, low.spending.spenders) == (70, 1, 1)


def test_explicit_core_amount_ranges(write):
    """core_amount_min/max in the plan's segments override the midpoints."""
    text = TWO_SEGMENTS.replace('name = "high"\n', 'name = "high"\ncore_amount_min = 16000\n')
    store = shop([("big", "purchase", 15_000, JAN)])
    plan, ranges = load_report_plan(write("plan.toml", text))
    assert (ranges["low"].high, ranges["high"].low) == (16_000, 16_000)
    result = build_report(store, now=NOW, plan=plan, ranges=ranges, **YEAR)
    assert {s.name: s.members for s in result.segments} == {"low": 1, "high": 0}


def test_core_ranges_sorted_by_amount_not_plan_order():
    """Ranges follow the core amounts per member whatever the segments' order in the plan."""
    text = (
        TWO_SEGMENTS.replace('"low"', '"tmp"').replace('"high"', '"low"').replace('"tmp"', '"high"')
    )
    plan = parse_plan(tomllib.loads(text, parse_float=D))
    ranges = core_ranges(plan)
    assert ranges["high"].holds(D(900)) is True  # "high" now holds the 1,000 segment
    assert ranges["low"].low == D(10_500) and ranges["low"].high is None


def test_expiry_rate():
    """Expired points over issued points: above 40 % raises an alert."""
    program = Program.from_dict(
        {**PROGRAM.model_dump(mode="json"), "expiry": {"policy": "months_end", "months": 0}}
    )
    store = open_store("memory://")
    clock = ManualClock(datetime(2026, 1, 10, tzinfo=UTC))
    engine = Engine(program, store=store, clock=clock)
    engine.track("a", "purchase", amount=100)
    clock.set(datetime(2026, 2, 10, tzinfo=UTC))
    engine.track("a", "purchase", amount=50)
    engine.run_due()  # the January lot expired at 2026-02-01 00:00
    result = build_report(store, now=NOW, **YEAR)
    assert result.spending.expired == 100
    assert result.spending.expiry_rate == D(100) / D(150)
    assert "expiry_rate_high" in {a.code for a in result.alerts}


# --------------------------------------------------------------------------- the command


@pytest.fixture
def store_url(monkeypatch) -> Callable[[Store], str]:
    """Make ``gamify report --store memory://built`` read a store built by the test."""

    def serve(store: Store) -> str:
        def fake_open(url: str) -> Store:
            assert url == "memory://built"
            return store

        monkeypatch.setattr(report_cli, "open_store", fake_open)
        return "memory://built"

    return serve


def test_a_prorated_maximum_is_exact_at_the_case_boundary():
    """Budget 365 a member (maximum 36,500 a year) over the 59 days of January and February
    is 5,900 exactly, so an actual issue of 5,900 is within the maximum, not above it; the
    segment's figures are exact too."""
    plan = plan_of(budget=365, core=12410)
    store = shop([("a", "purchase", 5900, JAN)])
    window = {"since": date(2026, 1, 1), "until": date(2026, 3, 1)}
    result = build_report(store, now=NOW, plan=plan, **window)
    assert result.window.days == 59
    assert result.issuance is not None
    assert result.issuance.maximum == 5900
    assert result.issuance.predicted == 2006  # 12,410 x 59 / 365
    assert result.issuance.case == "actual_above_predicted"
    assert result.segments[0].issuance.maximum == 5900
    assert result.segments[0].issuance.case == "actual_above_predicted"


def test_a_window_ends_at_now_when_until_is_later():
    """The plan is prorated over the days that happened: until 2027 read on 1 March 2026 is a
    window of 59 days, ending at now."""
    now = datetime(2026, 3, 1, tzinfo=UTC)
    result = build_report(
        shop([("a", "purchase", 100, JAN)]), now=now, plan=plan_of(budget=365, core=365), **YEAR
    )
    assert result.window.end == now
    assert result.window.days == 59
    assert result.issuance is not None and result.issuance.maximum == 5900


def test_a_since_after_today_exits_2(gamify_cli, store_url):
    """A window that starts after today has nothing to report: exit code 2, naming the day."""
    run = gamify_cli(
        "report", "--timezone", "UTC", "--store", store_url(shop([])), "--since", "2030-01-01"
    )
    assert run.exit_code == 2
    assert "--since 2030-01-01 is after today (2027-02-01 in UTC)" in run.stderr


@pytest.fixture(autouse=True)
def _after_the_windows() -> Iterator[None]:
    """The command reads the system clock: these reports run on 1 February 2027, after every
    window they name (a window never reaches past now)."""
    with freeze_time("2027-02-01T00:00:00Z"):
        yield


@pytest.mark.parametrize(("case", "plan", "events"), CASES, ids=[c[0] for c in CASES])
def test_report_command_json_case(gamify_cli, write, store_url, case, plan, events):
    """`gamify report --json` gives the case and the three figures as exact decimals."""
    url = store_url(shop(events))
    run = gamify_cli(
        "report", "--store", url, "--plan", write("plan.toml", plan_text(**plan)),
        "--since", "2026-01-01", "--until", "2027-01-01", "--timezone", "UTC", "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    data = run.json()
    assert data["issuance"]["case"] == case
    assert D(data["issuance"]["maximum"]) == plan["budget"] * 100
    assert D(data["issuance"]["predicted"]) == plan["core"]
    assert D(data["issuance"]["actual"]) == events[0][2]
    assert D(data["window"]["days"]) == 365
    assert data["flow"]["issued"] == events[0][2]


def test_report_command_tables(gamify_cli, write, store_url):
    """The human report shows issuance, per-action, spending, segments and alerts."""
    store = shop(
        [("a", "purchase", 2000, JAN), ("b", "check_in", None, JAN)],
        redeem=[("a", 1000, date(2026, 3, 1))],
    )
    run = gamify_cli(
        "report", "--timezone", "UTC", "--store", store_url(store),
        "--plan", write("plan.toml", plan_text(budget=5, core=1000, members=2)),
        "--since", "2026-01-01", "--until", "2027-01-01",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    text = run.stdout
    for part in (
        "Issuance against plan",
        "max below actual",
        "earning is too easy",
        "Per action",
        "burn rate (spent / issued): 49.9 %",  # 1,000 / 2,005
        "holders who spent: 50.0 %",
        "Segments",
        "Alerts",
    ):
        assert part in text, part
    out = " ".join(text.split())
    for part in (
        "advice: more points were issued than the budget allows",
        "│ purchase │ 2,000 │ 2,000 │ 0.0 % │ 1 │ 2 │",  # issued, predicted, deviation
        "sum of per-action deviations: 0.3 % of the predicted points",  # 5 / 2,000
        "expiry rate (expired / issued): 0.0 % (0; alarm above 40 %)",
        "earn/burn ratio (issued / spent): 2.01 (steady stock 0.8-1.2)",  # 2,005 / 1,000
        "! total: issuance max below actual",
        "i total: earn/burn ratio 2.01",  # information, not a warning
    ):
        assert part in out, part


def test_report_without_plan_and_since_defaults(gamify_cli, store_url):
    """Without --plan nothing is judged against a budget; --since defaults to the first member."""
    url = store_url(shop([("a", "purchase", 10, JAN)]))
    run = gamify_cli("report", "--timezone", "UTC", "--store", url, "--json")
    assert run.exit_code == 0, run.stderr
    data = run.json()
    assert data["issuance"] is None
    assert data["window"]["since"] == "2026-01-10"
    assert data["flow"]["issued"] == 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--store", "redis://x", "--timezone", "UTC"], "unknown store URL 'redis://x'"),
        (["--store", "memory://", "--since", "2026-13-01"], "--since '2026-13-01' is not a date"),
        (
            ["--store", "memory://", "--since", "2026-02-01", "--until", "2026-01-01"],
            "must be after --since",
        ),
        (["--store", "memory://", "--timezone", "Mars/Base"], "unknown time zone 'Mars/Base'"),
        (["--store", "memory://", "--plan", "/no/plan.toml"], "/no/plan.toml"),
        (["--store", "memory://", "--timezone", ""], "--timezone must name a time zone"),
        (["--store", "memory://", "--currency", " "], "--currency must name a currency"),
        (["--store", "memory://", "--calibrated"], "--calibrated compares with a plan"),
        (["--store", "memory://", "--since", "0001-01-01"], "outside the years 1900 to 9998"),
    ],
)
def test_report_bad_input_exits_2(gamify_cli, args, message):
    """Bad store URLs, dates, zones and plan files: one line, exit code 2."""
    run = gamify_cli("report", *args)
    assert run.exit_code == 2
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_report_bad_plan_key_path(gamify_cli, write):
    """A malformed plan names its key path, also with the core-amount keys."""
    text = TWO_SEGMENTS.replace('name = "high"\n', 'name = "high"\ncore_amount_min = "lots"\n')
    run = gamify_cli("report", "--store", "memory://", "--plan", write("p.toml", text))
    assert run.exit_code == 2
    assert "segments[1].core_amount_min: Input should be a valid decimal" in run.stderr


def test_plan_path_type(tmp_path: Path):
    """load_report_plan refuses a missing file with a ProgramError naming it."""
    from gamify.errors import ProgramError

    with pytest.raises(ProgramError, match="cannot read the plan file"):
        load_report_plan(tmp_path / "missing.toml")


def test_program_zone_counts_the_window_days(gamify_cli, write, store_url):
    """--program gives the window's zone: local midnights of Asia/Shanghai bound it."""
    program = write("p.toml", 'timezone = "Asia/Shanghai"\n[actions.purchase]\n')
    run = gamify_cli(
        "report", "--store", store_url(shop([("a", "purchase", 10, JAN)])),
        "--program", program, "--since", "2026-01-01", "--until", "2026-01-11", "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    window = run.json()["window"]
    assert window["timezone"] == "Asia/Shanghai"
    assert window["start"] == "2025-12-31T16:00:00+00:00"
    assert window["end"] == "2026-01-10T16:00:00+00:00"
    assert D(window["days"]) == 10


def test_without_a_zone_the_report_asks_for_one(gamify_cli, write, store_url):
    """The store does not know the program: with neither --program, --timezone nor a plan
    naming a program, the days cannot be counted in the program's zone (no UTC guess)."""
    url = store_url(shop([("a", "purchase", 10, JAN)]))
    own_rules = write("plan.toml", plan_text(budget=10, core=10))
    for extra in ((), ("--plan", own_rules)):
        run = gamify_cli("report", "--store", url, *extra)
        assert run.exit_code == 2
        assert "give --program or --timezone" in run.stderr


def test_the_program_a_plan_names_gives_the_zone(gamify_cli, write, store_url):
    """A plan with program = "shop.toml" counts the window's days in that program's zone
    (Asia/Shanghai: a purchase at 06:00 on 1 January local is in a January window);
    --timezone still wins."""
    store = open_store("memory://")
    clock = ManualClock(datetime(2025, 12, 31, 22, tzinfo=UTC))  # 1 January, 06:00 local
    Engine(PROGRAM, store=store, clock=clock).track("a", "purchase", amount=1000)
    url = store_url(store)
    write(
        "shop.toml",
        'name = "shop"\ntimezone = "Asia/Shanghai"\n[actions.purchase]\namount = "required"\n'
        '[actions.check_in]\namount = "none"\n'
        '[[rules]]\nname = "purchase_points"\naction = "purchase"\nper_amount = 1\n'
        '[[rules]]\nname = "check_in_points"\naction = "check_in"\nfixed = 5\n',
    )
    own_rules = plan_text(budget=10, core=1000)
    named = 'program = "shop.toml"\n' + own_rules[: own_rules.index("[rules.purchase]")]
    named += own_rules[own_rules.index("[completion_rates]") :]
    plan = write("plan.toml", named)
    window = ("--since", "2026-01-01", "--until", "2026-02-01", "--json")
    run = gamify_cli("report", "--store", url, "--plan", plan, *window)
    assert run.exit_code == 0, run.stderr
    data = run.json()
    assert data["window"]["timezone"] == "Asia/Shanghai"
    assert data["window"]["start"] == "2025-12-31T16:00:00+00:00"
    assert data["flow"]["issued"] == 1000
    utc = gamify_cli("report", "--store", url, "--plan", plan, "--timezone", "UTC", *window)
    assert utc.exit_code == 0, utc.stderr
    assert (utc.json()["window"]["timezone"], utc.json()["flow"]["issued"]) == ("UTC", 0)


# --------------------------------------------------------------------------- opening the store


def test_report_refuses_a_missing_sqlite_file_and_creates_none(gamify_cli, tmp_path: Path):
    """A mistyped SQLite path is an error, not an empty database and a report of zeros."""
    missing = tmp_path / "typo.db"
    for url in (f"sqlite:///{missing}", f"sqlite:///file:{missing}?mode=rwc&uri=true"):
        run = gamify_cli("report", "--timezone", "UTC", "--store", url)
        assert run.exit_code == 2
        assert f"no database file at {missing}" in run.stderr
        assert not missing.exists()
    run = gamify_cli(
        "report", "--timezone", "UTC", "--store", f"sqlite:///{tmp_path / 'no-folder' / 'x.db'}"
    )
    assert run.exit_code == 2
    assert "the folder" in run.stderr and "does not exist" in run.stderr


def test_report_refuses_a_database_without_gamify_tables(gamify_cli, tmp_path: Path):
    """A database that is not a gamify store (or another prefix) is named with the prefix."""
    other = tmp_path / "app.db"
    sqlite3.connect(other).execute("CREATE TABLE users (id INTEGER)").connection.commit()
    run = gamify_cli("report", "--timezone", "UTC", "--store", f"sqlite:///{other}")
    assert run.exit_code == 2
    assert "app.db: no gamify tables with the prefix 'gamify_'" in run.stderr
    assert sorted(r[0] for r in sqlite3.connect(other).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
    )) == ["users"]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--store", "sqlite://"], "a new in-memory SQLite database holds nothing to report"),
        (["--store", "memory://", "--prefix", "app_"], "--prefix applies to SQL stores only"),
    ],
)
def test_report_store_options_that_cannot_work(gamify_cli, args, message):
    run = gamify_cli("report", "--timezone", "UTC", *args)
    assert run.exit_code == 2
    assert message in run.stderr


def test_report_reads_a_store_with_the_apps_prefix(gamify_cli, tmp_path: Path):
    """--prefix reads the tables an app created under its own prefix."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    store = open_store(url, prefix="shop_gamify_")
    engine = Engine(PROGRAM, store=store, clock=ManualClock(datetime(2026, 1, 10, tzinfo=UTC)))
    engine.track("a", "purchase", amount=120)
    store.close()
    assert gamify_cli("report", "--timezone", "UTC", "--store", url).exit_code == 2
    run = gamify_cli(
        "report", "--timezone", "UTC", "--store", url, "--prefix", "shop_gamify_", "--json"
    )
    assert run.exit_code == 0, run.stderr
    assert run.json()["flow"]["issued"] == 120


def test_a_plan_that_predicts_nothing_is_named_in_the_report_error(gamify_cli, write, store_url):
    """A plan that predicts no points gives no ratio: exit code 2, naming the plan file."""
    path = write("plan.toml", plan_text(budget=10, core=0))
    run = gamify_cli("report", "--timezone", "UTC", "--store", store_url(shop([])), "--plan", path)
    assert run.exit_code == 2
    assert f"{path}: segments: the plan predicts no points" in run.stderr


def test_a_window_that_ended_in_the_past_counts_only_what_it_held():
    """Until 1 February: b, who joined in June, is not a member of January, and the
    outstanding balance is the one at the window's end (before a's March redemption)."""
    store = shop(
        [("a", "purchase", 1000, JAN), ("b", "purchase", 500, date(2026, 6, 1))],
        redeem=[("a", 400, date(2026, 3, 1))],
    )
    result = build_report(store, now=NOW, since=date(2026, 1, 1), until=date(2026, 2, 1))
    assert result.members == 1
    assert (result.flow.issued, result.flow.spent) == (1000, 0)
    assert result.flow.outstanding == 1000
    later = build_report(store, now=NOW, since=date(2026, 1, 1), until=date(2026, 7, 1))
    assert later.members == 2
    assert later.flow.outstanding == 1000 - 400 + 500


def test_a_window_ending_before_the_first_member_is_refused(gamify_cli, store_url):
    url = store_url(shop([("a", "purchase", 1000, JAN)]))
    run = gamify_cli("report", "--timezone", "UTC", "--store", url, "--until", "2025-06-01")
    assert run.exit_code == 2
    assert "nothing to report: no member was registered before 2025-06-01" in run.stderr


def test_a_currency_the_store_or_program_lacks_is_refused(gamify_cli, store_url, write):
    url = store_url(shop([("a", "purchase", 1000, JAN)]))
    run = gamify_cli("report", "--timezone", "UTC", "--store", url, "--currency", "pointz")
    assert run.exit_code == 2
    assert "the store holds no 'pointz' entries (it holds points)" in run.stderr
    program = write("shop.toml", 'timezone = "UTC"\n')
    run = gamify_cli("report", "--store", url, "--program", program, "--currency", "pointz")
    assert run.exit_code == 2
    assert "is not a currency of the program" in run.stderr


def test_manual_adjustments_are_reported_apart_from_issued(gamify_cli, store_url):
    """A goodwill credit and a correction show as one signed figure, outside "issued"."""
    store = shop([("a", "purchase", 100, JAN)])
    engine = Engine(PROGRAM, store=store, clock=ManualClock(datetime(2026, 1, 11, tzinfo=UTC)))
    engine.adjust("a", 40, reason="goodwill")
    engine.adjust("a", -15, reason="order credited twice")
    url = store_url(store)
    data = gamify_cli("report", "--timezone", "UTC", "--store", url, "--json").json()
    assert (data["flow"]["issued"], data["flow"]["adjusted"]) == (100, 25)
    assert data["flow"]["outstanding"] == 125
    run = gamify_cli("report", "--timezone", "UTC", "--store", url)
    assert run.exit_code == 0, run.stderr
    assert "adjusted by hand +25; outstanding balances 125" in " ".join(run.stdout.split())
    plain_url = store_url(shop([("a", "purchase", 100, JAN)]))
    plain = gamify_cli("report", "--timezone", "UTC", "--store", plain_url)
    assert "adjusted" not in plain.stdout


def test_points_from_an_adjustment_count_as_held_and_in_the_burn_rate():
    """A member whose only points are goodwill, spent in part, is a holder who spent; the
    burn rate weighs them (400 of 100 + 500 put in circulation)."""
    store = shop([("a", "purchase", 100, JAN)])
    clock = ManualClock(datetime(2026, 1, 11, tzinfo=UTC))
    engine = Engine(PROGRAM, store=store, clock=clock)
    engine.set_member("b")
    engine.adjust("b", 500, reason="goodwill")
    engine.redeem("b", 400)
    spending = build_report(store, now=NOW, since=date(2026, 1, 1)).spending
    assert (spending.holders, spending.spenders) == (2, 1)
    assert (spending.issued, spending.spent) == (600, 400)
    assert spending.burn_rate == Decimal(400) / Decimal(600)


def test_a_member_whose_spent_points_were_reversed_still_held_them():
    """b earns 500, spends them, then the purchase is reversed (500 of debt): b's net issued
    is 0, yet b held points in the window and spent them."""
    store = open_store("memory://")
    clock = ManualClock(datetime(2026, 1, 10, 12, tzinfo=UTC))
    engine = Engine(PROGRAM, store=store, clock=clock)
    engine.track("a", "purchase", amount=1000)
    engine.track("b", "purchase", amount=500, key="order")
    clock.set(datetime(2026, 1, 11, 12, tzinfo=UTC))
    engine.redeem("b", 500)
    engine.reverse("b", "order")
    spending = build_report(store, now=NOW, **YEAR).spending
    assert (spending.issued, spending.spent) == (1000, 500)
    assert (spending.holders, spending.spenders) == (2, 1)


def test_an_action_planned_at_zero_that_issues_is_flagged():
    """A plan of 0 check-ins gives no deviation to judge, so the points it issued anyway
    raise their own warning; an action the plan predicts and that issues nothing does not."""
    events = [("a", "purchase", 1000, JAN)] + [("a", "check_in", None, JAN)] * 3
    result = build_report(shop(events), now=NOW, plan=plan_of(budget=20, core=1000), **YEAR)
    check_in = {a.action: a for a in result.actions}["check_in"]
    assert (check_in.issued, check_in.predicted, check_in.deviation) == (15, 0, None)
    alerts = [a for a in result.alerts if a.scope == "action:check_in"]
    assert [(a.level, a.code) for a in alerts] == [("warning", "action_planned_zero")]
    assert "issued 15 points but the plan predicts none" in alerts[0].message
    quiet = build_report(
        shop([("a", "purchase", 1000, JAN)]), now=NOW, plan=plan_of(budget=20, core=1000), **YEAR
    )
    assert not [a for a in quiet.alerts if a.scope.startswith("action:")]


# --------------------------------------------------------------------------- thresholds and edges


def spending_report(*, before: int = 0, earned: int, spent: int) -> Report:
    """a earns ``before`` in January, ``earned`` on 10 March and spends ``spent`` on 20 March;
    the window starts on 1 March, so only the last two are in it."""
    events = [("a", "purchase", earned, date(2026, 3, 10))]
    if before:
        events.append(("a", "purchase", before, JAN))
    store = shop(events, redeem=[("a", spent, date(2026, 3, 20))])
    return build_report(store, now=NOW, since=date(2026, 3, 1), until=date(2027, 1, 1))


@pytest.mark.parametrize(
    ("spent", "message"),
    [
        (290, "burn rate 29.0 % is below 30.0 %"),
        (300, None),
        (500, None),
        (510, "burn rate 51.0 % is above 50.0 %"),
    ],
)
def test_burn_rate_from_30_to_50_percent_is_healthy(spent: int, message: str | None) -> None:
    """Of 1,000 issued points: 300 and 500 spent are the healthy range's ends; 290 and 510
    fall outside it."""
    alerts = spending_report(earned=1000, spent=spent).alerts
    burn = [a.message for a in alerts if a.code.startswith("burn_rate")]
    assert len(burn) == (message is not None)
    if message is not None:
        assert burn[0].startswith(message)


@pytest.mark.parametrize(
    ("before", "earned", "spent", "message"),
    [
        (0, 1200, 1000, None),  # 1.2: the steady range's top
        (0, 1250, 1000, "earn/burn ratio 1.25 is outside 0.8-1.2: the stock of unspent points "
         "is growing"),
        (1000, 800, 1000, None),  # 0.8, spending points held before the window
        (1000, 750, 1000, "earn/burn ratio 0.75 is outside 0.8-1.2: the stock of unspent "
         "points is shrinking"),
    ],
)  # fmt: skip
def test_earn_burn_from_0_8_to_1_2_is_a_steady_stock(
    before: int, earned: int, spent: int, message: str | None
) -> None:
    """Issued / spent in the window: 1,200 / 1,000 and 800 / 1,000 are the ends of the steady
    range; more issued than spent grows the stock, less shrinks it."""
    report = spending_report(before=before, earned=earned, spent=spent)
    assert report.spending.earn_burn == D(earned) / D(spent)
    found = [(a.level, a.message) for a in report.alerts if a.code == "earn_burn"]
    assert found == ([] if message is None else [("info", message)])


def test_half_of_the_holders_spending_is_healthy() -> None:
    """1 of 2 holders spent: 50 % is healthy; 1 of 3 is not, and the alert says so."""
    half = shop(
        [("a", "purchase", 1000, JAN), ("b", "purchase", 1000, JAN)],
        redeem=[("a", 400, date(2026, 2, 1))],
    )
    result = build_report(half, now=NOW, **YEAR)
    assert result.spending.spender_share == D("0.5")
    assert "spender_share_low" not in {a.code for a in result.alerts}
    third = shop(
        [("a", "purchase", 1000, JAN), ("b", "purchase", 1000, JAN), ("c", "purchase", 1, JAN)],
        redeem=[("a", 400, date(2026, 2, 1))],
    )
    alerts = build_report(third, now=NOW, **YEAR).alerts
    (low,) = [a.message for a in alerts if a.code == "spender_share_low"]
    assert low.startswith("only 33.3 % of point holders spent points (healthy from 50.0 %)")


def expired_share(spent: int) -> Report:
    """a earns 100 in January (due at the end of the month) and spends ``spent`` of it;
    the rest expires on 1 February."""
    program = Program.from_dict(
        {**PROGRAM.model_dump(mode="json"), "expiry": {"policy": "months_end", "months": 0}}
    )
    store = open_store("memory://")
    clock = ManualClock(datetime(2026, 1, 10, tzinfo=UTC))
    engine = Engine(program, store=store, clock=clock)
    engine.track("a", "purchase", amount=100)
    engine.redeem("a", spent)
    clock.set(datetime(2026, 2, 10, tzinfo=UTC))
    engine.run_due()
    return build_report(store, now=NOW, **YEAR)


def test_an_expiry_rate_of_40_percent_is_no_alarm() -> None:
    """60 of 100 spent, 40 expired: 40 % is the alarm's edge; 41 expired is above it."""
    edge = expired_share(60)
    assert edge.spending.expiry_rate == D("0.4")
    assert "expiry_rate_high" not in {a.code for a in edge.alerts}
    above = expired_share(59)
    assert above.spending.expiry_rate == D("0.41")
    (alarm,) = [a.message for a in above.alerts if a.code == "expiry_rate_high"]
    assert alarm.startswith("expiry rate 41.0 % is above 40.0 %")


@pytest.mark.parametrize(("amount", "alerted"), [(1100, False), (1101, True)])
def test_an_action_10_percent_off_its_prediction_is_within(amount: int, alerted: bool) -> None:
    """Predicted 1,000 purchase points: 1,100 issued is 10 % over, still within; 1,101 is not."""
    result = build_report(
        shop([("a", "purchase", amount, JAN)]), now=NOW, plan=plan_of(budget=20, core=1000), **YEAR
    )
    codes = {a.code for a in result.alerts if a.scope == "action:purchase"}
    assert codes == ({"action_over_issued"} if alerted else set())


def test_without_a_plan_no_action_is_judged() -> None:
    """With nothing predicted there is no deviation and no action 'not in the plan'."""
    result = build_report(shop([("a", "purchase", 1000, JAN)]), now=NOW, **YEAR)
    assert [(a.action, a.issued, a.predicted) for a in result.actions] == [("purchase", 1000, None)]
    assert not [a for a in result.alerts if a.scope.startswith("action:")]


def test_a_core_range_holds_its_low_end_and_not_its_high_end() -> None:
    """[low, high): 10,500 belongs to the segment above the midpoint, not to the one below."""
    ranges = core_ranges(parse_plan(tomllib.loads(TWO_SEGMENTS, parse_float=D)))
    assert ranges["low"].holds(D("10499.99")) and not ranges["low"].holds(D(10_500))
    assert ranges["high"].holds(D(10_500)) and not ranges["high"].holds(D("10499.99"))
    assert ranges["low"].holds(D(0))


def test_a_segment_given_by_its_total_core_amount_splits_at_its_per_member_amount() -> None:
    """high: 40,000 over 2 members is 20,000 each, so the split is still 10,500."""
    text = TWO_SEGMENTS.replace(
        "members = 2\ncore_amount_per_member = 20000", "members = 2\ntotal_core_amount = 40000"
    )
    ranges = core_ranges(parse_plan(tomllib.loads(text, parse_float=D)))
    assert (ranges["low"].high, ranges["high"].low) == (10_500, 10_500)


def test_a_gap_between_explicit_ranges_leaves_members_unassigned(write) -> None:
    """low ends at 5,000 and high starts at 16,000: a member at 10,000 fits neither."""
    text = TWO_SEGMENTS.replace('name = "low"\n', 'name = "low"\ncore_amount_max = 5000\n')
    text = text.replace('name = "high"\n', 'name = "high"\ncore_amount_min = 16000\n')
    plan, ranges = load_report_plan(write("plan.toml", text))
    assert (ranges["low"].low, ranges["low"].high) == (None, 5000)
    assert (ranges["high"].low, ranges["high"].high) == (16_000, None)
    assert ranges["low"].explicit and ranges["high"].explicit
    store = shop([("a", "purchase", 1000, JAN), ("b", "purchase", 10_000, JAN)])
    result = build_report(store, now=NOW, plan=plan, ranges=ranges, **YEAR)
    assert {s.name: s.members for s in result.segments} == {"low": 1, "high": 0}
    low = result.segments[0]
    assert (low.planned_members, low.actual_per_member) == (2, 1000)  # a's 1,000 over 1 found
    assert result.unassigned == 1
    (alert,) = [a for a in result.alerts if a.code == "unassigned_members"]
    assert alert.message == "1 member fits no segment's core-amount range"


def test_only_a_segment_that_states_a_bound_has_an_explicit_range() -> None:
    text = TWO_SEGMENTS.replace('name = "high"\n', 'name = "high"\ncore_amount_min = 16000\n')
    ranges = core_ranges(parse_plan(tomllib.loads(text, parse_float=D)))
    assert (ranges["low"].explicit, ranges["high"].explicit) == (False, True)


def test_a_partial_last_day_is_a_share_of_a_23_hour_day() -> None:
    """29 March 2026 in Paris has 23 hours (from 23:00 UTC the day before); 10:30 UTC is
    11.5 hours into it: half the day."""
    window = report_window(
        date(2026, 3, 29), datetime(2026, 3, 29, 10, 30, tzinfo=UTC), "Europe/Paris"
    )
    assert window.days == D("0.5")


def test_outstanding_points_include_those_earned_before_the_window() -> None:
    """a's 100 from January and b's 50 from June are both held at the window's end."""
    store = shop([("a", "purchase", 100, JAN), ("b", "purchase", 50, date(2026, 6, 1))])
    result = build_report(store, now=NOW, since=date(2026, 3, 1), until=date(2027, 1, 1))
    assert result.flow.issued == 50
    assert result.flow.outstanding == 150


def test_an_action_counts_net_of_reversals_and_its_members_by_what_they_kept() -> None:
    """a buys for 1,000; b for 300, which is taken back: purchase issued 1,000 + 300 - 300,
    by one member."""
    store = open_store("memory://")
    engine = Engine(PROGRAM, store=store, clock=ManualClock(datetime(2026, 1, 10, tzinfo=UTC)))
    engine.track("a", "purchase", amount=1000)
    engine.track("b", "purchase", amount=300, key="order")
    engine.reverse("b", "order")
    result = build_report(store, now=NOW, plan=plan_of(budget=20, core=1000), **YEAR)
    purchase = {a.action: a for a in result.actions}["purchase"]
    assert (purchase.issued, purchase.members) == (1000, 1)


def pending_program() -> Program:
    """PROGRAM with its purchase points pending for 14 days."""
    data = PROGRAM.model_dump(mode="json")
    data["rules"][0]["pending_days"] = 14
    return Program.from_dict(data)


def test_pending_points_count_for_their_action() -> None:
    """A purchase credited as pending is issued by its rule, in total and per action."""
    store = open_store("memory://")
    engine = Engine(
        pending_program(), store=store, clock=ManualClock(datetime(2026, 1, 10, tzinfo=UTC))
    )
    engine.track("a", "purchase", amount=100)
    result = build_report(store, now=NOW, plan=plan_of(budget=1, core=100), **YEAR)
    assert result.flow.issued == 100
    purchase = {a.action: a for a in result.actions}["purchase"]
    assert (purchase.issued, purchase.members) == (100, 1)


def test_points_pending_at_the_windows_start_are_held() -> None:
    """a's 100 points of 10 January are pending until the 24th; the window starts on the 20th
    and a spends 50 of them on 1 February: a held points and spent them."""
    store = open_store("memory://")
    clock = ManualClock(datetime(2026, 1, 10, 12, tzinfo=UTC))
    engine = Engine(pending_program(), store=store, clock=clock)
    engine.track("a", "purchase", amount=100)
    clock.set(datetime(2026, 2, 1, 12, tzinfo=UTC))
    engine.redeem("a", 50)
    spending = build_report(
        store, now=NOW, since=date(2026, 1, 20), until=date(2027, 1, 1)
    ).spending
    assert (spending.issued, spending.spent) == (0, 50)
    assert (spending.holders, spending.spenders) == (1, 1)
    assert spending.spender_share == 1


def test_calibrated_reports_read_core_amounts_with_the_calibrated_coefficient() -> None:
    """TWO_SEGMENTS predicts 42,000 points for a budget of 400: factor 100 / 105, coefficient
    0.9524. 10,200 purchase points are 10,200 of core amount at the plan's coefficient 1 (low,
    below 10,500) and 10,200 / 0.9524 = 10,709.8 at the calibrated one (high)."""
    plan = parse_plan(tomllib.loads(TWO_SEGMENTS, parse_float=D))
    store = shop([("m", "purchase", 10_200, JAN)])
    plain = build_report(store, now=NOW, plan=plan, **YEAR)
    assert {s.name: s.members for s in plain.segments} == {"low": 1, "high": 0}
    calibrated = build_report(store, now=NOW, plan=plan, calibrated=True, **YEAR)
    assert {s.name: s.members for s in calibrated.segments} == {"low": 0, "high": 1}


def test_a_segments_issuance_leaves_adjustments_out_and_its_spending_weighs_them() -> None:
    """As in the total: a's 100 rule points are issued; the 40 of goodwill are put in
    circulation too, so the burn rate of the segment is 70 of 140."""
    store = shop([("a", "purchase", 100, JAN)], redeem=[("a", 70, date(2026, 2, 1))])
    engine = Engine(PROGRAM, store=store, clock=ManualClock(datetime(2026, 2, 2, tzinfo=UTC)))
    engine.set_member("a", tags=["low"])
    engine.adjust("a", 40, reason="goodwill")
    plan = parse_plan(tomllib.loads(TWO_SEGMENTS, parse_float=D))
    low = build_report(store, now=NOW, plan=plan, **YEAR).segments[0]
    assert low.issuance.actual == 100
    assert (low.spending.issued, low.spending.spent) == (140, 70)
    assert low.spending.burn_rate == D("0.5")


def test_a_short_window_annualises_a_members_core_amount() -> None:
    """Over the 73 days of 1 January to 15 March, 3,000 of purchases are 15,000 a year:
    above the 10,500 split."""
    plan = parse_plan(tomllib.loads(TWO_SEGMENTS, parse_float=D))
    store = shop([("m", "purchase", 3000, JAN)])
    result = build_report(
        store, now=NOW, plan=plan, since=date(2026, 1, 1), until=date(2026, 3, 15)
    )
    assert result.window.days == 73
    assert {s.name: s.members for s in result.segments} == {"low": 0, "high": 1}


def test_a_members_window_is_half_open() -> None:
    """a earns 100 at the window's first instant, 20 inside it and 1,000 at its end: the
    member's segment counts 120, as the total does."""
    store = open_store("memory://")
    clock = ManualClock(datetime(2026, 1, 10, tzinfo=UTC))
    engine = Engine(PROGRAM, store=store, clock=clock)
    engine.set_member("a", tags=["low"])
    engine.track("a", "purchase", amount=100)
    clock.set(datetime(2026, 1, 20, 12, tzinfo=UTC))
    engine.track("a", "purchase", amount=20)
    clock.set(datetime(2026, 2, 1, tzinfo=UTC))
    engine.track("a", "purchase", amount=1000)
    plan = parse_plan(tomllib.loads(TWO_SEGMENTS, parse_float=D))
    result = build_report(
        store, now=NOW, plan=plan, since=date(2026, 1, 10), until=date(2026, 2, 1)
    )
    assert result.flow.issued == 120
    assert result.segments[0].issuance.actual == 120
    assert result.segments[0].spending.issued == 120


def test_a_reward_paid_on_a_purchase_is_no_core_amount() -> None:
    """A 10,000-point badge on the first purchase: a member who bought for 900 is still a
    900 a year member (low), though the segment issued 10,900 to them."""
    data = PROGRAM.model_dump(mode="json")
    data["badges"] = {
        "first": {
            "metric": "count",
            "action": "purchase",
            "threshold": 1,
            "reward": {"points": 10_000},
        }
    }
    store = open_store("memory://")
    engine = Engine(
        Program.from_dict(data), store=store, clock=ManualClock(datetime(2026, 1, 10, tzinfo=UTC))
    )
    engine.track("m", "purchase", amount=900)
    plan = parse_plan(tomllib.loads(TWO_SEGMENTS, parse_float=D))
    result = build_report(store, now=NOW, plan=plan, **YEAR)
    low = {s.name: s for s in result.segments}["low"]
    assert (low.members, low.issuance.actual) == (1, 10_900)


def test_refunded_points_are_not_spent() -> None:
    """a spends 400 of 1,000 and gets them back: 400 spent, 400 refunded, 0 net; a is not a
    member who spent."""
    store = open_store("memory://")
    engine = Engine(PROGRAM, store=store, clock=ManualClock(datetime(2026, 1, 10, tzinfo=UTC)))
    engine.track("a", "purchase", amount=1000)
    engine.refund(engine.redeem("a", 400))
    result = build_report(store, now=NOW, **YEAR)
    assert (result.flow.spent, result.flow.refunded, result.flow.net_spent) == (400, 400, 0)
    assert (result.spending.spent, result.spending.spenders) == (0, 0)
    assert result.spending.burn_rate == 0


def test_the_window_starts_on_the_first_members_local_day() -> None:
    """a registered on 1 January at 20:00 UTC, 04:00 on 2 January in Shanghai."""
    store = open_store("memory://")
    engine = Engine(PROGRAM, store=store, clock=ManualClock(datetime(2026, 1, 1, 20, tzinfo=UTC)))
    engine.track("a", "purchase", amount=10)
    result = build_report(store, now=NOW, timezone="Asia/Shanghai")
    assert result.window.since == date(2026, 1, 2)


def test_planned_members_count_only_the_segments_that_plan_the_action() -> None:
    """Only low (2 members) plans check-ins."""
    text = TWO_SEGMENTS.replace(
        'name = "low"\nmembers = 2\ncore_amount_per_member = 1000\ntarget_noncore_share = 0\n',
        'name = "low"\nmembers = 2\ncore_amount_per_member = 1000\ntarget_noncore_share = 0\n'
        "yearly_counts = { check_in = 10 }\n",
    )
    plan = parse_plan(tomllib.loads(text, parse_float=D))
    result = build_report(shop([("a", "check_in", None, JAN)]), now=NOW, plan=plan, **YEAR)
    check_in = {a.action: a for a in result.actions}["check_in"]
    assert (check_in.members, check_in.planned_members) == (1, 2)


def test_calibrated_rules_that_all_round_to_zero_predict_nothing_for_any_segment() -> None:
    """A target of 0.001 against a raw ratio of 100 gives a factor of 0.00001: the
    coefficient 0.00001 and 5 x 0.00001 both round to 0, so the calibrated plan predicts 0
    points and each segment's share of the maximum is 0."""
    text = plan_text(budget=10, core=1000).replace(
        "exchange_ratio_target = 100", "exchange_ratio_target = 0.001"
    )
    plan = parse_plan(tomllib.loads(text, parse_float=D))
    result = build_report(
        shop([("a", "purchase", 10, JAN)]), now=NOW, plan=plan, calibrated=True, **YEAR
    )
    assert result.issuance is not None
    assert (result.issuance.predicted, result.issuance.actual) == (0, 10)
    assert result.segments[0].issuance.maximum == 0


def test_a_window_must_last_at_least_a_day(gamify_cli):
    run = gamify_cli(
        "report", "--store", "memory://", "--since", "2026-02-01", "--until", "2026-02-01"
    )
    assert run.exit_code == 2
    assert "--until 2026-02-01 must be after --since 2026-02-01" in run.stderr


def test_a_window_may_start_today(gamify_cli, store_url):
    """Today is 1 February 2027 here: a report from today is empty, not refused."""
    url = store_url(shop([("a", "purchase", 10, JAN)]))
    run = gamify_cli("report", "--timezone", "UTC", "--store", url, "--since", "2027-02-01")
    assert run.exit_code == 0, run.stderr
    assert "to 2027-02-01 00:00 UTC (0.00 days)" in run.stdout


def test_the_timezone_option_wins_over_the_programs_zone(gamify_cli, write, store_url):
    program = write("p.toml", 'timezone = "Asia/Shanghai"\n[actions.purchase]\n')
    run = gamify_cli(
        "report", "--store", store_url(shop([("a", "purchase", 10, JAN)])),
        "--program", program, "--timezone", "Europe/Paris", "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert run.json()["window"]["timezone"] == "Europe/Paris"


def test_report_command_segment_ranges_unassigned_members_and_calibration(
    gamify_cli, write, store_url
):
    """The top segment's range is open ('from 16,000'); a member in the gap below it is
    counted as fitting no segment; --calibrated says so in the issuance title."""
    text = TWO_SEGMENTS.replace('name = "low"\n', 'name = "low"\ncore_amount_max = 5000\n')
    text = text.replace('name = "high"\n', 'name = "high"\ncore_amount_min = 16000\n')
    store = shop([("a", "purchase", 1000, JAN), ("b", "purchase", 10_000, JAN)])
    run = gamify_cli(
        "report", "--timezone", "UTC", "--store", store_url(store),
        "--plan", write("plan.toml", text), "--since", "2026-01-01", "--until", "2027-01-01",
        "--calibrated",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    out = " ".join(run.stdout.split())
    assert "Issuance against plan (prorated by 365.00 / 365 days, calibrated rules)" in out
    assert "│ low │ 0 to 5,000 │" in out
    assert "│ high │ from 16,000 │" in out
    assert "\n1 member fits no segment\n" in run.stdout  # under the table, beside the alert


def test_a_segment_is_judged_like_the_total(write) -> None:
    """The one segment issued 2,000 against a maximum of 1,000 and spent 100 of them (5 %):
    its own issuance and burn rate alerts, scoped to it."""
    store = shop([("a", "purchase", 2000, JAN)], redeem=[("a", 100, date(2026, 2, 1))])
    result = build_report(store, now=NOW, plan=plan_of(budget=10, core=1000), **YEAR)
    codes = {a.code for a in result.alerts if a.scope == "segment:all"}
    assert codes == {"issuance_max_below_actual", "burn_rate_low"}


def test_a_members_expired_points_count_in_their_segment() -> None:
    """a (tagged low) earns 100 in January, spends 60, and 40 expire on 1 February."""
    program = Program.from_dict(
        {**PROGRAM.model_dump(mode="json"), "expiry": {"policy": "months_end", "months": 0}}
    )
    store = open_store("memory://")
    clock = ManualClock(datetime(2026, 1, 10, tzinfo=UTC))
    engine = Engine(program, store=store, clock=clock)
    engine.set_member("a", tags=["low"])
    engine.track("a", "purchase", amount=100)
    engine.redeem("a", 60)
    clock.set(datetime(2026, 2, 10, tzinfo=UTC))
    engine.run_due()
    plan = parse_plan(tomllib.loads(TWO_SEGMENTS, parse_float=D))
    low = build_report(store, now=NOW, plan=plan, **YEAR).segments[0]
    assert (low.spending.expired, low.spending.expiry_rate) == (40, D("0.4"))


def test_a_late_event_before_the_window_ends_makes_its_member_count() -> None:
    """b is registered on 5 February (set_member), then reports a purchase dated 20 January:
    b is a member of a January window, with the points of that purchase."""
    store = shop([("a", "purchase", 100, JAN)])
    engine = Engine(PROGRAM, store=store, clock=ManualClock(datetime(2026, 2, 5, tzinfo=UTC)))
    engine.set_member("b", tags=["new"])
    engine.track("b", "purchase", amount=50, at=datetime(2026, 1, 20, tzinfo=UTC))
    assert store.get_member("b").created_at == datetime(2026, 2, 5, tzinfo=UTC)
    result = build_report(store, now=NOW, since=date(2026, 1, 1), until=date(2026, 2, 1))
    assert result.members == 2
    assert (result.spending.issued, result.spending.holders) == (150, 2)


def test_a_window_that_ends_before_it_starts_is_empty() -> None:
    window = report_window(date(2026, 3, 1), datetime(2026, 2, 1, tzinfo=UTC), "UTC")
    assert (window.end, window.days) == (window.start, 0)


def test_report_json_carries_the_store_net_spent_and_year_fraction(gamify_cli, store_url):
    """73 days are 0.2 of a year; 400 spent less 100 refunded is 300 net."""
    store = open_store("memory://")
    engine = Engine(PROGRAM, store=store, clock=ManualClock(datetime(2026, 1, 10, tzinfo=UTC)))
    engine.track("a", "purchase", amount=1000)
    engine.redeem("a", 300)
    engine.refund(engine.redeem("a", 100))
    run = gamify_cli(
        "report", "--timezone", "UTC", "--store", store_url(store), "--json",
        "--since", "2026-01-01", "--until", "2026-03-15",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    data = run.json()
    assert data["store"] == "memory://built"
    assert (data["flow"]["spent"], data["flow"]["refunded"], data["flow"]["net_spent"]) == (
        400,
        100,
        300,
    )
    assert (D(data["window"]["days"]), D(data["window"]["year_fraction"])) == (73, D("0.2"))


def test_alerts_round_halves_up_as_the_report_lines_do(gamify_cli, store_url) -> None:
    """201 of 400 spent is a burn rate of 50.25 %, shown 50.3 %; 2,005 issued over 1,000
    spent is an earn/burn ratio of 2.005, shown 2.01: the same in an alert as in the lines."""
    burn = spending_report(earned=400, spent=201)
    (high,) = [a.message for a in burn.alerts if a.code == "burn_rate_high"]
    assert high.startswith("burn rate 50.3 % is above 50.0 %")
    stock = spending_report(earned=2005, spent=1000)
    (earn_burn,) = [a.message for a in stock.alerts if a.code == "earn_burn"]
    assert earn_burn.startswith("earn/burn ratio 2.01 is outside 0.8-1.2")
    store = shop([("a", "purchase", 2005, JAN)], redeem=[("a", 1000, date(2026, 3, 1))])
    run = gamify_cli("report", "--timezone", "UTC", "--store", store_url(store))
    assert run.exit_code == 0, run.stderr
    out = " ".join(run.stdout.split())
    assert "earn/burn ratio (issued / spent): 2.01 (steady stock 0.8-1.2)" in out
    assert "i total: earn/burn ratio 2.01 is outside 0.8-1.2" in out


def test_an_empty_store_without_a_plan_has_nothing_to_judge(gamify_cli, store_url):
    run = gamify_cli("report", "--timezone", "UTC", "--store", store_url(shop([])))
    assert run.exit_code == 0, run.stderr
    assert "No plan given (--plan): issuance is not judged against a budget." in run.stdout
    assert run.stdout.rstrip().endswith("No alerts.")


@pytest.mark.parametrize("until", [date(2026, 3, 1), date(2026, 2, 1)])
def test_a_window_ending_before_it_starts_is_refused_by_name(until: date) -> None:
    """build_report with since on or after until says so, rather than that no member was
    registered before until."""
    store = shop([("a", "purchase", 100, JAN)])
    with pytest.raises(InvalidTimeError, match=r"since \(2026-03-01\) must come before until"):
        build_report(store, now=NOW, since=date(2026, 3, 1), until=until)


def test_one_member_reads_in_the_singular() -> None:
    assert (members_text(1), members_text(0), members_text(2345)) == (
        "1 member",
        "0 members",
        "2,345 members",
    )


@pytest.mark.parametrize(
    ("low_extra", "high_extra", "key", "message"),
    [
        # low reaches 16,000 while high starts at 12,000: a member of 14,000 fits both.
        (
            "core_amount_max = 16000\n",
            "core_amount_min = 12000\n",
            "segments[1].core_amount_min",
            "range of segment 'low' ([0, 16000)) overlaps that of segment 'high' ([12000, "
            "no limit))",
        ),
        # low starts at 12,000 but the midpoint 10,500 ends it: it could hold no one.
        (
            "core_amount_min = 12000\n",
            "",
            "segments[0].core_amount_min",
            "segment 'low' holds no core amount: its range [12000, 10500) is empty",
        ),
    ],
)
def test_contradicting_core_amount_bounds_are_refused_with_their_key(
    write, low_extra: str, high_extra: str, key: str, message: str
) -> None:
    """Ranges given by hand must leave each segment some amounts and no member in two."""
    text = TWO_SEGMENTS.replace('name = "low"\n', 'name = "low"\n' + low_extra).replace(
        'name = "high"\n', 'name = "high"\n' + high_extra
    )
    path = write("plan.toml", text)
    with pytest.raises(ProgramError) as caught:
        load_report_plan(path)
    assert caught.value.key_path == key
    assert caught.value.file == str(path)
    assert message in caught.value.reason


def test_a_gap_between_bounds_given_by_hand_is_allowed(write) -> None:
    """low ends at 5,000 and high starts at 16,000: members between fit no segment (the
    report says how many), which is no contradiction."""
    text = TWO_SEGMENTS.replace('name = "low"\n', 'name = "low"\ncore_amount_max = 5000\n')
    text = text.replace('name = "high"\n', 'name = "high"\ncore_amount_min = 16000\n')
    _, ranges = load_report_plan(write("plan.toml", text))
    assert (ranges["low"].high, ranges["high"].low) == (5000, 16000)
