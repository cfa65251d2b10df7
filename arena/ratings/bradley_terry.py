r"""Bradley–Terry ratings in Elo units, fitted by Newton's method, with Hessian-based intervals.

Model (Bradley & Terry 1952; Elo's logistic form; Hunter 2004 "MM algorithms for generalized
Bradley–Terry models" for the likelihood).  With k = ln 10 / 400, ratings r_i in Elo and a
first-player (colour) advantage a in Elo,

    P(black wins) = sigma(k * (r_black - r_white + a)),   sigma(x) = 1 / (1 + e^-x).

So 400 Elo is a factor 10 in odds, and a is what moving first is worth (Go: komi imperfect).

Draws (whole-point komi).  A draw counts as half a win to each side: a pair with N games and
black score s = wins_black + draws / 2 contributes s log p + (N - s) log(1 - p).  This is the
usual Elo convention (equivalently: each draw is one win and one loss of weight 1/2).  The point
estimates are consistent whenever the expected score follows the logistic curve, whatever the
draw rate.  A draw has less score variance than the model's coin-flip half-game, so the
intervals use the sandwich covariance (see Intervals) rather than trusting the model's variance.

Prior: only where the data cannot rate a player.  `estimability` (Zermelo/Ford: the MLE exists
iff the "scored against" graph is strongly connected) flags each player the games cannot rate:
"unbeaten", "winless", "separated" (a middle group of such a chain) or "disconnected" (no game
path to the largest group; also roster players without games), and gives the fit one contrast c
per needed statement: a flagged player against its own opponents (weighted by games), and a
disconnected player against the largest group's mean.  `prior_games` virtual drawn games go on
each contrast, and on the colour term:
    prior_games * [ 1/2 log sigma(k c.r) + 1/2 log sigma(-k c.r) ]   for each contrast c,
    prior_games * [ 1/2 log sigma(k a)   + 1/2 log sigma(-k a)   ].
Players of the main group get no prior: their ratings are the data's.  Every contrast is a
difference, so a sum-to-zero gauge penalty (it changes no difference) fixes the free shift.
`prior_games=0` rejects a pool whose MLE does not exist.  `Ratings.flags` names the flagged.

Bias reduction (`bias_reduction=True`, the default): Firth's (1993) penalty 1/2 log det I(theta),
the Jeffreys prior, removes the O(1/N) bias of the logistic MLE, which pushes ratings outwards
and accumulates along a sparse chain.  Its gradient is the modified score: each pair's black
score gains H (1/2 - p), with H = w x^T I^-1 x the pair's leverage.  `bias_reduction=False` with
a strongly connected pool is the plain MLE (it matches choix).

Why this prior (measured by `arena bench ratings --pools all`, 200 pools per family, families in
arena/ratings/pools.py; coverage of the 95% intervals / mean |error| Elo / mean signed error in
stderrs):
                      ladder             visits             draws              normal
  centre prior (old)  0.547 220 +1.55    0.859  92 -0.18    0.982 28 -0.00     0.965 35 -0.00
  lineage prior       0.959 105 -0.02    0.953  68 -0.02    (needs a lineage; none here)
  MLE + flagged prior 0.950 126 -0.25    0.954  82 -0.00    0.954 30 -0.00     0.954 38 -0.00
  + Firth (chosen)    0.948 111 +0.06    0.946  73 -0.06    0.959 29 -0.00     0.961 36 -0.00
The old prior (2 draws of every player against the pool centre) shrinks a 1,200-1,500 Elo ladder
anchored at one end by ~200 Elo.  A lineage prior (KataGo's elo.py: 2 draws between consecutive
checkpoints) does well when steps are ~120 Elo, but it pulls neighbours together: with steps of
200-300 Elo its coverage falls to 0.930 and its mean signed error is +0.43 stderrs (Firth: 0.953,
+0.23), and it needs a parent or training step for each player, which engines and visits rungs do
not have.  The plain MLE's outward bias shows on the sparse ladder (-0.25 stderrs); Firth
removes it without assuming anything about the pool's shape.

Fit.  The penalised log-likelihood is concave; Newton's method (equivalently IRLS for the
logistic GLM on the aggregated pair counts) with the full dense Hessian over n players plus a,
with step halving as a safeguard, converges in a handful of iterations.  Cost per iteration:
O(pairs) to assemble gradient and Hessian, O(n^3) to solve; 100 players and 100,000 games
fit in tens of milliseconds once aggregated.

Intervals.  The covariance is the inverse of the observed Fisher information I (minus the Hessian
of the penalised log-likelihood) at the optimum; 95% intervals are estimate +- 1.96 * stderr.
With draws it is the sandwich I^-1 J I^-1, J the same sum with each pair weighted by the variance
its scores have with draws: a game scoring 1, 1/2, 0 with expected score p and draw probability d
has variance p (1 - p) - d / 4.  The draw probability is the pool's, d = delta * 4 p (1 - p)
(delta the draw rate between equals, so d <= p, 1 - p), giving N p (1 - p) (1 - delta) per pair;
delta = draws / (sum of 4 N p (1 - p) + 1), a moment estimate over all games, the + 1 one virtual
decisive game so that a pool of nothing but draws keeps finite intervals.  Not each pair's own
draws: a one-game pair (each colour of a swapped pair is its own cell) that drew would weigh
nothing, so a newcomer with two draws was rated at 0 +- 0 Elo.  Without draws J = I.  At 30%
draws (arena bench ratings --pools draws, 200 pools) the model's own intervals covered 0.982, the
sandwich with each pair's own draws 0.959, with the pool's 0.963; a newcomer with 2 games against
one player of such a pool, 100 Elo apart: 0.868 (9 of 220 at +- 0) and 1.000 (test_bradley_terry.py).
Optionally (`bootstrap=B`), games are resampled with replacement B times and the fit repeated;
percentile intervals are then available alongside the Hessian ones.

Anchor and scale.  The likelihood only sees differences; the gauge penalty holds the internal sum
at 0.  Reported ratings are then shifted:
  * anchor=None: reported r_i = r_i - mean(r), so the pool mean is exactly 0;
  * anchor="gnugo-l10", anchor_elo=0: reported r_i = r_i - r_anchor + anchor_elo, so the anchor is
    held exactly at anchor_elo (its parameter is eliminated by the reparametrisation r_i - r_anchor).
Reported standard errors are those of these contrasts (covariance T Sigma T^T for the linear map
T), so every stderr is relative to the anchor and the anchor's own stderr is 0.  No prior term
involves the anchor as such, so anchoring at one end of a wide pool biases nothing.

Modelled on KataGo's python/katago/utils/elo.py (typed records, one entry point, Hessian SEs).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .estimability import estimability
from .records import GameResult, PairCounts, RatingInputError, as_pair_counts

__all__ = ["ELO_PER_NAT", "Ratings", "compute_ratings", "normal_cdf"]

K = math.log(10.0) / 400.0  # natural-log odds per Elo
ELO_PER_NAT = 1.0 / K  # ~173.72 Elo per unit of natural-log odds
Z95 = 1.959963984540054


def normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


@dataclass(frozen=True, eq=False)  # holds a numpy array: compare fields explicitly
class Ratings:
    """A fitted pool. Ratings and stderrs are in Elo, relative to the anchor (see module doc)."""

    elo: dict[str, float]
    stderr: dict[str, float]
    players: tuple[str, ...]
    covariance: np.ndarray  # Elo^2, over `players` in order, of the reported (anchored) ratings
    colour_advantage_elo: float
    colour_advantage_stderr: float
    games: int
    anchor: str | None
    anchor_elo: float
    prior_games: float
    iterations: int
    # per player: None when the games alone rate it, else why the prior had to (see estimability)
    flags: dict[str, str | None] = field(default_factory=dict)
    # per player: its connected component of the games (0: the reference one; see estimability)
    components: dict[str, int] = field(default_factory=dict)
    bootstrap_ci: dict[str, tuple[float, float]] | None = field(default=None, repr=False)
    bootstrap_colour_ci: tuple[float, float] | None = field(default=None, repr=False)

    def _index(self, player: str) -> int:
        try:
            return self.players.index(player)
        except ValueError:
            raise RatingInputError(f"unknown player {player!r}: not in this pool") from None

    def ci95(self, player: str, method: str = "hessian") -> tuple[float, float]:
        """95% interval of `player`'s rating relative to the anchor: 'hessian' or 'bootstrap'."""
        self._index(player)
        if method == "bootstrap":
            if self.bootstrap_ci is None:
                raise RatingInputError("no bootstrap intervals: fit with bootstrap=B > 0")
            return self.bootstrap_ci[player]
        if method != "hessian":
            raise RatingInputError(f"unknown interval method {method!r}: use 'hessian' or 'bootstrap'")
        e, s = self.elo[player], self.stderr[player]
        return (e - Z95 * s, e + Z95 * s)

    def colour_ci95(self) -> tuple[float, float]:
        e, s = self.colour_advantage_elo, self.colour_advantage_stderr
        return (e - Z95 * s, e + Z95 * s)

    def difference(self, a: str, b: str) -> tuple[float, float]:
        """(r_a - r_b, its standard error) using the full covariance (independent of the anchor)."""
        i, j = self._index(a), self._index(b)
        c = self.covariance
        var = c[i, i] + c[j, j] - 2.0 * c[i, j]
        return (self.elo[a] - self.elo[b], math.sqrt(max(var, 0.0)))

    def comparable(self, a: str, b: str) -> bool:
        """Whether some chain of games links a and b: else their difference is the prior's alone."""
        self._index(a), self._index(b)
        return self.components.get(a, 0) == self.components.get(b, 0)

    def likelihood_of_superiority(self, a: str, b: str) -> float:
        """Phi(diff / se): the (approximate posterior) probability that a is stronger than b."""
        diff, se = self.difference(a, b)
        if se == 0.0:
            return 0.5 if diff == 0.0 else float(diff > 0.0)
        return normal_cdf(diff / se)

    def expected_score(self, a: str, b: str, a_is_black: bool | None = None) -> float:
        """Model score of a against b; colour advantage added/subtracted if a's colour is given."""
        x = self.elo[a] - self.elo[b]
        if a_is_black is not None:
            x += self.colour_advantage_elo if a_is_black else -self.colour_advantage_elo
        return 1.0 / (1.0 + math.exp(-K * x))


@dataclass(frozen=True)
class _Pool:
    players: tuple[str, ...]
    black: np.ndarray  # int index per pair
    white: np.ndarray
    games: np.ndarray  # float N per pair
    score: np.ndarray  # float black score per pair (wins_black + draws / 2)
    wins_black: np.ndarray
    draws: np.ndarray
    flags: tuple[str | None, ...]  # per player, from `estimability`
    contrasts: np.ndarray  # [q, n] rows whose differences get the virtual drawn games
    components: tuple[int, ...]  # per player, from `estimability`


def _make_pool(players: tuple[str, ...], black: np.ndarray, white: np.ndarray, games: np.ndarray,
               wins_black: np.ndarray, draws: np.ndarray) -> _Pool:
    score = wins_black + 0.5 * draws
    est = estimability(len(players), black, white, games, score)
    return _Pool(players, black, white, games, score, wins_black, draws, est.flags, est.contrasts, est.components)


def _build_pool(
    data: Iterable[GameResult | PairCounts] | Mapping[tuple[str, str], PairCounts],
    players: Iterable[str] | None,
) -> _Pool:
    roster = None if players is None else list(dict.fromkeys(players))
    counts = [c for c in as_pair_counts(data, players=roster).values() if c.games > 0]
    if not counts:
        raise RatingInputError("no games to rate")
    names = roster if roster is not None else sorted({n for c in counts for n in (c.black, c.white)})
    index = {n: i for i, n in enumerate(names)}
    black = np.fromiter((index[c.black] for c in counts), dtype=np.intp, count=len(counts))
    white = np.fromiter((index[c.white] for c in counts), dtype=np.intp, count=len(counts))
    wb = np.fromiter((c.wins_black for c in counts), dtype=float, count=len(counts))
    dr = np.fromiter((c.draws for c in counts), dtype=float, count=len(counts))
    n = np.fromiter((c.games for c in counts), dtype=float, count=len(counts))
    return _make_pool(tuple(names), black, white, n, wb, dr)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def _objective(pool: _Pool, theta: np.ndarray, colour: bool, prior: float, gauge: float) -> float:
    n = len(pool.players)
    r = theta[:n]
    a = theta[n] if colour else 0.0
    x = K * (r[pool.black] - r[pool.white] + a)
    ll = float(np.sum(pool.score * _log_sigmoid(x) + (pool.games - pool.score) * _log_sigmoid(-x)))
    if prior > 0.0:
        priors = K * pool.contrasts @ r
        if colour:
            priors = np.append(priors, K * theta[n])
        ll += float(np.sum(0.5 * prior * (_log_sigmoid(priors) + _log_sigmoid(-priors))))
    if gauge > 0.0:
        ll -= 0.5 * gauge * float(np.sum(r)) ** 2
    return ll


def _grad_hess(
    pool: _Pool, theta: np.ndarray, colour: bool, prior: float, gauge: float, draw_rate: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of the penalised log-likelihood in Elo units.

    draw_rate: delta > 0 weights each pair by the variance its scores have with the pool's draws,
    N p (1 - p) (1 - delta) (the "meat" of the sandwich covariance, see the module doc)."""
    n = len(pool.players)
    m = n + 1 if colour else n
    r = theta[:n]
    a = theta[n] if colour else 0.0
    p = _sigmoid(K * (r[pool.black] - r[pool.white] + a))
    resid = K * (pool.score - pool.games * p)  # dLL/d(diff in Elo)
    w = K * K * pool.games * p * (1.0 - p) * (1.0 - draw_rate)  # -d2LL/d(diff)^2 when draw_rate is 0

    grad = np.bincount(pool.black, resid, minlength=m) - np.bincount(pool.white, resid, minlength=m)
    b, wt = pool.black, pool.white
    rows = [b, wt, b, wt]
    cols = [b, wt, wt, b]
    vals = [w, w, -w, -w]
    if colour:
        grad[n] = resid.sum()
        ac = np.full_like(b, n)
        rows += [ac, b, ac, wt, ac]
        cols += [b, ac, wt, ac, ac]
        vals += [w, w, -w, -w, w]
    flat = np.concatenate(rows) * m + np.concatenate(cols)
    info = np.bincount(flat, np.concatenate(vals), minlength=m * m).reshape(m, m)

    if prior > 0.0:
        c = pool.contrasts
        q = _sigmoid(K * c @ r)
        grad[:n] -= K * prior * (c.T @ (q - 0.5))
        info[:n, :n] += (c.T * (K * K * prior * q * (1.0 - q))) @ c
        if colour:
            qa = _sigmoid(K * a)
            grad[n] -= K * prior * (qa - 0.5)
            info[n, n] += K * K * prior * qa * (1.0 - qa)
    if gauge > 0.0:
        grad[:n] -= gauge * r.sum()
        info[:n, :n] += gauge
    return grad, info  # info = minus the Hessian (positive definite)


def _draw_rate(pool: _Pool, theta: np.ndarray) -> float:
    """The pool's draw rate between equals, delta = draws / (sum 4 N p (1 - p) + 1), in [0, 1]: pooled
    over all games, as a cell's own draws say nothing in a one-game cell (see the module doc)."""
    n = len(pool.players)
    a = theta[n] if len(theta) > n else 0.0
    p = _sigmoid(K * (theta[pool.black] - theta[pool.white] + a))
    expected = float(np.sum(4.0 * pool.games * p * (1.0 - p)))
    return min(float(pool.draws.sum()) / (expected + 1.0), 1.0)


def _firth_information(pool: _Pool, theta: np.ndarray, colour: bool, prior: float, gauge: float) -> np.ndarray:
    """I(theta) of Firth's penalty 1/2 log det I: the games' Fisher information plus the gauge and
    the prior's curvature at its centre (constants: they keep det I > 0, add nothing to the gradient)."""
    n = len(pool.players)
    _, info = _grad_hess(pool, theta, colour, 0.0, gauge)
    if prior > 0.0:
        info[:n, :n] += (K * K * prior / 4.0) * (pool.contrasts.T @ pool.contrasts)
        if colour:
            info[n, n] += K * K * prior / 4.0
    return info


def _firth_gradient(pool: _Pool, theta: np.ndarray, colour: bool, prior: float, gauge: float) -> np.ndarray:
    """Gradient of 1/2 log det I: Firth's (1993) modified score, each pair gaining H (1/2 - p) in
    black's score, H = w x^T I^-1 x its leverage."""
    n = len(pool.players)
    sigma = np.linalg.inv(_firth_information(pool, theta, colour, prior, gauge))
    b, w = pool.black, pool.white
    h = sigma[b, b] + sigma[w, w] - 2.0 * sigma[b, w]
    if colour:
        h += sigma[n, n] + 2.0 * (sigma[b, n] - sigma[w, n])
    r = theta[:n]
    p = _sigmoid(K * (r[b] - r[w] + (theta[n] if colour else 0.0)))
    adjust = K * (K * K * pool.games * p * (1.0 - p) * h) * (0.5 - p)
    grad = np.bincount(b, adjust, minlength=len(theta)) - np.bincount(w, adjust, minlength=len(theta))
    if colour:
        grad[n] = adjust.sum()
    return grad


def _newton(
    pool: _Pool, theta0: np.ndarray, colour: bool, prior: float, gauge: float, tol: float, max_iter: int,
    firth: bool = False,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Maximise the penalised log-likelihood (plus Firth's penalty if `firth`): Newton steps on
    the Fisher information, halved until the objective does not fall."""

    def objective(theta: np.ndarray) -> float:
        value = _objective(pool, theta, colour, prior, gauge)
        if firth:
            value += 0.5 * float(np.linalg.slogdet(_firth_information(pool, theta, colour, prior, gauge))[1])
        return value

    theta = theta0.copy()
    obj = objective(theta)
    for it in range(1, max_iter + 1):
        grad, info = _grad_hess(pool, theta, colour, prior, gauge)
        if firth:
            grad = grad + _firth_gradient(pool, theta, colour, prior, gauge)
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, grad, rcond=None)[0]
        t = 1.0
        while True:
            cand = theta + t * step
            cand_obj = objective(cand)
            if cand_obj >= obj - 1e-12 * max(1.0, abs(obj)) or t < 1e-6:
                break
            t *= 0.5
        theta, obj = cand, cand_obj
        if float(np.max(np.abs(t * step))) < tol:
            _, info = _grad_hess(pool, theta, colour, prior, gauge)
            # A vanishing curvature direction other than the common shift of all ratings (which
            # only the prior or the gauge penalty pins down) means the optimum is at infinity.
            n = len(pool.players)
            u = np.zeros(len(theta))
            u[:n] = 1.0 / math.sqrt(n)
            top = float(np.linalg.eigvalsh(info)[-1])
            eig = np.linalg.eigvalsh(info + top * np.outer(u, u))
            if eig[0] > 1e-9 * eig[-1] and np.all(np.isfinite(theta)):
                return theta, info, it
            break
    raise RatingInputError(
        "ratings did not converge: the maximum-likelihood estimate does not exist for this pool "
        "(an unbeaten or winless player, or disconnected groups); use prior_games > 0"
    )


def compute_ratings(
    results_or_counts: Iterable[GameResult | PairCounts] | Mapping[tuple[str, str], PairCounts],
    *,
    anchor: str | None = None,
    anchor_elo: float = 0.0,
    colour_advantage: bool = True,
    prior_games: float = 2.0,
    bias_reduction: bool = True,
    draw_model: str = "half",
    players: Iterable[str] | None = None,
    bootstrap: int = 0,
    seed: int | None = None,
    tol: float = 1e-7,
    max_iter: int = 100,
) -> Ratings:
    """Fit Bradley–Terry Elo ratings of a pool (see the module docstring for the model).

    results_or_counts: `GameResult`s, `PairCounts`, or the mapping `aggregate` returns.
    anchor / anchor_elo: hold `anchor` at `anchor_elo`; None holds the pool mean at 0.
    colour_advantage: fit the first-player advantage a (else a = 0).
    prior_games: virtual drawn games on each flagged player's contrast, and on the colour term (>= 0);
        0 rejects a pool whose maximum-likelihood estimate does not exist.
    bias_reduction: add Firth's penalty (removes the MLE's outward bias; see the module doc).
    draw_model: only "half" (a draw is half a win to each side).
    players: optional roster; results naming anyone else are rejected, and roster players
        without games are rated by the prior alone (wide intervals).
    bootstrap: B > 0 adds percentile intervals from B refits on games resampled with replacement.
    """
    if draw_model != "half":
        raise RatingInputError(f"unknown draw_model {draw_model!r}: only 'half' is supported")
    if not (isinstance(prior_games, (int, float)) and math.isfinite(prior_games) and prior_games >= 0):
        raise RatingInputError(f"prior_games must be a finite number >= 0, got {prior_games!r}")
    if not math.isfinite(anchor_elo):
        raise RatingInputError(f"anchor_elo must be finite, got {anchor_elo!r}")
    if bootstrap < 0:
        raise RatingInputError(f"bootstrap must be >= 0, got {bootstrap!r}")
    pool = _build_pool(results_or_counts, players)
    n = len(pool.players)
    if anchor is not None and anchor not in pool.players:
        raise RatingInputError(f"unknown anchor player {anchor!r}: not in the pool")
    prior = float(prior_games)
    if prior == 0.0 and any(pool.flags):
        unrated = ", ".join(f"{p} ({f})" for p, f in zip(pool.players, pool.flags) if f)
        raise RatingInputError(f"the maximum-likelihood estimate does not exist for this pool: {unrated}; "
                               "use prior_games > 0")
    gauge = 1.0 / (ELO_PER_NAT**2)  # every prior term is a difference: the gauge stays free without it
    m = n + 1 if colour_advantage else n

    theta, info, iterations = _newton(pool, np.zeros(m), colour_advantage, prior, gauge, tol, max_iter,
                                      bias_reduction)
    sigma = np.linalg.inv(info)
    if pool.draws.any():
        _, meat = _grad_hess(pool, theta, colour_advantage, prior, gauge, draw_rate=_draw_rate(pool, theta))
        sigma = sigma @ meat @ sigma
    sigma = 0.5 * (sigma + sigma.T)

    # Reported = T @ r (+ anchor_elo): contrasts against the anchor or the pool mean.
    if anchor is None:
        transform = np.eye(n) - 1.0 / n
        offset = 0.0
    else:
        transform = np.eye(n)
        transform[:, pool.players.index(anchor)] -= 1.0
        offset = anchor_elo
    reported = transform @ theta[:n] + offset
    cov = transform @ sigma[:n, :n] @ transform.T
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    if anchor is not None:
        reported[pool.players.index(anchor)] = anchor_elo
        se[pool.players.index(anchor)] = 0.0

    colour_elo = float(theta[n]) if colour_advantage else 0.0
    colour_se = float(math.sqrt(sigma[n, n])) if colour_advantage else 0.0

    boot_ci = boot_colour = None
    if bootstrap > 0:
        boot_ci, boot_colour = _bootstrap(
            pool, theta, transform, offset, colour_advantage, prior, gauge, tol, max_iter, bootstrap, seed,
            bias_reduction,
        )

    return Ratings(
        elo={p: float(v) for p, v in zip(pool.players, reported)},
        stderr={p: float(v) for p, v in zip(pool.players, se)},
        players=pool.players,
        covariance=cov,
        colour_advantage_elo=colour_elo,
        colour_advantage_stderr=colour_se,
        games=int(pool.games.sum()),
        anchor=anchor,
        anchor_elo=anchor_elo if anchor is not None else 0.0,
        prior_games=prior,
        iterations=iterations,
        flags=dict(zip(pool.players, pool.flags)),
        components=dict(zip(pool.players, pool.components)),
        bootstrap_ci=boot_ci,
        bootstrap_colour_ci=boot_colour,
    )


def _bootstrap(
    pool: _Pool,
    theta: np.ndarray,
    transform: np.ndarray,
    offset: float,
    colour: bool,
    prior: float,
    gauge: float,
    tol: float,
    max_iter: int,
    replicates: int,
    seed: int | None,
    firth: bool,
) -> tuple[dict[str, tuple[float, float]], tuple[float, float] | None]:
    """Nonparametric bootstrap over games: resample all games (multinomially over cells)."""
    rng = np.random.default_rng(seed)
    # Cells: (pair, outcome) with outcome black win / draw / white win, as whole games.
    cells = np.concatenate([pool.wins_black, pool.games - pool.draws - pool.wins_black, pool.draws])
    total = int(cells.sum())
    probs = cells / cells.sum()
    k = len(pool.games)
    n = len(pool.players)
    draws_elo = np.empty((replicates, n))
    draws_colour = np.empty(replicates)
    for b in range(replicates):
        c = rng.multinomial(total, probs).astype(float)
        wb, ww, dr = c[:k], c[k : 2 * k], c[2 * k :]
        games = wb + ww + dr
        keep = games > 0
        sample = _make_pool(pool.players, pool.black[keep], pool.white[keep], games[keep], wb[keep], dr[keep])
        est, _, _ = _newton(sample, theta, colour, prior, gauge, tol, max_iter, firth)
        draws_elo[b] = transform @ est[:n] + offset
        draws_colour[b] = est[n] if colour else 0.0
    lo, hi = np.percentile(draws_elo, [2.5, 97.5], axis=0)
    ci = {p: (float(lo[i]), float(hi[i])) for i, p in enumerate(pool.players)}
    colour_ci = tuple(float(v) for v in np.percentile(draws_colour, [2.5, 97.5])) if colour else None
    return ci, colour_ci
