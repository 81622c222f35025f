"""Shared building blocks of the program model."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import pendulum
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

# Durations a program may set: a century. Longer ones cannot be added to a date.
MAX_DAYS = 36_500
MAX_MONTHS = 1_200
MAX_HOURS = 24 * MAX_DAYS


# The magnitudes a program's numbers may take (or 0). Beyond them, exact arithmetic on an
# award runs for ever ("1e999999999" points) or leaves 28 digits.
MAGNITUDE = 12


@cache
def _expects(model: type[BaseModel], name: str) -> str | None:
    """What field ``name`` of ``model`` holds: "number", "flag" (a boolean) or None (other)."""
    found: set[Any] = set()
    pending = [model.model_fields[name].annotation]
    while pending:
        annotation = pending.pop()
        if get_origin(annotation) in (Union, UnionType, Annotated):
            pending.extend(get_args(annotation))
        else:
            found.add(annotation)
    found.discard(type(None))
    if found == {bool}:
        return "flag"
    if not found & {bool, str} and found & {int, float, Decimal}:
        return "number"
    return None


class Model(BaseModel):
    """Base of every program section: unknown keys are errors, values are frozen, a number
    lies between 1e-12 and 1e12 (or is 0), and true/false is neither a number nor taken
    from anything but a boolean (``limit = true`` would otherwise read as 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _booleans_apart(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is None:
            return value
        expects = _expects(cls, info.field_name)
        if expects == "number" and isinstance(value, bool):
            raise ValueError(f"a number is needed, not {str(value).lower()}")
        if expects == "flag" and value is not None and not isinstance(value, bool):
            raise ValueError(f"true or false is needed, not {value!r}")
        return value

    @model_validator(mode="after")
    def _sized_numbers(self) -> Model:
        for name in type(self).model_fields:
            value = getattr(self, name)
            if (
                isinstance(value, Decimal)
                and value.is_finite()
                and value
                and not -MAGNITUDE <= value.adjusted() <= MAGNITUDE
            ):
                raise ValueError(
                    f"'{name}' must lie between 1e-{MAGNITUDE} and 1e{MAGNITUDE}, not {value}"
                )
        return self


@cache
def zone(name: str) -> pendulum.Timezone:
    """The time zone called ``name``, looked up once (a lookup costs far more than a conversion)."""
    tz = pendulum.timezone(name)
    assert isinstance(tz, pendulum.Timezone)
    return tz


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


def _not_negative(value: int) -> int:
    if value < 0:
        raise ValueError("must not be negative")
    return value


Rewards = dict[str, Annotated[int, AfterValidator(_not_negative)]]
"""What a reward pays: a whole amount (0 or more) per currency."""


def dec(value: Any) -> Decimal:
    """Convert an int, str, float (through its repr) or Decimal to Decimal."""
    return Decimal(_to_decimal(value)) if not isinstance(value, Decimal) else value
