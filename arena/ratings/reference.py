r"""A calibrated reference scale: Elo relative to a named reference point, and equivalent strength
on a reference ladder.

A ladder is a set of engines at fixed strengths (GNU Go levels 1..10, KataGo at 1, 2, 4, ...
visits), rated in the same pool as the checkpoints. Two numbers follow from one fit:

* **Relative Elo**: r_p - r_ref, with the standard error of that contrast from the fit's covariance
  (`Ratings.difference`), so the reference point sits at exactly 0 whatever the fit's anchor.
* **Equivalent strength**: the rung parameter x (level, or visits) at which the ladder's Elo curve
  c(x) equals the checkpoint's rating, "plays like gnugo at level 7.3 [6.1, 8.4]".

The curve.  Rung Elos against x (x = level, or log2 visits: strength grows about linearly in
log visits) are made monotone by isotonic regression (pool-adjacent-violators,
equal weights; a pooled block sits at its rungs' mean x): noise in a small ladder
tournament must not make the inverse ambiguous. c(x) is then piecewise linear between the
blocks. Every point of c is a linear combination w(x)^T r of the fitted ratings, so

    d(x) = r_p - c(x) = (e_p - w(x))^T r,     Var d(x) = (e_p - w(x))^T Sigma (e_p - w(x))

uses the full covariance: the checkpoint's uncertainty and the rungs' together, with their
correlation (they were fitted on shared games).

Point estimate: the x with d(x) = 0 (c is strictly increasing, so there is one).  Interval: the
set of x where the checkpoint is not distinguishable from the curve at 95%, |d(x)| <= 1.96 sd(x)
(test inversion, as Fieller's interval for a ratio), solved on a fine grid with linear
refinement of the crossing.  Only inside the ladder's range: when that set reaches the lowest or
the top rung, the bound is reported as open ("<=1", ">=10"), and a rating above the top rung or
below the lowest one gives no point estimate, only "above the top rung" and the bound the data
support ("not distinguishable from the top rung", with the signed Elo interval to it, when that
interval holds 0). Nothing is ever extrapolated beyond the rungs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .bradley_terry import Z95, Ratings
from .records import RatingInputError

__all__ = ["Equivalent", "Ladder", "RelativeElo", "Rung", "equivalent_strength", "ladder_curve", "relative_elo"]

Parameter = Literal["level", "visits"]
_GRID_PER_SEGMENT = 64  # grid points per curve segment for the interval's crossings


@dataclass(frozen=True)
class Rung:
    player: str  # the rung's player name in the rating pool, e.g. "gnugo-l7"
    value: float  # its strength parameter: a level, or visits (> 0)


@dataclass(frozen=True)
class Ladder:
    """A reference ladder as the reference scale sees it (the service loads it from the server's
    configuration, `arena.reference_ladder`)."""

    name: str  # what "plays like <name> at ..." names, e.g. "gnugo" or "KataGo b6c96"
    parameter: Parameter  # "visits" is interpolated on log2 visits, "level" linearly
    rungs: tuple[Rung, ...]
    reference_point: str  # a player whose Elo is 0 on the relative scale (usually a rung)

    def x(self, value: float) -> float:
        return math.log2(value) if self.parameter == "visits" else float(value)

    def value(self, x: float) -> float:
        return 2.0 ** x if self.parameter == "visits" else float(x)


@dataclass(frozen=True)
class RelativeElo:
    reference_point: str
    elo: float  # r_player - r_reference_point
    stderr: float
    lo: float  # 95% interval
    hi: float


@dataclass(frozen=True)
class Equivalent:
    """Where a rating lies on the ladder. `value` is None outside the ladder's range (`position`
    "above" or "below": where the point estimate lies, even when its interval reaches inside);
    `low`/`high` None: the interval reaches past that end of the ladder."""

    rung_param: Parameter
    value: float | None
    low: float | None
    high: float | None
    position: Literal["inside", "above", "below"]
    text: str

    def as_dict(self) -> dict[str, object]:
        return {"rung_param": self.rung_param, "value": self.value, "low": self.low, "high": self.high,
                "position": self.position, "text": self.text}


def relative_elo(ratings: Ratings, player: str, reference_point: str) -> RelativeElo:
    """`player`'s Elo relative to `reference_point` (both in the pool), with its 95% interval."""
    diff, se = ratings.difference(player, reference_point)
    return RelativeElo(reference_point, diff, se, diff - Z95 * se, diff + Z95 * se)


@dataclass(frozen=True)
class _Curve:
    xs: np.ndarray  # [M] block positions, strictly increasing
    weights: np.ndarray  # [M, P] each block's Elo as weights over the fit's players
    elos: np.ndarray  # [M] weights @ ratings


def ladder_curve(ratings: Ratings, ladder: Ladder) -> list[tuple[float, float]]:
    """The monotone curve as (parameter value, Elo in the fit's scale), lowest first; empty when
    fewer than two rungs are in the pool."""
    curve = _curve(ratings, ladder)
    return [] if curve is None else [(ladder.value(x), float(e)) for x, e in zip(curve.xs, curve.elos)]


def _curve(ratings: Ratings, ladder: Ladder) -> _Curve | None:
    rungs = sorted((r for r in ladder.rungs if r.player in ratings.elo), key=lambda r: r.value)
    if len({r.value for r in rungs}) < 2:
        return None
    index = {p: i for i, p in enumerate(ratings.players)}
    n = len(ratings.players)
    # Blocks of pool-adjacent-violators: (x sum, count, weight, weighted Elo sum, weight vector).
    blocks: list[list] = []
    for rung in rungs:
        w = np.zeros(n)
        w[index[rung.player]] = 1.0
        # Equal weights: stderrs depend on the fit's anchor (the anchor's own is 0), the pooling must not.
        blocks.append([ladder.x(rung.value), 1, 1.0, ratings.elo[rung.player], w])
        while len(blocks) >= 2 and blocks[-1][3] / blocks[-1][2] <= blocks[-2][3] / blocks[-2][2]:
            top = blocks.pop()
            below = blocks[-1]
            for k in range(5):
                below[k] = below[k] + top[k]
    if len(blocks) < 2:
        return None  # the whole ladder pooled: its rungs are indistinguishable
    xs = np.array([b[0] / b[1] for b in blocks])
    weights = np.array([b[4] / b[2] for b in blocks])
    elos = np.array([b[3] / b[2] for b in blocks])
    return _Curve(xs, weights, elos)


def _contrast(ratings: Ratings, player: str, curve: _Curve, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d(x) = r_player - c(x) and its standard error at every x in `xs` (inside the curve's range)."""
    seg = np.clip(np.searchsorted(curve.xs, xs, side="right") - 1, 0, len(curve.xs) - 2)
    t = (xs - curve.xs[seg]) / (curve.xs[seg + 1] - curve.xs[seg])
    w = (1.0 - t)[:, None] * curve.weights[seg] + t[:, None] * curve.weights[seg + 1]  # [G, P]
    w = -w
    w[:, ratings.players.index(player)] += 1.0
    elo = np.array([ratings.elo[p] for p in ratings.players])
    d = w @ elo
    var = np.einsum("gp,pq,gq->g", w, ratings.covariance, w)
    return d, np.sqrt(np.maximum(var, 0.0))


def _fmt(ladder: Ladder, value: float) -> str:
    if ladder.parameter == "visits":
        return f"{value:.0f}" if value >= 10 else f"{value:.2g}"
    return f"{value:.1f}"


def _phrase(ladder: Ladder, value: float) -> str:
    return f"{_fmt(ladder, value)} visits" if ladder.parameter == "visits" else f"level {_fmt(ladder, value)}"


def equivalent_strength(ratings: Ratings, player: str, ladder: Ladder) -> Equivalent | None:
    """Where `player`'s rating lies on the ladder's curve (module docstring); None when fewer than
    two distinguishable rungs are in the pool."""
    if player not in ratings.elo:
        raise RatingInputError(f"unknown player {player!r}: not in this pool")
    curve = _curve(ratings, ladder)
    if curve is None:
        return None
    segments = len(curve.xs) - 1
    grid = np.concatenate([np.linspace(curve.xs[i], curve.xs[i + 1], _GRID_PER_SEGMENT, endpoint=(i == segments - 1))
                           for i in range(segments)])
    d, sd = _contrast(ratings, player, curve, grid)
    inside = np.abs(d) <= Z95 * sd  # the confidence set, on the grid
    # Its ends, refined to where |d| - z sd crosses zero between grid points.
    g = np.abs(d) - Z95 * sd
    low = high = None
    hits = np.flatnonzero(inside)
    if hits.size:
        first, last = hits[0], hits[-1]
        low = None if first == 0 else _crossing(grid, g, first - 1, first)
        high = None if last == len(grid) - 1 else _crossing(grid, g, last, last + 1)
    rating = ratings.elo[player]
    top, bottom = ladder.value(curve.xs[-1]), ladder.value(curve.xs[0])
    if rating > curve.elos[-1] or rating < curve.elos[0]:
        return _outside(ladder, curve, d, sd, low, high, above=rating > curve.elos[-1])
    seg = int(np.clip(np.searchsorted(curve.elos, rating, side="right") - 1, 0, segments - 1))
    t = (rating - curve.elos[seg]) / (curve.elos[seg + 1] - curve.elos[seg])
    x = curve.xs[seg] + t * (curve.xs[seg + 1] - curve.xs[seg])
    # d(x) = 0 lies in the confidence set, so its ends bracket x; a coarse grid can miss it.
    if not hits.size:
        low = high = x
    else:
        low = None if low is None else min(low, x)
        high = None if high is None else max(high, x)
    value = ladder.value(x)
    lo_text = f"<={_fmt(ladder, bottom)}" if low is None else _fmt(ladder, ladder.value(low))
    hi_text = f">={_fmt(ladder, top)}" if high is None else _fmt(ladder, ladder.value(high))
    return Equivalent(ladder.parameter, value, None if low is None else ladder.value(low),
                      None if high is None else ladder.value(high), "inside",
                      f"plays like {ladder.name} at {_phrase(ladder, value)} [{lo_text}, {hi_text}]")


def _outside(ladder: Ladder, curve: _Curve, d: np.ndarray, sd: np.ndarray, low: float | None,
             high: float | None, *, above: bool) -> Equivalent:
    """A rating beyond the ladder's end: how far beyond (Elo, with its interval), and the bound
    inside the ladder the data still allow, if any. No value is invented past the end rung."""
    end = -1 if above else 0
    gap, z = abs(d[end]), Z95 * sd[end]
    rung = f"{'top' if above else 'lowest'} rung of {ladder.name} ({_phrase(ladder, ladder.value(curve.xs[end]))})"
    if gap - z > 0.0:
        where = f"{'above' if above else 'below'} the {rung} by {gap:.0f} Elo [{gap - z:.0f}, {gap + z:.0f}]"
    else:
        # The interval holds 0: the player may be on the ladder's side of that rung, so it must not
        # read "above" ("below"); the signed interval relative to the rung says how far either way.
        where = f"not distinguishable from the {rung}: {d[end]:+.0f} Elo [{d[end] - z:+.0f}, {d[end] + z:+.0f}]"
    if above:
        bound = "" if low is None else f"; at least {_phrase(ladder, ladder.value(low))}"
        return Equivalent(ladder.parameter, None, None if low is None else ladder.value(low), None, "above",
                          where + bound)
    bound = "" if high is None else f"; at most {_phrase(ladder, ladder.value(high))}"
    return Equivalent(ladder.parameter, None, None, None if high is None else ladder.value(high), "below",
                      where + bound)


def _crossing(grid: np.ndarray, g: np.ndarray, i: int, j: int) -> float:
    """Where g, linear between grid[i] and grid[j], crosses zero."""
    if g[j] == g[i]:
        return float(grid[j])
    return float(grid[i] + (grid[j] - grid[i]) * (0.0 - g[i]) / (g[j] - g[i]))

