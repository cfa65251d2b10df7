"""Planned games: canonical pairings, colour-swapped pairs on one opening, deterministic seeds."""

from __future__ import annotations

import pytest

from arena.scheduling import SchedulingError, game_seed, pair_games, pairing_name

BOOK = [(0,), (1,), (2,)]


def test_pairing_name_is_canonical() -> None:
    assert pairing_name("b", "a") == pairing_name("a", "b") == "a vs b"
    with pytest.raises(SchedulingError):
        pairing_name("a", "a")


def test_pairs_swap_colours_on_the_same_opening() -> None:
    games = pair_games("b", "a", first_index=0, pairs=4, tournament_seed=1, openings=BOOK)
    assert [g.game_index for g in games] == list(range(8))
    for first, second in zip(games[::2], games[1::2]):
        assert (first.black, first.white) == (second.white, second.black) == ("a", "b")
        assert first.opening == second.opening
    assert [g.opening for g in games[::2]] == [(0,), (1,), (2,), (0,)]  # the book cycles


def test_continuation_keeps_indices_openings_and_seeds() -> None:
    whole = pair_games("a", "b", first_index=0, pairs=3, tournament_seed=5, openings=BOOK)
    assert pair_games("a", "b", first_index=2, pairs=2, tournament_seed=5, openings=BOOK) == whole[2:]
    with pytest.raises(SchedulingError, match="even index"):
        pair_games("a", "b", first_index=1, pairs=1, tournament_seed=5, openings=BOOK)
    with pytest.raises(SchedulingError, match="empty"):
        pair_games("a", "b", first_index=0, pairs=1, tournament_seed=5, openings=[])


def test_seeds_are_deterministic_distinct_and_fit_a_bigint() -> None:
    seeds = {game_seed(s, p, i) for s in (0, 1) for p in ("a vs b", "a vs c") for i in range(50)}
    assert len(seeds) == 200
    assert all(0 <= s < 2**63 for s in seeds)
    assert game_seed(3, "a vs b", 7) == game_seed(3, "a vs b", 7)


def test_played_game_rates_as_a_result() -> None:
    game = pair_games("a", "b", first_index=0, pairs=1, tournament_seed=0, openings=[()])[0]
    assert game.played("a").result().winner == "a"
    assert game.played(None).result().winner is None
    with pytest.raises(ValueError):
        game.played("c").result()
