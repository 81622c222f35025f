"""Bad input: each raises its typed error and writes nothing."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gamify import (
    ConfigurationError,
    Engine,
    Event,
    GamifyError,
    InvalidAmountError,
    InvalidEventError,
    InvalidTimeError,
    ManualClock,
    NotFoundError,
    Program,
    ProgramError,
    UnknownActionError,
    create_schema,
    open_store,
)

EngineFactory = Callable[..., Engine]

SHOP: dict[str, Any] = {
    "timezone": "UTC",
    "late_event_days": 30,
    "actions": {
        "purchase": {"amount": "required"},
        "check_in": {"amount": "none"},
        "review": {"amount": "optional"},
    },
    "rules": [
        {"name": "spend", "action": "purchase", "per_amount": 1},
        {"name": "daily", "action": "check_in", "fixed": 5},
        {"name": "review", "action": "review", "fixed": 20},
    ],
}


@pytest.fixture
def engine(gamify_engine: EngineFactory) -> Engine:
    return gamify_engine(SHOP)


def nothing_written(engine: Engine, member: str = "alice") -> bool:
    store = engine.store
    return (
        store.get_member(member) is None
        and store.get_balances(member) in ({}, {"points": 0})
        and store.history(member) == []
        and store.member_lots(member, "points") == []
        and store.pending_outbox() == []
    )


def _nested(depth: int) -> dict[str, Any]:
    top: dict[str, Any] = {}
    inner = top
    for _ in range(depth):
        inner["a"] = {}
        inner = inner["a"]
    return top


DEEP = _nested(5000)  # deeper than the recursion limit, and than the engine allows

BAD_TRACKS: list[tuple[str, dict[str, Any], type[Exception]]] = [
    ("unknown action", {"action": "dance"}, UnknownActionError),
    ("negative amount", {"amount": -1}, InvalidAmountError),
    ("negative decimal", {"amount": Decimal("-0.01")}, InvalidAmountError),
    ("NaN float", {"amount": math.nan}, InvalidAmountError),
    ("NaN decimal", {"amount": Decimal("NaN")}, InvalidAmountError),
    ("infinite float", {"amount": math.inf}, InvalidAmountError),
    ("infinite decimal", {"amount": Decimal("Infinity")}, InvalidAmountError),
    ("bool amount", {"amount": True}, InvalidAmountError),
    ("text that is no number", {"amount": "ten"}, InvalidAmountError),
    ("list amount", {"amount": [10]}, InvalidAmountError),
    ("missing required amount", {"amount": None}, InvalidAmountError),
    ("amount on an action without amount", {"action": "check_in"}, InvalidAmountError),
    ("naive datetime", {"at": datetime(2026, 1, 5, 11, 0)}, InvalidTimeError),
    ("at that is no datetime", {"at": "2026-01-05T11:00:00Z"}, InvalidTimeError),
    ("non-JSON attribute: set", {"attributes": {"tags": {"a", "b"}}}, InvalidEventError),
    (
        "non-JSON attribute: datetime",
        {"attributes": {"when": datetime(2026, 1, 1)}},
        InvalidEventError,
    ),
    ("non-JSON attribute: object", {"attributes": {"x": object()}}, InvalidEventError),
    ("non-JSON attribute: infinity", {"attributes": {"x": -math.inf}}, InvalidEventError),
    ("non-JSON attribute: Decimal", {"attributes": {"x": Decimal("1.5")}}, InvalidEventError),
    ("non-JSON attribute: bytes", {"attributes": {"x": b"1"}}, InvalidEventError),
    ("empty key", {"key": ""}, InvalidEventError),
    ("action that is no string", {"action": ["purchase"]}, InvalidEventError),
    ("attributes that are no mapping", {"attributes": "ab"}, InvalidEventError),
    ("attributes nested too deeply", {"attributes": DEEP}, InvalidEventError),
    # Year 1 at UTC+9 is a valid local time with no UTC equivalent.
    (
        "at before year 1 in UTC",
        {"at": datetime(1, 1, 1, 5, tzinfo=timezone(timedelta(hours=9)))},
        InvalidTimeError,
    ),
]


@pytest.mark.parametrize(
    ("change", "error"), [(c, e) for _, c, e in BAD_TRACKS], ids=[n for n, _, _ in BAD_TRACKS]
)
def test_bad_input_raises_its_typed_error_and_writes_nothing(
    engine: Engine, change: dict[str, Any], error: type[Exception]
) -> None:
    """Each malformed event raises its own GamifyError (a ValueError) and leaves no trace."""
    event: dict[str, Any] = {"action": "purchase", "amount": 10, "key": "k1", **change}
    with pytest.raises(error) as info:
        engine.track("alice", **event)
    assert isinstance(info.value, GamifyError)
    assert isinstance(info.value, ValueError)
    assert nothing_written(engine)


def test_attributes_may_nest_32_levels_whatever_the_recursion_limit(engine: Engine) -> None:
    """32 levels of tables load; 33 are refused with the typed error, also when the process
    allows deep recursion (mypy, for one, raises the limit), and so is a table holding
    itself."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        for deep in (_nested(32), DEEP):
            with pytest.raises(InvalidEventError, match="more than 32 levels deep"):
                engine.track("alice", "purchase", amount=10, attributes=deep)
        looped: dict[str, Any] = {}
        looped["self"] = looped
        with pytest.raises(InvalidEventError, match="more than 32 levels deep"):
            engine.track("alice", "purchase", amount=10, attributes=looped)
    finally:
        sys.setrecursionlimit(limit)
    assert nothing_written(engine)
    outcome = engine.track("alice", "purchase", amount=10, attributes=_nested(31))
    assert outcome.total() == 10


@pytest.mark.parametrize("member", ["", "   ", None, 42])
def test_an_empty_or_non_string_member_id_is_refused(engine: Engine, member: Any) -> None:
    """A member id must be a non-empty string."""
    with pytest.raises(InvalidEventError):
        engine.track(member, "check_in")
    assert list(engine.store.member_ids()) == []


def test_an_event_after_the_clock_is_refused(engine: Engine, gamify_clock: ManualClock) -> None:
    """'at' one microsecond after the clock is in the future: refused; 'at' equal to the clock is
    fine."""
    now = gamify_clock.now()
    with pytest.raises(InvalidTimeError, match="after the clock"):
        engine.track("alice", "check_in", at=now + timedelta(microseconds=1))
    assert nothing_written(engine)
    assert engine.track("alice", "check_in", at=now).total() == 5


def test_an_event_older_than_late_event_days_is_refused(
    engine: Engine, gamify_clock: ManualClock
) -> None:
    """With late_event_days = 30, an event 30 days old is accepted and one a microsecond older is
    not."""
    limit = gamify_clock.now() - timedelta(days=30)
    with pytest.raises(InvalidTimeError, match="30 days late"):
        engine.track("alice", "check_in", at=limit - timedelta(microseconds=1))
    assert nothing_written(engine)
    assert engine.track("alice", "check_in", at=limit).total() == 5


def test_an_optional_amount_may_be_left_out(engine: Engine) -> None:
    """An action whose amount is optional is tracked with or without one."""
    assert engine.track("alice", "review").total() == 20
    assert engine.track("alice", "review", amount=3).total() == 20


def test_zero_is_a_valid_amount(engine: Engine) -> None:
    """An amount of 0 is valid and pays nothing from a proportional rule."""
    assert engine.track("alice", "purchase", amount=0).total() == 0


def test_a_bad_event_in_a_batch_writes_nothing_at_all(engine: Engine) -> None:
    """track_many checks every event first: one bad event fails the batch before any write."""
    with pytest.raises(InvalidAmountError):
        engine.track_many(
            [
                Event("alice", "check_in"),
                {"member_id": "alice", "action": "purchase", "amount": -5},
            ]
        )
    assert nothing_written(engine)


def test_a_failing_event_for_a_known_member_leaves_the_member_unchanged(engine: Engine) -> None:
    """After a refused event the member's profile, balance and history are as before."""
    engine.track("alice", "purchase", amount=50, key="first")
    before = (engine.member("alice"), engine.history("alice"))
    with pytest.raises(UnknownActionError):
        engine.track("alice", "dance")
    assert (engine.member("alice"), engine.history("alice")) == before


@pytest.mark.parametrize("points", [0, -5, True, 2.5, "10"])
def test_redeem_needs_a_positive_whole_number_of_points(engine: Engine, points: Any) -> None:
    """Redeeming 0, negative, boolean, fractional or textual points raises InvalidAmountError."""
    engine.track("alice", "purchase", amount=100)
    with pytest.raises(InvalidAmountError):
        engine.redeem("alice", points)
    assert engine.balance("alice") == 100


def test_a_nan_attribute_is_not_json(engine: Engine) -> None:
    """NaN is not a JSON value: an attribute holding NaN is refused like any non-JSON attribute."""
    with pytest.raises(InvalidEventError):
        engine.track("alice", "check_in", attributes={"score": math.nan})
    assert nothing_written(engine)


def test_an_absurdly_large_amount_is_a_typed_error(engine: Engine) -> None:
    """An amount too large to compute with (1E+999999999) raises InvalidAmountError, nothing
    written."""
    with pytest.raises(InvalidAmountError):
        engine.track("alice", "purchase", amount="1e999999999")
    assert nothing_written(engine)


@pytest.mark.parametrize("limit", [0, -1, True, 2.5, "5", 2**31, 2**63])
def test_a_row_limit_must_be_a_positive_integer(engine: Engine, limit: Any) -> None:
    """history, leaderboard and drain_outbox refuse a limit that is not a positive int, or one
    past what every database takes as an integer."""
    engine.track("m", "purchase", amount=10)
    with pytest.raises(InvalidEventError, match="limit must be a positive integer"):
        engine.history("m", limit=limit)
    with pytest.raises(InvalidEventError, match="limit must be a positive integer"):
        engine.leaderboard(limit=limit)
    with pytest.raises(InvalidEventError, match="limit must be a positive integer"):
        engine.drain_outbox(limit)
    assert len(engine.history("m", limit=1)) == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: open_store(None), "a store URL is a string"),  # type: ignore[arg-type]
        (lambda: create_schema(None), "a store URL is a string"),  # type: ignore[arg-type]
        (lambda: open_store("sqlite:"), "not a database URL"),
        (lambda: open_store("sqlite:///a\x00.db"), "cannot open the store"),
        (lambda: open_store("memory://", bogus=1), "unexpected keyword argument 'bogus'"),
        (lambda: open_store("sqlite://", prefix=None), "table prefix None"),
        (lambda: create_schema("sqlite://", prefix=42), "table prefix 42"),  # type: ignore[arg-type]
    ],
)
def test_bad_store_urls_and_options_are_configuration_errors(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        call()


def test_a_store_url_scheme_is_read_in_any_case(tmp_path: Path) -> None:
    store = open_store(f"SQLite:///{tmp_path / 'any.db'}")
    try:
        assert store.url.startswith("sqlite:///")
    finally:
        store.close()


def test_an_engine_takes_a_program_as_a_mapping(gamify_clock: ManualClock) -> None:
    """A mapping is validated as a Program; a malformed one names its key path."""
    engine = Engine(SHOP, clock=gamify_clock)
    assert engine.track("m", "check_in").total() == 5
    broken = {**SHOP, "rules": [{"name": "r", "action": "check_in", "fixd": 5}]}
    with pytest.raises(ProgramError, match=r"rules\[0\]\.fixd"):
        Engine(broken)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"program": 42}, "program must be a gamify.Program, a file path or a mapping"),
        ({"store": 42}, "store must be a URL or a gamify Store, not 42"),
        ({"clock": "now"}, "clock must be a gamify Clock"),
        ({"max_retries": -1}, "max_retries must be a whole number >= 0"),
        ({"max_retries": 2.5}, "max_retries must be a whole number >= 0"),
        ({"deliver_events": "no"}, "deliver_events must be True or False, not 'no'"),
        ({"deliver_events": 0}, "deliver_events must be True or False"),
        ({"clock": ManualClock}, "clock must be a gamify Clock instance"),
        ({"requires": None}, "requires is a list of capability names"),
        ({"requires": "app_session"}, "requires is a list of capability names"),
        ({"predicates": [("p", bool)]}, "predicates map names to callables"),
        ({"store": None}, "store must be a URL or a gamify Store"),
        ({"store": "sqlite:"}, "not a database URL"),
        ({"store": "memory://", "requires": ["app_session"]}, "lacks app_session"),
    ],
)
def test_an_engine_wired_wrongly_is_refused_at_once(
    arguments: dict[str, Any], message: str
) -> None:
    """Wrong arguments fail when the engine is made, not at its first call."""
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        Engine(**{"program": SHOP, **arguments})


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            {"member_id": "alice", "action": "check_in", "bogus": 1},
            "events[1]: unknown field bogus",
        ),
        ({"member_id": "alice"}, "events[1]: missing field action"),
        (42, "events[1] must be an Event or a mapping, not 42"),
        (
            {"member_id": "alice", "action": "purchase", "amount": "1,5"},
            "events[1]: invalid amount '1,5': not a number",
        ),
        (Event("alice", "purchse"), "events[1]: unknown action 'purchse'"),
        (Event("", "check_in"), "events[1]: member id must be a non-empty string"),
        (
            Event("alice", "check_in", at=datetime(2026, 3, 1)),
            "events[1]: event time 2026-03-01T00:00:00 is naive",
        ),
    ],
)
def test_a_malformed_item_in_a_batch_is_refused_before_any_write(
    engine: Engine, item: Any, message: str
) -> None:
    """Each message names the faulty event's place in the batch (and keeps its error type)."""
    good = {"member_id": "alice", "action": "check_in"}
    with pytest.raises(InvalidEventError, match=re.escape(message)):
        engine.track_many([good, item])
    assert nothing_written(engine)


def test_a_bad_amount_in_a_batch_keeps_its_type_and_value(engine: Engine) -> None:
    """The place in the batch is added to the message; the error is still the one
    track would raise, with the amount it refused."""
    with pytest.raises(InvalidAmountError) as caught:
        engine.track_many([Event("alice", "check_in"), Event("bob", "purchase", amount=-5)])
    assert caught.value.amount == -5
    assert str(caught.value) == "events[1]: invalid amount -5: must not be negative"


@pytest.mark.parametrize("tags", ["vip", [1], ["vip", None]])
def test_tags_must_be_strings(engine: Engine, tags: Any) -> None:
    """A lone string is refused, not split into one-letter tags."""
    with pytest.raises(InvalidEventError, match="tags must be a list of strings"):
        engine.set_member("alice", tags=tags)
    assert nothing_written(engine)
    assert engine.set_member("alice", tags=(t for t in ["vip", "eu"])).tags == ["eu", "vip"]


@pytest.mark.parametrize("within", [timedelta(0), timedelta(days=-1), 30])
def test_expiring_needs_a_positive_window(engine: Engine, within: Any) -> None:
    with pytest.raises(InvalidEventError, match="within must be a positive timedelta"):
        engine.expiring("alice", within=within)


@pytest.mark.parametrize("window", [(1, 2), (datetime(2026, 1, 1, tzinfo=UTC),)])
def test_a_leaderboard_window_is_a_pair_of_datetimes(engine: Engine, window: Any) -> None:
    with pytest.raises(InvalidTimeError, match=r"a \(start, end\) pair of datetimes"):
        engine.leaderboard(period=window)


def test_subscribers_and_predicates_must_be_callable(engine: Engine) -> None:
    """A non-callable is refused when registered, not logged as failing on every event."""
    with pytest.raises(ConfigurationError, match="a subscriber must be callable, not 5"):
        engine.on("*", 5)
    with pytest.raises(ConfigurationError, match="predicate 'vip' must be callable"):
        engine.register_predicate("vip", True)
    with pytest.raises(ConfigurationError, match="predicate 'vip' must be callable"):
        Engine(SHOP, predicates={"vip": "yes"})


def test_an_engine_takes_a_program_file_as_any_path(tmp_path: Path) -> None:
    """A str, a Path or any os.PathLike names the program file."""
    file = tmp_path / "shop.json"
    file.write_text(json.dumps(SHOP))

    class Location:
        def __fspath__(self) -> str:
            return str(file)

    for where in (str(file), file, Location()):
        assert sorted(Engine(where).program.actions) == ["check_in", "purchase", "review"]


@pytest.mark.parametrize("key", ["", 7])
def test_every_keyed_call_refuses_an_empty_or_non_string_key(engine: Engine, key: Any) -> None:
    """track, redeem and repair_streak check their idempotency key the same way."""
    engine.track("alice", "purchase", amount=100)
    with pytest.raises(InvalidEventError, match="idempotency key must be a non-empty string"):
        engine.redeem("alice", 10, key=key)
    with pytest.raises(InvalidEventError, match="idempotency key must be a non-empty string"):
        engine.track("alice", "check_in", key=key)
    assert engine.balance("alice") == 100
    assert len(engine.history("alice")) == 1


def test_repair_streak_checks_the_member_id_and_key(gamify_engine: EngineFactory) -> None:
    streaky = {**SHOP, "streaks": {"daily": {"actions": ["check_in"], "repair": {"cost": 10}}}}
    engine = gamify_engine(streaky)
    with pytest.raises(InvalidEventError, match="member id must be a non-empty string"):
        engine.repair_streak("", "daily")
    with pytest.raises(InvalidEventError, match="idempotency key must be a non-empty string"):
        engine.repair_streak("alice", "daily", key="")


def test_other_calls_refuse_arguments_of_the_wrong_kind_with_typed_errors(
    gamify_engine: EngineFactory,
) -> None:
    """Lists, numbers and None where a name or id belongs raise GamifyErrors, not TypeError."""
    engine = gamify_engine({**SHOP, "streaks": {"daily": {"actions": ["check_in"]}}})
    engine.track("alice", "purchase", amount=100, key="k1")
    calls: list[tuple[Callable[[], object], type[Exception], str]] = [
        (lambda: engine.balance("alice", ["points"]), NotFoundError, "unknown currency"),
        (lambda: engine.repair_streak("alice", ["daily"]), NotFoundError, "unknown streak"),
        (lambda: engine.reverse("alice", ["k1"]), InvalidEventError, "idempotency key"),
        (lambda: engine.reverse("alice", None), InvalidEventError, "reverse needs"),
        (lambda: engine.reverse("", "k1"), InvalidEventError, "member id"),
        (lambda: engine.refund(123, "alice"), InvalidEventError, "a Redemption or"),
        (lambda: engine.refund(None), InvalidEventError, "a Redemption or"),
        (lambda: engine.refund("r1", 5), InvalidEventError, "member id"),
        (lambda: engine.track_many(5), InvalidEventError, "an iterable of Events"),
        (lambda: engine.track_many({"member_id": "a"}), InvalidEventError, "an iterable"),
        (lambda: engine.badge_progress("alice", ["b"]), NotFoundError, "unknown badge"),
        (lambda: engine.streak_history("alice", ["daily"]), NotFoundError, "unknown streak"),
        (lambda: engine.enroll("alice", ["c"]), NotFoundError, "unknown challenge"),
        (lambda: engine.challenge_progress("alice", {}), NotFoundError, "unknown challenge"),
        (lambda: engine.reward_price(["gift"]), NotFoundError, "unknown reward"),
        (lambda: engine.redeem("alice", reward=["gift"]), NotFoundError, "unknown reward"),
        (lambda: engine.leaderboard(["points"]), NotFoundError, "unknown metric"),
        (lambda: engine.leaderboard(tier=["gold"]), NotFoundError, "unknown tier"),
        (lambda: engine.rank("alice", {"points": 1}), NotFoundError, "unknown metric"),
        (lambda: engine.rank(["alice"]), InvalidEventError, "member id"),
        (lambda: engine.on(["credited"], print), GamifyError, "unknown domain event"),
        (lambda: engine.register_predicate(["p"], bool), ConfigurationError, "name"),
        (lambda: engine.member(["alice"]), InvalidEventError, "member id"),
        (lambda: engine.set_member("alice", tags=42), InvalidEventError, "tags must be a list"),
        (lambda: engine.history(["alice"]), InvalidEventError, "member id"),
        (lambda: engine.balance(["alice"]), InvalidEventError, "member id"),
        (lambda: engine.streak_history(7, "daily"), InvalidEventError, "member id"),
        (lambda: engine.expiring(None, within=timedelta(days=1)), InvalidEventError, "member id"),
    ]
    for call, error, message in calls:
        with pytest.raises(error, match=message):
            call()
    assert engine.balance("alice") == 100
    assert len(engine.history("alice")) == 1


def test_expiring_within_any_span_lists_the_lots(gamify_engine: EngineFactory) -> None:
    """A span past the last representable instant means every lot that expires at all."""
    engine = gamify_engine({**SHOP, "expiry": {"policy": "months", "months": 1}})
    engine.track("alice", "purchase", amount=100)
    assert [lot.points for lot in engine.expiring("alice", within=timedelta.max)] == [100]


def test_an_order_too_small_for_any_points_is_an_amount_error(
    gamify_engine: EngineFactory,
) -> None:
    """Not a balance error: the member has points, the order cannot take any."""
    engine = gamify_engine({**SHOP, "redemption": {"max_order_share": "0.5"}})
    engine.track("alice", "purchase", amount=900)
    for total in (0, "0.01"):
        with pytest.raises(InvalidAmountError, match="cannot be paid with any points"):
            engine.redeem("alice", order_total=total)
    assert engine.balance("alice") == 900
    assert len(engine.history("alice")) == 1


def test_late_event_days_are_calendar_days_in_the_members_zone(
    gamify_engine: EngineFactory, gamify_clock: ManualClock
) -> None:
    """90 days before 1 December 12:00 in New York is 2 September 12:00 there, 90 days and one
    hour earlier (DST ended on 1 November): accepted, and a microsecond earlier refused. A
    member in UTC, the program's zone, has the plain 90 x 24 hours."""
    engine = gamify_engine({**SHOP, "late_event_days": 90})
    engine.set_member("nyc", timezone="America/New_York")
    ny = ZoneInfo("America/New_York")
    gamify_clock.set(datetime(2026, 12, 1, 12, 0, tzinfo=ny))
    limit = datetime(2026, 9, 2, 12, 0, tzinfo=ny)
    assert gamify_clock.now() - limit == timedelta(days=90, hours=1)
    assert engine.track("nyc", "check_in", at=limit).total() == 5
    with pytest.raises(InvalidTimeError, match="more than 90 days late"):
        engine.track("nyc", "check_in", at=limit - timedelta(microseconds=1))
    utc_limit = gamify_clock.now() - timedelta(days=90)
    with pytest.raises(InvalidTimeError, match="more than 90 days late"):
        engine.track("utc", "check_in", at=utc_limit - timedelta(microseconds=1))
    assert engine.track("utc", "check_in", at=utc_limit).total() == 5
    assert engine.balance("nyc") == 5 and engine.balance("utc") == 5


@pytest.mark.parametrize(
    ("rule", "event"),
    [
        ({"per_amount": 100_000}, {"amount": "999999999999"}),
        (
            {"fixed": 100, "per": {"attribute": "bottles", "size": 5}},
            {"amount": 1, "attributes": {"bottles": 10**30}},
        ),
        ({"formula": "amount * amount"}, {"amount": "99999999999"}),
        # Past Python's 4300-digit limit for printing an integer: the message gives its size.
        ({"formula": "size * size"}, {"amount": 1, "attributes": {"size": 10**2200}}),
    ],
    ids=["per_amount", "per group", "formula", "beyond printing"],
)
def test_a_credit_too_large_for_a_balance_is_a_typed_error(
    gamify_engine: EngineFactory,
    gamify_store_target: Any,
    rule: dict[str, Any],
    event: dict[str, Any],
) -> None:
    """An award of 10**15 points or more raises InvalidEventError and writes nothing, on every
    store (a SQL balance is a 64-bit integer)."""
    program = {**SHOP, "rules": [{"name": "big", "action": "purchase", **rule}]}
    store = gamify_store_target.open()
    try:
        engine = gamify_engine(program, store=store)
        with pytest.raises(InvalidEventError, match="more than one credit may pay"):
            engine.track("alice", "purchase", **event)
        assert nothing_written(engine)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"late_event_days": 1_000_000}, "late_event_days"),
        ({"expiry": {"policy": "months", "months": 96_000}}, "expiry.months"),
        (
            {"rules": [{"name": "r", "action": "purchase", "fixed": 5, "pending_days": 10**9}]},
            "rules[0].pending_days",
        ),
        (
            {"streaks": {"s": {"actions": ["check_in"], "repair": {"window_hours": 10**12}}}},
            "streaks.s.repair.window_hours",
        ),
    ],
)
def test_durations_past_a_century_are_refused_when_loaded(extra: dict[str, Any], key: str) -> None:
    """Instead of an OverflowError at the first event that adds them to a date."""
    with pytest.raises(ProgramError) as info:
        Program.from_dict({**SHOP, **extra})
    assert info.value.key_path == key


@pytest.mark.parametrize("store", ["memory://", "sqlite://"])
def test_text_with_a_lone_surrogate_is_refused_on_every_store(
    gamify_clock: ManualClock, store: str
) -> None:
    """A lone surrogate cannot be encoded as UTF-8: refused as an event error by the engine,
    whatever the store would have done with it, and nothing is written."""
    engine = Engine(SHOP, store=store, clock=gamify_clock)
    engine.track("alice", "purchase", amount=100, key="k1")
    calls: list[tuple[Callable[[], object], str]] = [
        (lambda: engine.track("alice", "purchase", amount=5, key="\udc80"), "idempotency key"),
        (lambda: engine.track("\ud800", "purchase", amount=5), "member id"),
        (lambda: engine.set_member("alice", tags=["ok", "\ud800"]), "tags"),
        (lambda: engine.member("b\ud800"), "member id"),
    ]
    for call, what in calls:
        with pytest.raises(InvalidEventError, match=f"{what}.*not valid Unicode text"):
            call()
    assert engine.balance("alice") == 100
    assert len(engine.history("alice")) == 1
    assert list(engine.store.member_ids()) == ["alice"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"rules": [{"name": "r", "action": "check_in", "fixed": "1e999999999"}]},
            "fixed: must lie between 1e-12 and 1e12",
        ),
        (
            {"rules": [{"name": "r", "action": "check_in", "formula": "1e999999999"}]},
            "out of range (1e-30 to 1e30)",
        ),
        (  # the size itself is compared, not only its exponent
            {"rules": [{"name": "r", "action": "check_in", "formula": "9e30"}]},
            "out of range (1e-30 to 1e30)",
        ),
        (
            {"rules": [{"name": "r", "action": "check_in", "formula": "amount * 9e-31"}]},
            "out of range (1e-30 to 1e30)",
        ),
        (
            {"multipliers": [{"name": "x", "kind": "tag", "tag": "x", "factor": "1e28"}]},
            "factor: must lie between 1e-12 and 1e12",
        ),
        (
            {"catalog": {"yacht": {"cash_value": "1e999999999"}}},
            "cash_value: must lie between 1e-12 and 1e12",
        ),
    ],
)
def test_program_numbers_past_any_use_are_refused_when_loaded(
    extra: dict[str, Any], message: str
) -> None:
    """Instead of a track that never returns (a billion-digit award) or a raw decimal error."""
    with pytest.raises(ProgramError, match=re.escape(message)):
        Program.from_dict({**SHOP, **extra})


def test_stacked_factors_past_28_digits_give_the_typed_credit_error(
    gamify_engine: EngineFactory,
) -> None:
    """Three multipliers of 1e12 compound to 1e36: the award is refused as too large, not
    with a raw decimal error."""
    engine = gamify_engine(
        {
            **SHOP,
            "multipliers": [
                {"name": f"m{i}", "kind": "tag", "tag": "x", "factor": "1e12"} for i in range(3)
            ],
        }
    )
    engine.set_member("alice", tags=["x"])
    with pytest.raises(InvalidEventError, match="more than one credit may pay"):
        engine.track("alice", "check_in")
    assert engine.balance("alice") == 0


@pytest.mark.parametrize(
    ("extra", "key", "reason"),
    [
        (
            {"currencies": {"coins": {"spendable": True}}, "catalog": {"mug": {"cash_value": 5}}},
            "catalog",
            "needs a spendable 'points' currency",
        ),
        (
            {"currencies": {"points": {"spendable": False}}, "renewal": {"actions": ["check_in"]}},
            "renewal",
            "needs a spendable 'points' currency",
        ),
        (
            {
                "currencies": {"points": {"spendable": True}, "xp": {"spendable": False}},
                "streaks": {"s": {"actions": ["check_in"], "repair": {"currency": "xp"}}},
            },
            "streaks.s.repair.currency",
            "a repair is paid in a spendable currency",
        ),
        (
            {"streaks": {"s": {"actions": ["check_in", "check_in"]}}},
            "streaks.s.actions",
            "an action is listed twice",
        ),
    ],
)
def test_features_on_currencies_that_cannot_carry_them_are_refused(
    extra: dict[str, Any], key: str, reason: str
) -> None:
    data = {**SHOP, **extra}
    if "currencies" in extra and "points" not in extra["currencies"]:
        data["rules"] = [{**r, "currency": "coins"} for r in SHOP["rules"]]
    with pytest.raises(ProgramError) as info:
        Program.from_dict(data)
    assert info.value.key_path == key
    assert reason in info.value.reason


def test_a_float_condition_value_equals_the_same_amount(gamify_engine: EngineFactory) -> None:
    """9.99 in the file (a float) and an amount of 9.99 are equal, as ``gte`` already said."""
    engine = gamify_engine(
        {
            **SHOP,
            "rules": [
                {
                    "name": "exact",
                    "action": "purchase",
                    "fixed": 50,
                    "conditions": [{"attribute": "amount", "op": "eq", "value": 9.99}],
                },
                {
                    "name": "listed",
                    "action": "purchase",
                    "fixed": 7,
                    "conditions": [{"attribute": "size", "op": "in", "value": [0.5, 1.5]}],
                },
            ],
        }
    )
    outcome = engine.track("alice", "purchase", amount="9.99", attributes={"size": 1.5})
    assert sorted(c.rule for c in outcome.credits) == ["exact", "listed"]


def test_ids_and_keys_every_store_can_hold_are_refused_alike(
    gamify_engine: EngineFactory, gamify_store_target: Any
) -> None:
    """A member id or key of more than 255 characters, or text with a NUL character, is
    refused as an event error on every store (PostgreSQL can hold neither), and nothing is
    written; a lookup by such a code or redemption id finds nothing, as on any store."""
    program = {
        **SHOP,
        "referral": {"qualifying_action": "purchase", "referee_reward": 5, "referrer_fixed": 5},
        "redemption": {"exchange_ratio": 10},
    }
    store = gamify_store_target.open()
    try:
        engine = gamify_engine(program, store=store)
        engine.track("alice", "purchase", amount=100, key="k1")
        refused: list[tuple[Callable[[], object], str]] = [
            (lambda: engine.track("x" * 256, "purchase", amount=5), "member id"),
            (lambda: engine.track("a\x00b", "purchase", amount=5), "member id"),
            (lambda: engine.track("alice", "purchase", amount=5, key="k" * 256), "key"),
            (lambda: engine.track("alice", "purchase", amount=5, key="k\x00"), "key"),
            (lambda: engine.redeem("alice", 10, key="r\x00"), "key"),
            (lambda: engine.adjust("alice", 5, reason="goodwill\x00"), "reason"),
            (lambda: engine.member("b\x00"), "member id"),
            (lambda: engine.balance("b" * 256), "member id"),
        ]
        for call, what in refused:
            with pytest.raises(InvalidEventError, match=what):
                call()
        with pytest.raises(NotFoundError, match="has no redemption"):
            engine.refund("r\x00", "alice")
        with pytest.raises(GamifyError, match="unknown referral code"):
            engine.join("bob", referral_code="AB\x00C")
        assert engine.balance("alice") == 100
        assert len(engine.history("alice")) == 1
        assert list(store.member_ids()) == ["alice"]
    finally:
        store.close()


def test_ids_and_keys_of_255_characters_with_quotes_and_unicode_round_trip(
    gamify_engine: EngineFactory, gamify_store_target: Any
) -> None:
    """The longest id and key every store holds, in any script and with SQL's quote and
    wildcard characters, come back as given from profiles, histories, boards and replays."""
    member = ("o'Brien \"%_\\ 🎉 ü" * 20)[:255]
    key = ("k'\";-- ✓" * 40)[:255]
    store = gamify_store_target.open()
    try:
        engine = gamify_engine(SHOP, store=store)
        first = engine.track(member, "purchase", amount=40, key=key)
        assert engine.track(member, "purchase", amount=40, key=key) == first
        assert engine.member(member).member_id == member
        assert [(e.key, e.amount) for e in engine.history(member)] == [(key, 40)]
        assert [(row.member_id, row.score) for row in engine.leaderboard("points")] == [
            (member, 40)
        ]
        assert list(store.member_ids()) == [member]
    finally:
        store.close()
