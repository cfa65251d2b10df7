"""`/games`: finished games with filters and cursor pagination, one game with per-move
statistics, and its SGF (`/games/{id}.sgf`).

Pages run by descending game id, so a page boundary never moves when new games are stored;
the cursor is opaque (the last id seen, encoded) and only valid with the same filters.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from arena.db import queries

from ..deps import ReadAccess, SessionDep, unprocessable

router = APIRouter(prefix="/games", tags=["games"], dependencies=[ReadAccess])

MAX_LIMIT = 500
_CURSOR_PREFIX = "g1:"
_DIGITS = re.compile(r"[0-9]{1,10}")
# Game ids are the database's integer keys: a larger one is refused (422) rather than sent to it.
GameId = Annotated[int, Path(ge=1, le=queries.MAX_DB_ID, description="A finished game's id.")]


@dataclass(frozen=True)
class GamePage:
    games: list[queries.GameSummary]
    next_cursor: str | None  # pass as `cursor` for the next page; None: this is the last


def encode_cursor(before_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{before_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    digits = text[len(_CURSOR_PREFIX):]
    if (not text.startswith(_CURSOR_PREFIX) or not _DIGITS.fullmatch(digits)
            or int(digits) > queries.MAX_DB_ID):
        raise unprocessable(("query", "cursor"), "not a cursor this API issued (use next_cursor of a page)")
    return int(digits)


@router.get("", summary="Finished games, newest id first, filtered, one page at a time")
def list_games(
    session: SessionDep,
    player: Annotated[str | None, Query(description="Games of this player (either colour).")] = None,
    opponent: Annotated[str | None, Query(description="With player: only games against this player.")] = None,
    tournament: Annotated[str | None, Query(description="A tournament id or name.")] = None,
    result: Annotated[str | None, Query(description=f"A result string (B+R, W+3.5, 0, Void) or one of "
                                                    f"{', '.join(queries.RESULT_KINDS)}.")] = None,
    since: Annotated[datetime | None, Query(description="Finished at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Finished before (ISO 8601).")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> GamePage:
    if opponent is not None and player is None:
        raise unprocessable(("query", "opponent"), "needs a player")
    if since is not None and until is not None and until <= since:
        raise unprocessable(("query", "until"), "must be after since")
    before_id = None if cursor is None else decode_cursor(cursor)
    tournament_id = None if tournament is None else queries.find_tournament(session, tournament).id
    filters = queries.GameFilter(player=player, opponent=opponent, tournament_id=tournament_id, result=result,
                                 since=since, until=until)
    try:
        games, next_id = queries.page_games(session, filters, before_id=before_id, limit=limit)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise unprocessable(("query", field), message) from None
    return GamePage(games=games, next_cursor=None if next_id is None else encode_cursor(next_id))


# Before /{game_id}: "12.sgf" must not reach the route that wants an integer.
@router.get("/{game_id}.sgf", summary="The game's SGF", response_class=Response,
            responses={200: {"content": {"application/x-go-sgf": {}}}, 404: {"description": "unknown or unfinished"}})
def game_sgf(game_id: GameId, session: SessionDep) -> Response:
    return Response(queries.game_sgf(session, game_id), media_type="application/x-go-sgf",
                    headers={"Content-Disposition": f'attachment; filename="game-{game_id}.sgf"'})


@router.get("/{game_id}", summary="A finished game with per-move statistics",
            responses={404: {"description": "unknown or unfinished"}})
def get_game(game_id: GameId, session: SessionDep) -> queries.GameDetail:
    return queries.game_detail(session, game_id)
