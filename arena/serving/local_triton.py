"""Run the pip-installed Triton Inference Server (bundled with nvidia-pytriton) on loopback.

The embedded stand-in for production's Triton container: benchmarks and tests use it.

    with TritonServer(repository, models=["go9_cpu"]) as server:
        TritonEvaluator(server.grpc_url, "go9_cpu", board_size=9)

pytriton ships `tritonserver` with only the Python backend (CPU). Three things it needs that a
plain launch lacks, all found by experiment with pytriton 0.7 / Triton 2.51:

- The backend directory has no `triton_python_backend_stub`: pytriton keeps one stub per Python
  version and copies the right one in. We build a private backend directory of symlinks with
  the stub of the running interpreter's version.
- The stub links `libpython3.X.so` and may pick up the system's copy instead of the running
  interpreter's (here: Debian's beside pyenv's), which mixes two Pythons' stdlib and fails
  model loading with "_thread.RLock ... _recursion_count". So LD_LIBRARY_PATH starts with the
  interpreter's LIBDIR; the pytriton libs directory follows for the server's own libraries.
- The stub finds its Python by looking up `python3` on PATH: the directory of sys.executable
  (unresolved, so the venv's bin rather than the base interpreter's) goes first on PATH, so
  model.py imports torch and numpy from this virtualenv.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from arena.ports import free_port

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 90.0  # model loading imports torch in every Python-backend stub: seconds each
STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class TritonInstall:
    """Where the pip-installed server lives."""

    binary: Path
    python_backend: Path  # libtriton_python.so, triton_python_backend_utils.py
    stub: Path  # triton_python_backend_stub for this interpreter's Python version
    libs: Path  # nvidia_pytriton.libs


def find_triton() -> TritonInstall | str:
    """The install, or why it cannot be used."""
    try:
        import pytriton
    except ImportError:
        return "nvidia-pytriton is not installed (pip install -e '.[test]'; `make test` installs it)"
    root = Path(pytriton.__file__).resolve().parent / "tritonserver"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    install = TritonInstall(binary=root / "bin" / "tritonserver", python_backend=root / "backends" / "python",
                            stub=root / "python_backend_stubs" / version / "triton_python_backend_stub",
                            libs=root.parent.parent / "nvidia_pytriton.libs")
    for path in (install.binary, install.python_backend / "libtriton_python.so", install.stub):
        if not path.exists():
            return f"nvidia-pytriton is installed but {path} is missing (Python {version} unsupported?)"
    return install


class TritonServerError(RuntimeError):
    pass


def _require_install() -> TritonInstall:
    found = find_triton()
    if isinstance(found, str):
        raise TritonServerError(found)
    return found


class TritonServer:
    """A tritonserver process on 127.0.0.1 with free ports, explicit model control.

    `models` are loaded at startup (`--load-model`); start() waits until the server and all of
    them are ready, or raises with the tail of the server's log. `ports` (http, grpc, metrics):
    listen on these instead of free ones (a server started again where its clients expect it).
    """

    def __init__(self, repository: Path, models: list[str] | tuple[str, ...] = (), *,
                 install: TritonInstall | None = None, startup_timeout_s: float = STARTUP_TIMEOUT_S,
                 extra_args: tuple[str, ...] = (), ports: tuple[int, int, int] | None = None):
        if ports is not None and len(ports) != 3:
            raise ValueError(f"ports must be (http, grpc, metrics), got {ports!r}")
        self.repository = Path(repository)
        self.models = tuple(models)
        self.install = install or _require_install()
        self.startup_timeout_s = startup_timeout_s
        self.extra_args = tuple(extra_args)
        self.process: subprocess.Popen | None = None
        self.startup_s: float | None = None
        self._workdir: tempfile.TemporaryDirectory | None = None
        self.ports = tuple(ports) if ports is not None else None
        self.http_port = self.grpc_port = self.metrics_port = 0

    @property
    def grpc_url(self) -> str:
        return f"{HOST}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    @property
    def log_path(self) -> Path:
        assert self._workdir is not None, "server not started"
        return Path(self._workdir.name) / "tritonserver.log"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, AssertionError):
            return "(no log)"

    def _backend_dir(self) -> Path:
        backends = Path(self._workdir.name) / "backends"
        python = backends / "python"
        python.mkdir(parents=True)
        for item in self.install.python_backend.iterdir():
            if item.name != "__pycache__":
                (python / item.name).symlink_to(item)
        (python / "triton_python_backend_stub").symlink_to(self.install.stub)
        return backends

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        libdirs = [sysconfig.get_config_var("LIBDIR"), str(self.install.libs), env.get("LD_LIBRARY_PATH", "")]
        env["LD_LIBRARY_PATH"] = ":".join(d for d in libdirs if d)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        return env

    def start(self) -> TritonServer:
        if self.process is not None:
            raise TritonServerError("server already started")
        self._workdir = tempfile.TemporaryDirectory(prefix="tritonserver-")
        self.http_port, self.grpc_port, self.metrics_port = self.ports or (free_port(), free_port(), free_port())
        args = [str(self.install.binary), f"--model-repository={self.repository}",
                f"--backend-directory={self._backend_dir()}", "--model-control-mode=explicit",
                *(f"--load-model={m}" for m in self.models),
                f"--http-address={HOST}", f"--http-port={self.http_port}",
                f"--grpc-address={HOST}", f"--grpc-port={self.grpc_port}",
                f"--metrics-address={HOST}", f"--metrics-port={self.metrics_port}",
                "--allow-gpu-metrics=false", "--log-verbose=0", "--exit-timeout-secs=5", *self.extra_args]
        started = time.monotonic()
        with open(self.log_path, "wb") as log:
            # Own process group: stop() can end the server's Python-backend stubs with it.
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=self._env(), start_new_session=True)
        try:
            self._wait_ready(started + self.startup_timeout_s)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - started
        return self

    def _ready(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(self.http_url + path, timeout=2.0) as reply:
                return reply.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _wait_ready(self, deadline: float) -> None:
        pending = ["/v2/health/ready", *(f"/v2/models/{m}/ready" for m in self.models)]
        while pending:
            if self.process.poll() is not None:
                raise TritonServerError(f"tritonserver exited with status {self.process.returncode} before it was "
                                        f"ready; log tail:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TritonServerError(f"tritonserver not ready ({pending[0]}) within {self.startup_timeout_s:.0f}s;"
                                        f" log tail:\n{self.log_tail()}")
            if self._ready(pending[0]):
                pending.pop(0)
            else:
                time.sleep(0.1)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; returns the exit status."""
        process, self.process = self.process, None
        status = None
        if process is not None:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            status = process.returncode
            try:  # stubs that outlived the server (it normally ends them)
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
        return status

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
