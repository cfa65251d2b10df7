"""Search makes the network stronger: the integration test with a tiny real network."""

from __future__ import annotations

from models.checkpoint import load_checkpoint
from models.demo import newest_demo_manifest
from search_workers.engines import MctsPlayer, paired_openings, play_block
from search_workers.evaluators import TorchEvaluator, UniformEvaluator
from search_workers.go import Color, Rules
from search_workers.search import SearchConfig

RULES = Rules.preset("chinese", komi=7.5)


def random_openings(pairs: int, length: int, board_size: int, seed: int) -> list[list[int]]:
    return paired_openings(pairs, length, board_size=board_size, rules=RULES, seed=seed)


def test_block_of_games_ends_with_results_and_statistics() -> None:
    player = MctsPlayer("uniform", UniformEvaluator(5), SearchConfig(visits=8))
    outcomes = play_block([player] * 4, [player] * 4, board_size=5, rules=RULES,
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
    outcomes = play_block(black, white, board_size=9, rules=RULES,
                          openings=random_openings(pairs, 4, 9, seed=2026))
    wins = sum(o.winner_name == "v64" for o in outcomes)
    decided = sum(o.winner_name is not None for o in outcomes)
    strong_as_black = sum(o.winner_name == "v64" for o in outcomes if o.black == "v64")
    assert decided >= 36, [o.result for o in outcomes]
    assert wins >= 0.7 * len(outcomes), f"64 visits won {wins}/{len(outcomes)} ({strong_as_black} as Black)"
    assert all(o.final.winner in (Color.BLACK, Color.WHITE, None) for o in outcomes)
