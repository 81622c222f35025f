"""gamify.testing.assert_ledger_consistent: the ledger invariant as an assertion for apps' tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from gamify import Store
from gamify.store import LedgerEntry
from gamify.testing import assert_ledger_consistent, ledger_sums
from gamify.testing.plugin import EngineFactory

AT = datetime(2026, 1, 5, 12, tzinfo=UTC)
SHOP: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "actions": {"purchase": {"amount": "required"}},
    "rules": [
        {"name": "spend", "action": "purchase", "per_amount": 1},
        {"name": "spend_xp", "action": "purchase", "per_amount": 1, "currency": "xp"},
    ],
}


class Tampered:
    """Balances and entries given by the test, as a store that broke the invariant would."""

    def __init__(self, balances: dict[str, int], amounts: list[tuple[str, int]]) -> None:
        self.balances = balances
        self.entries = [
            LedgerEntry(f"e{i}", "amy", account, amount, AT, "earn", "spend")
            for i, (account, amount) in enumerate(amounts)
        ]

    def get_balances(self, member_id: str) -> dict[str, int]:
        return self.balances

    def history(self, member_id: str, **_: Any) -> list[LedgerEntry]:
        return self.entries


def test_a_real_engine_keeps_the_invariant(gamify_engine: EngineFactory) -> None:
    """Earning, spending and a reversal: balances are their sums, none below zero."""
    engine = gamify_engine(SHOP)
    engine.track("amy", "purchase", amount=120, key="o1")
    engine.redeem("amy", 100)
    engine.reverse("amy", "o1")  # 20 clawed back, 100 booked as debt
    assert_ledger_consistent(engine.store, "amy")
    assert ledger_sums(engine.store, "amy") == {"points": 0, "points:debt": 100, "xp": 0}


def test_a_balance_that_differs_from_its_entries_fails_naming_the_account() -> None:
    store = cast(Store, Tampered({"points": 50, "xp": 10}, [("points", 40), ("xp", 10)]))
    with pytest.raises(AssertionError, match=r"'amy'.*points 50 != 40") as caught:
        assert_ledger_consistent(store, "amy")
    assert "xp" not in str(caught.value)


def test_entries_without_a_balance_row_fail() -> None:
    store = cast(Store, Tampered({}, [("points", 5)]))
    with pytest.raises(AssertionError, match=r"points 0 != 5"):
        assert_ledger_consistent(store, "amy")


def test_an_account_below_zero_fails() -> None:
    store = cast(Store, Tampered({"points": -5}, [("points", 10), ("points", -15)]))
    with pytest.raises(AssertionError, match=r"below zero \{'points': -5\}"):
        assert_ledger_consistent(store, "amy")
