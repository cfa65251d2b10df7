"""Search makes the network stronger: the integration test with a tiny real network."""

from __future__ import annotations

import zlib

import numpy as np

from models.checkpoint import load_checkpoint
from models.demo import newest_demo_manifest
from search_workers.engines import BlockGame, MctsPlayer, paired_openings, play_games, play_seats
from search_workers.evaluators import TorchEvaluator, UniformEvaluator
from search_workers.go import Color, Rules
from search_workers.search import SearchConfig

RULES = Rules.preset("chinese", komi=7.5)


def random_openings(pairs: int, length: int, board_size: int, seed: int) -> list[list[int]]:
    return paired_openings(pairs, length, board_size=board_size, rules=RULES, seed=seed)


class HashEvaluator:
    """Priors and value drawn from a hash of each position alone: deterministic and independent
    of the batch, like a network whose outputs do not depend on batch composition."""

    def __init__(self, board_size: int):
        self.board_size = board_size

    def evaluate(self, features, legal):
        policy = np.zeros(legal.shape, dtype=np.float32)
        value = np.zeros(legal.shape[0], dtype=np.float32)
        for row in range(legal.shape[0]):
            rng = np.random.default_rng(zlib.crc32(features[row].tobytes()))
            policy[row] = rng.random(legal.shape[1]) * legal[row] + 1e-3 * legal[row]
            value[row] = rng.uniform(-1.0, 1.0)
        return policy / policy.sum(axis=1, keepdims=True), value

    def close(self):
        pass


def test_a_redelivered_block_plays_its_games_exactly_as_the_original() -> None:
    """A game's moves (temperature sampling, resign draw) depend on its own seed, players and
    opening only: not on which games share its block, their order, or the slots' timing."""
    evaluator = HashEvaluator(5)
    explore = SearchConfig(visits=6, temperature_moves=400, resign_threshold=-0.5, resign_consecutive=1,
                           resign_disabled_fraction=0.5, seed=11)
    a = MctsPlayer("a", evaluator, explore)
    b = MctsPlayer("b", evaluator, SearchConfig(visits=10, temperature_moves=6, seed=12))
    openings = random_openings(4, 2, 5, seed=3)
    games = [BlockGame(black=(a, b)[i % 2], white=(b, a)[i % 2], opening=tuple(openings[i]), key=i, seed=1000 + i)
             for i in range(8)]
    original = play_games(games, board_size=5, rules=RULES, concurrency=3)
    redelivered = play_games([games[i] for i in (6, 1, 4, 3)], board_size=5, rules=RULES, concurrency=2)
    assert len({tuple(o.final.moves) for o in original}) > 4  # the games do differ
    for outcome in redelivered:
        first = original[outcome.key]
        assert outcome.final.moves == first.final.moves
        assert outcome.result == first.result
        assert [s.move for s in outcome.stats] == [s.move for s in first.stats]


def test_block_of_games_ends_with_results_and_statistics() -> None:
    player = MctsPlayer("uniform", UniformEvaluator(5), SearchConfig(visits=8))
    outcomes = play_seats([player] * 4, [player] * 4, board_size=5, rules=RULES,
                          openings=random_openings(2, 2, 5, seed=1))
    for outcome in outcomes:
        assert outcome.final.is_over
        assert outcome.result == outcome.final.result
        assert len(outcome.stats) == outcome.final.move_number - 2  # the opening moves are not searched
        assert all(s.visits >= 8 for s in outcome.stats if s.move >= 0)


def test_more_visits_win_with_the_same_network() -> None:
    loaded = load_checkpoint(newest_demo_manifest())
    evaluator = TorchEvaluator(loaded.module, board_size=9, device="cpu")
    strong = MctsPlayer("v64", evaluator, SearchConfig(visits=64))
    weak = MctsPlayer("v4", evaluator, SearchConfig(visits=4))
    pairs = 20
    black = [strong if i % 2 == 0 else weak for i in range(2 * pairs)]
    white = [weak if i % 2 == 0 else strong for i in range(2 * pairs)]
    outcomes = play_seats(black, white, board_size=9, rules=RULES,
                          openings=random_openings(pairs, 4, 9, seed=2026))
    wins = sum(o.winner_name == "v64" for o in outcomes)
    decided = sum(o.winner_name is not None for o in outcomes)
    strong_as_black = sum(o.winner_name == "v64" for o in outcomes if o.black == "v64")
    assert decided >= 36, [o.result for o in outcomes]
    assert wins >= 0.7 * len(outcomes), f"64 visits won {wins}/{len(outcomes)} ({strong_as_black} as Black)"
    assert all(o.final.winner in (Color.BLACK, Color.WHITE, None) for o in outcomes)
