"""Formats: pairing counts, colour balance, shared openings, continuation, adaptive and SPRT stopping."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from arena.ratings import compute_ratings
from arena.ratings.adaptive import half_width
from arena.ratings.simulate import play_games
from arena.scheduling import (
    PlannedGame,
    PlayedGame,
    SchedulingError,
    TournamentConfig,
    parse_config,
    decision,
    initial_games,
    next_games,
    static_pairings,
)

BOOK = [(40,), (30,), (50,)]


def players(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "kind": "checkpoint", "ref": "net", "visits": 16} for n in names]


def config(**fields: Any) -> TournamentConfig:
    return parse_config({"name": "t", "participants": players("a", "b", "c", "d"), **fields})


def check_pairs(games: list[PlannedGame]) -> None:
    """Every game 2k has its colour-swapped partner 2k+1 on the same opening and vice versa."""
    by_id = {(g.pairing, g.game_index): g for g in games}
    assert len(by_id) == len(games)
    for (pairing, index), game in by_id.items():
        partner = by_id[(pairing, index ^ 1)]
        assert (partner.black, partner.white) == (game.white, game.black)
        assert partner.opening == game.opening
        assert pairing == " vs ".join(sorted((game.black, game.white)))


def test_round_robin_plays_every_pair_with_balanced_colours() -> None:
    games = initial_games(config(format="round-robin", games_per_pairing=4), BOOK)
    check_pairs(games)
    assert Counter(g.pairing for g in games) == {p: 4 for p in
                                                 ("a vs b", "a vs c", "a vs d", "b vs c", "b vs d", "c vs d")}
    assert Counter(g.black for g in games) == Counter(g.white for g in games) == {p: 6 for p in "abcd"}
    # Pair by pair across pairings: the first 12 games are every pairing's first pair.
    assert {g.pairing for g in games[:12]} == {g.pairing for g in games}
    assert {g.game_index for g in games[:12]} == {0, 1}


def test_gauntlet_plays_candidates_against_the_pool_only() -> None:
    made = config(format="gauntlet", candidates=["a", "b"], participants=players("a", "b", "x", "y", "z"))
    games = initial_games(made, BOOK)
    check_pairs(games)
    assert len(static_pairings(made)) == 6 and len(games) == 12
    assert all(("a" in (g.black, g.white)) != ("b" in (g.black, g.white)) for g in games)


def test_visits_ladder_pairs_near_rungs_and_extra_players_with_every_rung() -> None:
    made = config(format="visits-ladder", checkpoint="s", visits=[16, 32, 64, 128, 256],
                  participants=[{"name": "gnugo", "kind": "engine", "ref": "gnugo"}], games_per_pairing=2)
    pairings = static_pairings(made)
    rung_pairs = [p for p in pairings if "gnugo" not in p]
    assert rung_pairs == [("s@16v", "s@32v"), ("s@16v", "s@64v"), ("s@32v", "s@64v"), ("s@32v", "s@128v"),
                          ("s@64v", "s@128v"), ("s@64v", "s@256v"), ("s@128v", "s@256v")]
    assert len(pairings) == 7 + 5
    check_pairs(initial_games(made, BOOK))


def test_same_config_same_plan_and_the_seed_matters() -> None:
    made = config(format="round-robin", games_per_pairing=6, seed=11)
    assert initial_games(made, BOOK) == initial_games(config(format="round-robin", games_per_pairing=6, seed=11), BOOK)
    other = initial_games(made.model_copy(update={"seed": 12}), BOOK)
    assert {g.seed for g in other}.isdisjoint({g.seed for g in initial_games(made, BOOK)})


def test_static_formats_complete_a_partial_plan_without_repeating_it() -> None:
    made = config(format="round-robin", games_per_pairing=4)
    whole = initial_games(made, BOOK)
    done = {"a vs b": 4, "a vs c": 2}
    rest = next_games(made, [], done, BOOK)
    assert sorted(rest, key=str) == sorted([g for g in whole if g.game_index >= done.get(g.pairing, 0)], key=str)
    assert next_games(made, [], Counter(g.pairing for g in whole), BOOK) == []


@pytest.mark.parametrize(("scheduled", "message"), [({"a vs b": 3}, "even"), ({"a vs z": 2}, "not a pairing")])
def test_scheduled_counts_are_checked(scheduled: Mapping[str, int], message: str) -> None:
    with pytest.raises(SchedulingError, match=message):
        next_games(config(format="round-robin"), [], scheduled, BOOK)


# ------------------------------------------------------------------------------ simulated play


def play(games: list[PlannedGame], elo: Mapping[str, float], rng: np.random.Generator) -> list[PlayedGame]:
    """Results drawn from the Bradley-Terry model the ratings fit (arena.ratings.simulate)."""
    names = sorted(elo)
    strengths = np.array([elo[n] for n in names])
    black = np.array([names.index(g.black) for g in games])
    white = np.array([names.index(g.white) for g in games])
    outcome = play_games(strengths, black, white, rng)
    return [g.played(g.black if o == 0 else g.white if o == 1 else None) for g, o in zip(games, outcome)]


def run(made: TournamentConfig, elo: Mapping[str, float], seed: int = 0) -> tuple[list[PlayedGame], Counter[str]]:
    """Schedule, play and feed back until the format wants no more games."""
    rng = np.random.default_rng(seed)
    finished: list[PlayedGame] = []
    scheduled: Counter[str] = Counter()
    games = initial_games(made, BOOK)
    while games:
        check_pairs(games)
        for g in games:
            assert g.game_index >= scheduled[g.pairing]  # indices continue after the existing ones
        scheduled.update(g.pairing for g in games)
        finished += play(games, elo, rng)
        games = next_games(made, finished, scheduled, BOOK)
    return finished, scheduled


ELO = {"a": 0.0, "b": 80.0, "c": 160.0, "d": 240.0}


def test_adaptive_stops_once_every_interval_is_narrow_enough() -> None:
    made = config(format="adaptive", target_ci=150.0, batch_pairs=4)
    finished, scheduled = run(made, ELO)
    ratings = compute_ratings([g.result() for g in finished], players=list(ELO))
    assert max(half_width(s) for s in ratings.stderr.values()) <= 150.0
    assert sum(scheduled.values()) == len(finished) < 400
    # One batch fewer would not have reached the target: it stopped as soon as it could.
    fewer = compute_ratings([g.result() for g in finished[:-8]], players=list(ELO))
    assert max(half_width(s) for s in fewer.stderr.values()) > 150.0


def test_adaptive_respects_the_game_budget() -> None:
    made = config(format="adaptive", target_ci=1.0, game_budget=30, batch_pairs=4)
    finished, scheduled = run(made, ELO)
    assert sum(scheduled.values()) == len(finished) == 30
    assert len(initial_games(made, BOOK)) == 8  # the first batch is one batch, not a round-robin


def sprt_config(**fields: Any) -> TournamentConfig:
    return config(format="sprt", participants=players("base", "cand"), candidates=["cand"], **fields)


@pytest.mark.parametrize(("gap", "verdict"), [(300.0, "accept"), (-300.0, "reject")])
def test_sprt_stops_at_the_right_decision(gap: float, verdict: str) -> None:
    made = sprt_config(elo0=0, elo1=30, batch_pairs=5, max_games=2000)
    finished, scheduled = run(made, {"base": 0.0, "cand": gap})
    gate = decision(made, finished)
    assert gate.verdict == verdict
    assert len(finished) < 200
    # It stopped at the first batch that decided.
    assert decision(made, finished[:-10]).verdict is None


def test_sprt_stops_undecided_at_max_games() -> None:
    made = sprt_config(elo0=0, elo1=5, batch_pairs=4, max_games=20)
    finished, scheduled = run(made, {"base": 0.0, "cand": 0.0})
    assert sum(scheduled.values()) == 20
    gate = decision(made, finished)
    assert gate.verdict == "inconclusive" and gate.pairs == 10 and gate.lower < gate.llr < gate.upper


def test_sprt_counts_complete_pairs_only() -> None:
    made = sprt_config(elo0=0, elo1=30)
    games = initial_games(made, BOOK)[:3]
    finished = [g.played("cand") for g in games]
    gate = decision(made, finished)
    assert gate.pairs == 1 and gate.sprt.counts == (0, 0, 0, 0, 1) and gate.verdict is None
    with pytest.raises(SchedulingError, match="sprt"):
        decision(config(format="round-robin"), finished)


def test_finished_games_count_pairs_from_either_players_view() -> None:
    from arena.scheduling import FinishedGames, PlayedGame
    from arena.scheduling.plan import pairing_name

    pairing = pairing_name("zed", "abe")  # "abe vs zed": abe is Black in even games
    games = [PlayedGame(pairing, 0, "abe", "zed", "zed"), PlayedGame(pairing, 1, "zed", "abe", "zed"),  # zed 2
             PlayedGame(pairing, 2, "abe", "zed", None), PlayedGame(pairing, 3, "zed", "abe", "abe"),  # zed 1/2
             PlayedGame(pairing, 4, "abe", "zed", "abe")]  # its pair is not complete: not counted
    finished = FinishedGames.of(games)
    assert finished.games == 5
    assert finished.pentanomial("zed", "abe") == (0, 1, 0, 0, 1)
    assert finished.pentanomial("abe", "zed") == (1, 0, 0, 1, 0)
    counts = finished.pair_counts
    assert (counts["abe", "zed"].wins_black, counts["abe", "zed"].wins_white, counts["abe", "zed"].draws) == (1, 1, 1)
    assert (counts["zed", "abe"].wins_black, counts["zed", "abe"].wins_white, counts["zed", "abe"].draws) == (1, 1, 0)
    with pytest.raises(Exception, match="winner"):
        FinishedGames.of([PlayedGame(pairing, 0, "abe", "zed", "nobody")])
