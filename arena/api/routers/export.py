"""Bulk export of a tournament's finished games, streamed (arena.game_export):

    GET /tournaments/{ref}/games.jsonl?move_stats=true    one JSON object per game and line
    GET /tournaments/{ref}/games.sgf.tar.gz               a gzipped tar, one `<id>.sgf` per game

The tournament is resolved before the first byte is sent (an unknown one is a 404 naming it);
then the games go out a batch at a time, each batch read on a session of its own while the
previous one is on its way, so neither the API's memory nor a database connection grows with
the tournament. Reads follow the API's read policy (`ARENA_API_PUBLIC_READS`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse

from arena.db import tournament_queries
from arena.game_export import jsonl_chunks, sgf_tar_chunks

from ..deps import ReadAccess, in_session

router = APIRouter(prefix="/tournaments", tags=["export"], dependencies=[ReadAccess])

TournamentRef = Annotated[str, Path(min_length=1, max_length=200, description="A tournament id or name.")]
_NOT_FOUND = {404: {"description": "no such tournament"}}


async def _tournament_id(request: Request, ref: str) -> int:
    # LookupFailedError (a 404 naming near matches, arena.api.app) before the response starts.
    return (await in_session(request, tournament_queries.find_tournament, ref)).id


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


@router.get("/{ref}/games.jsonl", summary="Every finished game of a tournament as JSON lines, streamed",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {}}}, **_NOT_FOUND})
async def export_jsonl(request: Request, ref: TournamentRef, move_stats: Annotated[bool, Query(
        description="Add each game's per-move statistics (visits, root value, policy entropy, time).")] = False,
                       ) -> StreamingResponse:
    tournament_id = await _tournament_id(request, ref)
    chunks = jsonl_chunks(request.app.state.sessions, tournament_id, move_stats=move_stats)
    return StreamingResponse(chunks, media_type="application/x-ndjson",
                             headers=_attachment(f"tournament-{tournament_id}-games.jsonl"))


@router.get("/{ref}/games.sgf.tar.gz", summary="Every finished game of a tournament as SGF files in a "
                                                "gzipped tar, streamed", response_class=StreamingResponse,
            responses={200: {"content": {"application/gzip": {}}}, **_NOT_FOUND})
async def export_sgf_archive(request: Request, ref: TournamentRef) -> StreamingResponse:
    tournament_id = await _tournament_id(request, ref)
    chunks = sgf_tar_chunks(request.app.state.sessions, tournament_id)
    return StreamingResponse(chunks, media_type="application/gzip",
                             headers=_attachment(f"tournament-{tournament_id}-games.sgf.tar.gz"))
