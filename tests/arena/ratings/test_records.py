"""Game records, pair counts and aggregation: validation errors name the problem."""

from __future__ import annotations

import numpy as np
import pytest

from arena.ratings import GameResult, PairCounts, RatingInputError, aggregate, compute_ratings


def test_game_result_accepts_black_white_or_draw() -> None:
    assert GameResult("a", "b", "a").winner == "a"
    assert GameResult("a", "b", "b").winner == "b"
    assert GameResult("a", "b", None).winner is None


def test_winner_must_be_one_of_the_players() -> None:
    with pytest.raises(RatingInputError, match="winner 'c' is a third player"):
        GameResult("a", "b", "c")


def test_player_cannot_play_itself() -> None:
    with pytest.raises(RatingInputError, match="cannot play itself"):
        GameResult("a", "a", "a")
    with pytest.raises(RatingInputError, match="cannot play itself"):
        PairCounts("a", "a", 1, 0, 0)


def test_names_must_be_non_empty_strings() -> None:
    with pytest.raises(RatingInputError, match="black must be a non-empty player name"):
        GameResult("", "b", None)
    with pytest.raises(RatingInputError, match="white must be a non-empty player name"):
        GameResult("a", 3, None)  # type: ignore[arg-type]


def test_both_sides_won_is_rejected() -> None:
    with pytest.raises(RatingInputError, match="claims both sides won"):
        GameResult.from_flags("a", "b", black_won=True, white_won=True)
    assert GameResult.from_flags("a", "b", black_won=False, white_won=True).winner == "b"
    assert GameResult.from_flags("a", "b", black_won=False, white_won=False).winner is None


def test_negative_and_non_integer_counts_are_rejected() -> None:
    with pytest.raises(RatingInputError, match="negative count: wins_white = -1"):
        PairCounts("a", "b", 3, -1, 0)
    with pytest.raises(RatingInputError, match="draws .* must be an integer"):
        PairCounts("a", "b", 3, 1, 0.5)  # type: ignore[arg-type]
    with pytest.raises(RatingInputError, match="must be an integer"):
        PairCounts("a", "b", True, 0, 0)  # type: ignore[arg-type]
    assert PairCounts("a", "b", np.int64(2), 0, 1).games == 3


def test_aggregate_sums_by_ordered_pair() -> None:
    games = [
        GameResult("a", "b", "a"),
        GameResult("a", "b", "b"),
        GameResult("a", "b", None),
        GameResult("a", "b", "a"),
        GameResult("b", "a", "a"),
    ]
    counts = aggregate(games + [PairCounts("a", "b", 1, 0, 2)])
    assert counts[("a", "b")] == PairCounts("a", "b", wins_black=3, wins_white=1, draws=3)
    assert counts[("b", "a")] == PairCounts("b", "a", wins_black=0, wins_white=1, draws=0)
    assert sum(c.games for c in counts.values()) == 8


def test_unknown_players_against_a_roster_are_rejected() -> None:
    with pytest.raises(RatingInputError, match="unknown player 'z'"):
        aggregate([GameResult("a", "z", "a")], players=["a", "b"])


def test_wrong_item_types_are_rejected() -> None:
    with pytest.raises(RatingInputError, match="expected GameResult or PairCounts"):
        aggregate([("a", "b", "a")])  # type: ignore[list-item]
    with pytest.raises(RatingInputError, match="got a string"):
        compute_ratings("a beat b")  # type: ignore[arg-type]
    with pytest.raises(RatingInputError, match="must be PairCounts for that"):
        compute_ratings({("a", "b"): PairCounts("b", "a", 1, 0, 0)})


def test_records_are_frozen() -> None:
    game = GameResult("a", "b", "a")
    with pytest.raises(AttributeError):
        game.winner = "b"  # type: ignore[misc]
