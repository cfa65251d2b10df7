"""Adaptive pairing vs round-robin, interval coverage, and fit speed: `arena bench ratings`.

* uniform_games / adaptive_games: medians over `trials` of the games needed (in rounds of 16,
  refitting after each) until every player's 95% half-width (1.96 * stderr relative to the pool
  mean, as `Ratings.ci95`) is <= `target_ci` Elo.  Each trial draws one pool of `players` true
  Elos from N(0, 200^2) (colour advantage 30 Elo, draw rate 5%) and plays it with both
  policies on independent game streams: a paired comparison.
* saving = 1 - adaptive_games / uniform_games.
* ci_coverage: the fraction of true relative Elos (true - pool mean) inside the final 95%
  intervals, pooled over all players, all trials and *both* policies, at the stopping time.
* fit_s_100k_games: seconds for one `compute_ratings` (from `PairCounts`, including
  aggregation) of 100 players (N(0, 200^2)) and 100,000 random games; median of 3.

`benchmark_pools` (`--pools all`): the coverage and bias of the 95% intervals per pool family of
`arena.ratings.pools` (wide anchored ladders, 30% draws, visits ladders, N(0, 200^2) round robins,
pools with unbeaten, winless and disconnected players), `trials` pools each.
"""

from __future__ import annotations

import time

import numpy as np

from arena.ratings import PairCounts, compute_ratings
from arena.ratings.pools import FAMILIES, family_coverage
from arena.ratings.simulate import games_to_target, play_games


def _fit_seconds(rng: np.random.Generator, players: int = 100, games: int = 100_000, repeats: int = 3) -> float:
    true_elo = rng.normal(0.0, 200.0, players)
    black = rng.integers(0, players, games)
    white = (black + rng.integers(1, players, games)) % players
    outcome = play_games(true_elo, black, white, rng)
    counts = np.zeros((players, players, 3), dtype=np.int64)
    np.add.at(counts, (black, white, outcome), 1)
    names = [f"p{i}" for i in range(players)]
    records = [PairCounts(names[i], names[j], int(counts[i, j, 0]), int(counts[i, j, 1]), int(counts[i, j, 2]))
               for i, j in zip(*np.nonzero(counts.sum(axis=2)))]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        compute_ratings(records)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def benchmark_ratings(players: int = 8, target_ci: float = 30.0, trials: int = 100, seed: int = 0) -> dict:
    """Games to reach `target_ci` (uniform vs adaptive), coverage, and fit time (see module doc)."""
    root = np.random.default_rng(seed)
    games = {"uniform": [], "adaptive": []}
    covered = []
    reached = True
    for trial_seq in root.spawn(trials):
        pool_rng, *policy_rngs = trial_seq.spawn(3)
        true_elo = pool_rng.normal(0.0, 200.0, players)
        for policy, rng in zip(("uniform", "adaptive"), policy_rngs):
            result = games_to_target(true_elo, policy, target_ci, rng)
            games[policy].append(result.games)
            covered.append(result.covered)
            reached &= result.reached
    uniform = float(np.median(games["uniform"]))
    adaptive = float(np.median(games["adaptive"]))
    return {
        "bench": "ratings",
        "players": players,
        "target_ci": target_ci,
        "trials": trials,
        "uniform_games": uniform,
        "adaptive_games": adaptive,
        "saving": round(1.0 - adaptive / uniform, 4),
        "ci_coverage": round(float(np.mean(np.concatenate(covered))), 4),
        "all_reached": bool(reached),
        "fit_s_100k_games": round(_fit_seconds(np.random.default_rng(seed + 1)), 4),
    }


POOL_NAMES = ("all", *FAMILIES)


def benchmark_pools(pools: str = "all", trials: int = 200, seed: int = 0) -> dict:
    """Coverage, mean |error| (Elo) and mean signed error (stderrs) per family (see module doc)."""
    names = list(FAMILIES) if pools == "all" else [pools]
    families = {}
    for offset, name in enumerate(names):
        r = family_coverage(name, trials, seed + offset)
        families[name] = {"coverage": round(r.coverage, 4), "mean_abs_err": round(r.mean_abs_err, 1),
                          "mean_signed_err_se": round(r.mean_signed_err_se, 3), "counted": r.counted,
                          "flagged": r.flagged, "all_finite": r.all_finite}
    coverages = [f["coverage"] for f in families.values()]
    return {"bench": "ratings-pools", "families": families,
            "min_coverage": min(coverages), "max_coverage": max(coverages)}
