"""Bradley–Terry fit against truth: simulated pools, interval coverage, choix, edge cases."""

from __future__ import annotations

import math
import time

import choix
import numpy as np
import pytest

from arena.ratings import GameResult, PairCounts, RatingInputError, aggregate, compute_ratings
from arena.ratings.simulate import pair_counts, play_games

K = math.log(10.0) / 400.0


def simulate(
    true_elo: np.ndarray, n_games: int, colour_elo: float, rng: np.random.Generator, draw_rate: float = 0.1
) -> np.ndarray:
    """Counts array [n, n, 3] (black, white, {black win, white win, draw}) of random pairings.

    Draw probability draw_rate * 4 p (1 - p), split evenly off both wins so that the expected
    black score is exactly the logistic p (the half-draw model is then correct in the mean).
    """
    n = len(true_elo)
    black = rng.integers(0, n, n_games)
    white = (black + rng.integers(1, n, n_games)) % n
    outcome = play_games(true_elo, black, white, rng, colour_elo=colour_elo, draw_rate=draw_rate)
    return np.bincount((black * n + white) * 3 + outcome, minlength=n * n * 3).reshape(n, n, 3)


def to_pairs(counts: np.ndarray, names: list[str]) -> list[PairCounts]:
    return pair_counts(names, counts)


def names_of(n: int) -> list[str]:
    return [f"p{i:03d}" for i in range(n)]


def test_recovers_known_elos_and_colour_advantage() -> None:
    rng = np.random.default_rng(1)
    truth = np.linspace(-300, 300, 8)
    names = names_of(8)
    ratings = compute_ratings(to_pairs(simulate(truth, 4000, 30.0, rng), names), anchor="p000", anchor_elo=-300.0)
    assert ratings.games == 4000
    assert ratings.elo["p000"] == -300.0 and ratings.stderr["p000"] == 0.0
    for name, true in zip(names[1:], truth[1:]):
        assert abs(ratings.elo[name] - true) < 4 * ratings.stderr[name], (name, ratings.elo[name], true)
        assert 10 < ratings.stderr[name] < 60
    assert abs(ratings.colour_advantage_elo - 30.0) < 4 * ratings.colour_advantage_stderr
    assert ratings.colour_advantage_stderr < 10.0
    lo, hi = ratings.ci95("p004")
    assert lo < ratings.elo["p004"] < hi


def test_default_scale_is_pool_mean_zero_and_anchor_only_shifts() -> None:
    rng = np.random.default_rng(2)
    pairs = to_pairs(simulate(np.linspace(-200, 200, 5), 1500, 20.0, rng), names_of(5))
    centred = compute_ratings(pairs)
    anchored = compute_ratings(pairs, anchor="p002", anchor_elo=1000.0)
    assert abs(sum(centred.elo.values())) < 1e-6
    for a in centred.players:
        assert anchored.elo[a] - centred.elo[a] == pytest.approx(1000.0 - centred.elo["p002"], abs=1e-6)
        for b in centred.players:
            d1, s1 = centred.difference(a, b)
            d2, s2 = anchored.difference(a, b)
            assert d1 == pytest.approx(d2, abs=1e-6) and s1 == pytest.approx(s2, abs=1e-6)
    # stderr relative to the anchor is the stderr of the difference with the anchor
    assert anchored.stderr["p004"] == pytest.approx(centred.difference("p004", "p002")[1], rel=1e-9)


def test_likelihood_of_superiority() -> None:
    rng = np.random.default_rng(3)
    ratings = compute_ratings(to_pairs(simulate(np.array([0.0, 10.0, 400.0]), 900, 0.0, rng), names_of(3)))
    assert ratings.likelihood_of_superiority("p002", "p000") > 0.999
    assert ratings.likelihood_of_superiority("p000", "p002") < 0.001
    los = ratings.likelihood_of_superiority("p001", "p000")
    assert 0.0 < los < 1.0
    assert los + ratings.likelihood_of_superiority("p000", "p001") == pytest.approx(1.0)
    assert ratings.likelihood_of_superiority("p001", "p001") == 0.5


def test_interval_coverage_over_simulated_pools() -> None:
    """95% intervals (relative to the anchor) cover the truth in 92-98% of cases, 300 pools."""
    rng = np.random.default_rng(20261121)
    names = names_of(6)
    hits = total = colour_hits = 0
    pools = 300
    for _ in range(pools):
        truth = rng.uniform(-300, 300, 6)
        ratings = compute_ratings(to_pairs(simulate(truth, 600, 30.0, rng), names), anchor="p000")
        for i in range(1, 6):
            lo, hi = ratings.ci95(names[i])
            hits += lo <= truth[i] - truth[0] <= hi
            total += 1
        lo, hi = ratings.colour_ci95()
        colour_hits += lo <= 30.0 <= hi
    coverage = hits / total
    print(f"\ncoverage of 95% intervals: {coverage:.4f} ({hits}/{total}), colour {colour_hits / pools:.3f}")
    assert 0.92 <= coverage <= 0.98
    assert 0.90 <= colour_hits / pools <= 0.99


def _choix_params(counts: np.ndarray) -> np.ndarray:
    """choix MLE with draws split: each decisive game twice, each draw once each way."""
    n = counts.shape[0]
    data = []
    for i in range(n):
        for j in range(n):
            wb, ww, dr = (int(v) for v in counts[i, j])
            data += [(i, j)] * (2 * wb) + [(j, i)] * (2 * ww) + [(i, j), (j, i)] * dr
    params = choix.ilsr_pairwise(n, data, alpha=0.0, max_iter=1000, tol=1e-12)
    return params * 400.0 / math.log(10.0)


@pytest.mark.parametrize("prior_games", [0.0, 1e-9])
def test_point_estimates_equal_choix(prior_games: float) -> None:
    rng = np.random.default_rng(4)
    truth = np.linspace(-250, 250, 10)
    counts = simulate(truth, 3000, 0.0, rng)
    names = names_of(10)
    # The plain MLE (no Firth penalty) is what choix computes; a connected pool gets no prior at all.
    ours = compute_ratings(to_pairs(counts, names), colour_advantage=False, prior_games=prior_games,
                           bias_reduction=False)
    theirs = _choix_params(counts)
    theirs -= theirs.mean()
    worst = max(abs(ours.elo[name] - theirs[i]) for i, name in enumerate(names))
    print(f"\nmax |ours - choix| = {worst:.2e} Elo (prior_games={prior_games})")
    assert worst < 1e-3


def test_unbeaten_player_stays_finite() -> None:
    games = [GameResult("champ", "a", "champ")] * 20 + [GameResult("b", "champ", "champ")] * 20
    games += [GameResult("a", "b", "a"), GameResult("b", "a", "b"), GameResult("a", "b", None)]
    ratings = compute_ratings(games)
    assert all(math.isfinite(v) for v in ratings.elo.values())
    assert all(math.isfinite(v) and v > 0 for v in ratings.stderr.values())
    assert ratings.elo["champ"] > ratings.elo["a"] + 200
    with pytest.raises(RatingInputError, match="maximum-likelihood estimate does not exist"):
        compute_ratings(games, prior_games=0.0)


def test_all_games_won_by_black_keeps_colour_advantage_finite() -> None:
    games = [GameResult("a", "b", "a"), GameResult("b", "a", "b")] * 10
    ratings = compute_ratings(games)
    assert math.isfinite(ratings.colour_advantage_elo) and ratings.colour_advantage_elo > 200
    assert ratings.elo["a"] == pytest.approx(ratings.elo["b"], abs=1e-6)


def test_disconnected_groups_stay_finite() -> None:
    games = [GameResult("a", "b", "a"), GameResult("b", "a", None), GameResult("a", "b", "b")] * 5
    games += [GameResult("x", "y", "x")] * 7 + [GameResult("y", "x", "x")] * 3
    ratings = compute_ratings(games, players=["a", "b", "x", "y", "idle"])
    for p in ("a", "b", "x", "y", "idle"):
        assert math.isfinite(ratings.elo[p]) and math.isfinite(ratings.stderr[p])
    assert ratings.elo["x"] > ratings.elo["y"]
    # the idle roster player is rated by the prior alone: centre of the pool, very wide interval
    assert ratings.stderr["idle"] > 150
    lo, hi = ratings.ci95("x")
    assert hi - lo < 4 * 1.96 * ratings.stderr["idle"]


def test_empty_pool_is_a_plain_error_not_nan() -> None:
    with pytest.raises(RatingInputError, match="no games to rate"):
        compute_ratings([])
    with pytest.raises(RatingInputError, match="no games to rate"):
        compute_ratings([PairCounts("a", "b", 0, 0, 0)])
    with pytest.raises(RatingInputError, match="no games to rate"):
        compute_ratings({})


def test_bad_requests_are_named() -> None:
    games = [GameResult("a", "b", "a"), GameResult("b", "a", "a")]
    with pytest.raises(RatingInputError, match="unknown anchor player 'gnugo'"):
        compute_ratings(games, anchor="gnugo")
    with pytest.raises(RatingInputError, match="unknown player 'b'"):
        compute_ratings(games, players=["a", "c"])
    with pytest.raises(RatingInputError, match="prior_games"):
        compute_ratings(games, prior_games=-1.0)
    with pytest.raises(RatingInputError, match="draw_model"):
        compute_ratings(games, draw_model="davidson")
    ratings = compute_ratings(games)
    with pytest.raises(RatingInputError, match="unknown player 'zz'"):
        ratings.difference("a", "zz")
    with pytest.raises(RatingInputError, match="bootstrap"):
        ratings.ci95("a", method="bootstrap")


def test_results_counts_and_aggregate_give_the_same_fit() -> None:
    games = [GameResult("a", "b", "a"), GameResult("b", "a", "a"), GameResult("b", "c", None)]
    games += [GameResult("c", "a", "c"), GameResult("a", "c", "a"), GameResult("b", "c", "b")]
    r1 = compute_ratings(games)
    r2 = compute_ratings(aggregate(games))
    r3 = compute_ratings(list(aggregate(games).values()))
    for p in r1.players:
        assert r1.elo[p] == pytest.approx(r2.elo[p]) == pytest.approx(r3.elo[p])


def test_bootstrap_intervals_agree_roughly_with_hessian() -> None:
    rng = np.random.default_rng(5)
    pairs = to_pairs(simulate(np.linspace(-200, 200, 4), 2000, 30.0, rng), names_of(4))
    ratings = compute_ratings(pairs, anchor="p000", bootstrap=200, seed=7)
    for p in ratings.players[1:]:
        blo, bhi = ratings.ci95(p, method="bootstrap")
        hlo, hhi = ratings.ci95(p)
        assert 0.7 < (bhi - blo) / (hhi - hlo) < 1.3
        assert blo < ratings.elo[p] < bhi
    assert ratings.bootstrap_colour_ci is not None
    lo, hi = ratings.bootstrap_colour_ci
    assert lo < ratings.colour_advantage_elo < hi


def test_fit_100_players_100k_games() -> None:
    """Performance target < 2 s; timing printed, not asserted (shared, noisy machine)."""
    rng = np.random.default_rng(6)
    truth = rng.normal(0, 300, 100)
    names = names_of(100)
    pairs = to_pairs(simulate(truth, 100_000, 30.0, rng), names)
    start = time.perf_counter()
    ratings = compute_ratings(pairs, anchor="p000", anchor_elo=float(truth[0]))
    elapsed = time.perf_counter() - start
    print(f"\nfit 100 players / 100,000 games ({len(pairs)} pairs): {elapsed:.3f} s, {ratings.iterations} iters")
    assert ratings.games == 100_000
    errors = np.array([(ratings.elo[n] - t) / ratings.stderr[n] for n, t in zip(names[1:], truth[1:])])
    assert np.all(np.isfinite(errors)) and np.mean(np.abs(errors) < 1.96) > 0.85


def test_plain_mle_rejects_disconnected_groups_plainly() -> None:
    games = [GameResult("a", "b", "a"), GameResult("b", "a", "b")] * 3
    games += [GameResult("x", "y", "x"), GameResult("y", "x", "y")] * 3
    with pytest.raises(RatingInputError, match="does not exist"):
        compute_ratings(games, prior_games=0.0)


def _trio() -> list[PairCounts]:
    """A small connected pool with some draws: a, b, c, 10 games per ordered pair."""
    return [PairCounts(x, y, 5, 4, 1) for x in "abc" for y in "abc" if x != y]


def test_newcomer_with_two_draws_gets_an_interval_like_one_win_one_loss() -> None:
    # Each colour of a swapped pair is its own one-game cell: weighting a cell by its own draws gave
    # a drawn one-game cell no variance at all, and the newcomer 0 +- 0 Elo to its opponent.
    drew = compute_ratings(_trio() + [PairCounts("x", "a", 0, 0, 1), PairCounts("a", "x", 0, 0, 1)])
    split = compute_ratings(_trio() + [PairCounts("x", "a", 1, 0, 0), PairCounts("a", "x", 1, 0, 0)])
    (d_drew, se_drew), (d_split, se_split) = drew.difference("x", "a"), split.difference("x", "a")
    assert drew.flags["x"] is None and split.flags["x"] is None
    assert abs(d_drew) < 1e-6 and abs(d_split) < 1e-6
    assert math.isfinite(se_drew) and se_drew > 100.0  # two games cannot place a player within +-200 Elo
    assert 0.8 < se_drew / se_split < 1.25


def test_pool_of_only_draws_keeps_finite_nonzero_intervals() -> None:
    ratings = compute_ratings([PairCounts("x", "a", 0, 0, 1), PairCounts("a", "x", 0, 0, 1)])
    diff, se = ratings.difference("x", "a")
    assert abs(diff) < 1e-6 and math.isfinite(se) and se > 50.0


def test_draws_change_only_the_intervals_not_the_ratings() -> None:
    # The same black scores, once as draws and once as half as many wins each way: equal estimates.
    drawn = compute_ratings(_trio() + [PairCounts("x", "a", 1, 1, 2)])
    decisive = compute_ratings(_trio() + [PairCounts("x", "a", 2, 2, 0)])
    for p in "abcx":
        assert drawn.elo[p] == pytest.approx(decisive.elo[p], abs=1e-6)
    assert drawn.stderr["x"] < decisive.stderr["x"]  # a draw's score varies less than a decisive game's


def test_interval_coverage_of_a_newcomer_with_two_games_and_many_draws() -> None:
    """A newcomer 100 Elo above p0 plays it twice (one game each colour) in a 4-player pool with 30%
    draws between equals.  Each cell's own draws gave coverage 0.88 here (drawn one-game cells weigh
    nothing, so intervals collapse); the pool's draw rate gives ~1.0.  300 pools, ~210 of them with
    the newcomer rated by its games (unflagged): the binomial sd of the coverage is ~0.015 at 0.95."""
    rng = np.random.default_rng(20260517)
    names = ["p0", "p1", "p2", "p3", "x"]
    truth = np.array([0.0, -100.0, 100.0, 50.0, 100.0])
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4) for _ in range(5)] + [(4, 0)]
    black = np.array([b for i, j in pairs for b in (i, j)])
    white = np.array([w for i, j in pairs for w in (j, i)])
    hits = counted = 0
    for _ in range(300):
        counts = np.zeros((5, 5, 3), dtype=int)
        np.add.at(counts, (black, white, play_games(truth, black, white, rng, draw_rate=0.3)), 1)
        ratings = compute_ratings(pair_counts(names, counts), players=names, anchor="p0")
        if ratings.flags["x"]:
            continue  # unbeaten or winless: rated by the prior, not the games
        diff, se = ratings.difference("x", "p0")
        assert se > 0.0
        counted += 1
        hits += abs(diff - 100.0) <= 1.959963984540054 * se
    print(f"\nnewcomer coverage {hits / counted:.3f} over {counted}")
    assert counted > 150
    assert hits / counted >= 0.92
