"""Interval coverage per pool family at a reduced size, and finite, flagged unrateable players."""

from __future__ import annotations

import math

import numpy as np
import pytest

from arena.ratings import GameResult, compute_ratings
from arena.ratings.estimability import estimability
from arena.ratings.pools import FAMILIES, family_coverage

TRIALS = 24  # 200+ in `arena bench ratings --pools all`


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_coverage_and_bias(family: str) -> None:
    """About 200-300 counted intervals per family: the binomial spread of the coverage is ~0.013,
    and intervals of one pool are correlated, so the band is wider than the bench's [0.92, 0.98]."""
    r = family_coverage(family, TRIALS, seed=11)
    print(f"\n{family}: coverage {r.coverage:.3f} over {r.counted}, |err| {r.mean_abs_err:.0f} Elo, "
          f"signed {r.mean_signed_err_se:+.3f} se, {r.flagged} flagged")
    assert r.all_finite
    assert 0.88 <= r.coverage <= 0.995
    assert abs(r.mean_signed_err_se) < 0.35
    if family == "unrated":
            assert r.flagged >= 4 * TRIALS  # the separate trio always, champ and dud nearly always


def test_unbeaten_winless_and_disconnected_are_finite_and_flagged() -> None:
    games = [GameResult("a", "b", "a"), GameResult("b", "a", "a"), GameResult("a", "b", None),
             GameResult("b", "c", "b"), GameResult("c", "b", "b"), GameResult("c", "a", "c"),
             GameResult("a", "c", "a"), GameResult("b", "c", "c")] * 3
    games += [GameResult("champ", "a", "champ"), GameResult("b", "champ", "champ")] * 4
    games += [GameResult("dud", "c", "c"), GameResult("c", "dud", "c")] * 4
    games += [GameResult("x", "y", "x"), GameResult("y", "x", "y")] * 2
    ratings = compute_ratings(games, players=["a", "b", "c", "champ", "dud", "x", "y", "idle"])
    assert ratings.flags == {"a": None, "b": None, "c": None, "champ": "unbeaten", "dud": "winless",
                             "x": "disconnected", "y": "disconnected", "idle": "disconnected"}
    for p in ratings.players:
        assert math.isfinite(ratings.elo[p]) and 0 < ratings.stderr[p] < 1000
    assert ratings.elo["champ"] > max(ratings.elo[p] for p in "abc") + 100
    assert ratings.elo["dud"] < min(ratings.elo[p] for p in "abc") - 100
    # the rated group is untouched by the prior: the same as fitting it alone
    alone = compute_ratings([g for g in games if {g.black, g.white} <= set("abc")])
    shift = ratings.elo["a"] - alone.elo["a"]
    assert ratings.elo["b"] - alone.elo["b"] == pytest.approx(shift, abs=25)


def test_chain_flags_the_middle_as_separated() -> None:
    # p0 always beats p1, p1 always beats p2: no group of two or more, every player flagged.
    black = np.array([0, 1])
    white = np.array([1, 2])
    games = np.array([5.0, 5.0])
    est = estimability(3, black, white, games, score=games.copy())
    assert est.flags == ("unbeaten", "separated", "winless")
    assert np.allclose(est.contrasts.sum(axis=1), 0.0)


def test_connected_pool_gets_no_prior_and_stays_the_mle() -> None:
    games = [GameResult("a", "b", "a"), GameResult("b", "a", "a"), GameResult("b", "c", "b"),
             GameResult("c", "a", "c"), GameResult("a", "c", "a"), GameResult("c", "b", "b")] * 4
    with_prior = compute_ratings(games, bias_reduction=False, colour_advantage=False)
    plain = compute_ratings(games, bias_reduction=False, prior_games=0.0, colour_advantage=False)
    assert set(with_prior.flags.values()) == {None}
    for p in plain.players:
        assert with_prior.elo[p] == pytest.approx(plain.elo[p], abs=1e-6)
        assert with_prior.stderr[p] == pytest.approx(plain.stderr[p], rel=1e-6)


def test_draws_narrow_the_intervals_by_their_variance() -> None:
    wins = [GameResult("a", "b", "a"), GameResult("b", "a", "b")] * 10
    draws = [GameResult("a", "b", None), GameResult("b", "a", None)] * 10
    with_draws = compute_ratings(wins + draws, colour_advantage=False)
    as_wins = compute_ratings(wins * 2, colour_advantage=False)
    # 40 games at p = 1/2: half of them draws have variance 1/4 x 0 ... the sandwich sees half the spread
    ratio = with_draws.stderr["a"] / as_wins.stderr["a"]
    assert ratio == pytest.approx(math.sqrt(0.5), rel=0.05)
