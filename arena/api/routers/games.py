"""`/games`: finished games with filters and cursor pagination, one game with per-move
statistics, and its SGF (`/games/{id}.sgf`).

Pages run by descending game id, so a page boundary never moves when new games are stored; with
a time window (since, until) by descending finish time, then id (`game_queries.PageMark` says
why). The cursor is opaque (the last game's place in that order, encoded) and only valid with
the same filters.

A game's detail is public: it leaves out what the database keeps for operators, the worker
that played it (host and process id) and the engines' stderr (`public_provenance`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, get_type_hints

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from arena.db import game_queries, lookup, tournament_queries

from ..deps import ReadAccess, SessionDep, check_read, in_session, unprocessable
from ..encoding import json_response
from ..lean import lean, openapi_extra, parse_query

# Read access is checked per route: the list is a lean route (arena.api.lean), without dependencies.
router = APIRouter(prefix="/games", tags=["games"])

MAX_LIMIT = 500
_CURSOR_BY_ID = "g1:"  # g1:<id>
_CURSOR_BY_TIME = "g2:"  # g2:<finish time in microseconds since the epoch>:<id>
_DIGITS = re.compile(r"[0-9]{1,10}")
_MICROSECONDS = re.compile(r"-?[0-9]{1,18}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Game ids are the database's integer keys: a larger one is refused (422) rather than sent to it.
GameId = Annotated[int, Path(ge=1, le=lookup.MAX_DB_ID, description="A finished game's id.")]


_FINISHED_AT = game_queries.GAME_ID_COLUMNS.index("finished_at")  # in the rows of game_ids_statement


# The provenance keys a client may see (search_workers.tasks.finished_record writes them). An
# allow-list: a key added there stays private until it is added here.
PUBLIC_PROVENANCE = ("players", "scoring", "reason", "engine_versions", "opening_moves", "rules", "komi")


def public_provenance(provenance: dict[str, Any]) -> dict[str, Any]:
    """A stored game's provenance without what only operators may see (engines' stderr, and
    anything not in PUBLIC_PROVENANCE)."""
    return {key: provenance[key] for key in PUBLIC_PROVENANCE if key in provenance}


# game_queries.GameDetail without what only operators may see: the worker that played the game (its
# host and process id). Made from GameDetail's fields, so a field added there is public here.
_PRIVATE_DETAIL = ("worker",)
_DETAIL_TYPES = get_type_hints(game_queries.GameDetail)
PublicGameDetail = dataclasses.make_dataclass(
    "PublicGameDetail", [(f.name, _DETAIL_TYPES[f.name]) for f in dataclasses.fields(game_queries.GameDetail)
                         if f.name not in _PRIVATE_DETAIL], frozen=True)


def public_detail(detail: game_queries.GameDetail) -> PublicGameDetail:
    """`detail` as clients see it: no worker, and `public_provenance` for its model_versions."""
    fields = {f.name: getattr(detail, f.name) for f in dataclasses.fields(PublicGameDetail)}
    return PublicGameDetail(**{**fields, "model_versions": public_provenance(detail.model_versions)})


@dataclass(frozen=True)
class GamePage:
    games: list[game_queries.GameSummary]
    next_cursor: str | None  # pass as `cursor` for the next page; None: this is the last


def encode_cursor(mark: game_queries.PageMark) -> str:
    if mark.finished_at is None:
        text = f"{_CURSOR_BY_ID}{mark.id}"
    else:
        text = f"{_CURSOR_BY_TIME}{(mark.finished_at - _EPOCH) // _MICROSECOND}:{mark.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> game_queries.PageMark:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    try:
        if text.startswith(_CURSOR_BY_TIME):
            microseconds, _, digits = text[len(_CURSOR_BY_TIME):].partition(":")
            if _MICROSECONDS.fullmatch(microseconds) and _DIGITS.fullmatch(digits):
                return game_queries.PageMark(_valid_id(digits), _EPOCH + int(microseconds) * _MICROSECOND)
        elif text.startswith(_CURSOR_BY_ID) and _DIGITS.fullmatch(digits := text[len(_CURSOR_BY_ID):]):
            return game_queries.PageMark(_valid_id(digits))
    except (ValueError, OverflowError):  # an id past the database's, a time past datetime's range
        pass
    raise unprocessable(("query", "cursor"), "not a cursor this API issued (use next_cursor of a page)")


def _valid_id(digits: str) -> int:
    if int(digits) > lookup.MAX_DB_ID:
        raise ValueError("id out of range")
    return int(digits)


class GameQuery(BaseModel):
    """The filters and page of GET /games (a lean route's query, arena.api.lean)."""

    player: str | None = Field(default=None, description="Games of this player (either colour).")
    opponent: str | None = Field(default=None, description="With player: only games against this player.")
    tournament: str | None = Field(default=None, description="A tournament id or name.")
    result: str | None = Field(default=None, description=f"A result string (B+R, W+3.5, 0, Void) or one of "
                                                         f"{', '.join(game_queries.RESULT_KINDS)}.")
    since: datetime | None = Field(default=None, description="Finished at or after (ISO 8601).")
    until: datetime | None = Field(default=None, description="Finished before (ISO 8601).")
    cursor: str | None = Field(default=None, description="next_cursor of the previous page.")
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)


@router.get("", summary="Finished games, newest id first (in a time window: newest finish first), filtered, one page at a time", response_model=GamePage,
            openapi_extra=openapi_extra(GameQuery))
@lean
async def list_games(request: Request) -> Response:
    # A lean route on the hot read path (arena.api.lean, arena.api.reads): one query, the
    # tournament resolved inside it; a second only for names the process has not seen yet
    # (arena.api.names), and a session's only for the 404 of an unknown tournament.
    await check_read(request)
    query = parse_query(GameQuery, request)
    if query.opponent is not None and query.player is None:
        raise unprocessable(("query", "opponent"), "needs a player")
    if query.since is not None and query.until is not None and query.until <= query.since:
        raise unprocessable(("query", "until"), "must be after since")
    before = None if query.cursor is None else decode_cursor(query.cursor)
    filters = game_queries.GameFilter(player=query.player, opponent=query.opponent, tournament=query.tournament,
                                      result=query.result, since=query.since, until=query.until)
    try:
        statement, params = game_queries.game_ids_statement(filters, before=before, limit=query.limit + 1)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise unprocessable(("query", field), message) from None
    rows = await request.app.state.reads.fetch(statement, params)
    if not rows and query.tournament is not None:
        await in_session(request, tournament_queries.find_tournament, query.tournament)  # 404 naming near matches
    more = len(rows) > query.limit
    del rows[query.limit:]
    mark = None
    if more:  # the page's last game: its id, and its finish time in a time window's order
        mark = game_queries.PageMark.after(rows[-1][0], rows[-1][_FINISHED_AT], timed=filters.timed)
    # A GamePage, straight from the rows, named from the process's book (arena.api.names): orjson
    # writes what FastAPI would for GameSummary objects (UTC times as read, see arena.api.reads)
    # without making them. PostgreSQL could build the JSON itself, but that costs it three times
    # what orjson takes here, on a host where it and the API share the CPU.
    return json_response({"games": await request.app.state.names.name_games(rows),
                          "next_cursor": None if mark is None else encode_cursor(mark)})


# Before /{game_id}: "12.sgf" must not reach the route that wants an integer.
@router.get("/{game_id}.sgf", summary="The game's SGF", response_class=Response, dependencies=[ReadAccess],
            responses={200: {"content": {"application/x-go-sgf": {}}}, 404: {"description": "unknown or unfinished"}})
def game_sgf(game_id: GameId, session: SessionDep) -> Response:
    return Response(game_queries.game_sgf(session, game_id), media_type="application/x-go-sgf",
                    headers={"Content-Disposition": f'attachment; filename="game-{game_id}.sgf"'})


@router.get("/{game_id}", summary="A finished game with per-move statistics", dependencies=[ReadAccess],
            responses={404: {"description": "unknown or unfinished"}})
def get_game(game_id: GameId, session: SessionDep) -> PublicGameDetail:
    return public_detail(game_queries.game_detail(session, game_id))
