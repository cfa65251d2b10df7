"""`/tournaments`: create (checked, stored, first games sent to the workers), list, progress, cancel.

The request body of a creation is `arena.scheduling.TournamentConfig` itself; anything it refers
to that the server does not have (a checkpoint, an engine, a board size one cannot play) is a
422 and nothing is stored (`arena.tournaments.create_tournament`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, status

from arena import tournaments as service
from arena.db import queries
from arena.scheduling import TournamentConfig

from ..deps import EnginesDep, ReadAccess, SendDep, SessionDep, WriteAccess, unprocessable

log = logging.getLogger(__name__)
router = APIRouter(prefix="/tournaments", tags=["tournaments"])


@dataclass(frozen=True)
class TournamentDetail:
    progress: service.Progress  # finished games, games per hour, ETA, SPRT verdict
    configuration: dict[str, Any]


@dataclass(frozen=True)
class Created:
    tournament: TournamentDetail
    dispatched: int  # games sent to the workers now (the scheduler sends the rest, and retries)
    dispatch_error: str | None = None


def _tournament(session, ref: str):
    try:
        return service.find_tournament(session, ref)
    except service.TournamentError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None


def _detail(session, tournament_id: int) -> TournamentDetail:
    tournament = _tournament(session, str(tournament_id))
    return TournamentDetail(progress=service.progress(session, tournament_id),
                            configuration=dict(tournament.configuration))


@router.post("", summary="Create a tournament and send its first games to the workers",
             status_code=status.HTTP_201_CREATED, responses={422: {"description": "refused; nothing stored"}})
def create_tournament(config: TournamentConfig, session: SessionDep, engines: EnginesDep, send: SendDep,
                      _: WriteAccess) -> Created:
    try:
        tournament = service.create_tournament(session, config, engines=engines)
    except service.TournamentError as exc:
        raise unprocessable(("body",), str(exc)) from None
    session.commit()
    dispatched, error = 0, None
    try:
        dispatched = service.dispatch(session, tournament.id, send=send)
        session.commit()
    except Exception as exc:  # noqa: BLE001 -- the tournament stands; the scheduler dispatches it later
        session.rollback()
        log.warning("tournament %s: dispatch failed, left to the scheduler: %s", tournament.id, exc)
        error = f"{type(exc).__name__}: {exc}"
    return Created(tournament=_detail(session, tournament.id), dispatched=dispatched, dispatch_error=error)


@router.get("", summary="Tournaments, newest first", dependencies=[ReadAccess])
def list_tournaments(session: SessionDep) -> list[queries.TournamentSummary]:
    return queries.list_tournaments(session)


@router.get("/{ref}", summary="A tournament (id or name): progress, ETA, verdict, configuration",
            dependencies=[ReadAccess], responses={404: {"description": "no such tournament"}})
def get_tournament(ref: str, session: SessionDep) -> TournamentDetail:
    return _detail(session, _tournament(session, ref).id)


@router.post("/{ref}/cancel", summary="Stop scheduling a tournament (stored games stay)",
             responses={404: {"description": "no such tournament"}})
def cancel_tournament(ref: str, session: SessionDep, _: WriteAccess) -> TournamentDetail:
    tournament_id = _tournament(session, ref).id
    service.cancel(session, tournament_id)
    session.commit()
    return _detail(session, tournament_id)
