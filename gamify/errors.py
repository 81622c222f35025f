"""Errors raised by gamify.

Every error the SDK raises on purpose derives from :class:`GamifyError`.
Callers can catch the whole family or one branch::

    GamifyError
    ├── ConfigurationError          store URL, missing extra, unsupported capability,
    │                               an engine argument of the wrong kind, a subscriber
    │                               or predicate that is not callable, an unknown
    │                               domain event name (also a ValueError)
    │   └── SimulationError (ValueError)  a simulation's members, days, workers, ...
    ├── ProgramError (ValueError)   a program file or model is malformed
    │   └── CurveError              a level curve is not strictly increasing, bad family
    ├── FormulaError (ValueError)   a formula string uses forbidden syntax or fails
    ├── InvalidEventError (ValueError)  bad input to a call: an event's fields, a member
    │   │                               id, key, zone, birthday or tags, a batch item, a
    │   │                               period, window or ``within``, a closed challenge
    │   ├── UnknownActionError      the action is not declared by the program
    │   ├── InvalidAmountError      negative, NaN or infinite amount
    │   └── InvalidTimeError        naive datetime, or an instant after the clock
    ├── UnknownMemberError (LookupError)
    ├── IdempotencyConflictError    same key, different payload
    ├── InsufficientBalanceError    a spend larger than the spendable balance
    ├── ReferralError (ValueError)  self-referral, cycle, unknown code, late join
    ├── StreakRepairError           repair outside its window or past its limit
    ├── NotFoundError (LookupError) unknown reward, badge, challenge, redemption, key
    └── StoreError                  the storage layer failed
        └── ConcurrencyError        lock timeout, deadlock or serialization failure
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = [
    "ConcurrencyError",
    "ConfigurationError",
    "CurveError",
    "FormulaError",
    "GamifyError",
    "IdempotencyConflictError",
    "InsufficientBalanceError",
    "InvalidAmountError",
    "InvalidEventError",
    "InvalidTimeError",
    "NotFoundError",
    "ProgramError",
    "ReferralError",
    "SimulationError",
    "StoreError",
    "StreakRepairError",
    "UnknownActionError",
    "UnknownEventNameError",
    "UnknownMemberError",
]


class GamifyError(Exception):
    """Base class of every error gamify raises on purpose."""


class ConfigurationError(GamifyError):
    """The SDK is wired wrongly: unknown store URL scheme, missing extra, ..."""


class UnknownEventNameError(ConfigurationError, ValueError):
    """``engine.on(name, ...)`` with a name that is no domain event (a typo would never fire)."""


class SimulationError(ConfigurationError, ValueError):
    """A simulation was asked for something it cannot run (0 members, a program path where a
    Program belongs, several workers writing into one store, ...)."""


class ProgramError(GamifyError, ValueError):
    """A program (file or model) is malformed.

    ``file`` is the path it was loaded from (``None`` for an in-memory dict),
    ``key_path`` the dotted location of the fault (``rules[2].amount``).
    """

    def __init__(self, reason: str, *, file: str | None = None, key_path: str = "") -> None:
        self.reason = reason
        self.file = file
        self.key_path = key_path
        where = ": ".join(part for part in (file, key_path) if part)
        super().__init__(f"{where}: {reason}" if where else reason)


class CurveError(ProgramError):
    """A level curve is invalid (unknown family, bad parameters, not strictly increasing)."""


class FormulaError(GamifyError, ValueError):
    """A formula string is not in the formula language, or cannot be evaluated."""


class InvalidEventError(GamifyError, ValueError):
    """Bad input to an engine call: a malformed event, or a malformed argument of another
    call (member id, key, time zone, period, window, ...); nothing was written."""


class UnknownActionError(InvalidEventError):
    def __init__(self, action: str) -> None:
        self.action = action
        super().__init__(f"unknown action {action!r}: it is not declared in the program")


def _shown(value: Any) -> str:
    """``repr(value)`` kept short; Python will not print an integer of over 4,300 digits,
    so a huge one is described by its size instead."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 1000:
        digits = int(value.bit_length() * 0.30103) + 1  # log10(2) digits per bit
        return f"{'-' if value < 0 else ''}<an integer of about {digits:,} digits>"
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:117]}..."


class InvalidAmountError(InvalidEventError):
    def __init__(self, amount: Any, reason: str) -> None:
        self.amount = amount
        super().__init__(f"invalid amount {_shown(amount)}: {reason}")


class InvalidTimeError(InvalidEventError):
    """A naive datetime, or an event instant later than the clock."""


class UnknownMemberError(GamifyError, LookupError):
    def __init__(self, member_id: str) -> None:
        self.member_id = member_id
        super().__init__(f"unknown member {member_id!r}")


class IdempotencyConflictError(GamifyError):
    """The idempotency key was already used for a different payload."""

    def __init__(self, member_id: str, key: str, kind: str = "track") -> None:
        self.member_id = member_id
        self.key = key
        self.kind = kind
        super().__init__(
            f"idempotency key {key!r} of member {member_id!r} was already used "
            f"for a different {kind} payload"
        )


class InsufficientBalanceError(GamifyError):
    """A spend exceeds the spendable balance; nothing was written."""

    def __init__(
        self, member_id: str, currency: str, requested: int | Decimal, available: int
    ) -> None:
        self.member_id = member_id
        self.currency = currency
        self.requested = requested
        self.available = available
        super().__init__(
            f"member {member_id!r} cannot spend {requested} {currency}: only {available} spendable"
        )


class ReferralError(GamifyError, ValueError):
    """A referral was refused (self-referral, cycle, unknown code, second referrer, too late)."""


class StreakRepairError(GamifyError):
    """A streak repair was refused: outside the window, past the monthly limit, nothing broken."""


class NotFoundError(GamifyError, LookupError):
    """A named thing (reward, badge, challenge, redemption, idempotency key) does not exist."""


class StoreError(GamifyError):
    """The storage layer failed; the unit of work was rolled back."""


class ConcurrencyError(StoreError):
    """A lock timeout, deadlock or serialization failure that retries did not resolve."""
