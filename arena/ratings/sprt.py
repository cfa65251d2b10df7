"""Sequential probability ratio test (SPRT) for gating a candidate checkpoint against a baseline.

Pure functions (numpy only): no database, no I/O, no other ``arena`` imports.

The maths follows Fishtest (the Stockfish testing framework), ``server/fishtest/stats/``
(``LLRcalc.py``: ``secular``, ``MLE_expected``, ``LLR_logistic``, ``regularize``; ``sprt.py``:
the Wald bounds), which implements Michel Van den Bergh's *generalized* SPRT (GSPRT), described
in his notes "A generalized SPRT for multinomial distributions" / "Maximum likelihood estimation
of a multinomial distribution with given expectation value"
(https://hardy.uhasselt.be/Fishtest/support_MLE_multinomial.pdf, Proposition 1.1) and
"Normalized Elo practical" / "GSPRT approximation" (https://hardy.uhasselt.be/Fishtest/).

Model.  One *observation* is a single game (trinomial: score 1, 1/2, 0 for the candidate) or a
colour-swapped pair of games on the same opening (pentanomial: pair score 0, 1/2, 1, 3/2, 2,
normalised here to a per-game score 0, 1/4, 1/2, 3/4, 1).  Observations are i.i.d. draws from an
unknown multinomial ``p`` over those score values.  Only its expected score ``s = sum p_i a_i``
is of interest; Elo is the logistic one, ``s = 1 / (1 + 10 ** (-elo / 400))``.

    H0: s = s0 = L(elo0)   (candidate is not better than elo0)
    H1: s = s1 = L(elo1)   (candidate is at least elo1 better)

The multinomial is a nuisance parameter (draw rate, opening bias...), so the GSPRT replaces each
composite hypothesis by its maximum-likelihood member: ``p_j = argmax sum n_i log p_i`` subject
to ``sum p_i = 1``, ``sum p_i a_i = s_j``.  With the Lagrange multiplier ``x`` the solution is

    p_j,i = phat_i / (1 + x (a_i - s_j)),   where x solves  sum phat_i (a_i - s_j) / (1 + x (a_i - s_j)) = 0

(``phat`` the empirical frequencies), a strictly decreasing function of ``x`` on the interval
where every ``1 + x (a_i - s_j) > 0``: a 1-D root find (bisection here, to full precision).  Then

    LLR = N * sum phat_i log(p_1,i / p_0,i).

Because pairs are the observations of the pentanomial model, the correlation between the two games
of a pair (a biased opening helps one colour and hurts the other) is accounted for exactly: the
pentanomial variance is the variance of the pair mean, not twice the single-game variance.

Empty categories are regularised as in Fishtest: a zero count is replaced by ``1e-3`` (so the
constrained MLE exists: the root lies strictly inside its interval).  With no games at all the
LLR is defined as 0 (continue), never NaN.

Wald's bounds: ``lower = log(beta / (1 - alpha))``, ``upper = log((1 - beta) / alpha)``; the
test accepts H1 when ``LLR >= upper``, accepts H0 when ``LLR <= lower``, and continues otherwise.
The LLR depends on the counts only, so results may arrive (and be added up) in any order.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_ABS_ELO",
    "PENTANOMIAL_SCORES",
    "TRINOMIAL_SCORES",
    "SprtResult",
    "elo_to_score",
    "gsprt_llr",
    "pentanomial_from_pairs",
    "sprt_bounds",
    "sprt_pentanomial",
    "sprt_trinomial",
    "trinomial_from_games",
]

#: Per-game score of each trinomial category, in the order (losses, draws, wins).
TRINOMIAL_SCORES = np.array([0.0, 0.5, 1.0])
#: Per-game score of each pentanomial category: pair totals 0, 1/2, 1, 3/2, 2 divided by 2.
PENTANOMIAL_SCORES = np.array([0.0, 0.25, 0.5, 0.75, 1.0])

# Bound on |elo0|, |elo1|: beyond it 10**(elo/400) overflows or a score rounds to 0 or 1 and the
# LLR turns NaN (checked finite over the range in tests/arena/scheduling/test_sprt_bounds.py).
MAX_ABS_ELO = 1000.0
_REGULARIZE_EPS = 1e-3  # Fishtest's `regularize`
_MAX_STEPS = 200  # safeguarded Newton: typically under 10 steps


@dataclass(frozen=True)
class SprtResult:
    """Outcome of one SPRT evaluation.

    ``decision`` is ``"H1"`` (accept: the candidate is at least ``elo1`` better), ``"H0"``
    (accept: not better than ``elo0``) or ``None`` (keep playing).  ``counts`` echoes the input:
    ``(wins, draws, losses)`` for the trinomial test, the five pair-score counts (pair score
    0, 1/2, 1, 3/2, 2) for the pentanomial one.  ``pairs`` is ``None`` for the trinomial test.
    """

    llr: float
    lower: float
    upper: float
    decision: str | None
    games: int
    pairs: int | None
    counts: tuple[int, ...]
    model: str
    elo0: float
    elo1: float
    alpha: float
    beta: float


# ---------------------------------------------------------------------------------------------
# Validation helpers


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    value = int(value)
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    return value


def _check_params(elo0: float, elo1: float, alpha: float, beta: float) -> None:
    for name, value in (("elo0", elo0), ("elo1", elo1), ("alpha", alpha), ("beta", beta)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite real number, got {value!r}")
    for name, value in (("elo0", elo0), ("elo1", elo1)):
        if abs(value) > MAX_ABS_ELO:
            raise ValueError(f"{name} must lie within [-{MAX_ABS_ELO:g}, {MAX_ABS_ELO:g}] Elo, got {value}")
    if not elo1 > elo0:
        raise ValueError(f"elo1 must be greater than elo0, got elo0={elo0}, elo1={elo1}")
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not 0.0 < value < 0.5:
            raise ValueError(f"{name} must lie in the open interval (0, 0.5), got {value}")


# ---------------------------------------------------------------------------------------------
# Core maths


def elo_to_score(elo: float) -> float:
    """Expected score of a player ``elo`` logistic-Elo points stronger: ``1 / (1 + 10^(-elo/400))``."""
    return 1.0 / (1.0 + 10.0 ** (-elo / 400.0))


def sprt_bounds(alpha: float, beta: float) -> tuple[float, float]:
    """Wald's bounds ``(log(beta / (1 - alpha)), log((1 - beta) / alpha))``."""
    return math.log(beta / (1.0 - alpha)), math.log((1.0 - beta) / alpha)


def _lagrange_multiplier(phat: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Solve ``f(x) = sum_i phat_i a_i / (1 + x a_i) = 0`` for ``x`` (Fishtest's ``secular``), per row.

    ``phat`` is ``(M, K)`` with positive rows summing to 1, ``a`` is ``(K,)`` with
    ``min(a) < 0 < max(a)``.  ``f`` is strictly decreasing on ``(-1/max a, -1/min a)`` and goes
    from +inf to -inf there, so the root exists and is unique.  Newton's method safeguarded by
    bisection: the bracket shrinks every step and a Newton step leaving it is replaced by the
    bracket's midpoint, so it always converges (quadratically near the root).
    """
    m = phat.shape[0]
    lo = np.full(m, -1.0 / a.max())
    hi = np.full(m, -1.0 / a.min())
    x = np.zeros(m)  # always inside the bracket
    last = hi - lo  # size of the previous step (as in Numerical Recipes' rtsafe)
    active = np.arange(m)  # rows still iterating: most converge in a few steps
    for _ in range(_MAX_STEPS):
        if active.size == 0:
            break
        xa, la, ha, pa = x[active], lo[active], hi[active], phat[active]
        denom = 1.0 + xa[:, None] * a
        terms = pa * a / denom
        f = terms.sum(axis=1)
        slope = -(terms * a / denom).sum(axis=1)  # < 0
        la = np.where(f > 0.0, xa, la)
        ha = np.where(f < 0.0, xa, ha)
        newton = f / slope
        step = xa - newton
        # Bisect when Newton leaves the bracket or does not at least halve the previous step
        # (near a pole Newton crawls; bisection keeps the convergence guaranteed).
        bisect = ~((step > la) & (step < ha)) | (2.0 * np.abs(newton) > last[active])
        step = np.where(bisect, 0.5 * (la + ha), step)
        # Converged on the residual relative to its terms (a tiny step alone can be Newton
        # crawling towards a pole): keep the point just checked.
        at_root = np.abs(f) <= 1e-13 * np.abs(terms).sum(axis=1)
        step = np.where(at_root, xa, step)
        moved = np.abs(step - xa)
        converged = at_root | (ha - la <= 4e-16 * np.maximum(1.0, np.abs(xa)))
        x[active], lo[active], hi[active], last[active] = step, la, ha, moved
        active = active[~converged]
    return x


def _constrained_mle(phat: np.ndarray, scores: np.ndarray, s: float) -> np.ndarray:
    """MLE of a multinomial over ``scores`` with expectation ``s``, given frequencies ``phat``.

    Fishtest's ``MLE_expected`` (Van den Bergh, Proposition 1.1), vectorised over rows.
    """
    a = scores - s
    x = _lagrange_multiplier(phat, a)
    p = phat / (1.0 + x[:, None] * a)
    return p / p.sum(axis=1, keepdims=True)  # exact in theory; removes rounding drift


def gsprt_llr(
    counts: np.ndarray | Sequence[float], scores: np.ndarray | Sequence[float], elo0: float, elo1: float
) -> np.ndarray | float:
    """Generalized-SPRT log-likelihood ratio of H1 (``elo1``) over H0 (``elo0``).

    ``counts`` has shape ``(..., K)`` (any number of leading batch axes: handy to evaluate a
    whole sequential run at once); ``scores`` the ``K`` per-game score values of the categories
    (``TRINOMIAL_SCORES`` or ``PENTANOMIAL_SCORES``; must span 0..1 so that every logistic Elo
    is reachable).  Zero counts are regularised to ``1e-3`` as in Fishtest; an all-zero row
    gives 0.  Returns a float for a 1-D ``counts``, an array of shape ``counts.shape[:-1]``
    otherwise.  No validation beyond shapes: the public ``sprt_*`` functions validate.
    """
    scores = np.asarray(scores, dtype=float)
    counts = np.asarray(counts, dtype=float)
    if counts.shape[-1:] != scores.shape:
        raise ValueError(f"counts must have {scores.size} categories on the last axis, got shape {counts.shape}")
    batch_shape = counts.shape[:-1]
    flat = counts.reshape(-1, scores.size)
    empty = flat.sum(axis=1) == 0
    reg = np.where(flat == 0, _REGULARIZE_EPS, flat)
    n = reg.sum(axis=1)
    phat = reg / n[:, None]
    s0, s1 = elo_to_score(elo0), elo_to_score(elo1)
    a0, a1 = scores - s0, scores - s1
    x0 = _lagrange_multiplier(phat, a0)
    x1 = _lagrange_multiplier(phat, a1)
    # log(p1_i / p0_i) = log(1 + x0 a0_i) - log(1 + x1 a1_i)
    per_obs = (phat * (np.log1p(x0[:, None] * a0) - np.log1p(x1[:, None] * a1))).sum(axis=1)
    llr = np.where(empty, 0.0, n * per_obs)
    if not batch_shape:
        return float(llr[0])
    return llr.reshape(batch_shape)


def _decide(llr: float, lower: float, upper: float) -> str | None:
    if llr >= upper:
        return "H1"
    if llr <= lower:
        return "H0"
    return None


# ---------------------------------------------------------------------------------------------
# Public tests


def sprt_trinomial(
    wins: int,
    draws: int,
    losses: int,
    *,
    elo0: float,
    elo1: float,
    alpha: float = 0.05,
    beta: float = 0.05,
) -> SprtResult:
    """SPRT on single games (candidate's score 1, 1/2, 0), H0: elo = ``elo0`` vs H1: elo = ``elo1``.

    Treats games as independent; when games come in colour-swapped pairs on shared openings
    prefer :func:`sprt_pentanomial`, which accounts for the correlation inside a pair.
    """
    w = _check_count("wins", wins)
    d = _check_count("draws", draws)
    l_ = _check_count("losses", losses)
    _check_params(elo0, elo1, alpha, beta)
    lower, upper = sprt_bounds(alpha, beta)
    llr = float(gsprt_llr([l_, d, w], TRINOMIAL_SCORES, elo0, elo1))
    return SprtResult(
        llr=llr,
        lower=lower,
        upper=upper,
        decision=_decide(llr, lower, upper),
        games=w + d + l_,
        pairs=None,
        counts=(w, d, l_),
        model="trinomial",
        elo0=float(elo0),
        elo1=float(elo1),
        alpha=float(alpha),
        beta=float(beta),
    )


def sprt_pentanomial(
    counts: Sequence[int],
    *,
    elo0: float,
    elo1: float,
    alpha: float = 0.05,
    beta: float = 0.05,
) -> SprtResult:
    """SPRT on colour-swapped game pairs, H0: elo = ``elo0`` vs H1: elo = ``elo1``.

    ``counts[k]`` is the number of pairs in which the candidate scored ``k / 2`` points over the
    two games: LL, LD/DL, WL/LW/DD, WD/DW, WW (see :func:`pentanomial_from_pairs`).
    """
    if isinstance(counts, (str, bytes)) or not isinstance(counts, Iterable):
        raise ValueError(f"counts must be a sequence of 5 pair counts, got {counts!r}")  # noqa: TRY004 (API: ValueError)
    counts = list(counts)
    if len(counts) != 5:
        raise ValueError(f"counts must have exactly 5 entries (pair scores 0, 0.5, 1, 1.5, 2), got {len(counts)}")
    checked = tuple(_check_count(f"counts[{i}]", c) for i, c in enumerate(counts))
    _check_params(elo0, elo1, alpha, beta)
    lower, upper = sprt_bounds(alpha, beta)
    llr = float(gsprt_llr(checked, PENTANOMIAL_SCORES, elo0, elo1))
    pairs = sum(checked)
    return SprtResult(
        llr=llr,
        lower=lower,
        upper=upper,
        decision=_decide(llr, lower, upper),
        games=2 * pairs,
        pairs=pairs,
        counts=checked,
        model="pentanomial",
        elo0=float(elo0),
        elo1=float(elo1),
        alpha=float(alpha),
        beta=float(beta),
    )


# ---------------------------------------------------------------------------------------------
# Counting helpers

_GAME_SCORES = {0.0: 0, 0.5: 1, 1.0: 2}


def _game_index(name: str, score: object) -> int:
    try:
        index = _GAME_SCORES.get(float(score))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        index = None
    if index is None or isinstance(score, bool):
        raise ValueError(f"{name} must be a game score 0, 0.5 or 1, got {score!r}")
    return index


def trinomial_from_games(scores: Iterable[float]) -> tuple[int, int, int]:
    """``(wins, draws, losses)`` from the candidate's single-game scores (1, 0.5, 0)."""
    tally = [0, 0, 0]  # losses, draws, wins
    for i, score in enumerate(scores):
        tally[_game_index(f"scores[{i}]", score)] += 1
    return tally[2], tally[1], tally[0]


def pentanomial_from_pairs(pairs: Iterable[tuple[float, float]]) -> tuple[int, int, int, int, int]:
    """Pentanomial counts from ``(score_game1, score_game2)`` pairs (candidate's scores).

    Entry ``k`` counts pairs whose total is ``k / 2``: LL, LD/DL, WL/LW/DD, WD/DW, WW.
    """
    tally = [0, 0, 0, 0, 0]
    for i, pair in enumerate(pairs):
        try:
            first, second = pair
        except (TypeError, ValueError):
            raise ValueError(f"pairs[{i}] must be a (score_game1, score_game2) pair, got {pair!r}") from None
        tally[_game_index(f"pairs[{i}][0]", first) + _game_index(f"pairs[{i}][1]", second)] += 1
    return tuple(tally)  # type: ignore[return-value]
