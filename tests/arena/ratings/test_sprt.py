"""Tests of the GSPRT gate (arena.ratings.sprt): known values, validation, order independence,
and realised error rates by vectorised simulation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from arena.ratings.sprt import (
    PENTANOMIAL_SCORES,
    TRINOMIAL_SCORES,
    SprtResult,
    _constrained_mle,
    elo_to_score,
    gsprt_llr,
    pentanomial_from_pairs,
    sprt_bounds,
    sprt_pentanomial,
    sprt_trinomial,
    trinomial_from_games,
)

# ------------------------------------------------------------------------------------------
# Independent reference: brute-force maximisation of the constrained trinomial likelihood.


def _max_loglik_trinomial(w: int, d: int, l_: int, s: float) -> float:
    """max over (pw, pd, pl) with pw + pd/2 = s, sum 1 of w log pw + d log pd + l log pl.

    One free parameter t = pd in (0, min(2s, 2(1-s))): dense grid, then golden-section.
    """

    def loglik(t):
        t = np.asarray(t, dtype=float)
        return w * np.log(s - t / 2) + d * np.log(t) + l_ * np.log(1 - s - t / 2)

    top = min(2 * s, 2 * (1 - s))
    grid = np.linspace(0, top, 20001)[1:-1]
    k = int(np.argmax(loglik(grid)))
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    g = (math.sqrt(5) - 1) / 2
    for _ in range(200):
        c, e = b - g * (b - a), a + g * (b - a)
        if loglik(c) > loglik(e):
            b = e
        else:
            a = c
    return float(loglik((a + b) / 2))


@pytest.mark.parametrize(
    "w,d,l_,elo0,elo1",
    [(120, 200, 100, 0, 10), (30, 5, 12, -10, 25), (7, 40, 9, 0, 5), (500, 300, 450, 0, 40)],
)
def test_trinomial_llr_matches_brute_force(w, d, l_, elo0, elo1):
    expected = _max_loglik_trinomial(w, d, l_, elo_to_score(elo1)) - _max_loglik_trinomial(w, d, l_, elo_to_score(elo0))
    result = sprt_trinomial(w, d, l_, elo0=elo0, elo1=elo1)
    assert result.llr == pytest.approx(expected, rel=1e-7, abs=1e-8)


def test_pentanomial_llr_matches_scipy_optimizer():
    from scipy import optimize
    counts = np.array([11, 48, 103, 57, 17], dtype=float)
    a = PENTANOMIAL_SCORES

    def max_loglik(s):
        cons = [
            {"type": "eq", "fun": lambda p: p.sum() - 1},
            {"type": "eq", "fun": lambda p: p @ a - s},
        ]
        res = optimize.minimize(
            lambda p: -(counts * np.log(p)).sum(),
            counts / counts.sum(),
            constraints=cons,
            bounds=[(1e-9, 1)] * 5,
            method="SLSQP",
            options={"ftol": 1e-14, "maxiter": 500},
        )
        return -res.fun

    expected = max_loglik(elo_to_score(15)) - max_loglik(elo_to_score(-5))
    result = sprt_pentanomial(counts.astype(int), elo0=-5, elo1=15)
    assert result.llr == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_constrained_mle_is_a_constrained_maximum():
    rng = np.random.default_rng(1)
    counts = np.array([5.0, 31, 70, 40, 9])
    phat = counts / counts.sum()
    s = elo_to_score(30)
    p = _constrained_mle(phat[None, :], PENTANOMIAL_SCORES, s)[0]
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert p @ PENTANOMIAL_SCORES == pytest.approx(s, abs=1e-12)
    best = counts @ np.log(p)
    # Directions keeping sum and mean fixed: null space of [1; a].
    basis = np.linalg.svd(np.vstack([np.ones(5), PENTANOMIAL_SCORES]))[2][2:]
    for _ in range(200):
        q = p + 1e-3 * rng.normal(size=3) @ basis
        if (q > 0).all():
            assert counts @ np.log(q) < best


def test_llr_sign_and_normal_approximation():
    # 120 W / 200 D / 100 L, elo0=0, elo1=10: normal approx N (s1-s0)(2 shat - s0 - s1) / (2 var)
    w, d, l_ = 120, 200, 100
    n = w + d + l_
    shat = (w + d / 2) / n
    var = (w + d / 4) / n - shat**2
    s0, s1 = elo_to_score(0), elo_to_score(10)
    approx = n * (s1 - s0) * (2 * shat - s0 - s1) / (2 * var)
    assert sprt_trinomial(w, d, l_, elo0=0, elo1=10).llr == pytest.approx(approx, rel=0.02)
    assert sprt_trinomial(100, 200, 120, elo0=0, elo1=10).llr < 0


def test_bounds_decisions_and_result_fields():
    lower, upper = sprt_bounds(0.05, 0.1)
    assert lower == pytest.approx(math.log(0.1 / 0.95))
    assert upper == pytest.approx(math.log(0.9 / 0.05))
    strong = sprt_trinomial(700, 200, 300, elo0=0, elo1=20, alpha=0.05, beta=0.1)
    assert isinstance(strong, SprtResult)
    assert strong.decision == "H1" and strong.llr >= strong.upper
    assert (strong.games, strong.pairs, strong.counts, strong.model) == (1200, None, (700, 200, 300), "trinomial")
    assert (strong.lower, strong.upper) == pytest.approx((lower, upper))
    weak = sprt_pentanomial([60, 120, 150, 90, 30], elo0=0, elo1=20)
    assert weak.decision == "H0" and weak.llr <= weak.lower
    assert (weak.pairs, weak.games, weak.counts, weak.model) == (450, 900, (60, 120, 150, 90, 30), "pentanomial")
    middle = sprt_trinomial(10, 10, 10, elo0=0, elo1=20)
    assert middle.decision is None and middle.lower < middle.llr < middle.upper
    with pytest.raises(dataclasses.FrozenInstanceError):
        strong.llr = 0.0  # frozen


def test_no_games_gives_zero_not_nan():
    for result in (sprt_trinomial(0, 0, 0, elo0=0, elo1=5), sprt_pentanomial([0] * 5, elo0=0, elo1=5)):
        assert result.llr == 0.0 and result.decision is None and result.games == 0


def test_degenerate_counts_are_finite():
    for counts in ([0, 0, 10], [10, 0, 0], [0, 10, 0], [1000, 0, 1]):
        assert math.isfinite(sprt_trinomial(*counts, elo0=0, elo1=5).llr)
    assert sprt_trinomial(50, 0, 0, elo0=0, elo1=5).llr > 0
    assert sprt_trinomial(0, 0, 50, elo0=0, elo1=5).llr < 0
    assert math.isfinite(sprt_pentanomial([0, 0, 0, 0, 7], elo0=0, elo1=5).llr)


@pytest.mark.parametrize(
    "call,field",
    [
        (lambda: sprt_trinomial(-1, 0, 0, elo0=0, elo1=5), "wins"),
        (lambda: sprt_trinomial(0, 1.5, 0, elo0=0, elo1=5), "draws"),
        (lambda: sprt_trinomial(0, 0, -3, elo0=0, elo1=5), "losses"),
        (lambda: sprt_trinomial(1, 1, 1, elo0=5, elo1=5), "elo1"),
        (lambda: sprt_trinomial(1, 1, 1, elo0=5, elo1=0), "elo1"),
        (lambda: sprt_trinomial(1, 1, 1, elo0=0, elo1=5, alpha=0.5), "alpha"),
        (lambda: sprt_trinomial(1, 1, 1, elo0=0, elo1=5, alpha=0.0), "alpha"),
        (lambda: sprt_trinomial(1, 1, 1, elo0=0, elo1=5, beta=0.7), "beta"),
        (lambda: sprt_trinomial(1, 1, 1, elo0=float("nan"), elo1=5), "elo0"),
        (lambda: sprt_pentanomial([1, 2, 3, 4], elo0=0, elo1=5), "5 entries"),
        (lambda: sprt_pentanomial([1, 2, -3, 4, 5], elo0=0, elo1=5), "counts[2]"),
        (lambda: pentanomial_from_pairs([(1, 0.3)]), "pairs[0][1]"),
        (lambda: pentanomial_from_pairs([(1,)]), "pairs[0]"),
        (lambda: trinomial_from_games([1, 0, 2]), "scores[2]"),
    ],
)
def test_validation_names_the_field(call, field):
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_counting_helpers():
    assert trinomial_from_games([1, 0.5, 0, 1, 1.0, 0.5]) == (3, 2, 1)
    pairs = [(0, 0), (0.5, 0), (0, 0.5), (1, 0), (0, 1), (0.5, 0.5), (1, 0.5), (0.5, 1), (1, 1)]
    assert pentanomial_from_pairs(pairs) == (1, 2, 3, 2, 1)
    assert pentanomial_from_pairs([]) == (0, 0, 0, 0, 0)


def test_order_independence():
    rng = np.random.default_rng(7)
    games = list(rng.choice([0.0, 0.5, 1.0], size=400, p=[0.3, 0.35, 0.35]))
    pairs = [tuple(x) for x in rng.choice([0.0, 0.5, 1.0], size=(300, 2), p=[0.3, 0.35, 0.35])]
    ref_t = sprt_trinomial(*trinomial_from_games(games), elo0=0, elo1=10)
    ref_p = sprt_pentanomial(pentanomial_from_pairs(pairs), elo0=0, elo1=10)
    for _ in range(5):
        order = rng.permutation(len(games))
        assert sprt_trinomial(*trinomial_from_games([games[i] for i in order]), elo0=0, elo1=10) == ref_t
        order = rng.permutation(len(pairs))
        shuffled = [pairs[i][::-1] if rng.random() < 0.5 else pairs[i] for i in order]
        assert sprt_pentanomial(pentanomial_from_pairs(shuffled), elo0=0, elo1=10) == ref_p
    # Batches arriving out of order, summed: same counts, same LLR.
    halves = [pentanomial_from_pairs(pairs[150:]), pentanomial_from_pairs(pairs[:150])]
    summed = [x + y for x, y in zip(*halves)]
    assert sprt_pentanomial(summed, elo0=0, elo1=10).llr == ref_p.llr


def test_pentanomial_uses_pair_correlation():
    # Pairs where the opening decides: WL / LW dominate.  The pair scores are 1 (balanced)
    # far more often than independent games would give, so the pentanomial variance is small
    # and the evidence (same overall score) is stronger than the trinomial view of the games.
    counts = (2, 10, 150, 30, 8)  # pair score mean > 1
    penta = sprt_pentanomial(counts, elo0=0, elo1=20)
    # Game-level counts of the same pairs, taking every score-1 pair as WL (1 W + 1 L).
    wins, draws, losses = 8 * 2 + 30 + 150, 30 + 10, 2 * 2 + 10 + 150
    assert wins + draws + losses == 2 * sum(counts)  # 400 games
    tri = sprt_trinomial(wins, draws, losses, elo0=0, elo1=20)
    assert tri.games == penta.games
    assert penta.llr > tri.llr > 0


# ------------------------------------------------------------------------------------------
# Realised error rates.

RUNS = 400
TOLERANCE = 0.03
ALPHA = BETA = 0.05
ELO0, ELO1 = 0.0, 40.0
DRAW = 0.3


def _first_decisions(cum_counts: np.ndarray, scores: np.ndarray) -> tuple[float, float, float]:
    """(rate H1, rate H0, rate undecided) of sequential runs: cum_counts is (runs, steps, K)."""
    lower, upper = sprt_bounds(ALPHA, BETA)
    llr = gsprt_llr(cum_counts, scores, ELO0, ELO1)
    crossed = (llr >= upper) | (llr <= lower)
    decided = crossed.any(axis=1)
    first = np.argmax(crossed, axis=1)
    final = llr[np.arange(llr.shape[0]), first]
    h1 = decided & (final >= upper)
    h0 = decided & (final <= lower)
    return h1.mean(), h0.mean(), 1 - decided.mean()


def _simulate_trinomial(elo: float, rng: np.random.Generator, games: int) -> np.ndarray:
    s = elo_to_score(elo)
    probs = [1 - s - DRAW / 2, DRAW, s - DRAW / 2]  # loss, draw, win: mean score s
    outcomes = rng.choice(3, size=(RUNS, games), p=probs)
    return np.cumsum(np.eye(3, dtype=np.int32)[outcomes], axis=1)


def _simulate_pentanomial(elo: float, rng: np.random.Generator, pairs: int) -> np.ndarray:
    """Correlated pairs: each opening favours one side by a random bias delta in score.

    Game 1 is played with expected score s + delta, game 2 (colours swapped) with s - delta,
    so each pair's expected mean is exactly s but the two games are strongly anti-correlated.
    """
    s = elo_to_score(elo)
    delta = rng.uniform(-0.25, 0.25, size=(RUNS, pairs, 1))
    mean = np.concatenate([s + delta, s - delta], axis=2)  # (runs, pairs, 2)
    u = rng.random(size=mean.shape)
    win_p = mean - DRAW / 2
    game = np.where(u < win_p, 2, np.where(u < win_p + DRAW, 1, 0))  # 2 win, 1 draw, 0 loss
    pair_index = game.sum(axis=2)
    return np.cumsum(np.eye(5, dtype=np.int32)[pair_index], axis=1)


def test_realised_error_rates_trinomial():
    rng = np.random.default_rng(2024)
    h1_at_elo0, h0_at_elo0, open0 = _first_decisions(_simulate_trinomial(ELO0, rng, 1500), TRINOMIAL_SCORES)
    h1_at_elo1, h0_at_elo1, open1 = _first_decisions(_simulate_trinomial(ELO1, rng, 1500), TRINOMIAL_SCORES)
    print(f"trinomial: P(H1 | elo0)={h1_at_elo0:.4f} P(H0 | elo1)={h0_at_elo1:.4f} undecided={open0:.4f}/{open1:.4f}")
    assert h1_at_elo0 <= ALPHA + TOLERANCE
    assert h0_at_elo1 <= BETA + TOLERANCE
    assert h0_at_elo0 >= 0.85 and h1_at_elo1 >= 0.85  # and it does decide, correctly


def test_realised_error_rates_pentanomial():
    rng = np.random.default_rng(4202)
    h1_at_elo0, h0_at_elo0, open0 = _first_decisions(_simulate_pentanomial(ELO0, rng, 800), PENTANOMIAL_SCORES)
    h1_at_elo1, h0_at_elo1, open1 = _first_decisions(_simulate_pentanomial(ELO1, rng, 800), PENTANOMIAL_SCORES)
    print(f"pentanomial: P(H1 | elo0)={h1_at_elo0:.4f} P(H0 | elo1)={h0_at_elo1:.4f} undecided={open0:.4f}/{open1:.4f}")
    assert h1_at_elo0 <= ALPHA + TOLERANCE
    assert h0_at_elo1 <= BETA + TOLERANCE
    assert h0_at_elo0 >= 0.85 and h1_at_elo1 >= 0.85
