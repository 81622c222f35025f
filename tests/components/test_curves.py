"""Level curves: level -> cumulative XP, level 1 pinned to 0, strictly increasing, exact."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gamify.components.curves import FAMILIES, LevelCurve, LevelRow, build_curve
from gamify.errors import CurveError, ProgramError

POKEMON = ("erratic", "fast", "medium_fast", "medium_slow", "slow", "fluctuating")


def test_families_are_the_designed_names() -> None:
    """The family names are exactly those program files and the CLI use."""
    assert set(FAMILIES) == {
        "table",
        "linear",
        "polynomial",
        "exponential",
        "erratic",
        "fast",
        "medium_fast",
        "medium_slow",
        "slow",
        "fluctuating",
        "runescape",
    }


# -- published tables --------------------------------------------------------------------
#
# Pokémon values: Bulbapedia, "Experience", section "Experience at each level"
# (https://bulbapedia.bulbagarden.net/wiki/Experience). The page's prose also
# states: Erratic needs 1,800 XP for level 10 "as compared to 1,250 for Slow";
# Medium Slow needs 11,735 for level 25 "as compared to 12,187 for Fluctuating";
# level 100 needs 600,000 (Erratic), 800,000 (Fast), 1,000,000 (Medium Fast),
# 1,059,860 (Medium Slow), 1,250,000 (Slow) and 1,640,000 (Fluctuating).


@pytest.mark.parametrize(
    ("family", "level", "xp"),
    [
        # level 2 row of the Bulbapedia table
        ("erratic", 2, 15),
        ("fast", 2, 6),
        ("medium_fast", 2, 8),
        ("medium_slow", 2, 9),
        ("slow", 2, 10),
        ("fluctuating", 2, 4),
        # level 10 and 25, quoted in the page's prose
        ("erratic", 10, 1800),
        ("slow", 10, 1250),
        ("medium_slow", 25, 11735),
        ("fluctuating", 25, 12187),
        # level 50 row
        ("erratic", 50, 125000),
        ("fast", 50, 100000),
        ("medium_fast", 50, 125000),
        ("medium_slow", 50, 117360),
        ("slow", 50, 156250),
        ("fluctuating", 50, 142500),
        # level 100 row
        ("erratic", 100, 600000),
        ("fast", 100, 800000),
        ("medium_fast", 100, 1000000),
        ("medium_slow", 100, 1059860),
        ("slow", 100, 1250000),
        ("fluctuating", 100, 1640000),
    ],
)
def test_pokemon_groups_match_bulbapedia(family: str, level: int, xp: int) -> None:
    """Each Pokémon experience group reproduces Bulbapedia's published cumulative XP."""
    assert build_curve(family).xp_for_level(level) == xp


# RuneScape values: RuneScape Wiki / Old School RuneScape Wiki, "Experience",
# experience table (https://oldschool.runescape.wiki/w/Experience): 83 XP for
# level 2 and 91 more for level 3; 13,034,431 for level 99, with level 92
# (6,517,253) "nearly the exact halfway mark"; 1,154 for level 10 (RuneScape
# Classic Wiki, "Experience", Hits); virtual levels 120 and 126 from the same tables.


@pytest.mark.parametrize(
    ("level", "xp"),
    [
        (2, 83),
        (3, 174),
        (10, 1154),
        (26, 8740),
        (50, 101333),
        (85, 3258594),
        (92, 6517253),
        (99, 13034431),
        (120, 104273167),
        (126, 188884740),
    ],
)
def test_runescape_matches_the_wiki_table(level: int, xp: int) -> None:
    """The runescape family reproduces the RuneScape Wiki's experience table."""
    assert build_curve("runescape", max_level=126).xp_for_level(level) == xp


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "table"])
def test_level_one_is_pinned_to_zero(family: str) -> None:
    """Every formula family needs 0 XP for level 1 (Medium Slow's raw -54 included)."""
    params = {"linear": {"step": 10}, "polynomial": {"a": 1, "p": 2}}.get(family)
    if family == "exponential":
        params = {"base": 10, "r": 2}
    assert build_curve(family, params, max_level=20).xp_for_level(1) == 0


@pytest.mark.parametrize("family", POKEMON)
def test_pokemon_groups_strictly_increase_to_100(family: str) -> None:
    """Every Pokémon group builds up to level 100 without a repeated or falling threshold."""
    curve = build_curve(family)
    assert curve.max_level == 100
    xps = [curve.xp_for_level(n) for n in range(1, 101)]
    assert all(later > earlier for earlier, later in itertools.pairwise(xps))


# -- formula families, hand-computed -----------------------------------------------------------


def test_linear() -> None:
    """linear: level n needs step * (n - 1): 0, 100, 200, ... for step 100."""
    curve = build_curve("linear", {"step": 100}, max_level=5)
    assert [curve.xp_for_level(n) for n in range(1, 6)] == [0, 100, 200, 300, 400]


def test_linear_fractional_step_is_floored() -> None:
    """A fractional step is floored per level: 2.5 gives 0, 2, 5, 7, 10."""
    curve = build_curve("linear", {"step": Decimal("2.5")}, max_level=5)
    assert curve.thresholds == (0, 2, 5, 7, 10)


def test_polynomial() -> None:
    """polynomial: a * n^p; a=100, p=2 gives 400 at level 2 and 2500 at level 5."""
    curve = build_curve("polynomial", {"a": 100, "p": 2}, max_level=5)
    assert curve.thresholds == (0, 400, 900, 1600, 2500)


def test_polynomial_fractional_exponent() -> None:
    """A fractional exponent is exact where the power is rational (4^1.5 = 8, 9^1.5 = 27)."""
    curve = build_curve("polynomial", {"a": 1, "p": 1.5}, max_level=9)
    # 2^1.5 = 2.83, 3^1.5 = 5.20, 4^1.5 = 8, 5^1.5 = 11.18, 6^1.5 = 14.70,
    # 7^1.5 = 18.52, 8^1.5 = 22.63, 9^1.5 = 27
    assert curve.thresholds == (0, 2, 5, 8, 11, 14, 18, 22, 27)
    squares = build_curve("polynomial", {"a": 1, "p": 1.5}, max_level=25)
    assert squares.xp_for_level(16) == 64  # a rounded 16^1.5 can land on 63.99...
    assert squares.xp_for_level(25) == 125


def test_polynomial_exponent_with_many_decimals() -> None:
    """An exponent with four decimals still floors correctly: 100^2.0001 = 10004.6."""
    curve = build_curve("polynomial", {"a": 1, "p": Decimal("2.0001")}, max_level=100)
    assert curve.xp_for_level(10) == 100  # 10^2.0001 = 100.023
    assert curve.xp_for_level(100) == 10004


def test_polynomial_is_exact_where_floats_are_not() -> None:
    """0.29 * 10^2 is exactly 29 (floats give 28.999999999999996, which would floor to 28)."""
    curve = build_curve("polynomial", {"a": 0.29, "p": 2}, max_level=10)
    assert curve.xp_for_level(10) == 29


def test_exponential() -> None:
    """exponential: base * r^n; base 100, r 1.5 gives 225, 337, 506, 759 for levels 2-5."""
    curve = build_curve("exponential", {"base": 100, "r": 1.5}, max_level=5)
    assert curve.thresholds == (0, 225, 337, 506, 759)


def test_default_max_level_is_100() -> None:
    """Formula families run to level 100 unless told otherwise."""
    assert build_curve("linear", {"step": 10}).max_level == 100
    assert build_curve("runescape").max_level == 100


def test_params_are_kept_as_decimals() -> None:
    """The curve keeps its parameters as exact decimals (floats through their repr)."""
    curve = build_curve("polynomial", {"a": 0.7, "p": 3}, max_level=20)
    assert dict(curve.params) == {"a": Decimal("0.7"), "p": Decimal("3")}
    assert curve.family == "polynomial"


# -- table curves ------------------------------------------------------------------------------

TABLE = (0, 100, 250, 500, 1000)


def test_table_curve() -> None:
    """A table curve uses its thresholds as given and takes its max level from their count."""
    curve = build_curve("table", thresholds=list(TABLE))
    assert curve.max_level == 5
    assert [curve.xp_for_level(n) for n in range(1, 6)] == list(TABLE)


def test_table_curve_with_matching_max_level() -> None:
    """An explicit max_level for a table must match its number of thresholds."""
    assert build_curve("table", thresholds=TABLE, max_level=5).max_level == 5


# -- lookups -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xp", "level"),
    [(0, 1), (99, 1), (100, 2), (249, 2), (250, 3), (499, 3), (500, 4), (999, 4), (1000, 5)],
)
def test_level_for_xp_at_and_below_thresholds(xp: int, level: int) -> None:
    """A threshold reaches its level; one XP less stays on the level below."""
    assert build_curve("table", thresholds=TABLE).level_for_xp(xp) == level


def test_level_for_xp_never_exceeds_max_level() -> None:
    """XP beyond the last threshold stays at the maximum level."""
    curve = build_curve("table", thresholds=TABLE)
    assert curve.level_for_xp(10**12) == 5
    assert build_curve("medium_slow").level_for_xp(10**9) == 100


def test_level_for_xp_on_medium_slow() -> None:
    """Medium Slow: 8 XP is level 1, 9 XP level 2; 1,059,859 is 99 and 1,059,860 is 100."""
    curve = build_curve("medium_slow")
    assert curve.level_for_xp(8) == 1
    assert curve.level_for_xp(9) == 2
    assert curve.level_for_xp(1059859) == 99
    assert curve.level_for_xp(1059860) == 100


def test_xp_to_next() -> None:
    """xp_to_next is the gap to the next threshold, and None at the maximum level."""
    curve = build_curve("table", thresholds=TABLE)
    assert [curve.xp_to_next(n) for n in range(1, 6)] == [100, 150, 250, 500, None]
    assert build_curve("runescape").xp_to_next(2) == 91


def test_table_rows() -> None:
    """table() lists each level with its cumulative XP and XP to next."""
    assert build_curve("table", thresholds=TABLE).table() == [
        LevelRow(1, 0, 100),
        LevelRow(2, 100, 150),
        LevelRow(3, 250, 250),
        LevelRow(4, 500, 500),
        LevelRow(5, 1000, None),
    ]


@pytest.mark.parametrize("level", [0, -1, 6, 100])
def test_level_out_of_range(level: int) -> None:
    """Asking for a level below 1 or above the maximum is a CurveError."""
    curve = build_curve("table", thresholds=TABLE)
    with pytest.raises(CurveError, match=f"level {level}"):
        curve.xp_for_level(level)
    with pytest.raises(CurveError):
        curve.xp_to_next(level)


def test_negative_xp() -> None:
    """Negative XP has no level."""
    with pytest.raises(CurveError, match="negative"):
        build_curve("fast").level_for_xp(-1)


def test_curve_is_immutable_and_comparable() -> None:
    """A curve cannot be changed; curves built the same way are equal and hash alike."""
    curve = build_curve("linear", {"step": 10})
    with pytest.raises(AttributeError):
        curve.max_level = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        curve.params["step"] = Decimal(1)  # type: ignore[index]
    same = build_curve("linear", {"step": 10.0})
    assert curve == same
    assert hash(curve) == hash(same)
    assert curve != build_curve("linear", {"step": 11})


def test_hand_built_curve_is_checked() -> None:
    """Even a LevelCurve built directly must start at 0 and strictly increase."""
    with pytest.raises(CurveError):
        LevelCurve("table", {}, 3, (0, 5, 5))
    with pytest.raises(CurveError):
        LevelCurve("table", {}, 3, (0, 5))


# -- validation --------------------------------------------------------------------------------


def test_curve_error_is_a_program_error() -> None:
    """Curve errors belong to the program-error family, so Program.load can wrap them."""
    assert issubclass(CurveError, ProgramError)


def test_unknown_family_lists_the_valid_ones() -> None:
    """An unknown family name is refused with the list of valid names."""
    with pytest.raises(CurveError) as info:
        build_curve("quadratic")
    message = str(info.value)
    assert "'quadratic'" in message
    for family in FAMILIES:
        assert family in message


@pytest.mark.parametrize(
    ("family", "params", "reason"),
    [
        ("linear", None, "missing parameter(s) 'step'"),
        ("polynomial", {"a": 1}, "missing parameter(s) 'p'"),
        ("exponential", {"r": 2}, "missing parameter(s) 'base'"),
        ("linear", {"step": 10, "slope": 2}, "unknown parameter(s) 'slope'"),
        ("fast", {"step": 10}, "unknown parameter(s) 'step'"),
        ("linear", {"step": "ten"}, "'step'"),
        ("linear", {"step": True}, "'step'"),
        ("linear", {"step": None}, "'step'"),
        ("polynomial", {"a": 1, "p": float("nan")}, "'p'"),
        ("exponential", {"base": Decimal("Infinity"), "r": 2}, "'base'"),
    ],
)
def test_bad_parameters(family: str, params: dict[str, object] | None, reason: str) -> None:
    """Missing, unknown and non-numeric parameters are refused, naming the parameter."""
    with pytest.raises(CurveError) as info:
        build_curve(family, params)
    assert reason in str(info.value)


@pytest.mark.parametrize("max_level", [1, 0, -5])
def test_max_level_below_two(max_level: int) -> None:
    """A curve needs at least two levels."""
    with pytest.raises(CurveError, match="at least 2"):
        build_curve("linear", {"step": 10}, max_level=max_level)


def test_max_level_too_large() -> None:
    """Thresholds are precomputed, so the number of levels is bounded."""
    with pytest.raises(CurveError, match="at most"):
        build_curve("linear", {"step": 10}, max_level=1_000_000)


@pytest.mark.parametrize("family", POKEMON)
def test_pokemon_groups_stop_at_100(family: str) -> None:
    """The Pokémon groups are only defined up to level 100."""
    assert build_curve(family, max_level=60).max_level == 60
    with pytest.raises(CurveError, match="up to level 100"):
        build_curve(family, max_level=101)


@pytest.mark.parametrize(
    ("thresholds", "max_level", "reason"),
    [
        ([10, 20, 30], None, "start at 0"),
        ([0, 10, 10], None, "level 3"),
        ([0, 20, 10], None, "level 3"),
        ([0, -1], None, "level 2"),
        ([0], None, "at least 2"),
        ([], None, "at least 2"),
        ([0, 10, 20], 4, "max_level is 4"),
        ([0, 10.5], None, "integer"),
        ([0, True], None, "integer"),
        ("0123", None, "list of integers"),
        (None, None, "needs thresholds"),
    ],
)
def test_bad_tables(thresholds: list[object] | None, max_level: int | None, reason: str) -> None:
    """A table must start at 0, strictly increase and hold integers, one per level."""
    with pytest.raises(CurveError) as info:
        build_curve("table", thresholds=thresholds, max_level=max_level)  # type: ignore[arg-type]
    assert reason in str(info.value)


def test_table_takes_no_params_and_formulas_take_no_thresholds() -> None:
    """Thresholds belong to the table family only, and the table family has no parameters."""
    with pytest.raises(CurveError, match="thresholds="):
        build_curve("table", {"step": 1}, thresholds=[0, 1])
    with pytest.raises(CurveError, match="only for the table family"):
        build_curve("linear", {"step": 1}, thresholds=[0, 1])


@pytest.mark.parametrize(
    ("family", "params", "level"),
    [
        ("linear", {"step": 0}, 2),
        ("linear", {"step": -5}, 2),
        ("linear", {"step": 0.5}, 2),  # level 2 floors to 0, the same as level 1
        ("polynomial", {"a": 1, "p": 0}, 3),  # 1 at every level
        ("polynomial", {"a": 1, "p": -1}, 2),  # 1/2 floors to 0
        ("polynomial", {"a": 1, "p": 0.1}, 3),  # 2^0.1 = 1.07 floors to 1, 3^0.1 to 1
        ("exponential", {"base": 100, "r": 1}, 3),  # 100 at every level from 2
        ("exponential", {"base": 100, "r": 1.001}, 3),  # 100.2, 100.3 both floor to 100
        ("exponential", {"base": 10, "r": -2}, 3),  # alternates in sign
    ],
)
def test_formula_must_strictly_increase(family: str, params: dict[str, object], level: int) -> None:
    """A formula whose thresholds do not strictly increase is refused at its first bad level."""
    with pytest.raises(CurveError) as info:
        build_curve(family, params)
    message = str(info.value)
    assert "not strictly increasing" in message
    assert f"level {level}:" in message


def test_formula_beyond_storable_xp() -> None:
    """A curve that outgrows a 64-bit XP total is refused at the level where it does."""
    with pytest.raises(CurveError, match="level 19"):
        build_curve("exponential", {"base": 1, "r": 10})  # 10^19 > 2^63 - 1
    with pytest.raises(CurveError, match="more XP"):
        build_curve("polynomial", {"a": 1, "p": 10**9})


# -- properties --------------------------------------------------------------------------------

CURVES = [build_curve(family) for family in POKEMON] + [
    build_curve("runescape", max_level=126),
    build_curve("linear", {"step": 100}),
    build_curve("polynomial", {"a": Decimal("0.8"), "p": Decimal("2.5")}),
    build_curve("exponential", {"base": 50, "r": Decimal("1.1")}),
    build_curve("table", thresholds=TABLE),
]


@given(data=st.data(), curve=st.sampled_from(CURVES))
def test_level_for_xp_inverts_xp_for_level(data: st.DataObject, curve: LevelCurve) -> None:
    """Exactly a level's threshold gives that level; one XP less gives the level below."""
    level = data.draw(st.integers(min_value=1, max_value=curve.max_level))
    xp = curve.xp_for_level(level)
    assert curve.level_for_xp(xp) == level
    if level > 1:
        assert curve.level_for_xp(xp - 1) == level - 1


@given(
    curve=st.sampled_from(CURVES),
    a=st.integers(min_value=0, max_value=2 * 10**8),
    b=st.integers(min_value=0, max_value=2 * 10**8),
)
def test_level_for_xp_is_monotone(curve: LevelCurve, a: int, b: int) -> None:
    """More XP never means a lower level, and the level stays within 1..max_level."""
    low, high = sorted((a, b))
    assert 1 <= curve.level_for_xp(low) <= curve.level_for_xp(high) <= curve.max_level


@given(
    step=st.decimals(min_value=1, max_value=10**6, places=2, allow_nan=False, allow_infinity=False),
    max_level=st.integers(min_value=2, max_value=300),
)
def test_linear_curves_round_trip(step: Decimal, max_level: int) -> None:
    """Any linear curve with a step of at least 1 builds and round-trips every level."""
    curve = build_curve("linear", {"step": step}, max_level=max_level)
    for level in range(1, max_level + 1):
        assert curve.level_for_xp(curve.xp_for_level(level)) == level
    assert curve.xp_for_level(max_level) == int(step * (max_level - 1))


@pytest.mark.parametrize(
    ("family", "params"),
    [
        ("polynomial", {"a": 1, "p": Decimal("1e400")}),
        ("exponential", {"base": 1, "r": Decimal("1e-400")}),
        ("linear", {"step": Decimal("1e-99999999")}),
        ("linear", {"step": Decimal("9e30")}),  # the size is compared, not only its exponent
        ("linear", {"step": Decimal("9e-31")}),
    ],
)
def test_parameters_beyond_what_can_be_computed_are_a_curve_error(
    family: str, params: dict[str, object]
) -> None:
    """Exact thresholds from such numbers overflow a float or never finish."""
    with pytest.raises(CurveError, match="must lie between 1e-30 and 1e30"):
        build_curve(family, params)


@pytest.mark.parametrize("value", [1.5, None, "3", float("nan"), True])
def test_levels_and_xp_must_be_whole_numbers(value: object) -> None:
    curve = build_curve("linear", {"step": 100}, max_level=10)
    with pytest.raises(CurveError, match="whole number"):
        curve.xp_for_level(value)  # type: ignore[arg-type]
    with pytest.raises(CurveError, match="whole number"):
        curve.level_for_xp(value)  # type: ignore[arg-type]


def test_the_documented_limits_are_inclusive() -> None:
    """docs/program.md: at most 10,000 levels and at most 2^63 - 1 XP; one more is refused."""
    assert build_curve("linear", {"step": 1}, max_level=10_000).max_level == 10_000
    with pytest.raises(CurveError):
        build_curve("linear", {"step": 1}, max_level=10_001)
    assert build_curve("table", thresholds=[0, 2**63 - 1]).xp_for_level(2) == 2**63 - 1
    with pytest.raises(CurveError):
        build_curve("table", thresholds=[0, 2**63])
