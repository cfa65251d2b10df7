"""Adaptive pairing: prefers the widest interval, deterministic, spreads a batch, beats round-robin."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from arena.ratings import PairCounts, RatingInputError, compute_ratings
from arena.ratings.adaptive import next_pairs, prior_covariance
from arena.ratings.simulate import games_to_target, round_robin_schedule

NAMES = ["a", "b", "c", "d", "e"]


def pool_with_newcomer() -> list[PairCounts]:
    """a-d play each other a lot; e has two games only, so e's interval is by far the widest."""
    counts = []
    for i, x in enumerate(NAMES[:4]):
        for y in NAMES[i + 1 : 4]:
            counts += [PairCounts(x, y, 20, 18, 2), PairCounts(y, x, 19, 19, 2)]
    counts.append(PairCounts("e", "a", 1, 1, 0))
    return counts


def test_prefers_pairs_with_the_widest_interval() -> None:
    ratings = compute_ratings(pool_with_newcomer())
    assert max(ratings.stderr, key=ratings.stderr.get) == "e"
    pairs = next_pairs(ratings, count=4)
    assert all("e" in pair for pair in pairs)
    # Counts in give the same answer as the fitted ratings.
    assert [frozenset(p) for p in next_pairs(pool_with_newcomer(), count=4)] == [frozenset(p) for p in pairs]


def test_anchor_player_is_never_the_target() -> None:
    ratings = compute_ratings(pool_with_newcomer(), anchor="e")
    assert ratings.stderr["e"] == 0.0
    pairs = next_pairs(ratings, count=3)
    assert len(pairs) == 3 and all(a != b for a, b in pairs)


def test_deterministic_valid_and_colour_balanced() -> None:
    ratings = compute_ratings(pool_with_newcomer())
    first = next_pairs(ratings, count=12, counts=pool_with_newcomer())
    assert first == next_pairs(ratings, count=12, counts=pool_with_newcomer())
    assert len(first) == 12
    for black, white in first:
        assert black != white and black in NAMES and white in NAMES
    # Without counts, repeated picks of a pair alternate colours within the batch.
    batch = next_pairs(ratings, count=12)
    blacks = Counter(batch)
    for x, y in {tuple(sorted(p)) for p in batch}:
        assert abs(blacks[(x, y)] - blacks[(y, x)]) <= 1
    # With counts, the side that had black less often in that pair gets it: e had black twice vs a.
    ea = [p for p in first if set(p) == {"a", "e"}]
    assert ea and ea[0] == ("a", "e")


def test_large_batch_is_spread_over_pairs() -> None:
    ratings = compute_ratings(pool_with_newcomer())
    pairs = next_pairs(ratings, count=60)
    per_pair = Counter(frozenset(p) for p in pairs)
    assert len(per_pair) >= 3
    assert max(per_pair.values()) < 0.7 * len(pairs)
    assert {p for pair in pairs for p in pair} == set(NAMES)


def test_restricted_players_and_target_se() -> None:
    ratings = compute_ratings(pool_with_newcomer())
    pairs = next_pairs(ratings, ["a", "b", "c"], count=5)
    assert all(set(p) <= {"a", "b", "c"} for p in pairs)
    # Everyone already below a huge target: no gain anywhere, still valid pairs.
    assert len(next_pairs(ratings, count=2, target_se=1e6)) == 2
    with pytest.raises(RatingInputError):
        next_pairs(ratings, ["a", "zz"], count=1)
    with pytest.raises(RatingInputError):
        next_pairs(ratings, count=-1)
    assert next_pairs(ratings, count=0) == []


def test_no_games_starts_from_the_prior() -> None:
    pairs = next_pairs([], ["a", "b", "c", "d"], count=6)
    assert len(Counter(frozenset(p) for p in pairs)) >= 4  # spread, not one pair six times
    cov = prior_covariance(4)
    assert np.allclose(cov.sum(axis=0), 0.0)


def test_sherman_morrison_matches_a_refit() -> None:
    """The predicted stderr after one more game agrees with a refit including the game's information."""
    base = pool_with_newcomer()
    ratings = compute_ratings(base)
    # Add many drawn-to-expectation games between e and b: the refit stderr drops as predicted.
    k = math.log(10) / 400
    c = ratings.covariance
    i, j = ratings.players.index("e"), ratings.players.index("b")
    u = np.zeros(len(c))
    u[i], u[j] = 1.0, -1.0
    w = 20 * k * k * 0.25
    cu = c @ u
    predicted = c - w * np.outer(cu, cu) / (1 + w * u @ cu)
    refit = compute_ratings(base + [PairCounts("e", "b", 5, 5, 0), PairCounts("b", "e", 5, 5, 0)])
    assert math.sqrt(predicted[i, i]) == pytest.approx(refit.stderr["e"], rel=0.1)


def test_round_robin_schedule_covers_every_ordered_pair() -> None:
    schedule = round_robin_schedule(5)
    assert len(schedule) == 20 and len(set(schedule)) == 20


def test_adaptive_needs_fewer_games_than_uniform_in_simulation() -> None:
    totals = {"uniform": 0, "adaptive": 0}
    for seed in range(4):
        true_elo = np.random.default_rng(100 + seed).normal(0.0, 200.0, 6)
        for policy in totals:
            result = games_to_target(true_elo, policy, 60.0, np.random.default_rng(seed))
            assert result.reached and result.max_half_width <= 60.0
            totals[policy] += result.games
    assert totals["adaptive"] < totals["uniform"]
