"""`/tournaments`: create (checked, stored, first games sent to the workers), list, progress, cancel.

The request body of a creation is `arena.scheduling.TournamentConfig` itself; anything it refers
to that the server does not have (a checkpoint, an engine, a board size one cannot play) is a
422 and nothing is stored. Creation is `arena.tournament_creation.create_and_dispatch`, as from
gRPC and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, status

from arena import tournaments as service
from arena.db import tournament_queries
from arena.scheduling import TournamentConfig
from arena.tokens import ScopeError, require_owner
from arena.tournament_creation import create_and_dispatch

from ..deps import ContextDep, ReadAccess, SessionDep, WriteAccess, forbidden, unprocessable

router = APIRouter(prefix="/tournaments", tags=["tournaments"])


@dataclass(frozen=True)
class TournamentDetail:
    progress: service.Progress  # finished games, games per hour, ETA, SPRT verdict, failed games
    configuration: dict[str, Any]  # what was asked for (TournamentConfig)
    failed_games: list[service.FailedGame]  # given up on, and why (the first 100)
    opening_book: list[str] | None = None  # the openings its games are planned from (None: empty board)
    referee: str | None = None  # the engine that settles dead stones (None: strict Tromp-Taylor)


@dataclass(frozen=True)
class Created:
    tournament: TournamentDetail
    dispatched: int  # games sent to the workers now (the scheduler sends the rest, and retries)
    dispatch_error: str | None = None  # a fixed, client-safe sentence; the details are in the API's log


def _tournament(session, ref: str):
    try:
        return service.find_tournament(session, ref)
    except service.TournamentError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None


def _detail(session, tournament_id: int) -> TournamentDetail:
    tournament = _tournament(session, str(tournament_id))
    return TournamentDetail(progress=service.progress(session, tournament_id),
                            configuration=dict(tournament.configuration),
                            failed_games=service.failed_games(session, tournament_id),
                            opening_book=tournament.opening_book, referee=tournament.referee)


@router.post("", summary="Create a tournament and send its first games to the workers",
             status_code=status.HTTP_201_CREATED, responses={422: {"description": "refused; nothing stored"}})
def create_tournament(config: TournamentConfig, session: SessionDep, context: ContextDep,
                      token: WriteAccess) -> Created:
    # A plain `def`: FastAPI runs it in its thread pool, so planning (up to
    # ARENA_MAX_GAMES_PER_TOURNAMENT games, seconds) never blocks the event loop.
    try:
        created = create_and_dispatch(session, config, context, token_id=token.id,  # its owner may cancel it
                                      sgf_roots=context.settings.import_dirs)  # openings.directory: imports only
    except service.TournamentError as exc:
        raise unprocessable(("body",), str(exc)) from None
    return Created(tournament=_detail(session, created.tournament_id), dispatched=created.dispatched,
                   dispatch_error=created.dispatch_error)


@router.get("", summary="Tournaments, newest first", dependencies=[ReadAccess])
def list_tournaments(session: SessionDep) -> list[tournament_queries.TournamentSummary]:
    return tournament_queries.list_tournaments(session)


@router.get("/{ref}", summary="A tournament (id or name): progress, ETA, verdict, configuration",
            dependencies=[ReadAccess], responses={404: {"description": "no such tournament"}})
def get_tournament(ref: str, session: SessionDep) -> TournamentDetail:
    return _detail(session, _tournament(session, ref).id)


@router.post("/{ref}/cancel", summary="Stop scheduling a tournament (stored games stay)",
             responses={403: {"description": "another token's tournament, and this one is not an admin"},
                        404: {"description": "no such tournament"}})
def cancel_tournament(ref: str, session: SessionDep, token: WriteAccess) -> TournamentDetail:
    tournament = _tournament(session, ref)
    tournament_id = tournament.id
    try:
        require_owner(token, tournament.created_by_token_id, action="cancelling this tournament")
    except ScopeError as exc:
        raise forbidden(exc) from None
    service.cancel(session, tournament_id)
    session.commit()
    return _detail(session, tournament_id)
