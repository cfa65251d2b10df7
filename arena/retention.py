"""Retention of per-move statistics (`ARENA_MOVE_STATS_RETENTION_DAYS`).

Per-move statistics are most of a finished game's stored bytes and are read only when someone
looks at one game. Past the retention period the scheduler empties them (`move_stats = []`), a
bounded batch per pass so that no pass holds many row locks or writes a huge transaction; the
result, score, SGF and everything else of the game stay. A game without statistics shows none
(GET /games/{id} answers `move_stats: []`, the viewer shows the board only).

The batch's predicate (`finished_at < cutoff AND move_stats <> '[]'`) is the one a partial
index on finished_at `WHERE move_stats <> '[]'::jsonb` serves.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import cast, func, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from arena.db.models import FinishedGame

__all__ = ["BATCH_SIZE", "MoveStatsRetention", "clear_old_move_stats"]

log = logging.getLogger(__name__)

BATCH_SIZE = 10_000  # games per pass: one short transaction of a few hundred ms at most
_EMPTY = cast([], JSONB)


def clear_old_move_stats(session: Session, *, older_than_days: float, batch_size: int = BATCH_SIZE,
                         now: datetime | None = None) -> int:
    """Empty the per-move statistics of at most `batch_size` games finished more than
    `older_than_days` before `now` (default: the database's current time, the clock that wrote
    `finished_at`: a scheduler host whose clock ran ahead by the retention period would otherwise
    empty recent games' statistics, for good); how many were emptied."""
    if older_than_days <= 0:
        raise ValueError("older_than_days: must be positive (0 keeps statistics forever: do not call)")
    if batch_size < 1:
        raise ValueError("batch_size: must be at least 1")
    age = timedelta(days=older_than_days)
    cutoff = now - age if now is not None else func.now() - func.make_interval(0, 0, 0, 0, 0, 0, age.total_seconds())
    # SKIP LOCKED: a row another transaction holds is left for the next pass, never waited for.
    batch = (select(FinishedGame.scheduled_game_id)
             .where(FinishedGame.finished_at < cutoff, FinishedGame.move_stats != _EMPTY)
             .limit(batch_size)
             .with_for_update(skip_locked=True)
             .scalar_subquery())
    result = session.execute(update(FinishedGame).where(FinishedGame.scheduled_game_id.in_(batch))
                             .values(move_stats=_EMPTY).execution_options(synchronize_session=False))
    return result.rowcount


@dataclass
class MoveStatsRetention:
    """The scheduler's retention step: a batch when due. After a full batch the next pass goes
    on at once (a backlog drains at BATCH_SIZE per pass); after a partial one, nothing is left,
    so the next look is `interval_s` later rather than a scan on every pass."""

    days: float  # statistics older than this are emptied
    batch_size: int = BATCH_SIZE
    interval_s: float = 600.0
    _next_at: float = field(default=0.0, init=False)

    def run(self, session: Session) -> int:
        """One batch if due (see the class); the games emptied."""
        if time.monotonic() < self._next_at:
            return 0
        cleared = clear_old_move_stats(session, older_than_days=self.days, batch_size=self.batch_size)
        if cleared < self.batch_size:
            self._next_at = time.monotonic() + self.interval_s
        if cleared:
            log.info("emptied the per-move statistics of %d games finished over %g days ago", cleared, self.days)
        return cleared
