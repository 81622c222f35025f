"""Earning: currencies, actions, rules, multipliers and caps."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from gamify._formula import Formula
from gamify.errors import ProgramError
from gamify.program._base import MAX_DAYS, MAX_MONTHS, Model

Rounding = Literal["down", "up", "half_up", "half_even"]
Stacking = Literal["compound", "additive", "highest"]
CapPeriod = Literal["event", "day", "week", "month"]


class Currency(Model):
    """A balance kept in the ledger. ``spendable`` currencies can be redeemed and expire."""

    spendable: bool = True
    description: str = ""


class Action(Model):
    """Something a member does. ``amount`` says whether events carry an amount."""

    amount: Literal["optional", "required", "none"] = "optional"
    description: str = ""


def exact(value: Any) -> Any:
    """A float read through its text, as the program reads numbers; anything else as it is."""
    return Decimal(repr(value)) if type(value) is float else value


class Condition(Model):
    """A test on one event attribute (or on ``amount``).

    ``in``/``not_in`` take a list ``value``; ``gt``/``gte``/``lt``/``lte`` a
    number (or text that reads as one); ``exists`` takes no ``value``.
    """

    attribute: str
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "exists"] = "eq"
    value: Any = None

    @cached_property
    def expected(self) -> Any:
        """``value`` as events are compared with it: floats through their text (9.99 is
        Decimal("9.99"), as an amount is), a list of values as a tuple."""
        if isinstance(self.value, list | tuple):
            return tuple(exact(v) for v in self.value)
        return exact(self.value)

    @model_validator(mode="after")
    def _value_for_op(self) -> Condition:
        if self.op in ("in", "not_in") and not isinstance(self.value, (list, tuple)):
            raise ProgramError(
                f"the {self.op!r} test needs a list of values, got {self.value!r}",
                key_path="value",
            )
        if self.op in ("gt", "gte", "lt", "lte") and not _is_number(self.value):
            raise ProgramError(
                f"the {self.op!r} test needs a finite number, got {self.value!r}",
                key_path="value",
            )
        if self.op == "exists" and self.value is not None:
            raise ProgramError(
                "the 'exists' test takes no value (it only checks the attribute is present)",
                key_path="value",
            )
        return self


def _is_number(value: Any) -> bool:
    """Whether a comparison reads ``value`` as a finite number (as evaluation does)."""
    if value is None or isinstance(value, bool):
        return False
    try:
        return Decimal(str(value)).is_finite()
    except (ArithmeticError, ValueError):
        return False


class PerGroup(Model):
    """Pay per whole group of an attribute: 100 per 5 bottles pays 100 × floor(bottles / 5)."""

    attribute: str
    size: int = Field(gt=0)


class Rule(Model):
    """An earning rule: an action pays a currency.

    Exactly one of ``fixed`` (``check_in: 5``), ``per_amount`` (``purchase:
    amount × 1``) or ``formula`` (``10 + min(2 * streak, 50)``) gives the award.
    """

    name: str
    action: str
    currency: str = "points"
    fixed: Decimal | None = None
    per_amount: Decimal | None = None
    formula: Formula | None = None
    per: PerGroup | None = None
    conditions: list[Condition] = []
    streak: str | None = None
    """The streak the formula reads as ``streak`` (default: the action's first streak)."""
    pending_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)
    """Credit as pending for this many local calendar days (a return window)."""
    validity: Validity | None = None
    """Expiry of this rule's points, overriding the program's expiry policy."""

    @field_validator("conditions", mode="before")
    @classmethod
    def _conditions_shorthand(cls, value: Any) -> Any:
        # ``conditions = { channel = "app" }`` is short for equality tests.
        if isinstance(value, dict):
            return [{"attribute": k, "op": "eq", "value": v} for k, v in value.items()]
        return value

    @model_validator(mode="after")
    def _one_award(self) -> Rule:
        given = [n for n in ("fixed", "per_amount", "formula") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "a rule needs exactly one of 'fixed', 'per_amount' or 'formula'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        for name in ("fixed", "per_amount"):
            value = getattr(self, name)
            if value is not None and (not value.is_finite() or value < 0):
                raise ValueError(f"'{name}' must be a finite number >= 0")
        return self


class Validity(Model):
    """When a lot expires, counted from the event's instant in the member's zone.

    ``policy``: ``never``; ``end_of_next_year`` (earned in 2026, gone at
    2028-01-01 00:00 local); ``months_end`` (the end of the month ``months``
    after the month of earning: 0 is the end of the current month);
    ``months`` (``months`` after earning at the same wall-clock time; at least
    1, since 0 would expire a lot the instant it is earned).
    """

    policy: Literal["never", "end_of_next_year", "months_end", "months"] = "never"
    months: int = Field(default=0, ge=0, le=MAX_MONTHS)

    @model_validator(mode="after")
    def _months_for_policy(self) -> Validity:
        # 0 months after earning is the instant of earning: the lot would never be spendable.
        if self.policy == "months" and self.months < 1:
            raise ProgramError(
                "must be at least 1 for the 'months' policy (0 would expire points "
                "the instant they are earned)",
                key_path="months",
            )
        return self


class Multiplier(Model):
    """A factor on earning rules.

    ``kind``: ``tag`` (members with ``tag``), ``campaign`` (from ``start``,
    inclusive, to ``end``, exclusive), ``birthday_month`` (the member's birthday
    month in their zone). Applies to ``rules`` when listed, else to every rule
    that pays points.
    """

    name: str
    kind: Literal["tag", "campaign", "birthday_month"]
    factor: Decimal = Field(gt=0)
    tag: str | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    rules: list[str] | None = None

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Multiplier:
        if self.kind == "tag" and not self.tag:
            raise ValueError("a 'tag' multiplier needs 'tag'")
        if self.kind == "campaign":
            if self.start is None or self.end is None:
                raise ValueError("a 'campaign' multiplier needs 'start' and 'end'")
            if self.end <= self.start:
                raise ValueError("a campaign's 'end' must be after its 'start'")
        return self

    def active(self, at: datetime) -> bool:
        """Whether a campaign runs at ``at`` (half-open: on at start, off at end)."""
        assert self.start is not None and self.end is not None
        return self.start <= at < self.end


class Cap(Model):
    """A limit on what earning rules credit, applied after multipliers.

    ``period = "event"`` limits one event; ``day``/``week``/``month`` limit a
    local calendar period. ``action`` restricts the cap to one action (else it
    is an overall cap over every action).
    """

    name: str
    limit: int = Field(ge=0)
    period: CapPeriod = "day"
    action: str | None = None
    currency: str = "points"


Rule.model_rebuild()
