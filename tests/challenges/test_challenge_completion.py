"""Completion: rewards paid once, domain events, ``Outcome.challenges``, repeatable runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import gamify
from gamify.testing.plugin import EngineFactory

UTC = dt.UTC
START = dt.datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def program(challenge: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Workouts pay 10 points; challenge ``c``: 2 workouts pay 200 points and 30 XP."""
    return {
        "timezone": "UTC",
        "actions": {"workout": {}, "stretch": {}},
        "rules": [{"name": "workout_points", "action": "workout", "fixed": 10}],
        "badges": {
            # Earned only through the challenge: nobody stretches 1000 times in these tests.
            "champion": {"metric": "count", "action": "stretch", "threshold": 1000},
        },
        "challenges": {
            "c": {
                "conditions": [{"kind": "count", "action": "workout", "target": 2}],
                "reward": {"points": 200, "xp": 30},
                **challenge,
            }
        },
        **extra,
    }


def challenge_credits(outcome: gamify.Outcome) -> list[tuple[str, int, str]]:
    return [(c.currency, c.amount, c.rule) for c in outcome.credits if c.source == "challenge"]


def test_completion_pays_the_reward_once(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """The completing event pays 200 points and 30 XP; later events pay no reward again."""
    engine = gamify_engine(program({}))
    gamify_clock.set(START)
    assert challenge_credits(engine.track("m", "workout")) == []
    outcome = engine.track("m", "workout")
    assert challenge_credits(outcome) == [("points", 200, "challenge c"), ("xp", 30, "challenge c")]
    assert [(c.name, c.status, c.completed) for c in outcome.challenges] == [
        ("c", "completed", True)
    ]
    for _ in range(3):
        later = engine.track("m", "workout")
        assert challenge_credits(later) == [] and later.challenges == []
    assert engine.balance("m") == 5 * 10 + 200
    assert engine.balance("m", "xp") == 30
    rewards = [(h.account, h.amount) for h in engine.history("m") if h.reason == "challenge c"]
    assert sorted(rewards) == [("points", 200), ("xp", 30)]
    assert engine.challenge_progress("m", "c").completions == 1


def test_challenge_completed_domain_event(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """One ``challenge_completed`` event names the member and challenge, at the event's instant."""
    engine = gamify_engine(program({}))
    seen: list[gamify.DomainEvent] = []
    engine.on("challenge_completed", seen.append)
    gamify_clock.set(START)
    engine.track("m", "workout")
    assert seen == []
    gamify_clock.advance(hours=1)
    engine.track("m", "workout")
    engine.track("m", "workout")
    assert [(e.name, e.member_id, e.at, e.payload) for e in seen] == [
        ("challenge_completed", "m", START + dt.timedelta(hours=1), {"challenge": "c"})
    ]


def test_replayed_completing_event_pays_nothing_more(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A retried completing event returns the first outcome and delivers no second event."""
    engine = gamify_engine(program({}))
    seen: list[gamify.DomainEvent] = []
    engine.on("challenge_completed", seen.append)
    gamify_clock.set(START)
    engine.track("m", "workout", key="w1")
    first = engine.track("m", "workout", key="w2")
    again = engine.track("m", "workout", key="w2")
    assert again == first
    assert engine.balance("m") == 10 + 10 + 200
    assert len(seen) == 1


def test_challenge_rewards_are_neither_multiplied_nor_capped(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A x2 tag multiplier and a 25-a-day cap act on rule credits, never on the challenge reward."""
    engine = gamify_engine(
        program(
            {},
            multipliers=[{"name": "vip", "kind": "tag", "tag": "vip", "factor": 2}],
            caps=[{"name": "daily", "limit": 25, "period": "day", "action": "workout"}],
        )
    )
    engine.set_member("m", tags=["vip"])
    gamify_clock.set(START)
    assert engine.track("m", "workout").total("points") == 20  # 10 x 2
    outcome = engine.track("m", "workout")  # 20, capped to the 5 left today
    assert [(c.rule, c.amount, c.capped) for c in outcome.credits if c.currency == "points"] == [
        ("workout_points", 5, 15),
        ("challenge c", 200, 0),
    ]
    assert engine.balance("m") == 20 + 5 + 200


def test_reversal_revokes_no_completion(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Reversing the completing event takes back its 10 points, not the completion or reward."""
    engine = gamify_engine(program({}))
    gamify_clock.set(START)
    engine.track("m", "workout", key="w1")
    engine.track("m", "workout", key="w2")
    engine.reverse("m", "w2")
    assert engine.balance("m") == 10 + 200
    assert engine.challenge_progress("m", "c").status == "completed"


def test_completion_awards_the_challenge_badge_once(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """The challenge's badge is held after completion, once, whatever follows."""
    engine = gamify_engine(program({"badge": "champion"}))
    gamify_clock.set(START)
    engine.track("m", "workout")
    assert engine.member("m").badges == []
    engine.track("m", "workout")
    for _ in range(3):
        engine.track("m", "workout")
    assert [b.badge for b in engine.member("m").badges] == ["champion"]
    assert engine.badge_progress("m", "champion").held == 1


@pytest.mark.parametrize(
    "badge",
    [
        {
            "kind": "tiered",
            "metric": "count",
            "action": "stretch",
            "tiers": [{"name": "bronze", "threshold": 5}],
        },
        {"kind": "repeatable", "metric": "count", "action": "stretch", "threshold": 2},
    ],
)
def test_a_challenge_cannot_award_a_tiered_or_repeatable_badge(badge: dict[str, Any]) -> None:
    """Their tiers and occurrences follow their own metric; a completion would skip one."""
    data = program({"badge": "champion"})
    data["badges"]["champion"] = badge
    with pytest.raises(gamify.ProgramError) as info:
        gamify.Program.from_dict(data)
    assert info.value.key_path == "challenges.c.badge"
    assert "a challenge awards a one-off badge" in info.value.reason


def test_challenge_badge_is_reported_like_any_award(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A completion's badge is listed in ``Outcome.badges`` and sent as ``badge_awarded``."""
    engine = gamify_engine(program({"badge": "champion"}))
    seen: list[gamify.DomainEvent] = []
    engine.on("badge_awarded", seen.append)
    gamify_clock.set(START)
    engine.track("m", "workout")
    outcome = engine.track("m", "workout")
    assert [(b.badge, b.occurrence) for b in outcome.badges] == [("champion", 1)]
    assert [(e.member_id, e.payload["badge"]) for e in seen] == [("m", "champion")]


def test_repeatable_completion_starts_a_fresh_run_at_the_next_relevant_event(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """After a completion the next workout starts a new run: zero progress, new window, then +1."""
    engine = gamify_engine(program({"repeatable": True, "days": 2}))
    gamify_clock.set(START)  # 1 June 09:00
    engine.track("m", "workout")
    gamify_clock.advance(hours=1)
    engine.track("m", "workout")
    done = engine.challenge_progress("m", "c")
    assert (done.status, done.completions, done.enrolled_at) == ("completed", 1, START)
    assert done.ends_at == dt.datetime(2026, 6, 3, tzinfo=UTC)
    # An action the challenge does not watch starts nothing.
    gamify_clock.set(dt.datetime(2026, 6, 4, 8, 0, tzinfo=UTC))
    engine.track("m", "stretch")
    assert engine.challenge_progress("m", "c").enrolled_at == START
    gamify_clock.set(dt.datetime(2026, 6, 4, 10, 0, tzinfo=UTC))
    outcome = engine.track("m", "workout")
    assert [(c.name, c.status) for c in outcome.challenges] == [("c", "active")]
    fresh = engine.challenge_progress("m", "c")
    assert (fresh.status, fresh.completions) == ("active", 1)
    assert fresh.enrolled_at == dt.datetime(2026, 6, 4, 10, 0, tzinfo=UTC)
    assert fresh.ends_at == dt.datetime(2026, 6, 6, tzinfo=UTC)  # days 4 and 5 June
    assert [int(c.current) for c in fresh.conditions] == [1]  # not 3: the old count is gone
    outcome = engine.track("m", "workout")
    assert [(c.name, c.status) for c in outcome.challenges] == [("c", "completed")]
    assert engine.challenge_progress("m", "c").completions == 2
    assert engine.balance("m") == 4 * 10 + 2 * 200


def test_repeatable_challenge_pays_each_completion(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Four workouts complete a repeatable 2-workout challenge twice: two rewards, one badge."""
    engine = gamify_engine(program({"repeatable": True, "badge": "champion"}))
    gamify_clock.set(START)
    for _ in range(4):
        engine.track("m", "workout")
    assert engine.challenge_progress("m", "c").completions == 2
    assert [b.badge for b in engine.member("m").badges] == ["champion"]  # a one-off badge
    assert engine.balance("m") == 4 * 10 + 2 * 200


def test_a_late_event_from_before_a_completion_leaves_the_finished_run_alone(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A repeatable 2-day run completes at 10:00. A workout sent later but dated 09:30 (before
    the completion) starts no new run and fails nothing: the decision stands, and the next
    workout after it starts run 2 as usual. A workout dated before the completion is never
    counted toward the run that follows it."""
    engine = gamify_engine(program({"repeatable": True, "days": 2}))
    gamify_clock.set(START)  # 09:00
    engine.track("m", "workout")
    gamify_clock.set(START + dt.timedelta(hours=1))  # 10:00: completed
    engine.track("m", "workout")
    gamify_clock.set(START + dt.timedelta(days=5))
    late = engine.track("m", "workout", at=START + dt.timedelta(minutes=30))
    assert late.challenges == [] and challenge_credits(late) == []
    done = engine.challenge_progress("m", "c")
    assert (done.status, done.completions, done.enrolled_at) == ("completed", 1, START)
    outcome = engine.track("m", "workout")
    assert [(c.name, c.status) for c in outcome.challenges] == [("c", "active")]
    fresh = engine.challenge_progress("m", "c")
    assert fresh.enrolled_at == START + dt.timedelta(days=5)
    assert [int(c.current) for c in fresh.conditions] == [1]
    assert engine.balance("m") == 4 * 10 + 200


def test_a_late_event_inside_a_failed_run_window_starts_nothing(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A repeatable 2-day run enrolled on 1 June fails with one workout, and the workout that
    finds it failed on the 8th starts run 2. A workout dated 2 June, sent on the 9th, neither
    starts a run in the past nor counts toward run 2."""
    engine = gamify_engine(program({"repeatable": True, "days": 2}))
    gamify_clock.set(START)
    engine.track("m", "workout")
    gamify_clock.set(START + dt.timedelta(days=7))
    failed = engine.track("m", "stretch")  # not watched: the run stays as it was
    assert failed.challenges == []
    assert engine.track("m", "workout").challenges[0].status == "failed"
    gamify_clock.set(START + dt.timedelta(days=8))
    late = engine.track("m", "workout", at=START + dt.timedelta(days=1))
    progress = engine.challenge_progress("m", "c")
    assert progress.enrolled_at == START + dt.timedelta(days=7)  # the run started on the 8th
    assert [int(c.current) for c in progress.conditions] == [1]
    assert late.challenges == []  # it touched no run


def test_a_fixed_window_ends_in_utc(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A window written with a +01:00 offset ends at the same instant, read back in UTC."""
    engine = gamify_engine(
        program({"start": "2026-05-01T00:00:00+01:00", "end": "2026-06-30T00:00:00+01:00"})
    )
    gamify_clock.set(START)
    engine.track("m", "workout")
    ends = engine.challenge_progress("m", "c").ends_at
    assert ends == dt.datetime(2026, 6, 29, 23, 0, tzinfo=UTC)
    assert ends is not None and ends.utcoffset() == dt.timedelta(0)


def test_a_late_event_from_before_the_enrolment_completes_nothing(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A streak of three days, broken, then an explicit enrolment in a 3-day-streak
    challenge. A workout sent later but dated before the enrolment neither counts nor
    completes it on the streak it had then: events count from the enrolment on."""
    engine = gamify_engine(
        {
            "timezone": "UTC",
            "actions": {"workout": {}},
            "streaks": {"daily": {"actions": ["workout"]}},
            "challenges": {
                "streak3": {
                    "enrolment": "explicit",
                    "conditions": [{"kind": "streak", "streak": "daily", "target": 3}],
                    "reward": {"points": 500},
                }
            },
        }
    )
    for day in (1, 2, 3):
        gamify_clock.set(dt.datetime(2026, 3, day, 9, tzinfo=UTC))
        engine.track("m", "workout")
    gamify_clock.set(dt.datetime(2026, 3, 6, 9, tzinfo=UTC))
    engine.enroll("m", "streak3")
    late = engine.track("m", "workout", at=dt.datetime(2026, 3, 3, 10, tzinfo=UTC))
    assert late.challenges == [] and challenge_credits(late) == []
    assert engine.challenge_progress("m", "streak3").status == "active"
