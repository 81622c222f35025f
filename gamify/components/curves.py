"""Level curves: which cumulative XP each level needs.

A curve maps level -> cumulative XP. Level 1 is pinned to 0 XP (members start
there; Medium Slow's raw formula would give -54). Formula families give the
cumulative XP for level n >= 2, floored to an integer. Values are computed
exactly, with integers, fractions and integer roots, because flooring amplifies
any rounding error into a whole XP point (in floats ``0.29 * 10**2`` is
28.999999999999996, which floors to 28). The one exception is a polynomial
exponent with more than three decimals: its power is irrational and comes from a
60-digit Decimal rounded toward floor.

The thresholds are computed once, when the curve is built, and checked to be
strictly increasing up to ``max_level``: a curve where two levels need the same
XP would make a level unreachable, so it is refused with the first offending
level. Lookups are then a tuple index or a bisection.

Families (names as written in program files and on the command line):

- ``table``: explicit thresholds, the first one 0 for level 1;
- ``linear`` (``step``): ``step * (n - 1)``;
- ``polynomial`` (``a``, ``p``): ``a * n^p``;
- ``exponential`` (``base``, ``r``): ``base * r^n``;
- ``erratic``, ``fast``, ``medium_fast``, ``medium_slow``, ``slow``,
  ``fluctuating``: the Pokémon experience groups (Bulbapedia, "Experience"),
  defined up to level 100;
- ``runescape``: ``floor(1/4 * sum_{x=1}^{L-1} floor(x + 300 * 2^(x/7)))``,
  13,034,431 XP at level 99 (RuneScape Wiki, "Experience").
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Context, Decimal
from fractions import Fraction
from types import MappingProxyType

from gamify._numbers import sized
from gamify.errors import CurveError

__all__ = ["FAMILIES", "PARAMETERS", "LevelCurve", "LevelRow", "build_curve"]

FAMILIES: tuple[str, ...] = (
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
)

# The parameters each family takes, in the order they are documented.
PARAMETERS: dict[str, tuple[str, ...]] = {
    "table": (),
    "linear": ("step",),
    "polynomial": ("a", "p"),
    "exponential": ("base", "r"),
    "erratic": (),
    "fast": (),
    "medium_fast": (),
    "medium_slow": (),
    "slow": (),
    "fluctuating": (),
    "runescape": (),
}

_POKEMON_MAX_LEVEL = 100
# Thresholds are precomputed, so the number of levels is bounded.
MAX_LEVEL_LIMIT = 10_000
# The largest signed 64-bit integer: the XP columns of SQL stores hold no more.
MAX_XP = 2**63 - 1
# A value whose log10 surely exceeds this is beyond MAX_XP (about 9.2e18); it is
# refused before being computed, so an absurd exponent fails fast instead of
# building a number with millions of digits.
_LOG10_TOO_LARGE = 19.0
# Fractional exponents p = num/den up to this den are computed by an exact
# integer root (1000 covers every exponent written with up to 3 decimals).
_ROOT_DENOMINATOR_LIMIT = 1000
_POWER_CTX = Context(prec=60, rounding=ROUND_FLOOR)


@dataclass(frozen=True, slots=True)
class LevelRow:
    """One line of a curve's table, as the designer tools print it."""

    level: int
    cumulative_xp: int
    xp_to_next: int | None


@dataclass(frozen=True, slots=True)
class LevelCurve:
    """An immutable level curve with its thresholds precomputed.

    Build one with :func:`build_curve`, which validates the family and its
    parameters. ``thresholds[level - 1]`` is the cumulative XP of ``level``.
    """

    family: str
    params: Mapping[str, Decimal] = field(hash=False)
    max_level: int
    thresholds: tuple[int, ...] = field(repr=False)

    def __post_init__(self) -> None:
        # Guard the invariants the lookups rely on, even for a hand-built curve.
        if len(self.thresholds) != self.max_level:
            raise CurveError(
                f"curve {self.family!r} has {len(self.thresholds)} thresholds "
                f"for max_level {self.max_level}"
            )
        _check_thresholds(self.family, self.thresholds)

    def xp_for_level(self, level: int) -> int:
        """The cumulative XP that ``level`` needs (0 for level 1)."""
        self._check_level(level)
        return self.thresholds[level - 1]

    def xp_to_next(self, level: int) -> int | None:
        """The XP between ``level`` and the next one; ``None`` at the maximum level."""
        self._check_level(level)
        if level == self.max_level:
            return None
        return self.thresholds[level] - self.thresholds[level - 1]

    def level_for_xp(self, xp: int) -> int:
        """The highest level whose threshold ``xp`` reaches; never above ``max_level``."""
        if isinstance(xp, bool) or not isinstance(xp, int):
            raise CurveError(f"XP is a whole number, not {xp!r}")
        if xp < 0:
            raise CurveError(f"XP cannot be negative, got {xp}")
        # thresholds[0] == 0 <= xp, so the count of thresholds <= xp is at least 1.
        return bisect_right(self.thresholds, xp)

    def table(self) -> list[LevelRow]:
        """Every level with its cumulative XP and the XP to the next one."""
        last = self.max_level - 1
        return [
            LevelRow(
                level=index + 1,
                cumulative_xp=xp,
                xp_to_next=None if index == last else self.thresholds[index + 1] - xp,
            )
            for index, xp in enumerate(self.thresholds)
        ]

    def _check_level(self, level: int) -> None:
        if isinstance(level, bool) or not isinstance(level, int):
            raise CurveError(f"a level is a whole number, not {level!r}")
        if not 1 <= level <= self.max_level:
            raise CurveError(
                f"level {level} is outside curve {self.family!r} (levels 1..{self.max_level})"
            )


def build_curve(
    family: str,
    params: Mapping[str, object] | None = None,
    *,
    max_level: int | None = None,
    thresholds: Sequence[int] | None = None,
) -> LevelCurve:
    """Validate a curve definition and precompute its thresholds.

    ``max_level`` defaults to 100 for formula families and to the length of
    ``thresholds`` for a table (an explicit value must then match it).
    Raises :class:`CurveError` saying what is wrong.
    """
    if family not in PARAMETERS:
        raise CurveError(f"unknown curve family {family!r}; valid families: {', '.join(FAMILIES)}")
    numbers = _check_params(family, params or {})
    if family == "table":
        if thresholds is None:
            raise CurveError("the table family needs thresholds (one per level, from level 1)")
        values = _table_thresholds(thresholds, max_level)
        return LevelCurve(family, numbers, len(values), values)
    if thresholds is not None:
        raise CurveError(f"thresholds are only for the table family, not {family!r}")
    levels = _check_max_level(family, 100 if max_level is None else max_level)
    formula = _formula_for(family, numbers)
    values = _formula_thresholds(family, formula, levels)
    return LevelCurve(family, numbers, levels, values)


# -- validation --------------------------------------------------------------------


def _check_params(family: str, params: Mapping[str, object]) -> Mapping[str, Decimal]:
    expected = PARAMETERS[family]
    described = ", ".join(expected) if expected else "none"
    unknown = sorted(str(name) for name in params if name not in expected)
    if unknown:
        if family == "table":
            hint = "; pass the table's thresholds with thresholds="
        else:
            hint = f" (expected: {described})"
        raise CurveError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} "
            f"for curve family {family!r}{hint}"
        )
    missing = [name for name in expected if name not in params]
    if missing:
        raise CurveError(
            f"missing parameter(s) {', '.join(map(repr, missing))} "
            f"for curve family {family!r} (expected: {described})"
        )
    return MappingProxyType({name: _to_decimal(family, name, params[name]) for name in expected})


def _to_decimal(family: str, name: str, value: object) -> Decimal:
    number: Decimal | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))  # through repr: 0.1 stays 0.1
    if number is None or not number.is_finite():
        raise CurveError(
            f"parameter {name!r} of curve family {family!r} must be a finite number, not {value!r}"
        )
    if not sized(number, 30):  # exact thresholds of 1e-99999 never end
        raise CurveError(
            f"parameter {name!r} of curve family {family!r} must lie between 1e-30 and 1e30, "
            f"not {value!r}"
        )
    return number


def _check_max_level(family: str, max_level: int) -> int:
    if isinstance(max_level, bool) or not isinstance(max_level, int):
        raise CurveError(f"max_level must be an integer, not {max_level!r}")
    if max_level < 2:
        raise CurveError(f"max_level must be at least 2, not {max_level}")
    if max_level > MAX_LEVEL_LIMIT:
        raise CurveError(f"max_level must be at most {MAX_LEVEL_LIMIT}, not {max_level}")
    if family in _POKEMON and max_level > _POKEMON_MAX_LEVEL:
        raise CurveError(
            f"curve family {family!r} is defined up to level {_POKEMON_MAX_LEVEL}, not {max_level}"
        )
    return max_level


def _table_thresholds(thresholds: Sequence[int], max_level: int | None) -> tuple[int, ...]:
    if isinstance(thresholds, str | bytes):
        raise CurveError("a table's thresholds must be a list of integers")
    values = tuple(thresholds)
    if max_level is not None and max_level != len(values):
        raise CurveError(
            f"the table has {len(values)} thresholds (levels 1..{len(values)}) "
            f"but max_level is {max_level}"
        )
    if len(values) < 2:
        raise CurveError(f"a table needs at least 2 thresholds (levels 1 and 2), got {len(values)}")
    _check_max_level("table", len(values))
    for level, value in enumerate(values, start=1):
        if isinstance(value, bool) or not isinstance(value, int):
            raise CurveError(f"the threshold of level {level} must be an integer, not {value!r}")
    if values[0] != 0:
        raise CurveError(f"a table must start at 0 XP for level 1, not {values[0]}")
    return values


def _check_thresholds(family: str, values: Sequence[int]) -> None:
    if not values or values[0] != 0:
        raise CurveError(f"curve {family!r} must give 0 XP at level 1")
    previous = 0
    for level, value in enumerate(values[1:], start=2):
        _check_next(family, level, value, previous)
        previous = value


def _check_next(family: str, level: int, value: int, previous: int) -> None:
    if value <= previous:
        raise CurveError(
            f"curve {family!r} is not strictly increasing at level {level}: "
            f"it needs {value} XP, not more than level {level - 1}'s {previous} XP"
        )
    if value > MAX_XP:
        raise CurveError(_too_large(family, level))


def _too_large(family: str, level: int) -> str:
    return (
        f"curve {family!r} needs more XP at level {level} than a store keeps "
        f"(at most {MAX_XP}); lower max_level or the parameters"
    )


# -- formula families ----------------------------------------------------------------

# A family's raw formula: level n -> cumulative XP (before flooring for the
# non-integer families; each returns an exact int, Fraction or, for irrational
# values only, a floored Decimal).
_Raw = Callable[[int], int | Fraction | Decimal]


def _formula_thresholds(family: str, formula: _Raw, max_level: int) -> tuple[int, ...]:
    values = [0]
    for level in range(2, max_level + 1):
        value = _floor(formula(level))
        _check_next(family, level, value, values[-1])
        values.append(value)
    return tuple(values)


def _floor(value: int | Fraction | Decimal) -> int:
    if isinstance(value, Decimal):
        return int(value.to_integral_value(rounding=ROUND_FLOOR))
    return math.floor(value)


def _formula_for(family: str, params: Mapping[str, Decimal]) -> _Raw:
    if family == "linear":
        step = Fraction(params["step"])
        return lambda n: step * (n - 1)
    if family == "polynomial":
        return _polynomial(family, params["a"], params["p"])
    if family == "exponential":
        return _exponential(family, params["base"], params["r"])
    if family == "runescape":
        return _runescape()
    return _POKEMON[family]


def _polynomial(family: str, a: Decimal, p: Decimal) -> _Raw:
    coefficient = Fraction(a)
    exponent = Fraction(p)
    num, den = exponent.numerator, exponent.denominator
    a_num, a_den = coefficient.numerator, coefficient.denominator
    by_root = den <= _ROOT_DENOMINATOR_LIMIT and num > 0 and a_num > 0

    def raw(n: int) -> int | Fraction | Decimal:
        if a and a.adjusted() + float(exponent) * math.log10(n) > _LOG10_TOO_LARGE:
            raise CurveError(_too_large(family, n))
        if den == 1:
            return coefficient * Fraction(n) ** num
        if by_root:
            # floor(a * n^(num/den)) is the largest m with (m * a_den)^den <=
            # a_num^den * n^num: an exact integer den-th root.
            return _iroot(a_num**den * n**num, den) // a_den
        # Left: curves refused anyway (a <= 0 or p < 0 never increase), and
        # exponents with more than 3 decimals, for which n^p is irrational (n
        # would have to be a perfect den-th power, so at least 2^1000) and a
        # 60-digit value rounded toward floor gives the floor.
        return _POWER_CTX.multiply(a, _POWER_CTX.power(Decimal(n), p))

    return raw


def _exponential(family: str, base: Decimal, r: Decimal) -> _Raw:
    coefficient = Fraction(base)
    ratio = Fraction(r)
    log_ratio = math.log10(abs(r)) if r else 0.0

    def raw(n: int) -> Fraction:
        if base and base.adjusted() + n * log_ratio > _LOG10_TOO_LARGE:
            raise CurveError(_too_large(family, n))
        return coefficient * ratio**n

    return raw


def _runescape() -> _Raw:
    # floor(300 * 2^(x/7)) is the largest m with m^7 <= 300^7 * 2^x: an exact
    # integer 7th root, so no floating point is involved anywhere.
    scale = 300**7
    sums = [0]  # sums[k] = sum_{x=1}^{k} floor(x + 300 * 2^(x/7))

    def raw(level: int) -> int:
        while len(sums) < level:
            x = len(sums)
            sums.append(sums[-1] + x + _iroot(scale << x, 7))
        return sums[level - 1] // 4

    return raw


def _iroot(n: int, k: int) -> int:
    """The integer k-th root of n >= 0, rounded down (Newton's method from above)."""
    if n < 2 or k == 1:
        return n
    bits = n.bit_length()
    if bits <= k:
        return 1  # 2 <= n < 2^k
    x = 1 << -(-bits // k)  # 2^ceil(bits/k) >= the root
    try:
        # A float estimate a little above the root saves most Newton steps.
        estimate = int(math.exp(math.log(n) / k) * (1 + 1e-9)) + 1
    except OverflowError:
        estimate = x
    if estimate < x and estimate**k >= n:
        x = estimate
    while True:
        y = ((k - 1) * x + n // x ** (k - 1)) // k
        if y >= x:
            return x
        x = y


# The Pokémon experience groups, as given on Bulbapedia's "Experience" page.
# Each returns an exact Fraction; the floors inside Erratic and Fluctuating are
# part of the published formulas.


def _erratic(n: int) -> Fraction:
    cube = n**3
    if n < 50:
        return Fraction(cube * (100 - n), 50)
    if n < 68:
        return Fraction(cube * (150 - n), 100)
    if n < 98:
        return Fraction(cube * ((1911 - 10 * n) // 3), 500)
    return Fraction(cube * (160 - n), 100)


def _fast(n: int) -> Fraction:
    return Fraction(4 * n**3, 5)


def _medium_fast(n: int) -> int:
    return n**3


def _medium_slow(n: int) -> Fraction:
    return Fraction(6, 5) * n**3 - 15 * n**2 + 100 * n - 140


def _slow(n: int) -> Fraction:
    return Fraction(5 * n**3, 4)


def _fluctuating(n: int) -> Fraction:
    cube = n**3
    if n < 15:
        return Fraction(cube * ((n + 1) // 3 + 24), 50)
    if n < 36:
        return Fraction(cube * (n + 14), 50)
    return Fraction(cube * (n // 2 + 32), 50)


_POKEMON: dict[str, _Raw] = {
    "erratic": _erratic,
    "fast": _fast,
    "medium_fast": _medium_fast,
    "medium_slow": _medium_slow,
    "slow": _slow,
    "fluctuating": _fluctuating,
}
