"""docs/events.md against the engine: every event is documented, and every payload, envelope
and credit entry has exactly the keys the reference lists."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

import gamify
from gamify import EVENT_NAMES
from gamify.errors import UnknownEventNameError

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
EVENT_HEADING = re.compile(r"^### `([a-z_]+)`$")
TABLE_KEY = re.compile(r"^\| `([a-z_]+)` \|")
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

# One small program in UTC that can fire every domain event.
PROGRAM: dict[str, Any] = {
    "timezone": "UTC",
    "currencies": {"points": {"spendable": True}, "xp": {"spendable": False}},
    "actions": {
        "purchase": {"amount": "required"},
        "order": {"amount": "required"},
        "workout": {},
        "promo": {},
    },
    "rules": [
        {"name": "spend", "action": "purchase", "per_amount": 1},
        {"name": "spend_xp", "action": "purchase", "per_amount": 1, "currency": "xp"},
        {"name": "order_points", "action": "order", "per_amount": 1, "pending_days": 3},
        {"name": "workout_points", "action": "workout", "fixed": 10},
        {
            "name": "flash",
            "action": "promo",
            "fixed": 100,
            "validity": {"policy": "months_end", "months": 0},
        },
    ],
    "levels": {"curve": "linear", "params": {"step": 100}, "reward": {"points": 5}},
    "badges": {"first_workout": {"metric": "count", "action": "workout", "threshold": 1}},
    "streaks": {
        "daily": {
            "actions": ["workout"],
            "milestones": [{"length": 2, "reward": {"points": 20}}],
            "repair": {"window_hours": 48, "cost": 30},
        }
    },
    "tiers": {
        "metric": "amount",
        "action": "purchase",
        "levels": [{"name": "regular", "threshold": 0}, {"name": "silver", "threshold": 100}],
    },
    "challenges": {
        "pair": {
            "conditions": [{"kind": "count", "action": "workout", "target": 2}],
            "reward": {"points": 50},
        },
        "sprint": {"days": 1, "conditions": [{"kind": "count", "action": "workout", "target": 5}]},
    },
    "referral": {"qualifying_action": "purchase", "referee_reward": 30, "referrer_fixed": 50},
}


# The reference --------------------------------------------------------------------------------


def doc_sections() -> dict[str, list[str]]:
    """The lines under each heading of the reference (headings inside code blocks ignored)."""
    sections: dict[str, list[str]] = {}
    current: list[str] = sections.setdefault("", [])
    fenced = False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            assert line not in sections, f"heading {line!r} appears twice"
            current = sections.setdefault(line, [])
            continue
        current.append(line)
    return sections


SECTIONS = doc_sections()


def table_keys(heading: str) -> set[str]:
    """The backquoted names in the first column of the table under ``heading``."""
    keys = [m.group(1) for line in SECTIONS[heading] if (m := TABLE_KEY.match(line))]
    assert len(keys) == len(set(keys)), f"a key is listed twice under {heading!r}"
    return set(keys)


def documented_events() -> list[str]:
    return [m.group(1) for heading in SECTIONS if (m := EVENT_HEADING.match(heading))]


def payload_keys(name: str) -> set[str]:
    return table_keys(f"### `{name}`")


def example_payload(name: str) -> dict[str, Any]:
    """The JSON example in the event's section."""
    lines = SECTIONS[f"### `{name}`"]
    start = lines.index("```json")
    end = lines.index("```", start + 1)
    example = json.loads("\n".join(lines[start + 1 : end]))
    assert isinstance(example, dict)
    return example


# The scenario ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def events() -> list[gamify.DomainEvent]:
    """Every event of a short scenario that fires each domain event at least once."""
    clock = gamify.ManualClock(START)
    engine = gamify.Engine(PROGRAM, store="memory://", clock=clock)
    seen: list[gamify.DomainEvent] = []
    engine.on("*", seen.append)
    engine.track("m", "workout", key="w1")  # streak_extended, badge_awarded, credited
    clock.advance(days=1)
    engine.track("m", "workout")  # streak_milestone, challenge_completed, challenge_failed
    clock.advance(days=3)
    engine.track("m", "workout")  # streak_broken
    engine.repair_streak("m", "daily")  # streak_repaired
    engine.track("m", "purchase", amount=150, key="p1")  # tier_changed, level_up
    engine.track("m", "promo")  # a lot expiring at the month's end
    engine.track("m", "order", amount=40)  # a lot pending for 3 days
    redemption = engine.redeem("m", 20)  # redeemed
    engine.refund(redemption)  # refunded
    engine.adjust("m", 25, reason="goodwill")  # adjusted
    clock.set(dt.datetime(2026, 4, 2, 9, 0, tzinfo=dt.UTC))
    engine.run_due()  # points_expired, points_matured
    engine.reverse("m", "p1")  # level_down, reversed
    engine.join("n", referral_code=engine.referral_code("m"))  # referral_joined
    engine.track("n", "purchase", amount=10)  # referral_qualified
    return seen


# The tests ------------------------------------------------------------------------------------


def test_every_event_name_has_a_section_and_every_section_names_an_event() -> None:
    documented = documented_events()
    assert len(documented) == len(set(documented))
    assert set(documented) == EVENT_NAMES


def test_the_summary_table_lists_every_event() -> None:
    assert table_keys("## Events") == EVENT_NAMES


def test_the_envelope_table_lists_the_domain_event_fields() -> None:
    fields = {f.name for f in dataclasses.fields(gamify.DomainEvent)}
    assert table_keys("## The envelope") == fields


def test_the_credit_table_lists_the_credit_fields() -> None:
    assert table_keys("## Credit entries") == set(gamify.Credit.model_fields)


@pytest.mark.parametrize("name", sorted(EVENT_NAMES))
def test_each_example_payload_has_the_documented_keys(name: str) -> None:
    assert set(example_payload(name)) == payload_keys(name)


def test_the_scenario_fires_every_event(events: list[gamify.DomainEvent]) -> None:
    assert {e.name for e in events} == EVENT_NAMES
    assert len({e.event_id for e in events}) == len(events)


@pytest.mark.parametrize("name", sorted(EVENT_NAMES))
def test_each_payload_has_exactly_the_documented_keys(
    name: str, events: list[gamify.DomainEvent]
) -> None:
    fired = [e for e in events if e.name == name]
    assert fired, f"the scenario never fired {name}"
    for event in fired:
        assert set(event.payload) == payload_keys(name), event
        assert isinstance(event.at, dt.datetime) and event.at.tzinfo is dt.UTC


def test_credit_entries_have_the_documented_fields(events: list[gamify.DomainEvent]) -> None:
    fields = table_keys("## Credit entries")
    credits = [c for e in events if "credits" in e.payload for c in e.payload["credits"]]
    assert credits
    assert all(set(c) == fields for c in credits)
    assert all(isinstance(c["multiplier"], str) for c in credits)


def test_payloads_hold_json_values_only(events: list[gamify.DomainEvent]) -> None:
    for event in events:
        assert json.loads(json.dumps(event.payload)) == event.payload


def test_the_envelope_names_the_referrer_for_referral_qualified(
    events: list[gamify.DomainEvent],
) -> None:
    qualified = next(e for e in events if e.name == "referral_qualified")
    joined = next(e for e in events if e.name == "referral_joined")
    assert (qualified.member_id, qualified.payload["referee"]) == ("m", "n")
    assert (joined.member_id, joined.payload["referrer"]) == ("n", "m")


def test_an_unknown_name_is_refused() -> None:
    engine = gamify.Engine(PROGRAM, store="memory://", clock=gamify.ManualClock(START))
    with pytest.raises(UnknownEventNameError):
        engine.on("level_upp", print)


def test_a_raising_subscriber_is_logged_and_undoes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = gamify.Engine(PROGRAM, store="memory://", clock=gamify.ManualClock(START))

    def fail(event: gamify.DomainEvent) -> None:
        raise RuntimeError("boom")

    seen: list[gamify.DomainEvent] = []
    engine.on("credited", fail)
    engine.on("*", seen.append)
    with caplog.at_level(logging.ERROR, logger="gamify"):
        outcome = engine.track("m", "workout")
    assert outcome.total("points") == 10 and engine.balance("m") == 10
    assert "credited" in {e.name for e in seen}
    assert any("subscriber" in r.getMessage() for r in caplog.records)
    assert engine.store.pending_outbox() == []  # acknowledged all the same


def test_without_a_subscriber_no_event_is_written() -> None:
    engine = gamify.Engine(PROGRAM, store="memory://", clock=gamify.ManualClock(START))
    engine.track("m", "workout")
    assert engine.store.pending_outbox() == []


def test_deliver_events_false_leaves_the_events_to_drain_outbox() -> None:
    clock = gamify.ManualClock(START)
    app = gamify.Engine(PROGRAM, store="memory://", clock=clock, deliver_events=False)
    in_process: list[gamify.DomainEvent] = []
    app.on("*", in_process.append)
    app.track("m", "workout")
    assert in_process == []
    pending = app.store.pending_outbox()
    assert [e.name for e in pending] == [
        "streak_extended",
        "badge_awarded",
        "credited",
    ]
    worker = gamify.Engine(PROGRAM, store=app.store, clock=clock, deliver_events=False)
    delivered: list[gamify.DomainEvent] = []
    worker.on("*", delivered.append)
    assert worker.drain_outbox(limit=100) == 3
    assert [e.event_id for e in delivered] == [e.event_id for e in pending]
    assert worker.drain_outbox() == 0 and app.store.pending_outbox() == []


def test_event_ids_are_32_hex_digits() -> None:
    """A unique 128-bit id: 32 hex digits, whatever the counter behind it."""
    engine = gamify.Engine(
        {
            "timezone": "UTC",
            "actions": {"check_in": {"amount": "none"}},
            "rules": [{"name": "daily", "action": "check_in", "fixed": 5}],
        }
    )
    ids: list[str] = []
    engine.on("credited", lambda event: ids.append(event.event_id))
    engine.track("a", "check_in")
    engine.track("a", "check_in")
    assert len(ids) == 2 and len(set(ids)) == 2
    assert all(re.fullmatch("[0-9a-f]{32}", event_id) for event_id in ids)
