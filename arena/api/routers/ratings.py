"""`/ratings`: leaderboards (a tournament's or every game; one board size), head-to-head records,
Elo vs visits, and a training run's Elo vs step, all fitted from stored games
(`arena.db.queries.leaderboard`, `Leaderboard.as_dict()`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from arena.db import queries

from ..deps import ReadAccess, SessionDep

router = APIRouter(prefix="/ratings", tags=["ratings"], dependencies=[ReadAccess])

TournamentRef = Annotated[str | None, Query(description="A tournament id or name; default: every finished game.")]
BoardSize = Annotated[int | None, Query(ge=2, le=25, description="Only games of tournaments on this board size.")]


def _board(session, tournament: str | None, board_size: int | None) -> queries.Leaderboard:
    tournament_id = None if tournament is None else queries.find_tournament(session, tournament).id
    return queries.leaderboard(session, tournament_id=tournament_id, board_size=board_size)


@router.get("/leaderboard", summary="Elo with 95% intervals, head-to-head, Elo vs visits")
def leaderboard(session: SessionDep, tournament: TournamentRef = None, board_size: BoardSize = None) -> dict[str, Any]:
    return _board(session, tournament, board_size).as_dict()


@router.get("/head-to-head", summary="Every pair that met: record, Elo difference, likelihood of superiority")
def head_to_head(session: SessionDep, tournament: TournamentRef = None,
                 board_size: BoardSize = None) -> dict[str, Any]:
    board = _board(session, tournament, board_size).as_dict()
    return {"game_set": board["game_set"], "head_to_head": board["head_to_head"]}


@router.get("/elo-vs-visits", summary="Elo against search visits, per checkpoint with a visits ladder")
def elo_vs_visits(session: SessionDep, tournament: TournamentRef = None,
                  board_size: BoardSize = None) -> dict[str, Any]:
    board = _board(session, tournament, board_size).as_dict()
    return {"game_set": board["game_set"], "visits_curves": board["visits_curves"]}


@router.get("/runs/{run}/elo-vs-step", summary="Elo against training step of a run's checkpoints",
            responses={404: {"description": "no checkpoint of that run is registered"}})
def elo_vs_step(run: str, session: SessionDep, tournament: TournamentRef = None,
                board_size: BoardSize = None) -> dict[str, Any]:
    if not queries.list_checkpoints(session, run=run):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no checkpoint of run {run!r} is registered")
    board = _board(session, tournament, board_size)
    return {"run": run, "game_set": {"sha256": board.game_set.sha256, "games": len(board.game_set.results)},
            "points": queries.elo_vs_step(session, board, run)}
