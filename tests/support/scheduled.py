"""A small round-robin between two fake engines, and whether the scheduler has sent it: for the
tests of the scheduler process under faults (an outage, a lock held elsewhere)."""

from __future__ import annotations

from sqlalchemy import func, select

from arena.db.connection import make_engine, session_scope
from arena.db.models import ScheduledGame
from arena.scheduling import RoundRobinConfig
from arena.tournaments import create_tournament
from tests.support.fake_engines import fake_spec

FAKE_ENGINES = {name: fake_spec(name=name) for name in ("fa", "fb")}


def fake_round_robin(url: str, name: str) -> int:
    """A running round-robin of `fa` against `fb`, two games; its id."""
    config = RoundRobinConfig(name=name, format="round-robin", board_size=9, rules="chinese", komi=7.5,
                              games_per_pairing=2,
                              participants=[{"name": "fa", "kind": "engine", "ref": "fa"},
                                            {"name": "fb", "kind": "engine", "ref": "fb"}],
                              openings={"source": "random", "plies": 2, "count": 2, "seed": 1})
    sql = make_engine(url)
    try:
        with session_scope(sql) as session:
            return create_tournament(session, config, engines=FAKE_ENGINES).id
    finally:
        sql.dispose()


def all_dispatched(url: str, tid: int) -> bool:
    """Every game of tournament `tid` sent to the workers."""
    sql = make_engine(url)
    try:
        with session_scope(sql) as session:
            return session.scalar(select(func.count()).select_from(ScheduledGame).where(
                ScheduledGame.tournament_id == tid, ScheduledGame.dispatched_at.is_(None))) == 0
    finally:
        sql.dispose()
