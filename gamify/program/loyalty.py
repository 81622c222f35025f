"""The loyalty side of a program: tiers, referrals, expiry renewal, redemption and catalog."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator

from gamify.errors import ProgramError
from gamify.program._base import MAX_DAYS, MAX_MONTHS, Model, RewardAmount


class Tier(Model):
    """One tier: reached at ``threshold`` of the qualifying metric, with benefits the app reads."""

    name: str
    threshold: Decimal = Decimal(0)
    multiplier: Decimal = Field(default=Decimal(1), gt=0)
    """Earning multiplier on points rules, from the event after the upgrade."""
    discount: Decimal = Field(default=Decimal(1), ge=0, le=1)
    """A price factor from 0 to 1 for the application (0.9: pay 90%); the engine ignores it."""
    benefits: dict[str, Any] = {}


class Tiers(Model):
    """Ordered tiers over a qualifying metric and window.

    ``metric``: ``amount`` (the sum of ``action``'s amounts) or
    ``points_earned`` (credits of earning rules after multipliers and caps,
    net of reversals). ``window``: ``calendar_year``, ``rolling_months``
    (``months`` local calendar months, the current one included) or
    ``lifetime``. Upgrades happen at once; downgrades only at the yearly review
    (``review_month``/``review_day``, local midnight) after ``retention_months``
    from the upgrade.
    """

    metric: Literal["amount", "points_earned"] = "amount"
    action: str | None = None
    window: Literal["calendar_year", "rolling_months", "lifetime"] = "calendar_year"
    months: int = Field(default=12, ge=1, le=120)
    levels: list[Tier] = Field(min_length=1)
    review_month: int = Field(default=1, ge=1, le=12)
    review_day: int = Field(default=1, ge=1, le=28)
    retention_months: int = Field(default=0, ge=0, le=MAX_MONTHS)
    multiplier_rules: list[str] | None = None
    """The rules the tier multiplier acts on (default: every rule paying a spendable currency)."""

    @model_validator(mode="after")
    def _ordered(self) -> Tiers:
        values = [t.threshold for t in self.levels]
        if values != sorted(set(values)):
            raise ValueError("tier thresholds must be strictly increasing")
        if self.metric == "amount" and not self.action:
            raise ValueError("an 'amount' tier metric needs 'action'")
        names = [t.name for t in self.levels]
        if len(set(names)) != len(names):
            raise ValueError("tier names must be unique")
        return self

    def qualify(self, value: Decimal) -> int:
        """The index of the highest tier ``value`` reaches (0 for the first)."""
        index = 0
        for i, tier in enumerate(self.levels):
            if value >= tier.threshold:
                index = i
        return index


class Referral(Model):
    """The referral scheme.

    The referee gets ``referee_reward`` on joining, or with ``referee_reward_on =
    "qualify"`` only once the referral qualifies, so that joining through a code
    without ever buying pays nothing. The referral qualifies at the referee's
    first ``qualifying_action`` with an amount of at least ``min_amount``; the
    referrer then gets ``referrer_fixed`` plus
    ``referrer_share`` of that amount, at most ``referrer_cap`` per referral,
    for at most ``max_rewarded`` referrals per ``cap_period``. The
    ``bonus_after``-th qualified referral pays ``bonus`` once (beyond the cap too).
    """

    currency: str = "points"
    referee_reward: RewardAmount = Field(default=0, ge=0)
    referee_reward_on: Literal["join", "qualify"] = "join"
    qualifying_action: str
    min_amount: Decimal = Decimal(0)
    referrer_fixed: RewardAmount = Field(default=0, ge=0)
    referrer_share: Decimal = Field(default=Decimal(0), ge=0)
    referrer_cap: int | None = Field(default=None, ge=0)
    bonus_after: int | None = Field(default=None, ge=1)
    bonus: RewardAmount = Field(default=0, ge=0)
    max_rewarded: int | None = Field(default=None, ge=0)
    cap_period: Literal["month", "year"] = "year"


class Renewal(Model):
    """A qualifying action adds ``months`` to the expiry of lots due within ``within_days``."""

    actions: list[str] = Field(min_length=1)
    within_days: int = Field(default=30, ge=1, le=MAX_DAYS)
    months: int = Field(default=6, ge=1, le=MAX_MONTHS)


class CatalogReward(Model):
    """A reward priced in points: ratio × cash value × cost rate × premium.

    ``cash_value`` is what the member receives, ``price`` the item's list
    price and ``max_discount`` the largest discount already given elsewhere
    (premium = price / (price - max_discount)); ``exchange_ratio`` overrides
    the program's for closed-loop items.
    """

    cash_value: Decimal = Field(gt=0)
    cost_rate: Decimal = Field(default=Decimal(1), gt=0)
    price: Decimal | None = Field(default=None, gt=0)
    max_discount: Decimal = Field(default=Decimal(0), ge=0)
    exchange_ratio: Decimal | None = Field(default=None, gt=0)
    description: str = ""

    @model_validator(mode="after")
    def _premium_defined(self) -> CatalogReward:
        # The premium price / (price - max_discount) needs a price above the discount.
        if self.max_discount and self.price is None:
            raise ProgramError("max_discount needs the item's price", key_path="max_discount")
        if self.price is not None and self.price <= self.max_discount:
            raise ProgramError(
                f"must be below the price ({self.price}): the premium "
                "price / (price - max_discount) is undefined otherwise",
                key_path="max_discount",
            )
        return self


class Redemption(Model):
    """How points pay: ``exchange_ratio`` points per unit of money, at most ``max_order_share``."""

    exchange_ratio: Decimal = Field(default=Decimal(100), gt=0)
    max_order_share: Decimal | None = Field(default=None, gt=0, le=1)
