"""A tournament's finished games for bulk export, read in keyset batches by ascending game id.

`game_batches` reads one batch per query (`id > last id seen ORDER BY id LIMIT batch_size`,
served by the (tournament_id, id) index of finished games, which carry their tournament and
players since migration 0009), each on a session of its own: an
export of any size holds at most one batch in memory, and no connection or transaction stays
open while a slow client reads the previous batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from .models import FinishedGame, Player, ScheduledGame

__all__ = ["BATCH_SIZE", "ExportedGame", "game_batches"]

BATCH_SIZE = 1000  # games per query: a few MB of SGF at most


@dataclass(frozen=True)
class ExportedGame:
    """One finished game as an export writes it."""

    id: int  # the scheduled game's id
    black: str
    white: str
    result: str
    score: float | None  # black's margin; None for R/T/F/Void
    move_count: int
    duration_s: float
    finished_at: datetime
    seed: int
    opening: str | None
    sgf: str
    move_stats: list[Any] | None = None  # per-move statistics; None: not asked for


def _batch_statement(*, move_stats: bool, batch_size: int):
    black, white = aliased(Player), aliased(Player)
    columns = [FinishedGame.scheduled_game_id, black.name, white.name, FinishedGame.result, FinishedGame.score,
               FinishedGame.move_count, FinishedGame.duration_s, FinishedGame.finished_at, ScheduledGame.seed,
               ScheduledGame.opening, FinishedGame.sgf]
    if move_stats:  # only when asked: they are most of a game's stored bytes
        columns.append(FinishedGame.move_stats)
    return (select(*columns)
            .join(ScheduledGame, ScheduledGame.id == FinishedGame.scheduled_game_id)  # seed and opening
            .join(black, black.id == FinishedGame.black_player_id)
            .join(white, white.id == FinishedGame.white_player_id)
            .order_by(FinishedGame.scheduled_game_id)
            .limit(batch_size))


def game_batches(sessions: Callable[[], AbstractContextManager[Session]], tournament_id: int, *,
                 move_stats: bool = False, batch_size: int = BATCH_SIZE) -> Iterator[list[ExportedGame]]:
    """The finished games of tournament `tournament_id` by ascending id, `batch_size` per list,
    each list read on a fresh `sessions()`. Games stored while the export runs are included
    if their id is above the last batch read."""
    if batch_size < 1:
        raise ValueError("batch_size: must be at least 1")
    statement = _batch_statement(move_stats=move_stats, batch_size=batch_size)
    after_id = 0
    while True:
        with sessions() as session:
            rows = session.execute(statement.where(FinishedGame.tournament_id == tournament_id,
                                                   FinishedGame.scheduled_game_id > after_id)).all()
        if not rows:
            return
        yield [ExportedGame(*row) for row in rows]
        if len(rows) < batch_size:
            return
        after_id = rows[-1][0]
