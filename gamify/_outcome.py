"""What the engine returns: outcomes, profiles and history rows (pydantic, frozen)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


# List fields default through ``default_factory``: pydantic deep-copies a plain ``[]``
# default for every instance, which costs more than building the whole outcome.


class Credit(_Frozen):
    """One ledger credit written by an event.

    ``source`` is ``rule`` for earning rules (multiplied and capped) or the kind
    of reward (``level``, ``badge``, ``streak``, ``referral``, ``challenge``).
    ``capped`` is what caps cut from the award; ``pending_until`` is set for
    points that cannot be spent yet.
    """

    currency: str
    amount: int
    rule: str
    source: str = "rule"
    capped: int = 0
    multiplier: Decimal = Decimal(1)
    pending_until: datetime | None = None
    expires_at: datetime | None = None


class CapHit(_Frozen):
    """A cap that cut an award: which cap, how much it cut, and from which rule."""

    cap: str
    rule: str
    cut: int


class LevelUp(_Frozen):
    """A level reached: ``rewards`` is what it paid, by currency (positive amounts only);
    ``reward`` is their sum, which reads as an amount only when one currency is paid."""

    level: int
    reward: int = 0
    rewards: dict[str, int] = Field(default_factory=dict)


class BadgeAwarded(_Frozen):
    """A badge (or badge tier, or occurrence) awarded: in an outcome, ``rewards`` is what the
    award paid, by currency (positive amounts only); in a profile, what the badge pays in
    the current program. ``reward`` is their sum, which reads as an amount only when one
    currency is paid."""

    badge: str
    tier: str | None = None
    occurrence: int = 1
    reward: int = 0
    rewards: dict[str, int] = Field(default_factory=dict)


class BadgeProgress(_Frozen):
    """Progress toward the next award of a badge: ``current`` of ``target``.

    ``held`` counts awards so far (tiers for tiered badges, occurrences for
    repeatable ones); ``complete`` is true when nothing more can be earned.
    """

    badge: str
    current: Decimal
    target: Decimal
    held: int = 0
    complete: bool = False
    secret: bool = False


class TierChange(_Frozen):
    """A member's move from one tier to another; ``member_id`` says whose, which a
    :class:`DueReport` covering many members needs (``None`` in outcomes stored before it)."""

    from_tier: str | None
    to_tier: str | None
    member_id: str | None = None


class StreakState(_Frozen):
    """A streak after the event: its length, longest run, tokens and what happened."""

    name: str
    length: int
    longest: int
    tokens: int = 0
    extended: bool = False
    broken: bool = False
    frozen_periods: int = 0
    milestones: list[int] = Field(default_factory=list)


class StreakRun(_Frozen):
    """A finished run of a streak: the instant of its first event and its length in periods."""

    start: datetime
    length: int


class ChallengeState(_Frozen):
    name: str
    status: str
    completed: bool = False


class Outcome(_Frozen):
    """Everything one event did."""

    member_id: str
    action: str
    at: datetime
    key: str | None = None
    amount: Decimal | None = None
    credits: list[Credit] = Field(default_factory=list)
    caps: list[CapHit] = Field(default_factory=list)
    level_ups: list[LevelUp] = Field(default_factory=list)
    level_down: int | None = None
    badges: list[BadgeAwarded] = Field(default_factory=list)
    tier_change: TierChange | None = None
    streaks: list[StreakState] = Field(default_factory=list)
    challenges: list[ChallengeState] = Field(default_factory=list)
    referral_rewards: list[Credit] = Field(default_factory=list)

    def total(self, currency: str = "points") -> int:
        """The sum credited in ``currency`` by this event (rules and rewards)."""
        return sum(c.amount for c in self.credits if c.currency == currency)


class Redemption(_Frozen):
    """A spend of points: what was taken from which lots."""

    redemption_id: str
    member_id: str
    points: int
    at: datetime
    key: str | None = None
    reward: str | None = None
    cash: Decimal = Decimal(0)
    lots: list[tuple[str, int]] = Field(default_factory=list)
    refunded: bool = False


class Adjustment(_Frozen):
    """A correction made by hand: a signed amount of one spendable currency.

    A credit (``amount`` above zero) opens one lot on the program's expiry
    terms; a debit takes from the member's lots, earliest expiry first.
    ``lots`` lists each lot touched with its share of ``amount`` (positive for
    the credited lot, positive amounts taken for a debit).
    """

    adjustment_id: str
    member_id: str
    currency: str
    amount: int
    reason: str
    at: datetime
    key: str | None = None
    expires_at: datetime | None = None
    lots: list[tuple[str, int]] = Field(default_factory=list)


class HistoryEntry(_Frozen):
    """A ledger entry as shown to a member: newest first, with its reason."""

    entry_id: str
    account: str
    amount: int
    at: datetime
    kind: str
    reason: str
    key: str | None = None
    action: str | None = None


class Profile(_Frozen):
    """A member's state: balances, XP, level, tier, streaks and badges.

    ``xp`` is what the level reads: the lifetime credits of the levels' currency (the
    ``xp`` balance in the usual program). ``next_level_xp`` is the ``xp`` at which the
    next level is reached (None at the maximum level, or without levels).
    ``tier_value`` is what the tier reads now: the qualifying amount or points earned
    in the current window (None without tiers); a tier upgrades once it reaches the
    next tier's threshold. ``balances``, ``pending`` and ``debt`` also list a currency
    the program no longer declares while the member holds some."""

    member_id: str
    timezone: str
    birthday: date | None = None
    tags: list[str] = Field(default_factory=list)
    balances: dict[str, int] = {}
    pending: dict[str, int] = {}
    debt: dict[str, int] = {}
    xp: int = 0
    level: int = 1
    next_level_xp: int | None = None
    tier: str | None = None
    tier_value: Decimal | None = None
    streaks: list[StreakState] = Field(default_factory=list)
    badges: list[BadgeAwarded] = Field(default_factory=list)
    referrer: str | None = None
    extra: dict[str, Any] = {}


class Reversal(_Frozen):
    """What :meth:`Engine.reverse` took back: credits (negative), debt booked, a level drop."""

    member_id: str
    key: str
    at: datetime
    credits: list[Credit] = Field(default_factory=list)
    debt: int = 0
    level_down: int | None = None


class ExpiringLot(_Frozen):
    """Points that will expire: for reminders."""

    lot_id: str
    points: int
    expires_at: datetime
    earned_at: datetime
    rule: str
    #: When pending points become spendable; None for points spendable now.
    pending_until: datetime | None = None


class DueReport(BaseModel):
    """What :meth:`Engine.run_due` did."""

    expired_points: int = 0
    expired_lots: int = 0
    matured_points: int = 0
    matured_lots: int = 0
    reviews: int = 0
    tier_changes: list[TierChange] = Field(default_factory=list)


class GoalProgress(_Frozen):
    kind: str
    current: Decimal
    target: Decimal


class ChallengeProgress(_Frozen):
    """A member's current run of a challenge: status, window end and each condition's progress.

    ``status`` is ``not_enrolled``, ``active``, ``completed`` or ``failed``;
    ``completions`` counts completed runs.
    """

    challenge: str
    status: str
    enrolled_at: datetime | None = None
    ends_at: datetime | None = None
    conditions: list[GoalProgress] = Field(default_factory=list)
    completions: int = 0


class LeaderboardRow(_Frozen):
    """One row of a leaderboard: ties share a rank (1, 2, 2, 4)."""

    rank: int
    member_id: str
    score: int
