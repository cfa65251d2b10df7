"""SIGTERM mid-block (issue 13, item 6): a real `arena worker` stops at its next finished game,
gives the rest of its block back and exits promptly; another worker plays the rest; no game is
stored twice.

Real processes and services: the worker CLI, a private Redis database, a fresh PostgreSQL database;
the players are the scripted fake GTP engine, slowed down so the block is long.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arena.db.connection import make_engine, session_scope
from arena.db.models import FinishedGame, ScheduledGame, Tournament
from arena.scheduling import RoundRobinConfig
from arena.settings import Settings
from arena.tournaments import create_tournament, dispatch
from arena.worker import enqueue, make_celery
from search_workers.engines.config import load_engine_config
from tests.arena.db.conftest import admin_url, db_url  # noqa: F401 -- a fresh database per module
from tests.support.fake_engines import FAKE_GTP
from tests.support.processes import private_redis_url, start_arena, stop_process, wait_for

GAMES = 8


def _engines_file(folder: Path) -> Path:
    path = folder / "engines.toml"
    command = f'["{sys.executable}", "{FAKE_GTP}", "--think", "0.03"]'
    path.write_text("".join(f'[[engine]]\nname = "{name}"\ncommand = {command}\nmove_timeout = 5.0\n\n'
                            for name in ("slow-a", "slow-b")))
    return path


def _state(url: str, tid: int) -> tuple[list[int], int, int]:
    """(stored game ids with repeats, the tournament's finished counter, games still leased)."""
    sql = make_engine(url)
    try:
        with session_scope(sql) as session:
            ids = list(session.scalars(select(FinishedGame.scheduled_game_id).join(ScheduledGame)
                                       .where(ScheduledGame.tournament_id == tid)))
            leased = session.scalar(select(func.count()).select_from(ScheduledGame).where(
                ScheduledGame.tournament_id == tid, ScheduledGame.lease_owner.is_not(None),
                ~ScheduledGame.id.in_(select(FinishedGame.scheduled_game_id))))
            return ids, session.get(Tournament, tid).games_finished, leased
    finally:
        sql.dispose()


def _dispatch(url: str, tid: int, app) -> int:
    sql = make_engine(url)
    try:
        with session_scope(sql) as session:
            return dispatch(session, tid, send=lambda payload: enqueue(app, payload), block_size=GAMES)
    finally:
        sql.dispose()


# solo: the block plays in the worker's own process; prefork: in a child, which Celery does not
# signal (the shutdown reaches it through a process-shared event, search_workers.tasks._stop).
@pytest.mark.parametrize("pool", [["--pool", "solo"], ["--pool", "prefork", "--processes", "1"]], ids=["solo", "prefork"])
def test_sigterm_stops_the_block_at_its_next_game_and_gives_the_rest_back(db_url: str,  # noqa: F811
                                                                           tmp_path: Path, pool: list[str]) -> None:
    engines_file = _engines_file(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(ARENA_DATABASE_URL=db_url, ARENA_DATA_DIR=str(tmp_path / "data"), ARENA_BROKER_URL=private_redis_url(),
               ARENA_ENGINES_FILE=str(engines_file), ARENA_LEASE_S="5", ARENA_WORKER_METRICS_PORT="0")
    config = RoundRobinConfig(name=f"sigterm-{pool[1]}", format="round-robin", board_size=9, rules="chinese", komi=7.5,
                              games_per_pairing=GAMES,
                              participants=[{"name": "slow-a", "kind": "engine", "ref": "slow-a"},
                                            {"name": "slow-b", "kind": "engine", "ref": "slow-b"}],
                              openings={"source": "random", "plies": 2, "count": 4, "seed": 3})
    sql = make_engine(db_url)
    with session_scope(sql) as session:
        tid = create_tournament(session, config, engines=load_engine_config(engines_file)).id
    sql.dispose()
    app = make_celery(Settings(database_url=db_url, broker_url=env["ARENA_BROKER_URL"], data_dir=tmp_path / "data"))
    assert _dispatch(db_url, tid, app) == GAMES

    log = tmp_path / "worker.log"
    first = start_arena(["worker", *pool, "--loglevel", "INFO", "--games-at-once", "1"], env, log)
    try:
        wait_for(lambda: len(_state(db_url, tid)[0]) >= 1, 120, "the first stored game", [log])
        os.kill(first.pid, signal.SIGTERM)  # the worker itself, as `kill PID` or an orchestrator would
        stopped = time.monotonic()
        first.wait(30)
        took = time.monotonic() - stopped
    finally:
        stop_process(first)
    ids, counted, leased = _state(db_url, tid)
    assert took < 20, f"the worker took {took:.1f} s to exit\n{log.read_text()[-3000:]}"
    assert 1 <= len(ids) < GAMES, f"SIGTERM did not stop the block mid-way: {len(ids)} stored"
    assert leased == 0, "the unplayed games were not given back"
    assert "is stopping: giving back" in log.read_text()

    assert _dispatch(db_url, tid, app) == GAMES - len(ids)  # given back: sent again at once
    second = start_arena(["worker", "--loglevel", "INFO"], env, log)
    try:
        wait_for(lambda: len(_state(db_url, tid)[0]) >= GAMES, 180, "the rest played by another worker", [log])
    finally:
        stop_process(second)
    ids, counted, _ = _state(db_url, tid)
    assert len(ids) == len(set(ids)) == counted == GAMES
