"""Read-only queries for the CLI and the HTTP API: plain dataclasses out, nothing written.

* `find_checkpoint`: a registered checkpoint by name, sha256 or unique sha256 prefix.
* `list_checkpoints`, `find_tournament`, `list_tournaments`, `list_games`, `game_sgf`: rows as
  the tables show them; `page_games` (filters, cursor by id), `game_detail` (per-move stats).
* `LeaderboardCache`: fitted leaderboards kept while the game set is unchanged (the API's).
* `leaderboard`: ratings, head-to-head and Elo-vs-visits curves over a tournament's (or all)
  finished games, fitted by the pure functions of `arena.ratings`; `elo_vs_step` a run's curve.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from arena.ratings import (
    GameResult,
    HeadToHead,
    Ratings,
    VisitsPoint,
    compute_ratings,
    elo_vs_visits,
    head_to_head,
)

from .models import RESULT_PATTERN, Checkpoint, FinishedGame, Player, ScheduledGame, Tournament
from .repository import RatedGameSet, rated_game_set

__all__ = [
    "MAX_DB_ID",
    "MIN_SHA256_PREFIX",
    "RESULT_KINDS",
    "CheckpointSummary",
    "GameDetail",
    "GameFilter",
    "GameSummary",
    "Leaderboard",
    "LeaderboardCache",
    "LookupFailedError",
    "PlayerStanding",
    "StepPoint",
    "TournamentSummary",
    "build_leaderboard",
    "checkpoint_players",
    "checkpoint_summary",
    "elo_vs_step",
    "find_checkpoint",
    "find_tournament",
    "game_detail",
    "game_sgf",
    "leaderboard",
    "leaderboard_key",
    "list_checkpoints",
    "list_games",
    "list_tournaments",
    "page_games",
    "parse_ladder_name",
]

MAX_DB_ID = 2**31 - 1  # the tables' integer primary keys: a larger id names nothing
_DB_ID = re.compile(r"[0-9]{1,10}")  # ASCII digits only (str.isdigit also takes "²", which int() refuses)
MIN_SHA256_PREFIX = 8  # shorter hex prefixes are too likely to be a name, or ambiguous
_HEX = re.compile(r"[0-9a-fA-F]+")
_LADDER = re.compile(r"(?P<checkpoint>.+)@(?P<visits>[1-9][0-9]*)v")  # arena.scheduling.ladder_name


class LookupFailedError(LookupError):
    """Nothing (or more than one thing) answers to a reference; the message lists near matches."""


# ------------------------------------------------------------------------------- checkpoints

@dataclass(frozen=True)
class CheckpointSummary:
    id: int
    name: str
    sha256: str
    run_name: str | None
    training_step: int | None
    board_sizes: tuple[int, ...]
    parent_sha256: str | None
    created_at: datetime


def _board_sizes(manifest: dict[str, Any]) -> tuple[int, ...]:
    sizes = manifest.get("board_sizes") or ()
    return tuple(n for n in sizes if isinstance(n, int))


def _checkpoint_rows(session: Session, *conditions: Any) -> list[CheckpointSummary]:
    parent = aliased(Checkpoint)
    rows = session.execute(select(Checkpoint, parent.sha256).outerjoin(parent, parent.id == Checkpoint.parent_id)
                           .where(*conditions).order_by(Checkpoint.created_at, Checkpoint.id))
    return [CheckpointSummary(id=c.id, name=c.name, sha256=c.sha256, run_name=c.run_name,
                              training_step=c.training_step, board_sizes=_board_sizes(c.manifest),
                              parent_sha256=parent_sha, created_at=c.created_at) for c, parent_sha in rows]


def list_checkpoints(session: Session, *, run: str | None = None) -> list[CheckpointSummary]:
    """Every registered checkpoint (only training run `run`'s), oldest registration first."""
    return _checkpoint_rows(session, *([] if run is None else [Checkpoint.run_name == run]))


def checkpoint_summary(session: Session, checkpoint_id: int) -> CheckpointSummary:
    """The checkpoint with this id; LookupFailedError if there is none."""
    rows = _checkpoint_rows(session, Checkpoint.id == checkpoint_id)
    if not rows:
        raise LookupFailedError(f"no checkpoint with id {checkpoint_id}")
    return rows[0]


def checkpoint_players(session: Session, checkpoint_id: int) -> list[str]:
    """The names of the players (search settings) this checkpoint plays as, oldest first."""
    return list(session.scalars(select(Player.name).where(Player.checkpoint_id == checkpoint_id)
                                .order_by(Player.id)))


def find_checkpoint(session: Session, ref: str) -> Checkpoint:
    """The registered checkpoint `ref` names: a name (the newest registration if several share
    it), a full sha256, or a sha256 prefix of at least MIN_SHA256_PREFIX hex digits that only
    one checkpoint has. LookupFailedError lists near matches otherwise."""
    ref = ref.strip()
    named = session.scalars(select(Checkpoint).where(Checkpoint.name == ref)
                            .order_by(Checkpoint.created_at.desc(), Checkpoint.id.desc())).first()
    if named is not None:
        return named
    if len(ref) >= MIN_SHA256_PREFIX and _HEX.fullmatch(ref):
        matches = list(session.scalars(select(Checkpoint).where(Checkpoint.sha256.startswith(ref.lower()))
                                       .order_by(Checkpoint.id).limit(10)))
        if len(matches) == 1:
            return matches[0]
        if matches:
            listed = ", ".join(f"{c.name} ({c.sha256[:16]})" for c in matches)
            raise LookupFailedError(f"checkpoint sha256 prefix {ref!r} is ambiguous: {listed}; give more digits")
    names = list(session.scalars(select(Checkpoint.name).distinct()))
    near = difflib.get_close_matches(ref, names, n=5, cutoff=0.6)
    near += [n for n in names if ref and ref.lower() in n.lower() and n not in near][: 5 - len(near)]
    hint = f"; did you mean {', '.join(near)}?" if near else (
        "; no checkpoint is registered yet" if not names else f"; {len(names)} checkpoints are registered "
        f"(`arena checkpoint list`)")
    short = (f" (a sha256 prefix needs at least {MIN_SHA256_PREFIX} hex digits)"
             if _HEX.fullmatch(ref) and len(ref) < MIN_SHA256_PREFIX else "")
    raise LookupFailedError(f"no registered checkpoint named {ref!r} or with that sha256{short}{hint}")


# ------------------------------------------------------------------------------- tournaments and games

@dataclass(frozen=True)
class TournamentSummary:
    id: int
    name: str
    format: str
    status: str
    games_scheduled: int
    games_finished: int


def find_tournament(session: Session, ref: str | int) -> TournamentSummary:
    """The tournament with this id (an integer, or digits) or name; LookupFailedError otherwise."""
    text = str(ref).strip()
    tournament = session.scalars(select(Tournament).where(Tournament.name == text)).first()
    if tournament is None and _DB_ID.fullmatch(text) and int(text) <= MAX_DB_ID:
        tournament = session.get(Tournament, int(text))
    if tournament is None:
        names = list(session.scalars(select(Tournament.name)))
        near = difflib.get_close_matches(text, names, n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise LookupFailedError(f"no tournament with id or name {text!r}{hint}")
    return TournamentSummary(id=tournament.id, name=tournament.name, format=tournament.format,
                             status=tournament.status, games_scheduled=tournament.games_scheduled,
                             games_finished=tournament.games_finished)


def list_tournaments(session: Session) -> list[TournamentSummary]:
    """Every tournament, newest first."""
    return [TournamentSummary(id=t.id, name=t.name, format=t.format, status=t.status,
                              games_scheduled=t.games_scheduled, games_finished=t.games_finished)
            for t in session.scalars(select(Tournament).order_by(Tournament.id.desc()))]


@dataclass(frozen=True)
class GameSummary:
    id: int  # the scheduled game's id
    tournament_id: int
    tournament: str
    black: str
    white: str
    result: str
    move_count: int
    duration_s: float
    finished_at: datetime


@dataclass(frozen=True)
class GameFilter:
    """Which finished games to list. Every field narrows the list; None: no condition.

    `result`: an exact result string (`B+R`, `W+3.5`, `0`, `Void`) or one of RESULT_KINDS.
    `opponent` only with `player`: games between the two, either colour.
    """

    player: str | None = None
    opponent: str | None = None
    tournament_id: int | None = None
    result: str | None = None
    since: datetime | None = None  # finished at or after
    until: datetime | None = None  # finished before


# Result kinds a game list can be narrowed to, besides an exact result string.
RESULT_KINDS = {
    "black": FinishedGame.result.like("B+%"),
    "white": FinishedGame.result.like("W+%"),
    "draw": FinishedGame.result == "0",
    "void": FinishedGame.result == "Void",
    "resign": FinishedGame.result.like("%+R"),
    "forfeit": FinishedGame.result.like("%+F"),
}
_RESULT = re.compile(RESULT_PATTERN)


def _games_query(filters: GameFilter):
    black, white = aliased(Player), aliased(Player)
    query = (
        # Only the listed columns: the SGF and per-move statistics stay in the database.
        select(FinishedGame.scheduled_game_id, FinishedGame.result, FinishedGame.move_count, FinishedGame.duration_s,
               FinishedGame.finished_at, ScheduledGame.tournament_id, Tournament.name, black.name, white.name)
        .join(ScheduledGame, ScheduledGame.id == FinishedGame.scheduled_game_id)
        .join(Tournament, Tournament.id == ScheduledGame.tournament_id)
        .join(black, black.id == ScheduledGame.black_player_id)
        .join(white, white.id == ScheduledGame.white_player_id)
    )
    if filters.opponent is not None and filters.player is None:
        raise ValueError("opponent: needs a player")
    if filters.player is not None:
        query = query.where(or_(black.name == filters.player, white.name == filters.player))
    if filters.opponent is not None:
        query = query.where(or_(black.name == filters.opponent, white.name == filters.opponent))
    if filters.tournament_id is not None:
        query = query.where(ScheduledGame.tournament_id == filters.tournament_id)
    if filters.result is not None:
        if filters.result in RESULT_KINDS:
            query = query.where(RESULT_KINDS[filters.result])
        elif _RESULT.fullmatch(filters.result):
            query = query.where(FinishedGame.result == filters.result)
        else:
            raise ValueError(f"result: {filters.result!r} is neither a result string (B+R, W+3.5, 0, Void) "
                             f"nor one of {', '.join(RESULT_KINDS)}")
    if filters.since is not None:
        query = query.where(FinishedGame.finished_at >= filters.since)
    if filters.until is not None:
        query = query.where(FinishedGame.finished_at < filters.until)
    return query


def _summaries(session: Session, query) -> list[GameSummary]:
    return [GameSummary(id=gid, tournament_id=tid, tournament=tname, black=b, white=w, result=result,
                        move_count=moves, duration_s=duration, finished_at=finished)
            for gid, result, moves, duration, finished, tid, tname, b, w in session.execute(query)]


def list_games(session: Session, *, player: str | None = None, tournament_id: int | None = None,
               limit: int | None = 50) -> list[GameSummary]:
    """Finished games, newest first; only `player`'s (either colour) and/or one tournament's."""
    query = _games_query(GameFilter(player=player, tournament_id=tournament_id)).order_by(
        FinishedGame.finished_at.desc(), FinishedGame.scheduled_game_id.desc())
    if limit is not None:
        query = query.limit(limit)
    return _summaries(session, query)


def page_games(session: Session, filters: GameFilter, *, before_id: int | None = None,
               limit: int = 50) -> tuple[list[GameSummary], int | None]:
    """One page of finished games by descending id (stable while games are added: new games get
    larger ids), those with id < `before_id` only; and the `before_id` of the next page (None
    at the end). ValueError names a bad filter."""
    query = _games_query(filters).order_by(FinishedGame.scheduled_game_id.desc()).limit(limit + 1)
    if before_id is not None:
        query = query.where(FinishedGame.scheduled_game_id < before_id)
    games = _summaries(session, query)
    more = len(games) > limit
    games = games[:limit]
    return games, (games[-1].id if more else None)


@dataclass(frozen=True)
class GameDetail:
    """A finished game with everything stored about it except the SGF."""

    summary: GameSummary
    pairing: str
    game_index: int
    seed: int
    opening: str | None
    score: float | None  # black's margin; None for R/T/F/Void
    move_stats: list[Any]  # one entry per move: visits, root_value, policy_entropy, time_s
    worker: str
    software_version: str
    model_versions: dict[str, Any]


def game_detail(session: Session, game_id: int) -> GameDetail:
    """The finished game `game_id` with per-move statistics; LookupFailedError if unknown or unfinished."""
    rows = _summaries(session, _games_query(GameFilter()).where(FinishedGame.scheduled_game_id == game_id))
    if not rows:
        game_sgf(session, game_id)  # raises with the reason
    game = session.get(FinishedGame, game_id)
    scheduled = session.get(ScheduledGame, game_id)
    return GameDetail(summary=rows[0], pairing=scheduled.pairing, game_index=scheduled.game_index,
                      seed=scheduled.seed, opening=scheduled.opening, score=game.score,
                      move_stats=list(game.move_stats), worker=game.worker, software_version=game.software_version,
                      model_versions=dict(game.model_versions))


def game_sgf(session: Session, game_id: int) -> str:
    """The stored SGF of finished game `game_id`; LookupFailedError if it is unknown or unfinished."""
    sgf = session.scalar(select(FinishedGame.sgf).where(FinishedGame.scheduled_game_id == game_id))
    if sgf is None:
        scheduled = session.get(ScheduledGame, game_id)
        state = "is scheduled but not finished yet" if scheduled is not None else "does not exist"
        raise LookupFailedError(f"game {game_id} {state}")
    return sgf


# ------------------------------------------------------------------------------- leaderboard

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

    @property
    def score(self) -> float | None:
        return (self.wins + 0.5 * self.draws) / self.games if self.games else None


@dataclass(frozen=True)
class Leaderboard:
    """Ratings of the game set, best first, with head-to-head records and visits curves.

    `ratings` and `head_to_head` are None when the game set is empty. `visits_curves` maps a
    checkpoint name to its points, for players named `<checkpoint>@<N>v` at two visit counts or more.
    """

    game_set: RatedGameSet
    standings: tuple[PlayerStanding, ...]
    ratings: Ratings | None
    head_to_head: HeadToHead | None
    visits_curves: dict[str, list[tuple[str, VisitsPoint]]] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)  # compute_ratings' arguments

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
        out: dict[str, Any] = {
            "game_set": {"sha256": self.game_set.sha256, "games": len(self.game_set.results)},
            "parameters": dict(self.parameters),
            "colour_advantage": None,
            "players": [{"name": s.name, "elo": s.elo, "stderr": s.stderr, "ci95": [s.lo, s.hi],
                         "bootstrap_ci95": None if s.bootstrap_lo is None else [s.bootstrap_lo, s.bootstrap_hi],
                         "games": s.games, "wins": s.wins, "losses": s.losses, "draws": s.draws,
                         "score": s.score} for s in self.standings],
            "head_to_head": [],
            "visits_curves": {ckpt: [{"player": player, "visits": p.visits, "elo": p.elo, "ci95": [p.lo, p.hi]}
                                     for player, p in points] for ckpt, points in self.visits_curves.items()},
        }
        if ratings is not None:
            lo, hi = ratings.colour_ci95()
            out["colour_advantage"] = {"elo": ratings.colour_advantage_elo, "ci95": [lo, hi]}
        for a, b in self.pairs():
            r = self.head_to_head.record(a, b)
            out["head_to_head"].append({
                "a": a, "b": b, "wins": r.wins, "losses": r.losses, "draws": r.draws, "score": r.score,
                "elo_diff": r.elo_diff, "ci95": [r.elo_lo, r.elo_hi], "adjusted": r.adjusted,
                "model_elo_diff": r.model_elo_diff, "model_elo_stderr": r.model_elo_stderr,
                "likelihood_of_superiority": r.likelihood_of_superiority})
        return out


def parse_ladder_name(name: str) -> tuple[str, int] | None:
    """("s002000", 64) for the visits-ladder player name "s002000@64v"; None for other names."""
    match = _LADDER.fullmatch(name)
    return (match["checkpoint"], int(match["visits"])) if match else None


def _records(results: tuple[GameResult, ...]) -> dict[str, list[int]]:
    wld: dict[str, list[int]] = {}
    for game in results:
        for player in (game.black, game.white):
            row = wld.setdefault(player, [0, 0, 0])
            if game.winner is None:
                row[2] += 1
            elif game.winner == player:
                row[0] += 1
            else:
                row[1] += 1
    return wld


def build_leaderboard(game_set: RatedGameSet, *, anchor: str | None = None, anchor_elo: float = 0.0,
                      bootstrap: int = 0, seed: int = 0) -> Leaderboard:
    """Fit `compute_ratings` on the game set and assemble the leaderboard (pure; no session).

    Raises arena.ratings.RatingInputError for an anchor outside the pool.
    """
    parameters = {"anchor": anchor, "anchor_elo": anchor_elo, "bootstrap": bootstrap, "seed": seed,
                  "colour_advantage": True, "prior_games": 2.0, "draw_model": "half"}
    if not game_set.results:
        return Leaderboard(game_set=game_set, standings=(), ratings=None, head_to_head=None, parameters=parameters)
    ratings = compute_ratings(game_set.results, anchor=anchor, anchor_elo=anchor_elo, bootstrap=bootstrap,
                              seed=seed, colour_advantage=True, prior_games=2.0, draw_model="half")
    wld = _records(game_set.results)
    standings = []
    for name in ratings.players:
        lo, hi = ratings.ci95(name)
        boot = ratings.bootstrap_ci[name] if ratings.bootstrap_ci is not None else (None, None)
        w, l, d = wld.get(name, [0, 0, 0])
        standings.append(PlayerStanding(name=name, elo=ratings.elo[name], stderr=ratings.stderr[name], lo=lo, hi=hi,
                                        games=w + l + d, wins=w, losses=l, draws=d,
                                        bootstrap_lo=boot[0], bootstrap_hi=boot[1]))
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
                       head_to_head=head_to_head(game_set.results, ratings), visits_curves=curves,
                       parameters=parameters)


def leaderboard(session: Session, *, tournament_id: int | None = None, board_size: int | None = None,
                anchor: str | None = None, anchor_elo: float = 0.0, bootstrap: int = 0,
                seed: int = 0) -> Leaderboard:
    """The leaderboard of one tournament's finished games, or of every finished game (only those
    of tournaments on `board_size`, if given)."""
    return build_leaderboard(rated_game_set(session, tournament_id, board_size=board_size), anchor=anchor,
                             anchor_elo=anchor_elo, bootstrap=bootstrap, seed=seed)


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


def elo_vs_step(session: Session, board: Leaderboard, run: str) -> list[StepPoint]:
    """The standings of training run `run`'s checkpoints in `board`, by training step then player.
    A checkpoint that plays at several visit counts gives one point per player."""
    standings = {s.name: s for s in board.standings}
    rows = session.execute(select(Player.name, Checkpoint.id, Checkpoint.name, Checkpoint.training_step)
                           .join(Checkpoint, Checkpoint.id == Player.checkpoint_id)
                           .where(Checkpoint.run_name == run))
    points = [StepPoint(checkpoint=cname, checkpoint_id=cid, training_step=step, player=pname,
                        elo=standings[pname].elo, lo=standings[pname].lo, hi=standings[pname].hi,
                        games=standings[pname].games)
              for pname, cid, cname, step in rows if pname in standings]
    return sorted(points, key=lambda p: (p.training_step is None, p.training_step or 0, p.player))


def leaderboard_key(session: Session, *, tournament_id: int | None = None,
                    board_size: int | None = None) -> tuple[Any, ...]:
    """What changes whenever a finished game enters `leaderboard`'s game set, cheaply (no scan of
    the games): the tournaments' games_finished counters (record_finished_game bumps them in the
    same transaction as the game) and the largest finished game id (its primary key's last entry).
    Finished games are never rewritten, so an equal key means the same games."""
    progress = select(func.count(Tournament.id), func.coalesce(func.sum(Tournament.games_finished), 0))
    if tournament_id is not None:
        progress = progress.where(Tournament.id == tournament_id)
    if board_size is not None:
        progress = progress.where(Tournament.configuration["board_size"].as_integer() == board_size)
    tournaments, finished = session.execute(progress).one()
    newest = session.scalar(select(func.max(FinishedGame.scheduled_game_id)))
    return (tournament_id, board_size, tournaments, int(finished), newest)


class LeaderboardCache:
    """Default-parameter leaderboards (and their `as_dict()`), refitted only when `leaderboard_key`
    changes; the newest `maxsize` kept. Thread-safe: concurrent requests for the same key wait for
    one fit instead of fitting in parallel."""

    def __init__(self, maxsize: int = 64) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[Any, ...], tuple[Leaderboard, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self._fitting: dict[tuple[Any, ...], threading.Lock] = {}
        self.fits = 0  # leaderboards fitted so far (tests, metrics)

    def _cached(self, key: tuple[Any, ...]) -> tuple[Leaderboard, dict[str, Any]] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def get(self, session: Session, *, tournament_id: int | None = None,
            board_size: int | None = None) -> tuple[Leaderboard, dict[str, Any]]:
        """The leaderboard of `leaderboard(session, tournament_id=..., board_size=...)` and its dict."""
        key = leaderboard_key(session, tournament_id=tournament_id, board_size=board_size)
        entry = self._cached(key)
        if entry is not None:
            return entry
        with self._lock:
            fitting = self._fitting.setdefault(key, threading.Lock())
        with fitting:
            entry = self._cached(key)
            if entry is None:
                board = leaderboard(session, tournament_id=tournament_id, board_size=board_size)
                entry = (board, board.as_dict())
                with self._lock:
                    self.fits += 1
                    # The game set is read after the key: a game stored in between makes the entry
                    # newer than its key, and the next request's key refits it. Never older.
                    self._entries[key] = entry
                    while len(self._entries) > self.maxsize:
                        self._entries.popitem(last=False)
            with self._lock:
                self._fitting.pop(key, None)
        return entry
