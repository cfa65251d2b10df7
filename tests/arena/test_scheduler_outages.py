"""`arena scheduler` lives through a broker outage and a database restart (issue 13, item 3).

A real scheduler process against a Redis and a PostgreSQL of the test's own (free ports, so they
can be stopped: the machine's shared servers never are). Tournaments created while a server is
away are dispatched once it is back, by the same scheduler process.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import redis

from arena.benchmarks.own_services import OwnPostgres, OwnRedis, ServiceError
from arena.db import migrate
from arena.worker import QUEUE
from tests.support.ci import unavailable
from tests.support.processes import start_arena, stop_process, wait_for
from tests.support.scheduled import all_dispatched, fake_round_robin


@pytest.fixture(scope="module")
def services():
    # Not under pytest's tmp_path: as root PostgreSQL runs as another user, who must reach it.
    folder = Path(tempfile.mkdtemp(prefix="arena-scheduler-outage-"))
    folder.chmod(0o711)
    try:
        pg, broker = OwnPostgres(folder / "pg"), OwnRedis(folder)
        pg.__enter__()
    except ServiceError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        unavailable(f"no PostgreSQL/Redis of our own: {exc}")
    try:
        broker.start()
        url = pg.create_database("arena")
        migrate.upgrade(url)
        yield pg, broker, url, folder
    finally:
        broker.stop()
        pg.__exit__(None, None, None)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def scheduler(services):
    pg, broker, url, folder = services
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(ARENA_DATABASE_URL=url, ARENA_DATA_DIR=str(folder / "data"), ARENA_BROKER_URL=broker.url())
    log = folder / "scheduler.log"
    process = start_arena(["scheduler", "--poll", "0.3"], env, log)
    yield process, log
    stop_process(process)


def _queued(broker: OwnRedis) -> int:
    client = redis.Redis.from_url(broker.url())
    try:
        return client.llen(QUEUE)
    finally:
        client.close()


def test_a_broker_outage_does_not_stop_the_scheduler(services, scheduler) -> None:
    pg, broker, url, _ = services
    process, log = scheduler
    first = fake_round_robin(url, "before")
    wait_for(lambda: all_dispatched(url, first), 60, "the first tournament's dispatch", [log])
    broker.stop()  # everything queued is lost with it: no persistence
    during = fake_round_robin(url, "during-broker-outage")
    time.sleep(3)
    assert process.poll() is None, log.read_text()[-3000:]
    assert not all_dispatched(url, during), "sent while the broker was down?"
    broker.start()
    wait_for(lambda: all_dispatched(url, during), 60, "dispatch after the broker came back", [log])
    wait_for(lambda: _queued(broker) >= 1, 10, "the block in the broker's queue", [log])
    assert process.poll() is None
    assert "scheduler pass failed" in log.read_text()


def test_a_database_restart_does_not_stop_the_scheduler(services, scheduler) -> None:
    pg, broker, url, _ = services
    process, log = scheduler
    pg.stop()
    time.sleep(3)
    assert process.poll() is None, log.read_text()[-3000:]
    pg.start()
    after = fake_round_robin(url, "after-database-restart")
    wait_for(lambda: all_dispatched(url, after), 60, "dispatch after the database came back", [log])
    assert process.poll() is None
    assert "OperationalError" in log.read_text()
