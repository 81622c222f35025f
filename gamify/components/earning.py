"""Earning rules and multipliers: what an event pays before caps.

Pure: ``awards(...)`` reads the program and the event and returns one
:class:`RuleAward` per matching rule. Fractions round once, after
multipliers, by the program's rounding mode.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Any, Final

from gamify.components._plans import per_program
from gamify.errors import FormulaError, InvalidEventError
from gamify.program import Multiplier, Program, Rule
from gamify.program.earning import PerGroup, exact

ONE: Final = Decimal(1)
# Awards are computed in a wide context so products of amounts, rates and
# multipliers stay exact: the default 28 digits would round
# 99999999999999999999999999.99 × 1.5 up to a whole number before the floor.
# Its methods are called explicitly, never through the thread's current context,
# which stays the application's.
_EXACT: Final = Context(prec=120, traps=[InvalidOperation, DivisionByZero, Overflow])
_multiply = _EXACT.multiply
_add = _EXACT.add
ROUNDING: Final = {
    "down": ROUND_FLOOR,
    "up": ROUND_CEILING,
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
}


def _rounding_in(mode: str) -> Context:
    context = _EXACT.copy()
    context.rounding = ROUNDING[mode]
    return context


# A context per rounding mode: handing a context the value alone costs a fraction of
# passing the rounding and the context to the value by keyword.
_ROUNDED: Final = {mode: _rounding_in(mode) for mode in ROUNDING}


@dataclass  # __init__ by hand: compiled, it runs natively
class RuleAward:
    """What one rule pays for one event, after multipliers and rounding, before caps."""

    rule: Rule
    amount: int
    multiplier: Decimal

    def __init__(self, rule: Rule, amount: int, multiplier: Decimal) -> None:
        self.rule = rule
        self.amount = amount
        self.multiplier = multiplier


@dataclass  # __init__ by hand: compiled, it runs natively
class MemberFacts:
    """What multipliers read about the member at the event."""

    tags: Collection[str]
    birthday: date | None
    local_day: date
    tier_multiplier: Decimal | None = None

    def __init__(
        self,
        tags: Collection[str],
        birthday: date | None,
        local_day: date,
        tier_multiplier: Decimal | None = None,
    ) -> None:
        self.tags = tags
        self.birthday = birthday
        self.local_day = local_day
        self.tier_multiplier = tier_multiplier


def round_award(value: Decimal, mode: str) -> int:
    return int(_ROUNDED[mode].to_integral_value(value))


def _matches(cond: _Test, attributes: Mapping[str, Any], amount: Decimal | None) -> bool:
    actual = amount if cond.attribute == "amount" else attributes.get(cond.attribute)
    if cond.op == "exists":
        return actual is not None
    if actual is None:
        return cond.op in ("ne", "not_in")
    actual, expected = exact(actual), cond.expected  # floats through their text
    if cond.op in ("gt", "gte", "lt", "lte"):
        try:
            a, b = Decimal(str(actual)), Decimal(str(expected))
        except (ArithmeticError, ValueError):
            return False
        if a.is_nan() or b.is_nan():  # "NaN" reads as a decimal but is no number to compare
            return False
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[cond.op]
    if cond.op == "in":
        return actual in expected
    if cond.op == "not_in":
        return actual not in expected
    equal = bool(actual == expected)
    return equal if cond.op == "eq" else not equal


def _all_match(
    conditions: Sequence[_Test], attributes: Mapping[str, Any], amount: Decimal | None
) -> bool:
    for cond in conditions:  # noqa: SIM110 - a loop, not all(...): no generator per call
        if not _matches(cond, attributes, amount):
            return False
    return True


def base_value(
    plan: _RulePlan,
    amount: Decimal | None,
    attributes: Mapping[str, Any],
    context: Mapping[str, Decimal | int],
) -> Decimal:
    """The rule's award before multipliers, as an exact decimal."""
    if plan.fixed is not None:
        value = plan.fixed
    elif plan.per_amount is not None:
        value = _multiply(amount or Decimal(0), plan.per_amount)
    else:
        rule = plan.rule
        assert rule.formula is not None
        if rule.streak is not None:
            context = {**context, "streak": context.get(f"streak_{rule.streak}", 0)}
        try:
            value = rule.formula.evaluate(context)
        except FormulaError as exc:  # say which rule: its formula may be one of many alike
            raise FormulaError(f"rule {rule.name!r}: {exc}") from None
    if plan.per is not None:
        rule = plan.rule
        value = _multiply(value, Decimal(_groups(rule, attributes.get(plan.per.attribute))))
    return value


def _groups(rule: Rule, raw: Any) -> int:
    """Whole groups in a per-group rule's attribute: none when it is absent or negative."""
    assert rule.per is not None
    if raw is None:
        return 0
    # Text that is no number, or a number too large to count: a client error, not 0 groups.
    what = f"rule {rule.name!r} pays per {rule.per.size} {rule.per.attribute}: attribute"
    try:
        number = None if isinstance(raw, bool) else Decimal(str(raw))
    except ArithmeticError:
        number = None
    if number is None or not number.is_finite():
        raise InvalidEventError(f"{what} {rule.per.attribute!r} must be a number, not {raw!r}")
    try:
        groups = int(_EXACT.divide_int(number, rule.per.size))
    except ArithmeticError:
        raise InvalidEventError(f"{what} {rule.per.attribute!r} is too large: {raw!r}") from None
    return max(groups, 0)


def applies_to(mult: Multiplier, rule: Rule, spendable: bool) -> bool:
    """Whether ``mult`` may act on ``rule`` (listed, or by default any spendable-currency rule)."""
    return rule.name in mult.rules if mult.rules is not None else spendable


def _plain(value: Decimal) -> Decimal:
    """``value`` without trailing zeros (2.5 x 0.4 is 1, not 1.00): an outcome stores a
    multiplier equal to 1 as its default, and its replay must read back the same digits."""
    short = value.normalize()
    # 1E+1 is written out (10); through text, as quantize would round past 28 digits.
    return short if short.as_tuple().exponent <= 0 else Decimal(format(short, "f"))  # type: ignore[operator]


def combine(factors: Sequence[Decimal], stacking: str) -> Decimal:
    """Several active multipliers as one factor, by the program's stacking strategy."""
    if not factors:
        return ONE
    if stacking == "highest":
        return max(factors)
    if stacking == "additive":
        result = ONE
        for f in factors:
            result = _add(result, _EXACT.subtract(f, ONE))
        return result
    result = ONE
    for f in factors:
        result = _multiply(result, f)
    return result


# A per-program plan of what each action's rules need (conditions, which
# multipliers may act on them, campaign windows in UTC), built once: reading the
# program model afresh for every event was a third of the earning cost.
_CAMPAIGN, _TAG, _BIRTHDAY = "campaign", "tag", "birthday_month"


@dataclass(frozen=True, slots=True)
class _Factor:
    """A multiplier that may act on one rule; ``start``/``end`` in UTC for campaigns."""

    kind: str
    factor: Decimal
    tag: str | None
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, slots=True)
class _Test:
    """A rule condition's settings as plain attributes."""

    attribute: str
    op: str
    expected: Any


@dataclass(frozen=True, slots=True)
class _RulePlan:
    """A rule with plain copies of what every event reads (see :func:`per_program`)."""

    rule: Rule
    fixed: Decimal | None
    per_amount: Decimal | None
    per: PerGroup | None
    conditions: tuple[_Test, ...]
    tier: bool
    factors: tuple[_Factor, ...]


@dataclass(frozen=True, slots=True)
class _Plan:
    by_action: dict[str, tuple[_RulePlan, ...]]
    rounding: str
    stacking: str


@per_program
def _plan(program: Program) -> _Plan:
    """The rules of each action with what they need."""
    listed = program.tiers.multiplier_rules if program.tiers is not None else None
    by_action: dict[str, tuple[_RulePlan, ...]] = {}
    for action, rules in program.rules_by_action.items():
        plans = []
        for rule in rules:
            spendable = program.currencies[rule.currency].spendable
            factors = tuple(
                _Factor(
                    mult.kind,
                    mult.factor,
                    mult.tag,
                    mult.start.astimezone(UTC) if mult.start is not None else None,
                    mult.end.astimezone(UTC) if mult.end is not None else None,
                )
                for mult in program.multipliers
                if applies_to(mult, rule, spendable)
            )
            plans.append(
                _RulePlan(
                    rule=rule,
                    fixed=rule.fixed,
                    per_amount=rule.per_amount,
                    per=rule.per,
                    conditions=tuple(_Test(c.attribute, c.op, c.expected) for c in rule.conditions),
                    tier=(rule.name in listed) if listed is not None else spendable,
                    factors=factors,
                )
            )
        by_action[action] = tuple(plans)
    return _Plan(by_action, program.rounding, program.stacking)


def awards(
    program: Program,
    action: str,
    amount: Decimal | None,
    attributes: Mapping[str, Any],
    facts: MemberFacts,
    at: datetime,
    context: Mapping[str, Decimal | int],
) -> list[RuleAward]:
    """One award per rule of ``action`` whose conditions hold, rounded after multipliers."""
    out: list[RuleAward] = []
    program_plan = _plan(program)
    plans = program_plan.by_action.get(action)
    if not plans:
        return out
    tier_factor = facts.tier_multiplier
    if tier_factor is not None and tier_factor == ONE:
        tier_factor = None
    birthday_month = facts.birthday is not None and facts.birthday.month == facts.local_day.month
    for plan in plans:
        if plan.conditions and not _all_match(plan.conditions, attributes, amount):
            continue
        value = base_value(plan, amount, attributes, context)
        active: list[Decimal] = []
        if tier_factor is not None and plan.tier:
            active.append(tier_factor)
        for f in plan.factors:
            if f.kind == _CAMPAIGN:
                on = f.start <= at < f.end  # type: ignore[operator]  # set for campaigns
            elif f.kind == _TAG:
                on = f.tag in facts.tags
            else:
                on = birthday_month
            if on:
                active.append(f.factor)
        if active:
            factor = _plain(combine(active, program_plan.stacking))
            value = _multiply(value, factor)
        else:
            factor = ONE
        points = round_award(value, program_plan.rounding)
        if points > 0:
            out.append(RuleAward(rule=plan.rule, amount=points, multiplier=factor))
    return out
