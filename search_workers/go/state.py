"""The public, value-like game state: every move returns a new `GameState`.

`GameState` checks every input (board size, rules, moves) where it enters and raises typed
errors naming the problem; the compiled kernels underneath trust it. Copying a state costs
two array copies, which is noise for a referee or a GTP engine; search code that plays
millions of moves uses the kernels on reusable buffers instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import Enum
from typing import Union

import numpy as np

from . import _board, _features, _layout, coords
from .color import Color
from .results import VOID, format_score, parse_result
from .rules import Rules, check_board_size


class IllegalReason(str, Enum):
    OCCUPIED = "occupied"
    SUICIDE = "suicide"
    KO = "ko"
    SUPERKO = "superko"
    OFF_BOARD = "off board"
    GAME_OVER = "game over"


_REASON_OF_CODE = {
    _layout.ILLEGAL_OCCUPIED: IllegalReason.OCCUPIED,
    _layout.ILLEGAL_SUICIDE: IllegalReason.SUICIDE,
    _layout.ILLEGAL_KO: IllegalReason.KO,
    _layout.ILLEGAL_SUPERKO: IllegalReason.SUPERKO,
}


class IllegalMoveError(ValueError):
    """A move the rules forbid; `move`, `color` and `reason` say which and why."""

    def __init__(self, move: str, color: Color, reason: IllegalReason):
        self.move = move
        self.color = color
        self.reason = reason
        super().__init__(f"illegal move {color.name.lower()} {move}: {reason.value}")


class SetupError(ValueError):
    """Setup stones (SGF AB/AW, handicap) that do not form a valid position."""


_SETUP_PROBLEMS = {
    _board.SETUP_OCCUPIED: "is on an occupied point",
    _board.SETUP_NO_LIBERTIES: "would leave its own chain without liberties",
    _board.SETUP_TAKES_LAST_LIBERTY: "would leave an opponent chain without liberties",
}


Move = Union[int, str]  # a flat index (pass = N*N) or a GTP vertex such as "D4" or "pass"
_Moves = Union[tuple, None]  # persistent list: (earlier, (Color, flat move)) cells


class GameState:
    """A Go position with the history the rules need; immutable.

    Create with `GameState.new(...)` or `GameState.from_ascii(...)`; `play`, `resign` and
    `with_setup` return new states.
    """

    __slots__ = ("_board", "_history", "_rules", "_moves", "_setup", "_resigned")

    def __init__(self, board: np.ndarray, history: np.ndarray, rules: Rules, moves: _Moves,
                 setup: tuple[tuple[int, ...], tuple[int, ...]], resigned: Color | None):
        # Private: use the classmethods. The arrays are never mutated after construction.
        self._board = board
        self._history = history
        self._rules = rules
        self._moves = moves
        self._setup = setup
        self._resigned = resigned

    # ------------------------------------------------------------------ construction

    @classmethod
    def new(cls, board_size: int = 19, rules: Rules | None = None, *, move_limit: int | None = None) -> GameState:
        """The empty board, Black to move."""
        n = check_board_size(board_size)
        rules = Rules() if rules is None else rules
        if not isinstance(rules, Rules):
            raise TypeError(f"rules must be a Rules, got {type(rules).__name__}")
        if move_limit is None:
            move_limit = _layout.default_move_limit(n)
        if isinstance(move_limit, bool) or not isinstance(move_limit, int) or not 1 <= move_limit <= 100_000:
            raise ValueError(f"move_limit must be an integer in [1, 100000], got {move_limit!r}")
        board = np.zeros(_layout.board_length(n), dtype=np.int64)
        history = np.zeros(_layout.history_capacity(move_limit), dtype=np.int64)
        _, zobrist = _layout.geometry(n)
        _board.init_board(board, history, zobrist, n, rules.ko_code, int(rules.suicide_allowed),
                          int(rules.komi * 2), move_limit)
        return cls(board, history, rules, None, ((), ()), None)

    def with_setup(self, *, black: Iterable[Move] = (), white: Iterable[Move] = (),
                   to_move: Color | None = None) -> GameState:
        """Add setup stones (SGF AB/AW, handicap) and optionally set the side to move.

        Setup never captures: a stone on an occupied point or one that would leave a chain
        without liberties raises SetupError. The resulting position starts the superko
        history afresh.
        """
        if self.move_number > 0:
            # A position edited mid-game has no well-defined ko or superko history.
            raise SetupError(f"setup stones must come before the first move (move {self.move_number} was played)")
        state = self._copy()
        n = self.board_size
        neighbours, zobrist = _layout.geometry(n)
        placed: tuple[list[int], list[int]] = (list(self._setup[0]), list(self._setup[1]))
        for color, points in ((Color.BLACK, black), (Color.WHITE, white)):
            for move in points:
                p = self._parse_move(move)
                if p == coords.pass_move(n):
                    raise SetupError(f"setup stone {color.name.lower()} cannot be a pass")
                code = _board.setup_stone(state._board, neighbours, zobrist, p, int(color))
                if code != _board.SETUP_OK:
                    raise SetupError(f"setup stone {color.name.lower()} {coords.to_gtp(p, n)} "
                                     f"{_SETUP_PROBLEMS[code]} (setup stones never capture)")
                placed[color - 1].append(p)
        if to_move is not None:
            state._board[_layout.H_TO_MOVE] = int(Color(to_move))
        _board.reset_history(state._board, state._history, zobrist)
        state._setup = (tuple(placed[0]), tuple(placed[1]))
        return state

    @classmethod
    def from_ascii(cls, picture: str, *, rules: Rules | None = None, to_move: Color = Color.BLACK,
                   move_limit: int | None = None) -> GameState:
        """A position drawn as rows of `X` (black), `O` (white) and `.` (empty), top row first.

        Spaces are ignored, so boards may be drawn `X . O`. Used by tests and documentation.
        """
        rows = [line.replace(" ", "") for line in picture.strip().splitlines() if line.strip()]
        n = len(rows)
        if any(len(row) != n for row in rows):
            raise ValueError(f"ASCII board must be square; got rows of lengths {[len(r) for r in rows]}")
        black, white = [], []
        for r, row in enumerate(rows):
            for c, ch in enumerate(row):
                if ch == "X":
                    black.append(r * n + c)
                elif ch == "O":
                    white.append(r * n + c)
                elif ch not in ".+":
                    raise ValueError(f"unexpected {ch!r} at row {r + 1}, column {c + 1} of ASCII board")
        return cls.new(n, rules, move_limit=move_limit).with_setup(black=black, white=white, to_move=to_move)

    # ------------------------------------------------------------------ queries

    @property
    def board_size(self) -> int:
        return int(self._board[_layout.H_N])

    @property
    def rules(self) -> Rules:
        return self._rules

    @property
    def to_move(self) -> Color:
        return Color(int(self._board[_layout.H_TO_MOVE]))

    @property
    def move_number(self) -> int:
        """Moves played since the setup, passes included."""
        return int(self._board[_layout.H_MOVE_NUMBER])

    @property
    def move_limit(self) -> int:
        return int(self._board[_layout.H_MOVE_LIMIT])

    @property
    def consecutive_passes(self) -> int:
        return int(self._board[_layout.H_PASSES])

    @property
    def captures(self) -> dict[Color, int]:
        """Stones captured by each colour so far."""
        return {Color.BLACK: int(self._board[_layout.H_CAPTURES_BLACK]),
                Color.WHITE: int(self._board[_layout.H_CAPTURES_WHITE])}

    @property
    def zobrist_hash(self) -> int:
        """Hash of the stones on the board (not of the side to move or history)."""
        return int(self._board[_layout.H_HASH])

    @property
    def ko_point(self) -> int | None:
        """The point the side to move may not retake under the simple-ko check, if any."""
        p = int(self._board[_layout.H_KO_POINT])
        return p if p >= 0 and self._board[_layout.H_KO_COLOR] == self._board[_layout.H_TO_MOVE] else None

    @property
    def moves(self) -> list[tuple[Color, int]]:
        """Every move since the setup, in order, as (colour, flat index)."""
        out = []
        cell = self._moves
        while cell is not None:
            cell, move = cell
            out.append(move)
        out.reverse()
        return out

    @property
    def last_move(self) -> int | None:
        return None if self._moves is None else self._moves[1][1]

    @property
    def setup_stones(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(black, white) setup stones as flat indices."""
        return self._setup

    def stones(self) -> np.ndarray:
        """int8 [N, N]: 0 empty, 1 black, 2 white; row 0 is the top row."""
        n = self.board_size
        start = _layout.HEADER
        return self._board[start:start + n * n].astype(np.int8).reshape(n, n)

    def color_at(self, move: Move) -> Color | None:
        p = self._parse_move(move)
        if p == coords.pass_move(self.board_size):
            raise ValueError("pass is not a point")
        value = int(self._board[_layout.HEADER + p])
        return None if value == _layout.EMPTY else Color(value)

    def status(self, move: Move, color: Color | None = None) -> IllegalReason | None:
        """None if `color` (default: the side to move) may play `move`, else the reason not."""
        color = self.to_move if color is None else Color(color)
        if self.is_over:
            return IllegalReason.GAME_OVER
        try:
            p = self._parse_move(move)
        except coords.CoordinateError:
            return IllegalReason.OFF_BOARD
        neighbours, zobrist = _layout.geometry(self.board_size)
        code = _board.move_status(self._board, self._history, neighbours, zobrist, p, int(color))
        return _REASON_OF_CODE.get(code)

    def is_legal(self, move: Move, color: Color | None = None) -> bool:
        return self.status(move, color) is None

    def legal_moves(self, color: Color | None = None) -> np.ndarray:
        """bool [N*N+1]: the legal moves of `color` (default: the side to move); pass last."""
        color = self.to_move if color is None else Color(color)
        out = np.zeros(self.board_size ** 2 + 1, dtype=np.bool_)
        if not self.is_over:
            neighbours, zobrist = _layout.geometry(self.board_size)
            _board.legal_mask(self._board, self._history, neighbours, zobrist, int(color), out)
        return out

    # ------------------------------------------------------------------ moves

    def play(self, move: Move, color: Color | None = None) -> GameState:
        """The state after `color` (default: the side to move) plays `move`.

        Playing out of turn is allowed (GTP allows it); the turn then passes to the opponent
        of whoever played. Raises IllegalMoveError naming the move and the reason.
        """
        color = self.to_move if color is None else Color(color)
        n = self.board_size
        try:
            p = self._parse_move(move)
        except coords.CoordinateError:
            raise IllegalMoveError(str(move), color, IllegalReason.OFF_BOARD) from None
        reason = self.status(p, color)
        if reason is not None:
            raise IllegalMoveError(coords.to_gtp(p, n), color, reason)
        state = self._copy()
        neighbours, zobrist = _layout.geometry(n)
        _board.play(state._board, state._history, neighbours, zobrist, p, int(color))
        state._moves = (self._moves, (color, p))
        return state

    def pass_turn(self) -> GameState:
        return self.play(coords.pass_move(self.board_size))

    def resign(self, color: Color | None = None) -> GameState:
        """The finished state in which `color` (default: the side to move) resigned."""
        if self.is_over:
            raise IllegalMoveError("resign", self.to_move if color is None else Color(color), IllegalReason.GAME_OVER)
        state = self._copy()
        state._resigned = self.to_move if color is None else Color(color)
        return state

    # ------------------------------------------------------------------ end of game

    @property
    def resigned(self) -> Color | None:
        return self._resigned

    @property
    def is_over(self) -> bool:
        """Two consecutive passes, a resignation, or the move limit."""
        return self._resigned is not None or bool(_board.is_finished(self._board))

    def area_owner(self) -> np.ndarray:
        """int8 [N, N] Tromp-Taylor owner of each point: 1 black, 2 white, 0 neither (seki, dame)."""
        n = self.board_size
        neighbours, _ = _layout.geometry(n)
        owner = np.empty(n * n, dtype=np.int64)
        _board.area_owner(self._board, neighbours, owner)
        return owner.astype(np.int8).reshape(n, n)

    def score(self) -> float:
        """Tromp-Taylor area score from Black's side: Black's area - White's area - komi."""
        neighbours, _ = _layout.geometry(self.board_size)
        return float(_board.area_score(self._board, neighbours)) - self._rules.komi

    @property
    def result(self) -> str | None:
        """The SGF RE value once the game is over ("B+3.5", "W+R", "0", "Void"), else None.

        A game stopped by the move limit is "Void": it has no winner, and ratings skip it.
        """
        if self._resigned is not None:
            return f"{self._resigned.opponent.letter}+R"
        if self.consecutive_passes >= 2:
            return format_score(self.score())
        if self.move_number >= self.move_limit:
            return VOID
        return None

    @property
    def winner(self) -> Color | None:
        result = self.result
        return None if result is None else parse_result(result).winner

    # ------------------------------------------------------------------ network input

    def features(self) -> np.ndarray:
        """float32 [C, N, N] network input for the side to move; see features.py."""
        n = self.board_size
        out = np.empty((_features.NUM_PLANES, n, n), dtype=np.float32)
        neighbours, zobrist = _layout.geometry(n)
        return _features.write_features(self._board, self._history, neighbours, zobrist, out)

    # ------------------------------------------------------------------ plumbing

    def _parse_move(self, move: Move) -> int:
        if isinstance(move, str):
            return coords.from_gtp(move, self.board_size)
        return coords.check_flat(move, self.board_size)

    def _copy(self) -> GameState:
        return GameState(self._board.copy(), self._history.copy(), self._rules, self._moves, self._setup,
                         self._resigned)

    def __iter__(self) -> Iterator[tuple[Color, int]]:
        return iter(self.moves)

    def __eq__(self, other: object) -> bool:
        """Same stones, side to move, rules, ko state and history of moves."""
        if not isinstance(other, GameState):
            return NotImplemented
        return (self._rules == other._rules and self._resigned == other._resigned
                and self._setup == other._setup and self.moves == other.moves
                and np.array_equal(self._board, other._board))

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return to_ascii(self.stones())

    def __repr__(self) -> str:
        return (f"GameState(board_size={self.board_size}, to_move={self.to_move.name}, "
                f"move_number={self.move_number}, rules={self._rules.describe()!r}, komi={self._rules.komi})")


def to_ascii(stones: np.ndarray, *, coordinates: bool = True) -> str:
    """Draw int8 [N, N] stones; without coordinates the text is what `from_ascii` reads."""
    n = stones.shape[0]
    rows = [" ".join(".XO"[v] for v in stones[r]) for r in range(n)]
    if not coordinates:
        return "\n".join(rows)
    return "\n".join(["   " + " ".join(coords.GTP_COLUMNS[:n])] + [f"{n - r:2d} {row}" for r, row in enumerate(rows)])
