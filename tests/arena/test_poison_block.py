"""Faults that take a worker down, with real worker processes and a real scheduler pass:

- a poison block: one game whose first evaluation aborts its worker process (SIGABRT, as a
  segfault or the out-of-memory killer would). Its block's other games are played and stored
  after the block is split; the poison game ends failed after ARENA_MAX_BLOCK_ATTEMPTS, and the
  broker does not redeliver it forever;
- a worker SIGKILLed mid-block on the filesystem broker (the embedded default, which never
  redelivers): its block comes back through its lease.

Leases are 2 s so that each takes seconds. The networks are fakes (tests/support/poison_worker.py).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from arena.db.connection import make_engine, session_factory, session_scope
from arena.db.models import FinishedGame, ScheduledGame, Tournament
from arena.db.repository import get_or_create_checkpoint
from arena.leases import LeasePolicy
from arena.scheduler import scheduler_pass
from arena.scheduling import RoundRobinConfig
from arena.settings import Settings
from arena.tournaments import create_tournament, failed_games, progress
from arena.worker import QUEUE, make_celery
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module
from tests.support.processes import private_redis_url, stop_process

LEASE_S = 2
MAX_ATTEMPTS = 3
POLICY = LeasePolicy(queue_timeout_s=60, max_attempts=MAX_ATTEMPTS, max_queued_blocks=64)


def _environment(db_url: str, data_dir: Path, broker: str | None) -> dict[str, str]:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(ARENA_DATABASE_URL=db_url, ARENA_DATA_DIR=str(data_dir), ARENA_LEASE_S=str(LEASE_S),
               ARENA_MAX_BLOCK_ATTEMPTS=str(MAX_ATTEMPTS), ARENA_WORKER_METRICS_PORT="0")
    if broker:
        env["ARENA_BROKER_URL"] = broker
    return env


def _tournament(engine, name: str, games_per_pairing: int) -> tuple[int, list[int]]:  # noqa: F811
    with session_scope(engine) as session:
        refs = []
        for i in range(2):
            sha = hashlib.sha256(f"{name}-{i}".encode()).hexdigest()
            get_or_create_checkpoint(session, sha256=sha, name=f"{name}-net{i}", manifest={"board_sizes": [9]})
            refs.append(f"{name}-net{i}")
        config = RoundRobinConfig(
            name=name, format="round-robin", board_size=9, rules="chinese", komi=7.5, move_limit=30,
            games_per_pairing=games_per_pairing,
            participants=[{"name": f"{name}-a", "kind": "checkpoint", "ref": refs[0], "visits": 2},
                          {"name": f"{name}-b", "kind": "checkpoint", "ref": refs[1], "visits": 2}])
        tid = create_tournament(session, config, engines={}).id
    with session_scope(engine) as session:
        ids = list(session.scalars(select(ScheduledGame.id).where(ScheduledGame.tournament_id == tid)
                                   .order_by(ScheduledGame.id)))
    return tid, ids


def _worker(poison: int, env: dict[str, str], log: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.support.poison_worker", str(poison), "worker",
                             "--loglevel", "INFO", *extra], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _stored(engine, tid: int) -> tuple[int, int]:  # noqa: F811
    with session_scope(engine) as session:
        rows = session.scalar(select(func.count()).select_from(FinishedGame).join(ScheduledGame)
                              .where(ScheduledGame.tournament_id == tid))
        return rows, session.get(Tournament, tid).games_finished


def _schedule_until(sessions, app, tid: int, done, timeout: float, log: Path, *, block_size: int,
                    each_pass=None) -> None:
    """Scheduler passes (reclaim, advance, dispatch) every 0.5 s until `done()`, or fail with the log;
    `each_pass()` before each."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if each_pass is not None:
            each_pass()
        scheduler_pass(sessions, app, [tid], block_size=block_size, policy=POLICY)
        if done():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s\n{log.read_text(errors='replace')[-4000:]}")


def _play_with_one_bad_game(engine, db_url: str, tmp_path: Path, name: str, bad_index: int,  # noqa: F811
                            pool: str = "prefork", **environment: str) -> tuple:
    """A tournament of 8 games played by one worker whose fake network fails on the game at
    `bad_index`, with scheduler passes until the tournament is finished: (bad game id, the worker's
    log, the broker's URL, times the worker was started), once the common outcome is checked: 7
    games stored, the bad one failed after its attempts. A worker that exits is started again, as
    a container's restart policy would."""
    broker = private_redis_url()
    env = {**_environment(db_url, tmp_path / "data", broker), **environment}
    tid, ids = _tournament(engine, name, 8)
    bad = ids[bad_index]
    app = make_celery(Settings(database_url=db_url, data_dir=tmp_path / "data", broker_url=broker))
    sessions = session_factory(engine)
    log = tmp_path / "worker.log"
    # Prefork: a child that dies (or exits) is replaced by the pool, the worker itself stays up.
    options = ("--pool", pool, "--processes", "1") if pool == "prefork" else ("--pool", pool)
    worker = _worker(bad, env, log, *options)
    starts = 1

    def restart_if_exited() -> None:
        nonlocal worker, starts
        if worker.poll() is not None:
            worker = _worker(bad, env, log, *options)
            starts += 1

    try:
        def status() -> str:
            with session_scope(engine) as session:
                return session.get(Tournament, tid).status
        _schedule_until(sessions, app, tid, lambda: status() == "finished", 240, log, block_size=8,
                        each_pass=restart_if_exited)
        time.sleep(2 * LEASE_S)  # room for a redelivery, were there one
        with session_scope(engine) as session:
            report = progress(session, tid)
            failed = failed_games(session, tid)
            attempts = dict(session.execute(select(ScheduledGame.id, ScheduledGame.attempts)
                                            .where(ScheduledGame.tournament_id == tid)).all())
    finally:
        stop_process(worker)
    text = log.read_text(errors="replace")
    assert (report.finished, report.failed, report.scheduled) == (7, 1, 8), text[-4000:]
    assert _stored(engine, tid) == (7, 7)
    assert [f.scheduled_game_id for f in failed] == [bad]
    assert f"{MAX_ATTEMPTS} attempts" in failed[0].reason
    assert attempts[bad] == MAX_ATTEMPTS
    return bad, text, broker, starts


def test_a_poison_block_is_split_its_good_games_stored_and_its_poison_game_failed(
        db_url: str, engine, tmp_path: Path) -> None:  # noqa: F811
    poison, text, broker, starts = _play_with_one_bad_game(engine, db_url, tmp_path, "poison", 2)
    assert starts == 1  # the pool replaced its aborted children; the worker itself never went
    # One worker death per attempt, no more: the broker did not redeliver the block.
    assert text.count(f"poison game {poison} in this block: aborting") == MAX_ATTEMPTS, text[-4000:]
    assert redis.Redis.from_url(broker).llen(QUEUE) == 0


@pytest.mark.parametrize("pool", ["prefork", "solo"])
def test_a_block_stuck_for_ever_is_given_up_its_process_replaced_and_its_hanging_game_failed(
        db_url: str, engine, tmp_path: Path, pool: str) -> None:  # noqa: F811
    """A game whose evaluation never returns (a deadlock) while the worker's heartbeat thread
    goes on: without the stall limit its leases were extended for ever, the worker's one process
    was lost to it, and the tournament never ended. A prefork child exits and its pool replaces
    it; a solo worker exits and is started again (here by the test, in production by its
    container's restart policy)."""
    engines = tmp_path / "engines.toml"
    engines.write_text("engine = []\n")  # no engine pauses a block: a short stall limit is allowed
    hanging, text, _, starts = _play_with_one_bad_game(
        engine, db_url, tmp_path, f"hang-{pool}", 5, pool, POISON_WORKER_MODE="hang", ARENA_BLOCK_STALL_S="3",
        ARENA_ENGINES_FILE=str(engines))
    assert text.count(f"poison game {hanging} in this block: hanging worker") == MAX_ATTEMPTS, text[-4000:]
    assert text.count("has played no move for") == MAX_ATTEMPTS
    assert text.count("exits: a block stuck in it was given up") == MAX_ATTEMPTS
    assert starts == (1 if pool == "prefork" else MAX_ATTEMPTS + 1)


def test_a_killed_workers_block_comes_back_through_its_lease_on_the_filesystem_broker(
        db_url: str, engine, tmp_path: Path) -> None:  # noqa: F811
    env = {**_environment(db_url, tmp_path / "data", None), "POISON_WORKER_EVAL_S": "0.01"}
    tid, ids = _tournament(engine, "fs-lease", 6)
    app = make_celery(Settings(database_url=db_url, data_dir=tmp_path / "data"))
    sessions = session_factory(engine)
    log = tmp_path / "worker.log"
    scheduler_pass(sessions, app, [tid], block_size=len(ids), policy=POLICY)  # one block, to the first worker
    first = _worker(-1, env, log, "--games-at-once", "1")
    try:
        deadline = time.monotonic() + 120
        while _stored(engine, tid)[0] < 1:
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-4000:]
            time.sleep(0.2)
    finally:
        stop_process(first, signal.SIGKILL)
    before = _stored(engine, tid)[0]
    assert before < len(ids), "the block finished before the kill: nothing was tested"
    second = _worker(-1, env, log)
    try:
        _schedule_until(sessions, app, tid, lambda: _stored(engine, tid)[0] == len(ids), 120, log, block_size=len(ids))
    finally:
        stop_process(second)
    assert _stored(engine, tid) == (len(ids), len(ids))  # every game once, counted once
    with session_scope(engine) as session:
        attempts = dict(session.execute(select(ScheduledGame.id, ScheduledGame.attempts)
                                        .where(ScheduledGame.tournament_id == tid)).all())
    # The games the killed worker had not stored were claimed a second time, through the lease.
    assert sorted(attempts.values()).count(2) == len(ids) - before
    assert list((tmp_path / "data" / "broker" / "queue").iterdir()) == []
