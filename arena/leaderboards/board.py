"""A leaderboard: ratings of one pool's games, best first, with head-to-head records, Elo-vs-visits
curves and, with a reference ladder, each player's place on the reference scale.

* `build_leaderboard`: the fit of a game set under a `RatingPolicy` (pure, no session);
* `leaderboard`: the game set of one rating pool (a condition: board size, rules, komi; never a
  mix), of a tournament or of every game, read and fitted now. Servers go through
  `LeaderboardService`, which keeps fits while the games are unchanged;
* `elo_vs_step`: a training run's checkpoints on a leaderboard, by training step.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db.condition_queries import ConditionGames, choose_condition, rating_conditions
from arena.db.models import Checkpoint, Player
from arena.db.rating_inputs import RatedGameSet, rated_game_set
from arena.ratings import HeadToHead, PairCounts, Ratings, VisitsPoint, compute_ratings, elo_vs_visits, head_to_head
from arena.ratings.estimability import flag_legend
from arena.ratings.reference import Equivalent, Ladder, RelativeElo, equivalent_strength, relative_elo

from .policy import RatingPolicy
from .shared import shared_ratings

__all__ = ["Leaderboard", "PlayerStanding", "StepPoint", "build_leaderboard", "elo_vs_step", "leaderboard",
           "parse_ladder_name", "pool_leaderboard"]

_LADDER = re.compile(r"(?P<checkpoint>.+)@(?P<visits>[1-9][0-9]*)v")  # arena.scheduling.ladder_name
DEFAULT_POLICY = RatingPolicy()


@dataclass(frozen=True)
class PlayerStanding:
    """One row of the leaderboard. Elo and interval relative to the fit's anchor."""

    name: str
    elo: float
    stderr: float
    lo: float  # Hessian 95% interval
    hi: float
    games: int
    wins: int
    losses: int
    draws: int
    bootstrap_lo: float | None = None  # percentile 95% interval, with bootstrap refits
    bootstrap_hi: float | None = None
    # None when the games rate the player; else why a weak prior had to ("unbeaten", "winless",
    # "separated", "disconnected": arena.ratings.estimability), its interval being the prior's
    flag: str | None = None

    @property
    def score(self) -> float | None:
        return (self.wins + 0.5 * self.draws) / self.games if self.games else None


@dataclass(frozen=True)
class Leaderboard:
    """Ratings of the game set, best first, with head-to-head records and visits curves.

    `ratings` and `head_to_head` are None when the game set is empty. `visits_curves` maps a
    checkpoint name to its points, for players named `<checkpoint>@<N>v` at two visit counts or more.
    `condition` is the one rating pool the games are from (None: no games anywhere), `conditions`
    every pool the leaderboard could have been asked for, most games first.
    """

    game_set: RatedGameSet
    standings: tuple[PlayerStanding, ...]
    ratings: Ratings | None
    head_to_head: HeadToHead | None
    visits_curves: dict[str, list[tuple[str, VisitsPoint]]] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)  # compute_ratings' arguments
    condition: str | None = None
    conditions: tuple[ConditionGames, ...] = ()
    # The reference scale (arena.ratings.reference), when a ladder is configured: per player, Elo
    # relative to the reference point (if that is in the pool) and equivalent strength (if two rungs are).
    reference: Ladder | None = None
    relative: dict[str, RelativeElo] = field(default_factory=dict)
    equivalents: dict[str, Equivalent] = field(default_factory=dict)

    def pairs(self) -> list[tuple[str, str]]:
        """Pairs that met, the better-rated first, in leaderboard order."""
        if self.head_to_head is None:
            return []
        order = [s.name for s in self.standings]
        out = []
        for i, a in enumerate(order):
            for b in order[i + 1:]:
                if self.head_to_head.record(a, b).games:
                    out.append((a, b))
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: what `arena leaderboard --json` prints and the API returns."""
        ratings = self.ratings
        flags = {s.name: s.flag for s in self.standings}
        out: dict[str, Any] = {
            "condition": self.condition,
            "conditions": [c.as_dict() for c in self.conditions],
            "game_set": {"sha256": self.game_set.sha256, "games": self.game_set.games},
            "parameters": dict(self.parameters),
            "colour_advantage": None,
            "players": [{"name": s.name, "elo": s.elo, "stderr": s.stderr, "ci95": [s.lo, s.hi],
                         "bootstrap_ci95": None if s.bootstrap_lo is None else [s.bootstrap_lo, s.bootstrap_hi],
                         "games": s.games, "wins": s.wins, "losses": s.losses, "draws": s.draws,
                         "score": s.score, "flag": s.flag} for s in self.standings],
            "flag_legend": flag_legend(flags.values()),
            "head_to_head": [],
            "visits_curves": {ckpt: [{"player": player, "visits": p.visits, "elo": p.elo, "ci95": [p.lo, p.hi],
                                      "flag": flags.get(player)}
                                     for player, p in points] for ckpt, points in self.visits_curves.items()},
        }
        if ratings is not None:
            lo, hi = ratings.colour_ci95()
            out["colour_advantage"] = {"elo": ratings.colour_advantage_elo, "ci95": [lo, hi]}
        self._reference_dict(out)
        for a, b in self.pairs():
            r = self.head_to_head.record(a, b)
            out["head_to_head"].append({
                "a": a, "b": b, "wins": r.wins, "losses": r.losses, "draws": r.draws, "score": r.score,
                "elo_diff": r.elo_diff, "ci95": [r.elo_lo, r.elo_hi], "adjusted": r.adjusted,
                "model_elo_diff": r.model_elo_diff, "model_elo_stderr": r.model_elo_stderr,
                "likelihood_of_superiority": r.likelihood_of_superiority, "model_note": r.model_note})
        return out

    def _reference_dict(self, out: dict[str, Any]) -> None:
        """The reference scale into `out`: `reference` (the ladder), and per player `relative_elo`
        and `equivalent` (None where the pool cannot place it)."""
        ladder = self.reference
        out["reference"] = None if ladder is None else {
            "name": ladder.name, "parameter": ladder.parameter, "reference_point": ladder.reference_point,
            "rungs": [{"player": r.player, "value": r.value} for r in ladder.rungs]}
        for row in out["players"]:
            row.update(self.reference_of(row["name"]))

    def reference_of(self, name: str) -> dict[str, Any]:
        """`relative_elo` and `equivalent` of one player, JSON-ready (None where not placed)."""
        rel, eq = self.relative.get(name), self.equivalents.get(name)
        return {"relative_elo": None if rel is None else {"reference_point": rel.reference_point, "elo": rel.elo,
                                                          "stderr": rel.stderr, "ci95": [rel.lo, rel.hi]},
                "equivalent": None if eq is None else eq.as_dict()}


def parse_ladder_name(name: str) -> tuple[str, int] | None:
    """("s002000", 64) for the visits-ladder player name "s002000@64v"; None for other names."""
    match = _LADDER.fullmatch(name)
    return (match["checkpoint"], int(match["visits"])) if match else None


def _records(counts: Mapping[tuple[str, str], PairCounts]) -> dict[str, list[int]]:
    """[wins, losses, draws] of every player in the pair counts."""
    wld: dict[str, list[int]] = {}
    for c in counts.values():
        black = wld.setdefault(c.black, [0, 0, 0])
        white = wld.setdefault(c.white, [0, 0, 0])
        black[0] += c.wins_black
        black[1] += c.wins_white
        white[0] += c.wins_white
        white[1] += c.wins_black
        black[2] += c.draws
        white[2] += c.draws
    return wld


def build_leaderboard(game_set: RatedGameSet, policy: RatingPolicy = DEFAULT_POLICY, *, condition: str | None = None,
                      conditions: Sequence[ConditionGames] = (), ratings: Ratings | None = None) -> Leaderboard:
    """Fit `compute_ratings` under `policy` on the game set (one pool: `condition`'s), unless
    `ratings` is that fit already, and assemble the leaderboard (pure; no session).

    Raises arena.ratings.RatingInputError for an anchor outside the pool.
    """
    parameters = policy.fit_arguments()
    reference = policy.reference
    pool = {"condition": condition, "conditions": tuple(conditions), "reference": reference}
    if not game_set.games:
        return Leaderboard(game_set=game_set, standings=(), ratings=None, head_to_head=None, parameters=parameters,
                           **pool)
    if ratings is None:
        ratings = compute_ratings(game_set.counts, **parameters)
    wld = _records(game_set.counts)
    standings = []
    for name in ratings.players:
        lo, hi = ratings.ci95(name)
        boot = ratings.bootstrap_ci[name] if ratings.bootstrap_ci is not None else (None, None)
        w, l, d = wld.get(name, [0, 0, 0])
        standings.append(PlayerStanding(name=name, elo=ratings.elo[name], stderr=ratings.stderr[name], lo=lo, hi=hi,
                                        games=w + l + d, wins=w, losses=l, draws=d,
                                        bootstrap_lo=boot[0], bootstrap_hi=boot[1], flag=ratings.flags.get(name)))
    standings.sort(key=lambda s: (-s.elo, s.name))
    rungs: dict[str, dict[int, str]] = {}
    for name in ratings.players:
        parsed = parse_ladder_name(name)
        if parsed is not None:
            rungs.setdefault(parsed[0], {})[parsed[1]] = name
    curves = {}
    for checkpoint, by_visits in sorted(rungs.items()):
        if len(by_visits) >= 2:
            points = elo_vs_visits(ratings, by_visits)
            curves[checkpoint] = [(by_visits[p.visits], p) for p in points]
    return Leaderboard(game_set=game_set, standings=tuple(standings), ratings=ratings,
                       head_to_head=head_to_head(game_set.counts, ratings), visits_curves=curves,
                       parameters=parameters, **pool, **_reference_scale(ratings, reference))


def _reference_scale(ratings: Ratings, ladder: Ladder | None) -> dict[str, Any]:
    """Every player's Elo relative to the ladder's reference point and equivalent strength, where
    this pool has the reference point and two rungs."""
    if ladder is None:
        return {}
    # Not placed where no games link a player to the scale: the prior alone would place it. Nor
    # anyone when the reference point itself is flagged (a rung that lost every game): its place is
    # the prior's, so every Elo relative to it would be too, with intervals that miss (a true gap of
    # 900 Elo read 412, and 20% of the 95% intervals covered it).
    point = ladder.reference_point
    placed = point in ratings.elo and ratings.flags.get(point) is None
    relative = ({name: relative_elo(ratings, name, point) for name in ratings.players
                 if ratings.comparable(name, point)} if placed else {})
    rungs = [r.player for r in ladder.rungs if r.player in ratings.elo]
    equivalents = {}
    for name in ratings.players:
        if not all(ratings.comparable(name, rung) for rung in rungs):
            continue
        eq = equivalent_strength(ratings, name, ladder)
        if eq is None:
            break  # fewer than two rungs in this pool: nobody can be placed
        equivalents[name] = eq
    return {"relative": relative, "equivalents": equivalents}


_NO_GAMES = RatedGameSet(counts={}, games=0, sha256=hashlib.sha256(b"").hexdigest())


def leaderboard(session: Session, policy: RatingPolicy = DEFAULT_POLICY, *, tournament_id: int | None = None,
                condition: str | None = None, board_size: int | None = None,
                conditions: Sequence[ConditionGames] | None = None) -> Leaderboard:
    """The leaderboard of one rating pool, fitted now (no cache: `LeaderboardService` keeps
    them): the finished games under `condition` (default: the condition with the most games, on
    `board_size` if given; `choose_condition`), of one tournament's (whose games share one
    condition) or of every tournament. `conditions`: the pools to choose from, if the caller has
    read them (`rating_conditions` otherwise)."""
    if conditions is None:
        conditions = rating_conditions(session, tournament_id)
    chosen = choose_condition(conditions, condition, board_size=board_size)
    return pool_leaderboard(session, policy, tournament_id=tournament_id, condition=chosen, conditions=conditions)


def pool_leaderboard(session: Session, policy: RatingPolicy, *, tournament_id: int | None, condition: str | None,
                     conditions: Sequence[ConditionGames]) -> Leaderboard:
    """The leaderboard of the pool `condition`, chosen already (`choose_condition`; None: there is
    no such pool, so no games), of one tournament's games or of every tournament's."""
    if condition is None:
        game_set = _NO_GAMES
    else:  # a tournament is one condition already: no join needed to narrow its games
        game_set = rated_game_set(session, tournament_id, condition=None if tournament_id is not None else condition)
    ratings = None
    if game_set.games:  # fitted once for every process (arena.leaderboards.shared)
        arguments = policy.fit_arguments()
        ratings = shared_ratings(session, game_set, arguments, lambda: compute_ratings(game_set.counts, **arguments))
    return build_leaderboard(game_set, policy, condition=condition, conditions=conditions, ratings=ratings)


@dataclass(frozen=True)
class StepPoint:
    """A run's checkpoint, as one player, on the leaderboard: Elo against training step."""

    checkpoint: str
    checkpoint_id: int
    training_step: int | None
    player: str
    elo: float
    lo: float  # 95% interval
    hi: float
    games: int
    flag: str | None = None  # as PlayerStanding.flag: an unbeaten checkpoint's hi is the prior's


def elo_vs_step(session: Session, board: Leaderboard, run: str) -> list[StepPoint]:
    """The standings of training run `run`'s checkpoints in `board`, by training step then player.
    A checkpoint that plays at several visit counts gives one point per player."""
    standings = {s.name: s for s in board.standings}
    rows = session.execute(select(Player.name, Checkpoint.id, Checkpoint.name, Checkpoint.training_step)
                           .join(Checkpoint, Checkpoint.id == Player.checkpoint_id)
                           .where(Checkpoint.run_name == run))
    points = [StepPoint(checkpoint=cname, checkpoint_id=cid, training_step=step, player=pname,
                        elo=standings[pname].elo, lo=standings[pname].lo, hi=standings[pname].hi,
                        games=standings[pname].games, flag=standings[pname].flag)
              for pname, cid, cname, step in rows if pname in standings]
    return sorted(points, key=lambda p: (p.training_step is None, p.training_step or 0, p.player))
