"""``python -m gamify``: the designer command line."""

from __future__ import annotations

from gamify.cli import main

if __name__ == "__main__":
    main()
