"""Read-only queries for the CLI and the HTTP API: plain dataclasses out, nothing written.

* `find_checkpoint`: a registered checkpoint by name, sha256 or unique sha256 prefix.
* `list_checkpoints`, `find_tournament`, `list_tournaments`, `list_games`, `game_sgf`: rows as
  the tables show them; `page_games` (filters, cursor by id), `game_detail` (per-move stats).
* `games_statement`, `leaderboard_key_statement`: the statements behind those, with bound
  parameters only, so that the API's asynchronous read path (`arena.api.reads`) runs the same
  SQL without a session.
* `LeaderboardCache`: fitted leaderboards kept while the game set is unchanged (the API's).
* `leaderboard`: ratings, head-to-head and Elo-vs-visits curves over a tournament's (or all)
  finished games, fitted by the pure functions of `arena.ratings`; `elo_vs_step` a run's curve.
  A leaderboard is one rating pool, a condition (board size, rules, komi:
  `arena.scheduling.conditions`): `rating_conditions` lists them with their games,
  `choose_condition` picks the asked one or, by default, the one with the most games. Pools are
  never mixed: a player holds a rating in each pool it played in.
  With a reference ladder (`arena.reference_ladder`), each player also gets its Elo relative to
  the reference point and its equivalent strength on the ladder (`arena.ratings.reference`).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    Select,
    String,
    bindparam,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from arena.ratings import (
    HeadToHead,
    PairCounts,
    Ratings,
    VisitsPoint,
    compute_ratings,
    elo_vs_visits,
    head_to_head,
)
from arena.ratings.reference import Equivalent, Ladder, RelativeElo, equivalent_strength, relative_elo

from .models import RESULT_PATTERN, Checkpoint, FinishedGame, Player, ScheduledGame, Tournament
from .repository import RatedGameSet, rated_game_set

__all__ = [
    "MAX_DB_ID",
    "MIN_SHA256_PREFIX",
    "RESULT_KINDS",
    "CONDITION_PATTERN",
    "CachedLeaderboard",
    "CheckpointSummary",
    "ConditionGames",
    "LeaderboardKey",
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
    "check_condition",
    "checkpoint_summary",
    "choose_condition",
    "elo_vs_step",
    "find_checkpoint",
    "find_tournament",
    "game_detail",
    "game_sgf",
    "game_summaries",
    "games_statement",
    "leaderboard",
    "leaderboard_key_params",
    "leaderboard_key_statement",
    "list_checkpoints",
    "list_games",
    "list_tournaments",
    "page_games",
    "parse_ladder_name",
    "player_conditions",
    "rating_conditions",
    "split_page",
    "tournament_ref_id",
    "tournament_ref_params",
]

MAX_DB_ID = 2**31 - 1  # the tables' integer primary keys: a larger id names nothing
_DB_ID = re.compile(r"[0-9]{1,10}")  # ASCII digits only (str.isdigit also takes "²", which int() refuses)
MIN_SHA256_PREFIX = 8  # shorter hex prefixes are too likely to be a name, or ambiguous
_HEX = re.compile(r"[0-9a-fA-F]+")
_LADDER = re.compile(r"(?P<checkpoint>.+)@(?P<visits>[1-9][0-9]*)v")  # arena.scheduling.ladder_name


def _as_id(text: str) -> int | None:
    """`text` as a table's integer key, if it is ASCII digits within the keys' range."""
    return int(text) if _DB_ID.fullmatch(text) and int(text) <= MAX_DB_ID else None


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
    if tournament is None and (as_id := _as_id(text)) is not None:
        tournament = session.get(Tournament, as_id)
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

    `tournament`: an id (int) or a reference as `find_tournament` takes it (a name first, else
    digits as an id), resolved inside the query so that a page is one round trip.
    `result`: an exact result string (`B+R`, `W+3.5`, `0`, `Void`) or one of RESULT_KINDS.
    `opponent` only with `player`: games between the two, either colour.
    """

    player: str | None = None
    opponent: str | None = None
    tournament: int | str | None = None
    result: str | None = None
    since: datetime | None = None  # finished at or after
    until: datetime | None = None  # finished before


# Result kinds a game list can be narrowed to, besides an exact result string. Written so that
# the index on (result, id) serves the rare kinds: equalities and prefixes, no leading wildcard.
RESULT_KINDS = {
    "black": FinishedGame.result.like("B+%"),
    "white": FinishedGame.result.like("W+%"),
    "draw": FinishedGame.result == "0",
    "void": FinishedGame.result == "Void",
    "resign": or_(FinishedGame.result == "B+R", FinishedGame.result == "W+R"),
    "forfeit": or_(FinishedGame.result == "B+F", FinishedGame.result == "W+F"),
}
_RESULT = re.compile(RESULT_PATTERN)


@dataclass(frozen=True)
class _GameQueryShape:
    """Which conditions a game query has; its values are bound parameters (see `_game_params`),
    so one shape is one SQL text, compiled once and prepared by the server once per connection.
    The limit is part of the shape, written into the SQL: a bound LIMIT makes PostgreSQL's
    generic plan of a prepared statement assume a large result and join every row."""

    player: bool
    opponent: bool
    tournament: bool
    result: str | None  # a RESULT_KINDS key, "exact", or None
    since: bool
    until: bool
    before: bool  # a page after the first: ids below the cursor
    limit: int | None


def _shape(filters: GameFilter, before_id: int | None, limit: int | None) -> _GameQueryShape:
    if filters.opponent is not None and filters.player is None:
        raise ValueError("opponent: needs a player")
    result = filters.result
    if result is not None and result not in RESULT_KINDS:
        if not _RESULT.fullmatch(result):
            raise ValueError(f"result: {result!r} is neither a result string (B+R, W+3.5, 0, Void) "
                             f"nor one of {', '.join(RESULT_KINDS)}")
        result = "exact"
    if limit is not None and limit < 1:
        raise ValueError("limit: must be at least 1")
    return _GameQueryShape(player=filters.player is not None, opponent=filters.opponent is not None,
                           tournament=filters.tournament is not None, result=result,
                           since=filters.since is not None, until=filters.until is not None,
                           before=before_id is not None, limit=limit)


def tournament_ref_params(ref: int | str) -> dict[str, Any]:
    """Bound values for `tournament_ref_id()`: an int is an id only; text is a name, else an id
    if it is digits (as `find_tournament` reads it)."""
    if isinstance(ref, int):
        return {"tournament_name": None, "tournament_id": ref if 0 < ref <= MAX_DB_ID else -1}
    text = ref.strip()
    return {"tournament_name": text, "tournament_id": _as_id(text)}


def tournament_ref_id():
    """The id of the tournament named by the `tournament_name`/`tournament_id` parameters (a name
    match first), NULL if none: a scalar subquery, so a lookup costs no extra round trip."""
    by_name = select(Tournament.id).where(Tournament.name == bindparam("tournament_name", type_=String))
    return func.coalesce(by_name.scalar_subquery(), bindparam("tournament_id", type_=Integer))


def _player_id(parameter: str):
    """The id of the player named by bound parameter `parameter` (NULL if none), as a scalar
    subquery: PostgreSQL runs it once, before the scan, and can then use the player-id indexes."""
    return select(Player.id).where(Player.name == bindparam(parameter, type_=String)).scalar_subquery()


def _matching(shape: _GameQueryShape, colours: tuple[str, str] | None = None) -> Select:
    """Finished games matching `shape` (with `colours`: black is the first parameter's player and
    white the second's), newest id first, the first `shape.limit` only: ids, not names."""
    query = (
        # Only the listed columns: the SGF and per-move statistics stay in the database.
        select(FinishedGame.scheduled_game_id.label("id"), ScheduledGame.tournament_id,
               ScheduledGame.black_player_id, ScheduledGame.white_player_id, FinishedGame.result,
               FinishedGame.move_count, FinishedGame.duration_s, FinishedGame.finished_at)
        .join(ScheduledGame, ScheduledGame.id == FinishedGame.scheduled_game_id)
        .order_by(FinishedGame.scheduled_game_id.desc())
    )
    if colours is not None:
        query = query.where(ScheduledGame.black_player_id == _player_id(colours[0]),
                            ScheduledGame.white_player_id == _player_id(colours[1]))
    elif shape.player:
        player = _player_id("player")
        query = query.where(or_(ScheduledGame.black_player_id == player, ScheduledGame.white_player_id == player))
    if shape.tournament:
        query = query.where(ScheduledGame.tournament_id == tournament_ref_id())
    if shape.result == "exact":
        query = query.where(FinishedGame.result == bindparam("result", type_=String))
    elif shape.result is not None:
        query = query.where(RESULT_KINDS[shape.result])
    if shape.since:
        query = query.where(FinishedGame.finished_at >= bindparam("since", type_=DateTime(timezone=True)))
    if shape.until:
        query = query.where(FinishedGame.finished_at < bindparam("until", type_=DateTime(timezone=True)))
    if shape.before:
        query = query.where(FinishedGame.scheduled_game_id < bindparam("before_id", type_=Integer))
    return query if shape.limit is None else query.limit(literal_column(str(int(shape.limit))))


@functools.lru_cache(maxsize=256)
def _games_statement(shape: _GameQueryShape) -> Select:
    # The page is chosen on ids alone, then named: a join of two tables that PostgreSQL plans in
    # a fraction of a millisecond, instead of five. A pair's games are its two colourings, each
    # read in id order from the (black, white, id) index, merged.
    if shape.opponent:
        both = union_all(_matching(shape, ("player", "opponent")), _matching(shape, ("opponent", "player")))
        page = both.subquery("page")
    else:
        page = _matching(shape).subquery("page")
    black, white = aliased(Player), aliased(Player)
    query = (select(page.c.id, page.c.tournament_id, Tournament.name.label("tournament"), black.name.label("black"),
                    white.name.label("white"), page.c.result, page.c.move_count, page.c.duration_s,
                    page.c.finished_at)
             .join(Tournament, Tournament.id == page.c.tournament_id)
             .join(black, black.id == page.c.black_player_id)
             .join(white, white.id == page.c.white_player_id)
             .order_by(page.c.id.desc()))
    return query if shape.limit is None else query.limit(literal_column(str(int(shape.limit))))


def _game_params(filters: GameFilter, before_id: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {"player": filters.player, "opponent": filters.opponent, "result": filters.result,
                              "since": filters.since, "until": filters.until, "before_id": before_id}
    if filters.tournament is not None:
        params.update(tournament_ref_params(filters.tournament))
    return params


def games_statement(filters: GameFilter, *, before_id: int | None = None,
                    limit: int | None = 50) -> tuple[Select, dict[str, Any]]:
    """The query for finished games matching `filters` by descending id (below `before_id`, at
    most `limit`; None: all), and its parameters. Rows are `GameSummary` fields in order. The
    statement is shared by every filter of the same shape. ValueError names a bad filter."""
    return _games_statement(_shape(filters, before_id, limit)), _game_params(filters, before_id)


def game_summaries(rows) -> list[GameSummary]:
    """`GameSummary`s of rows of `games_statement`."""
    return [GameSummary(*row) for row in rows]


def list_games(session: Session, *, player: str | None = None, tournament_id: int | None = None,
               limit: int | None = 50) -> list[GameSummary]:
    """Finished games, newest (largest id) first; only `player`'s (either colour) and/or one tournament's."""
    statement, params = games_statement(GameFilter(player=player, tournament=tournament_id), limit=limit)
    return game_summaries(session.execute(statement, params))


def page_games(session: Session, filters: GameFilter, *, before_id: int | None = None,
               limit: int = 50) -> tuple[list[GameSummary], int | None]:
    """One page of finished games by descending id (stable while games are added: new games get
    larger ids), those with id < `before_id` only; and the `before_id` of the next page (None
    at the end). ValueError names a bad filter."""
    statement, params = games_statement(filters, before_id=before_id, limit=limit + 1)
    return split_page(game_summaries(session.execute(statement, params)), limit)


def split_page(games: list[GameSummary], limit: int) -> tuple[list[GameSummary], int | None]:
    """The first `limit` of `limit + 1` fetched games, and the next page's `before_id` (None: no more)."""
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
    # Ended by passes: strict Tromp-Taylor's score beside `score` (the referee's settled one), and
    # whether they name different winners (None: no referee's answer to compare).
    score_tromp_taylor: float | None = None
    scoring_disagrees: bool | None = None


def game_detail(session: Session, game_id: int) -> GameDetail:
    """The finished game `game_id` with per-move statistics; LookupFailedError if unknown or unfinished."""
    # The newest finished game below game_id + 1: this one, if it is finished.
    statement, params = games_statement(GameFilter(), before_id=game_id + 1, limit=1)
    rows = [game for game in game_summaries(session.execute(statement, params)) if game.id == game_id]
    if not rows:
        game_sgf(session, game_id)  # raises with the reason
    game = session.get(FinishedGame, game_id)
    scheduled = session.get(ScheduledGame, game_id)
    return GameDetail(summary=rows[0], pairing=scheduled.pairing, game_index=scheduled.game_index,
                      seed=scheduled.seed, opening=scheduled.opening, score=game.score,
                      move_stats=list(game.move_stats), worker=game.worker, software_version=game.software_version,
                      model_versions=dict(game.model_versions), score_tromp_taylor=game.score_tromp_taylor,
                      scoring_disagrees=game.scoring_disagrees)


def game_sgf(session: Session, game_id: int) -> str:
    """The stored SGF of finished game `game_id`; LookupFailedError if it is unknown or unfinished."""
    sgf = session.scalar(select(FinishedGame.sgf).where(FinishedGame.scheduled_game_id == game_id))
    if sgf is None:
        scheduled = session.get(ScheduledGame, game_id)
        state = "is scheduled but not finished yet" if scheduled is not None else "does not exist"
        raise LookupFailedError(f"game {game_id} {state}")
    return sgf


# ------------------------------------------------------------------------------- rating pools

# A condition key as `arena.scheduling.conditions.condition_key` writes it: "9x9 chinese komi 7.5".
CONDITION_PATTERN = r"^[0-9]{1,2}x[0-9]{1,2} [a-z][a-z0-9-]{0,40} komi -?[0-9]{1,4}(\.5)?$"


@dataclass(frozen=True)
class ConditionGames:
    """A rating pool and its size: the finished games of its tournaments (Void included)."""

    condition: str
    games: int

    def as_dict(self) -> dict[str, Any]:
        return {"condition": self.condition, "games": self.games}


def check_condition(text: str) -> str:
    """`text` if it is written as a condition key; ValueError naming it otherwise."""
    if not re.fullmatch(CONDITION_PATTERN, text):
        raise ValueError(f"{text!r} is not a condition such as '9x9 chinese komi 7.5' (board size, rules, komi)")
    return text


def _by_games(conditions: Sequence[ConditionGames]) -> list[ConditionGames]:
    # Most games first; equal counts by name, so that the default never flips between requests.
    return sorted(conditions, key=lambda c: (-c.games, c.condition))


def rating_conditions(session: Session, tournament_id: int | None = None) -> list[ConditionGames]:
    """Every condition a tournament (only `tournament_id`) is played under, most games first."""
    query = (select(Tournament.condition, func.coalesce(func.sum(Tournament.games_finished), 0))
             .group_by(Tournament.condition))
    if tournament_id is not None:
        query = query.where(Tournament.id == tournament_id)
    return _by_games([ConditionGames(c, int(n)) for c, n in session.execute(query)])


def player_conditions(session: Session, players: Sequence[str]) -> list[str]:
    """The conditions the named players have finished games under, by name: the pools they hold a
    rating in."""
    query = (select(Tournament.condition).distinct()
             .join(ScheduledGame, ScheduledGame.tournament_id == Tournament.id)
             .join(FinishedGame, FinishedGame.scheduled_game_id == ScheduledGame.id)
             .join(Player, or_(Player.id == ScheduledGame.black_player_id, Player.id == ScheduledGame.white_player_id))
             .where(Player.name.in_(list(players)), FinishedGame.result != "Void").order_by(Tournament.condition))
    return list(session.scalars(query))


def choose_condition(conditions: Sequence[ConditionGames], requested: str | None = None, *,
                     board_size: int | None = None) -> str | None:
    """The pool a leaderboard is fitted on: `requested` if it is among `conditions` (most games
    first, as `rating_conditions` and `LeaderboardKey` list them), else (None) the one with the
    most games (on `board_size` only, if given); None when there is none. LookupFailedError,
    listing the known ones, for a condition with no tournament (or not on `board_size`).
    On the API's hot path: no sorting, no allocation for the usual request."""
    prefix = None if board_size is None else f"{board_size}x{board_size} "
    for c in conditions:
        if (prefix is None or c.condition.startswith(prefix)) and (requested is None or c.condition == requested):
            return c.condition
    if requested is None:
        return None
    sized = [c for c in conditions if prefix is None or c.condition.startswith(prefix)]
    known = ", ".join(repr(c.condition) for c in _by_games(sized)) or "none"
    where = "" if board_size is None else f" on {board_size}x{board_size}"
    raise LookupFailedError(f"condition: no tournament is played under {requested!r}{where}; the known "
                            f"conditions: {known}")


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
            "head_to_head": [],
            "visits_curves": {ckpt: [{"player": player, "visits": p.visits, "elo": p.elo, "ci95": [p.lo, p.hi]}
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
                "likelihood_of_superiority": r.likelihood_of_superiority})
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


def build_leaderboard(game_set: RatedGameSet, *, anchor: str | None = None, anchor_elo: float = 0.0,
                      bootstrap: int = 0, seed: int = 0, condition: str | None = None,
                      conditions: Sequence[ConditionGames] = (), reference: Ladder | None = None) -> Leaderboard:
    """Fit `compute_ratings` on the game set (one pool: `condition`'s) and assemble the
    leaderboard (pure; no session).

    Raises arena.ratings.RatingInputError for an anchor outside the pool.
    """
    parameters = {"anchor": anchor, "anchor_elo": anchor_elo, "bootstrap": bootstrap, "seed": seed,
                  "colour_advantage": True, "prior_games": 2.0, "bias_reduction": True,
                  "draw_model": "half"}
    pool = {"condition": condition, "conditions": tuple(conditions), "reference": reference}
    if not game_set.games:
        return Leaderboard(game_set=game_set, standings=(), ratings=None, head_to_head=None, parameters=parameters,
                           **pool)
    ratings = compute_ratings(game_set.counts, anchor=anchor, anchor_elo=anchor_elo, bootstrap=bootstrap,
                              seed=seed, colour_advantage=True, prior_games=2.0, bias_reduction=True,
                              draw_model="half")
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
    relative = ({name: relative_elo(ratings, name, ladder.reference_point) for name in ratings.players}
                if ladder.reference_point in ratings.elo else {})
    equivalents = {}
    for name in ratings.players:
        eq = equivalent_strength(ratings, name, ladder)
        if eq is None:
            break  # fewer than two rungs in this pool: nobody can be placed
        equivalents[name] = eq
    return {"relative": relative, "equivalents": equivalents}


_NO_GAMES = RatedGameSet(counts={}, games=0, sha256=hashlib.sha256(b"").hexdigest())


def leaderboard(session: Session, *, tournament_id: int | None = None, condition: str | None = None,
                board_size: int | None = None, conditions: Sequence[ConditionGames] | None = None,
                anchor: str | None = None, anchor_elo: float = 0.0, bootstrap: int = 0,
                seed: int = 0, reference: Ladder | None = None) -> Leaderboard:
    """The leaderboard of one rating pool: the finished games under `condition` (default: the
    condition with the most games, on `board_size` if given; `choose_condition`), of one
    tournament's (whose games share one condition) or of every tournament. `conditions`: the
    pools to choose from, if the caller has read them (`rating_conditions` otherwise)."""
    if conditions is None:
        conditions = rating_conditions(session, tournament_id)
    chosen = choose_condition(conditions, condition, board_size=board_size)
    if chosen is None:
        game_set = _NO_GAMES
    else:  # a tournament is one condition already: no join needed to narrow its games
        game_set = rated_game_set(session, tournament_id, condition=None if tournament_id is not None else chosen)
    return build_leaderboard(game_set, anchor=anchor, anchor_elo=anchor_elo, bootstrap=bootstrap, seed=seed,
                             condition=chosen, conditions=conditions, reference=reference)


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


@functools.lru_cache(maxsize=8)
def leaderboard_key_statement(*, tournament: bool) -> Select:
    """What changes whenever a finished game enters a leaderboard's game set, in a row per
    condition (no scan of the games): the resolved tournament id (NULL: no such tournament), the
    condition, its tournaments' count and games_finished counters (record_finished_game bumps them
    in the same transaction as the game), and the largest finished game id (its primary key's last
    entry). Finished games are never rewritten, so an equal key means the same games. No row: no
    tournament (or not the one asked for).

    Parameters: `tournament_name`/`tournament_id` (`tournament_ref_params`) with `tournament`."""
    newest = select(func.max(FinishedGame.scheduled_game_id)).scalar_subquery()
    tournament_id = tournament_ref_id() if tournament else null()
    query = (select(tournament_id, Tournament.condition, func.count(Tournament.id),
                    func.coalesce(func.sum(Tournament.games_finished), 0), newest)
             .group_by(Tournament.condition).order_by(Tournament.condition))
    if tournament:
        query = query.where(Tournament.id == tournament_id)
    return query


def leaderboard_key_params(tournament: int | str | None) -> dict[str, Any]:
    return tournament_ref_params(tournament) if tournament is not None else {}


@dataclass(frozen=True)
class LeaderboardKey:
    """The `leaderboard_key_statement` rows, read: the pools to choose from and what names their
    game sets."""

    tournament_id: int | None  # None: no such tournament (or none at all)
    conditions: tuple[ConditionGames, ...]  # most games first
    counts: tuple[tuple[Any, ...], ...]  # (condition, tournaments, finished games) per condition
    newest: int | None  # the largest finished game id

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[Any, ...]]) -> LeaderboardKey:
        counts = tuple((condition, tournaments, int(finished)) for _, condition, tournaments, finished, _ in rows)
        return cls(tournament_id=rows[0][0] if rows else None,
                   conditions=tuple(_by_games([ConditionGames(c, n) for c, _, n in counts])),
                   counts=counts, newest=rows[0][4] if rows else None)

    def cache_key(self, condition: str | None) -> tuple[Any, ...]:
        """The `LeaderboardCache` key of `condition`'s leaderboard. Every pool's counts are in it:
        a cached leaderboard lists every pool with its games."""
        return (self.tournament_id, condition, self.counts, self.newest)


@dataclass(frozen=True)
class CachedLeaderboard:
    board: Leaderboard
    data: dict[str, Any]  # board.as_dict()
    encoded: bytes | None  # data encoded by the cache's `encode`, if it has one


class LeaderboardCache:
    """Default-parameter leaderboards (with `as_dict()`, and that encoded, e.g. as JSON), refitted
    only when their `LeaderboardKey.cache_key` changes; the newest `maxsize` kept. Thread-safe: concurrent
    requests for the same key wait for one fit instead of fitting in parallel."""

    def __init__(self, maxsize: int = 64, encode: Callable[[dict[str, Any]], bytes] | None = None) -> None:
        self.maxsize = maxsize
        self.encode = encode
        self._entries: OrderedDict[tuple[Any, ...], CachedLeaderboard] = OrderedDict()
        self._lock = threading.Lock()
        self._fitting: dict[tuple[Any, ...], threading.Lock] = {}
        self.fits = 0  # leaderboards fitted so far (tests, metrics)

    def lookup(self, key: tuple[Any, ...]) -> CachedLeaderboard | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def fill(self, key: tuple[Any, ...], fit: Callable[[], Leaderboard]) -> CachedLeaderboard:
        """The entry for `key`, made with `fit()` unless cached or being made by another thread.
        `fit` must read the game set after the key was read: a game stored in between makes the
        entry newer than its key, and the next key refits it. Never older."""
        entry = self.lookup(key)
        if entry is not None:
            return entry
        with self._lock:
            fitting = self._fitting.setdefault(key, threading.Lock())
        with fitting:
            entry = self.lookup(key)
            if entry is None:
                board = fit()
                data = board.as_dict()
                entry = CachedLeaderboard(board, data, None if self.encode is None else self.encode(data))
                with self._lock:
                    self.fits += 1
                    self._entries[key] = entry
                    while len(self._entries) > self.maxsize:
                        self._entries.popitem(last=False)
            with self._lock:
                self._fitting.pop(key, None)
        return entry
