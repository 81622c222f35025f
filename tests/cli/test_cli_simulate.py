"""``gamify simulate``: the real engine over a population, deterministic for a seed."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from gamify import GamifyError
from gamify.cli._simulate import result_to_dict
from gamify.errors import SimulationError
from gamify.program import Program
from gamify.simulation import (
    MEMBERS_PER_WORKER,
    Behaviour,
    default_workers,
    load_program,
    parse_behaviour,
    simulate,
)

# Every workout pays 10 + min(2 x streak, 50) points and XP; level n needs 100 x (n - 1) XP.
PROGRAM = """
name = "gym"
timezone = "UTC"

[actions.workout]
amount = "optional"

[actions.shop]
amount = "required"

[[rules]]
name = "workout_points"
action = "workout"
formula = "10 + min(2 * streak, 50)"

[[rules]]
name = "workout_xp"
action = "workout"
currency = "xp"
formula = "10 + min(2 * streak, 50)"

[[rules]]
name = "shop_points"
action = "shop"
per_amount = 1

[levels]
curve = "linear"
params = { step = 100 }
max_level = 50

[streaks.daily]
actions = ["workout"]

[badges.first_workout]
metric = "count"
action = "workout"
threshold = 1

[badges.streak_7]
metric = "streak"
streak = "daily"
threshold = 7
"""

EVERY_DAY = """
[simulation]
start = 2026-03-02
snapshot_days = 5

[[simulation.segments]]
name = "athletes"
share = 1
[simulation.segments.actions.workout]
probability = 1
amount = 30
"""


def test_every_day_member_matches_hand_arithmetic(gamify_cli, write):
    """One member working out every day for 10 days earns sum(10 + 2k, k=1..10) = 210 XP.

    210 XP on the linear curve (100 a level) is level 3; the member unlocks
    first_workout and streak_7, and the 10 workouts earn 210 points by rule.
    """
    path = write("gym.toml", PROGRAM + EVERY_DAY)
    run = gamify_cli("simulate", path, "--members", "1", "--days", "10", "--json")
    assert run.exit_code == 0, run.stderr
    data = run.json()
    assert data["events"] == 10
    assert data["start"] == "2026-03-02" and data["end"] == "2026-03-12"
    flows = {f["currency"]: f for f in data["currencies"]}
    assert flows["xp"]["issued"] == 210
    assert flows["points"]["earned"] == 210
    assert data["issued_by_action"]["xp"] == {"workout": 210}
    assert [s["day"] for s in data["snapshots"]] == [5, 10]
    # after 5 days: 12 + 14 + 16 + 18 + 20 = 80 XP, still level 1
    assert data["snapshots"][0]["levels"] == {"1": 1}
    assert data["snapshots"][1]["levels"] == {"3": 1}
    badges = {b["badge"]: b for b in data["badges"]}
    assert badges["first_workout"]["members"] == 1 and badges["first_workout"]["rate"] == "1"
    assert badges["streak_7"]["awards"] == 1


def test_same_seed_same_json_different_seed_differs(gamify_cli, write):
    """Results depend only on the seed: the same seed twice gives identical JSON."""
    path = write("gym.toml", PROGRAM)
    args = ("simulate", path, "--members", "25", "--days", "21", "--json")
    first = gamify_cli(*args, "--seed", "7")
    again = gamify_cli(*args, "--seed", "7")
    other = gamify_cli(*args, "--seed", "8")
    assert first.exit_code == again.exit_code == other.exit_code == 0
    assert first.stdout == again.stdout
    assert first.json() != other.json()


def test_default_behaviour_is_every_action_at_0_3_a_day(write):
    """Without behaviour each action happens with probability 0.3 a day, amounts 1 to 100."""
    program, behaviour = load_program(write("gym.toml", PROGRAM))
    assert behaviour is None
    result = simulate(program, members=200, days=30, seed=1)
    expected = 200 * 30 * 2 * 0.3  # members x days x actions x probability = 3,600
    assert abs(result.events - expected) < 4 * (expected * 0.7) ** 0.5  # within 4 sigma
    shop = result.issued_by_action["points"]["shop"]
    assert 0 < shop <= result.events * 100  # every amount lies in [1, 100]
    assert [s.name for s in result.segments] == ["everyone"]


def test_segments_shares_tags_and_redemptions(write):
    """Segment sizes follow the shares; tags are set; redemptions spend points."""
    text = (
        PROGRAM
        + """
[[simulation.segments]]
name = "keen"
share = 0.25
tags = ["keen"]
redeem = { probability = 1, share = 0.5 }
[simulation.segments.actions.shop]
probability = 1
amount = { distribution = "fixed", value = 40 }

[[simulation.segments]]
name = "idle"
share = 0.75
actions = {}
"""
    )
    program, behaviour = load_program(write("gym.toml", text))
    assert behaviour is not None
    result = simulate(program, members=8, days=3, seed=3, behaviour=behaviour)
    assert [(s.name, s.members) for s in result.segments] == [("keen", 2), ("idle", 6)]
    assert result.events == 2 * 3  # the keen ones shop every day; the idle do nothing
    points = {f.currency: f for f in result.currencies}["points"]
    assert points.issued == 2 * 3 * 40
    assert result.redemptions > 0
    assert points.spent > 0
    assert points.outstanding == points.issued - points.spent + points.refunded - points.expired


def test_amount_distributions_are_sampled_within_bounds(write):
    """Uniform, normal and lognormal amounts respect min/max clipping and decimals."""
    program = Program.from_dict(
        {
            "timezone": "UTC",
            "actions": {"shop": {"amount": "required"}},
            "rules": [{"name": "p", "action": "shop", "per_amount": 1}],
        }
    )
    for spec in (
        {"distribution": "uniform", "low": 5, "high": 6},
        {"distribution": "normal", "mean": 50, "sd": 500, "min": 1, "max": 60},
        {"distribution": "lognormal", "mu": 1, "sigma": 0.1, "decimals": 0},
    ):
        behaviour = parse_behaviour(
            {
                "segments": [
                    {
                        "name": "s",
                        "share": 1,
                        "actions": {"shop": {"probability": 1, "amount": spec}},
                    }
                ]
            },
            program,
        )
        result = simulate(program, members=20, days=2, seed=5, behaviour=behaviour)
        issued = {f.currency: f for f in result.currencies}["points"].issued
        low = {"uniform": 5, "normal": 1, "lognormal": 2}[spec["distribution"]]
        high = {"uniform": 6, "normal": 60, "lognormal": 3}[spec["distribution"]]
        assert 40 * low <= issued <= 40 * high, spec


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ({"distribution": "lognormal", "mu": 1000, "sigma": 1}, "'mu' is the mean of the"),
        ({"distribution": "lognormal", "mu": 4, "sigma": 50}, "'sigma' must be at most 10"),
    ],
)
def test_lognormal_parameters_that_would_overflow_are_refused_when_read(amount, reason):
    """A designer may take mu for the mean amount: mu = 1000 would overflow every draw."""
    program = Program.from_dict(
        {
            "timezone": "UTC",
            "actions": {"shop": {"amount": "required"}},
            "rules": [{"name": "p", "action": "shop", "per_amount": 1}],
        }
    )
    data = {"segments": [{"name": "s", "share": 1, "actions": {"shop": {"amount": amount}}}]}
    with pytest.raises(GamifyError) as info:
        parse_behaviour(data, program)
    assert reason in str(info.value)
    assert "segments[0].actions.shop.amount" in str(info.value)


def test_expiry_runs_daily(write):
    """Points expiring at the end of their month are expired by the daily run_due."""
    text = PROGRAM.replace(
        'name = "gym"', 'name = "gym"\nexpiry = { policy = "months_end", months = 0 }'
    )
    text += """
[simulation]
start = 2026-01-25
[[simulation.segments]]
name = "all"
share = 1
[simulation.segments.actions.shop]
probability = 1
amount = 10
"""
    program, behaviour = load_program(write("gym.toml", text))
    result = simulate(program, members=3, days=10, seed=0, behaviour=behaviour)
    points = {f.currency: f for f in result.currencies}["points"]
    # 7 January days x 3 members x 10 points expire at 2026-02-01 00:00
    assert points.expired == 7 * 3 * 10
    assert points.outstanding == 3 * 3 * 10


def test_behaviour_file_overrides_the_program_table(gamify_cli, write):
    """--behaviour reads segments at the top level of another file."""
    program = write("gym.toml", PROGRAM + EVERY_DAY)
    behaviour = write(
        "b.toml",
        'start = 2026-03-02\n[[segments]]\nname = "lazy"\nshare = 1\nactions = {}\n',
    )
    run = gamify_cli(
        "simulate", program, "--members", "3", "--days", "4", "--behaviour", behaviour, "--json"
    )
    assert run.exit_code == 0, run.stderr
    assert run.json()["events"] == 0


def test_human_output_has_tables(gamify_cli, write):
    """Without --json: points, levels over time and badge unlock tables."""
    run = gamify_cli("simulate", write("gym.toml", PROGRAM + EVERY_DAY), "-n", "2", "-d", "10")
    assert run.exit_code == 0, run.stderr
    for title in (
        "Currencies",
        "Levels over time",
        "Level distribution on day 10",
        "Badge unlocks",
    ):
        assert title in run.stdout


def test_human_output_names_the_first_and_the_last_simulated_day(gamify_cli, write):
    """Ten days from 2 March run to 11 March, the day of the last snapshot."""
    run = gamify_cli("simulate", write("gym.toml", PROGRAM + EVERY_DAY), "-n", "2", "-d", "10")
    assert "over 10 days (2026-03-02 to 2026-03-11, seed" in run.stdout
    assert "│  10 │ 2026-03-11 │" in run.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '[[simulation.segments]]\nname = "a"\nshare = 0.5\n',
            "simulation: segment shares must add up to 1",
        ),
        (
            '[[simulation.segments]]\nname = "a"\nshare = 1\n[simulation.segments.actions.swim]\n',
            "simulation.segments[0].actions.swim: unknown action 'swim'",
        ),
        (
            '[[simulation.segments]]\nname = "a"\nshare = 1\n'
            '[simulation.segments.actions.shop]\namount = { distribution = "normal", mean = 3 }\n',
            "a normal amount needs 'sd'",
        ),
        ("[simulation]\nsnapshot_days = 0\n", "simulation.snapshot_days"),
    ],
)
def test_bad_behaviour_exits_2(gamify_cli, write, extra, message):
    """Bad behaviour is refused with its key path, exit code 2."""
    run = gamify_cli("simulate", write("gym.toml", PROGRAM + extra), "-n", "2", "-d", "2")
    assert run.exit_code == 2
    assert message in run.stderr


def test_bad_counts_and_files_exit_2(gamify_cli, write, tmp_path):
    """Zero members, a missing program or behaviour file: exit code 2."""
    path = write("gym.toml", PROGRAM)
    assert gamify_cli("simulate", path, "--members", "0", "--days", "2").exit_code == 2
    assert gamify_cli("simulate", tmp_path / "no.toml", "-n", "1", "-d", "1").exit_code == 2
    run = gamify_cli("simulate", path, "-n", "1", "-d", "1", "--behaviour", tmp_path / "no.toml")
    assert run.exit_code == 2
    assert "no.toml" in run.stderr


def test_behaviour_shares_split_by_largest_remainder():
    """Members per segment: floors of share x N, the remainder to the largest fractions."""
    program = Program.from_dict({"timezone": "UTC", "actions": {"a": {}}})
    behaviour = parse_behaviour(
        {
            "segments": [
                {"name": "x", "share": Decimal("0.5")},
                {"name": "y", "share": Decimal("0.3")},
                {"name": "z", "share": Decimal("0.2")},
            ]
        },
        program,
    )
    assert isinstance(behaviour, Behaviour)
    result = simulate(program, members=7, days=1, seed=0, behaviour=behaviour)
    # exact 3.5, 2.1, 1.4 -> floors 3, 2, 1 (6); the one left goes to x (.5 is largest)
    assert [s.members for s in result.segments] == [4, 2, 1]


def test_simulating_into_a_used_store_is_refused(write):
    """The simulated ledger goes into an empty store only (a URL or a store object)."""
    from gamify import ConfigurationError, open_store

    program, _ = load_program(write("gym.toml", PROGRAM))
    store = open_store("memory://")
    result = simulate(program, members=2, days=2, seed=0, store=store)
    assert sorted(store.member_ids()) == ["m1", "m2"]
    assert result.members == 2
    with pytest.raises(ConfigurationError, match="already holds members"):
        simulate(program, members=2, days=2, seed=0, store=store)


BEAUTY = Path(__file__).resolve().parents[2] / "examples" / "beauty_store" / "program.toml"

MIXED = {
    "start": "2026-12-20",
    "snapshot_days": 4,
    "segments": [
        {
            "name": "regulars",
            "share": "0.6",
            "tags": ["regular"],
            "timezone": "Asia/Shanghai",
            "redeem": {"probability": "0.2", "share": "0.5", "min_points": 100},
        },
        {"name": "drifters", "share": "0.4"},
    ],
}


def test_workers_split_members_and_give_the_same_result():
    """Members are split over processes; the summed result equals the one-process run.

    The beauty store has tiers, expiry and a birthday multiplier; the mixed
    behaviour adds redemptions, tags and a zone ahead of UTC, over a year end.
    """
    program, _ = load_program(BEAUTY)
    behaviour = parse_behaviour(MIXED, program)
    alone = simulate(program, members=31, days=15, seed=11, behaviour=behaviour)
    days_seen: list[int] = []
    split = simulate(
        program,
        members=31,
        days=15,
        seed=11,
        behaviour=behaviour,
        workers=3,
        progress=lambda done, total: days_seen.append(done),
    )
    assert alone.events > 0 and alone.redemptions > 0
    assert result_to_dict(split) == result_to_dict(alone)
    assert days_seen == sorted(set(days_seen)) and days_seen[-1] == 15


def test_a_workers_error_reaches_the_caller(write):
    """An error inside a worker is raised by simulate, with its type and message."""
    text = PROGRAM + '\n[badges.lucky]\nmetric = "custom"\npredicate = "lucky"\n'
    program, _ = load_program(write("gym.toml", text))
    with pytest.raises(GamifyError) as alone:
        simulate(program, members=4, days=2, seed=0)
    with pytest.raises(type(alone.value), match="lucky"):
        simulate(program, members=4, days=2, seed=0, workers=2)


def test_bad_worker_counts_are_refused(write):
    """Zero workers, or several with a store other than memory://, raise ValueError."""
    program, _ = load_program(write("gym.toml", PROGRAM))
    with pytest.raises(ValueError, match="workers must be at least 1"):
        simulate(program, members=2, days=1, workers=0)
    with pytest.raises(ValueError, match="simulate into a store with workers=1"):
        simulate(program, members=2, days=1, workers=2, store="sqlite://")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"members": 0}, "members must be at least 1, not 0"),
        ({"days": 0}, "days must be at least 1, not 0"),
        ({"members": "3"}, "members must be a whole number, not '3'"),
        ({"days": 1.5}, "days must be a whole number, not 1.5"),
        ({"members": True}, "members must be a whole number, not True"),
        ({"seed": None}, "seed must be a whole number"),
        ({"behaviour": {"segments": []}}, "behaviour must be a Behaviour"),
        ({"progress": 5}, "progress must be callable"),
        ({"program": "gym.toml"}, "program must be a gamify.Program"),
    ],
)
def test_bad_simulation_arguments_are_simulation_errors(write, arguments, message):
    """A GamifyError that is also a ValueError, raised before anything runs."""
    program, _ = load_program(write("gym.toml", PROGRAM))
    call = {"program": program, "members": 2, "days": 1, **arguments}
    with pytest.raises(SimulationError, match=re.escape(message)) as info:
        simulate(**call)
    assert isinstance(info.value, GamifyError) and isinstance(info.value, ValueError)


def test_default_workers_keep_a_thousand_members_each(monkeypatch):
    """One process per CPU, none with fewer than MEMBERS_PER_WORKER members."""
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert default_workers(1) == 1
    assert default_workers(MEMBERS_PER_WORKER * 2 - 1) == 1
    assert default_workers(MEMBERS_PER_WORKER * 2) == 2
    assert default_workers(10_000) == 4


def test_cli_workers_flag(gamify_cli, write, tmp_path):
    """--workers gives the same JSON as one process; with --store it must be 1 (exit 2)."""
    path = write("gym.toml", PROGRAM)
    args = ("simulate", path, "--members", "9", "--days", "6", "--seed", "2", "--json")
    one = gamify_cli(*args, "--workers", "1")
    two = gamify_cli(*args, "--workers", "2")
    assert one.exit_code == two.exit_code == 0, two.stderr
    assert one.json() == two.json()
    bad = gamify_cli(*args, "--workers", "2", "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert bad.exit_code == 2
    assert "--workers 1 with --store" in bad.stderr


WORKER_SCRIPT = """
import os, sys
from gamify import simulation
from gamify.simulation import Behaviour, _Shard, load_program

class Results:
    def put(self, message):
        print(message[0], flush=True)

program, _ = load_program(sys.argv[1])
parent = os.getppid() if sys.argv[2] == "alive" else -1
simulation._worker(
    program.model_dump(mode="json"), Behaviour().model_dump(mode="json"),
    _Shard(["m1", "m2"], [1, 2], [0, 0]), 3, 0, Results(), parent,
)
"""


@pytest.mark.parametrize(
    ("parent", "code", "lines"), [("alive", 0, "day day day done"), ("gone", 1, "")]
)
def test_a_worker_whose_parent_has_ended_stops_at_the_end_of_a_day(
    tmp_path: Path, parent: str, code: int, lines: str
) -> None:
    """A worker reports each day and its result while its parent lives; once the parent is
    gone (here: a parent id that is not its parent's), it exits after the first day with code
    1 and sends nothing, so a killed `gamify simulate` leaves no worker behind."""
    import subprocess
    import sys

    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT, encoding="utf-8")
    fitness = Path(__file__).resolve().parents[2] / "examples" / "fitness" / "program.toml"
    run = subprocess.run(
        [sys.executable, str(script), str(fitness), parent],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == code, run.stderr
    assert " ".join(run.stdout.split()) == lines


def test_equal_shares_give_the_extra_member_to_the_earlier_segment():
    """Members per segment by largest remainder, ties to the earlier segment: 3 members
    over two halves are 2 and 1."""
    from gamify.simulation import SegmentBehaviour, _sizes

    halves = [SegmentBehaviour(name=n, share=Decimal("0.5")) for n in ("first", "second")]
    assert _sizes(halves, 3) == [2, 1]
    assert _sizes(halves, 4) == [2, 2]


def test_level_median_and_90th_percentile_of_an_even_count():
    """One member on each of levels 1 to 10: the median is level 5, the 90th percentile 9;
    two members on levels 1 and 2: the median is 1."""
    from gamify.cli._simulate import level_stats

    stats = level_stats({str(level): 1 for level in range(1, 11)})
    assert (stats["median"], stats["p90"]) == (5, 9)
    assert level_stats({"1": 1, "2": 1})["median"] == 1


def test_a_uniform_amount_may_have_equal_bounds():
    """'high' must not be below 'low': equal bounds are one value."""
    from gamify.simulation import Amount

    amount = Amount.model_validate({"distribution": "uniform", "low": 5, "high": 5})
    assert (amount.low, amount.high) == (Decimal(5), Decimal(5))
    with pytest.raises(ValueError, match="below"):
        Amount.model_validate({"distribution": "uniform", "low": 5, "high": 4})
