"""Where the tests find external engines, and what happens when one is missing.

GNU Go is the rules oracle: under CI (CI=true) a missing binary fails the test instead of
skipping it, so the oracle can never silently stop running.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .ci import unavailable

# Debian installs games outside root's PATH.
DEBIAN_GAMES_DIR = Path("/usr/games")


def find_gnugo() -> str | None:
    found = shutil.which("gnugo") or shutil.which("gnugo", path=str(DEBIAN_GAMES_DIR))
    return found


def require_gnugo() -> str:
    """The GNU Go binary, or skip (fail under CI) with the reason."""
    path = find_gnugo()
    if path is None:
        unavailable("GNU Go is not installed (apt-get install gnugo; `make test` installs it)")
    return path
