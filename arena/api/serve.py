"""Serving the HTTP API from one supervised worker process or several (`arena api --workers N`).

Several processes each listen on a socket of their own, bound to the same address with
SO_REUSEPORT, so the kernel spreads new connections across them evenly. Uvicorn's own workers
share one listening socket instead, and whichever process wakes first accepts every connection
waiting: 50 keep-alive clients connecting at once were split 26 to 8 on a 2-core machine, and the
busier process set the tail latency (docs/benchmarks.md).

The supervisor (this process) binds the address first, so a port taken by another program fails
here with a clear error and port 0 names one free port for every worker; it never accepts on it.
A worker that exits is started again (after a pause that doubles while workers keep dying
young, up to MAX_RESTART_PAUSE_S); SIGTERM or SIGINT stops them all, each finishing the
requests it holds as uvicorn does.

A worker that hangs is killed and started again too. A hung worker (its event loop blocked: a
deadlock, a runaway computation, a stopped process) still holds its socket, so the kernel keeps
giving it its share of new connections, and every one of them waits forever. Each worker's event
loop writes the time into a value shared with the supervisor ten times a second (uvicorn's tick);
a worker silent for `api_worker_hang_s` after it started listening, or not listening
STARTUP_LIMIT_S after it was started, is killed (SIGKILL: it cannot finish anything) and
replaced like one that died.

/metrics answers the same from any worker: the workers keep their request counters in files of
one directory, and a scrape sums them (arena.metrics).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from arena.metrics import process_exited

log = logging.getLogger(__name__)

APP = "arena.api.app:serving_app"  # a factory by name: each process makes (and freezes) its own app
YOUNG_S = 10.0  # a worker that exits sooner than this counts as crashing at start
FIRST_RESTART_PAUSE_S = 0.5
MAX_RESTART_PAUSE_S = 30.0
STOP_TIMEOUT_S = 30.0  # for workers to finish their requests after SIGTERM, then SIGKILL
# From start to listening: importing the app (torch among it) and connecting to the database take
# seconds, minutes on a machine swapping; a worker not listening by then is stuck, not slow.
STARTUP_LIMIT_S = 300.0


class ListenError(RuntimeError):
    """The address cannot be listened on (taken by another program, or not this host's)."""


def serve(*, host: str, port: int, workers: int, access_log: bool) -> None:
    """Serve the API from `workers` supervised processes until SIGTERM or SIGINT. One worker is
    supervised too: a single process whose event loop hangs answers nothing, and a container's
    restart policy only acts on a process that exits."""
    from arena.metrics import multiprocess_directory
    from arena.settings import get_settings

    supervisor = Supervisor(host=host, port=port, workers=workers, access_log=access_log,
                            hang_s=get_settings().api_worker_hang_s)
    if workers == 1:  # its own registry, the process's CPU and memory among it
        supervisor.run()
        return
    # The workers count requests in files of one directory, and each scrape sums them (arena.metrics).
    with multiprocess_directory():
        supervisor.run()


def shared_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port), not listening yet, that other processes of this user
    may bind too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class BeatingServer(uvicorn.Server):
    """uvicorn's server, writing the monotonic time (one clock for every process of the machine)
    into `beat` on each tick of its main loop: every 0.1 s once it listens, never while the
    loop is blocked."""

    def __init__(self, config: uvicorn.Config, beat):
        super().__init__(config)
        self.beat = beat

    async def on_tick(self, counter: int) -> bool:
        self.beat.value = time.monotonic()
        return await super().on_tick(counter)


def run_worker(host: str, port: int, access_log: bool, beat) -> None:
    """One worker process: its own socket on the shared address, and uvicorn on it. Bound, not
    yet listening: uvicorn (asyncio's create_server) listens once the app has started, so the
    kernel sends no connection to a worker still loading (a replacement takes seconds)."""
    sock = shared_socket(host, port)
    config = uvicorn.Config(APP, factory=True, host=host, port=port, access_log=access_log)
    BeatingServer(config, beat).run(sockets=[sock])


@dataclass
class Worker:
    process: multiprocessing.process.BaseProcess
    started: float  # time.monotonic() when started
    beat: object  # multiprocessing.Value("d"): the worker's last tick; 0.0 until it listens

    def silent_for(self, now: float) -> float | None:
        """Seconds since its last tick, or None while it has not started listening."""
        last = self.beat.value
        return now - last if last else None


class Supervisor:
    """Keeps `workers` worker processes serving (host, port) until SIGTERM or SIGINT."""

    def __init__(self, *, host: str, port: int, workers: int, access_log: bool, hang_s: float = 30.0,
                 startup_limit_s: float = STARTUP_LIMIT_S):
        self.host, self.workers, self.access_log = host, workers, access_log
        self.hang_s, self.startup_limit_s = hang_s, startup_limit_s
        try:
            self._reserved = shared_socket(host, port)
        except OSError as exc:
            raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.port = self._reserved.getsockname()[1]
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[Worker] = []
        self._stop = threading.Event()
        self._pause = FIRST_RESTART_PAUSE_S

    def run(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: self._stop.set())
        log.info("serving on %s:%d with %d worker process%s", self.host, self.port, self.workers,
                 "" if self.workers == 1 else "es")
        try:
            self._processes = [self._start() for _ in range(self.workers)]
            while not self._stop.wait(0.5):
                self._kill_hung()
                self._replace_exited()
        finally:
            self._stop_all()
            self._reserved.close()

    def _start(self) -> Worker:
        beat = self._context.Value("d", 0.0, lock=False)  # one aligned double: written whole
        process = self._context.Process(target=run_worker, args=(self.host, self.port, self.access_log, beat),
                                        name="arena-api-worker")
        process.start()
        return Worker(process, time.monotonic(), beat)

    def _kill_hung(self) -> None:
        now = time.monotonic()
        for worker in self._processes:
            if not worker.process.is_alive():
                continue
            silent = worker.silent_for(now)
            if silent is None and now - worker.started > self.startup_limit_s:
                why = f"not listening {now - worker.started:.0f} s after it was started"
            elif silent is not None and silent > self.hang_s:
                why = f"its event loop silent for {silent:.0f} s"
            else:
                continue
            log.error("API worker %s hangs (%s); killing it", worker.process.pid, why)
            os.kill(worker.process.pid, signal.SIGKILL)  # replaced by _replace_exited once it is gone

    def _replace_exited(self) -> None:
        for i, worker in enumerate(self._processes):
            process, started = worker.process, worker.started
            if process.is_alive():
                continue
            process.join()
            process_exited(process.pid)
            young = time.monotonic() - started < YOUNG_S
            log.warning("API worker %s exited with %s; starting another%s", process.pid, process.exitcode,
                        f" in {self._pause:.1f} s" if young else "")
            if young:  # crashing at start (a bad setting, the database away): do not spin
                if self._stop.wait(self._pause):
                    return
                self._pause = min(self._pause * 2, MAX_RESTART_PAUSE_S)
            else:
                self._pause = FIRST_RESTART_PAUSE_S
            self._processes[i] = self._start()

    def _stop_all(self) -> None:
        for worker in self._processes:
            if worker.process.is_alive():
                worker.process.terminate()  # SIGTERM: uvicorn stops accepting and finishes what it holds
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in (worker.process for worker in self._processes):
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
