"""`python -m arena.cli ...`: the same command line as `arena` (local workers start this way)."""

from arena.cli import app

app()
