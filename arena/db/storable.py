"""Which client strings PostgreSQL text can hold: one check for every face (HTTP, gRPC).

Text cannot hold a NUL character, and a lone surrogate (which `\\ud800` in JSON makes) cannot be
encoded for it: sent to the database, either fails the statement. Callers refuse such strings
with a client error naming the field.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["NUL_MESSAGE", "SURROGATE_MESSAGE", "json_string_problem", "string_problem"]

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL, and surrogates (unpaired, once decoded)
# Where a JSON item is: (its parent's place, its key or index); None at the top.
_Place = tuple[Any, str | int] | None
NUL_MESSAGE = "contains a NUL character, which cannot be stored"
SURROGATE_MESSAGE = "contains an unpaired surrogate, which is not valid Unicode"


def string_problem(text: str) -> str | None:
    """Why `text` cannot be stored in PostgreSQL text (NUL, a lone surrogate); None if it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    return NUL_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE


def json_string_problem(document: Any) -> tuple[tuple[str | int, ...], str] | None:
    """Where parsed JSON `document` first holds an unstorable string (keys too) and why, else None.
    Iterative, and each item keeps only a link to its parent's place: any depth json.loads accepts
    costs neither the stack nor memory per level."""
    stack: list[tuple[_Place, Any, bool]] = [(None, document, False)]  # (place, value, is a key)
    while stack:
        place, value, is_key = stack.pop()
        if isinstance(value, str):
            if (problem := string_problem(value)) is not None:
                problem = f"has a key that {problem}" if is_key else problem
                loc: list[str | int] = []
                while place is not None:
                    place, key = place
                    loc.append(key)
                return tuple(reversed(loc)), problem
        elif isinstance(value, dict):
            for key, item in value.items():  # a bad key is named by its object's place: not by itself
                stack.extend((((place, key), item, False), (place, key, True)))
        elif isinstance(value, list):
            stack.extend(((place, index), item, False) for index, item in enumerate(value))
    return None
