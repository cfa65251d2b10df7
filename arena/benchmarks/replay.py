"""Are games reproducible from their own record? `arena bench replay`.

Plays a block of games (colour-swapped pairs from random openings, each game with its own seed)
between the two newest demo networks, then replays every game alone, in a block of one, and
counts the games whose moves come out identical. A game's randomness comes from its seed
(`BlockGame.seed`), and search rounds the network's outputs before using them
(`search_workers.search.evaluator.OUTPUT_STEP`), so what is left to differ is a float result
that crosses a rounding boundary when the batch around it changes.
"""

from __future__ import annotations

import time

from search_workers.engines import BlockGame, MctsPlayer, paired_openings, play_games
from search_workers.go import Rules
from search_workers.search import SearchConfig


def benchmark_replay(first, second, *, board_size: int = 9, games: int = 32, visits: int = 16,
                     temperature_moves: int = 8, seed: int = 0) -> dict:
    """`first` and `second` are evaluators of two networks; returns the benchmark's JSON object."""
    rules = Rules.preset("chinese", komi=7.5)
    config = SearchConfig(visits=visits, temperature_moves=temperature_moves)
    a, b = MctsPlayer("first", first, config), MctsPlayer("second", second, config)
    openings = paired_openings((games + 1) // 2, 4, board_size=board_size, rules=rules, seed=seed)
    block = [BlockGame(black=(a, b)[i % 2], white=(b, a)[i % 2], opening=tuple(openings[i]), key=i,
                       seed=seed * 1_000_003 + i) for i in range(games)]
    for evaluator in (first, second):  # a CPU network's fastest batch, measured before the timing
        if hasattr(evaluator, "prepare"):
            evaluator.prepare()
    started = time.perf_counter()
    original = play_games(block, board_size=board_size, rules=rules)
    block_s = time.perf_counter() - started
    started = time.perf_counter()
    identical = 0
    for game, first_play in zip(block, original):
        again = play_games([game], board_size=board_size, rules=rules)[0]
        identical += again.final.moves == first_play.final.moves and again.result == first_play.result
    replay_s = time.perf_counter() - started
    return {"bench": "replay", "games": games, "visits": visits, "block_s": round(block_s, 3),
            "replay_s": round(replay_s, 3), "identical": identical, "identical_fraction": round(identical / games, 4)}
