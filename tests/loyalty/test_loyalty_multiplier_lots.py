"""A multiplier's extra points share the lot of the rule they multiply.

Validity is set per earning rule: a time-boxed bonus rule may carry 3 months, and a
multiplier's extra points share the lot of the rule they multiply. Times are
Asia/Shanghai wall-clock times; 07:30 there is 23:30 UTC on the previous date.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pendulum

from gamify import Engine, ExpiringLot, ManualClock

EngineFactory = Callable[..., Engine]


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> pendulum.DateTime:
    """A wall-clock time in Asia/Shanghai."""
    return pendulum.datetime(year, month, day, hour, minute, tz="Asia/Shanghai")


EARNED_AT = sh(2026, 3, 10, 7, 30)
EXPIRES_AT = sh(2026, 6, 10, 7, 30)  # the rule's validity: 3 months, same wall-clock time

PROGRAM: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "actions": {"purchase": {"amount": "required"}},
    "rules": [
        {
            "name": "spring_bonus",
            "action": "purchase",
            "per_amount": 1,
            "validity": {"policy": "months", "months": 3},
        }
    ],
    "multipliers": [
        {
            "name": "double_points",
            "kind": "campaign",
            "factor": 2,
            "start": "2026-03-01T00:00:00+08:00",
            "end": "2026-04-01T00:00:00+08:00",
        }
    ],
    # The program's own policy differs from the rule's: a lot of its own would show it.
    "expiry": {"policy": "months_end", "months": 12},
}


def test_doubled_points_make_one_lot_with_the_rule_expiry(gamify_engine: EngineFactory) -> None:
    """A purchase of 100 under double points credits 200 as one lot of 200 expiring with the
    rule's 3 months (10 June 07:30), one earn entry of 200 in the ledger."""
    engine = gamify_engine(PROGRAM, clock=ManualClock(EARNED_AT))
    outcome = engine.track("amy", "purchase", amount=100, key="o1")
    assert [(c.rule, c.amount, c.multiplier, c.expires_at) for c in outcome.credits] == [
        ("spring_bonus", 200, 2, EXPIRES_AT)
    ]

    [lot] = engine.store.member_lots("amy", "points")
    assert (lot.amount, lot.remaining, lot.status, lot.rule, lot.key) == (
        200,
        200,
        "open",
        "spring_bonus",
        "o1",
    )
    assert (lot.earned_at, lot.expires_at) == (EARNED_AT, EXPIRES_AT)
    assert engine.expiring("amy", within=timedelta(days=100)) == [
        ExpiringLot(
            lot_id=lot.lot_id,
            points=200,
            expires_at=EXPIRES_AT,
            earned_at=EARNED_AT,
            rule="spring_bonus",
        )
    ]
    assert [(e.account, e.amount, e.kind, e.reason) for e in engine.history("amy")] == [
        ("points", 200, "earn", "spring_bonus")
    ]
    assert engine.balance("amy") == 200


def test_the_doubled_points_all_expire_together(gamify_engine: EngineFactory) -> None:
    """At the rule's expiry instant all 200 expire as one lot; one second before, none."""
    clock = ManualClock(EARNED_AT)
    engine = gamify_engine(PROGRAM, clock=clock)
    engine.track("amy", "purchase", amount=100, key="o1")
    clock.set(EXPIRES_AT - timedelta(seconds=1))
    assert engine.run_due().expired_points == 0
    assert engine.balance("amy") == 200
    clock.set(EXPIRES_AT)
    report = engine.run_due()
    assert (report.expired_points, report.expired_lots) == (200, 1)
    assert engine.balance("amy") == 0
