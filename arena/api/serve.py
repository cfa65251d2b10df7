"""Serving the HTTP API from one process or several (`arena api --workers N`).

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
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time

import uvicorn

log = logging.getLogger(__name__)

APP = "arena.api.app:serving_app"  # a factory by name: each process makes (and freezes) its own app
YOUNG_S = 10.0  # a worker that exits sooner than this counts as crashing at start
FIRST_RESTART_PAUSE_S = 0.5
MAX_RESTART_PAUSE_S = 30.0
STOP_TIMEOUT_S = 30.0  # for workers to finish their requests after SIGTERM, then SIGKILL


class ListenError(RuntimeError):
    """The address cannot be listened on (taken by another program, or not this host's)."""


def serve(*, host: str, port: int, workers: int, access_log: bool) -> None:
    if workers == 1:
        uvicorn.run(APP, factory=True, host=host, port=port, access_log=access_log)
        return
    Supervisor(host=host, port=port, workers=workers, access_log=access_log).run()


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


def run_worker(host: str, port: int, access_log: bool) -> None:
    """One worker process: its own socket on the shared address, and uvicorn on it. Bound, not
    yet listening: uvicorn (asyncio's create_server) listens once the app has started, so the
    kernel sends no connection to a worker still loading (a replacement takes seconds)."""
    sock = shared_socket(host, port)
    config = uvicorn.Config(APP, factory=True, host=host, port=port, access_log=access_log)
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    """Keeps `workers` worker processes serving (host, port) until SIGTERM or SIGINT."""

    def __init__(self, *, host: str, port: int, workers: int, access_log: bool):
        self.host, self.workers, self.access_log = host, workers, access_log
        try:
            self._reserved = shared_socket(host, port)
        except OSError as exc:
            raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.port = self._reserved.getsockname()[1]
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[tuple[multiprocessing.process.BaseProcess, float]] = []
        self._stop = threading.Event()
        self._pause = FIRST_RESTART_PAUSE_S

    def run(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: self._stop.set())
        log.info("serving on %s:%d with %d worker processes", self.host, self.port, self.workers)
        try:
            self._processes = [self._start() for _ in range(self.workers)]
            while not self._stop.wait(0.5):
                self._replace_exited()
        finally:
            self._stop_all()
            self._reserved.close()

    def _start(self) -> tuple[multiprocessing.process.BaseProcess, float]:
        process = self._context.Process(target=run_worker, args=(self.host, self.port, self.access_log),
                                        name="arena-api-worker")
        process.start()
        return process, time.monotonic()

    def _replace_exited(self) -> None:
        for i, (process, started) in enumerate(self._processes):
            if process.is_alive():
                continue
            process.join()
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
        for process, _ in self._processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn stops accepting and finishes what it holds
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process, _ in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
