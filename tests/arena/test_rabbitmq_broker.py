"""RabbitMQ as the broker (`ARENA_BROKER_URL=amqp://...`), restarted in the middle of a tournament.

A real `arena scheduler` and a real solo-pool `arena worker` (docker compose's) play a tournament
of small blocks through a RabbitMQ node of the test's own (free ports, its own data: the machine's
broker is never touched), which is stopped and started again while the worker holds a block.
Every scheduled game must be stored exactly once and the tournament finish, with both processes
still the ones started: the worker reconnects, the scheduler backs off and goes on, and the block
whose acknowledgement the restart lost comes back to a claim that plays nothing twice.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arena.benchmarks.own_services import OwnRabbitMQ, ServiceError
from arena.db.connection import make_engine, session_scope
from arena.db.models import FinishedGame, ScheduledGame, Tournament
from arena.scheduling import RoundRobinConfig
from arena.settings import Settings
from arena.tournaments import create_tournament
from tests.arena.db.conftest import admin_url, db_url  # noqa: F401 -- a fresh database per module
from tests.support.ci import unavailable
from tests.support.demo_checkpoints import register_demo_checkpoints
from tests.support.processes import start_arena, stop_process, wait_for

GAMES = 12
BLOCK_SIZE = 2


@pytest.fixture(scope="module")
def rabbitmq():
    folder = Path(tempfile.mkdtemp(prefix="arena-rabbitmq-"))
    try:
        broker = OwnRabbitMQ(folder)
        broker.start()
    except ServiceError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        unavailable(f"no RabbitMQ of our own: {exc}")
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _tournament(db_url: str, checkpoint_root: Path) -> int:  # noqa: F811
    checkpoint_root.mkdir(parents=True, exist_ok=True)
    sql = make_engine(db_url)
    try:
        with session_scope(sql) as session:
            previous, newest = register_demo_checkpoints(session, store=checkpoint_root)
            config = RoundRobinConfig(
                name="through-rabbitmq", format="round-robin", board_size=9, rules="chinese", komi=7.5,
                games_per_pairing=GAMES,
                participants=[{"name": "new@8v", "kind": "checkpoint", "ref": newest, "visits": 8},
                              {"name": "old@8v", "kind": "checkpoint", "ref": previous, "visits": 8}],
                openings={"source": "random", "plies": 2, "count": 8, "seed": 5})
            return create_tournament(session, config, engines={}).id
    finally:
        sql.dispose()


def _state(db_url: str, tid: int) -> tuple[int, int, str]:  # noqa: F811
    """(finished rows, the tournament's games_finished counter, its status)."""
    sql = make_engine(db_url)
    try:
        with session_scope(sql) as session:
            rows = session.scalar(select(func.count()).select_from(FinishedGame).join(ScheduledGame)
                                  .where(ScheduledGame.tournament_id == tid))
            tournament = session.get(Tournament, tid)
            return rows, tournament.games_finished, tournament.status
    finally:
        sql.dispose()


def test_a_tournament_plays_through_a_rabbitmq_restart(rabbitmq, db_url, tmp_path) -> None:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(ARENA_DATABASE_URL=db_url, ARENA_DATA_DIR=str(tmp_path / "data"), ARENA_BROKER_URL=rabbitmq.url(),
               ARENA_LEASE_S="4")
    tid = _tournament(db_url, Settings(database_url=db_url, data_dir=tmp_path / "data").checkpoint_root())
    logs = {name: tmp_path / f"{name}.log" for name in ("scheduler", "worker")}
    scheduler = start_arena(["scheduler", "--poll", "0.3", "--block-size", str(BLOCK_SIZE)], env, logs["scheduler"])
    worker = start_arena(["worker", "--pool", "solo", "--loglevel", "INFO"], env, logs["worker"])
    try:
        wait_for(lambda: _state(db_url, tid)[0] >= 1, 180, "a game stored through RabbitMQ", list(logs.values()))
        before = _state(db_url, tid)[0]
        assert before < GAMES, "every game was played before the restart: nothing was tested"
        rabbitmq.restart(down_s=2)
        wait_for(lambda: _state(db_url, tid)[2] == "finished", 240, "the tournament finished after the restart",
                 list(logs.values()))
        assert scheduler.poll() is None and worker.poll() is None, "a process died of the restart"
        assert "scheduler pass failed" in logs["scheduler"].read_text()  # it met the broker away, and went on
    finally:
        stop_process(worker)
        stop_process(scheduler)
    rows, counter, _ = _state(db_url, tid)
    assert rows == counter == GAMES
    worker_log = logs["worker"].read_text()
    assert "Connection to broker lost" in worker_log or "Cannot connect to amqp" in worker_log, worker_log[-3000:]
