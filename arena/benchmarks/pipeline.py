"""How close search comes to the network's own speed: `arena bench pipeline`.

The network forward pass is the physical limit of the arena. This plays searched moves with
an evaluator the way a worker should: each game advances on its own (`BatchedMcts.begin` /
`step`), so a game whose search is done plays its move and starts its next search while the
others are still searching, and a slot whose game ends starts the next game, so batches stay
full (only finished-game leaves skip the network). After every chunk of steps it times bare
`evaluate` calls of the same evaluator on real positions at that chunk's mean batch size, for
as many evaluations as the chunk made. Efficiency is the ratio of the two rates over the run.

Interleaving matters on a shared machine, where the speed of the same forward pass drifts by
half within seconds: a bare measurement taken before or after the search would compare two
machines.
"""

from __future__ import annotations

import time

from search_workers.search import BatchedMcts, SearchConfig
from search_workers.search.benchmark import random_opening_states

CHUNK_STEPS = 32  # search steps between two bare timings


def benchmark_pipeline(evaluator, *, board_size: int = 9, visits: int = 64, games: int = 64,
                       moves: int = 8, seed: int = 0) -> dict:
    config = SearchConfig(visits=visits, seed=seed)
    mcts = BatchedMcts(evaluator, config, board_size=board_size, num_games=games)
    states = random_opening_states(board_size, games, 4, seed)
    # Compile or load every kernel, re-rooting included (a continued game), and warm the
    # allocator; not timed. Loading a kernel from numba's cache alone takes milliseconds.
    after = [state.play(result.move) for state, result in zip(states, mcts.search(states))]
    mcts.search([None if state.is_over else state for state in after])
    mcts = BatchedMcts(evaluator, config, board_size=board_size, num_games=games)
    # Like a worker playing a block, a slot never idles: when its game ends, the next game
    # starts there. The run stops once games * moves searched moves are done.
    quota, done, next_seed = games * moves, 0, seed + 1
    for i, state in enumerate(states):
        mcts.begin(i, state)
    search_s = bare_s = 0.0
    search_evals = bare_evals = calls = 0
    while done < quota:
        evals_before, calls_before = mcts.evaluations, mcts.evaluate_calls
        started = time.perf_counter()
        for _ in range(CHUNK_STEPS):
            for i, result in mcts.step():
                done += 1
                states[i] = states[i].play(result.move)
                if states[i].is_over:
                    states[i] = random_opening_states(board_size, 1, 4, next_seed)[0]
                    next_seed += 1
                mcts.begin(i, states[i])
            if done >= quota:
                break
        search_s += time.perf_counter() - started
        made = mcts.evaluations - evals_before
        made_calls = mcts.evaluate_calls - calls_before
        search_evals += made
        calls += made_calls
        if not made:
            continue
        batch = max(1, round(made / made_calls))
        features, legal = mcts.features[:batch].copy(), mcts.legal[:batch].copy()  # real leaves
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
