"""The two players, as the compiled core codes their stones and SGF writes them."""

from __future__ import annotations

from enum import IntEnum

from . import _layout


class Color(IntEnum):
    """A player; the values are the compiled core's stone codes."""

    BLACK = _layout.BLACK
    WHITE = _layout.WHITE

    @property
    def opponent(self) -> Color:
        return Color.WHITE if self is Color.BLACK else Color.BLACK

    @property
    def letter(self) -> str:
        """"B" or "W", as SGF and result strings write it."""
        return "B" if self is Color.BLACK else "W"

    @classmethod
    def parse(cls, text: str) -> Color:
        """Accept GTP/SGF spellings: b, black, w, white (any case)."""
        key = text.strip().lower()
        if key in ("b", "black"):
            return cls.BLACK
        if key in ("w", "white"):
            return cls.WHITE
        raise ValueError(f"{text!r} is not a colour (expected b, black, w or white)")

