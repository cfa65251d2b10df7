"""Uniform-random play over the public GameState: random games and the rules benchmark."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import _layout, _playout
from .rules import Rules, check_board_size
from .state import GameState


def random_move(state: GameState, rng: np.random.Generator) -> int:
    """A uniformly random legal move for the side to move that fills no own eye (else pass)."""
    seeded = np.empty(1, dtype=np.uint64)
    _playout.seed_rng(seeded, int(rng.integers(0, 2**63 - 1)))
    neighbours, zobrist = _layout.geometry(state.board_size)
    scratch = np.empty(state.board_size ** 2, dtype=np.int64)
    return int(_playout.random_move(state._board, state._history, neighbours, zobrist, seeded, scratch))


def random_openings(count: int, plies: int, *, board_size: int, rules: Rules | None = None,
                    seed: int) -> list[tuple[int, ...]]:
    """`count` openings of `plies` uniformly random legal moves each (no own-eye filling), as flat
    moves from the empty board, Black first; a pure function of the arguments. The one generator
    of random openings: tournaments' books, colour-swapped benchmark pairs and benchmark positions."""
    rng = np.random.default_rng(seed)
    openings = []
    for _ in range(count):
        state, moves = GameState.new(board_size, rules), []
        for _ in range(plies):
            moves.append(random_move(state, rng))
            state = state.play(moves[-1])
        openings.append(tuple(moves))
    return openings


def random_game(board_size: int = 9, rules: Rules | None = None, *, seed: int = 0,
                move_limit: int | None = None, start: GameState | None = None) -> GameState:
    """Play a whole game of uniformly random moves (no own-eye filling); a pure function of seed.

    Starts from `start` if given (its board size, rules and move limit win), else the empty board.
    """
    state = start if start is not None else GameState.new(board_size, rules, move_limit=move_limit)
    neighbours, zobrist = _layout.geometry(state.board_size)
    board, history = state._board.copy(), state._history.copy()
    rng = np.empty(1, dtype=np.uint64)
    _playout.seed_rng(rng, seed)
    scratch = np.empty(state.board_size ** 2, dtype=np.int64)
    moves = np.empty(max(state.move_limit - state.move_number, 0), dtype=np.int64)
    count = _playout.play_random_game_recorded(board, history, neighbours, zobrist, rng, scratch, moves)
    cells = state._moves
    color = state.to_move
    for p in moves[:count]:
        cells = (cells, (color, int(p)))
        color = color.opponent
    return GameState(board, history, state.rules, cells, state.setup_stones, None)


@dataclass(frozen=True)
class RulesBenchmark:
    board_size: int
    rules: str
    games: int  # over all rounds
    moves: int  # over all rounds
    seconds: float  # over all rounds
    moves_per_s: float  # median over rounds

    def as_json(self) -> dict:
        return {"bench": "rules", "board_size": self.board_size, "moves_per_s": round(self.moves_per_s),
                "games": self.games, "moves": self.moves, "seconds": round(self.seconds, 3), "rules": self.rules}


def benchmark_rules(board_size: int = 9, *, seconds: float = 3.0, rules: Rules | None = None,
                    seed: int = 1, repeats: int = 5) -> RulesBenchmark:
    """Random legal games (no own-eye filling, full legality incl. the ko rule) on one core.

    Runs `repeats` timed rounds of about seconds/repeats each and reports the median rate,
    because this machine is shared and a single timing is noise.
    """
    n = check_board_size(board_size)
    rules = Rules() if rules is None else rules
    move_limit = _layout.default_move_limit(n)
    neighbours, zobrist = _layout.geometry(n)
    board = np.zeros(_layout.board_length(n), dtype=np.int64)
    history = np.zeros(_layout.history_capacity(move_limit), dtype=np.int64)
    args = (n, rules.ko_code, int(rules.suicide_allowed), int(rules.komi * 2), move_limit, board, history,
            neighbours, zobrist)
    _playout.play_random_games(1, seed, *args)  # compile or load from cache outside the timing
    t0 = time.perf_counter()
    probe_games = 20
    _playout.play_random_games(probe_games, seed, *args)
    per_game = max((time.perf_counter() - t0) / probe_games, 1e-6)
    games_per_round = max(1, int(seconds / repeats / per_game))
    rates, total_moves, total_seconds = [], 0, 0.0
    for r in range(repeats):
        t0 = time.perf_counter()
        moves = _playout.play_random_games(games_per_round, seed + 1 + r, *args)
        elapsed = time.perf_counter() - t0
        rates.append(moves / elapsed)
        total_moves += moves
        total_seconds += elapsed
    return RulesBenchmark(board_size=n, rules=rules.describe(), games=games_per_round * repeats,
                          moves=total_moves, seconds=total_seconds, moves_per_s=float(np.median(rates)))


__all__ = ["random_move", "random_openings", "random_game", "benchmark_rules", "RulesBenchmark"]
