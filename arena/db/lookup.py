"""How a client's reference to a row is read, and the error when nothing answers to it.

Shared by the per-resource queries (`checkpoint_queries`, `tournament_queries`, `game_queries`,
`condition_queries`): an id given as text is ASCII digits within the tables' key range, and a
failed lookup is one exception type, which the API answers with a 404 and the CLI with its message.
"""

from __future__ import annotations

import re

__all__ = ["MAX_DB_ID", "LookupFailedError", "as_id"]

MAX_DB_ID = 2**31 - 1  # the tables' integer primary keys: a larger id names nothing
_DB_ID = re.compile(r"[0-9]{1,10}")  # ASCII digits only (str.isdigit also takes "²", which int() refuses)


def as_id(text: str) -> int | None:
    """`text` as a table's integer key, if it is ASCII digits within the keys' range."""
    return int(text) if _DB_ID.fullmatch(text) and int(text) <= MAX_DB_ID else None


class LookupFailedError(LookupError):
    """Nothing (or more than one thing) answers to a reference; the message lists near matches."""
