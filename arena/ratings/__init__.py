"""Ratings from stored results: pure functions over games (numpy only; no database, no I/O).

* `compute_ratings`: Bradley–Terry maximum likelihood in Elo with a colour-advantage term, draws
  as half-wins, Firth's bias reduction, a weak prior only where the games cannot rate a player
  (`Ratings.flags`, from `estimability`), an anchor, Hessian (and optional bootstrap) 95% intervals.
* `head_to_head`: per-pair wins/losses/draws, score and score-based Elo with interval.
* `elo_vs_visits`: a checkpoint's Elo at several visit counts, read out of one joint fit.
* `next_pairs`: the adaptive pairing policy, the games expected to shrink the widest intervals.
* `sprt_trinomial`, `sprt_pentanomial`: generalised SPRT gating of a candidate against a
  baseline on single games or colour-swapped pairs (Fishtest's maths).
"""

from .adaptive import next_pairs
from .bradley_terry import Ratings, compute_ratings
from .head_to_head import HeadToHead, PairRecord, VisitsPoint, elo_vs_visits, head_to_head, score_elo_interval
from .records import GameResult, PairCounts, RatingInputError, aggregate
from .sprt import SprtResult, pentanomial_from_pairs, sprt_pentanomial, sprt_trinomial, trinomial_from_games

__all__ = [
    "GameResult",
    "HeadToHead",
    "PairCounts",
    "PairRecord",
    "RatingInputError",
    "Ratings",
    "VisitsPoint",
    "aggregate",
    "compute_ratings",
    "elo_vs_visits",
    "head_to_head",
    "score_elo_interval",
    "next_pairs",
    "SprtResult",
    "pentanomial_from_pairs",
    "sprt_pentanomial",
    "sprt_trinomial",
    "trinomial_from_games",
]
