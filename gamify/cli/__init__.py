"""The ``gamify`` command line: designer tools for programs, curves, plans and economies.

``gamify program check``, ``gamify curve show|plot``, ``gamify plan``,
``gamify simulate`` and ``gamify report``; every command takes ``--json`` and
exits with code 2 and a one-line message on bad input. Importing this package
imports typer and rich; ``import gamify`` never imports it.
"""

from __future__ import annotations

from gamify.cli._app import app, main

__all__ = ["app", "main"]
