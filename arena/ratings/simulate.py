"""Simulated pools with known Elos: games needed to reach a target interval width (numpy only).

`games_to_target` plays a pool of known strengths in rounds of `batch` games, chosen either by
a uniform round-robin or by the adaptive policy (`next_pairs`), refits `compute_ratings` after
every round (mean-centred, colour advantage fitted, default prior) and stops as soon as every
player's 95% half-width (1.96 * stderr, relative to the pool mean) is <= the target.  It
returns the games played and whether each true relative Elo (true - mean(true)) lies inside
the final 95% interval.  Note the coverage is measured at a data-dependent stopping time
(optional stopping), which is part of what the check is meant to catch.

Game model: P(black scores) follows the logistic curve with the true colour advantage; a draw
happens with probability draw_rate * 4 p (1 - p) and is taken evenly off both wins, so the
expected black score is exactly p (the model `compute_ratings` fits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .adaptive import half_width, next_pairs
from .bradley_terry import ELO_PER_NAT, Ratings, compute_ratings
from .records import PairCounts, RatingInputError

__all__ = ["SimulationResult", "checkpoint_pool", "games_to_target", "play_games", "round_robin_schedule"]

K = 1.0 / ELO_PER_NAT


@dataclass(frozen=True)
class SimulationResult:
    policy: str
    games: int
    reached: bool  # False if max_games ran out first
    covered: np.ndarray  # bool per player: true relative Elo inside the final 95% interval
    max_half_width: float


def checkpoint_pool(n: int, step: float = 60.0) -> np.ndarray:
    """True Elos of n successive checkpoints: 0, step, 2 step, ..."""
    return step * np.arange(n, dtype=float)


def play_games(
    true_elo: np.ndarray, black: np.ndarray, white: np.ndarray, rng: np.random.Generator,
    *, colour_elo: float = 30.0, draw_rate: float = 0.05,
) -> np.ndarray:
    """Outcomes of games (black[i] vs white[i]): 0 black win, 1 white win, 2 draw (vectorised)."""
    p = 1.0 / (1.0 + np.exp(-K * (true_elo[black] - true_elo[white] + colour_elo)))
    pd = draw_rate * 4.0 * p * (1.0 - p)
    u = rng.random(len(black))
    return np.where(u < p - pd / 2, 0, np.where(u < p + pd / 2, 2, 1))


def round_robin_schedule(n: int) -> list[tuple[int, int]]:
    """Every ordered pair once, consecutive games of a pair with swapped colours, pairs interleaved."""
    order = []
    for i in range(n):
        for j in range(i + 1, n):
            order.append((i, j))
    # Interleave so each stretch of games touches every player about equally.
    order.sort(key=lambda ij: ((ij[1] - ij[0]) % n, ij[0]))
    return [g for i, j in order for g in ((i, j), (j, i))]


def pair_counts(names: list[str], counts: np.ndarray) -> list[PairCounts]:
    """counts [n, n, 3] (black, white, {black win, white win, draw}) as PairCounts, row-major."""
    bi, wi = np.nonzero(counts.sum(axis=2))
    return [PairCounts(names[i], names[j], int(counts[i, j, 0]), int(counts[i, j, 1]), int(counts[i, j, 2]))
            for i, j in zip(bi, wi)]


def games_to_target(
    true_elo: np.ndarray,
    policy: str,
    target_half_width: float,
    rng: np.random.Generator,
    *,
    batch: int = 16,
    colour_elo: float = 30.0,
    draw_rate: float = 0.05,
    max_games: int = 200_000,
    worst: int | None = None,
    aim_at_target: bool = True,
) -> SimulationResult:
    """Play rounds of `batch` games by `policy` ('uniform' or 'adaptive') until the target is met.

    The adaptive policy minimises the summed excess of the players' standard errors over the
    target (`next_pairs(..., worst=n, target_se=target / 1.96)`) unless `worst` /
    `aim_at_target` say otherwise; the first round is the round-robin for both policies.
    """
    if policy not in ("uniform", "adaptive"):
        raise RatingInputError(f"unknown policy {policy!r}: use 'uniform' or 'adaptive'")
    true_elo = np.asarray(true_elo, dtype=float)
    n = len(true_elo)
    names = [f"p{i}" for i in range(n)]
    counts = np.zeros((n, n, 3), dtype=np.int64)
    schedule = round_robin_schedule(n)
    pos = 0
    played = 0
    ratings: Ratings | None = None
    while played < max_games:
        if policy == "uniform" or ratings is None:
            # The first round is the same kind for both policies: round-robin.
            idx = [schedule[(pos + t) % len(schedule)] for t in range(batch)]
            pos += batch
            black = np.array([i for i, _ in idx])
            white = np.array([j for _, j in idx])
        else:
            pairs = next_pairs(ratings, count=batch, counts=pair_counts(names, counts),
                                worst=n if worst is None else worst,
                                target_se=target_half_width / half_width(1.0) if aim_at_target else None)
            black = np.array([int(b[1:]) for b, _ in pairs])
            white = np.array([int(w[1:]) for _, w in pairs])
        outcome = play_games(true_elo, black, white, rng, colour_elo=colour_elo, draw_rate=draw_rate)
        np.add.at(counts, (black, white, outcome), 1)
        played += batch
        ratings = compute_ratings(pair_counts(names, counts), players=names)
        se = np.array([ratings.stderr[p] for p in names])
        if half_width(float(se.max())) <= target_half_width:
            break
    assert ratings is not None
    se = np.array([ratings.stderr[p] for p in names])
    est = np.array([ratings.elo[p] for p in names])
    truth = true_elo - true_elo.mean()
    covered = np.abs(est - truth) <= half_width(1.0) * se
    reached = half_width(float(se.max())) <= target_half_width
    return SimulationResult(policy, played, reached, covered, half_width(float(se.max())))
