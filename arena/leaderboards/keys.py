"""What names a leaderboard's game set without reading the games: `LeaderboardKey`.

`leaderboard_key_statement` reads, in one row per condition, the counters that change whenever a
finished game is stored; equal keys mean the same games, so a cached fit under an equal key is
current. The statement has bound parameters only: the API's asynchronous read path
(`arena.api.reads`) runs it without a session, and `read_key` runs it on one.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, null, select
from sqlalchemy.orm import Session

from arena.db.condition_queries import ConditionGames, by_games
from arena.db.models import FinishedGame, Tournament
from arena.db.tournament_queries import tournament_ref_id, tournament_ref_params

__all__ = ["LeaderboardKey", "leaderboard_key_params", "leaderboard_key_statement", "read_key"]


@functools.lru_cache(maxsize=8)
def leaderboard_key_statement(*, tournament: bool) -> Select:
    """What changes whenever a finished game enters a leaderboard's game set, in a row per
    condition (no scan of the games): the resolved tournament id (NULL: no such tournament), the
    condition, its tournaments' count and games_finished counters (record_finished_game bumps them
    in the same transaction as the game), and the largest finished game id (its primary key's last
    entry). Finished games are never rewritten, so an equal key means the same games. No row: no
    tournament (or not the one asked for).

    Parameters: `tournament_name`/`tournament_id` (`tournament_ref_params`) with `tournament`."""
    newest = select(func.max(FinishedGame.scheduled_game_id)).scalar_subquery()
    tournament_id = tournament_ref_id() if tournament else null()
    query = (select(tournament_id, Tournament.condition, func.count(Tournament.id),
                    func.coalesce(func.sum(Tournament.games_finished), 0), newest)
             .group_by(Tournament.condition).order_by(Tournament.condition))
    if tournament:
        query = query.where(Tournament.id == tournament_id)
    return query


def leaderboard_key_params(tournament: int | str | None) -> dict[str, Any]:
    """The bound values of `leaderboard_key_statement` for a tournament reference (None: every game)."""
    return tournament_ref_params(tournament) if tournament is not None else {}


@dataclass(frozen=True)
class LeaderboardKey:
    """The `leaderboard_key_statement` rows, read: the pools to choose from and what names their
    game sets."""

    tournament_id: int | None  # None: no such tournament (or none at all)
    conditions: tuple[ConditionGames, ...]  # most games first
    counts: tuple[tuple[Any, ...], ...]  # (condition, tournaments, finished games) per condition
    newest: int | None  # the largest finished game id

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[Any, ...]]) -> LeaderboardKey:
        counts = tuple((condition, tournaments, int(finished)) for _, condition, tournaments, finished, _ in rows)
        return cls(tournament_id=rows[0][0] if rows else None,
                   conditions=tuple(by_games([ConditionGames(c, n) for c, _, n in counts])),
                   counts=counts, newest=rows[0][4] if rows else None)

    def cache_key(self, condition: str | None) -> tuple[Any, ...]:
        """The cache key (`arena.leaderboards.cache`) of `condition`'s leaderboard. Every pool's counts are in it:
        a cached leaderboard lists every pool with its games."""
        return (self.tournament_id, condition, self.counts, self.newest)


def read_key(session: Session, tournament: int | str | None) -> LeaderboardKey:
    """The key of every game's leaderboards (`tournament` None) or one tournament's, read on `session`."""
    statement = leaderboard_key_statement(tournament=tournament is not None)
    return LeaderboardKey.from_rows(session.execute(statement, leaderboard_key_params(tournament)).all())
