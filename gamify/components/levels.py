"""Levels: XP moves a member along the program's curve.

Pure: :func:`progress` returns every level crossed, in order, with the
rewards of the levels whose reward was never paid (each level pays at most
once per member, ever). Level 1 is never "reached".
"""

from __future__ import annotations

from dataclasses import dataclass

from gamify.program import Levels

__all__ = ["LevelChange", "progress", "xp_room"]


# A value, never changed (frozen fields cost ~5x to set); __init__ by hand: compiled, it
# runs natively.
@dataclass
class LevelChange:
    """The new level, the levels crossed upward with their rewards, and the new paid mark."""

    level: int
    reached: list[tuple[int, dict[str, int]]]
    paid: int
    down_to: int | None = None

    def __init__(
        self,
        level: int,
        reached: list[tuple[int, dict[str, int]]],
        paid: int,
        down_to: int | None = None,
    ) -> None:
        self.level = level
        self.reached = reached
        self.paid = paid
        self.down_to = down_to


def progress(
    spec: Levels,
    level: int,
    xp: int,
    paid: int,
    *,
    taken: int = 0,
) -> LevelChange:
    """Move from ``level`` to where ``xp`` stands on the curve.

    Levels never go down on their own (a harder curve keeps them); only a reversal that
    took XP back (``taken``) lowers them, by the levels that XP spans on the curve, so a
    level held above the curve (kept through a curve change) drops no further than that.
    """
    target = spec.level_curve.level_for_xp(max(xp, 0))
    if target < level:
        if taken <= 0:
            return LevelChange(level, [], paid)
        before = spec.level_curve.level_for_xp(max(xp + taken, 0))
        down = max(target, level - max(before - target, 0))
        if down >= level:
            return LevelChange(level, [], paid)
        return LevelChange(down, [], paid, down_to=down)
    reached: list[tuple[int, dict[str, int]]] = []
    for n in range(level + 1, target + 1):
        rewards: dict[str, int] = {}
        if n > paid:
            for currency, formula in spec.reward.items():
                value = int(formula.evaluate({"level": n}))
                if value > 0:
                    rewards[currency] = value
        reached.append((n, rewards))
    return LevelChange(target, reached, max(paid, target))


def xp_room(spec: Levels, xp: int) -> int | None:
    """How much more XP may be credited (None: no limit) when XP stops at the maximum level."""
    if spec.at_max == "accrue":
        return None
    return max(spec.level_curve.xp_for_level(spec.level_curve.max_level) - xp, 0)
