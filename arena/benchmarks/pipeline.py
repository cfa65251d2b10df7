"""How close search comes to the network's own speed: `arena bench pipeline`.

The network forward pass is the physical limit of the arena. This plays searched moves with
an evaluator and, after each move, times bare `evaluate` calls of the same evaluator on real
positions at that move's mean batch size, for as many evaluations as the move made.
Efficiency is the ratio of the two rates over the whole run. Interleaving move by move
matters on a shared machine, where the speed of the same forward pass drifts by half within
seconds: a bare measurement taken before or after the search would compare two machines.
"""

from __future__ import annotations

import time

from search_workers.search import BatchedMcts, SearchConfig
from search_workers.search.benchmark import random_openings


def benchmark_pipeline(evaluator, *, board_size: int = 9, visits: int = 64, games: int = 64,
                       moves: int = 8, seed: int = 0) -> dict:
    config = SearchConfig(visits=visits, seed=seed)
    mcts = BatchedMcts(evaluator, config, board_size=board_size, num_games=games)
    states = random_openings(board_size, games, 4, seed)
    mcts.search(states)  # compile or load kernels, warm the allocator; not timed
    search_s = bare_s = 0.0
    search_evals = bare_evals = calls = 0
    for _ in range(moves):
        live = [s if not s.is_over else None for s in states]
        if all(s is None for s in live):
            break
        evals_before, calls_before = mcts.evaluations, mcts.evaluate_calls
        started = time.perf_counter()
        results = mcts.search(live)
        search_s += time.perf_counter() - started
        made = mcts.evaluations - evals_before
        made_calls = mcts.evaluate_calls - calls_before
        search_evals += made
        calls += made_calls
        states = [s if r is None else s.play(r.move) for s, r in zip(states, results)]
        if not made:
            continue
        batch = max(1, round(made / made_calls))
        features, legal = mcts.features[:batch].copy(), mcts.legal[:batch].copy()  # real leaves of this move
        repeats = max(1, made // batch)
        started = time.perf_counter()
        for _ in range(repeats):
            evaluator.evaluate(features, legal)
        bare_s += time.perf_counter() - started
        bare_evals += repeats * batch
    evals_per_s = search_evals / search_s
    bare = bare_evals / bare_s
    return {"bench": "pipeline", "board_size": board_size, "visits": visits, "games": games,
            "evals_per_s": round(evals_per_s, 1), "bare_evals_per_s": round(bare, 1),
            "efficiency": round(evals_per_s / bare, 4), "mean_batch": round(search_evals / max(calls, 1), 2),
            "evaluations": search_evals, "seconds": round(search_s, 3)}
