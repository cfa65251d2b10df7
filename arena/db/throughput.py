"""Throughput over a recent window, from what the database stores about finished games.

The database knows when each game finished, its number of moves and, per move, the visits of the
search that chose it (`FinishedGame.move_stats`). From those: games and moves per minute, and
playouts (search visits) per second, all over the last `window_s` seconds ending at `now`.
It does not know network evaluations or batch sizes (the workers' Prometheus metrics do:
`arena_evaluations_total`, `arena_evaluator_batch_size`); `arena.api.routers.stats` adds those
only where this process itself ran evaluators, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Integer, column, func, select, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from .models import FinishedGame

__all__ = ["Throughput", "throughput"]


@dataclass(frozen=True)
class Throughput:
    window_s: float  # the window: (now - window_s, now]
    until: datetime
    games: int  # finished in the window
    moves: int  # their moves
    playouts: int  # the visits of their searched moves (engines that report none add 0)
    games_per_minute: float
    moves_per_minute: float
    playouts_per_second: float
    last_finished_at: datetime | None  # of any game, ever (None: no game yet)


def throughput(session: Session, *, window_s: float = 600.0, now: datetime | None = None) -> Throughput:
    """Games, moves and playouts finished in the `window_s` seconds before `now` (default: the
    database's clock), as totals and rates. A game counts when it finished, with all its moves."""
    if window_s <= 0:
        raise ValueError(f"window_s must be positive, got {window_s}")
    now = now or session.scalar(select(func.now())) or datetime.now(timezone.utc)
    since = now - timedelta(seconds=window_s)
    in_window = (FinishedGame.finished_at > since) & (FinishedGame.finished_at <= now)
    games, moves = session.execute(
        select(func.count(), func.coalesce(func.sum(FinishedGame.move_count), 0)).where(in_window)).one()
    # One row per stored move: jsonb_array_elements over move_stats, visits where the engine said.
    stats = func.jsonb_array_elements(FinishedGame.move_stats).table_valued(column("value", JSONB)).alias("stat")
    playouts = session.scalar(
        select(func.coalesce(func.sum(stats.c.value["visits"].astext.cast(Integer)), 0))
        .select_from(FinishedGame).join(stats, true()).where(in_window))
    last = session.scalar(select(func.max(FinishedGame.finished_at)))
    minutes = window_s / 60
    return Throughput(window_s=window_s, until=now, games=int(games), moves=int(moves), playouts=int(playouts),
                      games_per_minute=games / minutes, moves_per_minute=moves / minutes,
                      playouts_per_second=playouts / window_s, last_finished_at=last)
