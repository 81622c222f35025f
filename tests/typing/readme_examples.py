"""README and docs examples as typed code: type-checked by mypy --strict and run by tests."""

from __future__ import annotations

import asyncio
import tomllib
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pendulum
import sqlmodel
from gamify_adapters.sql import immediate_session
from sqlalchemy import literal
from sqlmodel import create_engine, select

import gamify
from gamify.components.curves import build_curve
from gamify.testing.plugin import EngineFactory

SHOP = """
name = "shop"
timezone = "Europe/Berlin"

[actions.purchase]
amount = "required"
[actions.check_in]
amount = "none"

[[rules]]
name = "purchase_points"
action = "purchase"
per_amount = 1

[[rules]]
name = "check_in_points"
action = "check_in"
fixed = 5

[[multipliers]]
name = "black_friday"
kind = "campaign"
factor = 2
start = 2026-11-27T00:00:00+01:00
end = 2026-11-30T00:00:00+01:00

[[caps]]
name = "daily_check_in"
action = "check_in"
period = "day"
limit = 5
"""


def first_program(folder: Path) -> gamify.Outcome:
    """'A first program': load, track with a key, replay, read the profile and history."""
    path = folder / "shop.toml"
    path.write_text(SHOP, encoding="utf-8")
    program = gamify.Program.load(path)
    clock = gamify.ManualClock(pendulum.datetime(2026, 11, 28, 10, tz="Europe/Berlin"))
    engine = gamify.Engine(program, clock=clock)
    seen: list[gamify.DomainEvent] = []
    engine.on("credited", seen.append)

    engine.set_member("alice", timezone="Asia/Shanghai", tags=["vip"])
    outcome = engine.track("alice", "purchase", amount="19.99", key="order-1001")
    replay = engine.track("alice", "purchase", amount="19.99", key="order-1001")
    assert replay == outcome
    assert engine.balance("alice") == outcome.total("points")
    profile: gamify.Profile = engine.member("alice")
    history: list[gamify.HistoryEntry] = engine.history("alice")
    assert profile.balances["points"] == sum(e.amount for e in history if e.account == "points")
    assert len(seen) == 1

    capped = engine.track("alice", "check_in")
    hits: list[gamify.CapHit] = list(capped.caps)
    assert [h.cap for h in hits] == ["daily_check_in"]
    return outcome


BADGES = """
timezone = "UTC"

[actions.workout]

[badges.workouts]
kind = "tiered"
metric = "count"
action = "workout"
tiers = [{ name = "bronze", threshold = 10 }, { name = "silver", threshold = 50 }]

[badges.night_owl]
metric = "custom"
predicate = "night_owl"
secret = true

[badges.early_bird]
metric = "custom"
predicate = "early_bird"
"""


def early_bird(facts: gamify.BadgeFacts) -> bool:
    """A predicate written as a function, annotated with the public facts type."""
    return facts.action == "workout" and facts.attributes.get("hour", 12) < 7


def badges() -> list[gamify.BadgeAwarded]:
    """'Badges': a predicate as the README registers it, and one as a typed function."""
    engine = gamify.Engine(gamify.Program.from_dict(tomllib.loads(BADGES)))
    engine.register_predicate("night_owl", lambda facts: facts.attributes.get("hour", 12) < 5)
    engine.register_predicate("early_bird", early_bird)
    outcome = engine.track("alice", "workout", attributes={"hour": 4})
    progress: gamify.BadgeProgress = engine.badge_progress("alice", "workouts")
    assert (progress.current, progress.target, progress.held) == (Decimal(1), Decimal(10), 0)
    assert {b.badge for b in engine.badges("alice")} == {"workouts", "night_owl", "early_bird"}
    return outcome.badges


def double_points(gamify_engine: EngineFactory, gamify_clock: gamify.ManualClock) -> None:
    """'Testing your app': the plugin's fixtures, annotated for mypy --strict."""
    engine = gamify_engine(gamify.Program.from_dict(tomllib.loads(SHOP)))
    gamify_clock.set(pendulum.datetime(2026, 11, 28, 10, tz="Europe/Berlin"))
    assert engine.track("alice", "purchase", amount=10).total() == 20


def batch() -> list[gamify.Outcome]:
    """'A first program': a batch of an Event and a mapping, in one transaction."""
    engine = gamify.Engine(gamify.Program.from_dict(tomllib.loads(SHOP)))
    return engine.track_many(
        [
            gamify.Event("alice", "check_in", key="visit-7"),
            {"member_id": "bob", "action": "purchase", "amount": "5.50", "key": "order-1002"},
        ]
    )


def events() -> tuple[list[str], list[str]]:
    """docs/events.md 'Subscribing': a subscriber's return value is ignored, so a function
    that returns something (a sent flag, a queue's answer) subscribes as it is."""
    engine = gamify.Engine(gamify.Program.from_dict(tomllib.loads(SHOP)))
    sent: list[str] = []

    def notify(member_id: str, text: str) -> bool:
        sent.append(f"{member_id}: {text}")
        return True

    audit_log: list[gamify.DomainEvent] = []
    engine.on("credited", lambda event: notify(event.member_id, f"+{event.payload['action']}"))
    engine.on("*", audit_log.append)
    engine.track("alice", "check_in")
    return sent, [event.name for event in audit_log]


def float_amounts() -> gamify.Redemption:
    """'How it works': a float amount goes through its repr, in track and in redeem alike."""
    engine = gamify.Engine(gamify.Program.from_dict(tomllib.loads(SHOP)))
    assert engine.track("bob", "purchase", amount=19.99).amount == Decimal("19.99")
    return engine.redeem("bob", order_total=0.5)  # 19 points pay 0.19 of it


def curves() -> tuple[int, int | None, int]:
    """'Levels': a curve answers cumulative XP, XP to next and the level for some XP."""
    curve = build_curve("medium_slow", max_level=50)
    return curve.xp_for_level(10), curve.xp_to_next(10), curve.level_for_xp(5000)


def loyalty() -> gamify.Redemption:
    """'Expiry, pending points, reversals and redemption' on the beauty-store program."""
    here = Path(__file__).resolve().parents[2]
    program = gamify.Program.load(here / "examples" / "beauty_store" / "program.toml")
    clock = gamify.ManualClock(pendulum.datetime(2026, 3, 2, 10, tz="Asia/Shanghai"))
    engine = gamify.Engine(program, clock=clock)
    code = engine.referral_code("ann")
    engine.join("bob", referral_code=code.lower())
    engine.track("ann", "purchase", amount=4000, key="order-1001")
    reminders: list[gamify.ExpiringLot] = engine.expiring("ann", within=timedelta(days=400))
    assert reminders
    assert engine.reward_price("coupon_200_minus_50") == 2500
    redemption = engine.redeem("ann", reward="coupon_200_minus_50", key="r-1")
    engine.redeem("ann", order_total=100)
    engine.refund(redemption)
    reversal: gamify.Reversal = engine.reverse("ann", "order-1001")
    assert reversal.credits
    goodwill: gamify.Adjustment = engine.adjust(
        "ann", 200, reason="goodwill: late delivery", key="ticket-88"
    )
    assert goodwill.amount == 200
    report: gamify.DueReport = engine.run_due()
    assert report.reviews == 0
    return redemption


def boards() -> list[gamify.LeaderboardRow]:
    """'Leaderboards' and 'Challenges' on the fitness program."""
    here = Path(__file__).resolve().parents[2]
    program = gamify.Program.load(here / "examples" / "fitness" / "program.toml")
    clock = gamify.ManualClock(pendulum.datetime(2026, 3, 2, 7, tz="UTC"))
    engine = gamify.Engine(program, clock=clock)
    for member in ("alice", "bob"):
        engine.track(member, "workout")
    progress: gamify.ChallengeProgress = engine.challenge_progress("alice", "first_week")
    assert progress.status == "active"
    rank = engine.rank("alice", "points", period="week")
    assert rank is not None and rank.rank == 1
    return engine.leaderboard("points", period="week", limit=10)


def storage(folder: Path) -> tuple[bool, bool]:
    """docs/storage.md: a store by URL with options, create_schema and has_schema."""
    engine = gamify.Engine(gamify.Program.from_dict({"timezone": "UTC"}))  # memory://
    assert engine.store.has_schema()  # the memory store keeps no tables
    url = f"sqlite:///{folder / 'gamify.db'}"
    store: gamify.Store = gamify.open_store(url, prefix="loyalty_", create=False)
    before = store.has_schema()
    gamify.create_schema(url, prefix="loyalty_")
    after = store.has_schema()
    store.close()
    return before, after


def shared_memory_store() -> tuple[int, int, int]:
    """docs/storage.md: each memory:// URL opens a new store; one store object is shared."""
    program = gamify.Program.from_dict(tomllib.loads(SHOP))
    store = gamify.open_store("memory://")
    app, worker = gamify.Engine(program, store=store), gamify.Engine(program, store=store)
    app.track("alice", "check_in")
    elsewhere = gamify.Engine(program, store="memory://")
    return app.balance("alice"), worker.balance("alice"), elsewhere.balance("alice")


async def tracked_from_async_code(engine: gamify.Engine, user_id: str, workout_id: str) -> int:
    """docs/storage.md: async code awaits the engine's call in a worker thread."""
    outcome = await asyncio.to_thread(engine.track, user_id, "check_in", key=workout_id)
    return outcome.total()


def app_session(folder: Path) -> int:
    """docs/storage.md: a SQLModel session that begins IMMEDIATE, joined by the engine."""
    app_db = create_engine(f"sqlite:///{folder / 'app.db'}")
    program = gamify.Program.from_dict(tomllib.loads(SHOP))
    shop = gamify.Engine(program, store=f"sqlite:///{folder / 'app.db'}")
    session: sqlmodel.Session
    with immediate_session(app_db) as session:
        assert session.exec(select(literal(1))).one() == 1  # SQLModel's own API
        shop.using(session).track("alice", "purchase", amount=7, key="order-7")
        session.commit()
    return shop.balance("alice")


def forgotten(folder: Path) -> tuple[bool, bool, int]:
    """README 'Forgetting a member': erased with the app's own delete, in one transaction."""
    app_db = create_engine(f"sqlite:///{folder / 'app.db'}")
    program = gamify.Program.from_dict(tomllib.loads(SHOP))
    shop = gamify.Engine(program, store=f"sqlite:///{folder / 'app.db'}")
    shop.track("ann", "purchase", amount=30, key="order-1")
    with immediate_session(app_db) as session:
        erased = shop.using(session).forget_member("ann")
        session.commit()
    again = shop.forget_member("ann")
    return erased, again, len(shop.history("ann"))
