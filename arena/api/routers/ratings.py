"""`/ratings`: leaderboards (a tournament's or every game's), head-to-head records, Elo vs
visits, and a training run's Elo vs step, all fitted from stored games of one rating pool (a
condition: board size, rules, komi; `?condition=`, default the one with the most games, never a
mix; every response names its condition and lists the others with their games)
(`arena.leaderboards`, `Leaderboard.as_dict()`), kept by the process's `LeaderboardService`
(`app.state.leaderboards`, shared with gRPC and the metrics) until a game is added (a 100k-game
fit takes a fraction of a second). Whether one has been is known to within
`Settings.api_leaderboard_max_age_s` per leaderboard, asked in the background while requests are
served (`_RecentKeys`)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from pydantic import BaseModel, Field

from arena.db import checkpoint_queries, condition_queries, tournament_queries
from arena.leaderboards import (CachedLeaderboard, LeaderboardKey, LeaderboardService, StepPoint,
                                leaderboard_key_params, leaderboard_key_statement)
from arena.leaderboards import elo_vs_step as step_points  # the route below is named elo_vs_step
from arena.ratings.estimability import flag_legend
from arena.settings import Settings

from ..deps import ReadAccess, check_read, in_session, with_session
from ..encoding import encode, json_response
from ..lean import lean, openapi_extra, parse_query

# Read access is checked per route: the leaderboard routes are lean (arena.api.lean), without dependencies.
router = APIRouter(prefix="/ratings", tags=["ratings"])
log = logging.getLogger(__name__)


class BoardQuery(BaseModel):
    """Which leaderboard: a tournament's or every game's, of one rating pool (condition)."""

    tournament: str | None = Field(default=None, description="A tournament id or name; default: every finished game.")
    condition: str | None = Field(default=None, max_length=100, pattern=condition_queries.CONDITION_PATTERN,
                                  description="The rating pool, e.g. '9x9 chinese komi 7.5'; default: the "
                                              "condition with the most games (404: no tournament under it).")
    board_size: int | None = Field(default=None, ge=2, le=25,
                                   description="Default to the most played condition on this board size.")


class _RecentKeys:
    """Leaderboard keys read within the last `max_age_s` (per tournament asked for), so that a busy
    API asks "has a game been added?" a few times a second per leaderboard instead of on every
    request. A key past half its max age is read again in the background while requests go on
    with the one they have: under load no leaderboard request waits for that read (it would
    queue behind the game pages for a database connection), and none is answered from a key
    older than `max_age_s`. Only resolved keys are kept, at most MAX of them."""

    MAX = 1024

    def __init__(self, max_age_s: float) -> None:
        self.max_age_s = max_age_s
        self._rows: dict[tuple[Any, ...], tuple[float, LeaderboardKey]] = {}
        self._refreshing: dict[tuple[Any, ...], asyncio.Task] = {}  # keeps the tasks referenced

    def get(self, params: tuple[Any, ...], refresh: Callable[[], Awaitable[Any]]) -> LeaderboardKey | None:
        """The key read for `params` less than `max_age_s` ago, if any; past half of that, `refresh`
        (which reads and `put`s it) is started in the background, once."""
        found = self._rows.get(params)
        if found is None:
            return None
        age = time.monotonic() - found[0]
        if age >= self.max_age_s:
            return None
        if age >= self.max_age_s / 2 and params not in self._refreshing:
            task = asyncio.get_running_loop().create_task(refresh())
            self._refreshing[params] = task
            task.add_done_callback(functools.partial(self._refreshed, params))
        return found[1]

    def _refreshed(self, params: tuple[Any, ...], task: asyncio.Task) -> None:
        self._refreshing.pop(params, None)
        if not task.cancelled() and task.exception() is not None:
            # The next request past the max age reads the key itself and answers the error.
            log.warning("background read of a leaderboard key failed: %s", task.exception())

    def put(self, params: tuple[Any, ...], row: LeaderboardKey, read_at: float) -> None:
        if self.max_age_s > 0:
            if len(self._rows) >= self.MAX:
                self._rows.clear()
            self._rows[params] = (read_at, row)


async def _read_key(request: Request, tournament: str | int | None, recent: _RecentKeys) -> LeaderboardKey:
    read_at = time.monotonic()  # before the read: the rows are at least this new
    statement = leaderboard_key_statement(tournament=tournament is not None)
    params = leaderboard_key_params(tournament)
    key = LeaderboardKey.from_rows(await request.app.state.reads.fetch(statement, params))
    if key.tournament_id is not None or tournament is None:
        recent.put((tournament,), key, read_at)
    return key


def attach_state(state: Any, settings: Settings, leaderboards: LeaderboardService) -> None:
    """What these routes keep per app, on `state` (the app's): the process's leaderboard service
    (a fit is redone only when games are added) and the recently read keys."""
    state.leaderboards = leaderboards
    state.leaderboard_keys = _RecentKeys(settings.api_leaderboard_max_age_s)


async def _key_row(request: Request, tournament: str | int | None) -> LeaderboardKey:
    recent: _RecentKeys = request.app.state.leaderboard_keys
    key = recent.get((tournament,), functools.partial(_read_key, request, tournament, recent))
    return key if key is not None else await _read_key(request, tournament, recent)


async def _lean_board(request: Request) -> CachedLeaderboard:
    """The read-access check and `_board` of the request's query, for the lean routes."""
    await check_read(request)
    return await _board(request, parse_query(BoardQuery, request))


async def _board(request: Request, query: BoardQuery) -> CachedLeaderboard:
    """The cached leaderboard `query` names: its key from one query on the read path (or a
    recent one, see `Settings.api_leaderboard_max_age_s`); a fit, in a thread, only when a game
    has been added since (or the key is new)."""
    tournament = query.tournament
    pools = await _key_row(request, tournament)
    if tournament is not None and pools.tournament_id is None:
        # Unknown (404 naming near matches), or created since the key was read: then its own id.
        pools = await _key_row(request, (await in_session(request, tournament_queries.find_tournament, tournament)).id)
    # 404 naming the known conditions for one no tournament is played under (or not on board_size).
    condition = condition_queries.choose_condition(pools.conditions, query.condition, board_size=query.board_size)
    leaderboards: LeaderboardService = request.app.state.leaderboards
    entry = leaderboards.lookup(pools, condition)
    if entry is None:
        fit = functools.partial(with_session, request, leaderboards.fit, pools, condition)
        entry = await run_in_threadpool(leaderboards.fill, pools, condition, fit)
    return entry


def _pool(data: dict[str, Any]) -> dict[str, Any]:
    """Which pool a leaderboard's part is of, and the others: the fields every response begins with."""
    return {"condition": data["condition"], "conditions": data["conditions"], "game_set": data["game_set"]}


@router.get("/leaderboard", summary="Elo with 95% intervals, head-to-head, Elo vs visits",
            response_model=dict[str, Any], openapi_extra=openapi_extra(BoardQuery))
@lean
async def leaderboard(request: Request) -> Response:
    return json_response((await _lean_board(request)).encoded(encode))


@router.get("/head-to-head", summary="Every pair that met: record, Elo difference, likelihood of superiority",
            response_model=dict[str, Any], openapi_extra=openapi_extra(BoardQuery))
@lean
async def head_to_head(request: Request) -> Response:
    board = await _lean_board(request)
    return json_response({**_pool(board.data), "head_to_head": board.data["head_to_head"]})


@router.get("/elo-vs-visits", summary="Elo against search visits, per checkpoint with a visits ladder",
            response_model=dict[str, Any], openapi_extra=openapi_extra(BoardQuery))
@lean
async def elo_vs_visits(request: Request) -> Response:
    board = await _lean_board(request)
    return json_response({**_pool(board.data), "visits_curves": board.data["visits_curves"],
                          "flag_legend": board.data["flag_legend"]})


# Not a lean route (its path names the run): the board's query is documented as FastAPI does.
@router.get("/runs/{run}/elo-vs-step", summary="Elo against training step of a run's checkpoints",
            responses={404: {"description": "no checkpoint of that run is registered"}},
            response_model=dict[str, Any], dependencies=[ReadAccess])
async def elo_vs_step(run: str, request: Request, query: Annotated[BoardQuery, Query()]) -> Response:
    board = await _board(request, query)
    def points(session) -> list[StepPoint]:
        if not checkpoint_queries.list_checkpoints(session, run=run):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no checkpoint of run {run!r} is registered")
        return step_points(session, board.board, run)

    found = await in_session(request, points)
    return json_response({"run": run, **_pool(board.data), "points": found,
                          "flag_legend": flag_legend(p.flag for p in found)})
