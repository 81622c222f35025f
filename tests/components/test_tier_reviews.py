"""Tier review instants as pure functions: the local midnight of the review date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gamify import Program
from gamify.components.tiers import next_review, previous_review
from gamify.program import Tiers

US = timedelta(microseconds=1)
# 1 April 2026 00:00 in Shanghai (UTC+8)
APRIL_1 = datetime(2026, 3, 31, 16, tzinfo=UTC)


def spec() -> Tiers:
    tiers = Program.model_validate(
        {
            "timezone": "UTC",
            "actions": {"purchase": {}},
            "rules": [],
            "tiers": {
                "action": "purchase",
                "review_month": 4,
                "levels": [{"name": "regular"}, {"name": "silver", "threshold": 100}],
            },
        }
    ).tiers
    assert tiers is not None
    return tiers


def test_the_previous_review_of_the_review_instant_is_that_instant() -> None:
    """A review on 1 April reviews at local midnight: read at that instant, the last review
    is that one; a microsecond earlier, it is last year's."""
    assert previous_review(spec(), APRIL_1, "Asia/Shanghai") == APRIL_1
    last_year = datetime(2025, 3, 31, 16, tzinfo=UTC)
    assert previous_review(spec(), APRIL_1 - US, "Asia/Shanghai") == last_year


def test_the_next_review_is_strictly_after() -> None:
    """From the review instant itself, the next review is a year later."""
    assert next_review(spec(), APRIL_1 - US, "Asia/Shanghai") == APRIL_1
    assert next_review(spec(), APRIL_1, "Asia/Shanghai") == datetime(2027, 3, 31, 16, tzinfo=UTC)
