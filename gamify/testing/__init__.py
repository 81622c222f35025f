"""Test helpers that ship with gamify.

:mod:`gamify.testing.plugin` is a pytest plugin (registered through the
``pytest11`` entry point) with the ``gamify_clock`` and ``gamify_engine``
fixtures; :mod:`gamify.testing.conformance` holds the store contract that
every storage adapter passes.
"""
