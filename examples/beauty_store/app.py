"""The beauty-store example app: a year of a small loyalty program, in memory.

Run it from anywhere (the program file is found next to this file)::

    python examples/beauty_store/app.py

Four members shop from January 2026 to February 2027 on the memory store,
driven by a :class:`gamify.ManualClock` in the store's zone (Asia/Shanghai):

* ``mei`` has a March birthday (double points all March, in her own zone)
  and climbs the tiers; she buys a coupon from the catalog;
* ``lin`` refers ``chen``, who refers ``zhou`` (a referral chain of three);
  ``lin`` pays part of an order with points (at most 30 % of it); ``chen``
  shops in January 2027 and so renews his points due at the end of January;
* ``zhou`` reaches silver with a big order in November and returns it in
  December: he keeps silver until the January review, which judges 2026
  without that order and moves him back to regular;
* customer care credits ``chen`` 300 goodwill points for a late delivery in
  August (the agent's double click is a retry with the same key: paid once),
  and takes back 50 points a mistaken promotion paid ``lin``.

``run_due`` runs at every local month end (it expires lots, matures pending
points and runs tier reviews). The output has one section per topic: members,
tier changes, points earned per month, redemptions, the returned order,
customer care's adjustments, expiry reminders, a renewal, the month ends with
the January review, and the final profiles.
"""

from __future__ import annotations

import random
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import pendulum

import gamify

PROGRAM = Path(__file__).resolve().with_name("program.toml")
ZONE = "Asia/Shanghai"
FIRST_DAY = date(2026, 1, 1)
LAST_DAY = date(2027, 2, 28)
SHOPPING_ENDS = date(2026, 12, 31)  # regular shopping; January 2027 has two purchases only
MEMBERS = ("mei", "lin", "chen", "zhou")
REMINDER_DAY = date(2027, 1, 5)
RENEWAL_DAY = date(2027, 1, 20)
REMINDER_WINDOW = timedelta(days=60)

# Regular shopping: (member, day of month, lowest amount, highest amount).
HABITS = [
    ("mei", 3, 300, 900),
    ("mei", 17, 200, 700),
    ("lin", 10, 150, 450),
    ("chen", 6, 80, 260),
    ("chen", 21, 80, 260),
    ("zhou", 14, 60, 160),
]


def load_program() -> gamify.Program:
    """The beauty-store program, found next to this file wherever the app is run from."""
    return gamify.Program.load(PROGRAM)


def local(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in the store's zone."""
    return pendulum.datetime(day.year, day.month, day.day, hour, minute, tz=ZONE)


def month_key(at: datetime) -> str:
    return pendulum.instance(at).in_timezone(ZONE).format("YYYY-MM")


@dataclass
class Story:
    """What the run saw, printed section by section at the end."""

    codes: dict[str, str] = field(default_factory=dict)
    tier_changes: list[str] = field(default_factory=list)
    redemptions: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    adjustments: list[str] = field(default_factory=list)
    reminders: list[str] = field(default_factory=list)
    renewals: list[str] = field(default_factory=list)
    earning: list[str] = field(default_factory=list)
    month_ends: list[str] = field(default_factory=list)
    referrals: list[str] = field(default_factory=list)


class BeautyStore:
    """Drives the engine through the year and records what happened."""

    def __init__(self, seed: int = 2026) -> None:
        start = local(FIRST_DAY, 9)
        self.clock = gamify.ManualClock(start)
        self.engine = gamify.Engine(load_program(), store="memory://", clock=self.clock)
        self.rng = random.Random(seed)
        self.story = Story()
        self.cause = "purchase"
        self.engine.on("tier_changed", self._on_tier_changed)
        self.plan: dict[date, list[Callable[[], None]]] = defaultdict(list)
        self.changed: list[str] = []
        self.known: set[str] = set()

    # Domain events --------------------------------------------------------------------

    def _on_tier_changed(self, event: gamify.DomainEvent) -> None:
        when = pendulum.instance(event.at).in_timezone(ZONE).format("YYYY-MM-DD HH:mm")
        payload = event.payload
        self.changed.append(f"{event.member_id} {payload['from_tier']} -> {payload['to_tier']}")
        self.story.tier_changes.append(
            f"{when}  {event.member_id:<5} {payload['from_tier']:>8} -> {payload['to_tier']:<8}"
            f" ({self.cause})"
        )

    # The plan ---------------------------------------------------------------------------

    def build_plan(self) -> None:
        day = FIRST_DAY
        while day <= SHOPPING_ENDS:
            for member, shop_day, low, high in HABITS:
                if day.day == shop_day:
                    cents = self.rng.randrange(low * 100, high * 100 + 1)
                    self.plan[day].append(self._purchase(member, Decimal(cents) / 100))
            day += timedelta(days=1)
        # Special days.
        self.plan[date(2026, 3, 8)].append(self._purchase("mei", Decimal("2400.00")))  # birthday
        self.plan[date(2026, 4, 9)].append(self._action("mei", "trial_report"))
        self.plan[date(2026, 5, 16)].append(self._action("chen", "bottle_return", bottles=7))
        self.plan[date(2026, 6, 18)].append(self._redeem_reward("mei", "coupon_200_minus_50"))
        self.plan[date(2026, 7, 2)].append(self._purchase("mei", Decimal("1800.00")))
        self.plan[date(2026, 8, 22)].append(self._action("lin", "bottle_return", bottles=12))
        self.plan[date(2026, 8, 3)].append(
            self._adjust("chen", 300, "goodwill: delivery 5 days late", key="ticket-0803")
        )
        self.plan[date(2026, 8, 4)].append(
            self._adjust("lin", -50, "promotion paid by mistake", key="ticket-0804")
        )
        self.plan[date(2026, 9, 12)].append(self._points_and_cash("lin", Decimal("800.00")))
        self.plan[date(2026, 10, 25)].append(self._purchase("mei", Decimal("3600.00")))
        self.plan[date(2026, 11, 11)].append(
            self._purchase("zhou", Decimal("2600.00"), key="zhou-order-1111")
        )
        self.plan[date(2026, 12, 2)].append(self._reverse("zhou", "zhou-order-1111"))
        self.plan[date(2027, 1, 12)].append(self._purchase("mei", Decimal("520.00")))
        self.plan[RENEWAL_DAY].append(self._renewing_purchase("chen", Decimal("260.00")))

    def _purchase(self, member: str, amount: Decimal, key: str | None = None) -> Callable[[], None]:
        def run() -> None:
            self.cause = f"purchase of {amount}"
            tier = self.engine.member(member).tier if member in self.known else "regular"
            self.known.add(member)
            outcome = self.engine.track(member, "purchase", amount=amount, key=key)
            credit = outcome.credits[0]
            birthday = credit.multiplier > 1 and self._is_march()
            if member == "mei" and (birthday or credit.capped):
                raw = credit.amount + credit.capped
                self.story.earning.append(
                    f"{self._now()}  mei ({tier}) buys {amount}: x{credit.multiplier} = {raw}"
                    + (f", cut to {credit.amount} by the per-purchase cap" if credit.capped else "")
                )
            for credit in outcome.referral_rewards:
                referrer = self.engine.member(member).referrer
                self.story.referrals.append(
                    f"{self._now()}  {member}'s first purchase ({amount}) pays {referrer} "
                    f"{credit.amount} ({credit.rule})"
                )

        return run

    def _renewing_purchase(self, member: str, amount: Decimal) -> Callable[[], None]:
        """A purchase that pushes back, by 6 months, the lots due within 30 days."""
        purchase = self._purchase(member, amount)

        def run() -> None:
            due = self.engine.expiring(member, within=REMINDER_WINDOW)
            before = {lot.lot_id: lot.expires_at for lot in due}
            purchase()
            for lot in self.engine.store.member_lots(member, "points"):
                old = before.pop(lot.lot_id, None)
                if old is None:
                    continue
                if lot.expires_at != old:
                    change = f"renewed: due {self._local(old)} -> {self._local(lot.expires_at)}"
                else:
                    change = f"due {self._local(old)}, more than 30 days away: not renewed"
                self.story.renewals.append(
                    f"{self._now()}  {member}: {lot.remaining:>4} points {change}"
                )

        return run

    @staticmethod
    def _local(at: datetime | None) -> str:
        if at is None:
            return "never"
        return pendulum.instance(at).in_timezone(ZONE).format("YYYY-MM-DD HH:mm")

    def _action(self, member: str, action: str, **attributes: Any) -> Callable[[], None]:
        def run() -> None:
            self.engine.track(member, action, attributes=attributes)

        return run

    def _redeem_reward(self, member: str, reward: str) -> Callable[[], None]:
        def run() -> None:
            before = self.engine.balance(member)
            redemption = self.engine.redeem(member, reward=reward, key=f"{member}-{reward}")
            self.story.redemptions.append(
                f"{self._now()}  {member} takes '{reward}' for {redemption.points} points "
                f"(price {self.engine.reward_price(reward)}): balance {before} -> "
                f"{self.engine.balance(member)}"
            )

        return run

    def _points_and_cash(self, member: str, order_total: Decimal) -> Callable[[], None]:
        def run() -> None:
            before = self.engine.balance(member)
            redemption = self.engine.redeem(member, order_total=order_total)
            paid = Decimal(redemption.points) / self.engine.program.redemption.exchange_ratio
            self.story.redemptions.append(
                f"{self._now()}  {member} pays an order of {order_total}: {redemption.points} "
                f"points (= {paid:.2f}, at most 30 %) plus {redemption.cash:.2f} in cash; "
                f"balance {before} -> {self.engine.balance(member)}"
            )

        return run

    def _reverse(self, member: str, key: str) -> Callable[[], None]:
        def run() -> None:
            reversal = self.engine.reverse(member, key)
            taken = -sum(c.amount for c in reversal.credits if c.currency == "points")
            profile = self.engine.member(member)
            self.story.returned.append(
                f"{self._now()}  {member} returns order {key}: {taken} points taken back, "
                f"debt {reversal.debt}; balance {profile.balances['points']}, tier still "
                f"{profile.tier} until the January review"
            )

        return run

    def _adjust(self, member: str, points: int, reason: str, key: str) -> Callable[[], None]:
        """A correction by customer care; the agent clicks twice, so the call is retried."""

        def run() -> None:
            before = self.engine.balance(member)
            first = self.engine.adjust(member, points, reason=reason, key=key)
            retry = self.engine.adjust(member, points, reason=reason, key=key)
            assert retry.adjustment_id == first.adjustment_id  # the retry changed nothing
            self.story.adjustments.append(
                f"{self._now()}  {member} {points:+} points ({reason!r}, {key}, sent twice): "
                f"balance {before} -> {self.engine.balance(member)}"
            )

        return run

    def _is_march(self) -> bool:
        return pendulum.instance(self.clock.now()).in_timezone(ZONE).month == 3

    def _now(self) -> str:
        return pendulum.instance(self.clock.now()).in_timezone(ZONE).format("YYYY-MM-DD HH:mm")

    # Running ------------------------------------------------------------------------------

    def join_members(self) -> None:
        self.engine.set_member("mei", timezone=ZONE, birthday=date(1992, 3, 8))
        for referrer, referee in (("lin", "chen"), ("chen", "zhou")):
            code = self.engine.referral_code(referrer)
            self.story.codes[referrer] = code
            # Codes are case-insensitive: zhou types chen's code in lower case.
            typed = code.lower() if referee == "zhou" else code
            self.engine.join(referee, referral_code=typed)
            self.story.referrals.append(
                f"{self._now()}  {referee} joins with {referrer}'s code {typed!r}: "
                f"welcome {self.engine.balance(referee)} points"
            )

    def month_end(self, day: date) -> None:
        self.clock.set(local(day))
        review = (day.month, day.day) == (1, 1)
        self.cause = "January review" if review else "run_due"
        self.changed = []
        report = self.engine.run_due()
        changes = ", ".join(self.changed)
        label = "January review" if review else "month end"
        self.story.month_ends.append(
            f"{day.isoformat()} 00:00  {label:<14} expired {report.expired_points:>5} points "
            f"in {report.expired_lots} lots; reviews {report.reviews}"
            + (f"; tier changes: {changes}" if changes else "")
        )

    def remind(self) -> None:
        self.clock.set(local(REMINDER_DAY, 10))
        for member in MEMBERS:
            lots = self.engine.expiring(member, within=REMINDER_WINDOW)
            for lot in lots:
                due = pendulum.instance(lot.expires_at).in_timezone(ZONE)
                self.story.reminders.append(
                    f"{member:<5} {lot.points:>5} points earned "
                    f"{pendulum.instance(lot.earned_at).in_timezone(ZONE).format('YYYY-MM-DD')}"
                    f" expire at {due.format('YYYY-MM-DD HH:mm')} (end of "
                    f"{due.subtract(days=1).format('MMMM YYYY')})"
                )
            if not lots:
                self.story.reminders.append(f"{member:<5} nothing expires within 60 days")

    def run(self) -> None:
        self.join_members()
        self.build_plan()
        day = FIRST_DAY
        while day <= LAST_DAY:
            if day.day == 1 and day != FIRST_DAY:
                self.month_end(day)
            if day == REMINDER_DAY:
                self.remind()
            for minute, step in enumerate(self.plan.get(day, [])):
                self.clock.set(local(day, 10, minute))
                step()
            day += timedelta(days=1)
        self.month_end(LAST_DAY + timedelta(days=1))

    # Reports --------------------------------------------------------------------------------

    def earned_per_month(self) -> list[str]:
        """Points credited by rules and rewards, per member and local month, from the ledger."""
        months: list[str] = []
        day = FIRST_DAY
        while day <= LAST_DAY:
            key = f"{day.year:04d}-{day.month:02d}"
            if key not in months:
                months.append(key)
            day += timedelta(days=1)
        earned: dict[tuple[str, str], int] = defaultdict(int)
        for member in MEMBERS:
            for entry in self.engine.store.history(member, account="points"):
                if entry.kind in ("earn", "reward", "reverse"):
                    earned[member, month_key(entry.at)] += entry.amount
        lines = ["month    " + "".join(f"{m:>8}" for m in MEMBERS)]
        for key in months:
            lines.append(f"{key}  " + "".join(f"{earned[m, key]:>8}" for m in MEMBERS))
        lines.append(
            "total    " + "".join(f"{sum(earned[m, k] for k in months):>8}" for m in MEMBERS)
        )
        return lines

    def profiles(self) -> list[str]:
        lines = []
        for member in MEMBERS:
            p = self.engine.member(member)
            chain = f", referred by {p.referrer}" if p.referrer else ""
            lines.append(
                f"{member:<5} tier {p.tier:<8} balance {p.balances['points']:>6}  "
                f"debt {p.debt['points']}{chain}"
            )
        return lines


def section(out: TextIO, title: str, lines: list[str]) -> None:
    out.write(f"\n== {title} ==\n")
    for line in lines or ["(nothing)"]:
        out.write(f"  {line}\n")


def main(out: TextIO = sys.stdout) -> BeautyStore:
    """Run the year and print every section to ``out``."""
    store = BeautyStore()
    store.run()
    story = store.story
    program = store.engine.program
    out.write(
        f"Beauty store '{program.name}' in {program.timezone}: "
        f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()} on the memory store\n"
    )
    section(
        out,
        "Members and the referral chain (lin -> chen -> zhou)",
        [
            "mei   birthday 8 March: purchases in March earn double",
            *(f"{m:<5} referral code {c}" for m, c in story.codes.items()),
            *story.referrals,
        ],
    )
    section(out, "Tier changes", story.tier_changes)
    section(
        out,
        "mei's birthday month (double points) and the 5000-point cap per purchase",
        story.earning,
    )
    section(
        out, "Points earned per month (rules and rewards, net of returns)", store.earned_per_month()
    )
    section(out, "Redemptions: a catalog reward and points plus cash", story.redemptions)
    section(out, "A returned order", story.returned)
    section(out, "Customer care: adjustments by hand", story.adjustments)
    section(
        out,
        f"Reminders on {REMINDER_DAY.isoformat()}: lots expiring within 60 days",
        story.reminders,
    )
    section(
        out,
        f"Renewal: a purchase on {RENEWAL_DAY.isoformat()} pushes back lots due "
        "within 30 days by 6 months",
        story.renewals,
    )
    section(out, "Month ends: run_due (expiry, maturing points, tier reviews)", story.month_ends)
    section(out, "Profiles at the end", store.profiles())
    return store


if __name__ == "__main__":
    main()
