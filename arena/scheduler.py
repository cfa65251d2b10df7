"""The scheduler loop, and local worker processes for the embedded way of running.

`run_scheduler` advances and dispatches running tournaments until they finish; it keeps no
state of its own (see arena.tournaments), so it can be stopped and restarted at any time, and
two of them only ever send a game twice, which the workers skip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from typing import Callable, Iterable

from celery import Celery

from arena.db.engine import make_engine, session_factory, session_scope
from arena.settings import Settings, get_settings
from arena.tournaments import Progress, advance, dispatch, progress, running_tournaments
from arena.worker import enqueue, make_celery

DONE = ("finished", "cancelled")


def scheduler_pass(sessions, app: Celery, tournament_ids: Iterable[int] | None = None, *,
                   block_size: int = 32, resend_after: timedelta | None = None) -> dict[int, Progress]:
    """One round: advance each tournament, send its unsent games; the progress of each."""
    with session_scope(sessions) as session:
        ids = list(tournament_ids) if tournament_ids is not None else running_tournaments(session)
    report = {}
    for tid in ids:
        with session_scope(sessions) as session:
            advance(session, tid)
        with session_scope(sessions) as session:
            dispatch(session, tid, send=lambda payload: enqueue(app, payload), block_size=block_size,
                     resend_after=resend_after)
        with session_scope(sessions) as session:
            report[tid] = progress(session, tid)
    return report


def run_scheduler(tournament_ids: list[int] | None = None, *, settings: Settings | None = None,
                  poll_s: float = 1.0, block_size: int = 32, resend_after: timedelta | None = None,
                  on_progress: Callable[[dict[int, Progress]], None] | None = None,
                  until_done: bool = True) -> dict[int, Progress]:
    """Advance and dispatch until the given tournaments (default: all running) are done."""
    settings = settings or get_settings()
    app = make_celery(settings)
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        while True:
            report = scheduler_pass(sessions, app, tournament_ids, block_size=block_size, resend_after=resend_after)
            if on_progress is not None:
                on_progress(report)
            if until_done and tournament_ids is not None and all(p.status in DONE for p in report.values()):
                return report
            time.sleep(poll_s)
    finally:
        engine.dispose()


class LocalWorkers:
    """`arena worker` processes on this machine (the embedded way: no worker hosts to run)."""

    def __init__(self, count: int, *, torch_threads: int = 1, concurrency: int | None = None,
                 env: dict[str, str] | None = None, log_path=None):
        self.count, self.torch_threads, self.concurrency = count, torch_threads, concurrency
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> LocalWorkers:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        for i in range(self.count):
            argv = [sys.executable, "-m", "arena.cli", "worker", "--torch-threads", str(self.torch_threads),
                    "--name", f"local{i}@%h"]
            if self.concurrency:
                argv += ["--games-at-once", str(self.concurrency)]
            self.processes.append(subprocess.Popen(argv, env=self.env, stdout=log, stderr=log,
                                                   start_new_session=True))

    def stop(self, timeout: float = 20.0) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()
