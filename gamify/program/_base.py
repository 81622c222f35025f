"""Shared building blocks of the program model."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Annotated, Any

import pendulum
from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer, model_validator

# Durations a program may set: a century. Longer ones cannot be added to a date.
MAX_DAYS = 36_500
MAX_MONTHS = 1_200
MAX_HOURS = 24 * MAX_DAYS


# The magnitudes a program's numbers may take (or 0). Beyond them, exact arithmetic on an
# award runs for ever ("1e999999999" points) or leaves 28 digits.
MAGNITUDE = 12


class Model(BaseModel):
    """Base of every program section: unknown keys are errors, values are frozen, and a
    number lies between 1e-12 and 1e12 (or is 0)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
