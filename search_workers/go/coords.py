"""Every coordinate conversion in one place.

The board is an N×N grid; `N*N` is the pass move everywhere.

| form          | top-left (9×9) | bottom-right (9×9) | pass                         |
|---------------|----------------|--------------------|------------------------------|
| flat index p  | 0              | 80                 | 81 (= N*N)                   |
| (row, col)    | (0, 0)         | (8, 8)             | None                         |
| GTP vertex    | "A9"           | "J1"               | "pass" (any case)            |
| SGF point     | "aa"           | "ii"               | "" (also "tt" when N ≤ 19)   |

Rows count from the top as SGF does; GTP numbers rows from the bottom and skips the letter I.
"""

from __future__ import annotations

import operator
import re

GTP_COLUMNS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"
SGF_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_GTP_VERTEX = re.compile(r"[A-HJ-Z][1-9][0-9]?")


class CoordinateError(ValueError):
    """A coordinate that does not name a point (or pass) on this board."""


def pass_move(board_size: int) -> int:
    """The flat index of pass."""
    return board_size * board_size


def is_pass(move: int, board_size: int) -> bool:
    return move == board_size * board_size


def to_flat(row: int, col: int, board_size: int) -> int:
    if not (0 <= row < board_size and 0 <= col < board_size):
        raise CoordinateError(f"({row}, {col}) is off a {board_size}x{board_size} board")
    return row * board_size + col


def from_flat(move: int, board_size: int) -> tuple[int, int] | None:
    """(row, col) of a flat index, None for pass."""
    check_flat(move, board_size)
    if move == board_size * board_size:
        return None
    return divmod(move, board_size)


def check_flat(move: object, board_size: int) -> int:
    """Return `move` as an int if it is a flat index on this board (pass included), else raise."""
    try:
        if isinstance(move, bool):
            raise TypeError
        index = operator.index(move)  # accepts numpy integers from the compiled core
    except TypeError:
        raise CoordinateError(f"move must be an integer flat index, got {move!r}") from None
    if not 0 <= index <= board_size * board_size:
        raise CoordinateError(f"move {index} is off a {board_size}x{board_size} board")
    return index


def to_gtp(move: int, board_size: int) -> str:
    """GTP vertex such as "D4", or "pass"."""
    rc = from_flat(move, board_size)
    if rc is None:
        return "pass"
    row, col = rc
    return f"{GTP_COLUMNS[col]}{board_size - row}"


def from_gtp(vertex: str, board_size: int) -> int:
    """Flat index of a GTP vertex ("d4", "D4", "pass"); raises CoordinateError on anything else."""
    text = vertex.strip().upper()
    if text == "PASS":
        return board_size * board_size
    if _GTP_VERTEX.fullmatch(text) is None:  # ASCII digits only: str.isdigit() takes "²"
        raise CoordinateError(f"{vertex!r} is not a GTP vertex")
    col = GTP_COLUMNS.index(text[0])
    row = board_size - int(text[1:])
    if not (0 <= row < board_size and col < board_size):
        raise CoordinateError(f"{vertex!r} is off a {board_size}x{board_size} board")
    return row * board_size + col


def to_sgf(move: int, board_size: int) -> str:
    """SGF point such as "dd"; pass is written as the empty value (valid on every size)."""
    rc = from_flat(move, board_size)
    if rc is None:
        return ""
    row, col = rc
    return SGF_LETTERS[col] + SGF_LETTERS[row]


def from_sgf(point: str, board_size: int) -> int:
    """Flat index of an SGF point; "" and, on boards up to 19, "tt" are pass."""
    if point == "" or (point == "tt" and board_size <= 19):
        return board_size * board_size
    if len(point) != 2 or point[0] not in SGF_LETTERS or point[1] not in SGF_LETTERS:
        raise CoordinateError(f"{point!r} is not an SGF point")
    col = SGF_LETTERS.index(point[0])
    row = SGF_LETTERS.index(point[1])
    if not (row < board_size and col < board_size):
        raise CoordinateError(f"SGF point {point!r} is off a {board_size}x{board_size} board")
    return row * board_size + col
