"""Head-to-head records, score-based Elo intervals, and Elo-vs-visits from a joint fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from arena.ratings import (
    GameResult,
    PairCounts,
    RatingInputError,
    compute_ratings,
    elo_vs_visits,
    head_to_head,
    score_elo_interval,
)
from tests.arena.ratings.test_bradley_terry import simulate, to_pairs


def test_records_count_both_colours() -> None:
    games = [GameResult("a", "b", "a")] * 3 + [GameResult("b", "a", "a")] * 2
    games += [GameResult("b", "a", "b"), GameResult("a", "b", None), GameResult("c", "a", "c")]
    h2h = head_to_head(games)
    ab = h2h.record("a", "b")
    assert (ab.wins, ab.losses, ab.draws, ab.games) == (5, 1, 1, 7)
    assert ab.score == pytest.approx(5.5 / 7)
    ba = h2h.record("b", "a")
    assert (ba.wins, ba.losses, ba.draws) == (1, 5, 1)
    assert ba.elo_diff == pytest.approx(-ab.elo_diff)
    assert ba.elo_lo == pytest.approx(-ab.elo_hi) and ba.elo_hi == pytest.approx(-ab.elo_lo)
    never = h2h.record("b", "c")
    assert never.games == 0 and never.score is None and never.elo_diff is None
    assert h2h.players == ("a", "b", "c")


def test_score_elo_and_its_interval() -> None:
    diff, lo, hi, adjusted = score_elo_interval(30, 10, 0)
    assert diff == pytest.approx(400 * math.log10(3))
    assert not adjusted
    se_logit = math.sqrt(0.75 * 0.25 / 40) / (0.75 * 0.25)
    half = 1.959963984540054 * se_logit * 400 / math.log(10)
    assert (lo, hi) == pytest.approx((diff - half, diff + half))
    # draws shrink the score variance (trinomial), so the interval narrows
    _, lo_d, hi_d, _ = score_elo_interval(20, 0, 40)  # same score 0.75 over 60 games...
    _, lo_w, hi_w, _ = score_elo_interval(45, 15, 0)  # ...as 45-15 without draws
    assert hi_d - lo_d < hi_w - lo_w


def test_continuity_fix_for_perfect_scores_and_all_draws() -> None:
    diff, lo, hi, adjusted = score_elo_interval(10, 0, 0)
    assert adjusted and all(math.isfinite(v) for v in (diff, lo, hi))
    assert 0 < lo < diff < hi
    diff0, lo0, _hi0, adjusted0 = score_elo_interval(0, 10, 0)
    assert adjusted0 and diff0 == pytest.approx(-diff) and lo0 == pytest.approx(-hi)
    d, lo_d, hi_d, adj_d = score_elo_interval(0, 0, 6)
    assert adj_d and d == pytest.approx(0.0) and lo_d < 0 < hi_d
    with pytest.raises(RatingInputError, match="no games"):
        score_elo_interval(0, 0, 0)


def test_score_interval_coverage() -> None:
    """The logit/delta-method interval covers the true difference ~95% of the time."""
    rng = np.random.default_rng(11)
    true_diff = 120.0
    p = 1.0 / (1.0 + 10 ** (-true_diff / 400))
    pd = 0.1 * 4 * p * (1 - p)
    reps, n = 2000, 150
    outcomes = rng.multinomial(n, [p - pd / 2, 1 - p - pd / 2, pd], size=reps)
    hits = 0
    for w, l, d in outcomes:
        _, lo, hi, _ = score_elo_interval(int(w), int(l), int(d))
        hits += lo <= true_diff <= hi
    print(f"\nhead-to-head score interval coverage: {hits / reps:.3f}")
    assert 0.92 <= hits / reps <= 0.98


def test_with_ratings_adds_model_difference_and_superiority() -> None:
    rng = np.random.default_rng(12)
    names = ["p000", "p001", "p002", "p003"]
    pairs = to_pairs(simulate(np.array([0.0, 50.0, 100.0, 300.0]), 2000, 30.0, rng), names)
    ratings = compute_ratings(pairs, anchor="p000")
    h2h = head_to_head(pairs, ratings)
    rec = h2h.record("p003", "p000")
    diff, se = ratings.difference("p003", "p000")
    assert rec.model_elo_diff == pytest.approx(diff) and rec.model_elo_stderr == pytest.approx(se)
    assert rec.likelihood_of_superiority > 0.99
    # the direct score estimate and the model agree within their (combined) uncertainty
    direct_se = (rec.elo_hi - rec.elo_lo) / (2 * 1.96)
    assert abs(rec.elo_diff - diff) < 4 * math.hypot(direct_se, se)
    wins = h2h.matrix("wins")
    assert np.isnan(wins[0, 0]) and wins[3, 0] == rec.wins
    assert (
        np.nansum(h2h.matrix("wins"))
        == np.nansum(h2h.matrix("losses"))
        == sum(p.wins_black + p.wins_white for p in pairs)
    )
    with pytest.raises(RatingInputError, match="unknown player"):
        head_to_head([GameResult("p000", "zz", "zz")], ratings)
    with pytest.raises(RatingInputError, match="unknown player"):
        h2h.record("p000", "zz")


def test_elo_vs_visits_from_a_joint_fit() -> None:
    rng = np.random.default_rng(13)
    visits = [16, 64, 256, 1024]
    truth = np.array([0.0, 150.0, 300.0, 420.0, 100.0, 350.0])  # 4 visit counts + 2 reference players
    names = [f"ckpt@v{v}" for v in visits] + ["ref-a", "ref-b"]
    pairs = to_pairs(simulate(truth, 6000, 30.0, rng), names)
    ratings = compute_ratings(pairs, anchor="ref-a", anchor_elo=100.0)
    curve = elo_vs_visits(ratings, {v: f"ckpt@v{v}" for v in reversed(visits)})
    assert [pt.visits for pt in curve] == visits
    for pt, true in zip(curve, truth[:4]):
        _visits, elo, lo, hi = pt
        assert lo < elo < hi
        se = (hi - lo) / (2 * 1.96)
        assert abs(elo - true) < 4 * se
    assert curve[-1].elo > curve[0].elo + 300
    with pytest.raises(RatingInputError, match="unknown player 'ckpt@v4096'"):
        elo_vs_visits(ratings, {4096: "ckpt@v4096"})
    with pytest.raises(RatingInputError, match="visit count must be a positive integer"):
        elo_vs_visits(ratings, {0: "ckpt@v16"})


def test_head_to_head_accepts_counts() -> None:
    h2h = head_to_head({("a", "b"): PairCounts("a", "b", 2, 1, 1)})
    assert h2h.record("a", "b").score == pytest.approx(2.5 / 4)
