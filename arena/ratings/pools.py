"""Simulated pool families with known Elos, and the coverage and bias of their 95% intervals.

The pools a training run really produces, next to the textbook one (`arena bench ratings
--pools all`, and at a reduced size tests/arena/ratings/test_pool_coverage.py):

* ladder: 12 checkpoints spanning 1,200-1,500 Elo (steps of 60-190), an engine anchor 50-250
  Elo above the best; every checkpoint plays 20 games against the anchor (a gauntlet) and 20
  against the next checkpoint.  Fitted anchored at the anchor's true Elo.
* draws: a round robin of 8 players from N(0, 150^2), 10 games per pair, draws with probability
  0.3 * 4 p (1 - p) (30% between equals) taken evenly off both wins, so the expected score stays
  exactly logistic.  Fitted mean-centred.
* visits: one network at 1, 2, 4, ..., 256 visits (gains of about 250 Elo per doubling at 1
  visit, shrinking by 15% per doubling), an engine anchor placed anywhere in that span; every
  rung plays 24 games against the anchor and 12 against the next rung.  Anchored.
* normal: a round robin of 8 players from N(0, 200^2), 10 games per pair, 5% draws.  Centred.
* unrated: a round robin of 6 players from N(0, 200^2) (10 games per pair) with a "champ" 900
  Elo above the best (6 games against each of two of them) and a "dud" 900 below the worst
  (likewise), plus a separate round robin of 3 players that never meets them.  Anchored at the
  first of the six.  Coverage counts only the players the fit did not flag (the others have no
  finite true interval: their ratings are the prior's, see `estimability`); the flagged ones
  are checked finite.

Every game: colour advantage 30 Elo, outcome by `simulate.play_games`.  Coverage is the
fraction of (player, trial) whose true rating, on the fit's own gauge (the anchor held at its
true Elo, or both truth and fit centred on the pool mean), lies inside `Ratings.ci95`; the
anchor itself is not counted.  Signed errors are (estimate - truth) / stderr.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .bradley_terry import compute_ratings
from .simulate import pair_counts, play_games

__all__ = ["FAMILIES", "FamilyResult", "SimulatedPool", "family_coverage"]


@dataclass(frozen=True, eq=False)
class SimulatedPool:
    true_elo: np.ndarray  # [n]
    counts: np.ndarray  # [n, n, 3] (black, white, {black win, white win, draw})
    anchor: int | None  # index held at its true Elo; None: compare mean-centred


def _play(true_elo: np.ndarray, schedule: list[tuple[int, int, int]], rng: np.random.Generator,
          draw_rate: float = 0.05) -> np.ndarray:
    """Counts of `schedule` (i, j, games): colours alternate within each pair."""
    black = np.array([i if g % 2 == 0 else j for i, j, k in schedule for g in range(k)], dtype=np.intp)
    white = np.array([j if g % 2 == 0 else i for i, j, k in schedule for g in range(k)], dtype=np.intp)
    n = len(true_elo)
    outcome = play_games(true_elo, black, white, rng, colour_elo=30.0, draw_rate=draw_rate)
    return np.bincount((black * n + white) * 3 + outcome, minlength=n * n * 3).reshape(n, n, 3)


def _round_robin(players: range | list[int], games: int) -> list[tuple[int, int, int]]:
    players = list(players)
    return [(a, b, games) for i, a in enumerate(players) for b in players[i + 1:]]


def ladder(rng: np.random.Generator) -> SimulatedPool:
    steps = rng.uniform(60.0, 190.0, 11)
    steps *= rng.uniform(1200.0, 1500.0) / steps.sum()
    elo = np.concatenate([[0.0], np.cumsum(steps)])
    true = np.append(elo, elo[-1] + rng.uniform(50.0, 250.0))  # the anchor, last
    a = len(elo)
    schedule = [(i, a, 20) for i in range(a)] + [(i, i + 1, 20) for i in range(a - 1)]
    return SimulatedPool(true, _play(true, schedule, rng), a)


def draws(rng: np.random.Generator) -> SimulatedPool:
    true = rng.normal(0.0, 150.0, 8)
    return SimulatedPool(true, _play(true, _round_robin(range(8), 10), rng, draw_rate=0.3), None)


def visits(rng: np.random.Generator) -> SimulatedPool:
    gains = 250.0 * 0.85 ** np.arange(8) + rng.normal(0.0, 20.0, 8)
    rungs = np.concatenate([[0.0], np.cumsum(gains)])
    true = np.append(rungs, rng.uniform(0.0, rungs[-1]))
    a = len(rungs)
    schedule = [(i, a, 24) for i in range(a)] + [(i, i + 1, 12) for i in range(a - 1)]
    return SimulatedPool(true, _play(true, schedule, rng), a)


def normal(rng: np.random.Generator) -> SimulatedPool:
    true = rng.normal(0.0, 200.0, 8)
    return SimulatedPool(true, _play(true, _round_robin(range(8), 10), rng), None)


def unrated(rng: np.random.Generator) -> SimulatedPool:
    main = rng.normal(0.0, 200.0, 6)
    true = np.concatenate([main, [main.max() + 900.0, main.min() - 900.0], rng.normal(0.0, 200.0, 3)])
    top, bottom = np.argsort(main)[[-1, -2]], np.argsort(main)[[0, 1]]
    schedule = _round_robin(range(6), 10) + _round_robin(range(8, 11), 10)
    schedule += [(6, int(i), 6) for i in top] + [(7, int(i), 6) for i in bottom]
    return SimulatedPool(true, _play(true, schedule, rng), 0)


FAMILIES: dict[str, Callable[[np.random.Generator], SimulatedPool]] = {
    "ladder": ladder, "draws": draws, "visits": visits, "normal": normal, "unrated": unrated}


@dataclass(frozen=True)
class FamilyResult:
    coverage: float  # fraction of counted (player, trial) inside the 95% interval
    mean_abs_err: float  # Elo
    mean_signed_err_se: float  # mean of (estimate - truth) / stderr
    counted: int  # (player, trial) counted
    flagged: int  # (player, trial) the fit flagged (not counted)
    all_finite: bool  # every rating and stderr finite, flagged players included


def family_coverage(family: str, trials: int, seed: int = 0, *, prior_games: float = 2.0) -> FamilyResult:
    """Fit `trials` pools of `family` (see the module doc) and measure its intervals against the truth."""
    make = FAMILIES[family]
    hits, abs_err, z = [], [], []
    flagged = 0
    finite = True
    for rng in np.random.default_rng(seed).spawn(trials):
        pool = make(rng)
        n = len(pool.true_elo)
        names = [f"p{i}" for i in range(n)]
        anchor = None if pool.anchor is None else names[pool.anchor]
        anchor_elo = 0.0 if pool.anchor is None else float(pool.true_elo[pool.anchor])
        ratings = compute_ratings(pair_counts(names, pool.counts), players=names, anchor=anchor,
                                  anchor_elo=anchor_elo, prior_games=prior_games)
        truth = pool.true_elo if anchor is not None else pool.true_elo - pool.true_elo.mean()
        for i, name in enumerate(names):
            est, se = ratings.elo[name], ratings.stderr[name]
            finite &= bool(np.isfinite(est) and np.isfinite(se))
            if name == anchor:
                continue
            if ratings.flags.get(name):
                flagged += 1
                continue
            lo, hi = ratings.ci95(name)
            hits.append(lo <= truth[i] <= hi)
            abs_err.append(abs(est - truth[i]))
            z.append((est - truth[i]) / se)
    return FamilyResult(float(np.mean(hits)), float(np.mean(abs_err)), float(np.mean(z)), len(hits), flagged,
                        finite)
