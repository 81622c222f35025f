"""The sizes an exact decimal read from a file or a command line may take."""

from __future__ import annotations

from decimal import Decimal

# The most one credit may pay: balances stay far inside the 64-bit integers SQL stores keep.
MAX_CREDIT = 10**15


def sized(value: Decimal, magnitude: int) -> bool:
    """Whether ``value`` is 0 or lies between 1e-``magnitude`` and 1e``magnitude`` in size.

    Beyond them exact arithmetic runs for ever (``1e999999999`` points) or leaves too
    many digits; the value itself is compared, so 9e12 is beyond 1e12.
    """
    size = value.copy_abs()  # unlike abs(), never rounded to the context's precision
    return not size or Decimal(f"1e-{magnitude}") <= size <= Decimal(f"1e{magnitude}")
