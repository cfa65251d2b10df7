r"""Adaptive pairing: which games to play next so that the widest rating intervals shrink fastest.

`next_pairs(ratings_or_counts, players, count=...)` returns `count` (black, white) pairs chosen
greedily by expected shrinkage of the players' standard errors (numpy only; pure function).

Maths (optimal design for the Bradley–Terry model; Fisher information of one logistic
observation, e.g. Agresti, *Categorical Data Analysis* §5.5 / McCullagh & Nelder §4.4.2).
With k = ln 10 / 400 and predicted score p of a against b, one more game between a and b adds
observed information

    w_ab = k^2 p (1 - p)   (Elo^-2)   on the difference r_a - r_b,

i.e. the precision matrix gains the rank-one term w_ab u u^T with u = e_a - e_b.  (p(1 - p) is
averaged over the two colour assignments, using the fitted colour advantage; the colour
parameter itself is left out of the update, which is exact for colour-balanced play.)  The
covariance after the game follows from the Sherman–Morrison identity (Sherman & Morrison 1950):

    C' = C - w (C u)(C u)^T / (1 + w u^T C u).

This works directly on the *reported* covariance `Ratings.covariance` (C = T Sigma T^T for the
anchor/mean-centring map T of `compute_ratings`): u is a contrast, so T^T u = u and
T Sigma u = C u, and u^T C u = Var(r_a - r_b) whatever the anchor.  The updated diagonal is
therefore exactly the squared `Ratings.stderr` one more game is expected to give, and the
"95% half-width" is 1.96 * stderr *relative to the anchor* (anchor given; the anchor's own
half-width is 0 and never chosen for) or *relative to the pool mean* (anchor=None) -- the same
meaning as `Ratings.ci95`.

Target quantity (minimised).  The sum of the `worst` largest standard errors (worst=1: the
widest interval), plus 1e-3 times the sum of all of them, which only breaks ties (two players
equally widest; a pair that helps both).  With `target_se` given, each standard error counts
only by its excess over the target, max(se - target_se, 0), so players already narrow enough
draw no games.  Each of the `count` picks takes the candidate pair with the largest expected
reduction and then applies its update to C, so a batch spreads over pairs by diminishing
returns instead of repeating the single best pair (a greedy design, the usual sequential
approximation to D/A/E-optimal design; cf. Fedorov 1972, *Theory of Optimal Experiments*).

Colours.  Pairs come back as (black, white).  Within each unordered pair, black goes to the
player who has had black fewer times in that pair so far (from the counts when given, plus the
batch picked so far); on a tie, to the player listed first in the roster.  So repeated picks of a
pair alternate colours and the scheduler can play the list as it is.

Cost per pick: O(n * P) for n players and P candidate pairs (no refit; refit between batches).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from .bradley_terry import ELO_PER_NAT, Ratings, compute_ratings
from .records import GameResult, PairCounts, RatingInputError, as_pair_counts

__all__ = ["half_width", "next_pairs", "prior_covariance"]

K = 1.0 / ELO_PER_NAT  # ln 10 / 400


def prior_covariance(n: int, *, prior_games: float = 2.0, anchor_index: int | None = None) -> np.ndarray:
    """Covariance of a pool with no games yet, each player `prior_games` draws from a common centre:
    a spread-out start for the first pairing (`compute_ratings` itself needs one game)."""
    if n < 1 or prior_games <= 0:
        raise RatingInputError("a pool without games needs n >= 1 players and prior_games > 0")
    sigma = np.eye(n) / (K * K * prior_games * 0.25)
    if anchor_index is None:
        t = np.eye(n) - 1.0 / n
    else:
        t = np.eye(n)
        t[:, anchor_index] -= 1.0
    return t @ sigma @ t.T


def _objective(se: np.ndarray, worst: int, target_se: float | None) -> np.ndarray:
    """Target quantity per column of se (players x candidates): smaller is better."""
    x = se if target_se is None else np.maximum(se - target_se, 0.0)
    top = -np.sort(-x, axis=0)[:worst]
    return top.sum(axis=0) + 1e-3 * x.sum(axis=0)


def next_pairs(
    ratings_or_counts: Ratings | Iterable[GameResult | PairCounts] | Mapping[tuple[str, str], PairCounts],
    players: Iterable[str] | None = None,
    *,
    count: int,
    counts: Iterable[GameResult | PairCounts] | Mapping[tuple[str, str], PairCounts] | None = None,
    worst: int = 1,
    target_se: float | None = None,
    anchor: str | None = None,
    prior_games: float = 2.0,
) -> list[tuple[str, str]]:
    """The next `count` games to play, as (black, white) pairs (see the module docstring).

    ratings_or_counts: a fitted `Ratings`, or results/counts (fitted here with `anchor` and
        `prior_games`; no games at all gives the prior-only covariance, i.e. a spread-out start).
    players: the players that may be scheduled (default: everyone in the pool); the objective
        covers the same players.  Players in the list but not in a given `Ratings` are rejected.
    counts: results/counts used only for colour balance when a `Ratings` is passed (when
        counts are passed as the first argument they are used for both).
    worst: minimise the sum of the `worst` largest standard errors (1: the widest interval).
    target_se: if given, only standard errors above it count (1.96 * target_se = half-width).
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise RatingInputError(f"count must be an integer >= 0, got {count!r}")
    if isinstance(ratings_or_counts, Ratings):
        ratings = ratings_or_counts
        names = ratings.players
        cov = np.asarray(ratings.covariance, dtype=float)
        elo = np.array([ratings.elo[p] for p in names])
        colour = ratings.colour_advantage_elo
        anchor = ratings.anchor
    else:
        counts = as_pair_counts(ratings_or_counts, players=None if players is None else list(players))
        roster = list(dict.fromkeys(players)) if players is not None else None
        if any(c.games > 0 for c in counts.values()):
            ratings = compute_ratings(counts, players=roster, anchor=anchor, prior_games=prior_games)
            names = ratings.players
            cov = ratings.covariance
            elo = np.array([ratings.elo[p] for p in names])
            colour = ratings.colour_advantage_elo
        else:
            if not roster:
                raise RatingInputError("no games and no players: nothing to pair")
            names = tuple(roster)
            if anchor is not None and anchor not in names:
                raise RatingInputError(f"unknown anchor player {anchor!r}: not in the pool")
            cov = prior_covariance(len(names), prior_games=prior_games,
                                   anchor_index=None if anchor is None else names.index(anchor))
            elo = np.zeros(len(names))
            colour = 0.0
    index = {p: i for i, p in enumerate(names)}
    chosen = list(dict.fromkeys(players)) if players is not None else list(names)
    for p in chosen:
        if p not in index:
            raise RatingInputError(f"unknown player {p!r}: not in this pool")
    if len(chosen) < 2:
        raise RatingInputError("need at least two players to pair")
    if worst < 1:
        raise RatingInputError(f"worst must be >= 1, got {worst!r}")
    if count == 0:
        return []

    sel = np.array([index[p] for p in chosen])
    m = len(sel)
    ia, ib = np.triu_indices(m, 1)
    a, b = sel[ia], sel[ib]
    # Information per game, p(1 - p) averaged over both colour assignments.
    diff = elo[a] - elo[b]
    w = np.zeros(len(a))
    for sign in (1.0, -1.0):
        p = 1.0 / (1.0 + np.exp(-K * (diff + sign * colour)))
        w += 0.5 * K * K * p * (1.0 - p)

    c = np.array(cov, dtype=float, copy=True)
    worst = min(worst, m)
    blacks: dict[tuple[str, str], int] = {}
    if counts is not None:
        for key, pc in as_pair_counts(counts).items():
            blacks[key] = blacks.get(key, 0) + pc.games
    out: list[tuple[str, str]] = []
    for _ in range(count):
        cu = c[np.ix_(sel, a)] - c[np.ix_(sel, b)]  # (m, P): C u for each candidate, on chosen rows
        v = c[a, a] + c[b, b] - 2.0 * c[a, b]  # u^T C u
        factor = w / (1.0 + w * v)
        var_new = np.diag(c)[sel][:, None] - factor[None, :] * cu * cu
        se_now = np.sqrt(np.clip(np.diag(c)[sel], 0.0, None))
        score = _objective(np.sqrt(np.clip(var_new, 0.0, None)), worst, target_se)
        base = _objective(se_now[:, None], worst, target_se)[0]
        gain = base - score
        best = int(np.argmax(gain))  # first maximum: deterministic (roster order)
        i, j = int(a[best]), int(b[best])
        full = c[:, i] - c[:, j]
        c -= factor[best] * np.outer(full, full)
        pa, pb = names[i], names[j]
        if blacks.get((pb, pa), 0) < blacks.get((pa, pb), 0):
            pa, pb = pb, pa
        blacks[(pa, pb)] = blacks.get((pa, pb), 0) + 1
        out.append((pa, pb))
    return out


def half_width(se: float) -> float:
    """95% half-width in Elo of a standard error (1.96 * se), as `Ratings.ci95` uses."""
    return 1.959963984540054 * se

