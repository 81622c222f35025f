"""Generated programs: the loader and the engine never crash on what a designer may write.

Hypothesis builds program dicts from the keys of ``docs/program.md``: every section,
unusual but valid values (bounds, 0 and 1, tiny and huge numbers, many items, names in
any script, every curve family, badge kind and metric, stacking and rounding mode,
zones with DST and half-hour offsets), and a mutation that breaks one thing (a wrong
type, a value out of bounds, an unknown key, a dangling reference).

- Loading either succeeds or raises ``gamify.ProgramError`` whose ``key_path`` names a
  place in the data, never anything else.
- Every program the valid strategy builds loads.
- On a loaded program, a random sequence of engine calls on ``memory://`` with a
  ``ManualClock`` (moving by minutes to months, across DST changes) raises only
  ``gamify.GamifyError`` subclasses; after every call each account equals the sum of its
  ledger entries, no spendable account is negative, and open and pending lots hold the
  spendable and pending balances.

``GAMIFY_GENERATED_EXAMPLES`` multiplies the number of examples (for a longer hunt).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pendulum
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from gamify import (
    BadgeFacts,
    Engine,
    GamifyError,
    ManualClock,
    Program,
    ProgramError,
    Redemption,
)
from gamify.testing import assert_ledger_consistent

SCALE = int(os.environ.get("GAMIFY_GENERATED_EXAMPLES", "1"))

# Zones with DST, half-hour and 45-minute offsets, both hemispheres, the date line.
ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Shanghai",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "America/Sao_Paulo",
    "Europe/London",
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FAMILIES = ("erratic", "fast", "medium_fast", "medium_slow", "slow", "fluctuating")
ATTRIBUTES = ("channel", "qty", "price")

# Names: plain, in other scripts, with spaces and symbols, long, and the formula's own names.
PLAIN_NAMES = (
    "purchase",
    "check_in",
    "amount",
    "level",
    "streak",
    "count",
    "Café ☕",
    "日本語",
    "שלום",
    "a b",
    "x" * 60,
    "🎉",
    "0",
)
names = st.one_of(
    st.sampled_from(PLAIN_NAMES),
    st.text(
        st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=".[]"),
        min_size=1,
        max_size=12,
    ),
)
identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


def unique_names(min_size: int, max_size: int) -> st.SearchStrategy[list[str]]:
    return st.lists(names, min_size=min_size, max_size=max_size, unique=True)


# Numbers ----------------------------------------------------------------------------------

EDGE_POSITIVE = (
    Decimal("1e-12"),
    Decimal("1e12"),
    Decimal("999999999999.999"),
    Decimal("0.000001"),
    Decimal(1),
    Decimal("0.5"),
    Decimal("1.000000000001"),
)


def written(value: Decimal) -> st.SearchStrategy[Any]:
    """``value`` as a file may hold it: a Decimal, its text, a float or an int when whole."""
    options: list[Any] = [value, str(value)]
    if len(value.as_tuple().digits) <= 15:
        options.append(float(value))
    if value == value.to_integral_value() and abs(value) < 10**15:
        options.append(int(value))
    return st.sampled_from(options)


def positive(low: Decimal = Decimal("1e-12"), high: Decimal = Decimal("1e12")) -> Any:
    """A number in [low, high] (both within the program's magnitudes), as written in a file."""
    edges = [d for d in EDGE_POSITIVE if low <= d <= high] + [low, high]
    decimals = st.decimals(min_value=low, max_value=high, places=3, allow_nan=False)
    return st.one_of(st.sampled_from(edges), decimals).filter(lambda d: d >= low).flatmap(written)


def non_negative(high: Decimal = Decimal("1e12")) -> Any:
    return st.one_of(st.just(0), positive(high=high))


big_ints = st.one_of(
    st.sampled_from([0, 1, 2, 10**12, 10**15 - 1]),  # at most what one credit may pay
    st.integers(0, 10**6),
)
small_ints = st.one_of(st.sampled_from([0, 1]), st.integers(0, 500))


def rewards(currencies: list[str]) -> Any:
    return st.dictionaries(st.sampled_from(currencies), big_ints, max_size=3)


def instants() -> Any:
    """An aware instant around the simulated years, with an offset, as text or datetime."""
    moment = st.datetimes(
        min_value=datetime(2025, 6, 1), max_value=datetime(2028, 6, 1), timezones=st.just(UTC)
    )
    offsets = st.sampled_from([0, 60, 330, 345, -210, 765, -660, 840])

    def shifted(at: datetime, minutes: int) -> Any:
        local = at.astimezone(timezone(timedelta(minutes=minutes)))
        return st.sampled_from([local, local.isoformat()])

    return st.tuples(moment, offsets).flatmap(lambda t: shifted(*t))


# Formulas ---------------------------------------------------------------------------------

LITERALS = ("0", "1", "2", "0.5", "1e3", "1e30", "1e-30", "2.75", "100")


def formulas(
    names_read: list[str], literals: tuple[str, ...] = LITERALS, times: bool = True
) -> Any:
    leaves = st.sampled_from(list(literals) + names_read)
    divisors = st.sampled_from([lit for lit in literals if lit != "0"] + names_read)

    def extend(inner: Any) -> Any:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*"] if times else ["+", "-"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            # Literals alone are worked out at load, which refuses a division by 0 or a
            # floor division past 50 digits; a name that makes them so when the event
            # comes fails then, with a FormulaError.
            st.tuples(inner, divisors).map(lambda t: f"({t[0]} / {t[1]})"),
            st.tuples(inner, st.sampled_from(names_read or ["1"])).map(
                lambda t: f"({t[0]} // {t[1]})"
            ),
            st.tuples(st.sampled_from(["min", "max"]), st.lists(inner, min_size=2, max_size=3)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"
            ),
            st.tuples(st.sampled_from(["floor", "ceil", "-", "+"]), inner).map(
                lambda t: f"{t[0]}({t[1]})"
            ),
        )

    text = st.recursive(leaves, extend, max_leaves=6)
    return st.one_of(text, st.sampled_from([0, 5, "1.5", 2.5]))


# Sections ---------------------------------------------------------------------------------


@st.composite
def validity(draw: Any) -> dict[str, Any]:
    policy = draw(st.sampled_from(["never", "end_of_next_year", "months_end", "months"]))
    out: dict[str, Any] = {"policy": policy}
    if policy == "months":
        out["months"] = draw(st.sampled_from([1, 2, 12, 1200]) | st.integers(1, 1200))
    elif policy == "months_end":
        out["months"] = draw(st.sampled_from([0, 1, 12, 1200]))
    elif draw(st.booleans()):
        out["months"] = draw(st.integers(0, 1200))
    return out


def condition(attribute: str) -> Any:
    number = st.one_of(st.integers(-5, 500), st.sampled_from(["12.5", 9.99, "1e12", 0]))
    value = st.one_of(number, st.sampled_from(["app", "web", None, True, "日本"]))
    return st.one_of(
        st.builds(lambda v: {"attribute": attribute, "value": v}, value),
        st.builds(
            lambda op, v: {"attribute": attribute, "op": op, "value": v},
            st.sampled_from(["eq", "ne"]),
            value,
        ),
        st.builds(
            lambda op, v: {"attribute": attribute, "op": op, "value": v},
            st.sampled_from(["gt", "gte", "lt", "lte"]),
            number,
        ),
        st.builds(
            lambda op, v: {"attribute": attribute, "op": op, "value": v},
            st.sampled_from(["in", "not_in"]),
            st.lists(value, max_size=3),
        ),
        st.just({"attribute": attribute, "op": "exists"}),
    )


@st.composite
def level_curve(draw: Any, currencies: list[str]) -> dict[str, Any]:
    family = draw(
        st.sampled_from(["table", "linear", "polynomial", "exponential", "runescape", *FAMILIES])
    )
    out: dict[str, Any] = {"curve": family}
    if family == "table":
        steps = draw(st.lists(st.integers(1, 10**9), min_size=1, max_size=40))
        thresholds = [0]
        for step in steps:
            thresholds.append(thresholds[-1] + step)
        out["thresholds"] = thresholds
        if draw(st.booleans()):
            out["max_level"] = len(thresholds)
    elif family == "linear":
        out["params"] = {"step": draw(positive(Decimal(1)))}
        out["max_level"] = draw(st.sampled_from([2, 3, 100, 10_000]) | st.integers(2, 10_000))
    elif family == "polynomial":
        out["params"] = {
            "a": draw(positive(Decimal(1), Decimal(1000))),
            "p": draw(st.sampled_from([1, "1.5", 2, 3])),
        }
        out["max_level"] = draw(st.sampled_from([2, 100, 10_000]) | st.integers(2, 10_000))
    elif family == "exponential":
        out["params"] = {"base": draw(st.sampled_from([1, 2, 10])), "r": draw(st.sampled_from([2]))}
        out["max_level"] = draw(st.integers(2, 58))
    elif family == "runescape":
        out["max_level"] = draw(st.sampled_from([2, 99, 120, 350]) | st.integers(2, 350))
    elif draw(st.booleans()):
        out["max_level"] = draw(st.sampled_from([2, 100]) | st.integers(2, 100))
    if "xp" in currencies and draw(st.booleans()):
        pass  # the default currency
    else:
        out["currency"] = draw(st.sampled_from(currencies))
    if out.get("currency", "xp") not in currencies:
        out["currency"] = currencies[0]
    out["at_max"] = draw(st.sampled_from(["accrue", "stop"]))
    out["on_curve_change"] = draw(st.sampled_from(["keep", "recompute"]))
    # A level's reward is worked out at load for every level and must fit one credit:
    # small literals, and no product of levels.
    level_formulas = st.one_of(
        st.sampled_from(["50 * level", "level", "0", "-level", "level * 1e10", "level / 3"]),
        formulas(["level"], literals=("0", "1", "2", "0.5", "2.75", "100"), times=False),
    )
    out["reward"] = draw(st.dictionaries(st.sampled_from(currencies), level_formulas, max_size=2))
    return out


@st.composite
def programs(draw: Any) -> dict[str, Any]:
    """A program dict that follows every documented rule."""
    program: dict[str, Any] = {"timezone": draw(st.sampled_from(ZONES))}
    for key, values in (
        ("week_start", WEEKDAYS),
        ("rounding", ("down", "up", "half_up", "half_even")),
        ("stacking", ("compound", "additive", "highest")),
    ):
        if draw(st.booleans()):
            program[key] = draw(st.sampled_from(values))
    if draw(st.booleans()):
        program["name"] = draw(names)
    if draw(st.booleans()):
        program["late_event_days"] = draw(st.sampled_from([1, 2, 90, 36_500]))

    # Currencies: the defaults, or a table (points spendable or not, more of them).
    if draw(st.booleans()):
        spendable = {"points": True, "xp": False}
    else:
        extra = draw(unique_names(0, 3).map(lambda ns: [n for n in ns if n not in ("points",)]))
        spendable = {"points": draw(st.booleans()) or draw(st.booleans())}
        spendable.update({n: draw(st.booleans()) for n in extra})
        program["currencies"] = {
            name: {"spendable": flag, "description": draw(st.sampled_from(["", "d", "説明"]))}
            for name, flag in spendable.items()
        }
    currencies = list(spendable)
    points = spendable.get("points", False)

    actions = draw(unique_names(1, 6))
    modes = {a: draw(st.sampled_from(["optional", "required", "none"])) for a in actions}
    program["actions"] = {
        a: ({"amount": m} if m != "optional" or draw(st.booleans()) else {})
        for a, m in modes.items()
    }

    # Streaks first: rules' formulas read them.
    streaks: dict[str, dict[str, Any]] = {}
    for name in draw(st.lists(st.one_of(identifiers, names), max_size=3, unique=True)):
        streak: dict[str, Any] = {
            "actions": draw(st.lists(st.sampled_from(actions), min_size=1, max_size=3, unique=True))
        }
        if draw(st.booleans()):
            streak["period"] = draw(st.sampled_from(["day", "week"]))
        streak["milestones"] = draw(
            st.lists(
                st.builds(
                    lambda length, reward: {"length": length, "reward": reward},
                    st.sampled_from([1, 2, 3, 7, 10**9]) | st.integers(1, 40),
                    rewards(currencies),
                ),
                max_size=4,
            )
        )
        if draw(st.booleans()):
            streak["freeze"] = {
                "every": draw(st.sampled_from([1, 2, 7, 10**6])),
                "max_tokens": draw(st.sampled_from([1, 2, 5, 10**6])),
            }
        payable = [c for c in currencies if spendable[c]]
        if payable and draw(st.booleans()):
            repair: dict[str, Any] = {
                "window_hours": draw(st.sampled_from([1, 24, 48, 876_000])),
                "cost": draw(st.sampled_from([0, 1, 25, 10**15])),
                "currency": draw(st.sampled_from(payable)),
            }
            if draw(st.booleans()):
                repair["per_month"] = draw(st.sampled_from([1, 2, 10**6]))
            streak["repair"] = repair
        streaks[name] = streak
    if streaks:
        program["streaks"] = streaks

    # Rules.
    rule_names = draw(unique_names(0, 8))
    rules = []
    for name in rule_names:
        action = draw(st.sampled_from(actions))
        counting = [s for s, spec in streaks.items() if action in spec["actions"]]
        readable = ["amount", "count", "level", "qty", "price"]
        readable += [f"streak_{s}" for s in counting if re.fullmatch(r"[a-z][a-z0-9_]*", s)]
        if counting:
            readable.append("streak")
        rule: dict[str, Any] = {
            "name": name,
            "action": action,
            "currency": draw(st.sampled_from(currencies)),
        }
        awards = ["fixed", "formula"] + ([] if modes[action] == "none" else ["per_amount"])
        award = draw(st.sampled_from(awards))
        if award == "formula":
            rule["formula"] = draw(formulas(readable))
            if counting and draw(st.booleans()):
                rule["streak"] = draw(st.sampled_from(counting))
        else:
            rule[award] = draw(non_negative())
        if draw(st.booleans()):
            rule["per"] = {"attribute": "qty", "size": draw(st.sampled_from([1, 5, 10**12]))}
        if draw(st.booleans()):
            conditions = draw(st.lists(condition(draw(st.sampled_from((*ATTRIBUTES, "amount"))))))
            rule["conditions"] = conditions
        elif draw(st.booleans()):
            rule["conditions"] = {"channel": draw(st.sampled_from(["app", "web"]))}
        if draw(st.booleans()):
            rule["pending_days"] = draw(st.sampled_from([1, 3, 14, 36_500]))
        if draw(st.booleans()):
            rule["validity"] = draw(validity())
        rules.append(rule)
    program["rules"] = rules

    def some_rules() -> Any:
        return st.lists(st.sampled_from(rule_names), max_size=3) if rule_names else st.just([])

    multipliers = []
    for name in draw(unique_names(0, 4)):
        kind = draw(st.sampled_from(["tag", "campaign", "birthday_month"]))
        factor = draw(st.one_of(positive(high=Decimal(1000)), positive(), st.just("0.5")))
        multiplier: dict[str, Any] = {"name": name, "kind": kind, "factor": factor}
        if kind == "tag":
            multiplier["tag"] = draw(st.sampled_from(["vip", "staff", "日本"]))
        if kind == "campaign":
            start, end = draw(instants()), draw(instants())
            if _instant(start) == _instant(end):
                continue
            if _instant(end) < _instant(start):
                start, end = end, start
            multiplier["start"], multiplier["end"] = start, end
        if draw(st.booleans()):
            multiplier["rules"] = draw(some_rules())
        multipliers.append(multiplier)
    program["multipliers"] = multipliers

    caps = []
    for name in draw(unique_names(0, 4)):
        cap: dict[str, Any] = {"name": name, "limit": draw(big_ints)}
        if draw(st.booleans()):
            cap["period"] = draw(st.sampled_from(["event", "day", "week", "month"]))
        if draw(st.booleans()):
            cap["action"] = draw(st.sampled_from(actions))
        cap["currency"] = draw(st.sampled_from(currencies))
        caps.append(cap)
    program["caps"] = caps

    if draw(st.booleans()):
        program["expiry"] = draw(validity())
    if draw(st.booleans()):
        program["levels"] = draw(level_curve(currencies))

    # Tiers.
    tier_names: list[str] = []
    if draw(st.booleans()):
        metric = "points_earned" if points and draw(st.booleans()) else "amount"
        tier_names = draw(unique_names(1, 5))
        start = draw(st.sampled_from([Decimal(0), Decimal(-5), Decimal("0.001")]))
        thresholds = [start]
        for _ in tier_names[1:]:
            thresholds.append(thresholds[-1] + _dec(draw(positive(Decimal(1), Decimal(10**6)))))
        tiers: dict[str, Any] = {
            "metric": metric,
            "window": draw(st.sampled_from(["calendar_year", "rolling_months", "lifetime"])),
            "months": draw(st.sampled_from([1, 12, 120])),
            "review_month": draw(st.integers(1, 12)),
            "review_day": draw(st.sampled_from([1, 28]) | st.integers(1, 28)),
            "retention_months": draw(st.sampled_from([0, 1, 6, 1200])),
            "levels": [
                {
                    "name": name,
                    "threshold": threshold,
                    "multiplier": draw(st.sampled_from([1, "1.5", "0.5", 2, "1e-12", 1000])),
                    "discount": draw(st.sampled_from([0, "0.9", 1])),
                    "benefits": draw(st.sampled_from([{}, {"free_shipping": True, "n": [1, 2]}])),
                }
                for name, threshold in zip(tier_names, thresholds, strict=True)
            ],
        }
        if metric == "amount":
            tiers["action"] = draw(st.sampled_from(actions))
        if draw(st.booleans()):
            tiers["multiplier_rules"] = draw(some_rules())
        program["tiers"] = tiers

    # Badges of every kind and metric.
    badges: dict[str, Any] = {}
    metrics = ["count", "sum", "earned", "custom"]
    metrics += ["streak"] if streaks else []
    metrics += ["level"] if "levels" in program else []
    metrics += ["tier"] if tier_names else []
    for name in draw(unique_names(0, 6)):
        metric = draw(st.sampled_from(metrics))
        kind = draw(st.sampled_from(["one_off", "tiered", "repeatable"]))
        badge: dict[str, Any] = {"metric": metric}
        if kind != "one_off" or draw(st.booleans()):
            badge["kind"] = kind
        if metric in ("count", "sum"):
            badge["action"] = draw(st.sampled_from(actions))
        elif metric == "streak":
            badge["streak"] = draw(st.sampled_from(list(streaks)))
        elif metric == "earned":
            badge["currency"] = draw(st.sampled_from(currencies))
        elif metric == "tier":
            badge["tier"] = draw(st.sampled_from(tier_names))
        elif metric == "custom":
            badge["predicate"] = draw(st.sampled_from(["always", "never", "rich"]))
            badge["actions"] = draw(st.lists(st.sampled_from(actions), max_size=2, unique=True))
        if kind == "tiered":
            steps = draw(st.lists(positive(Decimal(1), Decimal(10**6)), min_size=1, max_size=4))
            total, tiers_of = Decimal(draw(st.sampled_from([0, -1, 1]))), []
            for i, step in enumerate(steps):
                tiers_of.append(
                    {"name": f"t{i}", "threshold": total, "reward": draw(rewards(currencies))}
                )
                total += _dec(step)
            badge["tiers"] = tiers_of
        elif kind == "repeatable":
            badge["threshold"] = draw(positive())
        elif metric not in ("tier", "custom") or draw(st.booleans()):
            badge["threshold"] = draw(st.one_of(non_negative(), st.just(-3)))
        badge["reward"] = draw(rewards(currencies))
        badge["secret"] = draw(st.booleans())
        badges[name] = badge
    program["badges"] = badges

    if draw(st.booleans()):
        referral: dict[str, Any] = {
            "qualifying_action": draw(st.sampled_from(actions)),
            "currency": draw(st.sampled_from(currencies)),
            "referee_reward": draw(big_ints),
            "referee_reward_on": draw(st.sampled_from(["join", "qualify"])),
            "min_amount": draw(non_negative()),
            "referrer_fixed": draw(big_ints),
            "referrer_share": draw(non_negative()),
            "bonus": draw(big_ints),
            "cap_period": draw(st.sampled_from(["month", "year"])),
        }
        for key, values in (
            ("referrer_cap", [0, 1, 200, 10**15]),
            ("bonus_after", [1, 2, 3]),
            ("max_rewarded", [0, 1, 10]),
        ):
            if draw(st.booleans()):
                referral[key] = draw(st.sampled_from(values))
        program["referral"] = referral

    if points and draw(st.booleans()):
        program["renewal"] = {
            "actions": draw(st.lists(st.sampled_from(actions), min_size=1, max_size=2)),
            "within_days": draw(st.sampled_from([1, 30, 36_500])),
            "months": draw(st.sampled_from([1, 6, 1200])),
        }
    if draw(st.booleans()):
        redemption: dict[str, Any] = {"exchange_ratio": draw(positive())}
        if draw(st.booleans()):
            redemption["max_order_share"] = draw(positive(high=Decimal(1)))
        program["redemption"] = redemption
    if points:
        catalog = {}
        for name in draw(unique_names(0, 4)):
            item: dict[str, Any] = {"cash_value": draw(positive())}
            if draw(st.booleans()):
                item["cost_rate"] = draw(positive())
            if draw(st.booleans()):
                price = draw(positive(Decimal("0.01")))
                item["price"] = price
                if draw(st.booleans()):
                    item["max_discount"] = _dec(price) * Decimal("0.5")
            if draw(st.booleans()):
                item["exchange_ratio"] = draw(positive())
            catalog[name] = item
        program["catalog"] = catalog

    # Challenges with conditions of every kind.
    kinds = ["count", "earned", "custom", "badge" if badges else "count"]
    kinds += ["level"] if "levels" in program else []
    kinds += ["tier"] if tier_names else []
    kinds += ["streak"] if streaks else []
    one_off = [b for b, spec in badges.items() if spec.get("kind", "one_off") == "one_off"]
    challenges = {}
    for name in draw(unique_names(0, 3)):
        goals = []
        for kind in draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=4)):
            goal: dict[str, Any] = {"kind": kind}
            if kind == "count":
                goal["action"] = draw(st.sampled_from(actions))
                goal["distinct_days"] = draw(st.booleans())
            elif kind == "earned":
                goal["currency"] = draw(st.sampled_from(currencies))
            elif kind == "custom":
                goal["predicate"] = draw(st.sampled_from(["always", "never", "rich"]))
            elif kind == "badge":
                goal["badge"] = draw(st.sampled_from(list(badges)))
            elif kind == "tier":
                goal["tier"] = draw(st.sampled_from(tier_names))
            elif kind == "streak":
                goal["streak"] = draw(st.sampled_from(list(streaks)))
            if draw(st.booleans()):
                goal["target"] = draw(st.one_of(positive(), st.sampled_from([1, 2, 3])))
            goals.append(goal)
        challenge: dict[str, Any] = {
            "conditions": goals,
            "enrolment": draw(st.sampled_from(["auto", "explicit"])),
            "reward": draw(rewards(currencies)),
            "repeatable": draw(st.booleans()),
        }
        window = draw(st.sampled_from(["none", "days", "fixed"]))
        if window == "days":
            challenge["days"] = draw(st.sampled_from([1, 7, 36_500]))
        elif window == "fixed":
            start, end = draw(instants()), draw(instants())
            if _instant(start) != _instant(end):
                if _instant(end) < _instant(start):
                    start, end = end, start
                challenge["start"], challenge["end"] = start, end
        if one_off and draw(st.booleans()):
            challenge["badge"] = draw(st.sampled_from(one_off))
        challenges[name] = challenge
    program["challenges"] = challenges
    return program


def _dec(value: Any) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _instant(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


# Mutations --------------------------------------------------------------------------------

Path = tuple[str | int, ...]


def _places(data: Any, path: Path = ()) -> list[Path]:
    """Every path in ``data``: tables, lists and leaves."""
    out = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            out.extend(_places(value, (*path, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out.extend(_places(value, (*path, index)))
    return out


def _get(data: Any, path: Path) -> Any:
    for part in path:
        data = data[part]
    return data


def _copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copy(v) for v in data]
    return data


WRONG_VALUES = (
    None,
    True,
    False,
    "x",
    "",
    [],
    {},
    [1, "a"],
    {"a": 1},
    1.5,
    -1,
    0,
    10**15,
    2**63,
    10**40,
    -(10**40),
    "NaN",
    float("nan"),
    float("inf"),
    "1e13",
    Decimal("1e-13"),
    Decimal("-1e13"),
    "Mars/Base",
    "nope",
    "\x00",
    "\ud800",
    "2026-01-01T00:00:00",
    datetime(2026, 1, 1),  # naive
    date(2026, 1, 1),
    b"bytes",
    ("tuple",),
)


@st.composite
def broken_programs(draw: Any) -> tuple[dict[str, Any], str, Path]:
    """A valid program with one thing broken: (data, what was done, where). What was done:
    replace (a value of the wrong kind or size), rename (a name or flag changed, which may
    leave a reference dangling), unknown_key, drop (a key or item removed), extend (an item
    of the wrong kind added to a list)."""
    program = _copy(draw(programs()))
    places = _places(program)
    path = draw(st.sampled_from(places))
    kind = draw(st.sampled_from(["replace", "unknown_key", "dangling", "drop", "extend"]))
    target = _get(program, path)
    if kind == "unknown_key" and isinstance(target, dict):
        key = draw(st.sampled_from(["bogus", "Timezone", "amount ", "日本", 1, True]))
        target[key] = draw(st.sampled_from(WRONG_VALUES))
        return program, kind, (*path, str(key))  # a key that is no text is named as text
    if kind == "drop" and path and isinstance(target, dict | list) and target:
        key = draw(
            st.sampled_from(list(target) if isinstance(target, dict) else range(len(target)))
        )
        del target[key]
        return program, kind, (*path, key)
    if kind == "extend" and isinstance(target, list):
        target.append(draw(st.sampled_from(WRONG_VALUES)))
        return program, kind, (*path, len(target) - 1)
    if not path:
        return draw(st.sampled_from(WRONG_VALUES)), "replace", ()  # type: ignore[return-value]
    parent, last = _get(program, path[:-1]), path[-1]
    if kind == "dangling" and isinstance(target, str):
        parent[last] = target + "_unknown"
        return program, "rename", path
    parent[last] = draw(st.sampled_from(WRONG_VALUES))
    if type(parent[last]) is type(target) and isinstance(target, str | bool):
        # A name others refer to, or a flag others rely on (a spendable currency): the
        # error may be reported where it is used.
        return program, "rename", path
    return program, "replace", path


def _key_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def _related(one: str, other: str) -> bool:
    """Whether one key path lies inside the other (or they are equal)."""

    def within(inner: str, outer: str) -> bool:
        return not outer or inner == outer or inner.startswith((f"{outer}.", f"{outer}["))

    return within(one, other) or within(other, one)


def _resolves(data: Any, key_path: str) -> bool:
    """Whether ``key_path`` names a place in ``data``, or a missing key of a table in it."""
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", key_path):
        parts.append(int(index) if index else name)
    node = data
    for i, part in enumerate(parts):
        inside_table = isinstance(node, dict) and part in node
        inside_list = isinstance(node, list | tuple) and isinstance(part, int) and part < len(node)
        if inside_table or inside_list:
            node = node[part]
        else:
            return i == len(parts) - 1 and isinstance(node, dict)
    return True


# Engine run -------------------------------------------------------------------------------

MEMBERS = ("ana", "bö", "成员", "dee")
KEYS = ("k0", "k1", "k2", "日本")
START = pendulum.datetime(2026, 3, 27, 23, 30, tz="UTC")  # two days before the EU DST change


def _always(facts: BadgeFacts) -> bool:
    return True


def _never(facts: BadgeFacts) -> bool:
    return False


def _rich(facts: BadgeFacts) -> bool:
    return sum(facts.earned.values()) > 100 and facts.attributes.get("channel") != "web"


PREDICATES: dict[str, Callable[[BadgeFacts], bool]] = {
    "always": _always,
    "never": _never,
    "rich": _rich,
}

fitting_amounts = st.one_of(
    st.sampled_from([0, 1, "12.5", 9.99, Decimal("0.001"), 10**12, "1e12", 10**15 - 1]),
    st.integers(0, 1000),
    st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False),
)
# Amounts no event may carry.
unfitting_amounts = st.sampled_from([-1, "abc", float("nan"), float("inf"), True, 10**16, [1]])
attribute_values = st.one_of(
    st.none(),
    st.sampled_from(["app", "web", "five", "12", True, -3, 0, 7, 10**20, "日本", "٣"]),
    # Text that reads as a decimal that is no finite number.
    st.sampled_from(["NaN", "sNaN", "-nan", "Infinity", "1e999999999", "-1e-999999999"]),
    st.decimals(min_value=-10, max_value=1000, places=2, allow_nan=False),
    st.sampled_from([1.5, float("nan"), float("inf"), [1, 2], {"a": 1}]),
)
fitting_attributes = st.fixed_dictionaries(
    {},
    optional={
        "channel": st.sampled_from(["app", "web"]),
        "qty": st.integers(0, 30),
        # Attributes are JSON values: a Decimal is refused (an unfitting attribute below).
        "price": st.one_of(
            st.floats(0, 1000).map(lambda f: round(f, 2)), st.sampled_from(["12.5", "0", 7])
        ),
    },
)
attribute_maps = st.one_of(
    *[fitting_attributes] * 5,
    st.dictionaries(st.sampled_from(ATTRIBUTES), attribute_values, max_size=3),
    st.just(None),
)
durations = st.one_of(
    st.builds(lambda m: {"minutes": m}, st.integers(1, 180)),
    st.builds(lambda h: {"hours": h}, st.integers(1, 72)),
    st.builds(lambda d: {"days": d}, st.integers(1, 40)),
    st.builds(lambda w: {"weeks": w}, st.integers(1, 8)),
    st.builds(lambda m: {"months": m}, st.integers(1, 13)),
)


def check_ledger(engine: Engine, spendable: list[str]) -> None:
    """Every account equals the sum of its entries; no spendable account is negative; open
    and pending lots hold the spendable and pending balances."""
    for member in MEMBERS:
        assert_ledger_consistent(engine.store, member)
        balances = engine.store.get_balances(member)
        for currency in spendable:
            lots = engine.store.member_lots(member, currency)
            held = sum(lot.remaining for lot in lots if lot.status == "open")
            pending = sum(lot.remaining for lot in lots if lot.status == "pending")
            assert held == balances.get(currency, 0), (member, currency, held, balances)
            assert pending == balances.get(f"{currency}:pending", 0), (member, currency, balances)


class Run:
    """One engine on ``memory://`` driven by drawn calls."""

    def __init__(self, program: Program, data: st.DataObject) -> None:
        self.program = program
        self.data = data
        self.clock = ManualClock(START)
        # Now and then a predicate the program names is left unregistered.
        registered = sorted(PREDICATES)
        if data.draw(st.sampled_from([False] * 7 + [True]), label="unregistered"):
            registered.remove(data.draw(st.sampled_from(registered), label="unregistered_name"))
        self.engine = Engine(
            program,
            "memory://",
            clock=self.clock,
            predicates={name: PREDICATES[name] for name in registered},
        )
        self.spendable = [c for c, spec in program.currencies.items() if spec.spendable]
        self.redemptions: list[Redemption] = []
        self.tracked: list[tuple[str, str]] = []
        # Most members are known from the start, each in a zone of their own.
        for member in MEMBERS[:-1]:
            zone_name = data.draw(st.sampled_from(ZONES), label=f"zone of {member}")
            self.engine.set_member(member, timezone=zone_name)

    def draw(self, strategy: Any, label: str) -> Any:
        return self.data.draw(strategy, label=label)

    def rarely(self, label: str) -> bool:
        """True about one time in eight (the first choice, which shrinking prefers, is False)."""
        return bool(self.draw(st.sampled_from([False] * 7 + [True]), label))

    def name_of(self, table: Any, label: str) -> Any:
        """A name of ``table``, now and then an unknown one."""
        known = sorted(table) if table else []
        if not known or self.rarely(f"unknown_{label}"):
            return "nope"
        return self.draw(st.sampled_from(known), label)

    def member(self) -> str:
        return self.draw(st.sampled_from(MEMBERS), "member")

    def event(self) -> dict[str, Any]:
        """An event of a declared action (now and then an unknown one), mostly with an
        amount that fits the action, now and then one that does not, now and then late."""
        action = self.name_of(self.program.actions, "action")
        mode = self.program.actions[action].amount if action in self.program.actions else None
        if self.rarely("unfitting_amount"):
            amount = self.draw(st.one_of(st.none(), unfitting_amounts, fitting_amounts), "amount")
        elif mode == "none":
            amount = None
        elif mode == "required":
            amount = self.draw(fitting_amounts, "amount")
        else:
            amount = self.draw(st.one_of(st.none(), fitting_amounts), "amount")
        late = None
        if self.rarely("late"):
            late = self.draw(st.integers(0, 24 * 100), "late_hours")
        return {
            "action": action,
            "amount": amount,
            "attributes": self.draw(attribute_maps, "attributes"),
            "key": self.draw(st.one_of(st.none(), st.sampled_from(KEYS)), "key"),
            "at": None if late is None else self.clock.now() - timedelta(hours=late),
        }

    # Calls -----------------------------------------------------------------------------

    def track(self) -> Any:
        member, event = self.member(), self.event()
        outcome = self.engine.track(member, **event)
        if event["key"] is not None:
            self.tracked.append((member, event["key"]))
        return outcome

    def track_many(self) -> Any:
        count = self.draw(st.integers(1, 4), "batch")
        return self.engine.track_many(
            [{"member_id": self.member(), **self.event()} for _ in range(count)]
        )

    def redeem(self) -> Any:
        member = self.member()
        how = self.draw(st.sampled_from(["points", "reward", "order", "all"]), "how")
        key = self.draw(st.one_of(st.none(), st.sampled_from(["r0", "r1"])), "key")
        if how == "reward":
            redemption = self.engine.redeem(
                member, reward=self.name_of(self.program.catalog, "reward"), key=key
            )
        elif how == "order":
            total = self.draw(st.sampled_from([1, "9.99", 10**6, "1e12", 0, -1]), "total")
            points = self.draw(st.one_of(st.none(), st.integers(1, 500)), "points")
            redemption = self.engine.redeem(member, points, order_total=total, key=key)
        else:
            held = self.engine.balance(member) if "points" in self.program.currencies else 0
            share = self.draw(st.sampled_from([1, 0.5, 0.1, 2]), "share")
            points = (
                max(1, int(held * share))
                if how == "all"
                else self.draw(st.integers(1, 1000), "points")
            )
            redemption = self.engine.redeem(member, points, key=key)
        self.redemptions.append(redemption)
        return redemption

    def refund(self) -> Any:
        if self.redemptions and self.draw(st.booleans(), "known"):
            return self.engine.refund(self.draw(st.sampled_from(self.redemptions), "redemption"))
        return self.engine.refund("no-such-id", self.member())

    def reverse(self) -> Any:
        if self.tracked and not self.rarely("unknown_key"):
            member, key = self.draw(st.sampled_from(self.tracked), "tracked")
        else:
            member, key = self.member(), self.draw(st.sampled_from(KEYS), "key")
        return self.engine.reverse(member, key)

    def adjust(self) -> Any:
        amount = self.draw(st.one_of(st.integers(-500, 5000), st.sampled_from([10**15 - 1])), "n")
        currency = self.name_of(
            {c: spec for c, spec in self.program.currencies.items() if spec.spendable}
            if not self.rarely("any_currency")
            else self.program.currencies,
            "currency",
        )
        key = self.draw(st.one_of(st.none(), st.just("a0")), "key")
        return self.engine.adjust(
            self.member(), amount, reason="goodwill", currency=currency, key=key
        )

    def set_member(self) -> Any:
        return self.engine.set_member(
            self.member(),
            timezone=self.draw(st.one_of(st.none(), st.sampled_from(ZONES)), "zone"),
            tags=self.draw(
                st.one_of(st.none(), st.sampled_from([[], ["vip"], ["staff", "日本"]])), "tags"
            ),
            birthday=self.draw(
                st.one_of(st.none(), st.sampled_from([date(1990, 3, 28), date(2000, 2, 29)])),
                "birthday",
            ),
        )

    def join(self) -> Any:
        member, referrer = self.member(), self.member()
        if self.draw(st.booleans(), "bad_code"):
            return self.engine.join(member, referral_code="NOPE-1234")
        code = self.engine.referral_code(referrer)
        return self.engine.join(member, referral_code=code.lower())

    def repair_streak(self) -> Any:
        key = self.draw(st.one_of(st.none(), st.just("p0")), "key")
        return self.engine.repair_streak(
            self.member(), self.name_of(self.program.streaks, "streak"), key=key
        )

    def enroll(self) -> Any:
        return self.engine.enroll(self.member(), self.name_of(self.program.challenges, "challenge"))

    def boards(self) -> Any:
        metric = self.name_of(self.program.currencies, "metric")
        period = self.draw(
            st.sampled_from(
                ["all", "day", "week", "month", "year", (START, START + timedelta(days=400))]
            ),
            "period",
        )
        tier_names = [t.name for t in self.program.tiers.levels] if self.program.tiers else []
        tier = self.draw(st.one_of(st.none(), st.sampled_from([*tier_names, "nope"])), "tier")
        if self.draw(st.booleans(), "rank"):
            return self.engine.rank(self.member(), metric, period=period, tier=tier)
        limit = self.draw(st.sampled_from([1, 10, 1000]), "limit")
        return self.engine.leaderboard(metric, period=period, limit=limit, tier=tier)

    def reads(self) -> Any:
        member = self.member()
        what = self.draw(
            st.sampled_from(
                ["member", "badges", "badge", "challenge", "streak", "expiring", "price", "history"]
            ),
            "read",
        )
        if what == "member":
            return self.engine.member(member)
        if what == "badges":
            return self.engine.badges(member)
        if what == "badge":
            return self.engine.badge_progress(member, self.name_of(self.program.badges, "badge"))
        if what == "challenge":
            name = self.name_of(self.program.challenges, "challenge")
            return self.engine.challenge_progress(member, name)
        if what == "streak":
            return self.engine.streak_history(member, self.name_of(self.program.streaks, "streak"))
        if what == "expiring":
            return self.engine.expiring(member, within=timedelta(days=400))
        if what == "price":
            return self.engine.reward_price(self.name_of(self.program.catalog, "reward"))
        return self.engine.history(member, limit=50)

    def time_passes(self) -> Any:
        zone = self.draw(st.one_of(st.none(), st.sampled_from(ZONES)), "tz")
        self.clock.advance(tz=zone, **self.draw(durations, "duration"))
        if self.draw(st.booleans(), "run_due"):
            return self.engine.run_due()
        return None

    def to_dst_change(self) -> Any:
        """Jump to a few minutes around the next change of offset in a zone, then run_due."""
        name = self.draw(st.sampled_from(ZONES), "tz")
        minutes = self.draw(st.integers(-90, 90), "minutes")
        now = pendulum.instance(self.clock.now()).in_timezone(name)
        offset = now.utcoffset()
        probe = now
        for _ in range(400):
            probe = probe.add(days=1)
            if probe.utcoffset() != offset:
                break
        else:
            return None
        low, high = probe.subtract(days=1), probe
        while (high - low).total_seconds() > 60:
            middle = low.add(seconds=int((high - low).total_seconds() // 2))
            low, high = (middle, high) if middle.utcoffset() == offset else (low, middle)
        target = high.add(minutes=minutes)
        if target > now:
            self.clock.set(target)
        return self.engine.run_due()

    CALLS = (
        "track",
        "track",
        "track",
        "track_many",
        "redeem",
        "refund",
        "reverse",
        "adjust",
        "set_member",
        "join",
        "repair_streak",
        "enroll",
        "boards",
        "reads",
        "time_passes",
        "time_passes",
        "to_dst_change",
    )

    def step(self) -> None:
        call = self.draw(st.sampled_from(self.CALLS), "call")
        try:
            result = getattr(self, call)()
        except GamifyError as exc:
            note(f"{call}: {type(exc).__name__}: {exc}")
        else:
            note(f"{call}: {str(result)[:300]}")
        check_ledger(self.engine, self.spendable)


# Properties -------------------------------------------------------------------------------


def examples(count: int) -> int:
    return count * SCALE


@settings(
    deadline=None,
    max_examples=examples(60),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(programs())
def test_every_generated_program_loads(data: dict[str, Any]) -> None:
    """What the valid strategy builds follows the reference, so it loads."""
    Program.from_dict(data)


@settings(
    deadline=None,
    max_examples=examples(150),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(broken_programs())
def test_a_broken_program_raises_only_program_error(broken: tuple[Any, str, Path]) -> None:
    """One thing broken: loading succeeds or raises ProgramError naming a place in the data."""
    data, kind, path = broken
    note(f"{kind} at {_key_path(path)!r}")
    try:
        Program.from_dict(data)
    except ProgramError as exc:
        note(f"{exc.key_path!r}: {exc.reason}")
        if not isinstance(data, dict):
            assert exc.key_path == ""
            return
        assert exc.key_path, f"no key path for {exc}"
        assert _resolves(data, exc.key_path), f"{exc.key_path!r} names nothing in the data"
        if kind in ("replace", "unknown_key", "extend"):
            # A value of the wrong kind or size, an unknown key, an item too many: refused
            # at that place, inside it, or at a table holding it (a rule over several keys).
            assert _related(exc.key_path, _key_path(path)), exc


@settings(
    deadline=None,
    max_examples=examples(120),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(programs(), st.data())
def test_engine_calls_on_a_generated_program_raise_only_typed_errors(
    data: dict[str, Any], draws: st.DataObject
) -> None:
    """Random calls raise only GamifyError subclasses, and the ledger holds after each."""
    program = Program.from_dict(data)
    run = Run(program, draws)
    for _ in range(draws.draw(st.integers(15, 40), label="steps")):
        run.step()


def test_the_strategies_reach_every_section() -> None:
    """The valid strategy can build each top-level key of the program model."""
    found: set[str] = set()

    @settings(max_examples=40, deadline=None, derandomize=True, database=None)
    @given(programs())
    def collect(data: dict[str, Any]) -> None:
        found.update(k for k, v in data.items() if v not in ({}, []))

    collect()
    missing = set(Program.model_fields) - found
    assert not missing, missing
