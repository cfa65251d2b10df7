"""Games per hour, the arena's way against the naive way: `arena bench throughput`.

The same games (two demo checkpoints, colour-swapped pairs on shared random openings, the same
search settings) are played twice in one run:

(a) the arena's way: one block, every game in play at once, each player's leaves batched
    across games into one `evaluate` call per step (`play_games`);
(b) the baseline: one game at a time, so every evaluation is a batch of one (what a GTP
    match runner driving one engine per game does).

Both use the same evaluators on the same core budget; the ratio is what batching across games
buys. The baseline is the slow part of the run, so `baseline_games` can play a prefix of the
same games and scale the rate.
"""

from __future__ import annotations

import time

from search_workers.engines import BlockGame, MctsPlayer, paired_openings, play_games
from search_workers.go import Rules
from search_workers.search import SearchConfig


def benchmark_throughput(evaluators: dict, *, board_size: int = 9, visits: int = 32, games: int = 64,
                         baseline_games: int | None = None, opening_plies: int = 4, seed: int = 0) -> dict:
    """`evaluators`: two names -> Evaluator (the two players). Returns the benchmark's JSON."""
    if len(evaluators) != 2:
        raise ValueError(f"two players needed, got {len(evaluators)}")
    games -= games % 2  # colour-swapped pairs
    if games < 2:
        raise ValueError("at least one pair of games is needed")
    baseline_games = games if baseline_games is None else max(1, min(baseline_games, games))
    rules = Rules.preset("chinese", komi=7.5)
    counted = {name: _Counting(evaluator) for name, evaluator in evaluators.items()}
    first, second = (MctsPlayer(name, evaluator, SearchConfig(visits=visits, seed=seed))
                     for name, evaluator in counted.items())
    openings = paired_openings(games // 2, opening_plies, board_size=board_size, rules=rules, seed=seed)
    block = [BlockGame(black=first if i % 2 == 0 else second, white=second if i % 2 == 0 else first,
                       opening=tuple(openings[i]), key=i) for i in range(games)]
    play_games(block[:2], board_size=board_size, rules=rules)  # compile or load kernels: not timed
    for evaluator in evaluators.values():  # and measure a CPU network's fastest batch: not timed either
        if hasattr(evaluator, "prepare"):
            evaluator.prepare()

    for evaluator in counted.values():
        evaluator.positions = evaluator.calls = 0
    started = time.perf_counter()
    outcomes = play_games(block, board_size=board_size, rules=rules)
    arena_s = time.perf_counter() - started
    evaluations = sum(e.positions for e in counted.values())
    batches = sum(e.calls for e in counted.values())

    started = time.perf_counter()
    baseline = [play_games([game], board_size=board_size, rules=rules)[0] for game in block[:baseline_games]]
    baseline_s = time.perf_counter() - started

    same = sum(a.final.moves == b.final.moves for a, b in zip(outcomes, baseline))
    games_per_hour = games / arena_s * 3600
    baseline_per_hour = baseline_games / baseline_s * 3600
    moves = sum(o.final.move_number - o.opening_moves for o in outcomes)
    return {
        "bench": "throughput", "board_size": board_size, "visits": visits, "games": games,
        "games_per_hour": round(games_per_hour, 1), "baseline_games_per_hour": round(baseline_per_hour, 1),
        "speedup": round(games_per_hour / baseline_per_hour, 2),
        "mean_batch": round(evaluations / max(batches, 1), 2),
        "moves": moves, "seconds": round(arena_s, 3), "baseline_games": baseline_games,
        "baseline_seconds": round(baseline_s, 3), "identical_games": same,
    }


class _Counting:
    """An evaluator that counts positions and calls of the one it wraps (for the mean batch)."""

    def __init__(self, inner):
        self.inner, self.board_size = inner, inner.board_size
        self.positions = self.calls = 0

    def evaluate(self, features, legal):
        self.positions += features.shape[0]
        self.calls += 1
        return self.inner.evaluate(features, legal)
