"""The ledger invariant as an assertion, for tests of code that uses gamify."""

from __future__ import annotations

from gamify.store import Store

__all__ = ["assert_ledger_consistent", "ledger_sums"]


def ledger_sums(store: Store, member_id: str) -> dict[str, int]:
    """Each of the member's accounts (``points``, ``points:pending``, ``xp``, ...) as the
    sum of its ledger entries."""
    sums: dict[str, int] = {}
    for entry in store.history(member_id):
        sums[entry.account] = sums.get(entry.account, 0) + entry.amount
    return sums


def assert_ledger_consistent(store: Store, member_id: str) -> None:
    """Assert what every sequence of calls keeps true of a member: each balance equals the
    sum of its ledger entries, and no account (spendable, pending, debt or any other) is
    below zero. Raises :class:`AssertionError` naming the member and the accounts."""
    balances = store.get_balances(member_id)
    sums = ledger_sums(store, member_id)
    accounts = sorted(balances.keys() | sums.keys())
    differ = {
        a: (balances.get(a, 0), sums.get(a, 0))
        for a in accounts
        if balances.get(a, 0) != sums.get(a, 0)
    }
    if differ:
        raise AssertionError(
            f"{member_id!r}: balances differ from their ledger sums "
            + ", ".join(f"{a} {b} != {s}" for a, (b, s) in differ.items())
        )
    negative = {a: v for a, v in balances.items() if v < 0}
    if negative:
        raise AssertionError(f"{member_id!r}: accounts below zero {negative}")
