"""The one reading of a result string: every stored form parses, anything else is refused."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search_workers.go import Color, GameState, Rules, format_score, parse_result, winner_of
from search_workers.go.results import KINDS, RESULT_PATTERN, WINNER_PREFIX, ResultError

HALF_POINTS = st.integers(-2 * 400, 2 * 400).map(lambda k: k / 2)


@pytest.mark.parametrize("text, winner, kind, margin, black_margin", [
    ("B+3.5", Color.BLACK, "score", 3.5, 3.5),
    ("W+0.5", Color.WHITE, "score", 0.5, -0.5),
    ("W+12", Color.WHITE, "score", 12.0, -12.0),
    ("B+R", Color.BLACK, "resign", None, None),
    ("W+T", Color.WHITE, "time", None, None),
    ("B+F", Color.BLACK, "forfeit", None, None),
    ("0", None, "draw", 0.0, 0.0),
    ("Void", None, "void", None, None),
])
def test_every_stored_form(text, winner, kind, margin, black_margin) -> None:
    parsed = parse_result(text)
    assert (parsed.text, parsed.winner, parsed.kind, parsed.margin, parsed.black_margin) == (
        text, winner, kind, margin, black_margin)
    assert parsed.kind in KINDS
    assert parsed.decisive is (kind != "void")
    assert winner_of(text) is winner


@pytest.mark.parametrize("text", ["", "B+", "?", "Draw", "B+Resign", "b+R", "B+3.5\n", " 0", "W-3", "B+-1",
                                  "B+.5", "Void ", "X+R", None, 3.5])
def test_anything_else_is_refused_naming_the_forms(text) -> None:
    with pytest.raises(ResultError, match=r"B\+<points>, W\+<points>, \[BW\]\+R/T/F, 0, Void"):
        parse_result(text)


@given(HALF_POINTS)
def test_a_formatted_score_reads_back_as_the_same_margin(score: float) -> None:
    parsed = parse_result(format_score(score))
    assert parsed.black_margin == score
    assert parsed.kind == ("draw" if score == 0 else "score")
    assert parsed.winner is (None if score == 0 else Color.BLACK if score > 0 else Color.WHITE)


@given(st.text(max_size=8))
def test_parsing_agrees_with_the_stored_pattern(text: str) -> None:
    """The pattern the database checks and the parser accept the same strings."""
    matches = re.fullmatch(RESULT_PATTERN, text) is not None
    try:
        parse_result(text)
    except ResultError:
        assert not matches
    else:
        assert matches


@given(st.sampled_from([Color.BLACK, Color.WHITE]), st.sampled_from(["R", "T", "F", "1", "7.5"]))
def test_the_winner_is_the_colour_of_the_prefix(colour: Color, how: str) -> None:
    """The rule SQL counts wins by (a result names a winner exactly when it starts with its prefix)."""
    assert parse_result(WINNER_PREFIX[colour] + how).winner is colour


def test_the_state_reports_its_result_through_the_same_rule() -> None:
    state = GameState.new(5, Rules(komi=0.5)).pass_turn().pass_turn()
    assert state.result == "W+0.5" and state.winner is Color.WHITE
    assert GameState.new(5).resign().winner is Color.WHITE
