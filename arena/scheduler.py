"""The scheduler loop, and local worker processes for the embedded way of running.

`run_scheduler` advances and dispatches running tournaments until they finish; it keeps no
state of its own (see arena.tournaments), so it can be stopped and restarted at any time, and
two of them only ever send a game twice, which the workers skip.

One tournament that fails (a stored configuration this server no longer accepts, a broker
refusing its blocks) never stops the others: its failure is logged in full, recorded on the
tournament in words fit for its clients (`Tournament.last_error`, shown in its progress), and
retried on the next pass. An outage of the database or the broker is nobody's tournament's
fault: the pass stops, and `run_scheduler` tries again with exponential backoff (`OutageBackoff`),
forever; the scheduler process never exits of it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from typing import Callable, Iterable

from celery import Celery

from arena.context import ArenaContext
from arena.db.connection import make_engine, session_factory, session_scope
from arena.leases import LeasePolicy, reclaim
from arena.db.outage import is_outage
from arena.retention import MoveStatsRetention
from arena.scheduling import TournamentLimits
from arena.settings import Settings, get_settings
from arena.tournaments import Progress, advance, dispatch, progress, record_error, running_tournaments
from arena.worker import BlockQueue, enqueue, queued_blocks

log = logging.getLogger(__name__)

DONE = ("finished", "cancelled")

# What a scheduler's statement waits at most for a lock: its own locks wait only behind workers'
# and the API's short transactions (milliseconds).
LOCK_TIMEOUT_MS = 5_000

# Seconds a block sent and claimed by no worker may be missing from an empty broker queue before
# it counts as lost: far above the moment between a worker taking a message and claiming its games.
LOST_AFTER_S = 15.0

# What a tournament's clients read when a step fails; the exception itself goes to the log only
# (it may name hosts, paths or credentials of the database or the broker).
FAILED = {
    "reclaim": "the scheduler could not take back this tournament's games from lost workers; it retries on every pass",
    "advance": "the scheduler could not schedule this tournament's next games; it retries on every pass",
    "dispatch": "the scheduler could not send this tournament's games to the workers; it retries on every pass",
}


def scheduler_pass(sessions, app: Celery, tournament_ids: Iterable[int] | None = None, *,
                   block_size: int = 32, policy: LeasePolicy | None = None,
                   limits: TournamentLimits | None = None,
                   retention: MoveStatsRetention | None = None) -> dict[int, Progress]:
    """One round: take back each tournament's games from lost workers (leases expired, blocks
    queued too long; failed at `policy.max_attempts`: arena.leases.reclaim), advance it, send its
    unsent games; the progress of each. `policy`: default, this process's settings.

    A tournament whose step raises is recorded (`record_error`) and skipped until the next pass;
    one whose progress cannot be read is left out of the report. `retention`: old games' per-move
    statistics are emptied too, a batch when due (arena.retention).
    """
    policy = policy or LeasePolicy.from_settings(get_settings())
    with session_scope(sessions) as session:
        ids = list(tournament_ids) if tournament_ids is not None else running_tournaments(session)
    # Games sent and not claimed while the broker's queue is empty were lost with it (a Redis
    # restarted without persistence): a block waits between the queue and its worker's claim only
    # for the moment of delivery, so they go out again after LOST_AFTER_S instead of the whole
    # queue timeout. A block sent twice costs one message: its second claim gets nothing.
    queue_timeout_s = policy.queue_timeout_s
    if ids and queued_blocks(app) == 0:
        queue_timeout_s = min(queue_timeout_s, LOST_AFTER_S)
    report = {}
    for tid in ids:
        steps = (("reclaim", lambda session, tid=tid: reclaim(
                     session, tournament_id=tid, queue_timeout_s=queue_timeout_s,
                     max_attempts=policy.max_attempts)),
                 ("advance", lambda session, tid=tid: advance(session, tid)),
                 ("dispatch", lambda session, tid=tid: dispatch(
                     session, tid, send=lambda payload: enqueue(app, payload), block_size=block_size,
                     max_attempts=policy.max_attempts, max_queued_blocks=policy.max_queued_blocks,
                     limits=limits)))
        for stage, step in steps:
            try:
                with session_scope(sessions) as session:
                    step(session)
            except Exception as exc:  # noqa: BLE001 -- isolate the tournament, go on with the others
                if is_outage(exc):
                    raise  # the database or the broker is away for everyone: run_scheduler backs off
                log.exception("tournament %s: %s failed; going on with the other tournaments", tid, stage)
                _record(sessions, tid, FAILED[stage])
                break
        try:
            with session_scope(sessions) as session:
                report[tid] = progress(session, tid)
        except Exception:  # noqa: BLE001
            log.exception("tournament %s: reading its progress failed", tid)
    if retention is not None:
        _retain(sessions, retention)
    return report


def _retain(sessions, retention: MoveStatsRetention) -> None:
    try:
        with session_scope(sessions) as session:
            retention.run(session)
    except Exception as exc:  # noqa: BLE001 -- housekeeping never stops the tournaments' pass
        if is_outage(exc):
            raise
        log.exception("emptying old games' per-move statistics failed; retrying on a later pass")


class OutageBackoff:
    """The scheduler loop's wait after a failed pass: exponential (1 s doubling to 30 s) while the
    failures go on, back to none after a good pass. Every failure is logged: an outage of the
    database or the broker as one warning line, anything else with its traceback."""

    def __init__(self, first_s: float = 1.0, max_s: float = 30.0):
        self.first_s, self.max_s = first_s, max_s
        self.failures = 0
        self.since: float | None = None

    def failed(self, error: BaseException) -> float:
        """Note a failed pass; the seconds to wait before the next."""
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
        delay = min(self.first_s * 2 ** (self.failures - 1), self.max_s)
        if is_outage(error):
            log.warning("scheduler pass failed (%s: %s); retrying in %.0f s (failing for %.0f s)",
                        type(error).__name__, str(error).splitlines()[0] if str(error) else "", delay,
                        time.monotonic() - self.since)
        else:
            log.exception("scheduler pass failed; retrying in %.0f s", delay, exc_info=error)
        return delay

    def succeeded(self) -> None:
        if self.failures:
            log.info("scheduler pass succeeded again after %d failures over %.0f s", self.failures,
                     time.monotonic() - (self.since or time.monotonic()))
        self.failures, self.since = 0, None


def _record(sessions, tournament_id: int, message: str) -> None:
    try:
        with session_scope(sessions) as session:
            record_error(session, tournament_id, message)
    except Exception:  # noqa: BLE001 -- the database itself may be what failed: the log has it
        log.exception("tournament %s: recording its error failed", tournament_id)


def run_scheduler(tournament_ids: list[int] | None = None, *, settings: Settings | None = None,
                  context: ArenaContext | None = None, poll_s: float = 1.0, block_size: int = 32,
                  on_progress: Callable[[dict[int, Progress]], None] | None = None,
                  until_done: bool = True) -> dict[int, Progress]:
    """Advance and dispatch until the given tournaments (default: all running) are done.
    `context`: the arena's wiring (default: made from `settings`, default this process's)."""
    context = context or ArenaContext.from_settings(settings)
    settings = context.settings
    app = (context.queue or BlockQueue(settings)).app  # the broker itself: its queue is counted too
    # A lock held elsewhere for longer than this (a session left open inside a transaction, as
    # an operator's psql can be) fails that tournament's step, recorded and retried next pass,
    # instead of holding the pass, and every other tournament with it, for as long as it is held.
    engine = make_engine(settings.database_url, lock_timeout_ms=LOCK_TIMEOUT_MS)
    sessions = session_factory(engine)
    limits = TournamentLimits.from_settings(settings)
    policy = LeasePolicy.from_settings(settings)
    days = settings.move_stats_retention_days
    retention = MoveStatsRetention(days) if days > 0 else None
    try:
        backoff = OutageBackoff()
        while True:
            try:
                report = scheduler_pass(sessions, app, tournament_ids, block_size=block_size,
                                        policy=policy, limits=limits, retention=retention)
            except Exception as exc:  # noqa: BLE001 -- the loop never dies of one thing
                time.sleep(backoff.failed(exc))
                continue
            backoff.succeeded()
            if on_progress is not None:
                on_progress(report)
            if until_done and tournament_ids is not None and all(
                    tid in report and report[tid].status in DONE for tid in tournament_ids):
                return report
            time.sleep(poll_s)
    finally:
        engine.dispose()


class LocalWorkersFailed(RuntimeError):
    """A local worker keeps exiting right after it starts (a bad setting, a broken install)."""


class LocalWorkers:
    """`arena worker` processes on this machine (the embedded way: no worker hosts to run), kept
    running by `keep_alive`: here this object is the supervisor that a deployment's restart policy
    is elsewhere. A solo worker exits on purpose after giving up a stuck block (arena.worker), and
    any worker may die (the out-of-memory killer); without a replacement the tournament waited for
    ever on workers that were gone."""

    YOUNG_S = 10.0  # a worker that exits sooner than this after its start counts as failing to start
    MAX_YOUNG_EXITS = 5  # in a row, for one worker: then `keep_alive` gives up with the reason
    # The shared log is rotated past this (one old copy kept, `workers.log.1`): a worker failing
    # over and over for days would otherwise fill the disk the embedded database lives on.
    MAX_LOG_BYTES = 64 * 2**20

    def __init__(self, count: int, *, torch_threads: int = 1, concurrency: int | None = None,
                 env: dict[str, str] | None = None, log_path=None):
        self.count, self.torch_threads, self.concurrency = count, torch_threads, concurrency
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.processes: list[subprocess.Popen] = []
        self._started: list[float] = []
        self._young_exits: list[int] = []

    def __enter__(self) -> LocalWorkers:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        for i in range(self.count):
            self.processes.append(self._start(i))
            self._started.append(time.monotonic())
            self._young_exits.append(0)

    def _start(self, i: int) -> subprocess.Popen:
        argv = [sys.executable, "-m", "arena.cli", "worker", "--torch-threads", str(self.torch_threads),
                "--name", f"local{i}@%h"]
        if self.concurrency:
            argv += ["--games-at-once", str(self.concurrency)]
        log_file = open(self.log_path, "ab") if self.log_path else None
        try:
            return subprocess.Popen(argv, env=self.env, stdout=log_file or subprocess.DEVNULL,
                                    stderr=log_file or subprocess.DEVNULL, start_new_session=True)
        finally:
            if log_file is not None:
                log_file.close()  # the child holds its own copy

    def keep_alive(self) -> None:
        """Start again every worker that has exited, and rotate the log past MAX_LOG_BYTES. Raises
        LocalWorkersFailed once one has exited MAX_YOUNG_EXITS times in a row within YOUNG_S of its start."""
        self._rotate_log()
        for i, process in enumerate(self.processes):
            if process.poll() is None:
                continue
            young = time.monotonic() - self._started[i] < self.YOUNG_S
            self._young_exits[i] = self._young_exits[i] + 1 if young else 0
            where = f" (its log: {self.log_path}, older lines in {self.log_path}.1)" if self.log_path else ""
            if self._young_exits[i] >= self.MAX_YOUNG_EXITS:
                raise LocalWorkersFailed(f"local worker {i} exited {self._young_exits[i]} times in a row within "
                                         f"{self.YOUNG_S:.0f} s of starting, last with exit code "
                                         f"{process.returncode}{where}")
            log.warning("local worker %d (pid %d) exited with %s; starting another%s", i, process.pid,
                        process.returncode, where)
            self.processes[i] = self._start(i)
            self._started[i] = time.monotonic()

    def _rotate_log(self) -> None:
        """Copy the log to `.1` and empty it in place: the workers write with O_APPEND, so they go
        on at the new end (renaming it would leave them writing to the renamed file)."""
        if not self.log_path:
            return
        try:
            size = os.path.getsize(self.log_path)
            if size <= self.MAX_LOG_BYTES:
                return
            # Only the bytes there when it was measured: lines appended between the copy and the
            # truncation are lost either way, and this keeps that window to one copy's time.
            with open(self.log_path, "rb") as source, open(f"{self.log_path}.1", "wb") as old:
                while size > 0 and (chunk := source.read(min(size, 1 << 20))):
                    old.write(chunk)
                    size -= len(chunk)
            os.truncate(self.log_path, 0)
        except OSError as exc:  # a log that cannot be rotated must not stop the tournament
            log.warning("could not rotate %s: %s", self.log_path, exc)

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
        self._started.clear()
        self._young_exits.clear()
