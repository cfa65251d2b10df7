"""The embedded way's local workers (`arena demo`, `arena tournament create --wait --local-workers N`)
are kept running: one that exits (a solo worker giving up a stuck block exits on purpose; any may
be killed) is replaced on the next scheduler pass, and one that cannot start gives up with the
reason instead of leaving the tournament waiting for ever. Real `arena worker` processes."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from arena.scheduler import LocalWorkers, LocalWorkersFailed
from tests.arena.db.conftest import admin_url, db_url  # noqa: F401 -- a fresh database per module
from tests.support.processes import wait_for


def _environment(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(ARENA_DATABASE_URL=db_url, ARENA_DATA_DIR=str(tmp_path / "data"), **extra)
    return env


def _running(process) -> bool:
    return process.poll() is None


def _ready(log: Path, node: str) -> int:
    """How many times Celery logged worker `node` ready to take blocks."""
    return len(re.findall(rf"{node}@\S+ ready\.", log.read_text()))


def test_a_local_worker_that_exits_is_replaced(db_url, tmp_path) -> None:  # noqa: F811
    log = tmp_path / "workers.log"
    workers = LocalWorkers(2, env=_environment(db_url, tmp_path), log_path=log)
    with workers:
        first, second = workers.processes
        wait_for(lambda: _ready(log, "local0") == _ready(log, "local1") == 1, 120, "both workers ready", [log])
        workers.keep_alive()  # both running: nothing to do
        assert workers.processes == [first, second]
        os.killpg(first.pid, signal.SIGKILL)
        wait_for(lambda: not _running(first), 30, "the killed worker gone", [log])
        workers.keep_alive()
        replacement = workers.processes[0]
        assert replacement.pid != first.pid and _running(replacement)
        assert workers.processes[1] is second and _running(second)
        wait_for(lambda: _ready(log, "local0") == 2, 120, "the replacement ready", [log])
    assert not _running(replacement) and not _running(second)


def test_a_local_worker_that_cannot_start_gives_up_with_the_reason(db_url, tmp_path) -> None:  # noqa: F811
    # A stall limit below the engines' start-up: `arena worker` refuses to start, every time.
    log = tmp_path / "workers.log"
    workers = LocalWorkers(1, env=_environment(db_url, tmp_path, ARENA_BLOCK_STALL_S="1"), log_path=log)
    workers.MAX_YOUNG_EXITS = 2
    with workers:
        wait_for(lambda: not _running(workers.processes[0]), 60, "the worker refusing to start", [log])
        workers.keep_alive()  # the first exit: started again
        wait_for(lambda: not _running(workers.processes[0]), 60, "the worker refusing again", [log])
        started = time.monotonic()
        with pytest.raises(LocalWorkersFailed, match=r"local worker 0 exited 2 times in a row within 10 s "
                                                      r"of starting, last with exit code 2 \(its log: "):
            workers.keep_alive()
        assert time.monotonic() - started < 1
    assert "ARENA_BLOCK_STALL_S" in log.read_text()


def test_the_shared_log_is_rotated_past_its_limit_and_writers_go_on(tmp_path, monkeypatch) -> None:
    log = tmp_path / "workers.log"
    monkeypatch.setattr(LocalWorkers, "MAX_LOG_BYTES", 1000)
    workers = LocalWorkers(0, log_path=log)
    with open(log, "ab") as writer:  # as a worker's stdout is: opened for appending
        writer.write(b"old line\n" * 200)
        writer.flush()
        workers.keep_alive()
        writer.write(b"new line\n")
        writer.flush()
    assert log.read_bytes() == b"new line\n"  # at the start of the emptied file, not at its old end
    assert (tmp_path / "workers.log.1").read_bytes() == b"old line\n" * 200
    workers.keep_alive()  # under the limit: left alone
    assert log.read_bytes() == b"new line\n"
