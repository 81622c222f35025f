"""A property of the whole loyalty ledger: whatever happens, after run_due every account equals the
sum of its entries, no account is negative, and open lots hold exactly the spendable balance."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import pendulum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamify import Engine, InsufficientBalanceError, ManualClock, Program, Redemption
from gamify.errors import NotFoundError
from gamify.testing import assert_ledger_consistent

MEMBERS = ("amy", "bob")

PROGRAM = Program.from_dict(
    {
        "timezone": "Asia/Shanghai",
        "currencies": {"points": {"spendable": True}, "xp": {"spendable": False}},
        "actions": {"purchase": {"amount": "required"}, "trial_report": {"amount": "none"}},
        "rules": [
            {"name": "purchase_points", "action": "purchase", "per_amount": 1, "pending_days": 3},
            {"name": "purchase_xp", "action": "purchase", "per_amount": 1, "currency": "xp"},
            {
                "name": "report_points",
                "action": "trial_report",
                "fixed": 150,
                "validity": {"policy": "months_end", "months": 0},
            },
        ],
        "levels": {"curve": "linear", "params": {"step": 300}},
        "caps": [{"name": "per_purchase", "period": "event", "action": "purchase", "limit": 500}],
        "expiry": {"policy": "months", "months": 1},
        "renewal": {"actions": ["purchase"], "within_days": 10, "months": 1},
        "tiers": {
            "metric": "amount",
            "action": "purchase",
            "levels": [
                {"name": "regular", "threshold": 0},
                {"name": "silver", "threshold": 1000, "multiplier": 1.5},
            ],
        },
        "referral": {"qualifying_action": "purchase", "referee_reward": 30, "referrer_fixed": 50},
    }
)

member = st.sampled_from(MEMBERS)
operation = st.one_of(
    st.tuples(st.just("purchase"), member, st.integers(1, 800)),
    st.tuples(st.just("report"), member),
    st.tuples(st.just("advance"), st.integers(1, 24 * 40)),
    st.tuples(st.just("redeem"), member, st.integers(1, 600)),
    st.tuples(st.just("reverse"), st.integers(0, 30)),
    st.tuples(st.just("refund"), st.integers(0, 30)),
    st.tuples(
        st.just("run_due"),
    ),
    st.tuples(st.just("adjust"), member, st.integers(-400, 400).filter(bool)),
)


def check_ledger(engine: Engine) -> None:
    now = engine.clock.now()
    for m in MEMBERS:
        assert_ledger_consistent(engine.store, m)
        balances = engine.store.get_balances(m)
        lots = engine.store.member_lots(m, "points")
        assert all(lot.expires_at is None or lot.expires_at > now for lot in lots if lot.remaining)
        assert all(
            lot.pending_until is None or lot.pending_until > now
            for lot in lots
            if lot.status == "pending"
        )
        xp = sum(e.amount for e in engine.store.history(m) if e.account == "xp")
        profile = engine.member(m)
        assert profile.xp == xp
        assert profile.level == min(1 + xp // 300, 100)  # levels follow XP, down on reversal
        open_points = sum(lot.remaining for lot in lots if lot.status == "open")
        pending = sum(lot.remaining for lot in lots if lot.status == "pending")
        assert open_points == balances.get("points", 0)
        assert pending == balances.get("points:pending", 0)


@settings(
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(operation, max_size=40))
def test_run_due_leaves_every_balance_equal_to_its_ledger(ops: list[tuple[Any, ...]]) -> None:
    """After any sequence of purchases, reports, spends, reversals, refunds, manual
    adjustments and time passing, run_due leaves balances equal to their ledger sums, none
    negative, lots matching balances."""
    clock = ManualClock(pendulum.datetime(2026, 1, 5, 9, tz="Asia/Shanghai"))
    engine = Engine(PROGRAM, clock=clock)
    engine.join("bob", referral_code=engine.referral_code("amy"))
    keys: list[tuple[str, str]] = []
    redemptions: list[Redemption] = []
    for n, op in enumerate(ops):
        kind = op[0]
        if kind == "purchase":
            key = f"k{n}"
            engine.track(op[1], "purchase", amount=op[2], key=key)
            keys.append((op[1], key))
        elif kind == "report":
            key = f"k{n}"
            engine.track(op[1], "trial_report", key=key)
            keys.append((op[1], key))
        elif kind == "advance":
            clock.advance(timedelta(hours=op[1]))
        elif kind == "redeem":
            with contextlib.suppress(InsufficientBalanceError):
                redemptions.append(engine.redeem(op[1], op[2]))
        elif kind == "reverse" and keys:
            who, key = keys[op[1] % len(keys)]
            try:
                engine.reverse(who, key)
            except NotFoundError:  # pragma: no cover - every key here was tracked
                raise
        elif kind == "refund" and redemptions:
            engine.refund(redemptions[op[1] % len(redemptions)])
        elif kind == "run_due":
            engine.run_due()
        elif kind == "adjust":
            with contextlib.suppress(InsufficientBalanceError):
                engine.adjust(op[1], op[2], reason="correction")
    engine.run_due()
    check_ledger(engine)
    history = {m: engine.store.history(m) for m in MEMBERS}
    engine.run_due()
    assert {m: engine.store.history(m) for m in MEMBERS} == history
