"""Rating pools: the conditions (board size, rules, komi: `arena.scheduling.conditions`) games
are played under, with their games. A leaderboard is one pool, never a mix: `rating_conditions`
lists them most games first, `player_conditions` those a player holds a rating in, and
`choose_condition` picks the asked one or, by default, the one with the most games.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .lookup import LookupFailedError
from .models import Player, RatingPair, Tournament

__all__ = ["CONDITION_PATTERN", "ConditionGames", "by_games", "check_condition", "choose_condition",
           "player_conditions", "rating_conditions"]

# A condition key as `arena.scheduling.conditions.condition_key` writes it: "9x9 chinese komi 7.5".
CONDITION_PATTERN = r"^[0-9]{1,2}x[0-9]{1,2} [a-z][a-z0-9-]{0,40} komi -?[0-9]{1,4}(\.5)?$"


@dataclass(frozen=True)
class ConditionGames:
    """A rating pool and its size: the finished games of its tournaments (Void included)."""

    condition: str
    games: int

    def as_dict(self) -> dict[str, Any]:
        return {"condition": self.condition, "games": self.games}


def check_condition(text: str) -> str:
    """`text` if it is written as a condition key; ValueError naming it otherwise."""
    if not re.fullmatch(CONDITION_PATTERN, text):
        raise ValueError(f"{text!r} is not a condition such as '9x9 chinese komi 7.5' (board size, rules, komi)")
    return text


def by_games(conditions: Sequence[ConditionGames]) -> list[ConditionGames]:
    """Most games first; equal counts by name, so that the default never flips between requests."""
    return sorted(conditions, key=lambda c: (-c.games, c.condition))


def rating_conditions(session: Session, tournament_id: int | None = None) -> list[ConditionGames]:
    """Every condition a tournament (only `tournament_id`) is played under, most games first."""
    query = (select(Tournament.condition, func.coalesce(func.sum(Tournament.games_finished), 0))
             .group_by(Tournament.condition))
    if tournament_id is not None:
        query = query.where(Tournament.id == tournament_id)
    return by_games([ConditionGames(c, int(n)) for c, n in session.execute(query)])


def player_conditions(session: Session, players: Sequence[str]) -> list[str]:
    """The conditions the named players have finished games under, by name: the pools they hold a
    rating in. Read from the per-pair counts of rated games (`arena.db.rating_inputs`, Void games
    never counted), a row per pair a tournament played, not from the games themselves."""
    query = (select(Tournament.condition).distinct()
             .join(RatingPair, RatingPair.tournament_id == Tournament.id)
             .join(Player, or_(Player.id == RatingPair.black_player_id, Player.id == RatingPair.white_player_id))
             .where(Player.name.in_(list(players))).order_by(Tournament.condition))
    return list(session.scalars(query))


def choose_condition(conditions: Sequence[ConditionGames], requested: str | None = None, *,
                     board_size: int | None = None) -> str | None:
    """The pool a leaderboard is fitted on: `requested` if it is among `conditions` (most games
    first, as `rating_conditions` and `LeaderboardKey` list them), else (None) the one with the
    most games (on `board_size` only, if given); None when there is none. LookupFailedError,
    listing the known ones, for a condition with no tournament (or not on `board_size`).
    On the API's hot path: no sorting, no allocation for the usual request."""
    prefix = None if board_size is None else f"{board_size}x{board_size} "
    for c in conditions:
        if (prefix is None or c.condition.startswith(prefix)) and (requested is None or c.condition == requested):
            return c.condition
    if requested is None:
        return None
    sized = [c for c in conditions if prefix is None or c.condition.startswith(prefix)]
    known = ", ".join(repr(c.condition) for c in by_games(sized)) or "none"
    where = "" if board_size is None else f" on {board_size}x{board_size}"
    raise LookupFailedError(f"condition: no tournament is played under {requested!r}{where}; the known "
                            f"conditions: {known}")
