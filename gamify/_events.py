"""Domain events: delivered to subscribers after the changes that caused them are stored."""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, cast

from gamify.errors import ConfigurationError, UnknownEventNameError
from gamify.store import OutboxMessage

DomainEvent = OutboxMessage
"""A domain event: ``event_id`` (unique), ``name``, ``member_id``, ``at``, ``payload``."""

Subscriber = Callable[[DomainEvent], object]  # what a subscriber returns is ignored

EVENT_NAMES: Final = frozenset(
    {
        "adjusted",
        "credited",
        "level_up",
        "level_down",
        "badge_awarded",
        "tier_changed",
        "streak_extended",
        "streak_broken",
        "streak_milestone",
        "streak_repaired",
        "challenge_completed",
        "challenge_failed",
        "referral_joined",
        "referral_qualified",
        "points_matured",
        "points_expired",
        "redeemed",
        "refunded",
        "reversed",
    }
)

log = logging.getLogger("gamify")


class _Ids:
    """Unique 128-bit ids: a random per-process half and a counter (``next`` on an
    ``itertools.count`` is atomic, so threads never share a number)."""

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        # The top bit set keeps every id at 32 hex digits: hex() drops leading zeros.
        self.base = (int.from_bytes(os.urandom(8)) | 1 << 63) << 64
        self.counter = itertools.count()

    def new(self) -> str:
        return hex(self.base + next(self.counter))[2:]


_IDS: Final = _Ids()
os.register_at_fork(after_in_child=_IDS.reseed)  # a forked child must not repeat the parent's ids


def new_id() -> str:
    """A unique 128-bit id as 32 hex digits: a random per-process prefix and a counter."""
    return _IDS.new()


def message(name: str, member_id: str, at: datetime, **payload: Any) -> OutboxMessage:
    return OutboxMessage(new_id(), name, member_id, at, payload)


class Dispatcher:
    """Calls subscribers; an exception in one is logged and never reaches the caller."""

    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscriber]] = {}

    def subscribe(self, name: object, callback: object) -> None:
        """Call ``callback`` with each event ``name`` ("*": all); the caller's values are
        checked here (a compiled method would refuse other types with a bare TypeError)."""
        if not isinstance(name, str) or (name != "*" and name not in EVENT_NAMES):
            raise UnknownEventNameError(
                f"unknown domain event {name!r}: use '*' or one of {', '.join(sorted(EVENT_NAMES))}"
            )
        if not callable(callback):
            raise ConfigurationError(f"a subscriber must be callable, not {callback!r}")
        self._subscribers.setdefault(name, []).append(cast(Subscriber, callback))

    @property
    def listening(self) -> bool:
        """Whether any subscriber is registered."""
        return bool(self._subscribers)

    def deliver(self, event: DomainEvent) -> None:
        for callback in (*self._subscribers.get(event.name, ()), *self._subscribers.get("*", ())):
            try:
                callback(event)
            except Exception:
                log.exception("subscriber %r failed on %s %s", callback, event.name, event.event_id)
