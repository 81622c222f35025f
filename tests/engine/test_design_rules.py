"""Rules of the design's semantics that cut across components: instants in UTC, late events
in their own local period, rewards outside multipliers and caps, replays, delivery and
atomicity across members, freeze tokens whether or not run_due ran."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pendulum
import pytest
from gamify_adapters.memory import MemoryStore

import gamify
from gamify.errors import InvalidEventError, NotFoundError, StreakRepairError
from gamify.testing.plugin import EngineFactory

US = dt.timedelta(microseconds=1)
BUY: dict[str, Any] = {
    "timezone": "UTC",
    "actions": {"buy": {"amount": "required"}},
    "rules": [{"name": "b", "action": "buy", "per_amount": 1}],
}
LEVELS = [{"name": "regular", "threshold": 0}, {"name": "silver", "threshold": 2000}]


def sh(*args: int) -> dt.datetime:
    return pendulum.datetime(*args, tz="Asia/Shanghai")


def utc(*args: int) -> dt.datetime:
    return pendulum.datetime(*args, tz="UTC")


def test_instants_are_stored_in_utc(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """An event dated in Shanghai time comes back in UTC: the outcome, the ledger entry and
    the lot's earned, expiry and maturity instants."""
    gamify_clock.set(sh(2026, 3, 10, 9))
    engine = gamify_engine(
        {
            **BUY,
            "rules": [{**BUY["rules"][0], "pending_days": 14}],
            "expiry": {"policy": "months_end", "months": 1},
        }
    )
    engine.set_member("li", timezone="Asia/Shanghai")
    out = engine.track("li", "buy", amount=10, at=sh(2026, 3, 10, 8))
    [lot] = engine.store.member_lots("li", "points")
    instants = (out.at, engine.history("li")[0].at, lot.earned_at, lot.expires_at)
    for at in (*instants, lot.pending_until):
        assert at is not None and at.utcoffset() == dt.timedelta(0)


def test_a_late_event_lot_follows_its_own_local_period(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Sent on 2 January, dated 31 December: its points expire with 2025's (at the start of
    2027) and mature 14 days after the event, not after the clock."""
    gamify_clock.set(sh(2026, 1, 2, 10))
    engine = gamify_engine(
        {
            **BUY,
            "timezone": "Asia/Shanghai",
            "rules": [{**BUY["rules"][0], "pending_days": 14}],
            "expiry": {"policy": "end_of_next_year"},
        }
    )
    credit = engine.track("amy", "buy", amount=10, at=sh(2025, 12, 31, 10)).credits[0]
    assert credit.expires_at == sh(2027, 1, 1)
    assert credit.pending_until == sh(2026, 1, 14, 10)


def test_a_late_event_gets_the_campaign_of_its_own_instant(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Dated inside a double-points week but sent after it: doubled. Dated before it but
    sent during it: not."""
    campaign = {
        "name": "x2",
        "kind": "campaign",
        "factor": 2,
        "start": "2026-03-01T00:00:00+00:00",
        "end": "2026-03-08T00:00:00+00:00",
    }
    engine = gamify_engine({**BUY, "multipliers": [campaign]})
    gamify_clock.set(utc(2026, 3, 9, 12))
    assert engine.track("m", "buy", amount=100, at=utc(2026, 3, 7, 23)).total() == 200
    gamify_clock.set(utc(2026, 3, 2, 12))
    assert engine.track("n", "buy", amount=100, at=utc(2026, 2, 28, 23)).total() == 100


def test_freeze_tokens_give_the_same_run_whether_or_not_run_due_ran(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """One token, three missed days, then a workout: the token covered the first missed
    day and the second broke the run, so none is left, with or without run_due between."""
    program = {
        "timezone": "UTC",
        "actions": {"workout": {"amount": "none"}},
        "streaks": {"daily": {"actions": ["workout"], "freeze": {"every": 2, "max_tokens": 1}}},
    }
    results = []
    for with_run_due in (False, True):
        engine = gamify_engine(program)
        for day in (2, 3):
            gamify_clock.set(utc(2026, 3, day, 9))
            engine.track("m", "workout")
        if with_run_due:
            for day in (5, 6):
                gamify_clock.set(utc(2026, 3, day, 0, 30))
                engine.run_due()
        gamify_clock.set(utc(2026, 3, 7, 9))
        state = engine.track("m", "workout").streaks[0]
        results.append((state.length, state.tokens, state.broken))
    assert results == [(1, 0, True), (1, 0, True)]


def test_repair_window_and_monthly_limit_are_local(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A Shanghai member misses 6 March (local): the 48-hour window counts from the end of
    that local day (7 March 00:00 in Shanghai), so it closes at 9 March 00:00 local, eight
    hours before UTC midnight."""
    program = {
        "timezone": "UTC",
        "actions": {"workout": {}},
        "streaks": {"daily": {"actions": ["workout"], "repair": {"window_hours": 48, "cost": 0}}},
    }

    def broken_at(now: dt.datetime) -> gamify.Engine:
        engine = gamify_engine(program)
        engine.set_member("m", timezone="Asia/Shanghai")
        for day in (2, 3, 4, 5):
            gamify_clock.set(sh(2026, 3, day, 9))
            engine.track("m", "workout")
        gamify_clock.set(now)
        return engine

    assert broken_at(sh(2026, 3, 9) - US).repair_streak("m", "daily").length == 4
    with pytest.raises(StreakRepairError):
        broken_at(sh(2026, 3, 9)).repair_streak("m", "daily")


def test_milestone_and_referral_rewards_are_neither_multiplied_nor_capped(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Under a 2x tag and a 30-a-day cap: a 100-point milestone is paid whole and uses no
    cap room, and a 300-point referral reward is paid whole."""
    gamify_clock.set(utc(2026, 3, 2, 9))
    engine = gamify_engine(
        {
            "timezone": "UTC",
            "actions": {"workout": {"amount": "none"}, "buy": {"amount": "required"}},
            "rules": [
                {"name": "w", "action": "workout", "fixed": 10},
                {"name": "b", "action": "buy", "per_amount": 1},
            ],
            "multipliers": [{"name": "vip", "kind": "tag", "tag": "vip", "factor": 2}],
            "caps": [{"name": "daily", "limit": 30, "period": "day"}],
            "streaks": {
                "daily": {
                    "actions": ["workout"],
                    "milestones": [{"length": 2, "reward": {"points": 100}}],
                }
            },
            "referral": {"qualifying_action": "buy", "referee_reward": 500, "referrer_fixed": 300},
        }
    )
    engine.set_member("m", tags=["vip"])
    engine.track("m", "workout")
    gamify_clock.advance(days=1)
    paid = {c.source: (c.amount, c.capped) for c in engine.track("m", "workout").credits}
    assert paid == {"rule": (20, 0), "streak": (100, 0)}
    rule = next(c for c in engine.track("m", "workout").credits if c.source == "rule")
    assert (rule.amount, rule.capped) == (10, 10)
    engine.join("bob", referral_code=engine.referral_code("m"))
    assert engine.balance("bob") == 500
    engine.track("bob", "buy", amount=1)
    assert engine.balance("m") == 20 + (20 + 100) + 10 + 300


def test_formulas_read_count_and_attribute_names(gamify_engine: EngineFactory) -> None:
    """``2 * count`` pays 2, 4, 6 (the count includes the event); ``floor(minutes / 10)``
    reads the attribute."""
    engine = gamify_engine(
        {
            "timezone": "UTC",
            "actions": {"workout": {"amount": "none"}},
            "rules": [
                {"name": "c", "action": "workout", "formula": "2 * count"},
                {
                    "name": "m",
                    "action": "workout",
                    "currency": "xp",
                    "formula": "floor(minutes / 10)",
                },
            ],
        }
    )
    got = [engine.track("m", "workout", attributes={"minutes": 35}) for _ in range(3)]
    assert [(o.total("points"), o.total("xp")) for o in got] == [(2, 3), (4, 3), (6, 3)]


def test_a_badge_on_a_tier(gamify_engine: EngineFactory) -> None:
    """A tier badge is awarded by the event that reaches the tier, not before."""
    engine = gamify_engine(
        {
            **BUY,
            "tiers": {"metric": "amount", "action": "buy", "levels": LEVELS},
            "badges": {"silver_member": {"metric": "tier", "tier": "silver"}},
        }
    )
    assert engine.track("a", "buy", amount=100).badges == []
    assert [b.badge for b in engine.track("a", "buy", amount=1900).badges] == ["silver_member"]


def test_points_earned_for_tiers_ignore_refunds_and_expiry(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """A refund adds nothing to points earned and expiry takes nothing off: 1,500 + 400 is
    still regular, and 100 more after all of it expired reaches silver at 2,000."""
    gamify_clock.set(utc(2026, 5, 1, 12))
    engine = gamify_engine(
        {
            **BUY,
            "expiry": {"policy": "months_end", "months": 0},
            "tiers": {"metric": "points_earned", "levels": LEVELS},
        }
    )
    engine.track("amy", "buy", amount=1500)
    engine.refund(engine.redeem("amy", 1000))
    engine.track("amy", "buy", amount=400)
    assert engine.member("amy").tier == "regular"
    gamify_clock.set(utc(2026, 6, 2))
    engine.run_due()
    engine.track("amy", "buy", amount=100)
    assert engine.member("amy").tier == "silver"


def test_reverse_names_only_a_track_key(gamify_engine: EngineFactory) -> None:
    """A key used by a redemption is not a track key: reversing it is refused, nothing moves."""
    engine = gamify_engine(BUY)
    engine.track("m", "buy", amount=100)
    engine.redeem("m", 10, key="r1")
    with pytest.raises(NotFoundError):
        engine.reverse("m", "r1")
    assert engine.balance("m") == 90


def test_replays_of_redeem_reverse_and_repair_deliver_no_event_again(
    gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock
) -> None:
    """Each keyed call sent twice delivers its domain event once."""
    gamify_clock.set(utc(2026, 3, 2, 9))
    engine = gamify_engine(
        {
            **BUY,
            "actions": {**BUY["actions"], "workout": {}},
            "streaks": {
                "daily": {"actions": ["workout"], "repair": {"window_hours": 48, "cost": 1}}
            },
        }
    )
    seen: list[gamify.DomainEvent] = []
    engine.on("*", seen.append)
    engine.track("m", "buy", amount=100, key="o1")
    for _ in range(2):
        engine.redeem("m", 10, key="r")
    for _ in range(2):
        engine.reverse("m", "o1")
    engine.track("m", "workout")
    gamify_clock.set(utc(2026, 3, 4, 9))
    engine.track("m", "buy", amount=50)
    for _ in range(2):
        engine.repair_streak("m", "daily", key="rep")
    names = [e.name for e in seen]
    assert (names.count("redeemed"), names.count("reversed"), names.count("streak_repaired")) == (
        1,
        1,
        1,
    )


def test_an_unacknowledged_event_is_delivered_again_by_the_outbox(
    gamify_engine: EngineFactory,
    gamify_patchable_store: MemoryStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the acknowledgement after delivery fails, the event stays in the outbox and
    drain_outbox delivers it again, with the same id (at least once)."""
    engine = gamify_engine(BUY, store=gamify_patchable_store)
    seen: list[gamify.DomainEvent] = []
    engine.on("*", seen.append)

    def lost(event_ids: Any) -> None:
        raise RuntimeError("acknowledgement lost")

    monkeypatch.setattr(engine.store, "ack_outbox", lost)
    engine.track("m", "buy", amount=5)
    monkeypatch.undo()
    assert engine.drain_outbox() == 1
    assert len(seen) == 2 and seen[0].event_id == seen[1].event_id


def test_a_failed_referral_event_leaves_both_members_unchanged(
    gamify_engine: EngineFactory,
    gamify_patchable_store: MemoryStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A crash after the store wrote a qualifying purchase that rewards both members leaves
    the referrer and the referee as they were."""
    referral = {"qualifying_action": "buy", "referee_reward": 30, "referrer_fixed": 50}
    engine = gamify_engine({**BUY, "referral": referral}, store=gamify_patchable_store)
    engine.join("bob", referral_code=engine.referral_code("amy"))
    store = engine.store

    def snapshot(member: str) -> tuple[Any, ...]:
        return (
            store.get_member(member),
            store.get_balances(member),
            store.history(member),
            store.member_lots(member, "points"),
        )

    before = (snapshot("amy"), snapshot("bob"))
    real = store._apply  # type: ignore[attr-defined]

    def crash(changes: Any) -> None:
        real(changes)
        raise RuntimeError("crash after the write")

    monkeypatch.setattr(store, "_apply", crash)
    with pytest.raises(RuntimeError):
        engine.track("bob", "buy", amount=100)
    assert (snapshot("amy"), snapshot("bob")) == before


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_concurrent_referrals_keep_the_period_cap_and_pay_the_bonus_once(
    gamify_engine: EngineFactory, kind: str, tmp_path: Path
) -> None:
    """Twelve referees qualify at once: the referrer is paid for two (the monthly cap) and
    the three-referral bonus once."""
    store = "memory://" if kind == "memory" else f"sqlite:///{tmp_path / 'gamify.db'}"
    referral = {
        "qualifying_action": "buy",
        "referee_reward": 0,
        "referrer_fixed": 50,
        "max_rewarded": 2,
        "cap_period": "month",
        "bonus_after": 3,
        "bonus": 100,
    }
    engine = gamify_engine({**BUY, "referral": referral}, store=store)
    code = engine.referral_code("amy")
    for i in range(12):
        engine.join(f"r{i:02d}", referral_code=code)
    start = threading.Barrier(12)

    def buy(i: int) -> None:
        start.wait(timeout=60)
        engine.track(f"r{i:02d}", "buy", amount=10)

    with ThreadPoolExecutor(12) as pool:
        for future in [pool.submit(buy, i) for i in range(12)]:
            future.result(timeout=600)
    assert engine.balance("amy") == 2 * 50 + 100


@pytest.mark.parametrize("zone", ["Mars/Olympus", "+08:00", "localtime"])
def test_set_member_refuses_a_zone_that_is_not_iana(
    gamify_engine: EngineFactory, zone: str
) -> None:
    """A typed error, and no member stored."""
    engine = gamify_engine(BUY)
    with pytest.raises(InvalidEventError):
        engine.set_member("m", timezone=zone)
    assert engine.store.get_member("m") is None


def test_a_rule_named_with_empty_text_is_refused_at_load(gamify_engine: EngineFactory) -> None:
    """A rule's name is kept in its ledger reasons and lots: "" says nothing and could be
    mistaken for the terms of rewards, which no rule pays, so the file is refused."""
    with pytest.raises(gamify.ProgramError, match="non-empty text") as caught:
        gamify_engine(
            {**BUY, "rules": [{"name": "", "action": "buy", "per_amount": 1, "pending_days": 14}]}
        )
    assert caught.value.key_path == "rules[0].name"
