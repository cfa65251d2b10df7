"""Tournaments through real Celery worker processes: Redis, a SIGKILL mid-block, the filesystem broker.

The worker is `python -m arena.cli worker`, exactly what a deployment runs; the database is a
fresh PostgreSQL database; GNU Go is a real engine in the tournament.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

from sqlalchemy import func, select

from arena.checkpoint_store import store_checkpoint
from arena.db.connection import make_engine, session_factory, session_scope
from arena.db.models import FinishedGame, ScheduledGame, Tournament
from arena.db.repository import get_or_create_checkpoint
from arena.scheduling import RoundRobinConfig
from arena.leases import LeasePolicy
from arena.scheduler import scheduler_pass
from arena.settings import Settings
from arena.tournaments import advance, create_tournament, dispatch, progress
from arena.server_engines import server_engines
from arena.worker import enqueue, make_celery
from models.demo import demo_manifests
from search_workers.go import read_sgf
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module
from tests.support.engines import require_gnugo
from tests.support.processes import private_redis_url, start_arena, stop_process, wait_for

def _environment(db_url: str, data_dir: Path, broker: str | None) -> dict[str, str]:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(ARENA_DATABASE_URL=db_url, ARENA_DATA_DIR=str(data_dir),
               ARENA_BROKER_VISIBILITY_TIMEOUT_S="3", ARENA_LEASE_S="2")
    if broker:
        env["ARENA_BROKER_URL"] = broker
    return env


def _settings(env: dict[str, str]) -> Settings:
    return Settings(database_url=env["ARENA_DATABASE_URL"], data_dir=Path(env["ARENA_DATA_DIR"]),
                    broker_url=env.get("ARENA_BROKER_URL"), broker_visibility_timeout_s=3)


def _tournament(db_url: str, root: Path, name: str, *, engines: dict, players: list[dict],  # noqa: F811
                games_per_pairing: int) -> int:
    config = RoundRobinConfig(name=name, format="round-robin", participants=players, board_size=9,
                              rules="chinese", komi=7.5, games_per_pairing=games_per_pairing,
                              openings={"source": "random", "plies": 2, "count": 8, "seed": 3})
    sql = make_engine(db_url)
    try:
        with session_scope(sql) as session:
            for path in demo_manifests()[-2:]:
                stored = store_checkpoint(path, root=root)
                get_or_create_checkpoint(session, sha256=stored.sha256, name=stored.name,
                                    manifest=stored.manifest.model_dump(mode="json"))
            return create_tournament(session, config, engines=engines).id
    finally:
        sql.dispose()


def _finished(db_url: str, tournament_id: int) -> tuple[int, int]:  # noqa: F811
    """(finished rows, the tournament's games_finished counter)."""
    sql = make_engine(db_url)
    try:
        with session_scope(sql) as session:
            rows = session.scalar(select(func.count()).select_from(FinishedGame).join(ScheduledGame)
                                  .where(ScheduledGame.tournament_id == tournament_id))
            return rows, session.get(Tournament, tournament_id).games_finished
    finally:
        sql.dispose()


def test_a_killed_worker_loses_no_game_and_counts_none_twice(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    """A block with GNU Go in it; SIGKILL the worker once games are stored; once its leases expire
    the scheduler's pass sends the unstored games again and a new worker finishes exactly the
    scheduled games."""
    require_gnugo()
    env = _environment(db_url, tmp_path / "data", private_redis_url())
    settings = _settings(env)
    engines = server_engines(settings)
    newest, previous = (p.stem for p in demo_manifests()[-2:][::-1])
    players = [{"name": "new@8v", "kind": "checkpoint", "ref": newest, "visits": 8},
               {"name": "old@8v", "kind": "checkpoint", "ref": previous, "visits": 8},
               {"name": "gnugo-l1", "kind": "engine", "ref": "gnugo-l1"}]
    tid = _tournament(db_url, settings.checkpoint_root(), "killed-worker", engines=engines, players=players,
                      games_per_pairing=4)
    app = make_celery(settings)
    sql = make_engine(db_url)
    with session_scope(sql) as session:
        scheduled = session.get(Tournament, tid).games_scheduled
        # One block: the whole tournament goes to the first worker, which dies in the middle of it.
        assert dispatch(session, tid, send=lambda payload: enqueue(app, payload), block_size=scheduled) == scheduled
    log = tmp_path / "worker.log"
    first = start_arena(["worker", "--loglevel", "INFO", "--games-at-once", "2"], env, log)
    try:
        wait_for(lambda: _finished(db_url, tid)[0] >= 2, 180, "two stored games", [log])
    finally:
        stop_process(first, signal.SIGKILL)
    stored_before_kill = _finished(db_url, tid)[0]
    assert stored_before_kill < scheduled, "the block finished before the kill: nothing was tested"
    second = start_arena(["worker", "--loglevel", "INFO", "--games-at-once", "4"], env, log)
    sessions = session_factory(sql)
    policy = LeasePolicy(queue_timeout_s=60, max_attempts=3, max_queued_blocks=64)

    def resent_and_stored() -> bool:
        scheduler_pass(sessions, app, [tid], block_size=scheduled, policy=policy)  # reclaims, resends
        return _finished(db_url, tid)[0] == scheduled
    try:
        wait_for(resent_and_stored, 240, "every scheduled game", [log])
    finally:
        stop_process(second)
    rows, counter = _finished(db_url, tid)
    assert rows == counter == scheduled
    # The second worker got only what the first had not stored (the killed block's message was
    # not redelivered: its games came back through their leases).
    results = re.findall(r"'played': (\d+), 'skipped': (\d+)", log.read_text())
    assert sum(int(played) for played, _ in results) == scheduled - stored_before_kill, results
    with session_scope(sql) as session:
        assert advance(session, tid) == "finished"
        report = progress(session, tid)
        assert (report.finished, report.scheduled) == (scheduled, scheduled)
        games = session.scalars(select(FinishedGame).join(ScheduledGame).where(ScheduledGame.tournament_id == tid))
        for game in games:
            record = read_sgf(game.sgf)
            assert record.result == game.result
            assert len(game.move_stats) == game.move_count
            players_seen = set(game.model_versions["players"])
            assert {record.black, record.white} <= players_seen
            if "gnugo-l1" in (record.black, record.white) and not game.result.endswith("F"):
                assert game.model_versions["engine_versions"]["gnugo-l1"].startswith("3.")
    sql.dispose()


def test_the_filesystem_broker_plays_a_tournament(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    """The embedded way: no broker server, messages as files under the data directory."""
    env = _environment(db_url, tmp_path / "data", None)
    settings = _settings(env)
    newest, previous = (p.stem for p in demo_manifests()[-2:][::-1])
    players = [{"name": "a@4v", "kind": "checkpoint", "ref": newest, "visits": 4},
               {"name": "b@4v", "kind": "checkpoint", "ref": previous, "visits": 4}]
    tid = _tournament(db_url, settings.checkpoint_root(), "filesystem-broker", engines={}, players=players,
                      games_per_pairing=2)
    app = make_celery(settings)
    sql = make_engine(db_url)
    with session_scope(sql) as session:
        dispatch(session, tid, send=lambda payload: enqueue(app, payload))
    log = tmp_path / "worker.log"
    worker = start_arena(["worker", "--loglevel", "INFO"], env, log)
    try:
        wait_for(lambda: _finished(db_url, tid)[0] == 2, 120, "both games", [log])
    finally:
        stop_process(worker)
    with session_scope(sql) as session:
        assert advance(session, tid) == "finished"
    sql.dispose()
    assert list((tmp_path / "data" / "broker" / "queue").iterdir()) == []
