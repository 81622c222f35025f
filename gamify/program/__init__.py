"""The program: the whole declarative configuration of a gamification and loyalty scheme.

Load one with :meth:`Program.load` (TOML, JSON or YAML) or build it with
:meth:`Program.model_validate`. One schema serves every format: snake_case
keys, a table per area, a required IANA ``timezone``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from gamify._formula import Formula
from gamify._numbers import MAX_CREDIT
from gamify.errors import FormulaError, ProgramError
from gamify.program._base import MAX_DAYS, Model, TimeZoneName
from gamify.program._loader import from_validation_error, read_mapping
from gamify.program.challenges import Challenge, Goal
from gamify.program.earning import (
    Action,
    Cap,
    Condition,
    Currency,
    Multiplier,
    PerGroup,
    Rounding,
    Rule,
    Stacking,
    Validity,
)
from gamify.program.game import Badge, BadgeTier, Freeze, Levels, Milestone, Repair, Streak
from gamify.program.loyalty import CatalogReward, Redemption, Referral, Renewal, Tier, Tiers

__all__ = [
    "Action",
    "Badge",
    "BadgeTier",
    "Cap",
    "CatalogReward",
    "Challenge",
    "Condition",
    "Currency",
    "Freeze",
    "Goal",
    "Levels",
    "Milestone",
    "Multiplier",
    "PerGroup",
    "Program",
    "Redemption",
    "Referral",
    "Renewal",
    "Repair",
    "Rule",
    "Streak",
    "Tier",
    "Tiers",
    "Validity",
]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _default_currencies() -> dict[str, Currency]:
    return {"points": Currency(spendable=True), "xp": Currency(spendable=False)}


def _level_reward_problem(formula: Formula, max_level: int) -> str | None:
    """Why ``formula`` cannot pay every level from 2 to ``max_level``, if it cannot.

    It reads only ``level``, so each level's reward is known now; one that fails, or
    is more than one credit may pay, would refuse every event that reaches that level.
    """
    for level in range(2, max_level + 1):
        try:
            value = int(formula.evaluate({"level": level}))
        except FormulaError as exc:
            return f"fails at level {level}: {exc}"
        if value >= MAX_CREDIT:
            return (
                f"{formula.text!r} pays {value:,} at level {level}, more than one "
                f"credit may pay ({MAX_CREDIT - 1:,})"
            )
    return None


class Program(Model):
    """A gamification and loyalty program."""

    name: str = "program"
    timezone: TimeZoneName
    week_start: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    ] = "monday"
    rounding: Rounding = "down"
    stacking: Stacking = "compound"
    late_event_days: int = Field(default=90, ge=1, le=MAX_DAYS)
    """How far in the past an event's ``at`` may lie (cap counters are kept this long)."""
    currencies: dict[str, Currency] = Field(default_factory=_default_currencies)
    actions: dict[str, Action] = {}
    rules: list[Rule] = []
    multipliers: list[Multiplier] = []
    caps: list[Cap] = []
    expiry: Validity = Validity()
    """When points lots expire unless their rule says otherwise."""
    levels: Levels | None = None
    streaks: dict[str, Streak] = {}
    badges: dict[str, Badge] = {}
    tiers: Tiers | None = None
    referral: Referral | None = None
    renewal: Renewal | None = None
    redemption: Redemption = Redemption()
    catalog: dict[str, CatalogReward] = {}
    challenges: dict[str, Challenge] = {}

    @classmethod
    def load(cls, path: str | Path) -> Program:
        """Read a program file; any failure raises :class:`~gamify.errors.ProgramError`."""
        data = read_mapping(path)
        return cls.from_dict(data, file=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, file: str | None = None) -> Program:
        """Validate a mapping, raising :class:`~gamify.errors.ProgramError` on failure."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise from_validation_error(exc, file, data) from None
        except UnicodeEncodeError as exc:  # a lone surrogate, which pydantic cannot read
            raise ProgramError(
                f"text that is not valid Unicode: {exc.object[exc.start : exc.end]!r} "
                f"in {exc.object!r}",
                file=file,
            ) from None

    @cached_property
    def week_start_index(self) -> int:
        """0 for Monday ... 6 for Sunday."""
        return WEEKDAYS.index(self.week_start)

    @cached_property
    def rules_by_action(self) -> dict[str, tuple[Rule, ...]]:
        """Rules indexed by the action they watch (looked up once per event)."""
        out: dict[str, list[Rule]] = {}
        for rule in self.rules:
            out.setdefault(rule.action, []).append(rule)
        return {action: tuple(rules) for action, rules in out.items()}

    @cached_property
    def formula_actions(self) -> frozenset[str]:
        """Actions with a formula rule: only their events build a formula context."""
        return frozenset(r.action for r in self.rules if r.formula is not None)

    @cached_property
    def streaks_by_action(self) -> dict[str, tuple[str, ...]]:
        """Streak names indexed by the actions that qualify for them."""
        out: dict[str, list[str]] = {}
        for name, streak in self.streaks.items():
            for action in streak.actions:
                out.setdefault(action, []).append(name)
        return {a: tuple(names) for a, names in out.items()}

    @cached_property
    def badges_by_input(self) -> dict[tuple[str, str], tuple[str, ...]]:
        """Badge names indexed by what they watch, so an event checks only the badges it can move.

        Keys: ``("count", action)``, ``("sum", action)``, ``("streak", name)``,
        ``("level", "")``, ``("tier", "")``, ``("earned", currency)``,
        ``("custom", action)`` and ``("custom", "*")``.
        """
        out: dict[tuple[str, str], list[str]] = {}
        for name, badge in self.badges.items():
            keys: list[tuple[str, str]]
            if badge.metric in ("count", "sum"):
                keys = [(badge.metric, badge.action or "")]
            elif badge.metric == "streak":
                keys = [("streak", badge.streak or "")]
            elif badge.metric == "earned":
                keys = [("earned", badge.currency or "")]
            elif badge.metric == "custom":
                keys = [("custom", a) for a in badge.actions] or [("custom", "*")]
            else:
                keys = [(badge.metric, "")]
            for key in keys:
                out.setdefault(key, []).append(name)
        return {k: tuple(v) for k, v in out.items()}

    @model_validator(mode="after")
    def _references(self) -> Program:
        def fail(reason: str, where: str) -> ProgramError:
            return ProgramError(reason, key_path=where)

        for where, name in self._names():
            # Cc: control characters; Cs: lone surrogates, which no store can encode.
            if not name or any(unicodedata.category(char) in ("Cc", "Cs") for char in name):
                # Names are kept in ledger reasons, badge awards and states; PostgreSQL
                # cannot store a NUL, and a control character reads as nothing.
                reason = "a name is non-empty text without control characters"
                raise fail(f"{reason}, not {name!r}", where)
        names: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.action not in self.actions:
                raise fail(f"unknown action {rule.action!r}", f"rules[{i}].action")
            if rule.currency not in self.currencies:
                raise fail(f"unknown currency {rule.currency!r}", f"rules[{i}].currency")
            if rule.name in names:
                raise fail(f"duplicate rule name {rule.name!r}", f"rules[{i}].name")
            names.add(rule.name)
            if rule.per_amount is not None and self.actions[rule.action].amount == "none":
                raise fail(f"action {rule.action!r} carries no amount", f"rules[{i}].per_amount")
        mult_names: set[str] = set()
        for i, mult in enumerate(self.multipliers):
            if mult.name in mult_names:
                raise fail(f"duplicate multiplier name {mult.name!r}", f"multipliers[{i}].name")
            mult_names.add(mult.name)
            for rule_name in mult.rules or ():
                if rule_name not in names:
                    raise fail(f"unknown rule {rule_name!r}", f"multipliers[{i}].rules")
        for i, rule_name in enumerate((self.tiers and self.tiers.multiplier_rules) or ()):
            if rule_name not in names:
                raise fail(f"unknown rule {rule_name!r}", f"tiers.multiplier_rules[{i}]")
        self._check_game(fail)
        self._check_loyalty(fail)
        self._check_challenges(fail)
        cap_names: set[str] = set()
        for i, cap in enumerate(self.caps):
            if cap.name in cap_names:
                # Cap counters are kept by name: two caps of one name would share them.
                raise fail(f"duplicate cap name {cap.name!r}", f"caps[{i}].name")
            cap_names.add(cap.name)
            if cap.action is not None and cap.action not in self.actions:
                raise fail(f"unknown action {cap.action!r}", f"caps[{i}].action")
            if cap.currency not in self.currencies:
                raise fail(f"unknown currency {cap.currency!r}", f"caps[{i}].currency")
        return self

    def _names(self) -> Iterator[tuple[str, str]]:
        """Every name the program gives, with its key path."""
        sections: dict[str, Mapping[str, Any]] = {
            "currencies": self.currencies,
            "actions": self.actions,
            "streaks": self.streaks,
            "badges": self.badges,
            "catalog": self.catalog,
            "challenges": self.challenges,
        }
        for section, table in sections.items():
            for key in table:
                yield f"{section}.{key}", key
        for i, rule in enumerate(self.rules):
            yield f"rules[{i}].name", rule.name
        for i, multiplier in enumerate(self.multipliers):
            yield f"multipliers[{i}].name", multiplier.name
        for i, cap in enumerate(self.caps):
            yield f"caps[{i}].name", cap.name
        for key, badge in self.badges.items():
            for i, tier in enumerate(badge.tiers):
                yield f"badges.{key}.tiers[{i}].name", tier.name
        for i, level in enumerate(self.tiers.levels if self.tiers is not None else ()):
            yield f"tiers.levels[{i}].name", level.name

    def _check_loyalty(self, fail: Any) -> None:
        if (
            self.tiers is not None
            and self.tiers.action is not None
            and self.tiers.action not in self.actions
        ):
            raise fail(f"unknown action {self.tiers.action!r}", "tiers.action")
        if self.referral is not None:
            if self.referral.qualifying_action not in self.actions:
                raise fail(
                    f"unknown action {self.referral.qualifying_action!r}",
                    "referral.qualifying_action",
                )
            if self.referral.currency not in self.currencies:
                raise fail(f"unknown currency {self.referral.currency!r}", "referral.currency")
        if self.renewal is not None:
            for i, action in enumerate(self.renewal.actions):
                if action not in self.actions:
                    raise fail(f"unknown action {action!r}", f"renewal.actions[{i}]")
        # Redemption, its catalog, renewal and points-earned tiers work on spendable points.
        points = self.currencies.get("points")
        for needs, where in (
            (bool(self.catalog), "catalog"),
            (self.renewal is not None, "renewal"),
            (self.tiers is not None and self.tiers.metric == "points_earned", "tiers.metric"),
        ):
            if needs and (points is None or not points.spendable):
                raise fail("needs a spendable 'points' currency", where)
        for name, badge in self.badges.items():
            if badge.metric == "tier":
                known = [t.name for t in self.tiers.levels] if self.tiers else []
                if badge.tier not in known:
                    raise fail(f"unknown tier {badge.tier!r}", f"badges.{name}.tier")

    def _check_challenges(self, fail: Any) -> None:
        tier_names = [t.name for t in self.tiers.levels] if self.tiers else []
        for name, challenge in self.challenges.items():
            where = f"challenges.{name}"
            for currency in challenge.reward:
                if currency not in self.currencies:
                    raise fail(f"unknown currency {currency!r}", f"{where}.reward.{currency}")
            if challenge.badge is not None and challenge.badge not in self.badges:
                raise fail(f"unknown badge {challenge.badge!r}", f"{where}.badge")
            if challenge.badge is not None and self.badges[challenge.badge].kind != "one_off":
                raise fail(
                    f"badge {challenge.badge!r} is {self.badges[challenge.badge].kind}: a "
                    "challenge awards a one-off badge (tiers and occurrences follow their metric)",
                    f"{where}.badge",
                )
            for i, goal in enumerate(challenge.conditions):
                at = f"{where}.conditions[{i}]"
                if goal.action is not None and goal.action not in self.actions:
                    raise fail(f"unknown action {goal.action!r}", f"{at}.action")
                if goal.currency is not None and goal.currency not in self.currencies:
                    raise fail(f"unknown currency {goal.currency!r}", f"{at}.currency")
                if goal.streak is not None and goal.streak not in self.streaks:
                    raise fail(f"unknown streak {goal.streak!r}", f"{at}.streak")
                if goal.badge is not None and goal.badge not in self.badges:
                    raise fail(f"unknown badge {goal.badge!r}", f"{at}.badge")
                if goal.tier is not None and goal.tier not in tier_names:
                    raise fail(f"unknown tier {goal.tier!r}", f"{at}.tier")
                if goal.kind == "level" and self.levels is None:
                    raise fail("a level condition needs a 'levels' section", f"{at}.kind")

    def _check_game(self, fail: Any) -> None:
        def currencies(rewards: dict[str, Any], where: str) -> None:
            for currency in rewards:
                if currency not in self.currencies:
                    raise fail(f"unknown currency {currency!r}", f"{where}.{currency}")

        if self.levels is not None:
            if self.levels.currency not in self.currencies:
                raise fail(f"unknown currency {self.levels.currency!r}", "levels.currency")
            currencies(self.levels.reward, "levels.reward")
            for currency, formula in self.levels.reward.items():
                # Only the level is known when a level pays: another name can never evaluate.
                unknown = sorted(formula.names - {"level"})
                if unknown:
                    raise fail(
                        f"unknown name {unknown[0]!r} in {formula.text!r} "
                        "(a level reward reads only 'level')",
                        f"levels.reward.{currency}",
                    )
                problem = _level_reward_problem(formula, self.levels.level_curve.max_level)
                if problem is not None:
                    raise fail(problem, f"levels.reward.{currency}")
        for name, streak in self.streaks.items():
            for i, action in enumerate(streak.actions):
                if action not in self.actions:
                    raise fail(f"unknown action {action!r}", f"streaks.{name}.actions[{i}]")
            if streak.repair is not None and streak.repair.currency not in self.currencies:
                raise fail(
                    f"unknown currency {streak.repair.currency!r}",
                    f"streaks.{name}.repair.currency",
                )
            if streak.repair is not None and not self.currencies[streak.repair.currency].spendable:
                raise fail(
                    f"a repair is paid in a spendable currency, not {streak.repair.currency!r}",
                    f"streaks.{name}.repair.currency",
                )
            if len(set(streak.actions)) != len(streak.actions):
                raise fail("an action is listed twice", f"streaks.{name}.actions")
            for i, milestone in enumerate(streak.milestones):
                currencies(milestone.reward, f"streaks.{name}.milestones[{i}].reward")
        for name, badge in self.badges.items():
            where = f"badges.{name}"
            if badge.action is not None and badge.action not in self.actions:
                raise fail(f"unknown action {badge.action!r}", f"{where}.action")
            for i, action in enumerate(badge.actions):
                if action not in self.actions:
                    raise fail(f"unknown action {action!r}", f"{where}.actions[{i}]")
            if badge.streak is not None and badge.streak not in self.streaks:
                raise fail(f"unknown streak {badge.streak!r}", f"{where}.streak")
            if badge.currency is not None and badge.currency not in self.currencies:
                raise fail(f"unknown currency {badge.currency!r}", f"{where}.currency")
            if badge.metric == "level" and self.levels is None:
                raise fail("a level badge needs a 'levels' section", f"{where}.metric")
            currencies(badge.reward, f"{where}.reward")
            for i, tier in enumerate(badge.tiers):
                currencies(tier.reward, f"{where}.tiers[{i}].reward")
        for i, rule in enumerate(self.rules):
            if rule.streak is not None and rule.streak not in self.streaks:
                raise fail(f"unknown streak {rule.streak!r}", f"rules[{i}].streak")
            if rule.streak is not None and rule.action not in self.streaks[rule.streak].actions:
                raise fail(
                    f"streak {rule.streak!r} does not count action {rule.action!r}",
                    f"rules[{i}].streak",
                )
