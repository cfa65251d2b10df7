"""Tournament lookups: a tournament by id or name, every tournament, and the same lookup as a
scalar subquery (`tournament_ref_id`) so that a game page or a leaderboard key resolves a
tournament reference in the same round trip as the rest of its query.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, bindparam, func, select
from sqlalchemy.orm import Session

from .lookup import MAX_DB_ID, LookupFailedError, as_id
from .models import Tournament

__all__ = ["TournamentSummary", "find_tournament", "list_tournaments", "tournament_ref_id", "tournament_ref_params"]


@dataclass(frozen=True)
class TournamentSummary:
    id: int
    name: str
    format: str
    status: str
    games_scheduled: int
    games_finished: int


def find_tournament(session: Session, ref: str | int) -> TournamentSummary:
    """The tournament with this id (an integer, or digits) or name; LookupFailedError otherwise."""
    text = str(ref).strip()
    tournament = session.scalars(select(Tournament).where(Tournament.name == text)).first()
    if tournament is None and (tournament_id := as_id(text)) is not None:
        tournament = session.get(Tournament, tournament_id)
    if tournament is None:
        names = list(session.scalars(select(Tournament.name)))
        near = difflib.get_close_matches(text, names, n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise LookupFailedError(f"no tournament with id or name {text!r}{hint}")
    return TournamentSummary(id=tournament.id, name=tournament.name, format=tournament.format,
                             status=tournament.status, games_scheduled=tournament.games_scheduled,
                             games_finished=tournament.games_finished)


def list_tournaments(session: Session) -> list[TournamentSummary]:
    """Every tournament, newest first."""
    return [TournamentSummary(id=t.id, name=t.name, format=t.format, status=t.status,
                              games_scheduled=t.games_scheduled, games_finished=t.games_finished)
            for t in session.scalars(select(Tournament).order_by(Tournament.id.desc()))]


def tournament_ref_params(ref: int | str) -> dict[str, Any]:
    """Bound values for `tournament_ref_id()`: an int is an id only; text is a name, else an id
    if it is digits (as `find_tournament` reads it)."""
    if isinstance(ref, int):
        return {"tournament_name": None, "tournament_id": ref if 0 < ref <= MAX_DB_ID else -1}
    text = ref.strip()
    return {"tournament_name": text, "tournament_id": as_id(text)}


def tournament_ref_id():
    """The id of the tournament named by the `tournament_name`/`tournament_id` parameters (a name
    match first), NULL if none: a scalar subquery, so a lookup costs no extra round trip."""
    by_name = select(Tournament.id).where(Tournament.name == bindparam("tournament_name", type_=String))
    return func.coalesce(by_name.scalar_subquery(), bindparam("tournament_id", type_=Integer))
