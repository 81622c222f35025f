"""The game side of a program: level curve, streaks and badges."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from functools import cached_property
from typing import Literal

from pydantic import Field, model_validator

from gamify._formula import Formula
from gamify.components.curves import LevelCurve, build_curve
from gamify.errors import CurveError, ProgramError
from gamify.program._base import MAX_HOURS, Model, Rewards


class Levels(Model):
    """The level curve and what reaching a level pays.

    ``curve`` is a family name (``linear``, ``polynomial``, ``exponential``,
    ``erratic``, ``fast``, ``medium_fast``, ``medium_slow``, ``slow``,
    ``fluctuating``, ``runescape``) or ``table`` with ``thresholds``.
    ``reward`` maps a currency to a formula of ``level`` (``"50 * level"``).
    """

    curve: str = "linear"
    params: dict[str, Decimal] = {}
    thresholds: list[int] | None = None
    max_level: int | None = Field(default=None, ge=2)
    """The highest level (default 100 for formula families, the table's length for tables)."""
    currency: str = "xp"
    at_max: Literal["accrue", "stop"] = "accrue"
    """Past the maximum level XP keeps accruing, or stops."""
    reward: dict[str, Formula] = {}
    on_curve_change: Literal["keep", "recompute"] = "keep"

    @model_validator(mode="after")
    def _valid_curve(self) -> Levels:
        try:
            self.level_curve  # noqa: B018 - built once here so a bad curve fails at load
        except CurveError as exc:
            raise ValueError(str(exc)) from None
        return self

    @cached_property
    def level_curve(self) -> LevelCurve:
        return build_curve(
            self.curve,
            dict(self.params),
            max_level=self.max_level,
            thresholds=self.thresholds,
        )

    @cached_property
    def signature(self) -> str:
        """Names this curve, so a member's state notices when the program's curve changed."""
        params = sorted(self.params.items())
        text = f"{self.curve}:{params}:{self.thresholds}:{self.level_curve.max_level}"
        # A digest: every member's state keeps it, so it stays short.
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class Milestone(Model):
    """A streak length that pays ``reward`` once per run."""

    length: int = Field(ge=1)
    reward: Rewards = {}


class Freeze(Model):
    """Freeze tokens: one granted each time the length reaches a multiple of ``every``."""

    every: int = Field(ge=1)
    max_tokens: int = Field(default=1, ge=1)


class Repair(Model):
    """Restoring a broken streak within ``window_hours`` of the end of the first missed period."""

    window_hours: int = Field(default=48, ge=1, le=MAX_HOURS)
    cost: int = Field(default=0, ge=0)
    currency: str = "points"
    per_month: int | None = Field(default=None, ge=1)


class Streak(Model):
    """Consecutive periods (local days or weeks) with a qualifying action."""

    actions: list[str] = Field(min_length=1)
    period: Literal["day", "week"] = "day"
    milestones: list[Milestone] = []
    freeze: Freeze | None = None
    repair: Repair | None = None


Metric = Literal["count", "sum", "streak", "level", "tier", "earned", "custom"]


class BadgeTier(Model):
    name: str
    threshold: Decimal
    reward: Rewards = {}


class Badge(Model):
    """An achievement awarded when a metric of the member's state reaches a threshold.

    ``metric``: ``count`` / ``sum`` of ``action``, ``streak`` (current length of
    ``streak``), ``level``, ``tier`` (reaching ``tier`` or above), ``earned``
    (lifetime credits of ``currency`` net of reversals) or ``custom`` (a
    predicate registered in code under ``predicate``, checked on the events of
    ``actions``, or every event when empty).
    """

    kind: Literal["one_off", "tiered", "repeatable"] = "one_off"
    metric: Metric
    action: str | None = None
    streak: str | None = None
    currency: str | None = None
    tier: str | None = None
    predicate: str | None = None
    actions: list[str] = []
    threshold: Decimal | None = None
    tiers: list[BadgeTier] = []
    reward: Rewards = {}
    secret: bool = False
    description: str = ""

    @model_validator(mode="after")
    def _fields_for_metric(self) -> Badge:
        needs = {
            "count": "action",
            "sum": "action",
            "streak": "streak",
            "earned": "currency",
            "custom": "predicate",
            "tier": "tier",
        }.get(self.metric)
        if needs and not getattr(self, needs):
            raise ValueError(f"a {self.metric!r} badge needs {needs!r}")
        if self.kind == "tiered":
            if not self.tiers:
                raise ValueError("a tiered badge needs 'tiers'")
            values = [t.threshold for t in self.tiers]
            if values != sorted(set(values)):
                raise ValueError("badge tier thresholds must be strictly increasing")
            names: set[str] = set()
            for i, tier in enumerate(self.tiers):
                if tier.name in names:
                    raise ProgramError(
                        f"duplicate badge tier name {tier.name!r}", key_path=f"tiers[{i}].name"
                    )
                names.add(tier.name)
        elif self.metric != "tier" and self.metric != "custom" and self.threshold is None:
            raise ValueError(f"a {self.kind} badge needs 'threshold'")
        if self.kind == "repeatable" and (self.threshold is None or self.threshold <= 0):
            raise ValueError("a repeatable badge needs a positive 'threshold'")
        return self
