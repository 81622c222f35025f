"""The public surface: ``gamify.__all__`` is pinned, so a change to it is a deliberate one."""

from __future__ import annotations

import gamify

EXPORTED = [
    "EVENT_NAMES",
    "Adjustment",
    "BadgeAwarded",
    "BadgeFacts",
    "BadgeProgress",
    "CapHit",
    "ChallengeProgress",
    "ChallengeState",
    "Clock",
    "ConcurrencyError",
    "ConfigurationError",
    "Credit",
    "DomainEvent",
    "DueReport",
    "Engine",
    "Event",
    "ExpiringLot",
    "FormulaError",
    "GamifyError",
    "GoalProgress",
    "HistoryEntry",
    "IdempotencyConflictError",
    "InsufficientBalanceError",
    "InvalidAmountError",
    "InvalidEventError",
    "InvalidTimeError",
    "LeaderboardRow",
    "LevelUp",
    "ManualClock",
    "NotFoundError",
    "Outcome",
    "Profile",
    "Program",
    "ProgramError",
    "Redemption",
    "ReferralError",
    "Reversal",
    "Store",
    "StoreError",
    "StreakRepairError",
    "StreakRun",
    "StreakState",
    "SystemClock",
    "TierChange",
    "UnknownActionError",
    "UnknownMemberError",
    "create_schema",
    "open_store",
]

# Names the README and the examples build on.
CORE_NAMES = {"Engine", "Program", "open_store", "Outcome", "ManualClock", "SystemClock", "Clock"}


def test_all_is_pinned() -> None:
    """gamify exports exactly these names; adding or removing one means updating this list."""
    assert gamify.__all__ == EXPORTED


def test_all_is_sorted_and_unique() -> None:
    """__all__ is kept sorted (constants first, as ruff's RUF022 orders it) and without
    duplicates, so diffs of it stay readable."""
    constants = [name for name in gamify.__all__ if name.isupper()]
    others = [name for name in gamify.__all__ if not name.isupper()]
    assert gamify.__all__ == sorted(constants) + sorted(others)
    assert len(set(gamify.__all__)) == len(gamify.__all__)


def test_every_exported_name_exists() -> None:
    """Each name in __all__ is an attribute of the package (no stale entries)."""
    missing = [name for name in gamify.__all__ if not hasattr(gamify, name)]
    assert missing == []


def test_the_design_names_are_exported() -> None:
    """The stable names of the public surface are all in __all__."""
    assert set(gamify.__all__) >= CORE_NAMES


def test_star_import_gives_exactly_all() -> None:
    """``from gamify import *`` brings in the names of __all__ and nothing else."""
    namespace: dict[str, object] = {}
    exec("from gamify import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(gamify.__all__)
