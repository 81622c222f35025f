"""Test helpers that ship with gamify.

:mod:`gamify.testing.plugin` is a pytest plugin (registered through the
``pytest11`` entry point) with the ``gamify_clock`` and ``gamify_engine``
fixtures; :mod:`gamify.testing.conformance` holds the store contract that
every storage adapter passes; :func:`assert_ledger_consistent` checks the
ledger invariant for one member.
"""

from gamify.testing.ledger import assert_ledger_consistent, ledger_sums

__all__ = ["assert_ledger_consistent", "ledger_sums"]
