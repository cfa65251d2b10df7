"""Arena processes in tests: a private Redis database, `python -m arena.cli ...` subprocesses, waiting.

Shared by the tests that run real workers, the API and the gRPC server as separate processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

import pytest
import redis

from .ci import unavailable

REDIS_URL = "redis://127.0.0.1:6379"


def private_redis_url() -> str:
    """A Redis database of its own for this test run (flushed), or skip/fail if Redis is down."""
    number = 8 + uuid.uuid4().int % 7
    client = redis.Redis.from_url(f"{REDIS_URL}/{number}")
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        unavailable(f"Redis is not running at {REDIS_URL}: {exc}")
    return f"{REDIS_URL}/{number}"


def start_arena(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """`python -m arena.cli ARGV` in its own process group, stdout and stderr appended to `log`."""
    return subprocess.Popen([sys.executable, "-m", "arena.cli", *argv], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Send `sig` to the process group, wait up to 30 s, then kill it."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(condition: Callable[[], bool], timeout: float, what: str, logs: list[Path]) -> None:
    """Poll `condition` (a connection refused counts as not yet) or fail with the logs' tails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.2)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}")
