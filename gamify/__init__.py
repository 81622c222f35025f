"""gamify: embeddable gamification and loyalty.

Streaks, experience and levels, achievement badges, member tiers, referrals
and a points ledger with earning rules, caps, multipliers, expiry and
redemption, driven by a declarative :class:`Program`.
"""

from gamify._engine import Engine, Event
from gamify._events import DomainEvent
from gamify._outcome import (
    BadgeAwarded,
    BadgeProgress,
    CapHit,
    Credit,
    HistoryEntry,
    LevelUp,
    Outcome,
    Profile,
    Redemption,
    StreakState,
    TierChange,
)
from gamify._registry import open_store
from gamify.clock import Clock, ManualClock, SystemClock
from gamify.errors import (
    ConfigurationError,
    GamifyError,
    IdempotencyConflictError,
    InsufficientBalanceError,
    InvalidAmountError,
    InvalidEventError,
    InvalidTimeError,
    ProgramError,
    UnknownActionError,
    UnknownMemberError,
)
from gamify.program import Program
from gamify.store import Store

__all__ = [
    "BadgeAwarded",
    "BadgeProgress",
    "CapHit",
    "Clock",
    "ConfigurationError",
    "Credit",
    "DomainEvent",
    "Engine",
    "Event",
    "GamifyError",
    "HistoryEntry",
    "IdempotencyConflictError",
    "InsufficientBalanceError",
    "InvalidAmountError",
    "InvalidEventError",
    "InvalidTimeError",
    "LevelUp",
    "ManualClock",
    "Outcome",
    "Profile",
    "Program",
    "ProgramError",
    "Redemption",
    "Store",
    "StreakState",
    "SystemClock",
    "TierChange",
    "UnknownActionError",
    "UnknownMemberError",
    "open_store",
]
__version__ = "0.1.0"
