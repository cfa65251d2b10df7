"""A real tournament through faults: `arena bench faults`.

Everything runs as in a deployment, on the bench's own servers in a temporary folder
(own_services: a PostgreSQL cluster and a `redis-server` without persistence, on free ports, so
that the bench may restart them): the schema is migrated with `arena db upgrade`, the newest demo
checkpoint registered with `arena checkpoint register`, and a 9x9 round-robin of it (at `visits`)
against GNU Go level 1 (`gnugo-l1`) created with `arena tournament create`; then one
`arena scheduler` and `workers` `arena worker` processes play it. During play, one at a time, the
bench injects:

- engine_kill: SIGKILL of a GNU Go process a worker runs;
- worker_kill: SIGKILL of a worker's process group (as a host or container dies); a replacement
  worker is started at once, as a supervisor would;
- postgres_restart: PostgreSQL stopped (`-m fast`: connections cut), down `outage_s`, started again;
- redis_restart: Redis stopped (everything queued in it is gone), down `outage_s`, started again;
- triton_stop (with `triton`): the local tritonserver stopped for 10 s, started again on the same
  ports without its models loaded (a model gone missing).

A fault is injected once a share of the games is stored (engine kill at 5%, then 15%, 30%, 45%)
and at least `MIN_FAULT_GAP_S` after the previous one, or, when play has stalled, `FAULT_GAP_S`
after it, so that every fault happens within the run. A scheduler or worker process that exits
on its own is counted in `crashes` and started again (what systemd or Kubernetes would do), so
one crash does not hide what the other faults do.

With `triton`, the server is started before anything else and every process gets its
ARENA_TRITON_URL, ARENA_TRITON_REPOSITORY and ARENA_TRITON_FLAVOUR=cpu: registration publishes
the checkpoint to it and the workers play it through TritonEvaluator (waiting out the stop, then
loading the model again). `triton_inferences` in the result is the number of inference requests
the server answered over both its starts (its statistics): the proof that play went through it.

When the tournament is done (or after `timeout_s`) the database is counted:

- scheduled: the tournament's scheduled games; stored: those with a finished game;
- failed: those marked failed (`scheduled_games.failed_at`; 0 where the schema has no such column);
- lost: scheduled games neither stored nor marked failed;
- duplicates: finished rows beyond one per scheduled game, plus how far the tournament's
  `games_finished` counter exceeds the real count (a game counted twice);
- recovery_s: per fault, seconds from the end of the fault (the replacement worker started, the
  server answering again, the engine killed) to the next game stored (the database's own
  `finished_at`); when no game was stored after it, the rest of the run (a lower bound), or 0 if
  nothing was left to play. recovery_s_max is the largest.

Every process runs with a deployment's default lease (30 s) and queue timeout (300 s) unless
`lease_s`/`queue_timeout_s` say otherwise (ARENA_LEASE_S, ARENA_QUEUE_TIMEOUT_S): the recovery
measured is the one a deployment gets. Blocks lost with Redis's queue come back through the
scheduler's empty-queue check (arena.scheduler.LOST_AFTER_S), not the queue timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from .own_services import OwnPostgres, OwnRedis

__all__ = ["FaultBenchError", "benchmark_faults"]

ENGINE = "gnugo-l1"
FAULT_AT = (("engine_kill", 0.05), ("worker_kill", 0.15), ("postgres_restart", 0.30), ("redis_restart", 0.45))
FAULT_GAP_S = 45.0  # a fault waits at most this long after the previous one for its share of games
MIN_FAULT_GAP_S = 3.0  # and at least this long, so that each fault's recovery is its own
ENGINE_SEARCH_S = 20.0  # how long to look for a running GNU Go process to kill
TRITON_DOWN_S = 10.0
POLL_S = 0.5


class FaultBenchError(RuntimeError):
    """The bench could not set its tournament up (the message says which step, and its log)."""


@dataclass
class Processes:
    """The arena processes of the run, each in its own process group, logging into `logs`."""

    logs: Path
    env: dict[str, str]
    workers: list[subprocess.Popen] = field(default_factory=list)
    scheduler: subprocess.Popen | None = None
    started: int = 0
    retired: set[int] = field(default_factory=set)  # pids of workers already killed or replaced

    def arena(self, argv: list[str], log: str) -> subprocess.Popen:
        with open(self.logs / log, "ab") as out:
            return subprocess.Popen([sys.executable, "-m", "arena.cli", *argv], env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def run(self, argv: list[str], log: str, timeout: float = 300) -> str:
        """A CLI command to completion; its output, or FaultBenchError naming the log."""
        with open(self.logs / log, "ab") as out:
            done = subprocess.run([sys.executable, "-m", "arena.cli", *argv], env=self.env, stdout=subprocess.PIPE,
                                  stderr=out, timeout=timeout, text=True)
        if done.returncode != 0:
            raise FaultBenchError(f"`arena {' '.join(argv)}` failed ({done.returncode}); "
                                  f"log: {self.logs / log}\n{(self.logs / log).read_text(errors='replace')[-2000:]}")
        return done.stdout

    def start_worker(self) -> subprocess.Popen:
        self.started += 1
        worker = self.arena(["worker", "--loglevel", "INFO", "--name", f"faults{self.started}@%h"],
                            f"worker{self.started}.log")
        self.workers.append(worker)
        return worker

    def start_scheduler(self, block_size: int) -> None:
        self.scheduler = self.arena(["scheduler", "--poll", "1", "--block-size", str(block_size)], "scheduler.log")

    def stop_all(self) -> None:
        everything = [p for p in (*self.workers, self.scheduler) if p is not None]
        # Engines run in sessions of their own (search_workers.engines.gtp): not in a worker's group.
        engines = _engine_processes(self.workers, every=True)
        for process in everything:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in everything:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process, signal.SIGKILL)  # engines a worker left behind in its group, too
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
        for engine in engines:
            with contextlib.suppress(Exception):
                engine.kill()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


@dataclass
class Counts:
    scheduled: int = 0
    stored: int = 0
    failed: int = 0
    lost: int = 0
    duplicates: int = 0
    counter: int = 0
    status: str | None = None


def count(engine: sa.Engine, tournament_id: int) -> Counts:
    """The tournament's games as the database has them (see the module doc)."""
    with engine.connect() as conn:
        has_failed = conn.scalar(sa.text(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'scheduled_games' AND column_name = 'failed_at'"))
        failed_expr = "s.failed_at IS NOT NULL" if has_failed else "false"
        row = conn.execute(sa.text(
            f"SELECT count(*) AS scheduled, "
            f"count(*) FILTER (WHERE f.n > 0) AS stored, "
            f"count(*) FILTER (WHERE coalesce(f.n, 0) = 0 AND {failed_expr}) AS failed, "
            f"count(*) FILTER (WHERE coalesce(f.n, 0) = 0 AND NOT ({failed_expr})) AS lost, "
            f"coalesce(sum(greatest(f.n - 1, 0)), 0) AS extra_rows, coalesce(sum(f.n), 0) AS rows "
            f"FROM scheduled_games s LEFT JOIN (SELECT scheduled_game_id, count(*) AS n FROM finished_games "
            f"GROUP BY scheduled_game_id) f ON f.scheduled_game_id = s.id WHERE s.tournament_id = :t"),
            {"t": tournament_id}).mappings().one()
        tournament = conn.execute(sa.text("SELECT status, games_finished FROM tournaments WHERE id = :t"),
                                  {"t": tournament_id}).one()
    counted_twice = max(0, tournament.games_finished - row["rows"])
    return Counts(scheduled=row["scheduled"], stored=row["stored"], failed=row["failed"], lost=row["lost"],
                  duplicates=int(row["extra_rows"]) + counted_twice, counter=tournament.games_finished,
                  status=tournament.status)


def stored_after(engine: sa.Engine, tournament_id: int, epoch: float) -> float | None:
    """The database time (epoch seconds) of the first game of the tournament stored after `epoch`."""
    with engine.connect() as conn:
        return conn.scalar(sa.text(
            "SELECT extract(epoch FROM min(f.finished_at)) FROM finished_games f "
            "JOIN scheduled_games s ON s.id = f.scheduled_game_id "
            "WHERE s.tournament_id = :t AND f.finished_at > to_timestamp(:e)"), {"t": tournament_id, "e": epoch})


def _engine_processes(workers: list[subprocess.Popen], *, every: bool = False):
    """Running GNU Go processes under the live workers (`every`: all their descendants)."""
    import psutil

    found = []
    for worker in workers:
        if worker.poll() is not None:
            continue
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(worker.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if every or (child.name().startswith("gnugo") and child.status() != psutil.STATUS_ZOMBIE):
                        found.append(child)
    return found


def _safe_count(engine: sa.Engine, tournament_id: int) -> Counts | None:
    try:
        return count(engine, tournament_id)
    except sa.exc.SQLAlchemyError:
        return None  # the database is down (a fault of ours): ask again on the next poll


class _Interrupted(BaseException):
    """SIGTERM to the bench: unwind through the clean-up like Ctrl-C."""


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    def handler(signum, frame):  # noqa: ARG001
        raise _Interrupted()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _environment(data_dir: Path, database_url: str, broker_url: str, *, lease_s: float,
                 queue_timeout_s: float, triton: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every arena process of the run; `triton`: its ARENA_TRITON_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(ARENA_DATABASE_URL=database_url, ARENA_BROKER_URL=broker_url, ARENA_DATA_DIR=str(data_dir),
               ARENA_WORKER_METRICS_PORT="0", ARENA_LEASE_S=str(lease_s),
               ARENA_QUEUE_TIMEOUT_S=str(queue_timeout_s), PYTHONUNBUFFERED="1", **(triton or {}))
    return env


def _set_up(procs: Processes, *, games: int, visits: int) -> int:
    """Migrate, register the demo checkpoint, create the tournament; its id."""
    from models.demo import newest_demo_manifest

    manifest = newest_demo_manifest()
    procs.run(["db", "upgrade"], "setup.log")
    procs.run(["checkpoint", "register", str(manifest)], "setup.log")
    name = json.loads(Path(manifest).read_text())["name"]
    out = procs.run(["tournament", "create", "--name", "faults-bench", "--format", "round-robin",
                     "--checkpoint", f"{name}@{visits}", "--engine", ENGINE, "--games-per-pairing", str(games),
                     "--board-size", "9", "--komi", "7.5", "--openings", "random", "--opening-plies", "2"],
                    "setup.log")
    found = re.search(r"tournament (\d+)", out)
    if not found:
        raise FaultBenchError(f"`arena tournament create` printed no tournament id: {out!r}")
    return int(found.group(1))


def benchmark_faults(*, games: int = 80, workers: int = 2, visits: int = 8, block_size: int = 8,
                     timeout_s: float = 540.0, outage_s: float = 3.0, lease_s: float = 30.0,
                     queue_timeout_s: float = 300.0, triton: bool = False, keep: bool = False,
                     log=None) -> dict:
    """Play the tournament through the faults (module doc); the result's keys as documented there.

    `log(text)`: progress lines (default: none). `keep`: leave the folder (logs, data) in place.
    """
    say = log or (lambda text: None)
    started = time.monotonic()
    games += games % 2  # colour-swapped pairs
    folder = Path(tempfile.mkdtemp(prefix="arena-bench-faults-"))
    logs = folder / "logs"
    logs.mkdir()
    faults: dict[str, int] = {name: 0 for name, _ in FAULT_AT}
    if triton:
        faults["triton_stop"] = 0
    recovery: dict[str, float | None] = {}
    crashes = {"worker": 0, "scheduler": 0}
    timed_out = False
    with contextlib.ExitStack() as stack, _sigterm_unwinds():
        if not keep:
            stack.callback(shutil.rmtree, folder, True)
        pg = stack.enter_context(OwnPostgres(folder))
        broker = stack.enter_context(OwnRedis(folder))
        url = pg.create_database("arena")
        server, triton_env = None, None
        if triton:  # before the environment: registration and every worker use it
            say("starting the local tritonserver")
            server, triton_env = stack.enter_context(_triton(folder))
        env = _environment(folder / "data", url, broker.url(), lease_s=lease_s, queue_timeout_s=queue_timeout_s,
                           triton=triton_env)
        procs = Processes(logs, env)
        stack.callback(procs.stop_all)
        tid = _set_up(procs, games=games, visits=visits)
        db = sa.create_engine(url, pool_pre_ping=True)
        stack.callback(db.dispose)
        say(f"tournament {tid}: {games} games, {workers} workers, folder {folder}")
        procs.start_scheduler(block_size)
        for _ in range(workers):
            procs.start_worker()
        plan = list(FAULT_AT) + ([("triton_stop", 0.6)] if triton else [])
        ends: dict[str, float] = {}
        last_fault = time.monotonic()
        deadline = started + timeout_s
        counts = Counts()
        while True:
            now = time.monotonic()
            if now > deadline:
                timed_out = True
                break
            crashes["scheduler"] += _respawn_scheduler(procs, block_size, say)
            crashes["worker"] += _respawn_workers(procs, say)
            counts = _safe_count(db, tid) or counts
            done = counts.scheduled and counts.stored + counts.failed >= counts.scheduled
            if done and not plan:
                break
            share_reached = counts.stored >= plan[0][1] * counts.scheduled if plan else False
            if plan and (done or (share_reached and now - last_fault >= MIN_FAULT_GAP_S)
                         or now - last_fault > FAULT_GAP_S):
                name, _ = plan.pop(0)
                if done:
                    say(f"{name}: skipped, every game was already played")
                    continue
                if _inject(name, procs, pg, broker, server, outage_s=outage_s, say=say):
                    faults[name] += 1
                    ends[name] = time.time()
                last_fault = time.monotonic()
            time.sleep(POLL_S)
        run_end = time.time()
        final = None
        for _ in range(20):  # the database may just be coming back from our own restart
            final = _safe_count(db, tid)
            if final is not None:
                break
            time.sleep(1)
        if final is None:
            raise FaultBenchError("the bench's PostgreSQL did not answer at the end of the run")
        for name, end in ends.items():
            first = _stored_after_safe(db, tid, end)
            if first is not None:
                recovery[name] = round(max(0.0, float(first) - end), 1)
            else:  # nothing stored after it: 0 if nothing was left to play, else at least the rest of the run
                recovery[name] = 0.0 if final.lost == 0 else round(run_end - end, 1)
        triton_inferences = server.inferences() if server is not None else None
        say(f"done: {final}" + (f"; Triton answered {triton_inferences} inference requests"
                                if server is not None else ""))
    if keep:
        say(f"kept {folder}")
    values = [v for v in recovery.values() if v is not None]
    return {
        "bench": "faults",
        "scheduled": final.scheduled,
        "stored": final.stored,
        "lost": final.lost,
        "duplicates": final.duplicates,
        "failed": final.failed,
        "faults": faults,
        "recovery_s": recovery,
        "recovery_s_max": max(values) if values else None,
        "crashes": crashes,
        "games_finished_counter": final.counter,
        "status": final.status,
        "timed_out": timed_out,
        **({"triton_inferences": triton_inferences} if triton else {}),
        "workers": workers,
        "visits": visits,
        "block_size": block_size,
        "lease_s": lease_s,
        "queue_timeout_s": queue_timeout_s,
        "seconds": round(time.monotonic() - started, 1),
    }


def _stored_after_safe(db: sa.Engine, tid: int, epoch: float) -> float | None:
    try:
        return stored_after(db, tid, epoch)
    except sa.exc.SQLAlchemyError:
        return None


def _respawn_scheduler(procs: Processes, block_size: int, say) -> int:
    if procs.scheduler is not None and procs.scheduler.poll() is not None:
        say(f"the scheduler exited with {procs.scheduler.returncode}; starting it again")
        procs.start_scheduler(block_size)
        return 1
    return 0


def _respawn_workers(procs: Processes, say) -> int:
    crashed = [w for w in procs.workers if w.poll() is not None and w.pid not in procs.retired]
    for worker in crashed:
        say(f"worker {worker.pid} exited with {worker.returncode}; starting another")
        procs.retired.add(worker.pid)  # counted once
        procs.start_worker()
    return len(crashed)


def _inject(name: str, procs: Processes, pg: OwnPostgres, broker: OwnRedis, server, *, outage_s: float,
            say) -> bool:
    """Inject fault `name`; whether it happened."""
    if name == "engine_kill":
        deadline = time.monotonic() + ENGINE_SEARCH_S
        while time.monotonic() < deadline:
            engines = _engine_processes(procs.workers)
            if engines:
                with contextlib.suppress(ProcessLookupError):
                    engines[0].kill()
                    say(f"engine_kill: GNU Go {engines[0].pid}")
                    return True
            time.sleep(0.2)
        say("engine_kill: no GNU Go process running; skipped")
        return False
    if name == "worker_kill":
        live = [w for w in procs.workers if w.poll() is None]
        if not live:
            say("worker_kill: no live worker; skipped")
            return False
        victim = live[0]
        procs.retired.add(victim.pid)
        _signal_group(victim, signal.SIGKILL)
        victim.wait()
        procs.start_worker()
        say(f"worker_kill: worker {victim.pid} killed, another started")
        return True
    restarts = {"postgres_restart": (pg, outage_s), "redis_restart": (broker, outage_s),
                "triton_stop": (server, TRITON_DOWN_S)}  # a local tritonserver comes back without its models
    service, down_s = restarts[name]
    service.restart(down_s)
    say(f"{name}: down {down_s:g} s, back")
    return True


@contextlib.contextmanager
def _triton(folder: Path):
    """A local tritonserver, restartable on its ports, and the ARENA_TRITON_* settings that make
    registration publish the checkpoint to it (CPU flavour) and workers play through it."""
    from .triton_restart import RestartableTriton

    repository = folder / "triton-models"
    repository.mkdir()
    with RestartableTriton(repository) as server:
        yield server, {"ARENA_TRITON_URL": server.grpc_url, "ARENA_TRITON_REPOSITORY": str(repository),
                       "ARENA_TRITON_FLAVOUR": "cpu"}
