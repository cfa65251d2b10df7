"""Finished games for the CLI and the APIs: filtered pages by descending id (by descending finish
time with a time window), one game's details and its SGF.

* `GameFilter` (what narrows a list), `RESULT_KINDS`; `page_games` (a cursor: `PageMark`), `list_games`;
* `games_statement`: the statement behind them, with bound parameters only and one SQL text per
  filter shape, so that the API's asynchronous read path (`arena.api.reads`) runs the same SQL
  without a session; `game_summaries` reads its rows, `split_page` cuts a page;
* `game_detail` (per-move stats), `game_sgf`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, Select, String, bindparam, literal_column, select, tuple_, union_all
from sqlalchemy.orm import Session, aliased

from search_workers.go.color import Color
from search_workers.go.results import DRAW, VOID, WINNER_PREFIX

from .lookup import LookupFailedError
from .models import RESULT_PATTERN, FinishedGame, Player, ScheduledGame, Tournament
from .tournament_queries import tournament_ref_id, tournament_ref_params

__all__ = ["GAME_ID_COLUMNS", "RESULT_KINDS", "GameDetail", "GameFilter", "GameSummary", "PageMark", "game_detail",
           "game_ids_statement", "game_sgf", "game_summaries", "games_statement", "list_games", "page_games",
           "split_page"]


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

    @property
    def timed(self) -> bool:
        """A time window: its pages run by finish time (see `PageMark`)."""
        return self.since is not None or self.until is not None


@dataclass(frozen=True)
class PageMark:
    """Where a page ended: the next page holds the games after it in the list's order.

    Lists run by descending id, so that a page boundary never moves when games are stored. With a
    time window (`GameFilter.timed`) they run by descending finish time, then id: a window's games
    are then one range of the finish-time index. By id, a window of old games sat below every
    newer game, and PostgreSQL walked them all to reach it (983,000 rows, 0.74 s, for the first
    day of 1,000,000 games; it plans such a walk as short because it takes ids and finish times
    for independent).
    """

    id: int
    finished_at: datetime | None = None  # set for time-window lists only

    @classmethod
    def after(cls, game_id: int, finished_at: datetime, *, timed: bool) -> PageMark:
        """The mark after a page's last game, in its list's order (a time window's or ids')."""
        return cls(game_id, finished_at if timed else None)


# Result kinds a game list can be narrowed to, besides an exact result string. A kind of a few
# exact results is read as one branch per result, each in id order from an index ending in
# (result, id), and the branches merged; black and white are prefixes (every margin), common
# enough that walking the games in id order finds a page quickly.
RESULT_VALUES = {"draw": (DRAW,), "void": (VOID,), "resign": ("B+R", "W+R"), "forfeit": ("B+F", "W+F")}
RESULT_PREFIXES = {"black": WINNER_PREFIX[Color.BLACK] + "%", "white": WINNER_PREFIX[Color.WHITE] + "%"}
RESULT_KINDS = (*RESULT_PREFIXES, *RESULT_VALUES)
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
    before: bool  # a page after the first: games after the cursor's mark
    limit: int | None

    @property
    def timed(self) -> bool:
        return self.since or self.until


def _shape(filters: GameFilter, before: PageMark | None, limit: int | None) -> _GameQueryShape:
    if filters.opponent is not None and filters.player is None:
        raise ValueError("opponent: needs a player")
    if before is not None and (before.finished_at is not None) != filters.timed:
        raise ValueError("cursor: a page mark of another list order (the filters changed)")
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
                           before=before is not None, limit=limit)


def _player_id(parameter: str):
    """The id of the player named by bound parameter `parameter` (NULL if none), as a scalar
    subquery: PostgreSQL runs it once, before the scan, and can then use the player-id indexes."""
    return select(Player.id).where(Player.name == bindparam(parameter, type_=String)).scalar_subquery()


def _branch(shape: _GameQueryShape, black: str | None, white: str | None, result: Any) -> Select:
    """Finished games matching `shape` whose black is the player named by parameter `black` and
    white by `white` (None: any), with result `result` (a literal or a bound parameter; None: the
    shape's result kind, if any), in the list's order (`PageMark`), the first `shape.limit` only:
    ids, not names. One table: finished_games carries the scheduled game's tournament and players
    (migration 0009)."""
    # Only the listed columns: the SGF and per-move statistics stay in the database.
    query = select(FinishedGame.scheduled_game_id.label("id"), FinishedGame.tournament_id,
                   FinishedGame.black_player_id, FinishedGame.white_player_id, FinishedGame.result,
                   FinishedGame.move_count, FinishedGame.duration_s, FinishedGame.finished_at)
    if shape.timed:
        query = query.order_by(FinishedGame.finished_at.desc(), FinishedGame.scheduled_game_id.desc())
    else:
        query = query.order_by(FinishedGame.scheduled_game_id.desc())
    if black is not None:
        query = query.where(FinishedGame.black_player_id == _player_id(black))
    if white is not None:
        query = query.where(FinishedGame.white_player_id == _player_id(white))
    if shape.tournament:
        query = query.where(FinishedGame.tournament_id == tournament_ref_id())
    if result is not None:
        query = query.where(FinishedGame.result == result)
    elif shape.result in RESULT_PREFIXES:
        query = query.where(FinishedGame.result.like(RESULT_PREFIXES[shape.result]))
    if shape.since:
        query = query.where(FinishedGame.finished_at >= bindparam("since", type_=DateTime(timezone=True)))
    if shape.until:
        query = query.where(FinishedGame.finished_at < bindparam("until", type_=DateTime(timezone=True)))
    if shape.before and shape.timed:
        # A row comparison: one range of ix_finished_games_finished_at (finished_at, scheduled_game_id).
        query = query.where(tuple_(FinishedGame.finished_at, FinishedGame.scheduled_game_id)
                            < tuple_(bindparam("before_at", type_=DateTime(timezone=True)),
                                     bindparam("before_id", type_=Integer)))
    elif shape.before:
        query = query.where(FinishedGame.scheduled_game_id < bindparam("before_id", type_=Integer))
    return query if shape.limit is None else query.limit(literal_column(str(int(shape.limit))))


def _branches(shape: _GameQueryShape) -> list[Select]:
    """The index-ordered reads whose union is the page: a player is two (as black, as white), a
    pair two (its colourings), a result kind one per exact result."""
    if shape.opponent:
        sides = [("player", "opponent"), ("opponent", "player")]
    elif shape.player:
        sides = [("player", None), (None, "player")]
    else:
        sides = [(None, None)]
    if shape.result == "exact":
        results: list[Any] = [bindparam("result", type_=String)]
    elif shape.result in RESULT_VALUES:
        results = [literal_column(f"'{value}'", String) for value in RESULT_VALUES[shape.result]]
    else:
        results = [None]
    return [_branch(shape, black, white, result) for black, white in sides for result in results]


@functools.lru_cache(maxsize=256)
def _game_ids_statement(shape: _GameQueryShape) -> Select:
    # Several branches (`_branches`), each read in its index's order and cut at the limit, then
    # merged and cut again: at most `limit` rows per branch are ever read.
    branches = _branches(shape)
    if len(branches) == 1:
        return branches[0]
    page = union_all(*branches).subquery("page")
    return _in_list_order(select(*(page.c[name] for name in GAME_ID_COLUMNS)), page, shape)


@functools.lru_cache(maxsize=256)
def _games_statement(shape: _GameQueryShape) -> Select:
    # The page is chosen on ids alone, then named: a join of two tables that PostgreSQL plans in
    # a fraction of a millisecond, instead of five. Several branches (`_branches`) are each read in
    # id order from their index and merged (a Merge Append), never sorted.
    branches = _branches(shape)
    page = (branches[0] if len(branches) == 1 else union_all(*branches)).subquery("page")
    black, white = aliased(Player), aliased(Player)
    query = (select(page.c.id, page.c.tournament_id, Tournament.name.label("tournament"), black.name.label("black"),
                    white.name.label("white"), page.c.result, page.c.move_count, page.c.duration_s,
                    page.c.finished_at)
             .join(Tournament, Tournament.id == page.c.tournament_id)
             .join(black, black.id == page.c.black_player_id)
             .join(white, white.id == page.c.white_player_id))
    return _in_list_order(query, page, shape)


def _in_list_order(query: Select, page: Any, shape: _GameQueryShape) -> Select:
    """`query` over the merged branches `page`, in the list's order (`PageMark`), cut at the limit."""
    query = (query.order_by(page.c.finished_at.desc(), page.c.id.desc()) if shape.timed
             else query.order_by(page.c.id.desc()))
    return query if shape.limit is None else query.limit(literal_column(str(int(shape.limit))))


def _game_params(filters: GameFilter, before: PageMark | None) -> dict[str, Any]:
    params: dict[str, Any] = {"player": filters.player, "opponent": filters.opponent, "result": filters.result,
                              "since": filters.since, "until": filters.until,
                              "before_id": None if before is None else before.id,
                              "before_at": None if before is None else before.finished_at}
    if filters.tournament is not None:
        params.update(tournament_ref_params(filters.tournament))
    return params


def games_statement(filters: GameFilter, *, before: PageMark | None = None,
                    limit: int | None = 50) -> tuple[Select, dict[str, Any]]:
    """The query for finished games matching `filters` in the list's order (`PageMark`), those
    after `before` only, at most `limit` (None: all), and its parameters. Rows are `GameSummary`
    fields in order. The statement is shared by every filter of the same shape. ValueError names a
    bad filter (or a `before` of the other order)."""
    return _games_statement(_shape(filters, before, limit)), _game_params(filters, before)


# The columns of `game_ids_statement`'s rows: a GameSummary's, with ids where it has names.
GAME_ID_COLUMNS = ("id", "tournament_id", "black_player_id", "white_player_id", "result", "move_count",
                   "duration_s", "finished_at")


def game_ids_statement(filters: GameFilter, *, before: PageMark | None = None,
                       limit: int | None = 50) -> tuple[Select, dict[str, Any]]:
    """`games_statement` without the names: rows of GAME_ID_COLUMNS, the tournament and players
    as ids, for a reader that names them from a cache of its own (the API's `arena.api.names`).
    Naming the rows in SQL joins three lookups per row, half of what PostgreSQL spends on a page:
    0.85-1.10 ms against 0.42-0.44 for a player's first page of 100,000 games, prepared, one after
    another (docs/benchmarks.md, "2026-12-07, day")."""
    return _game_ids_statement(_shape(filters, before, limit)), _game_params(filters, before)


def game_summaries(rows) -> list[GameSummary]:
    """`GameSummary`s of rows of `games_statement`."""
    return [GameSummary(*row) for row in rows]


def list_games(session: Session, *, player: str | None = None, tournament_id: int | None = None,
               limit: int | None = 50) -> list[GameSummary]:
    """Finished games, newest (largest id) first; only `player`'s (either colour) and/or one tournament's."""
    statement, params = games_statement(GameFilter(player=player, tournament=tournament_id), limit=limit)
    return game_summaries(session.execute(statement, params))


def page_games(session: Session, filters: GameFilter, *, before: PageMark | None = None,
               limit: int = 50) -> tuple[list[GameSummary], PageMark | None]:
    """One page of finished games in the list's order (`PageMark`), those after `before` only;
    and the mark the next page starts after (None at the end). ValueError names a bad filter."""
    statement, params = games_statement(filters, before=before, limit=limit + 1)
    return split_page(game_summaries(session.execute(statement, params)), limit, timed=filters.timed)


def split_page(games: list[GameSummary], limit: int, *, timed: bool) -> tuple[list[GameSummary], PageMark | None]:
    """The first `limit` of `limit + 1` fetched games, and the next page's mark (None: no more)."""
    more = len(games) > limit
    games = games[:limit]
    if not more:
        return games, None
    return games, PageMark.after(games[-1].id, games[-1].finished_at, timed=timed)


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
    statement, params = games_statement(GameFilter(), before=PageMark(game_id + 1), limit=1)
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
