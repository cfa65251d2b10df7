"""One komi rule and one random-openings generator, used by every layer that needs them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from search_workers.engines import paired_openings
from search_workers.go import GameState, Rules, RulesError, random_openings
from search_workers.go.rules import MAX_KOMI, check_komi
from search_workers.schemas import GameSettings
from search_workers.search.benchmark import random_opening_states


@pytest.mark.parametrize("komi", [0, 7.5, -7.5, MAX_KOMI, -MAX_KOMI, 0.5])
def test_komi_within_the_bound_in_half_points_is_taken_everywhere(komi) -> None:
    assert check_komi(komi) == komi
    assert Rules(komi=komi).komi == komi
    assert GameSettings(komi=komi).game_rules().komi == komi


@pytest.mark.parametrize("komi", [MAX_KOMI + 0.5, -MAX_KOMI - 0.5, 1000, 7.3, float("nan"), float("inf")])
def test_other_komi_is_refused_everywhere_naming_the_bound(komi) -> None:
    with pytest.raises(RulesError, match=f"±{MAX_KOMI}"):
        check_komi(komi)
    with pytest.raises(RulesError, match=f"±{MAX_KOMI}"):
        Rules(komi=komi)
    with pytest.raises(ValidationError):
        GameSettings(komi=komi)


def test_random_openings_are_a_pure_function_of_their_arguments() -> None:
    rules = Rules.preset("chinese")
    book = random_openings(5, 4, board_size=7, rules=rules, seed=11)
    assert book == random_openings(5, 4, board_size=7, rules=rules, seed=11)
    assert book != random_openings(5, 4, board_size=7, rules=rules, seed=12)
    assert all(len(opening) == 4 for opening in book)


def test_paired_openings_and_benchmark_positions_come_from_the_one_generator() -> None:
    rules = Rules()
    book = random_openings(3, 4, board_size=7, rules=rules, seed=5)
    assert paired_openings(3, 4, board_size=7, rules=rules, seed=5) == [list(o) for o in book for _ in range(2)]
    states = random_opening_states(7, 3, 4, seed=5)
    for opening, state in zip(book, states):
        expected = GameState.new(7)
        for move in opening:
            expected = expected.play(move)
        assert state == expected
