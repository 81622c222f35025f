"""``gamify program diff``: what an edit of a program changes, and what it does to members."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import BaseModel
from rich.table import Table

from gamify._formula import Formula
from gamify.cli._output import bad_input, console, emit_json, titled_table
from gamify.cli._program import _dump, _text
from gamify.program import Levels, Program
from gamify.simulation import Behaviour, load_program

__all__ = ["EFFECTS", "Change", "CurveDiff", "ProgramDiff", "diff", "diff_programs"]

ChangeKind = Literal["added", "removed", "changed"]

# What each kind of edit does to members' stored state, as "Changing a running program"
# in docs/program.md states it, and whether it needs attention before deploying.
# Keys: (section, kind); kind is "added", "removed", "changed", "renamed" (a removed and an
# added item of equal settings) or "changed:<field>" for one field's edit. Section "*"
# holds the texts of edits the section does not name.
EFFECTS: dict[tuple[str, str], tuple[str, bool]] = {
    ("*", "added"): ("New in the program: what members hold stays as written.", False),
    ("*", "removed"): (
        "What members hold stays as written; it has no new effect on them.",
        False,
    ),
    ("*", "changed"): ("What members hold stays as written; new events follow the edit.", False),
    ("*", "changed:description"): ("Free text for readers: members are not affected.", False),
    ("settings", "changed:week_start"): (
        "Weekly caps, streaks and boards follow the new weeks from the change on; made "
        "mid-week, it splits the week in progress (deploy it on the first day of a new week).",
        True,
    ),
    ("settings", "changed:timezone"): (
        "Members keep the zone they have; new members get the new one.",
        False,
    ),
    ("expiry", "changed"): (
        "Existing lots keep their expiry instants; only new credits follow the new terms.",
        True,
    ),
    ("currencies", "added"): ("Takes effect from each member's next event.", False),
    ("currencies", "removed"): (
        "Balances, lots and entries are kept and still shown, and its lots still expire; "
        "nothing credits it any more, and adjust, leaderboard and rank refuse it.",
        True,
    ),
    ("actions", "removed"): (
        "track with its name raises UnknownActionError; its keys still replay and reverse.",
        True,
    ),
    ("actions", "renamed"): (
        "A rename is a removal plus a new action: count and sum badges on the new name "
        "start from 0 (awards held stay held); streaks and challenge runs keep what they "
        "counted.",
        True,
    ),
    ("actions", "changed:amount"): (
        "track calls must follow the new setting (a missing or unexpected amount raises "
        "InvalidAmountError); keys tracked before still replay.",
        True,
    ),
    ("actions", "changed:amount optional"): (
        "Calls with an amount and calls without are both accepted.",
        False,
    ),
    ("rules", "added"): ("Takes effect from each member's next event.", False),
    ("rules", "removed"): (
        "New events pay by the new rules; credits already written, their lots and pending "
        "points do not change, and its pending points still mature.",
        False,
    ),
    ("rules", "changed"): (
        "New events pay by the new rules; credits already written, their lots and pending "
        "points do not change.",
        False,
    ),
    ("rules", "changed:validity"): (
        "Existing lots keep their expiry instants; only new credits follow the new terms.",
        True,
    ),
    ("rules", "changed:pending_days"): (
        "Existing lots keep their maturity instants; new credits follow the new terms.",
        False,
    ),
    ("multipliers", "added"): (
        "New events earn by it; credits already written keep their amounts.",
        False,
    ),
    ("multipliers", "removed"): (
        "New events earn without it, a running campaign included; credits already "
        "written keep their amounts.",
        False,
    ),
    ("multipliers", "changed"): (
        "New events earn by the new terms; credits already written keep their amounts.",
        False,
    ),
    ("caps", "removed"): ("Without the cap the next event pays in full.", False),
    ("caps", "changed:limit raised"): (
        "What was used in the current period counts toward the new limit.",
        False,
    ),
    ("caps", "changed:limit lowered"): (
        "What was used in the current period counts: a limit below it pays nothing more "
        "this period (the outcome reports the cut) and takes nothing back.",
        False,
    ),
    ("levels", "removed"): (
        "The stored level stays in the profile and nothing moves it.",
        False,
    ),
    ("levels", "changed:curve keep"): (
        "Levels stay until XP is next credited, then follow the new curve upward, paying "
        "the rewards of the levels crossed (on_curve_change = keep).",
        False,
    ),
    ("levels", "changed:curve recompute"): (
        "Each member's level is read again from XP at their next event, never lowered "
        "(on_curve_change = recompute).",
        False,
    ),
    ("levels", "changed:max_level lowered"): (
        "Members above the maximum keep their level and reach no further one; with "
        'at_max = "stop" XP past the maximum\'s threshold is cut.',
        False,
    ),
    ("streaks", "added"): (
        "Takes effect from each member's next event: the new streak starts at 1.",
        False,
    ),
    ("streaks", "removed"): (
        "Runs are kept but no longer counted nor listed in the profile; streak_history "
        "still returns them and repair_streak raises NotFoundError.",
        True,
    ),
    ("streaks", "renamed"): (
        "A renamed streak is a new streak: it starts at 1 at each member's next event; runs "
        "of the old name are kept but no longer counted.",
        True,
    ),
    ("streaks", "changed:period"): (
        "A run keeps its length as a number of periods (a daily run of 3 becomes a weekly "
        "run of 3); the next event counts in the new period.",
        True,
    ),
    ("streaks", "changed:freeze removed"): (
        "Tokens already held stay and still cover missed periods; no new ones are granted.",
        False,
    ),
    ("streaks", "changed:repair removed"): (
        "repair_streak raises StreakRepairError (this streak cannot be repaired).",
        False,
    ),
    ("badges", "added"): (
        "Awarded at each member's next event that moves its metric, if they already qualify.",
        False,
    ),
    ("badges", "removed"): (
        "Members keep it, listed without a reward; it is no longer awarded and "
        "badge_progress raises NotFoundError.",
        True,
    ),
    ("badges", "renamed"): (
        "A renamed badge is a new badge: members who qualify earn it and its reward again at "
        "their next event that moves its metric, and keep the old one.",
        True,
    ),
    ("badges", "changed:threshold"): ("Awards held stay.", False),
    ("badges", "changed:threshold repeatable"): (
        "Awards held stay; a repeatable badge's next occurrence comes at (occurrences "
        "held + 1) × the new threshold.",
        False,
    ),
    ("badges", "changed:kind"): (
        "The number of awards held is kept and read under the new kind.",
        False,
    ),
    ("badge tiers", "added"): (
        "Awarded at the next event that moves the badge's metric, if the member reaches "
        "its threshold.",
        False,
    ),
    ("badge tiers", "removed"): (
        "Stays held, listed without a reward; the badge is complete when every tier of "
        "the program is held.",
        True,
    ),
    ("badge tiers", "renamed"): (
        "A renamed tier is a new tier: members who reach it earn it and its reward again, "
        "and keep the old one.",
        True,
    ),
    ("badge tiers", "changed:threshold"): ("Awards held stay.", False),
    ("tiers", "added"): ("Takes effect from each member's next event.", False),
    ("tiers", "removed"): (
        "The stored tier stays in the profile with no effect (no multiplier); run_due "
        "drops pending reviews.",
        True,
    ),
    ("tiers", "changed:multiplier_rules"): (
        "New events use the tier multipliers on these rules; credits already written keep "
        "their amounts.",
        False,
    ),
    ("tiers", "changed:window"): (
        "Tiers are read over the new window from the monthly totals members' state keeps: "
        "a higher tier is given at the next qualifying event, a drop waits for the review.",
        False,
    ),
    ("tier levels", "added"): (
        "Takes effect from each member's next event; a tier above every member's value "
        "changes nothing.",
        False,
    ),
    ("tier levels", "removed"): (
        "The profile shows it until the member's next event or due review, which places "
        "them in the highest tier their qualifying value reaches; that event earns by the "
        "new tier's multiplier.",
        True,
    ),
    ("tier levels", "changed:multiplier"): (
        "New events use it; credits already written keep their amounts.",
        False,
    ),
    ("tier levels", "changed:discount"): (
        "Read by the application only; the engine does not use it.",
        False,
    ),
    ("tier levels", "changed:benefits"): (
        "Read by the application only; the engine does not use them.",
        False,
    ),
    ("referral", "removed"): (
        "referral_code and join raise ConfigurationError; referrer links stay, and a "
        "referee's qualifying event pays no referral reward.",
        True,
    ),
    ("referral", "changed"): (
        "Referrals that qualify from now on pay by the new scheme, and members who join "
        "from now on get the new welcome reward; rewards already paid stay.",
        False,
    ),
    ("renewal", "added"): (
        "From each member's next renewing event on, lots due within the window move on.",
        False,
    ),
    ("renewal", "removed"): (
        "No lot is renewed any more; lots already renewed keep their new expiry.",
        False,
    ),
    ("renewal", "changed"): (
        "The next renewing event renews by the new terms; lots already renewed keep their expiry.",
        False,
    ),
    ("redemption", "changed"): (
        "Prices and new redemptions follow the new terms; past redemptions keep what they "
        "spent, and a refund restores exactly those lots.",
        False,
    ),
    ("catalog", "removed"): (
        "reward_price and redeem raise NotFoundError for it; its past redemptions still "
        "refund the lots they spent.",
        False,
    ),
    ("catalog", "changed"): (
        "reward_price and new redemptions use the new price; past redemptions keep what "
        "they spent, and a refund restores exactly those lots.",
        False,
    ),
    ("challenges", "added"): (
        "Takes effect from each member's next event: an automatic challenge enrols them.",
        False,
    ),
    ("challenges", "changed:days"): (
        "Runs in progress keep the window they started with; runs that start later get "
        "the new length.",
        False,
    ),
    ("challenges", "removed"): (
        "Runs are kept and no longer counted; challenge_progress and enroll raise "
        "NotFoundError (a program that brings it back finds the stored runs).",
        True,
    ),
    ("challenges", "renamed"): (
        "A renamed challenge is a new challenge (an automatic one enrols members at their "
        "next event); runs of the old name are kept and no longer counted.",
        True,
    ),
    ("simulation", "added"): ("Read by gamify simulate only: members are not affected.", False),
    ("simulation", "removed"): (
        "Read by gamify simulate only: members are not affected.",
        False,
    ),
    ("simulation", "changed"): (
        "Read by gamify simulate only: members are not affected.",
        False,
    ),
}
for _kind in ("added", "removed", "changed"):
    EFFECTS[("simulation segments", _kind)] = EFFECTS[("simulation", _kind)]
EFFECTS[("tiers", "changed:months")] = EFFECTS[("tiers", "changed:window")]  # one window

_GENERIC = [EFFECTS[("*", kind)] for kind in ("added", "removed", "changed")]
_SETTINGS = ("name", "timezone", "week_start", "rounding", "stacking", "late_event_days")
_CURVE_FIELDS = ("curve", "params", "thresholds", "max_level")
_CURVE_ROWS = 10  # the changed levels a terminal shows; --json lists them all


def _effect(section: str, kind: str) -> tuple[str, bool]:
    base = kind.split(":")[0]
    for key in ((section, kind), ("*", kind), (section, base), ("*", base)):
        if key in EFFECTS:
            return EFFECTS[key]
    raise KeyError((section, kind))  # pragma: no cover - ("*", base) is always there


@dataclass(frozen=True)
class Change:
    """One named item of one section added, removed or changed (with the fields changed)."""

    section: str
    name: str
    change: ChangeKind
    fields: dict[str, tuple[Any, Any]]
    effect: str
    attention: bool
    renamed: str | None = None
    """The item of the other side with equal settings: a possible rename."""


@dataclass(frozen=True)
class CurveDiff:
    """The levels whose cumulative XP differs, as (level, old XP, new XP)."""

    old_max_level: int
    new_max_level: int
    levels: list[tuple[int, int, int]]


@dataclass
class ProgramDiff:
    """Every change between two programs, in the order of the file's sections, and the
    level curve's (``None`` when no level's XP nor the maximum changes)."""

    changes: list[Change] = field(default_factory=list)
    curve: CurveDiff | None = None


# -- comparing ----------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A comparable form: models as their fields, lists as tuples, formulas as their text."""
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, Formula):
        return str(value)
    return value


def _field_values(item: BaseModel) -> dict[str, Any]:
    values = {name: getattr(item, name) for name in type(item).model_fields}
    if isinstance(item, Levels):
        values["max_level"] = item.level_curve.max_level  # the effective maximum
    return values


def _changed_fields(
    old: BaseModel, new: BaseModel, skip: tuple[str, ...]
) -> dict[str, tuple[Any, Any]]:
    old_values, new_values = _field_values(old), _field_values(new)
    return {
        name: (old_values[name], new_values[name])
        for name in old_values
        if name not in skip and _plain(old_values[name]) != _plain(new_values[name])
    }


def _same_settings(old: BaseModel, new: BaseModel) -> bool:
    """Whether two items differ only by name."""
    return not _changed_fields(old, new, ("name",))


def _settings_of(item: BaseModel) -> dict[str, Any]:
    """What an item added or removed sets, but its name."""
    return {k: v for k, v in _dump(item).items() if k != "name"}


def _field_kind(section: str, name: str, old: Any, new: Any, item: Any) -> str:
    """The kind of edit one field's change is, for :data:`EFFECTS`."""
    if section == "caps" and name == "limit":
        return f"changed:limit {'lowered' if new < old else 'raised'}"
    if section == "actions" and name == "amount" and new == "optional":
        return "changed:amount optional"  # every call made before is still accepted
    if section == "levels" and name == "max_level" and new < old:
        return "changed:max_level lowered"
    if section == "levels" and name in _CURVE_FIELDS:
        return f"changed:curve {item.on_curve_change}"
    if section == "badges" and name == "threshold" and item.kind == "repeatable":
        return "changed:threshold repeatable"
    if section == "streaks" and name in ("freeze", "repair") and new is None:
        return f"changed:{name} removed"
    return f"changed:{name}"


class _Differ:
    def __init__(self) -> None:
        self.changes: list[Change] = []

    def section(
        self,
        section: str,
        old: Mapping[str, BaseModel],
        new: Mapping[str, BaseModel],
        *,
        skip: tuple[str, ...] = (),
        inner: Callable[[str, Any, Any], None] | None = None,
    ) -> None:
        """Compare two sections' items by name; ``skip`` names fields compared elsewhere."""
        removed = [name for name in old if name not in new]
        added = [name for name in new if name not in old]
        renames: dict[str, str] = {}
        for gone in removed:
            for name in added:
                if name not in renames.values() and _same_settings(old[gone], new[name]):
                    renames[gone] = name
                    break
        came = {v: k for k, v in renames.items()}
        for name in removed:
            kind = "renamed" if name in renames and (section, "renamed") in EFFECTS else "removed"
            self.add(
                section,
                name,
                "removed",
                {k: (v, None) for k, v in _settings_of(old[name]).items()},
                kind,
                renamed=renames.get(name),
            )
        for name in added:
            kind = "renamed" if name in came and (section, "renamed") in EFFECTS else "added"
            self.add(
                section,
                name,
                "added",
                {k: (None, v) for k, v in _settings_of(new[name]).items()},
                kind,
                renamed=came.get(name),
            )
        for name in old:
            if name not in new:
                continue
            fields = _changed_fields(old[name], new[name], ("name", *skip))
            if fields:
                kinds = [
                    _field_kind(section, f, before, after, new[name])
                    for f, (before, after) in fields.items()
                ]
                self.add(section, name, "changed", fields, *kinds)
            if inner is not None:
                inner(name, old[name], new[name])

    def add(
        self,
        section: str,
        name: str,
        change: ChangeKind,
        fields: dict[str, tuple[Any, Any]],
        *kinds: str,
        renamed: str | None = None,
    ) -> None:
        effects = [_effect(section, kind) for kind in kinds]
        named = [effect for effect in effects if effect not in _GENERIC]
        texts: list[str] = []
        for text, _ in named or effects:  # the general texts only when nothing names the edit
            if text not in texts:
                texts.append(text)
        attention = any(flag for _, flag in effects)
        self.changes.append(
            Change(section, name, change, fields, " ".join(texts), attention, renamed)
        )


def _by_name(items: list[Any]) -> dict[str, Any]:
    return {item.name: item for item in items}


def _tiers_of(badge: str, item: Any) -> dict[str, Any]:
    """A badge's tiers, known by name: ``"badge: tier"``."""
    return {f"{badge}: {tier.name}": tier for tier in item.tiers}


def _one(section: str, item: BaseModel | None) -> dict[str, BaseModel]:
    return {} if item is None else {section: item}


def diff_programs(
    old: Program,
    new: Program,
    old_behaviour: Behaviour | None = None,
    new_behaviour: Behaviour | None = None,
) -> ProgramDiff:
    """Every difference between two programs, section by section, with its effect."""
    differ = _Differ()
    for name in _SETTINGS:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            differ.add("settings", name, "changed", {name: (before, after)}, f"changed:{name}")
    differ.section("expiry", _one("expiry", old.expiry), _one("expiry", new.expiry))
    differ.section("currencies", old.currencies, new.currencies)
    differ.section("actions", old.actions, new.actions)
    differ.section("rules", _by_name(old.rules), _by_name(new.rules))
    differ.section("multipliers", _by_name(old.multipliers), _by_name(new.multipliers))
    differ.section("caps", _by_name(old.caps), _by_name(new.caps))
    differ.section("levels", _one("levels", old.levels), _one("levels", new.levels))
    differ.section("streaks", old.streaks, new.streaks)

    def badge_tiers(badge: str, before: Any, after: Any) -> None:
        differ.section("badge tiers", _tiers_of(badge, before), _tiers_of(badge, after))

    differ.section("badges", old.badges, new.badges, skip=("tiers",), inner=badge_tiers)

    def tier_levels(_: str, before: Any, after: Any) -> None:
        differ.section("tier levels", _by_name(before.levels), _by_name(after.levels))

    differ.section(
        "tiers",
        _one("tiers", old.tiers),
        _one("tiers", new.tiers),
        skip=("levels",),
        inner=tier_levels,
    )
    differ.section("referral", _one("referral", old.referral), _one("referral", new.referral))
    differ.section("renewal", _one("renewal", old.renewal), _one("renewal", new.renewal))
    differ.section(
        "redemption", _one("redemption", old.redemption), _one("redemption", new.redemption)
    )
    differ.section("catalog", old.catalog, new.catalog)
    differ.section("challenges", old.challenges, new.challenges)

    def segments(_: str, before: Any, after: Any) -> None:
        differ.section("simulation segments", _by_name(before.segments), _by_name(after.segments))

    differ.section(
        "simulation",
        _one("simulation", old_behaviour),
        _one("simulation", new_behaviour),
        skip=("segments",),
        inner=segments,
    )
    return ProgramDiff(differ.changes, _curve_diff(old, new))


def _curve_diff(old: Program, new: Program) -> CurveDiff | None:
    """The levels both curves have whose cumulative XP differs, and the maxima."""
    if old.levels is None or new.levels is None:
        return None
    before, after = old.levels.level_curve.thresholds, new.levels.level_curve.thresholds
    levels = [
        (index + 1, xp_before, xp_after)
        for index, (xp_before, xp_after) in enumerate(zip(before, after, strict=False))
        if xp_before != xp_after
    ]
    if not levels and len(before) == len(after):
        return None
    return CurveDiff(len(before), len(after), levels)


# -- output -------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    """A program value ready for :func:`jsonable`: models as the fields they set, formulas
    as their text."""
    if isinstance(value, BaseModel):
        return _json_value(_dump(value))
    if isinstance(value, Mapping):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, Formula):
        return str(value)
    return value


def _show(value: Any) -> str:
    """A value as ``program check`` prints it; ``-`` for one not set."""
    if value is None:
        return "-"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return _text(value) or "-"


def diff_data(result: ProgramDiff, old: Path, new: Path) -> dict[str, Any]:
    """The ``--json`` document."""
    curve = result.curve
    return {
        "old": str(old),
        "new": str(new),
        "changes": [
            {
                "section": c.section,
                "name": c.name,
                "change": c.change,
                "fields": {
                    k: {"old": _json_value(a), "new": _json_value(b)}
                    for k, (a, b) in c.fields.items()
                },
                "effect": c.effect,
                "attention": c.attention,
                "renamed": c.renamed,
            }
            for c in result.changes
        ],
        "level_curve": None
        if curve is None
        else {
            "old_max_level": curve.old_max_level,
            "new_max_level": curve.new_max_level,
            "levels": [{"level": n, "old": a, "new": b} for n, a, b in curve.levels],
        },
    }


def diff(
    old: Annotated[Path, typer.Argument(help="The program file as it runs now.")],
    new: Annotated[Path, typer.Argument(help="The edited program file.")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the differences as JSON only.")
    ] = False,
) -> None:
    """Compare two program files: each change, its effect on members' stored state, and
    the changes to plan before deploying. Exit status: 0 when the programs are the same,
    1 when they differ, 2 on bad input."""
    with bad_input(as_json=json_output):
        old_program, old_behaviour = load_program(old)
        new_program, new_behaviour = load_program(new)
    result = diff_programs(old_program, new_program, old_behaviour, new_behaviour)
    if json_output:
        emit_json(diff_data(result, old, new))
    else:
        _render(result, old, new)
    if result.changes or result.curve is not None:
        raise typer.Exit(1)


def _render(result: ProgramDiff, old: Path, new: Path) -> None:
    out = console()
    if not result.changes and result.curve is None:
        out.print(f"no differences: {old} and {new} describe the same program", soft_wrap=True)
        return
    attention = sum(c.attention for c in result.changes)
    out.print(
        f"{old} → {new}: {len(result.changes)} change{'s' * (len(result.changes) != 1)}, "
        f"{attention} to plan before deploying (marked !)",
        soft_wrap=True,
    )
    sections: dict[str, list[Change]] = {}
    for item in result.changes:
        sections.setdefault(item.section, []).append(item)
    for section, changes in sections.items():
        table = titled_table(section.capitalize(), "!", "name", "change", "what", "effect")
        for c in changes:
            what = "; ".join(
                f"{k}: {_show(a)} → {_show(b)}"
                if c.change == "changed"
                else f"{k}: {_show(a if b is None else b)}"
                for k, (a, b) in c.fields.items()
            )
            change: str = c.change
            if c.renamed is not None:
                change += f" (renamed {'to' if c.change == 'removed' else 'from'} {c.renamed}?)"
            table.add_row("!" if c.attention else "", c.name, change, what or "-", c.effect)
        out.print(table)
    curve = result.curve
    if curve is not None:
        _render_curve(curve)


def _render_curve(curve: CurveDiff) -> None:
    out = console()
    if curve.old_max_level != curve.new_max_level:
        out.print(f"Level curve: max level {curve.old_max_level} → {curve.new_max_level}")
    if not curve.levels:
        return
    out.print(
        f"Level curve: cumulative XP changes at {len(curve.levels)} "
        f"level{'s' * (len(curve.levels) != 1)}"
    )
    table = Table()
    for column in ("level", "old XP", "new XP", "change"):
        table.add_column(column, justify="right")
    for level, before, after in curve.levels[:_CURVE_ROWS]:
        table.add_row(str(level), f"{before:,}", f"{after:,}", f"{after - before:+,}")
    out.print(table)
    rest = len(curve.levels) - _CURVE_ROWS
    if rest > 0:
        out.print(f"... and {rest} more level{'s' * (rest != 1)}")
