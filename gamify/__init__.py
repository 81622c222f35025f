"""gamify: embeddable gamification and loyalty.

Streaks, experience and levels, achievement badges, member tiers, referrals
and a points ledger with earning rules, caps, multipliers, expiry and
redemption, driven by a declarative :class:`Program`.
"""

from gamify._engine import Engine, Event
from gamify._events import EVENT_NAMES, DomainEvent
from gamify._outcome import (
    Adjustment,
    BadgeAwarded,
    BadgeProgress,
    CapHit,
    ChallengeProgress,
    ChallengeState,
    Credit,
    DueReport,
    ExpiringLot,
    GoalProgress,
    HistoryEntry,
    LeaderboardRow,
    LevelUp,
    Outcome,
    Profile,
    Redemption,
    Reversal,
    StreakRun,
    StreakState,
    TierChange,
)
from gamify._registry import open_store
from gamify.clock import Clock, ManualClock, SystemClock
from gamify.components.badges import BadgeFacts
from gamify.errors import (
    ConcurrencyError,
    ConfigurationError,
    FormulaError,
    GamifyError,
    IdempotencyConflictError,
    InsufficientBalanceError,
    InvalidAmountError,
    InvalidEventError,
    InvalidTimeError,
    NotFoundError,
    ProgramError,
    ReferralError,
    StoreError,
    StreakRepairError,
    UnknownActionError,
    UnknownMemberError,
)
from gamify.program import Program
from gamify.store import Store


def create_schema(url: str, *, prefix: str = "gamify_") -> None:
    """Create the SQL store's tables at ``url`` for apps without Alembic; existing tables stay.

    ``url`` is a ``sqlite:///`` or ``postgresql+psycopg://`` URL and ``prefix`` the
    table-name prefix. The adapter is imported lazily through the store registry
    (for Alembic, include ``gamify_adapters.sql.metadata(prefix)`` instead). The
    memory store keeps no schema: nothing to do.
    """
    if isinstance(url, str) and url.partition(":")[0].lower() == "memory":
        return
    open_store(url, prefix=prefix, create=True).close()


__all__ = [
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
__version__ = "0.1.0"
