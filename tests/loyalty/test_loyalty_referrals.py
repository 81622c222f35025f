"""Referrals: codes, joining, refusals that write nothing, rewards, caps, bonus, min_amount."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import pendulum
import pytest

from gamify import Engine, ManualClock
from gamify.components import referrals
from gamify.errors import ConfigurationError, ProgramError, ReferralError

EngineFactory = Callable[..., Engine]
UNAMBIGUOUS = set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")


def sh(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> pendulum.DateTime:
    """A wall-clock time in Asia/Shanghai (the beauty store's zone)."""
    return pendulum.datetime(year, month, day, hour, minute, second, tz="Asia/Shanghai")


def snapshot(engine: Engine, *members: str) -> list[Any]:
    """Everything the store keeps about ``members``: records, balances, ledger and lots."""
    store = engine.store
    return [
        (
            store.get_member(m),
            store.get_balances(m),
            store.history(m),
            store.member_lots(m, "points"),
        )
        for m in members
    ]


def refer(engine: Engine, referrer: str, referee: str) -> None:
    engine.join(referee, referral_code=engine.referral_code(referrer))


# Codes ---------------------------------------------------------------------------------


def test_a_code_is_made_once_and_never_changes(beauty: Engine) -> None:
    """Asking twice returns the same code, and it still holds after the member earns."""
    code = beauty.referral_code("amy")
    assert beauty.referral_code("amy") == code
    beauty.track("amy", "trial_report")
    assert beauty.referral_code("amy") == code


def test_codes_carry_at_least_40_bits_from_the_unambiguous_alphabet(beauty: Engine) -> None:
    """Codes use no 0, O, 1 or I; 8 characters of 32 letters carry 40 bits; 300 codes differ."""
    codes = [beauty.referral_code(f"m{i}") for i in range(300)]
    assert len(set(codes)) == 300
    assert set(referrals.ALPHABET) <= UNAMBIGUOUS and len(set(referrals.ALPHABET)) == 32
    for code in codes:
        assert set(code) <= UNAMBIGUOUS
        assert len(code) * math.log2(len(referrals.ALPHABET)) >= 40


def test_a_code_already_taken_is_never_given_to_a_second_member(
    beauty: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the random draw repeats amy's code for bob, bob gets a fresh one; amy keeps hers
    and her code still finds her."""
    draws = iter(["AAAAAAAA", "AAAAAAAA", "BBBBBBBB"])
    monkeypatch.setattr(referrals, "new_code", lambda: next(draws))
    assert beauty.referral_code("amy") == "AAAAAAAA"
    assert beauty.referral_code("bob") == "BBBBBBBB"
    assert beauty.referral_code("amy") == "AAAAAAAA"
    assert beauty.join("cat", referral_code="aaaaaaaa").referrer == "amy"
    assert beauty.join("dan", referral_code="bbbbbbbb").referrer == "bob"


def test_codes_compare_case_insensitively(beauty: Engine) -> None:
    """Joining with the lower-cased code (and surrounding spaces) finds the referrer."""
    code = beauty.referral_code("amy")
    profile = beauty.join("bob", referral_code=f"  {code.lower()} ")
    assert profile.referrer == "amy"


# Joining and its refusals ---------------------------------------------------------------


def test_joining_pays_the_referee_30(beauty: Engine) -> None:
    """A member joining through a code gets the 30-point welcome and the referrer nothing yet."""
    refer(beauty, "amy", "bob")
    assert beauty.balance("bob") == 30
    assert beauty.balance("amy") == 0
    assert beauty.member("bob").referrer == "amy"


def test_the_joined_event_carries_the_welcome_credit(beauty: Engine) -> None:
    """referral_joined names the referrer and the 30 points the member was credited."""
    events: list[Any] = []
    beauty.on("referral_joined", events.append)
    refer(beauty, "amy", "bob")
    (event,) = events
    assert (event.member_id, event.payload["referrer"]) == ("bob", "amy")
    assert [(c["currency"], c["amount"], c["rule"]) for c in event.payload["credits"]] == [
        ("points", 30, "referral welcome")
    ]


def test_self_referral_is_refused_and_writes_nothing(beauty: Engine) -> None:
    """A member cannot join through their own code."""
    code = beauty.referral_code("amy")
    before = snapshot(beauty, "amy")
    with pytest.raises(ReferralError, match="themselves"):
        beauty.join("amy", referral_code=code)
    assert snapshot(beauty, "amy") == before


@pytest.mark.parametrize("length", [2, 3])
def test_a_cycle_is_refused_and_writes_nothing(beauty: Engine, length: int) -> None:
    """With m0 referring m1 (and m1 referring m2), m0 cannot join through the last one's code."""
    names = [f"m{i}" for i in range(length)]
    for referrer, referee in itertools.pairwise(names):
        refer(beauty, referrer, referee)
    last = beauty.referral_code(names[-1])
    before = snapshot(beauty, *names)
    with pytest.raises(ReferralError, match="cycle"):
        beauty.join("m0", referral_code=last)
    assert snapshot(beauty, *names) == before


def test_a_second_referrer_is_refused_and_writes_nothing(beauty: Engine) -> None:
    """A member who joined through amy's code cannot join again through carl's."""
    refer(beauty, "amy", "bob")
    other = beauty.referral_code("carl")
    before = snapshot(beauty, "amy", "bob", "carl")
    with pytest.raises(ReferralError, match="already has a referrer"):
        beauty.join("bob", referral_code=other)
    assert snapshot(beauty, "amy", "bob", "carl") == before
    assert beauty.balance("bob") == 30


def test_an_unknown_code_is_refused_and_writes_nothing(beauty: Engine) -> None:
    """A code nobody owns is refused; the would-be referee is not even registered."""
    with pytest.raises(ReferralError, match="unknown referral code"):
        beauty.join("bob", referral_code="ZZZZ2222")
    assert beauty.store.get_member("bob") is None
    assert snapshot(beauty, "bob") == [(None, {}, [], [])]


def test_an_empty_code_is_refused(beauty: Engine) -> None:
    """A blank code is a referral error, not a lookup."""
    with pytest.raises(ReferralError):
        beauty.join("bob", referral_code="  ")


def test_joining_after_a_tracked_event_is_refused_and_writes_nothing(beauty: Engine) -> None:
    """Once bob has tracked an event, he can no longer join through a code."""
    code = beauty.referral_code("amy")
    beauty.track("bob", "trial_report")
    before = snapshot(beauty, "amy", "bob")
    with pytest.raises(ReferralError, match="already tracked"):
        beauty.join("bob", referral_code=code)
    assert snapshot(beauty, "amy", "bob") == before
    assert beauty.member("bob").referrer is None


def test_a_member_registered_without_events_may_still_join(beauty: Engine) -> None:
    """set_member registers bob without tracking anything, so he may still join."""
    beauty.set_member("bob", birthday=pendulum.date(1990, 3, 14))
    refer(beauty, "amy", "bob")
    assert beauty.member("bob").referrer == "amy"


# Qualifying and rewards -----------------------------------------------------------------


def test_the_referrer_gets_50_plus_5_percent_of_the_first_purchase(
    beauty: Engine, clock: ManualClock
) -> None:
    """bob's first purchase of 1000 pays amy 50 + 50 = 100; his second purchase pays her nothing."""
    refer(beauty, "amy", "bob")
    clock.set(sh(2026, 2, 1, 10))
    outcome = beauty.track("bob", "purchase", amount=1000)
    assert [(c.currency, c.amount, c.source) for c in outcome.referral_rewards] == [
        ("points", 100, "referral")
    ]
    assert beauty.balance("amy") == 100
    assert beauty.balance("bob") == 30 + 1000
    beauty.track("bob", "purchase", amount=1000)
    assert beauty.balance("amy") == 100


def test_the_referrer_reward_is_capped_at_200(beauty: Engine, clock: ManualClock) -> None:
    """A first purchase of 4000 would pay 50 + 200 = 250; the cap per referral keeps 200."""
    refer(beauty, "amy", "bob")
    clock.set(sh(2026, 2, 1, 10))
    beauty.track("bob", "purchase", amount=4000)
    assert beauty.balance("amy") == 200


def test_the_referral_reward_is_not_multiplied(beauty: Engine, clock: ManualClock) -> None:
    """A diamond referrer in her birthday month still gets 50 + 5 % of 1000 = 100."""
    clock.set(sh(2026, 3, 1, 10))
    beauty.set_member("amy", birthday=pendulum.date(1990, 3, 14))
    beauty.track("amy", "purchase", amount=10000)
    before = beauty.balance("amy")
    refer(beauty, "amy", "bob")
    beauty.track("bob", "purchase", amount=1000)
    assert beauty.balance("amy") - before == 100


def test_a_chain_of_three_rewards_each_direct_referrer_only(
    beauty: Engine, clock: ManualClock
) -> None:
    """amy refers bob, bob refers cat: cat's purchase rewards bob, bob's rewards amy."""
    refer(beauty, "amy", "bob")
    refer(beauty, "bob", "cat")
    clock.set(sh(2026, 2, 1, 10))
    beauty.track("cat", "purchase", amount=200)  # bob: 50 + 10
    assert (beauty.balance("amy"), beauty.balance("bob")) == (0, 30 + 60)
    beauty.track("bob", "purchase", amount=400)  # amy: 50 + 20; bob earns 400
    assert (beauty.balance("amy"), beauty.balance("bob")) == (70, 30 + 60 + 400)


def test_the_third_qualified_referral_pays_the_100_bonus_once(
    beauty: Engine, clock: ManualClock
) -> None:
    """amy's referees buy 100 each (55 to amy each); the third also pays the 100 bonus, the
    fourth does not."""
    clock.set(sh(2026, 2, 1, 10))
    for name in ("b1", "b2", "b3", "b4"):
        refer(beauty, "amy", name)
    beauty.track("b1", "purchase", amount=100)
    beauty.track("b2", "purchase", amount=100)
    assert beauty.balance("amy") == 110
    third = beauty.track("b3", "purchase", amount=100)
    assert sorted((c.rule, c.amount) for c in third.referral_rewards) == [
        ("referral b3", 55),
        ("referral bonus", 100),
    ]
    assert beauty.balance("amy") == 265
    beauty.track("b4", "purchase", amount=100)
    assert beauty.balance("amy") == 320


def capped_scheme(**extra: Any) -> dict[str, Any]:
    return {
        "timezone": "Asia/Shanghai",
        "actions": {"purchase": {"amount": "required"}},
        "rules": [{"name": "spend", "action": "purchase", "per_amount": 1}],
        "referral": {
            "qualifying_action": "purchase",
            "referee_reward": 30,
            "referrer_fixed": 50,
            "bonus_after": 3,
            "bonus": 100,
            **extra,
        },
    }


def test_a_referral_beyond_the_period_cap_pays_nothing_but_counts_toward_the_bonus(
    gamify_engine: EngineFactory,
) -> None:
    """At most 2 rewarded referrals a month: the third in March pays no 50 but does pay the
    bonus; a fourth in April pays 50 again."""
    clock = ManualClock(sh(2026, 3, 2, 10))
    engine = gamify_engine(capped_scheme(max_rewarded=2, cap_period="month"), clock=clock)
    for name in ("b1", "b2", "b3", "b4"):
        refer(engine, "amy", name)
    engine.track("b1", "purchase", amount=10)
    engine.track("b2", "purchase", amount=10)
    assert engine.balance("amy") == 100
    third = engine.track("b3", "purchase", amount=10)
    assert [(c.rule, c.amount) for c in third.referral_rewards] == [("referral bonus", 100)]
    assert engine.balance("amy") == 200
    clock.set(sh(2026, 4, 1, 0, 30))  # April in Shanghai (still 31 March in UTC)
    engine.track("b4", "purchase", amount=10)
    assert engine.balance("amy") == 250


def test_a_yearly_referral_cap_resets_on_1_january(gamify_engine: EngineFactory) -> None:
    """With one rewarded referral a year, the second in 2026 pays nothing, one in 2027 pays 50."""
    clock = ManualClock(sh(2026, 3, 2, 10))
    engine = gamify_engine(capped_scheme(max_rewarded=1, bonus_after=None), clock=clock)
    for name in ("b1", "b2", "b3"):
        refer(engine, "amy", name)
    engine.track("b1", "purchase", amount=10)
    engine.track("b2", "purchase", amount=10)
    assert engine.balance("amy") == 50
    clock.set(sh(2027, 1, 1))
    engine.track("b3", "purchase", amount=10)
    assert engine.balance("amy") == 100


@pytest.mark.parametrize("cap_period", ["month", "year"])
def test_a_late_referral_counts_in_its_own_periods_cap_after_a_new_period_began(
    gamify_engine: EngineFactory, cap_period: str
) -> None:
    """One rewarded referral per period: b1 (20 December) is paid, b2 (3 January) too; b3,
    dated 28 December and tracked on 4 January, finds December's cap (and 2026's) used."""
    clock = ManualClock(sh(2026, 12, 20, 12))
    engine = gamify_engine(
        capped_scheme(max_rewarded=1, cap_period=cap_period, bonus_after=None), clock=clock
    )
    for name in ("b1", "b2", "b3"):
        refer(engine, "amy", name)
    engine.track("b1", "purchase", amount=10)
    clock.set(sh(2027, 1, 3, 12))
    engine.track("b2", "purchase", amount=10)
    clock.set(sh(2027, 1, 4, 12))
    late = engine.track("b3", "purchase", amount=10, at=sh(2026, 12, 28, 12))
    assert late.referral_rewards == []
    assert engine.balance("amy") == 100


def test_a_late_referral_is_paid_from_the_room_left_in_its_own_period(
    gamify_engine: EngineFactory,
) -> None:
    """One rewarded referral a month: b1 on 3 January uses January's; b2, dated 28 December
    and tracked on 4 January, is paid from December's room although January's is used up."""
    clock = ManualClock(sh(2027, 1, 3, 12))
    engine = gamify_engine(
        capped_scheme(max_rewarded=1, cap_period="month", bonus_after=None), clock=clock
    )
    for name in ("b1", "b2"):
        refer(engine, "amy", name)
    engine.track("b1", "purchase", amount=10)
    clock.set(sh(2027, 1, 4, 12))
    late = engine.track("b2", "purchase", amount=10, at=sh(2026, 12, 28, 12))
    assert [(c.rule, c.amount) for c in late.referral_rewards] == [("referral b2", 50)]
    assert engine.balance("amy") == 100


def test_a_purchase_below_min_amount_does_not_qualify(gamify_engine: EngineFactory) -> None:
    """With min_amount 100, a purchase of 99.99 pays the referrer nothing; a later one of 100
    qualifies and pays 50 + 5 % of 100."""
    clock = ManualClock(sh(2026, 3, 2, 10))
    engine = gamify_engine(capped_scheme(min_amount=100, referrer_share=0.05), clock=clock)
    refer(engine, "amy", "bob")
    assert engine.track("bob", "purchase", amount="99.99").referral_rewards == []
    assert engine.balance("amy") == 0
    engine.track("bob", "purchase", amount=100)
    assert engine.balance("amy") == 55
    engine.track("bob", "purchase", amount=500)
    assert engine.balance("amy") == 55


def test_a_member_without_a_referrer_pays_no_referral(beauty: Engine, clock: ManualClock) -> None:
    """A purchase by a member who joined through no code rewards nobody."""
    clock.set(sh(2026, 2, 1, 10))
    assert beauty.track("bob", "purchase", amount=1000).referral_rewards == []


def test_referral_rewards_move_levels_and_badges_at_once(gamify_engine: EngineFactory) -> None:
    """Paid in XP, the welcome reward lifts the referee and the referrer's reward lifts the
    referrer (level_up events), and a badge on earned XP is awarded in the same call."""
    program = {
        "timezone": "Asia/Shanghai",
        "currencies": {"points": {"spendable": True}, "xp": {"spendable": False}},
        "actions": {"purchase": {"amount": "required"}},
        "rules": [{"name": "spend", "action": "purchase", "per_amount": 1}],
        "levels": {"curve": "linear", "params": {"step": 100}},
        "badges": {"xp_200": {"metric": "earned", "currency": "xp", "threshold": 200}},
        "referral": {
            "currency": "xp",
            "qualifying_action": "purchase",
            "referee_reward": 150,
            "referrer_fixed": 250,
        },
    }
    engine = gamify_engine(program, clock=ManualClock(sh(2026, 3, 2, 7)))
    events: list[Any] = []
    engine.on("level_up", events.append)
    engine.on("badge_awarded", events.append)
    refer(engine, "amy", "bob")
    assert engine.member("bob").level == 2
    engine.track("bob", "purchase", amount=1)
    assert engine.member("amy").level == 3
    assert engine.member("amy").xp == 250
    assert [(e.member_id, e.name, e.payload.get("level")) for e in events] == [
        ("bob", "level_up", 2),
        ("amy", "level_up", 2),
        ("amy", "level_up", 3),
        ("amy", "badge_awarded", None),
    ]


# The welcome paid when the referral qualifies ---------------------------------------------


def test_a_welcome_on_qualifying_pays_nothing_on_joining(
    gamify_engine: EngineFactory,
) -> None:
    """With referee_reward_on = "qualify" (and a minimum of 50), joining pays no one and a
    purchase of 49 qualifies nothing; the purchase of 50 pays bob his 30 beside his 50, amy
    her 50, and the welcome only once."""
    clock = ManualClock(sh(2026, 3, 2, 10))
    engine = gamify_engine(capped_scheme(min_amount=50, referee_reward_on="qualify"), clock=clock)
    events: list[Any] = []
    engine.on("referral_joined", events.append)
    refer(engine, "amy", "bob")
    assert (engine.balance("bob"), engine.balance("amy")) == (0, 0)
    assert engine.history("bob") == []
    assert [e.payload["credits"] for e in events] == [[]]
    assert engine.track("bob", "purchase", amount=49).total("points") == 49
    assert (engine.balance("bob"), engine.balance("amy")) == (49, 0)
    outcome = engine.track("bob", "purchase", amount=50)
    assert sorted((c.rule, c.amount, c.source) for c in outcome.credits) == [
        ("referral welcome", 30, "referral"),
        ("spend", 50, "rule"),
    ]
    assert (engine.balance("bob"), engine.balance("amy")) == (49 + 50 + 30, 50)
    assert engine.track("bob", "purchase", amount=50).total("points") == 50


def test_a_welcome_on_qualifying_is_paid_beyond_the_referrers_cap(
    gamify_engine: EngineFactory,
) -> None:
    """The cap limits what a referrer is paid: the third referee in a month of at most one
    rewarded referral still gets the welcome."""
    clock = ManualClock(sh(2026, 3, 2, 10))
    engine = gamify_engine(
        capped_scheme(max_rewarded=1, cap_period="month", referee_reward_on="qualify"),
        clock=clock,
    )
    for name in ("b1", "b2"):
        refer(engine, "amy", name)
        engine.track(name, "purchase", amount=10)
    assert [engine.balance(n) for n in ("amy", "b1", "b2")] == [50, 40, 40]


def test_when_the_welcome_is_paid_is_join_or_qualify(gamify_engine: EngineFactory) -> None:
    """Another value is refused at load, naming the key."""
    with pytest.raises(ProgramError, match=r"referral\.referee_reward_on"):
        gamify_engine(capped_scheme(referee_reward_on="signup"))


def test_a_program_without_a_scheme_gives_no_codes(gamify_engine: EngineFactory) -> None:
    """No code could ever be used: asking for one is refused, as joining is, and makes no
    member."""
    plain = capped_scheme()
    del plain["referral"]
    engine = gamify_engine(plain)
    with pytest.raises(ConfigurationError, match="no referral scheme"):
        engine.referral_code("amy")
    assert engine.store.get_member("amy") is None
