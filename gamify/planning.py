"""Points-budget planning: the plan file model and its arithmetic.

A plan states a yearly points budget (a share of sales, or an amount per active
member), the earning rules (the core action earns ``amount x coefficient``,
non-core actions fixed points), per-action completion rates, and member
segments with their core amounts and expected yearly action counts.
:func:`compute_plan` turns it into the numbers a designer calibrates with:

- per segment and in total, the maximum points (every expected action done)
  and the predicted points (each count times its completion rate), the core
  and non-core shares of the predicted points, and a warning when a segment's
  non-core share is more than 10 percentage points from its target;
- the raw exchange ratio ``predicted points / budget`` and the calibration
  factor ``target / raw ratio``, kept exact so that ``raw ratio x factor ==
  target`` (it is printed to two decimals, never used rounded);
- every rule value times the factor, exact and rounded to what a program can
  hold (whole points for fixed rules, four decimals for coefficients), and the
  exchange ratio recomputed from the rounded values;
- the money each segment costs at the target ratio, and the catalog's prices.

Everything is exact :class:`~decimal.Decimal` arithmetic, never float: files
are parsed with their floats read as decimals. Sums and products of the plan's
figures are exact; a quotient (a share, a per-member figure, the raw ratio) is
rounded once to 28 significant digits, the default decimal context, which
:func:`compute_plan` uses whatever the caller's context is. The calibration
factor alone carries 50 digits, so that the raw ratio times it rounds back to
the target exactly.

Only :func:`load_plan` does I/O; the rest is pure.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Literal, Self, TypeAlias

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from gamify._numbers import sized
from gamify.components import rewards
from gamify.errors import ProgramError
from gamify.program import Program
from gamify.program._loader import UniqueKeyLoader, parser_limits, unique_keys

__all__ = [
    "COEFFICIENT_QUANTUM",
    "FIXED_QUANTUM",
    "NONCORE_SHARE_TOLERANCE",
    "ActionIssuance",
    "Budget",
    "CalibratedRule",
    "CatalogItem",
    "Plan",
    "PlanResult",
    "PlanWarning",
    "PricedReward",
    "Rule",
    "Segment",
    "SegmentCost",
    "SegmentIssuance",
    "TotalIssuance",
    "compute_plan",
    "load_plan",
    "parse_plan",
    "plan_program",
    "plan_to_dict",
    "read_plan_data",
]

NONCORE_SHARE_TOLERANCE = Decimal("0.10")
"""A segment warns when its non-core share is MORE than this far from its target."""

FIXED_QUANTUM = Decimal(1)
"""Calibrated fixed rules are rounded to whole points."""

COEFFICIENT_QUANTUM = Decimal("0.0001")
"""Calibrated per-amount coefficients are rounded to four decimals."""

_ZERO = Decimal(0)
_ONE = Decimal(1)
_MONTHS_PER_YEAR = 12
_ARITHMETIC = Context(prec=28, rounding=ROUND_HALF_EVEN)
_FACTOR_PRECISION = 50


# --------------------------------------------------------------------------- model


class _PlanFault(ValueError):
    """A cross-field fault found by a model validator, with its path below the model."""

    def __init__(self, key_path: tuple[str | int, ...], reason: str) -> None:
        super().__init__(reason)
        self.key_path = key_path
        self.reason = reason


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _sized(value: Decimal) -> Decimal:
    """A plan's number between 1e-18 and 1e18 (or 0): exact arithmetic on 1e999999999 would
    run for ever, and no budget, amount or rate comes near either end."""
    if not sized(value, _MAGNITUDE):
        raise ValueError(f"must lie between 1e-{_MAGNITUDE} and 1e{_MAGNITUDE}, not {value}")
    return value


_MAGNITUDE = 18
_Share = Annotated[Decimal, Field(ge=0, le=1), AfterValidator(_sized)]
_Positive = Annotated[Decimal, Field(gt=0), AfterValidator(_sized)]
_NonNegative = Annotated[Decimal, Field(ge=0), AfterValidator(_sized)]
_Count = Annotated[int, Field(gt=0, strict=True)]
_Name = Annotated[str, Field(min_length=1)]


class Budget(_Model):
    """The yearly points budget in money: a share of sales, or an amount per active member.

    ``share_of_sales`` (0.01 for 1 %) with yearly ``sales``; or
    ``per_active_member`` (an amount per ``period``, a year unless ``period =
    "month"``) with ``active_members`` (default: all members of the segments).
    """

    share_of_sales: Annotated[Decimal, Field(gt=0, le=1), AfterValidator(_sized)] | None = None
    sales: _NonNegative | None = None
    per_active_member: _Positive | None = None
    active_members: _Count | None = None
    period: Literal["year", "month"] = "year"

    @model_validator(mode="after")
    def _one_basis(self) -> Self:
        if self.share_of_sales is not None:
            if self.per_active_member is not None:
                raise _PlanFault(
                    ("per_active_member",),
                    "give either share_of_sales (with sales) or per_active_member, not both",
                )
            if self.sales is None:
                raise _PlanFault(
                    ("sales",), "share_of_sales needs the yearly sales it is a share of"
                )
            for key in ("active_members", "period"):
                if key in self.model_fields_set:
                    raise _PlanFault((key,), f"{key} belongs to a per_active_member budget")
        elif self.per_active_member is not None:
            if self.sales is not None:
                raise _PlanFault(("sales",), "sales belongs to a share_of_sales budget")
        else:
            raise _PlanFault((), "set share_of_sales (with sales) or per_active_member")
        return self

    @property
    def basis(self) -> Literal["share_of_sales", "per_active_member"]:
        return "share_of_sales" if self.share_of_sales is not None else "per_active_member"


class Rule(_Model):
    """One action's earning rule: ``fixed`` points, or ``per_amount`` (points per unit of amount).

    ``per`` is the group size a fixed rule pays for ("50 per 3 photos"); in a
    plan, the yearly count of such an action counts paid groups.
    """

    fixed: _Positive | None = None
    per_amount: _Positive | None = None
    per: _Count | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if self.fixed is not None and self.per_amount is not None:
            raise _PlanFault(("per_amount",), "a rule is either fixed or per_amount, not both")
        if self.fixed is None and self.per_amount is None:
            raise _PlanFault((), "a rule needs fixed points or a per_amount coefficient")
        if self.per is not None and self.fixed is None:
            raise _PlanFault(("per",), "per (a group size) only applies to fixed rules")
        return self

    @property
    def kind(self) -> Literal["fixed", "per_amount"]:
        return "fixed" if self.fixed is not None else "per_amount"

    @property
    def value(self) -> Decimal:
        value = self.fixed if self.fixed is not None else self.per_amount
        assert value is not None  # guaranteed by _one_kind
        return value


class Segment(_Model):
    """A member segment: its size, core amount, non-core target and yearly action counts.

    ``total_core_amount`` (the whole segment's yearly core amount, e.g. spend)
    or ``core_amount_per_member``; ``yearly_counts`` maps each non-core action
    to the count one member is expected to do in a year (missing: 0).
    ``core_amount_min`` / ``core_amount_max`` optionally bound the yearly core
    amount per member ``[min, max)`` that puts a member in the segment: only
    ``gamify report`` uses them, the plan's figures do not.
    """

    name: _Name
    members: _Count
    total_core_amount: _NonNegative | None = None
    core_amount_per_member: _NonNegative | None = None
    target_noncore_share: _Share
    yearly_counts: dict[str, _NonNegative] = Field(default_factory=dict)
    core_amount_min: _NonNegative | None = None
    core_amount_max: _NonNegative | None = None

    @model_validator(mode="after")
    def _one_core_amount(self) -> Self:
        given = [
            key
            for key in ("total_core_amount", "core_amount_per_member")
            if getattr(self, key) is not None
        ]
        if not given:
            raise _PlanFault(
                ("total_core_amount",),
                "missing: give total_core_amount or core_amount_per_member",
            )
        if len(given) == 2:
            raise _PlanFault(
                ("core_amount_per_member",),
                "give total_core_amount or core_amount_per_member, not both",
            )
        low, high = self.core_amount_min, self.core_amount_max
        if low is not None and high is not None and high <= low:
            raise _PlanFault(("core_amount_max",), "core_amount_max must be above core_amount_min")
        return self


class CatalogItem(_Model):
    """A reward priced with :func:`gamify.components.rewards.points_price`.

    ``exchange_ratio`` overrides the plan's target (a lower one for
    closed-loop rewards such as in-app coupons).
    """

    name: _Name
    cash_value: _Positive
    cost_rate: _Positive = _ONE
    price: _Positive | None = None
    max_discount: _NonNegative = _ZERO
    exchange_ratio: _Positive | None = None

    @model_validator(mode="after")
    def _premium_defined(self) -> Self:
        if self.max_discount > 0:
            if self.price is None:
                raise _PlanFault(("price",), "max_discount needs the item's price")
            if self.price <= self.max_discount:
                raise _PlanFault(("max_discount",), "max_discount must be less than price")
        return self


class Plan(_Model):
    """A points-budget plan, loaded from TOML, JSON or YAML by :func:`load_plan`."""

    name: str | None = None
    budget: Budget
    exchange_ratio_target: _Positive
    core_action: _Name
    rules: dict[str, Rule] = Field(min_length=1)
    completion_rates: dict[str, _Share] = Field(default_factory=dict)
    segments: tuple[Segment, ...] = Field(min_length=1)
    catalog: tuple[CatalogItem, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        core = self.core_action
        if core not in self.rules:
            raise _PlanFault(("core_action",), f"the core action {core!r} has no rule in rules")
        if self.rules[core].per_amount is None:
            raise _PlanFault(
                ("rules", core, "fixed"),
                "the core action earns per amount: give it per_amount, not fixed",
            )
        for action, rule in self.rules.items():
            if action != core and rule.per_amount is not None:
                raise _PlanFault(
                    ("rules", action, "per_amount"),
                    "only the core action earns per amount; non-core rules pay fixed points",
                )
        for action in self.completion_rates:
            if action not in self.rules:
                raise _PlanFault(("completion_rates", action), f"no rule for action {action!r}")
        for action in self.rules:
            if action != core and action not in self.completion_rates:
                raise _PlanFault(
                    ("completion_rates", action),
                    "missing: every non-core action needs a completion rate",
                )
        seen: set[str] = set()
        for index, segment in enumerate(self.segments):
            if segment.name in seen:
                raise _PlanFault(
                    ("segments", index, "name"), f"duplicate segment name {segment.name!r}"
                )
            seen.add(segment.name)
            for action in segment.yearly_counts:
                if action == core:
                    raise _PlanFault(
                        ("segments", index, "yearly_counts", action),
                        "the core action is planned by core amount, not by count",
                    )
                if action not in self.rules:
                    raise _PlanFault(
                        ("segments", index, "yearly_counts", action),
                        f"no rule for action {action!r}",
                    )
        names: set[str] = set()
        for index, item in enumerate(self.catalog):
            if item.name in names:
                raise _PlanFault(("catalog", index, "name"), f"duplicate reward name {item.name!r}")
            names.add(item.name)
        return self

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Plan:
        """Same as :func:`load_plan`."""
        return load_plan(path)


# --------------------------------------------------------------------------- loading


def _key_path(loc: Sequence[str | int]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def _program_error(exc: ValidationError, file: str | None) -> ProgramError:
    errors = exc.errors()
    first = errors[0]
    loc: tuple[str | int, ...] = tuple(first["loc"])
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, _PlanFault):
        loc += cause.key_path
        reason = cause.reason
    elif first["type"] == "missing":
        reason = "missing required key"
    elif first["type"] == "extra_forbidden":
        reason = "unknown key (not part of the plan schema)"
    else:
        reason = first["msg"].removeprefix("Value error, ")
    if len(errors) > 1:
        more = len(errors) - 1
        reason += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ProgramError(reason, file=file, key_path=_key_path(loc))


def parse_plan(data: object, *, file: str | None = None) -> Plan:
    """Validate already-parsed plan data; every failure is a ProgramError with a key path."""
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise _program_error(exc, file) from exc


class _DecimalLoader(UniqueKeyLoader):
    """A safe YAML loader that reads floats as exact decimals (and refuses repeated keys)."""


def _yaml_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(None, None, "expected a number", node.start_mark)
    text = str(loader.construct_scalar(node)).replace("_", "").lower()
    special = {".inf": "Infinity", "+.inf": "Infinity", "-.inf": "-Infinity", ".nan": "NaN"}
    try:
        return Decimal(special.get(text, text))
    except InvalidOperation as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"cannot read {text!r} as a decimal number", node.start_mark
        ) from exc


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _yaml_decimal)


def _parse_text(text: str, suffix: str, file: str) -> object:
    with parser_limits(file, "cannot read the numbers"):
        return _parse_by_suffix(text, suffix, file)


def _parse_by_suffix(text: str, suffix: str, file: str) -> object:
    if suffix == ".toml":
        try:
            return tomllib.loads(text, parse_float=Decimal)
        except tomllib.TOMLDecodeError as exc:
            raise ProgramError(f"invalid TOML: {exc}", file=file) from exc
    if suffix == ".json":
        try:
            return json.loads(
                text, parse_float=Decimal, parse_constant=Decimal, object_pairs_hook=unique_keys
            )
        except json.JSONDecodeError as exc:
            raise ProgramError(f"invalid JSON: {exc}", file=file) from exc
    if suffix in (".yaml", ".yml"):
        try:
            # _DecimalLoader is a SafeLoader: it builds plain data, never objects.
            return yaml.load(text, Loader=_DecimalLoader)
        except yaml.YAMLError as exc:
            raise ProgramError(f"invalid YAML: {exc}", file=file) from exc
    raise ProgramError(
        f"unknown plan file type {suffix or '(none)'!r}: use .toml, .json, .yaml or .yml",
        file=file,
    )


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Load a plan file (TOML, JSON or YAML, by extension).

    Every read, parse or validation failure raises
    :class:`~gamify.errors.ProgramError` naming the file, the dotted key path
    (list indices in brackets: ``segments[1].members``) and the reason.
    """
    return parse_plan(read_plan_data(path), file=os.fspath(path))


def read_plan_data(path: str | os.PathLike[str]) -> object:
    """The parsed content of a plan file (numbers as exact decimals), not yet validated.

    A plan that names ``program = "shop.toml"`` (a path relative to the plan
    file) instead of ``rules`` gets its rules from that program (see
    :func:`rules_from_program`).
    """
    return _read_plan(path)[0]


def plan_program(path: str | os.PathLike[str]) -> Program | None:
    """The program a plan file names with ``program = "shop.toml"``, loaded; None when the
    plan gives its own ``rules``. Errors are ProgramErrors as for :func:`load_plan`."""
    return _read_plan(path)[1]


def _read_plan(path: str | os.PathLike[str]) -> tuple[object, Program | None]:
    file = os.fspath(path)
    try:
        text = Path(file).read_text(encoding="utf-8-sig")  # a byte-order mark is dropped
    except (OSError, ValueError) as exc:  # ValueError: undecodable text, a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ProgramError(f"cannot read the plan file: {reason}", file=file) from exc
    data = _parse_text(text, Path(file).suffix.lower(), file)
    program = None
    if isinstance(data, dict) and "program" in data:
        source = data.pop("program")
        if "rules" in data:
            raise ProgramError(
                "give either rules or a program to take them from, not both",
                file=file,
                key_path="program",
            )
        if not isinstance(source, str) or not source.strip():
            raise ProgramError("must be the path of a program file", file=file, key_path="program")
        program = Program.load(Path(file).parent / source)  # its errors name the program file
        try:
            data["rules"] = rules_from_program(program)
        except ValueError as exc:
            raise ProgramError(str(exc), file=file, key_path="program") from None
    return data, program


def rules_from_program(
    program: Program, currency: str = "points"
) -> dict[str, dict[str, Decimal | int]]:
    """A plan's ``rules`` from a program's earning rules that pay ``currency``: per action,
    the sum of its ``fixed`` or ``per_amount`` rules (``per`` groups kept).

    Raises ValueError, naming the rule, for what a plan cannot weigh: conditions, a
    formula, fixed and per-amount rules on one action, rules paying per group and per
    action on one action, or two group sizes.
    """
    out: dict[str, dict[str, Decimal | int]] = {}
    # The first rule of each action paying per group (True) or per action (False):
    # a plan's rule has one ``per``, so summing the two would misprice both.
    first: dict[tuple[str, bool], str] = {}
    for rule in program.rules:
        if rule.currency != currency:
            continue
        if rule.conditions:
            raise ValueError(
                f"the program's rule {rule.name!r} has conditions, which a plan cannot weigh: "
                "give the plan its own [rules]"
            )
        if rule.formula is not None:
            raise ValueError(
                f"the program's rule {rule.name!r} pays by a formula: give the plan its own [rules]"
            )
        kind = "fixed" if rule.fixed is not None else "per_amount"
        value = rule.fixed if rule.fixed is not None else rule.per_amount
        assert value is not None  # a rule has exactly one award
        entry = out.setdefault(rule.action, {})
        if ("per_amount" if kind == "fixed" else "fixed") in entry:
            raise ValueError(
                f"action {rule.action!r} has both fixed and per-amount rules in the program "
                f"(rule {rule.name!r}): give the plan its own [rules]"
            )
        grouped = rule.per is not None
        other = first.get((rule.action, not grouped))
        if other is not None:
            by_group, by_action = (rule.name, other) if grouped else (other, rule.name)
            raise ValueError(
                f"action {rule.action!r} has a rule paying per group ({by_group!r}) and one "
                f"paying per action ({by_action!r}) in the program: give the plan its own [rules]"
            )
        first.setdefault((rule.action, grouped), rule.name)
        if rule.per is not None:
            size = rule.per.size
            if entry.get("per", size) != size:
                raise ValueError(
                    f"the program's rule {rule.name!r} pays per {rule.per.size}, another rule "
                    f"of {rule.action!r} per {entry['per']}: give the plan its own [rules]"
                )
            entry["per"] = size
        entry[kind] = entry.get(kind, Decimal(0)) + value
    if not out:
        raise ValueError(f"the program has no earning rule paying {currency!r}")
    return out


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class ActionIssuance:
    """One action's points in one segment, per member and for the whole segment.

    For the core action ``count_per_member`` is the yearly core amount per
    member and ``rule_value`` the coefficient; otherwise the expected yearly
    count and the fixed points per count.
    """

    action: str
    core: bool
    rule_value: Decimal
    count_per_member: Decimal
    completion_rate: Decimal
    max_points_per_member: Decimal
    predicted_points_per_member: Decimal
    max_points: Decimal
    predicted_points: Decimal


@dataclass(frozen=True, slots=True)
class SegmentIssuance:
    """A segment's yearly maximum and predicted points, and its core/non-core split."""

    name: str
    members: int
    core_amount: Decimal
    core_amount_per_member: Decimal
    max_points_per_member: Decimal
    predicted_points_per_member: Decimal
    max_points: Decimal
    predicted_points: Decimal
    predicted_core_points: Decimal
    predicted_noncore_points: Decimal
    core_share: Decimal
    noncore_share: Decimal
    target_noncore_share: Decimal
    share_gap: Decimal
    """``noncore_share - target_noncore_share`` (signed, as a fraction)."""
    off_target: bool
    """True when ``|share_gap|`` is more than NONCORE_SHARE_TOLERANCE (judged exactly)."""
    actions: tuple[ActionIssuance, ...]


@dataclass(frozen=True, slots=True)
class TotalIssuance:
    """Maximum and predicted points summed over every segment."""

    members: int
    max_points_per_member: Decimal
    predicted_points_per_member: Decimal
    max_points: Decimal
    predicted_points: Decimal
    predicted_core_points: Decimal
    predicted_noncore_points: Decimal
    core_share: Decimal
    noncore_share: Decimal


@dataclass(frozen=True, slots=True)
class CalibratedRule:
    """A rule value times the calibration factor: exact, and rounded for a program."""

    action: str
    core: bool
    kind: Literal["fixed", "per_amount"]
    per: int | None
    value: Decimal
    exact: Decimal
    rounded: Decimal


@dataclass(frozen=True, slots=True)
class SegmentCost:
    """A segment's money cost at the target ratio, from the rounded calibrated rules."""

    segment: str
    members: int
    predicted_points: Decimal
    cost: Decimal
    cost_per_member: Decimal
    budget_share: Decimal
    """``cost / budget``."""


@dataclass(frozen=True, slots=True)
class PricedReward:
    """A catalog reward and its points price."""

    name: str
    cash_value: Decimal
    cost_rate: Decimal
    price: Decimal | None
    max_discount: Decimal
    exchange_ratio: Decimal
    premium: Decimal
    points: int


@dataclass(frozen=True, slots=True)
class PlanWarning:
    """Something the designer should look at.

    ``code`` is ``noncore_share`` (a segment is off its target with the plan's
    rule values), ``calibrated_noncore_share`` (rounding the calibrated values
    moved a segment off target) or ``rule_rounds_to_zero``.
    """

    code: str
    subject: str
    message: str


@dataclass(frozen=True, slots=True)
class PlanResult:
    """Everything :func:`compute_plan` derives from a plan (yearly figures)."""

    name: str | None
    core_action: str
    budget_basis: Literal["share_of_sales", "per_active_member"]
    budget: Decimal
    target_ratio: Decimal
    issuable_points: Decimal
    """``budget x target_ratio``: the most points the budget pays for at the target."""
    segments: tuple[SegmentIssuance, ...]
    total: TotalIssuance
    raw_ratio: Decimal
    """``total.predicted_points / budget``."""
    calibration_factor: Decimal
    """``target_ratio / raw_ratio``, unrounded (50 digits): ``raw_ratio x factor == target``."""
    rules: tuple[CalibratedRule, ...]
    calibrated_segments: tuple[SegmentIssuance, ...]
    calibrated_total: TotalIssuance
    recomputed_ratio: Decimal
    """``calibrated_total.predicted_points / budget``, from the rounded rule values."""
    costs: tuple[SegmentCost, ...]
    total_cost: Decimal
    catalog: tuple[PricedReward, ...]
    warnings: tuple[PlanWarning, ...]

    @property
    def calibration_factor_rounded(self) -> Decimal:
        """The factor as printed: two decimals (0.8906 shows as 0.89)."""
        return self.calibration_factor.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------- arithmetic


def _share(part: Decimal, whole: Decimal) -> Decimal:
    return part / whole if whole else _ZERO


def _off_target(noncore: Decimal, predicted: Decimal, target: Decimal) -> bool:
    """Is the non-core share more than the tolerance from its target? Judged exactly."""
    if not predicted:
        return target > NONCORE_SHARE_TOLERANCE
    gap = Fraction(noncore) - Fraction(target) * Fraction(predicted)
    return abs(gap) > Fraction(NONCORE_SHARE_TOLERANCE) * Fraction(predicted)


def _segment_issuance(
    plan: Plan, segment: Segment, values: Mapping[str, Decimal]
) -> SegmentIssuance:
    core = plan.core_action
    members = Decimal(segment.members)
    if segment.total_core_amount is not None:
        core_amount = segment.total_core_amount
        core_per_member = core_amount / members
    else:
        assert segment.core_amount_per_member is not None  # guaranteed by Segment
        core_per_member = segment.core_amount_per_member
        core_amount = core_per_member * members
    core_rate = plan.completion_rates.get(core, _ONE)
    coefficient = values[core]
    actions = [
        ActionIssuance(
            action=core,
            core=True,
            rule_value=coefficient,
            count_per_member=core_per_member,
            completion_rate=core_rate,
            max_points_per_member=core_per_member * coefficient,
            predicted_points_per_member=core_per_member * coefficient * core_rate,
            max_points=core_amount * coefficient,
            predicted_points=core_amount * coefficient * core_rate,
        )
    ]
    for action in plan.rules:
        if action == core:
            continue
        count = segment.yearly_counts.get(action, _ZERO)
        rate = plan.completion_rates[action]
        value = values[action]
        actions.append(
            ActionIssuance(
                action=action,
                core=False,
                rule_value=value,
                count_per_member=count,
                completion_rate=rate,
                max_points_per_member=count * value,
                predicted_points_per_member=count * value * rate,
                max_points=count * value * members,
                predicted_points=count * value * rate * members,
            )
        )
    predicted = sum((a.predicted_points for a in actions), _ZERO)
    predicted_core = actions[0].predicted_points
    predicted_noncore = sum((a.predicted_points for a in actions[1:]), _ZERO)
    noncore_share = _share(predicted_noncore, predicted)
    target = segment.target_noncore_share
    return SegmentIssuance(
        name=segment.name,
        members=segment.members,
        core_amount=core_amount,
        core_amount_per_member=core_per_member,
        max_points_per_member=sum((a.max_points_per_member for a in actions), _ZERO),
        predicted_points_per_member=sum((a.predicted_points_per_member for a in actions), _ZERO),
        max_points=sum((a.max_points for a in actions), _ZERO),
        predicted_points=predicted,
        predicted_core_points=predicted_core,
        predicted_noncore_points=predicted_noncore,
        core_share=_share(predicted_core, predicted),
        noncore_share=noncore_share,
        target_noncore_share=target,
        share_gap=noncore_share - target,
        off_target=_off_target(predicted_noncore, predicted, target),
        actions=tuple(actions),
    )


def _total(segments: Sequence[SegmentIssuance]) -> TotalIssuance:
    members = sum(s.members for s in segments)
    max_points = sum((s.max_points for s in segments), _ZERO)
    predicted = sum((s.predicted_points for s in segments), _ZERO)
    core = sum((s.predicted_core_points for s in segments), _ZERO)
    noncore = sum((s.predicted_noncore_points for s in segments), _ZERO)
    return TotalIssuance(
        members=members,
        max_points_per_member=max_points / members,
        predicted_points_per_member=predicted / members,
        max_points=max_points,
        predicted_points=predicted,
        predicted_core_points=core,
        predicted_noncore_points=noncore,
        core_share=_share(core, predicted),
        noncore_share=_share(noncore, predicted),
    )


def _budget(plan: Plan) -> Decimal:
    budget = plan.budget
    if budget.share_of_sales is not None:
        assert budget.sales is not None  # guaranteed by Budget
        return budget.share_of_sales * budget.sales
    assert budget.per_active_member is not None  # guaranteed by Budget
    active = budget.active_members
    if active is None:
        active = sum(s.members for s in plan.segments)
    periods = _MONTHS_PER_YEAR if budget.period == "month" else 1
    return budget.per_active_member * active * periods


def _round_rule(rule: Rule, exact: Decimal) -> Decimal:
    quantum = FIXED_QUANTUM if rule.kind == "fixed" else COEFFICIENT_QUANTUM
    return exact.quantize(quantum, rounding=ROUND_HALF_UP)


def _percent(share: Decimal) -> str:
    return f"{(share * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)} %"


def _share_warning(code: str, segment: SegmentIssuance, stage: str) -> PlanWarning:
    return PlanWarning(
        code=code,
        subject=segment.name,
        message=(
            f"segment {segment.name!r}{stage}: non-core share {_percent(segment.noncore_share)} "
            f"is more than {_decimal_text(NONCORE_SHARE_TOLERANCE * 100)} percentage "
            f"points from its target {_percent(segment.target_noncore_share)}"
        ),
    )


def compute_plan(plan: Plan) -> PlanResult:
    """Compute issuance, the exchange ratio, the calibration and prices of a plan.

    Raises :class:`~gamify.errors.ProgramError` when the budget is 0 or the
    plan predicts no points (there is no ratio to calibrate).
    """
    with localcontext(_ARITHMETIC):
        try:
            return _compute(plan)
        except ArithmeticError:  # decimal.InvalidOperation or Overflow on absurd magnitudes
            raise ProgramError(
                "the plan's numbers are too large to compute with "
                f"{_ARITHMETIC.prec} significant digits"
            ) from None


def _compute(plan: Plan) -> PlanResult:
    target = plan.exchange_ratio_target
    budget = _budget(plan)
    if not budget:
        raise ProgramError("the budget is 0: there is no exchange ratio", key_path="budget")

    values = {action: rule.value for action, rule in plan.rules.items()}
    segments = tuple(_segment_issuance(plan, s, values) for s in plan.segments)
    total = _total(segments)
    if not total.predicted_points:
        raise ProgramError(
            "the plan predicts no points: there is no exchange ratio", key_path="segments"
        )
    raw_ratio = total.predicted_points / budget
    with localcontext() as wide:
        wide.prec = _FACTOR_PRECISION
        factor = target / raw_ratio

    rules: list[CalibratedRule] = []
    rounded_values: dict[str, Decimal] = {}
    warnings: list[PlanWarning] = []
    for action, rule in plan.rules.items():
        exact = rule.value * factor
        rounded = _round_rule(rule, exact)
        rounded_values[action] = rounded
        rules.append(
            CalibratedRule(
                action=action,
                core=action == plan.core_action,
                kind=rule.kind,
                per=rule.per,
                value=rule.value,
                exact=exact,
                rounded=rounded,
            )
        )
        if not rounded:
            warnings.append(
                PlanWarning(
                    code="rule_rounds_to_zero",
                    subject=action,
                    message=f"rule {action!r}: the calibrated value {exact} rounds to 0",
                )
            )

    calibrated = tuple(_segment_issuance(plan, s, rounded_values) for s in plan.segments)
    calibrated_total = _total(calibrated)
    costs = tuple(_cost(s, target, budget) for s in calibrated)

    for raw, after in zip(segments, calibrated, strict=True):
        if raw.off_target:
            warnings.append(_share_warning("noncore_share", raw, ""))
        elif after.off_target:
            warnings.append(_share_warning("calibrated_noncore_share", after, " after calibration"))

    return PlanResult(
        name=plan.name,
        core_action=plan.core_action,
        budget_basis=plan.budget.basis,
        budget=budget,
        target_ratio=target,
        issuable_points=budget * target,
        segments=segments,
        total=total,
        raw_ratio=raw_ratio,
        calibration_factor=factor,
        rules=tuple(rules),
        calibrated_segments=calibrated,
        calibrated_total=calibrated_total,
        recomputed_ratio=calibrated_total.predicted_points / budget,
        costs=costs,
        total_cost=calibrated_total.predicted_points / target,
        catalog=tuple(_price(item, target) for item in plan.catalog),
        warnings=tuple(warnings),
    )


def _cost(segment: SegmentIssuance, target: Decimal, budget: Decimal) -> SegmentCost:
    cost = segment.predicted_points / target
    return SegmentCost(
        segment=segment.name,
        members=segment.members,
        predicted_points=segment.predicted_points,
        cost=cost,
        cost_per_member=cost / segment.members,
        budget_share=cost / budget,
    )


def _price(item: CatalogItem, target: Decimal) -> PricedReward:
    ratio = item.exchange_ratio if item.exchange_ratio is not None else target
    return PricedReward(
        name=item.name,
        cash_value=item.cash_value,
        cost_rate=item.cost_rate,
        price=item.price,
        max_discount=item.max_discount,
        exchange_ratio=ratio,
        premium=_ONE if item.price is None else rewards.premium(item.price, item.max_discount),
        points=rewards.points_price(
            cash_value=item.cash_value,
            exchange_ratio=ratio,
            cost_rate=item.cost_rate,
            price=item.price,
            max_discount=item.max_discount,
        ),
    )


# --------------------------------------------------------------------------- JSON


JSONValue: TypeAlias = str | int | bool | list["JSONValue"] | dict[str, "JSONValue"] | None

_WIDE = Context(prec=100)


def _decimal_text(value: Decimal) -> str:
    """Plain notation, no exponent, no trailing zeros: ``1E+2`` -> ``"100"``."""
    return format(value.normalize(_WIDE), "f")


def _jsonable(value: object) -> JSONValue:
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    raise TypeError(f"cannot convert {type(value).__name__} to JSON")


def plan_to_dict(result: PlanResult) -> dict[str, JSONValue]:
    """The result as JSON-ready data: decimals as exact strings, tuples as lists.

    Adds ``calibration_factor_rounded`` (two decimals) beside the exact factor.
    """
    data: dict[str, JSONValue] = {}
    for f in fields(result):
        data[f.name] = _jsonable(getattr(result, f.name))
        if f.name == "calibration_factor":
            data["calibration_factor_rounded"] = format(result.calibration_factor_rounded, "f")
    return data
