"""Shared building blocks of the program model."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    ValidationInfo,
    field_validator,
)

from gamify._numbers import MAX_CREDIT, sized
from gamify.clock import zone

# Durations a program may set: a century. Longer ones cannot be added to a date.
MAX_DAYS = 36_500
MAX_MONTHS = 1_200
MAX_HOURS = 24 * MAX_DAYS


# The magnitudes a program's numbers may take (or 0). Beyond them, exact arithmetic on an
# award runs for ever ("1e999999999" points) or leaves 28 digits.
MAGNITUDE = 12


Expects = str | tuple[str, "Expects"] | None
"""What a field holds, as far as booleans go: "number", "flag" (a boolean), ("items", what
each value of a table or item of a list holds), or None (anything else)."""


def _kind(annotation: Any) -> Expects:
    found: set[Any] = set()
    pending = [annotation]
    while pending:
        one = pending.pop()
        if get_origin(one) in (Union, UnionType, Annotated):
            pending.extend(get_args(one))
        else:
            found.add(one)
    found.discard(type(None))
    if found == {bool}:
        return "flag"
    if bool not in found and found & {int, float, Decimal}:
        return "number"  # a formula's text may be allowed too; true/false is neither
    if len(found) == 1:
        (one,) = found
        if get_origin(one) in (dict, list) and get_args(one):
            inner = _kind(get_args(one)[-1])
            return ("items", inner) if inner is not None else None
    return None


@cache
def _expects(model: type[BaseModel], name: str) -> Expects:
    return _kind(model.model_fields[name].annotation)


def _check_booleans(value: Any, expects: Expects, where: str = "") -> None:
    if expects == "number" and isinstance(value, bool):
        raise ValueError(f"{where}a number is needed, not {str(value).lower()}")
    if expects == "flag" and value is not None and not isinstance(value, bool):
        raise ValueError(f"{where}true or false is needed, not {value!r}")
    if isinstance(expects, tuple) and isinstance(value, dict | list | tuple):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            _check_booleans(item, expects[1], f"{key!r}: " if isinstance(key, str) else "")


def _outsized(value: Any) -> Decimal | None:
    """A decimal of ``value`` (or of its table or list) beyond MAGNITUDE, if any."""
    if isinstance(value, dict):
        values: Any = value.values()
    elif isinstance(value, list | tuple):
        values = value
    else:
        values = (value,)
    for one in values:
        if isinstance(one, Decimal) and one.is_finite() and not sized(one, MAGNITUDE):
            return one
    return None


class Model(BaseModel):
    """Base of every program section: unknown keys are errors, values are frozen, a number
    lies between 1e-12 and 1e12 (or is 0), and true/false is neither a number nor taken
    from anything but a boolean (``limit = true`` would otherwise read as 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _booleans_apart(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is not None:
            _check_booleans(value, _expects(cls, info.field_name))
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _sized_numbers(cls, value: Any) -> Any:
        outsized = _outsized(value)
        if outsized is not None:
            raise ValueError(f"must lie between 1e-{MAGNITUDE} and 1e{MAGNITUDE}, not {outsized}")
        return value


def _check_zone(name: str) -> str:
    try:
        zone(name)
    except Exception as exc:  # pendulum raises several kinds for unknown names
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


def _to_decimal(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_zone)]
"""An IANA time-zone name, checked at load."""

Number = Annotated[
    Decimal,
    PlainSerializer(lambda d: str(d), return_type=str),
]
"""An exact decimal; floats in files are read through their text, never as binary floats."""


def _payable(value: int) -> int:
    if value < 0:
        raise ValueError("must not be negative")
    if value >= MAX_CREDIT:
        # The engine refuses such a credit: the event that earns it would always fail.
        raise ValueError(f"must be at most {MAX_CREDIT - 1:,}, the most one credit may pay")
    return value


RewardAmount = Annotated[int, AfterValidator(_payable)]
"""A whole amount a reward pays: from 0 to what one credit may pay."""

Rewards = dict[str, RewardAmount]
"""What a reward pays: a whole amount (0 or more) per currency."""
