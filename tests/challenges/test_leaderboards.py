"""Leaderboards: ranking, ties, limits, empty boards, tier filters, ``rank`` and bad input."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import gamify
from gamify._outcome import LeaderboardRow  # the type of a board's rows
from gamify.errors import InvalidEventError, InvalidTimeError, NotFoundError
from gamify.testing.plugin import EngineFactory

UTC = dt.UTC
START = dt.datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # a Wednesday


def program(**extra: Any) -> dict[str, Any]:
    """``earn`` pays its amount in points, ``train`` its amount in XP; ``look`` pays nothing."""
    return {
        "timezone": "UTC",
        "actions": {"earn": {"amount": "required"}, "train": {"amount": "required"}, "look": {}},
        "rules": [
            {"name": "earn_points", "action": "earn", "per_amount": 1},
            {"name": "train_xp", "action": "train", "currency": "xp", "per_amount": 1},
        ],
        **extra,
    }


def rows(board: list[LeaderboardRow]) -> list[tuple[int, str, int]]:
    return [(r.rank, r.member_id, r.score) for r in board]


def one(row: LeaderboardRow | None) -> tuple[int, str, int] | None:
    return None if row is None else (row.rank, row.member_id, row.score)


def earn(engine: gamify.Engine, scores: dict[str, int], action: str = "earn") -> None:
    for member, score in scores.items():
        engine.track(member, action, amount=score)


@pytest.fixture
def tied(gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock) -> gamify.Engine:
    """zed 30, amy 50, cat 30, bob 30, dan 20 (tracked in that order); eve only looked."""
    engine = gamify_engine(program())
    gamify_clock.set(START)
    earn(engine, {"zed": 30, "amy": 50, "cat": 30, "bob": 30, "dan": 20})
    engine.track("eve", "look")
    return engine


FULL = [(1, "amy", 50), (2, "bob", 30), (2, "cat", 30), (2, "zed", 30), (5, "dan", 20)]


@pytest.mark.parametrize("period", ["all", "day", "week", "month"])
def test_ties_share_a_rank_in_standard_competition_ranking(
    tied: gamify.Engine, period: str
) -> None:
    """Scores 50, 30, 30, 30, 20 rank 1, 2, 2, 2, 5; equal scores are ordered by member id."""
    assert rows(tied.leaderboard("points", period=period, limit=10)) == FULL


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(1, FULL[:1]), (2, FULL[:2]), (3, FULL[:3]), (4, FULL[:4]), (5, FULL), (100, FULL)],
)
def test_limit_counts_rows_not_ranks(
    tied: gamify.Engine, limit: int, expected: list[tuple[int, str, int]]
) -> None:
    """``limit=3`` returns three rows even though a fourth member shares the third row's rank."""
    assert rows(tied.leaderboard(limit=limit)) == expected
    assert rows(tied.leaderboard(limit=limit, period="week")) == expected
    window = (START, START + dt.timedelta(seconds=1))
    assert rows(tied.leaderboard(limit=limit, period=window)) == expected


def test_default_limit_is_ten(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Without ``limit`` a board lists the best ten members."""
    engine = gamify_engine(program())
    gamify_clock.set(START)
    earn(engine, {f"m{i:02d}": i for i in range(1, 13)})
    board = engine.leaderboard()
    assert [r.member_id for r in board] == [f"m{i:02d}" for i in range(12, 2, -1)]
    assert [r.rank for r in board] == list(range(1, 11))


def test_only_positive_scores_are_listed(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A member who earned nothing, earned 0, or had everything reversed is not on the board."""
    engine = gamify_engine(program())
    gamify_clock.set(START)
    engine.track("looker", "look")
    engine.track("zero", "earn", amount=0)
    engine.track("undone", "earn", amount=40, key="k")
    engine.reverse("undone", "k")
    engine.track("winner", "earn", amount=1)
    for period in ("all", "day", "week", "month"):
        assert rows(engine.leaderboard(period=period)) == [(1, "winner", 1)]
    window = (START - dt.timedelta(hours=1), START + dt.timedelta(hours=1))
    assert rows(engine.leaderboard(period=window)) == [(1, "winner", 1)]
    for member in ("looker", "zero", "undone", "nobody"):
        assert engine.rank(member) is None
        assert engine.rank(member, period="week") is None
        assert engine.rank(member, period=window) is None


def test_rank_equals_the_members_row_in_the_full_board(tied: gamify.Engine) -> None:
    """``rank(member)`` gives the same rank and score as the member's row, ties included."""
    window = (START, START + dt.timedelta(seconds=1))
    for period in ("all", "day", "week", "month", window):
        board = tied.leaderboard(period=period, limit=100)
        assert rows(board) == FULL
        for row in board:
            assert tied.rank(row.member_id, period=period) == row
        assert tied.rank("eve", period=period) is None


def test_boards_rank_by_what_the_metric_earned(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """The XP board ranks XP credits and the points board points credits, independently."""
    engine = gamify_engine(program())
    gamify_clock.set(START)
    earn(engine, {"a": 10, "b": 20})
    earn(engine, {"a": 300, "c": 5}, action="train")
    assert rows(engine.leaderboard("points")) == [(1, "b", 20), (2, "a", 10)]
    assert rows(engine.leaderboard("xp", period="week")) == [(1, "a", 300), (2, "c", 5)]
    assert one(engine.rank("c", "xp")) == (2, "c", 5)
    assert engine.rank("c", "points") is None


def test_empty_boards(gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock) -> None:
    """With nothing earned, or nothing earned in the current period, boards are empty."""
    engine = gamify_engine(program())
    gamify_clock.set(START)
    window = (START - dt.timedelta(days=1), START)
    for period in ("all", "day", "week", "month", window):
        assert engine.leaderboard(period=period) == []
        assert engine.rank("a", period=period) is None
    engine.track("a", "earn", amount=5)
    gamify_clock.set(dt.datetime(2026, 4, 20, 12, 0, tzinfo=UTC))  # a later month
    for period in ("day", "week", "month", window):
        assert engine.leaderboard(period=period) == []
        assert engine.rank("a", period=period) is None
    assert rows(engine.leaderboard()) == [(1, "a", 5)]


TIERS = {
    "metric": "amount",
    "action": "earn",
    "window": "lifetime",
    "levels": [{"name": "base"}, {"name": "silver", "threshold": 100}],
}


def test_tier_filter_uses_each_members_current_tier(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A tier board lists the members now in that tier with their whole score, ranked among them."""
    engine = gamify_engine(program(tiers=TIERS))
    gamify_clock.set(START)
    # a 150 (silver), b 50, c 60 + 60 (silver since its second event), d 80, e 100 (silver).
    earn(engine, {"a": 150, "b": 50, "c": 60, "d": 80, "e": 100})
    assert engine.member("c").tier == "base"
    assert rows(engine.leaderboard(tier="base")) == [(1, "d", 80), (2, "c", 60), (3, "b", 50)]
    engine.track("c", "earn", amount=60)
    assert engine.member("c").tier == "silver"
    window = (START, START + dt.timedelta(hours=1))
    for period in ("all", "week", window):
        silver = engine.leaderboard(period=period, tier="silver")
        assert rows(silver) == [(1, "a", 150), (2, "c", 120), (3, "e", 100)]
        assert rows(engine.leaderboard(period=period, tier="base")) == [
            (1, "d", 80),
            (2, "b", 50),
        ]
        for row in silver:
            assert engine.rank(row.member_id, period=period, tier="silver") == row
        assert one(engine.rank("d", period=period, tier="base")) == (1, "d", 80)
        assert engine.rank("d", period=period, tier="silver") is None
        assert engine.rank("a", period=period, tier="base") is None
    # Without a filter everyone is ranked together.
    assert [r.member_id for r in engine.leaderboard()] == ["a", "c", "e", "d", "b"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"metric": "gems"}, NotFoundError),
        ({"tier": "platinum"}, NotFoundError),
        ({"period": "year"}, InvalidEventError),
        ({"period": "Week"}, InvalidEventError),
        ({"period": (START, START)}, InvalidTimeError),
        ({"period": (START, START - dt.timedelta(microseconds=1))}, InvalidTimeError),
        ({"period": (dt.datetime(2026, 3, 1), dt.datetime(2026, 3, 2))}, InvalidTimeError),
    ],
)
def test_bad_board_arguments_raise_typed_errors(
    gamify_engine: EngineFactory,
    gamify_clock: gamify.ManualClock,
    kwargs: dict[str, Any],
    error: type[Exception],
) -> None:
    """Unknown metric or tier, unknown period names and empty or naive windows are refused."""
    engine = gamify_engine(program(tiers=TIERS))
    gamify_clock.set(START)
    engine.track("a", "earn", amount=5)
    metric = kwargs.pop("metric", "points")
    with pytest.raises(error) as board_error:
        engine.leaderboard(metric, **kwargs)
    with pytest.raises(error):
        engine.rank("a", metric, **kwargs)
    assert isinstance(board_error.value, gamify.GamifyError)


@pytest.mark.parametrize("limit", [0, -1])
def test_limit_below_one_is_refused(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock, limit: int
) -> None:
    """``limit`` must be at least 1."""
    engine = gamify_engine(program())
    with pytest.raises(InvalidEventError, match="limit"):
        engine.leaderboard(limit=limit)
    with pytest.raises(InvalidEventError, match="limit"):
        engine.leaderboard(limit=limit, period=(START - dt.timedelta(days=1), START))


def test_rewards_count_as_earned(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Badge and challenge rewards count on the board beside rule credits: 5 + 20 + 100 = 125."""
    engine = gamify_engine(
        program(
            badges={
                "first": {
                    "metric": "count",
                    "action": "earn",
                    "threshold": 1,
                    "reward": {"points": 20},
                }
            },
            challenges={
                "two": {
                    "conditions": [{"kind": "count", "action": "earn", "target": 2}],
                    "reward": {"points": 100},
                }
            },
        )
    )
    gamify_clock.set(START)
    engine.track("a", "earn", amount=2)  # 2 + 20 (badge)
    engine.track("a", "earn", amount=3)  # 3 + 100 (challenge)
    engine.track("b", "earn", amount=60)  # 60 + 20 (badge)
    window = (START, START + dt.timedelta(seconds=1))
    for period in ("all", "day", "week", "month", window):
        assert rows(engine.leaderboard(period=period)) == [(1, "a", 125), (2, "b", 80)]


@pytest.mark.parametrize("period", ["all", "week"])
def test_a_member_reversed_to_zero_leaves_a_board_already_read(
    gamify_engine: EngineFactory,
    gamify_clock: gamify.ManualClock,
    gamify_store_target: Any,
    period: str,
) -> None:
    """Nine members earn 10 to 90 and the board is read; m5's only credit (50) is then
    reversed: the next read lists the other eight, ranks close up, and m5 has no rank."""
    store = gamify_store_target.open()
    try:
        engine = gamify_engine(program(), store=store)
        gamify_clock.set(START)
        for i in range(1, 10):
            engine.track(f"m{i}", "earn", amount=10 * i, key=f"k{i}")
        assert len(engine.leaderboard(period=period, limit=100)) == 9
        engine.reverse("m5", "k5")
        expected = [(1, "m9", 90), (2, "m8", 80), (3, "m7", 70), (4, "m6", 60)]
        expected += [(5, "m4", 40), (6, "m3", 30), (7, "m2", 20), (8, "m1", 10)]
        assert rows(engine.leaderboard(period=period, limit=100)) == expected
        assert engine.rank("m5", period=period) is None
        assert one(engine.rank("m4", period=period)) == (5, "m4", 40)
    finally:
        store.close()
