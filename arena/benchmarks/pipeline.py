"""How close search comes to the network's own speed: `arena bench pipeline`.

The network forward pass is the physical limit of the arena. This plays searched moves with
the in-process torch evaluator and, in the same run, times bare `evaluate` calls of the same
model on real positions at the search's mean batch size; efficiency is the ratio. Bare runs
are timed before and after the search and averaged, so that drift on a shared machine
affects both sides alike.
"""

from __future__ import annotations

import time

import numpy as np

from search_workers.search import SearchConfig
from search_workers.search.benchmark import play_searched_moves


def time_bare_evaluations(evaluator, features: np.ndarray, legal: np.ndarray, *, evaluations: int) -> float:
    """Evaluations per second of `evaluator` on this batch, repeated until `evaluations` are done."""
    evaluator.evaluate(features, legal)  # warm up allocator and kernels
    batch = features.shape[0]
    calls = max(1, evaluations // batch)
    started = time.perf_counter()
    for _ in range(calls):
        evaluator.evaluate(features, legal)
    return calls * batch / (time.perf_counter() - started)


def benchmark_pipeline(evaluator, *, board_size: int = 9, visits: int = 64, games: int = 64,
                       moves: int = 8, seed: int = 0) -> dict:
    config = SearchConfig(visits=visits, seed=seed)
    warm = play_searched_moves(evaluator, config, board_size=board_size, games=games, moves=1)
    batch = max(1, int(round(warm.evaluations / max(warm.evaluate_calls, 1))))
    features, legal = warm.features[:batch].copy(), warm.legal[:batch].copy()
    budget = min(4096, warm.evaluations)
    bare_before = time_bare_evaluations(evaluator, features, legal, evaluations=budget)
    started = time.perf_counter()
    mcts = play_searched_moves(evaluator, config, board_size=board_size, games=games, moves=moves)
    elapsed = time.perf_counter() - started
    bare_after = time_bare_evaluations(evaluator, features, legal, evaluations=budget)
    evals_per_s = mcts.evaluations / elapsed
    mean_batch = mcts.evaluations / max(mcts.evaluate_calls, 1)
    bare = (bare_before + bare_after) / 2
    return {"bench": "pipeline", "board_size": board_size, "visits": visits, "games": games,
            "evals_per_s": round(evals_per_s, 1), "bare_evals_per_s": round(bare, 1),
            "efficiency": round(evals_per_s / bare, 4), "mean_batch": round(mean_batch, 2),
            "bare_batch": batch, "evaluations": mcts.evaluations, "seconds": round(elapsed, 3)}
