"""Names of players and tournaments by id, kept in the API process for the game pages.

A page of GET /games is read as ids (`arena.db.game_queries.game_ids_statement`) and named here.
Naming the rows in SQL joined three lookups per row, half of what PostgreSQL spent on a page, on
a host where it shares the CPU with the API. A name never changes and an id is never reused
(players and tournaments are not renamed, and a player or tournament with games cannot be
deleted), so a name once read is right for ever: the book needs no invalidation, only a bound.
Ids it has not seen are read in one round trip for the whole page.

    book = NameBook(reads)
    games = await book.name_games(rows)   # rows of GAME_ID_COLUMNS -> GameSummary dicts
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, bindparam, literal_column, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY

from arena.db.game_queries import GAME_ID_COLUMNS, GameSummary
from arena.db.models import Player, Tournament

from .reads import ReadPool

__all__ = ["MAX_NAMES", "SUMMARY_FIELDS", "NameBook"]

# Each kind's book is emptied when it would pass this many names (a few MiB): an arena's players
# and tournaments number thousands, so it is only a guard against growing without end.
MAX_NAMES = 65_536

_NAMES = union_all(
    select(literal_column("'p'").label("kind"), Player.id, Player.name)
    .where(Player.id == bindparam("players", type_=ARRAY(Integer)).any_()),
    select(literal_column("'t'").label("kind"), Tournament.id, Tournament.name)
    .where(Tournament.id == bindparam("tournaments", type_=ARRAY(Integer)).any_()),
)

# A named game's keys: GameSummary's fields, in order (a GamePage's JSON). name_games below
# writes them from GAME_ID_COLUMNS by place, for speed (a page is 50 rows on the hot path), so
# both orders are checked here, where a change to either stops the import.
SUMMARY_FIELDS = tuple(f.name for f in dataclasses.fields(GameSummary))
_TOURNAMENT, _BLACK, _WHITE = 1, 2, 3
if GAME_ID_COLUMNS != ("id", "tournament_id", "black_player_id", "white_player_id", "result", "move_count",
                        "duration_s", "finished_at") or SUMMARY_FIELDS != (
        "id", "tournament_id", "tournament", "black", "white", "result", "move_count", "duration_s", "finished_at"):
    raise ImportError("arena.api.names.name_games writes a GameSummary by place: update it with the columns")


class NameBook:
    """Player and tournament names by id, read through `reads` when first needed."""

    def __init__(self, reads: ReadPool, *, max_names: int = MAX_NAMES) -> None:
        self.reads = reads
        self.max_names = max_names
        self.players: dict[int, str] = {}
        self.tournaments: dict[int, str] = {}

    async def name_games(self, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        """Rows of GAME_ID_COLUMNS as GameSummary fields (tournament, black and white named)."""
        players, tournaments = self.players, self.tournaments
        missing_players = {row[i] for row in rows for i in (_BLACK, _WHITE)} - players.keys()
        missing_tournaments = {row[_TOURNAMENT] for row in rows} - tournaments.keys()
        if missing_players or missing_tournaments:
            found_players, found_tournaments = await self._read(missing_players, missing_tournaments)
            # The book as it was before the read, and what the read found: every name of this page,
            # even if the book was emptied meanwhile (by this read or another request's, see _bounded).
            players, tournaments = {**players, **found_players}, {**tournaments, **found_tournaments}
        # A dict display: twice as fast as dict(zip(SUMMARY_FIELDS, ...)), its keys checked above.
        return [{"id": game_id, "tournament_id": tournament_id, "tournament": tournaments[tournament_id],
                 "black": players[black], "white": players[white], "result": result, "move_count": moves,
                 "duration_s": duration, "finished_at": finished_at}
                for game_id, tournament_id, black, white, result, moves, duration, finished_at in rows]

    async def _read(self, players: set[int], tournaments: set[int]) -> tuple[dict[int, str], dict[int, str]]:
        """Read the names of `players` and `tournaments`, keep them, and return them."""
        rows = await self.reads.fetch(_NAMES, {"players": sorted(players), "tournaments": sorted(tournaments)})
        found_players = {id_: name for kind, id_, name in rows if kind == "p"}
        found_tournaments = {id_: name for kind, id_, name in rows if kind == "t"}
        if players - found_players.keys() or tournaments - found_tournaments.keys():
            # Foreign keys make this impossible; a KeyError below would say less.
            raise LookupError(f"games name players {sorted(players - found_players.keys())} or tournaments "
                              f"{sorted(tournaments - found_tournaments.keys())} that the database does not hold")
        # New dicts rather than updates in place: a request reading the book while another one's
        # read is outstanding sees a whole book, old or new, never one being emptied.
        self.players = _bounded({**self.players, **found_players}, found_players, self.max_names)
        self.tournaments = _bounded({**self.tournaments, **found_tournaments}, found_tournaments, self.max_names)
        return found_players, found_tournaments


def _bounded(book: dict[int, str], needed: dict[int, str], limit: int) -> dict[int, str]:
    """`book`, or only what the current page needs when it has grown past `limit`."""
    return book if len(book) <= limit else dict(needed)
