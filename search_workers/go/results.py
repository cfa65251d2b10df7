"""Game results as the arena stores them (SGF RE values): the one reading of a result string.

    text      winner  kind     margin   black_margin
    B+3.5     BLACK   score    3.5      3.5
    W+0.5     WHITE   score    0.5      -0.5
    B+R       BLACK   resign   None     None
    W+T       WHITE   time     None     None
    B+F       BLACK   forfeit  None     None
    0         None    draw     0.0      0.0
    Void      None    void     None     None   (stopped by the move limit: ratings skip it)

Every reader of a stored or produced result (the state's winner, the store's checks, standings,
metrics, the engines' outcomes) goes through `parse_result`; SQL that counts wins by colour
uses the same rule, spelled `WINNER_PREFIX` (a win is "<B|W>+", nothing else is).
SGF files may spell results otherwise (Draw, B+Resign, B+6.50): `sgf.normalize_result` turns
those into this form.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .color import Color

# The stored form, for database CHECK constraints and input validation alike.
RESULT_PATTERN = r"^([BW]\+([0-9]+(\.[0-9]+)?|R|T|F)|0|Void)$"
DRAW, VOID = "0", "Void"
# A result names a winner exactly when it starts with one of these (the SQL rule too).
WINNER_PREFIX = {Color.BLACK: "B+", Color.WHITE: "W+"}
KINDS = ("score", "resign", "time", "forfeit", "draw", "void")
_ENDINGS = {"R": "resign", "T": "time", "F": "forfeit"}
_RESULT = re.compile(RESULT_PATTERN)


class ResultError(ValueError):
    """A string that is not a result in the stored form."""


@dataclass(frozen=True)
class ParsedResult:
    """One parsed result; `margin` is the winner's points (0 for a draw, None without a score)."""

    text: str
    winner: Color | None
    kind: str  # one of KINDS
    margin: float | None

    @property
    def black_margin(self) -> float | None:
        """The margin from Black's side (negative: White won on the board), as scores are stored."""
        if self.margin is None:
            return None
        return -self.margin if self.winner is Color.WHITE else self.margin

    @property
    def decisive(self) -> bool:
        """A game that counts in ratings: a win either way or a draw (not Void)."""
        return self.kind != "void"


def parse_result(text: str) -> ParsedResult:
    """Read a stored result string; ResultError (a ValueError) names the accepted forms."""
    if not isinstance(text, str) or _RESULT.fullmatch(text) is None:
        raise ResultError(f"result {text!r} is not one of B+<points>, W+<points>, [BW]+R/T/F, 0, Void")
    if text == DRAW:
        return ParsedResult(text, None, "draw", 0.0)
    if text == VOID:
        return ParsedResult(text, None, "void", None)
    winner = Color.BLACK if text[0] == "B" else Color.WHITE
    how = text[2:]
    if how in _ENDINGS:
        return ParsedResult(text, winner, _ENDINGS[how], None)
    return ParsedResult(text, winner, "score", float(how))


def winner_of(text: str) -> Color | None:
    """The winning colour of a stored result (None: a draw or Void)."""
    return parse_result(text).winner


def format_score(score: float) -> str:
    """The result of a Black-minus-White score: "B+3.5", "W+0.5", or "0" for a draw."""
    if not math.isfinite(score):
        raise ResultError(f"a score must be finite, got {score!r}")
    if score == 0:
        return DRAW
    return f"{WINNER_PREFIX[Color.BLACK if score > 0 else Color.WHITE]}{abs(score):g}"
