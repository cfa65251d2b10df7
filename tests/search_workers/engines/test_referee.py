"""Settling games ended by passes: GNU Go removes dead stones; otherwise strict Tromp-Taylor."""

from __future__ import annotations

import pytest

from search_workers.engines import GtpPlayer
from search_workers.engines.referee import remove_stones, settle
from search_workers.go import Color, GameState, Rules, coords
from tests.support.engines import require_gnugo
from tests.support.fake_engines import engine_spec, fake_spec

RULES = Rules.preset("chinese", komi=7.5)
# Black owns columns A-D, White E-J; a white stone at C7 and a black one at H5 are hopeless.
POSITION = """
    . . . X O . . . .
    . . . X O . . . .
    . . O X O . . . .
    . . . X O . . . .
    . . . X O . . X .
    . . . X O . . . .
    . . . X O . . . .
    . . . X O . . . .
    . . . X O . . . .
"""


def finished(picture: str = POSITION) -> GameState:
    return GameState.from_ascii(picture, rules=RULES).pass_turn().pass_turn()


def points(*vertices: str) -> list[int]:
    return sorted(coords.from_gtp(v, 9) for v in vertices)


@pytest.fixture(scope="module")
def gnugo() -> GtpPlayer:
    with GtpPlayer(engine_spec(name="gnugo", preset="gnugo", binary=require_gnugo(), level=1)) as player:
        yield player


def test_without_a_referee_every_stone_counts() -> None:
    state = finished()
    settlement = settle(state)
    # Neither dead stone's surroundings are anyone's area: 10 black points, 10 white.
    assert (settlement.result, settlement.score, settlement.method, settlement.dead) == \
        ("W+7.5", -7.5, "tromp-taylor", [])
    assert settlement.result == state.result


def test_gnugo_removes_the_dead_stones(gnugo: GtpPlayer) -> None:
    settlement = settle(finished(), gnugo)
    assert settlement.dead == points("C7", "H5")
    assert settlement.score == 36 - 45 - 7.5 and settlement.result == "W+16.5"
    assert settlement.method == f"referee:gnugo {gnugo.version}" and gnugo.version


def test_a_dead_list_with_an_empty_point_falls_back_to_tromp_taylor() -> None:
    with GtpPlayer(fake_spec("--dead", "C7,A1", name="liar")) as liar:
        settlement = settle(finished(), liar)
    assert settlement.result == "W+7.5" and settlement.dead == []
    assert settlement.method.startswith("tromp-taylor (referee liar not used: A1 is listed dead but holds no stone")


def test_a_failing_referee_falls_back_to_tromp_taylor() -> None:
    with GtpPlayer(engine_spec(name="gone", command=["/nonexistent/referee"], max_failures=1)) as gone:
        settlement = settle(finished(), gone)
    assert settlement.result == "W+7.5"
    assert settlement.method.startswith("tromp-taylor (referee gone not used: engine 'gone' failed")


def test_only_games_ended_by_passes_are_settled() -> None:
    with pytest.raises(ValueError, match="ended by two passes"):
        settle(GameState.from_ascii(POSITION, rules=RULES).pass_turn())
    with pytest.raises(ValueError, match="ended by two passes"):
        settle(GameState.new(9, RULES).resign())


def test_remove_stones_keeps_the_rest() -> None:
    cleaned = remove_stones(finished(), points("C7"))
    assert cleaned.color_at("C7") is None and cleaned.color_at("H5") is Color.BLACK
    assert cleaned.color_at("D9") is Color.BLACK and cleaned.color_at("E9") is Color.WHITE
