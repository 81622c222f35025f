"""Hypothesis profiles for the engine's property tests.

``ci`` (chosen when the ``CI`` environment variable is set) is derandomized
so a CI run is reproducible; ``dev`` explores fresh examples each run. Both
drop the per-example deadline: one example runs many engine calls, and a
slow first call (imports, caches) must not fail a test.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=100)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
