r"""Head-to-head records between players, and Elo-versus-visits curves from a joint fit.

Head-to-head Elo from the score.  For an ordered pair (a, b) over all their games (both
colours, colour advantage ignored), with W wins, D draws, L losses in N games, the score is
s = (W + D/2) / N and the per-game score variance is the trinomial one,
    v = (W + D/4) / N - s^2,   se(s) = sqrt(v / N).
The Elo difference is the logistic transform 400 log10(s / (1 - s)); its 95% interval is taken on
the logit scale by the delta method, logit(s) +- 1.96 se(s) / (s (1 - s)), then mapped to Elo, so
it is symmetric in Elo and stays inside (-inf, inf).

Continuity fix.  When s is 0 or 1 (the logit is infinite) or v = 0 (every game drawn, or one
game), one virtual win and one virtual loss are added before computing estimate and interval
(the Agresti–Coull "plus two" idea on the score).  The record says so with `adjusted=True`; the
estimate is then finite and shrunk towards 0, the interval wide.

With a `Ratings` fit given, each record also carries the model's difference r_a - r_b, its
standard error from the fit's covariance, and the likelihood of superiority; all three are None,
with `model_note` saying why, when no chain of games links a and b (`Ratings.comparable`): the
prior alone would set them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .bradley_terry import ELO_PER_NAT, Z95, Ratings
from .estimability import INCOMPARABLE
from .records import GameResult, PairCounts, RatingInputError, as_pair_counts

__all__ = ["HeadToHead", "PairRecord", "VisitsPoint", "elo_vs_visits", "head_to_head", "score_elo_interval"]


def score_elo_interval(wins: int, losses: int, draws: int) -> tuple[float, float, float, bool]:
    """(Elo difference, 95% low, 95% high, adjusted) from a W/L/D record; see module doc."""
    n = wins + losses + draws
    if n <= 0:
        raise RatingInputError("no games between these players")
    w, d = float(wins), float(draws)
    s = (w + 0.5 * d) / n
    v = (w + 0.25 * d) / n - s * s
    adjusted = s <= 0.0 or s >= 1.0 or v <= 1e-15
    if adjusted:
        w, n = w + 1.0, n + 2.0
        s = (w + 0.5 * d) / n
        v = (w + 0.25 * d) / n - s * s
    logit = math.log(s / (1.0 - s))
    se_logit = math.sqrt(v / n) / (s * (1.0 - s))
    return (
        ELO_PER_NAT * logit,
        ELO_PER_NAT * (logit - Z95 * se_logit),
        ELO_PER_NAT * (logit + Z95 * se_logit),
        adjusted,
    )


@dataclass(frozen=True)
class PairRecord:
    """a's record against b over both colours. Elo fields are None when they never played."""

    a: str
    b: str
    wins: int
    losses: int
    draws: int
    score: float | None
    elo_diff: float | None
    elo_lo: float | None
    elo_hi: float | None
    adjusted: bool
    model_elo_diff: float | None = None
    model_elo_stderr: float | None = None
    likelihood_of_superiority: float | None = None
    model_note: str | None = None  # why the model fields are None though a fit was given

    @property
    def games(self) -> int:
        return self.wins + self.losses + self.draws


@dataclass(frozen=True)
class HeadToHead:
    players: tuple[str, ...]
    records: dict[tuple[str, str], PairRecord]  # every ordered pair of distinct players

    def record(self, a: str, b: str) -> PairRecord:
        try:
            return self.records[(a, b)]
        except KeyError:
            raise RatingInputError(f"no head-to-head entry for {a!r} vs {b!r}: unknown player") from None

    def matrix(self, field: str) -> np.ndarray:
        """players x players array of a `PairRecord` field (row a, column b); NaN where undefined."""
        n = len(self.players)
        out = np.full((n, n), np.nan)
        for i, a in enumerate(self.players):
            for j, b in enumerate(self.players):
                if i != j:
                    value = getattr(self.records[(a, b)], field)
                    if value is not None:
                        out[i, j] = float(value)
        return out


def head_to_head(
    results: Iterable[GameResult | PairCounts] | Mapping[tuple[str, str], PairCounts],
    ratings: Ratings | None = None,
) -> HeadToHead:
    """Wins, losses, draws, score and score-based Elo difference for every ordered pair."""
    counts = as_pair_counts(results)
    names = {n for key in counts for n in key}
    if ratings is not None:
        unknown = sorted(names - set(ratings.players))
        if unknown:
            raise RatingInputError(f"unknown player(s) {unknown} not in the ratings")
        names |= set(ratings.players)
    players = tuple(sorted(names))
    wld: dict[tuple[str, str], list[int]] = {}
    for (black, white), c in counts.items():
        fwd = wld.setdefault((black, white), [0, 0, 0])
        fwd[0] += c.wins_black
        fwd[1] += c.wins_white
        fwd[2] += c.draws
        rev = wld.setdefault((white, black), [0, 0, 0])
        rev[0] += c.wins_white
        rev[1] += c.wins_black
        rev[2] += c.draws
    records = {}
    for a in players:
        for b in players:
            if a == b:
                continue
            w, l, d = wld.get((a, b), [0, 0, 0])
            if w + l + d > 0:
                diff, lo, hi, adjusted = score_elo_interval(w, l, d)
                score = (w + 0.5 * d) / (w + l + d)
            else:
                diff = lo = hi = score = None
                adjusted = False
            model = se = los = note = None
            if ratings is not None and not ratings.comparable(a, b):
                note = INCOMPARABLE
            elif ratings is not None:
                model, se = ratings.difference(a, b)
                los = ratings.likelihood_of_superiority(a, b)
            records[(a, b)] = PairRecord(a, b, w, l, d, score, diff, lo, hi, adjusted, model, se, los, note)
    return HeadToHead(players, records)


class VisitsPoint(NamedTuple):
    visits: int
    elo: float
    lo: float
    hi: float


def elo_vs_visits(ratings: Ratings, players_by_visits: Mapping[int, str]) -> list[VisitsPoint]:
    """The Elo-vs-visits curve of one checkpoint, read from a joint fit.

    Each visit count is a separate player in the pool (e.g. "ckpt-42@v64", "ckpt-42@v256"), rated
    together with the others; this returns (visits, elo, lo, hi) sorted by visits, with Hessian 95%
    intervals relative to the fit's anchor. For the gain between two visit counts use
    `ratings.difference`, whose error accounts for their covariance.
    """
    if not players_by_visits:
        raise RatingInputError("no visit counts given")
    out = []
    for visits, player in sorted(players_by_visits.items()):
        if isinstance(visits, bool) or not isinstance(visits, int) or visits <= 0:
            raise RatingInputError(f"visit count must be a positive integer, got {visits!r}")
        if player not in ratings.elo:
            raise RatingInputError(f"unknown player {player!r} (visits {visits}) not in the ratings")
        lo, hi = ratings.ci95(player)
        out.append(VisitsPoint(visits, ratings.elo[player], lo, hi))
    return out
