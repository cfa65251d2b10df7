"""`/ratings`: leaderboards (a tournament's or every game; one board size), head-to-head records,
Elo vs visits, and a training run's Elo vs step, all fitted from stored games
(`arena.db.queries.leaderboard`, `Leaderboard.as_dict()`), kept in the app's
`LeaderboardCache` until a game is added (a 100k-game fit takes a fraction of a second)."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status

from arena.db import queries

from ..deps import ReadAccess, SessionDep

router = APIRouter(prefix="/ratings", tags=["ratings"], dependencies=[ReadAccess])

TournamentRef = Annotated[str | None, Query(description="A tournament id or name; default: every finished game.")]
BoardSize = Annotated[int | None, Query(ge=2, le=25, description="Only games of tournaments on this board size.")]


def _cache(request: Request) -> queries.LeaderboardCache:
    """The app's leaderboard cache (made on first use): a fit is redone only when games are added."""
    state = request.app.state
    cache = getattr(state, "leaderboards", None)
    if cache is None:
        with _cache_lock:
            cache = getattr(state, "leaderboards", None)
            if cache is None:
                cache = state.leaderboards = queries.LeaderboardCache()
    return cache


_cache_lock = threading.Lock()


def _board(request: Request, session, tournament: str | None,
           board_size: int | None) -> tuple[queries.Leaderboard, dict[str, Any]]:
    tournament_id = None if tournament is None else queries.find_tournament(session, tournament).id
    return _cache(request).get(session, tournament_id=tournament_id, board_size=board_size)


@router.get("/leaderboard", summary="Elo with 95% intervals, head-to-head, Elo vs visits")
def leaderboard(request: Request, session: SessionDep, tournament: TournamentRef = None,
                board_size: BoardSize = None) -> dict[str, Any]:
    return _board(request, session, tournament, board_size)[1]


@router.get("/head-to-head", summary="Every pair that met: record, Elo difference, likelihood of superiority")
def head_to_head(request: Request, session: SessionDep, tournament: TournamentRef = None,
                 board_size: BoardSize = None) -> dict[str, Any]:
    board = _board(request, session, tournament, board_size)[1]
    return {"game_set": board["game_set"], "head_to_head": board["head_to_head"]}


@router.get("/elo-vs-visits", summary="Elo against search visits, per checkpoint with a visits ladder")
def elo_vs_visits(request: Request, session: SessionDep, tournament: TournamentRef = None,
                  board_size: BoardSize = None) -> dict[str, Any]:
    board = _board(request, session, tournament, board_size)[1]
    return {"game_set": board["game_set"], "visits_curves": board["visits_curves"]}


@router.get("/runs/{run}/elo-vs-step", summary="Elo against training step of a run's checkpoints",
            responses={404: {"description": "no checkpoint of that run is registered"}})
def elo_vs_step(run: str, request: Request, session: SessionDep, tournament: TournamentRef = None,
                board_size: BoardSize = None) -> dict[str, Any]:
    if not queries.list_checkpoints(session, run=run):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no checkpoint of run {run!r} is registered")
    board = _board(request, session, tournament, board_size)[0]
    return {"run": run, "game_set": {"sha256": board.game_set.sha256, "games": len(board.game_set.results)},
            "points": queries.elo_vs_step(session, board, run)}
