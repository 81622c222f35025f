"""The economy health report: what a store's ledger says against a points-budget plan.

Pure computation over store reads (:meth:`~gamify.store.Store.ledger_totals`,
``member_ids``, ``get_member``, ``get_balances`` and each member's
``history``); only :func:`load_report_plan` reads a file. The rules of thumb
of loyalty practice it applies:

- **Issuance**: the maximum issuable (budget x target ratio), the plan's
  predicted points and the points actually issued, the plan's yearly figures
  prorated to the report window (its length in days of the program's zone /
  365), are classified by the first case that holds: all three within 10 % of
  each other (healthy); the maximum below the actual; the maximum below the
  predicted (both: earning is too easy); the predicted above the actual by
  more than 10 %; the maximum above the actual by more than 10 % (both: too
  hard). "A above B by more than 10 %" means ``A > 1.1 x B``, and "within 10 %
  of each other" that none is above another by more than 10 %. Figures that
  fit none of the five cases (the actual well above the prediction but within
  the maximum) are reported as ``actual_above_predicted``.
- **Per action**: points issued by each action's earning rules against the
  plan's prediction, and how many members did it.
- **Spending**: burn rate (points spent net of refunds / points issued,
  healthy 30-50 %), the share of holders who spent (healthy from 50 %), the
  expiry rate (expired / issued, alarming above 40 %) and the earn/burn ratio
  (issued / spent; 0.8-1.2 is a steady stock, shown as information).
- **Segments**: a member belongs to the plan segment named by one of its
  tags, else to the segment whose core-amount range holds its yearly core
  amount (estimated from the core action's points divided by the plan's
  coefficient, annualised). Ranges come from optional ``core_amount_min`` /
  ``core_amount_max`` keys of the plan's segments, else from the midpoints
  between neighbouring segments' core amounts per member.

"Issued" is net: credits of earning rules and rewards (spendable and pending
accounts) minus reversals, including any shortfall booked as debt.

The predicted figures are the plan's own (its rule values as written);
``calibrated=True`` uses the calibrated, rounded rule values instead, for a
program that runs those.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Literal, TypeAlias
from zoneinfo import ZoneInfo

from gamify._time import local_midnight
from gamify.errors import InvalidTimeError, NotFoundError, ProgramError
from gamify.planning import Plan, PlanResult, SegmentIssuance, compute_plan, load_plan
from gamify.store import LedgerEntry, Store

__all__ = [
    "BURNER_SHARE_MIN",
    "BURN_RATE_RANGE",
    "EARN_BURN_RANGE",
    "EXPIRY_RATE_MAX",
    "ISSUANCE_TOLERANCE",
    "ActionHealth",
    "Alert",
    "CoreRange",
    "CurrencyFlow",
    "IssuanceCase",
    "IssuanceCheck",
    "Report",
    "SegmentHealth",
    "Spending",
    "Window",
    "build_report",
    "classify_issuance",
    "currency_flows",
    "load_report_plan",
    "members_text",
    "ratio",
    "report_window",
    "unassigned_text",
]

ISSUANCE_TOLERANCE = Decimal("0.10")
BURN_RATE_RANGE = (Decimal("0.30"), Decimal("0.50"))
BURNER_SHARE_MIN = Decimal("0.50")
EXPIRY_RATE_MAX = Decimal("0.40")
EARN_BURN_RANGE = (Decimal("0.8"), Decimal("1.2"))
_DAYS_PER_YEAR = Decimal(365)
_ZERO = Decimal(0)
_ONE = Decimal(1)

IssuanceCase: TypeAlias = Literal[
    "healthy",
    "max_below_actual",
    "max_below_predicted",
    "predicted_above_actual",
    "max_above_actual",
    "actual_above_predicted",
]
Verdict: TypeAlias = Literal["healthy", "too_easy", "too_hard", "watch"]

_TOO_EASY = (
    "earning is too easy: fewer earning actions, lower rule values or harder "
    "conditions, or a larger budget"
)
_TOO_HARD = (
    "earning is too hard: more earning actions, higher rule values, easier "
    "conditions and more guidance for members"
)
_CASES: dict[IssuanceCase, tuple[Verdict, str]] = {
    "healthy": ("healthy", "maximum, predicted and actual issuance are within 10 % of each other"),
    "max_below_actual": (
        "too_easy",
        f"more points were issued than the budget allows; {_TOO_EASY}",
    ),
    "max_below_predicted": (
        "too_easy",
        f"the plan predicts more points than the budget allows; {_TOO_EASY}",
    ),
    "predicted_above_actual": (
        "too_hard",
        f"members earn more than 10 % less than predicted; {_TOO_HARD}",
    ),
    "max_above_actual": (
        "too_hard",
        f"more than 10 % of the budget is left unissued; {_TOO_HARD}",
    ),
    "actual_above_predicted": (
        "watch",
        "members earn more than 10 % above the prediction, still within the budget: "
        "update the plan's counts and completion rates, and watch the budget",
    ),
}


def ratio(part: Decimal | int, whole: Decimal | int) -> Decimal:
    """``part / whole`` (28 significant digits); 0 when ``whole`` is 0."""
    if not whole:
        return _ZERO
    with localcontext() as ctx:
        ctx.prec = 28
        return Decimal(part) / Decimal(whole)


def prorated(
    value: Decimal | int, days: Decimal, part: Decimal | int = 1, whole: Decimal | int = 1
) -> Decimal:
    """``value x part / whole x days / 365`` as one exact fraction, rounded once (28 digits),
    so a maximum of 36,500 over 59 days is 5,900, not 5,899.99...; 0 when ``whole`` is 0."""
    if not whole:
        return _ZERO
    exact = (
        Fraction(value)
        * Fraction(part)
        * Fraction(days)
        / (Fraction(whole) * Fraction(_DAYS_PER_YEAR))
    )
    return ratio(exact.numerator, exact.denominator)


def _optional_ratio(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    return ratio(part, whole) if whole else None


# --------------------------------------------------------------------------- ledger flows


@dataclass(frozen=True, slots=True)
class CurrencyFlow:
    """What moved through one currency's accounts, as positive numbers.

    ``issued = earned + rewarded - reversed``; ``spent`` is gross (before
    refunds); ``adjusted`` is the one signed figure: manual adjustments,
    credits less debits (``Engine.adjust``), kept out of ``issued`` since no
    rule paid them; ``outstanding`` is the sum of the members' balances when
    the caller knows it.
    """

    currency: str
    spendable: bool
    earned: int
    rewarded: int
    reversed: int
    issued: int
    spent: int
    refunded: int
    expired: int
    adjusted: int = 0
    outstanding: int | None = None

    @property
    def net_spent(self) -> int:
        return self.spent - self.refunded

    def with_outstanding(self, outstanding: int) -> CurrencyFlow:
        return replace(self, outstanding=outstanding)


def currency_flows(
    totals: Iterable[tuple[str, str, str | None, int]], currency: str, *, spendable: bool = True
) -> CurrencyFlow:
    """Sum ``ledger_totals()`` rows of ``currency`` (and its pending and debt accounts)."""
    pending, debt = f"{currency}:pending", f"{currency}:debt"
    sums: dict[tuple[str, str], int] = {}
    for account, kind, _action, amount in totals:
        if account in (currency, pending, debt):
            key = ("main" if account != debt else "debt", kind)
            sums[key] = sums.get(key, 0) + amount
            if account == currency and kind == "debt":
                sums[("settled", "debt")] = sums.get(("settled", "debt"), 0) + amount
    earned = sums.get(("main", "earn"), 0)
    rewarded = sums.get(("main", "reward"), 0)
    # Debt is booked (+) and settled (-) on the debt account; settling also
    # takes the same amount off the currency account, so booked = net - settled.
    booked = sums.get(("debt", "debt"), 0) - sums.get(("settled", "debt"), 0)
    reversed_ = -sums.get(("main", "reverse"), 0) + booked
    return CurrencyFlow(
        currency=currency,
        spendable=spendable,
        earned=earned,
        rewarded=rewarded,
        reversed=reversed_,
        issued=earned + rewarded - reversed_,
        spent=-sums.get(("main", "spend"), 0),
        refunded=sums.get(("main", "refund"), 0),
        expired=-sums.get(("main", "expire"), 0),
        adjusted=sums.get(("main", "adjust"), 0),
    )


# --------------------------------------------------------------------------- issuance cases


@dataclass(frozen=True, slots=True)
class IssuanceCheck:
    """Maximum, predicted and actual issuance, the case they fall in and its advice."""

    maximum: Decimal
    predicted: Decimal
    actual: Decimal
    case: IssuanceCase
    verdict: Verdict
    advice: str


def _above(a: Decimal, b: Decimal) -> bool:
    """Is ``a`` above ``b`` by more than the tolerance (``a > 1.1 b``)?"""
    return a > b * (_ONE + ISSUANCE_TOLERANCE)


def classify_issuance(
    maximum: Decimal | int, predicted: Decimal | int, actual: Decimal | int
) -> IssuanceCheck:
    """The first of the five issuance cases that holds (see the module docstring)."""
    m, p, a = Decimal(maximum), Decimal(predicted), Decimal(actual)
    case: IssuanceCase
    if not _above(max(m, p, a), min(m, p, a)):
        case = "healthy"
    elif m < a:
        case = "max_below_actual"
    elif m < p:
        case = "max_below_predicted"
    elif _above(p, a):
        case = "predicted_above_actual"
    elif _above(m, a):
        case = "max_above_actual"
    else:
        case = "actual_above_predicted"
    verdict, advice = _CASES[case]
    return IssuanceCheck(m, p, a, case, verdict, advice)


# --------------------------------------------------------------------------- plan file


@dataclass(frozen=True, slots=True)
class CoreRange:
    """The yearly core amounts per member ``[low, high)`` that put a member in a segment."""

    segment: str
    low: Decimal | None
    high: Decimal | None
    explicit: bool

    def holds(self, amount: Decimal) -> bool:
        return (self.low is None or amount >= self.low) and (
            self.high is None or amount < self.high
        )


def load_report_plan(path: str | os.PathLike[str]) -> tuple[Plan, dict[str, CoreRange]]:
    """Load a plan and its segments' core-amount ranges (see :func:`core_ranges`).

    Errors are ProgramErrors with key paths as for :func:`gamify.planning.load_plan`,
    which also validates the segments' ``core_amount_min`` / ``core_amount_max``.
    """
    plan = load_plan(path)
    try:
        return plan, core_ranges(plan)
    except ProgramError as exc:
        raise ProgramError(exc.reason, file=os.fspath(path), key_path=exc.key_path) from None


def core_ranges(plan: Plan) -> dict[str, CoreRange]:
    """Each segment's core-amount range: its own bounds where given, else midpoints.

    Segments sorted by core amount per member split where the higher one's
    ``core_amount_min`` or else the lower one's ``core_amount_max`` says, else
    at the midpoint of their core amounts per member; the lowest segment
    starts at 0 and the highest has no upper bound unless they say otherwise.
    """
    per_member = []
    for index, segment in enumerate(plan.segments):
        if segment.core_amount_per_member is not None:
            amount = segment.core_amount_per_member
        else:
            assert segment.total_core_amount is not None
            amount = ratio(segment.total_core_amount, segment.members)
        per_member.append((amount, index))
    order = sorted(per_member)
    low = {i: plan.segments[i].core_amount_min for _, i in order}
    high = {i: plan.segments[i].core_amount_max for _, i in order}
    for (amount, below), (next_amount, above) in itertools.pairwise(order):
        split = low[above] if low[above] is not None else high[below]
        if split is None:
            split = (amount + next_amount) / 2
        if high[below] is None:
            high[below] = split
        if low[above] is None:
            low[above] = split
    # Bounds given by hand can contradict each other or the midpoints: every range must
    # hold some amount, and a member must fit one segment only.
    for _, index in order:
        start, end = low[index], high[index]
        if start is not None and end is not None and start >= end:
            given = plan.segments[index]
            key = "core_amount_min" if given.core_amount_min is not None else "core_amount_max"
            raise ProgramError(
                f"segment {given.name!r} holds no core amount: its range "
                f"{_range_text(start, end)} is empty beside its neighbours'",
                key_path=f"segments[{index}].{key}",
            )
    # Neighbours suffice: with every range non-empty, ordered neighbours order them all.
    # Only a minimum given above a maximum given below can overlap (a split fills both).
    for (_, below), (_, above) in itertools.pairwise(order):
        top, bottom = high[below], low[above]
        if top is not None and bottom is not None and top > bottom:
            raise ProgramError(
                f"the core-amount range of segment {plan.segments[below].name!r} "
                f"({_range_text(low[below], top)}) overlaps that of segment "
                f"{plan.segments[above].name!r} ({_range_text(bottom, high[above])})",
                key_path=f"segments[{above}].core_amount_min",
            )
    return {
        segment.name: CoreRange(
            segment.name,
            low[index],
            high[index],
            segment.core_amount_min is not None or segment.core_amount_max is not None,
        )
        for index, segment in enumerate(plan.segments)
    }


def _range_text(low: Decimal | None, high: Decimal | None) -> str:
    return f"[{low if low is not None else 0}, {high if high is not None else 'no limit'})"


# --------------------------------------------------------------------------- window


@dataclass(frozen=True, slots=True)
class Window:
    """The report window ``[start, end)``; ``days`` counts local days of ``timezone``."""

    timezone: str
    since: date
    start: datetime
    end: datetime
    days: Decimal

    @property
    def year_fraction(self) -> Decimal:
        return ratio(self.days, _DAYS_PER_YEAR)


def members_text(count: int) -> str:
    """``1 member``, ``2,345 members``."""
    return f"{count:,} member" if count == 1 else f"{count:,} members"


def unassigned_text(count: int) -> str:
    """``1 member fits no segment``, ``3 members fit no segment``."""
    return f"{members_text(count)} {'fits' if count == 1 else 'fit'} no segment"


def _utc(at: datetime) -> datetime:
    """``at`` as a plain stdlib datetime in UTC (pendulum's subclass does its own arithmetic)."""
    u = at.astimezone(UTC)
    return datetime(u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond, tzinfo=UTC)


def report_window(since: date, end: datetime, timezone: str) -> Window:
    """The window from local midnight of ``since`` to ``end``, with its length in local days.

    Whole local days count 1 each (23 or 25 hours across DST); a last partial
    day counts its elapsed share of that local day.
    """
    tz = ZoneInfo(timezone)
    start = local_midnight(since, tz.key)
    end = _utc(end)
    if end <= start:
        return Window(timezone, since, start, start, _ZERO)
    last = end.astimezone(tz).date()
    whole = (last - since).days
    day_start = local_midnight(last, tz.key)
    day_length = local_midnight(last + timedelta(days=1), tz.key) - day_start
    partial = ratio(
        Decimal((end - day_start) // timedelta(microseconds=1)),
        Decimal(day_length // timedelta(microseconds=1)),
    )
    return Window(timezone, since, start, end, Decimal(whole) + partial)


# --------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class Spending:
    """How a group of members used their points in the window."""

    issued: int
    """Points put in circulation: issued by rules and rewards (net of reversals) plus the
    net of manual adjustments, so that burn and expiry rates weigh every point held."""
    spent: int
    """Net of refunds."""
    expired: int
    holders: int
    """Members who held points in the window (a spendable or pending balance at its start,
    or credits in it)."""
    spenders: int
    burn_rate: Decimal | None
    spender_share: Decimal | None
    expiry_rate: Decimal | None
    earn_burn: Decimal | None


@dataclass(frozen=True, slots=True)
class ActionHealth:
    """Points an action's earning rules issued against the plan, and members who did it."""

    action: str
    issued: int
    predicted: Decimal | None
    deviation: Decimal | None
    """``issued / predicted - 1``; None without a prediction or with a prediction of 0
    (an action that issues against a plan of 0 gets the ``action_planned_zero`` alert)."""
    members: int
    planned_members: int | None


@dataclass(frozen=True, slots=True)
class SegmentHealth:
    """One plan segment: its members in the store, issuance against plan, and spending."""

    name: str
    range: CoreRange
    planned_members: int
    members: int
    by_tag: int
    """Members placed by a tag (the rest by core amount)."""
    issuance: IssuanceCheck
    predicted_per_member: Decimal
    actual_per_member: Decimal | None
    spending: Spending


@dataclass(frozen=True, slots=True)
class Alert:
    """A finding for a designer. ``code`` names it: ``issuance_<case>``,
    ``burn_rate_low`` / ``_high``, ``spender_share_low``, ``expiry_rate_high``,
    ``earn_burn``, ``action_over_issued`` / ``_under_issued`` (more than 10 % off the
    prediction), ``action_planned_zero`` (points issued by an action the plan predicts
    none for), ``action_not_planned`` (an action the plan has no rule for) and
    ``unassigned_members``; ``scope`` is ``total``, ``action:<name>`` or ``segment:<name>``.
    """

    level: Literal["warning", "info"]
    code: str
    scope: str
    message: str


@dataclass(frozen=True, slots=True)
class Report:
    currency: str
    window: Window
    members: int
    flow: CurrencyFlow
    spending: Spending
    calibrated: bool
    issuance: IssuanceCheck | None
    actions: tuple[ActionHealth, ...]
    action_deviation: Decimal | None
    """Sum over actions of (issued - predicted), as a share of the total predicted."""
    segments: tuple[SegmentHealth, ...]
    unassigned: int
    """Members in no segment (their core amount fits no explicit range)."""
    alerts: tuple[Alert, ...]


@dataclass(slots=True)
class _Member:
    member_id: str
    tags: tuple[str, ...]
    opening: int = 0
    issued: int = 0
    spent: int = 0
    expired: int = 0
    adjusted: int = 0
    credited: int = 0
    """Gross credits in the window (earned, rewarded, adjusted up): a member whose points
    were reversed after they spent them still held points."""
    by_action: dict[str, int] | None = None

    def add(self, entry: LedgerEntry, currency: str, start: datetime, end: datetime) -> None:
        main, pending, debt = currency, f"{currency}:pending", f"{currency}:debt"
        if entry.at < start:
            # Pending points are held too: they mature and may be spent in the window.
            if entry.account in (main, pending):
                self.opening += entry.amount
            return
        if entry.at >= end:
            return
        kind, amount = entry.kind, entry.amount
        if kind == "debt":
            # As in currency_flows: debt booked on the debt account less what the currency
            # account books as debt is the part of a reversal not already in "reverse".
            if entry.account == main:
                self.issued += amount
            elif entry.account == debt:
                self.issued -= amount
        elif entry.account in (main, pending):
            if kind in ("earn", "reward", "adjust") and amount > 0:
                self.credited += amount
            if kind in ("earn", "reward", "reverse"):
                self.issued += amount
                if kind != "reward" and entry.action is not None:
                    actions = self.by_action if self.by_action is not None else {}
                    actions[entry.action] = actions.get(entry.action, 0) + amount
                    self.by_action = actions
            elif kind in ("spend", "refund"):
                self.spent -= amount  # spends are negative, refunds positive
            elif kind == "expire":
                self.expired -= amount
            elif kind == "adjust":
                self.adjusted += amount

    @property
    def holder(self) -> bool:
        return self.opening > 0 or self.credited > 0

    @property
    def spender(self) -> bool:
        return self.spent > 0


def _spending(members: Sequence[_Member], flow: CurrencyFlow | None = None) -> Spending:
    if flow is not None:
        issued, spent, expired = flow.issued + flow.adjusted, flow.net_spent, flow.expired
    else:
        issued = sum(m.issued + m.adjusted for m in members)
        spent = sum(m.spent for m in members)
        expired = sum(m.expired for m in members)
    holders = sum(1 for m in members if m.holder)
    spenders = sum(1 for m in members if m.holder and m.spender)
    return Spending(
        issued=issued,
        spent=spent,
        expired=expired,
        holders=holders,
        spenders=spenders,
        burn_rate=_optional_ratio(spent, issued),
        spender_share=_optional_ratio(spenders, holders),
        expiry_rate=_optional_ratio(expired, issued),
        earn_burn=_optional_ratio(issued, spent),
    )


def _segment_figures(result: PlanResult, calibrated: bool) -> tuple[SegmentIssuance, ...]:
    return result.calibrated_segments if calibrated else result.segments


def build_report(
    store: Store,
    *,
    now: datetime,
    plan: Plan | None = None,
    ranges: Mapping[str, CoreRange] | None = None,
    since: date | None = None,
    until: date | None = None,
    timezone: str = "UTC",
    currency: str = "points",
    calibrated: bool = False,
) -> Report:
    """Read ``store`` and judge its economy in the window ``[since, until or now)``.

    ``since`` defaults to the local day the first member was registered (or
    ``until``/``now``'s day for an empty store). Raises ProgramError when the
    plan predicts nothing (see :func:`gamify.planning.compute_plan`).
    """
    if since is not None and until is not None and since >= until:
        raise InvalidTimeError(f"since ({since}) must come before until ({until})")
    tz = ZoneInfo(timezone)
    # A window never reaches past now: the plan is prorated over days that happened.
    end = min(local_midnight(until, tz.key), _utc(now)) if until is not None else _utc(now)
    ids = list(store.member_ids())
    records = {member_id: store.get_member(member_id) for member_id in ids}
    if since is None:
        created = [r.created_at for r in records.values() if r is not None and r.created_at]
        since = min(created).astimezone(tz).date() if created else end.astimezone(tz).date()
    window = report_window(since, end, timezone)
    if until is not None and window.end <= window.start:
        raise InvalidTimeError(
            f"nothing to report: no member was registered before {until} "
            f"(the first one came on {since})"
        )

    totals = store.ledger_totals(window.start, window.end)
    flow = currency_flows(totals, currency)
    upto_end = store.ledger_totals(None, window.end)
    held = {account.partition(":")[0] for account, *_ in upto_end}
    if held and currency not in held:  # a typo would report an all-zero economy
        raise NotFoundError(
            f"currency {currency!r}: the store holds no {currency!r} entries "
            f"(it holds {', '.join(sorted(held))})"
        )
    # What members held when the window ended: the ledger up to then, not today's balances.
    outstanding = sum(amount for account, _, _, amount in upto_end if account == currency)
    flow = flow.with_outstanding(outstanding)

    members: list[_Member] = []
    for member_id in ids:
        record = records[member_id]
        member = _Member(member_id, tuple(record.tags) if record is not None else ())
        entries = store.history(member_id)
        for entry in entries:
            member.add(entry, currency, window.start, window.end)
        joined = record is None or record.created_at is None or record.created_at < window.end
        if joined or any(entry.at < window.end for entry in entries):
            members.append(member)  # a member who joined after the window is not counted
    spending = _spending(members, flow)

    issued_by_action: dict[str, int] = {}
    for account, kind, action, amount in totals:
        if (
            action is not None
            and kind in ("earn", "reverse")
            and account in (currency, f"{currency}:pending")
        ):
            issued_by_action[action] = issued_by_action.get(action, 0) + amount
    doers: dict[str, int] = {}
    for member in members:
        for action, amount in (member.by_action or {}).items():
            if amount > 0:
                doers[action] = doers.get(action, 0) + 1

    days = window.days
    issuance: IssuanceCheck | None = None
    segments: list[SegmentHealth] = []
    unassigned = 0
    predicted_by_action: dict[str, Decimal] = {}
    planned_doers: dict[str, int] = {}
    if plan is not None:
        result = compute_plan(plan)
        figures = _segment_figures(result, calibrated)
        total_predicted = sum((s.predicted_points for s in figures), _ZERO)
        issuance = classify_issuance(
            prorated(result.issuable_points, days), prorated(total_predicted, days), flow.issued
        )
        yearly_by_action: dict[str, Decimal] = {}
        for segment in figures:
            for planned in segment.actions:
                yearly_by_action[planned.action] = (
                    yearly_by_action.get(planned.action, _ZERO) + planned.predicted_points
                )
                if planned.count_per_member > 0:
                    planned_doers[planned.action] = (
                        planned_doers.get(planned.action, 0) + segment.members
                    )
        predicted_by_action = {a: prorated(v, days) for a, v in yearly_by_action.items()}
        ranges = ranges if ranges is not None else core_ranges(plan)
        coefficient = next((r.rounded if calibrated else r.value) for r in result.rules if r.core)
        groups, by_tag, unassigned = _assign(
            members, plan, ranges, coefficient, result.core_action, window.days
        )
        for segment in figures:
            group = groups[segment.name]
            actual = sum(m.issued for m in group)
            predicted_pm = prorated(segment.predicted_points_per_member, days)
            segments.append(
                SegmentHealth(
                    name=segment.name,
                    range=ranges[segment.name],
                    planned_members=segment.members,
                    members=len(group),
                    by_tag=by_tag[segment.name],
                    issuance=classify_issuance(
                        prorated(
                            result.issuable_points, days, segment.predicted_points, total_predicted
                        ),
                        prorated(segment.predicted_points, days),
                        actual,
                    ),
                    predicted_per_member=predicted_pm,
                    actual_per_member=_optional_ratio(actual, len(group)),
                    spending=_spending(group),
                )
            )

    actions = []
    for action in sorted(set(issued_by_action) | set(predicted_by_action)):
        issued = issued_by_action.get(action, 0)
        predicted = predicted_by_action.get(action) if plan is not None else None
        actions.append(
            ActionHealth(
                action=action,
                issued=issued,
                predicted=predicted,
                deviation=(ratio(issued, predicted) - 1) if predicted else None,
                members=doers.get(action, 0),
                planned_members=planned_doers.get(action) if plan is not None else None,
            )
        )
    action_deviation: Decimal | None = None
    predicted_sum = sum(predicted_by_action.values(), _ZERO)
    if plan is not None and predicted_sum:
        action_deviation = ratio(
            sum((a.issued - (a.predicted or _ZERO) for a in actions), _ZERO), predicted_sum
        )

    report = Report(
        currency=currency,
        window=window,
        members=len(members),
        flow=flow,
        spending=spending,
        calibrated=calibrated,
        issuance=issuance,
        actions=tuple(actions),
        action_deviation=action_deviation,
        segments=tuple(segments),
        unassigned=unassigned,
        alerts=(),
    )
    return replace(report, alerts=tuple(_alerts(report)))


def _assign(
    members: Sequence[_Member],
    plan: Plan,
    ranges: Mapping[str, CoreRange],
    coefficient: Decimal,
    core_action: str,
    days: Decimal,
) -> tuple[dict[str, list[_Member]], dict[str, int], int]:
    names = [s.name for s in plan.segments]
    groups: dict[str, list[_Member]] = {name: [] for name in names}
    by_tag = dict.fromkeys(names, 0)
    unassigned = 0
    for member in members:
        tagged = next((name for name in names if name in member.tags), None)
        if tagged is not None:
            groups[tagged].append(member)
            by_tag[tagged] += 1
            continue
        core_points = Decimal((member.by_action or {}).get(core_action, 0))
        yearly = ratio(ratio(core_points, coefficient) * _DAYS_PER_YEAR, days) if days else _ZERO
        home = next((name for name in names if ranges[name].holds(yearly)), None)
        if home is None:
            unassigned += 1
        else:
            groups[home].append(member)
    return groups, by_tag, unassigned


def _pct(value: Decimal) -> str:
    # Halves round up, as the command's own figures do: an alert repeats them.
    return f"{(value * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)} %"


def _spending_alerts(spending: Spending, scope: str) -> list[Alert]:
    out: list[Alert] = []
    low, high = BURN_RATE_RANGE
    if spending.burn_rate is not None:
        if spending.burn_rate < low:
            out.append(
                Alert(
                    "warning",
                    "burn_rate_low",
                    scope,
                    f"burn rate {_pct(spending.burn_rate)} is below {_pct(low)}: points pile "
                    "up; offer more to spend them on and guide the first redemption",
                )
            )
        elif spending.burn_rate > high:
            out.append(
                Alert(
                    "warning",
                    "burn_rate_high",
                    scope,
                    f"burn rate {_pct(spending.burn_rate)} is above {_pct(high)}: points are "
                    "spent as fast as they come; check reward prices and earning",
                )
            )
    if spending.spender_share is not None and spending.spender_share < BURNER_SHARE_MIN:
        out.append(
            Alert(
                "warning",
                "spender_share_low",
                scope,
                f"only {_pct(spending.spender_share)} of point holders spent points (healthy "
                f"from {_pct(BURNER_SHARE_MIN)}): offer rewards every segment can reach",
            )
        )
    if spending.expiry_rate is not None and spending.expiry_rate > EXPIRY_RATE_MAX:
        out.append(
            Alert(
                "warning",
                "expiry_rate_high",
                scope,
                f"expiry rate {_pct(spending.expiry_rate)} is above {_pct(EXPIRY_RATE_MAX)}: "
                "members do not engage; remind them before points expire",
            )
        )
    return out


def _alerts(report: Report) -> list[Alert]:
    out: list[Alert] = []
    if report.issuance is not None and report.issuance.verdict != "healthy":
        out.append(
            Alert(
                "warning",
                f"issuance_{report.issuance.case}",
                "total",
                f"issuance {report.issuance.case.replace('_', ' ')}: {report.issuance.advice}",
            )
        )
    out.extend(_spending_alerts(report.spending, "total"))
    earn_burn = report.spending.earn_burn
    low, high = EARN_BURN_RANGE
    if earn_burn is not None and not low <= earn_burn <= high:
        out.append(
            Alert(
                "info",
                "earn_burn",
                "total",
                f"earn/burn ratio {earn_burn.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)} "
                f"is outside {low}-{high}: "
                "the stock of unspent points is "
                + ("growing" if earn_burn > high else "shrinking"),
            )
        )
    for action in report.actions:
        if action.deviation is not None and abs(action.deviation) > ISSUANCE_TOLERANCE:
            direction = "over" if action.deviation > 0 else "under"
            out.append(
                Alert(
                    "warning",
                    f"action_{direction}_issued",
                    f"action:{action.action}",
                    f"action {action.action!r} issued {_pct(abs(action.deviation))} "
                    f"{'more' if action.deviation > 0 else 'less'} than predicted "
                    f"({members_text(action.members)} did it"
                    + (
                        f", {action.planned_members} planned)"
                        if action.planned_members is not None
                        else ")"
                    ),
                )
            )
        elif action.predicted == 0 and action.issued > 0:
            # No deviation from a prediction of 0, yet every such point is over the plan.
            out.append(
                Alert(
                    "warning",
                    "action_planned_zero",
                    f"action:{action.action}",
                    f"action {action.action!r} issued {action.issued:,} points but the plan "
                    f"predicts none for it ({members_text(action.members)} did it): plan its count "
                    "and completion rate, or stop its rule",
                )
            )
        elif action.predicted is None and report.issuance is not None:
            out.append(
                Alert(
                    "info",
                    "action_not_planned",
                    f"action:{action.action}",
                    f"action {action.action!r} issued points but is not in the plan",
                )
            )
    for segment in report.segments:
        scope = f"segment:{segment.name}"
        if segment.issuance.verdict != "healthy":
            out.append(
                Alert(
                    "warning",
                    f"issuance_{segment.issuance.case}",
                    scope,
                    f"segment {segment.name!r}: issuance "
                    f"{segment.issuance.case.replace('_', ' ')}: {segment.issuance.advice}",
                )
            )
        out.extend(_spending_alerts(segment.spending, scope))
    if report.unassigned:
        out.append(
            Alert(
                "info",
                "unassigned_members",
                "total",
                f"{unassigned_text(report.unassigned)}'s core-amount range",
            )
        )
    return out
