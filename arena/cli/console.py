"""The console CLI tables print to, and the column style that never cuts a name.

Rich fits a table to the console's width and cuts cells that do not fit with "…". Written to a
file or a pipe, that width is 80 columns (or `$COLUMNS`), so three players printed as the same
`demo-9x9-s002000@…`. Off a terminal the console is therefore as wide as a table needs; on a
terminal, name columns fold onto a second line rather than being cut.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

# Wide enough for any table; a table is only as wide as its cells (rich's `expand=False`).
OFF_TERMINAL_WIDTH = 10_000

# `Table.add_column(header, **NAME_COLUMN)` for every column of player, checkpoint or engine names.
NAME_COLUMN: dict[str, Any] = {"overflow": "fold"}


def cli_console() -> Console:
    """A console on stdout: the terminal's width on a terminal, otherwise unbounded."""
    from rich.console import Console

    return Console(width=None if Console().is_terminal else OFF_TERMINAL_WIDTH)
