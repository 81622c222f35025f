"""Challenges: goals of several conditions, with an optional window and a reward."""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from gamify.program._base import MAX_DAYS, Model, Rewards


class Goal(Model):
    """One condition of a challenge.

    ``kind``: ``count`` (``action`` done ``target`` times since enrolment, on
    ``target`` different local days with ``distinct_days``), ``earned``
    (``target`` of ``currency`` earned since enrolment), or a state judged on
    the member now: ``level``, ``tier`` (``tier`` or above), ``streak`` (the
    current length of ``streak``), ``badge`` (``badge`` held) or ``custom``
    (the registered ``predicate``).
    """

    kind: Literal["count", "earned", "level", "tier", "streak", "badge", "custom"]
    action: str | None = None
    distinct_days: bool = False
    currency: str | None = None
    streak: str | None = None
    badge: str | None = None
    tier: str | None = None
    predicate: str | None = None
    target: Decimal = Field(default=Decimal(1), gt=0)

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Goal:
        needs = {
            "count": "action",
            "earned": "currency",
            "streak": "streak",
            "badge": "badge",
            "tier": "tier",
            "custom": "predicate",
        }.get(self.kind)
        if needs and not getattr(self, needs):
            raise ValueError(f"a {self.kind!r} condition needs {needs!r}")
        return self


class Challenge(Model):
    """A challenge: complete every condition inside the window to earn the reward.

    The window is ``days`` local calendar days from enrolment (the enrolment
    day is day 1), or the fixed instants [``start``, ``end``), or none.
    ``enrolment = "auto"`` enrols at the first relevant event (which counts);
    ``"explicit"`` waits for ``engine.enroll``. A ``repeatable`` challenge
    starts a new run at the first relevant event after a completion.
    """

    conditions: list[Goal] = Field(min_length=1)
    days: int | None = Field(default=None, ge=1, le=MAX_DAYS)
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    enrolment: Literal["auto", "explicit"] = "auto"
    reward: Rewards = {}
    badge: str | None = None
    repeatable: bool = False
    description: str = ""

    @model_validator(mode="after")
    def _window(self) -> Challenge:
        if (self.start is None) != (self.end is None):
            raise ValueError("a fixed window needs both 'start' and 'end'")
        if self.start is not None and self.end is not None:
            if self.days is not None:
                raise ValueError("give either 'days' or 'start'/'end', not both")
            if self.end <= self.start:
                raise ValueError("'end' must be after 'start'")
        return self

    @cached_property
    def actions(self) -> frozenset[str]:
        """Actions whose events move this challenge (empty: every event may)."""
        if any(g.kind not in ("count",) for g in self.conditions):
            return frozenset()
        return frozenset(g.action for g in self.conditions if g.action)
