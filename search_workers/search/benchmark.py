"""The search benchmark: tree + rules cost per playout, with no network in the way."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from search_workers.go import GameState, random_openings

from .config import SearchConfig
from .evaluator import Evaluator
from .mcts import BatchedMcts


@dataclass(frozen=True)
class SearchBenchmark:
    board_size: int
    visits: int
    games: int
    moves: int  # moves searched per game
    playouts: int
    seconds: float
    mean_batch: float

    def as_json(self) -> dict:
        per_s = self.playouts / self.seconds
        return {"bench": "search", "board_size": self.board_size, "visits": self.visits, "games": self.games,
                "playouts_per_s": round(per_s), "us_per_playout": round(1e6 / per_s, 3),
                "playouts": self.playouts, "mean_batch": round(self.mean_batch, 2), "seconds": round(self.seconds, 3)}


def random_opening_states(board_size: int, games: int, plies: int, seed: int) -> list[GameState]:
    """`games` positions after `plies` uniformly random moves each, so benchmark games differ
    (from one empty board a deterministic search would play the same game in every slot)."""
    states = []
    for opening in random_openings(games, plies, board_size=board_size, seed=seed):
        state = GameState.new(board_size)
        for move in opening:
            state = state.play(move)
        states.append(state)
    return states


def play_searched_moves(evaluator: Evaluator, config: SearchConfig, *, board_size: int, games: int,
                        moves: int, opening_plies: int = 4, pipeline_groups: int = 1) -> BatchedMcts:
    """Search and play `moves` moves in each of `games` games, each from its own random opening."""
    mcts = BatchedMcts(evaluator, config, board_size=board_size, num_games=games, pipeline_groups=pipeline_groups)
    states: list[GameState | None] = list(random_opening_states(board_size, games, opening_plies, config.seed))
    for _ in range(moves):
        live = [s if s is not None and not s.is_over else None for s in states]
        if all(s is None for s in live):
            break
        results = mcts.search(live)
        states = [s if r is None else s.play(r.move) for s, r in zip(live, results)]
    mcts.close()
    return mcts


def benchmark_search(evaluator: Evaluator, *, board_size: int = 9, visits: int = 200, games: int = 64,
                     moves: int = 12, repeats: int = 3, seed: int = 0) -> SearchBenchmark:
    """Median over `repeats` runs of `moves` searched moves in `games` games at once.

    Every playout descends the tree, plays its moves under the full rules (superko
    included), writes the leaf's features and legal moves, and backs the value up; the
    uniform evaluator's cost is included and is small next to that.
    """
    config = SearchConfig(visits=visits, seed=seed)
    play_searched_moves(evaluator, config, board_size=board_size, games=2, moves=2)  # compile / load kernels
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        mcts = play_searched_moves(evaluator, config, board_size=board_size, games=games, moves=moves)
        elapsed = time.perf_counter() - started
        runs.append((elapsed / mcts.playouts, mcts, elapsed))
    runs.sort(key=lambda run: run[0])
    _, mcts, elapsed = runs[len(runs) // 2]
    mean_batch = mcts.evaluations / max(mcts.evaluate_calls, 1)
    return SearchBenchmark(board_size=board_size, visits=visits, games=games, moves=moves, playouts=mcts.playouts,
                           seconds=elapsed, mean_batch=float(np.round(mean_batch, 3)))
