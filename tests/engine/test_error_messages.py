"""Error messages say where and what: a program error's file and key path, an amount shown
short enough to read."""

from __future__ import annotations

from typing import Any

import pytest

import gamify
from gamify.errors import InvalidAmountError, ProgramError

SHOP = {
    "timezone": "UTC",
    "actions": {"purchase": {"amount": "required"}},
    "rules": [{"name": "spend", "action": "purchase", "per_amount": 1}],
}


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ({}, "must be positive"),
        ({"key_path": "rules[2].fixed"}, "rules[2].fixed: must be positive"),
        ({"file": "shop.toml"}, "shop.toml: must be positive"),
        ({"file": "shop.toml", "key_path": "timezone"}, "shop.toml: timezone: must be positive"),
    ],
)
def test_a_program_error_names_its_file_and_key_path_when_known(
    where: dict[str, Any], text: str
) -> None:
    error = ProgramError("must be positive", **where)
    assert str(error) == text
    assert error.reason == "must be positive"


def test_an_integer_past_4300_digits_is_described_by_its_size() -> None:
    """Python refuses to print such an integer; the error still says what was wrong."""
    engine = gamify.Engine(SHOP)
    with pytest.raises(InvalidAmountError) as info:
        engine.track("a", "purchase", amount=-(10**5000))
    assert str(info.value) == (
        "invalid amount -<an integer of about 5,001 digits>: must not be negative"
    )


def test_a_long_amount_is_cut_to_120_characters() -> None:
    engine = gamify.Engine(SHOP)
    with pytest.raises(InvalidAmountError) as info:
        engine.track("a", "purchase", amount="9" * 300 + "x")
    shown = str(info.value).removeprefix("invalid amount ").rsplit(": ", 1)[0]
    assert shown == "'" + "9" * 116 + "..."
    assert len(shown) == 120


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        ("ProgramError", (ValueError,)),
        ("CurveError", ("ProgramError", ValueError)),
        ("FormulaError", (ValueError,)),
        ("InvalidEventError", (ValueError,)),
        ("UnknownActionError", ("InvalidEventError",)),
        ("InvalidAmountError", ("InvalidEventError",)),
        ("InvalidTimeError", ("InvalidEventError",)),
        ("UnknownEventNameError", ("ConfigurationError", ValueError)),
        ("SimulationError", ("ConfigurationError", ValueError)),
        ("UnknownMemberError", (LookupError,)),
        ("ReferralError", (ValueError,)),
        ("NotFoundError", (LookupError,)),
        ("ConcurrencyError", ("StoreError",)),
        ("IdempotencyConflictError", ()),
        ("InsufficientBalanceError", ()),
        ("StreakRepairError", ()),
    ],
)
def test_errors_follow_the_documented_tree(error: str, bases: tuple[Any, ...]) -> None:
    """The tree drawn in gamify/errors.py: every error is a GamifyError, and the builtin
    classes it names (ValueError, LookupError) catch it too."""
    cls = getattr(gamify.errors, error)
    assert issubclass(cls, gamify.GamifyError)
    for base in bases:
        assert issubclass(cls, getattr(gamify.errors, base) if isinstance(base, str) else base)
