"""`arena api --workers 2` as a real process tree: connections spread over both workers (each
listens on its own SO_REUSEPORT socket), a killed worker is replaced, a hung one is killed and
replaced, SIGTERM stops them all, and a port already taken fails at once with the reason; and
`arena api` alone, whose one worker is supervised the same way."""

from __future__ import annotations

import http.client
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arena.ports import free_port
from tests.arena.db.conftest import admin_url, db_url  # noqa: F401 -- a fresh database per module
from tests.support.processes import start_arena, stop_process, wait_for


def _children(pid: int) -> list[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        children = [int(p) for p in f.read().split()]
    workers = []
    for child in children:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                if b"spawn_main" in f.read():
                    workers.append(child)
        except OSError:
            continue
    return workers


def _tcp_inodes(port: int, state: str = "01") -> set[str]:
    """Socket inodes of TCP sockets whose local port is `port`, in `state` (01: established, the
    server side of a connection; 0A: listening)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                    inodes.add(fields[9])
    return inodes


def _connections_held(pid: int, port: int, state: str = "01") -> int:
    wanted = _tcp_inodes(port, state)
    held = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in wanted:
            held += 1
    return held


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    finally:
        conn.close()


def _wait_listening(api, port: int, log: Path, what: str, *, gone: int | None = None, workers: int = 2) -> None:
    """Until the supervisor has `workers` workers, all listening (and `gone` no longer among them)."""
    wait_for(lambda: gone not in _children(api.pid) and len(_children(api.pid)) == workers
             and all(_connections_held(pid, port, "0A") for pid in _children(api.pid)), 90, what, [log])


def _start_api(db_url: str, tmp_path: Path, *options: str, **environment: str):  # noqa: F811
    """`arena api OPTIONS` on a free port: (the supervisor's process, the port, its log)."""
    port = free_port()
    log = tmp_path / "api.log"
    env = {**os.environ, "ARENA_DATABASE_URL": db_url, "ARENA_API_PUBLIC_READS": "true", **environment}
    return start_arena(["api", "--port", str(port), *options], env, log), port, log


def _two_workers(db_url: str, tmp_path: Path, **environment: str):  # noqa: F811
    return _start_api(db_url, tmp_path, "--workers", "2", **environment)


def test_two_workers_share_the_port_evenly_and_are_replaced_and_stopped(db_url, tmp_path) -> None:  # noqa: F811
    api, port, log = _two_workers(db_url, tmp_path)
    try:
        # Both listening (a worker listens once its app has started; until then the kernel
        # sends every connection to the other).
        wait_for(lambda: len(_children(api.pid)) == 2 and _healthy(port)
                 and all(_connections_held(pid, port, "0A") for pid in _children(api.pid)),
                 90, "two API workers listening", [log])
        workers = _children(api.pid)
        # Twenty keep-alive clients: each worker holds some (all on one: odds 2 in a million).
        clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(20)]
        for client in clients:
            client.request("GET", "/healthz")
            assert client.getresponse().read()
        held = {pid: _connections_held(pid, port) for pid in workers}
        assert sum(held.values()) == len(clients) and all(held.values()), held
        for client in clients:
            client.close()

        os.kill(workers[0], signal.SIGKILL)  # a worker dies: the supervisor starts another
        wait_for(lambda: workers[0] not in _children(api.pid) and len(_children(api.pid)) == 2 and _healthy(port),
                 90, "a replacement worker", [log])
        survivors = _children(api.pid)
        api.send_signal(signal.SIGTERM)  # the supervisor alone: it stops its workers itself
        assert api.wait(60) == 0
        assert not [pid for pid in survivors if os.path.exists(f"/proc/{pid}") and _running(pid)]
    finally:
        stop_process(api)


def test_a_hung_worker_is_killed_and_replaced_and_a_busy_one_is_not(db_url, tmp_path) -> None:  # noqa: F811
    """A stopped process stands for any hang (its event loop does not run, its socket still takes
    connections). Workers that merely wait for requests beat and are left alone."""
    api, port, log = _two_workers(db_url, tmp_path, ARENA_API_WORKER_HANG_S="2")
    try:
        _wait_listening(api, port, log, "two API workers listening")
        workers = _children(api.pid)
        time.sleep(5)  # idle for more than twice the limit, answering now and then: both stay
        assert _healthy(port)
        assert sorted(_children(api.pid)) == sorted(workers), log.read_text()[-2000:]

        os.kill(workers[0], signal.SIGSTOP)
        _wait_listening(api, port, log, "the hung worker replaced", gone=workers[0])
        assert not os.path.exists(f"/proc/{workers[0]}") or not _running(workers[0])
        assert workers[1] in _children(api.pid)
        assert f"API worker {workers[0]} hangs (its event loop silent for" in log.read_text()
        # Every new connection is answered again (none lands on a stopped process).
        for _ in range(20):
            assert _healthy(port)
        api.send_signal(signal.SIGTERM)
        assert api.wait(60) == 0
    finally:
        for pid in workers if "workers" in locals() else ():
            if os.path.exists(f"/proc/{pid}"):
                os.kill(pid, signal.SIGCONT)
        stop_process(api)


def test_the_default_single_worker_is_supervised_too(db_url, tmp_path) -> None:  # noqa: F811
    """`arena api` alone (docker compose's command): one worker under the supervisor, so a hang is
    ended by a restart, not by nobody (a container's restart policy acts only on an exit). One
    process serves its own metrics, the process's CPU and memory among them."""
    api, port, log = _start_api(db_url, tmp_path, ARENA_API_WORKER_HANG_S="2")
    try:
        _wait_listening(api, port, log, "the API worker listening", workers=1)
        [worker] = _children(api.pid)
        assert _healthy(port)
        assert "process_resident_memory_bytes" in _scrape(port)

        os.kill(worker, signal.SIGSTOP)
        _wait_listening(api, port, log, "the hung worker replaced", gone=worker, workers=1)
        assert f"API worker {worker} hangs (its event loop silent for" in log.read_text()
        assert _healthy(port)
        api.send_signal(signal.SIGTERM)
        assert api.wait(60) == 0
    finally:
        if "worker" in locals() and os.path.exists(f"/proc/{worker}"):
            os.kill(worker, signal.SIGCONT)
        stop_process(api)


def _running(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("options", [[], ["--workers", "2"]], ids=["one-worker", "two-workers"])
def test_a_port_already_taken_fails_at_once_with_the_reason(tmp_path, options) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "arena.cli", "api", "--port", str(port), *options],
                              capture_output=True, text=True, timeout=60, env={**os.environ},
                              cwd=Path(__file__).resolve().parents[3])
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_worker_that_never_starts_listening_is_killed_after_the_startup_limit() -> None:
    from arena.api.serve import Supervisor, Worker

    supervisor = Supervisor(host="127.0.0.1", port=0, workers=1, access_log=False, hang_s=2.0, startup_limit_s=1.0)
    context = multiprocessing.get_context("spawn")
    try:
        stuck = context.Process(target=time.sleep, args=(120,))
        stuck.start()
        worker = Worker(stuck, time.monotonic(), context.Value("d", 0.0, lock=False))
        supervisor._processes = [worker]
        supervisor._kill_hung()  # within the limit: left alone
        assert stuck.is_alive()
        worker.started -= 5.0
        supervisor._kill_hung()
        stuck.join(10)
        assert stuck.exitcode == -signal.SIGKILL
    finally:
        if stuck.is_alive():
            stuck.kill()
        supervisor._reserved.close()


def _scrape(port: int) -> dict[str, float]:
    """/metrics over a new connection: {sample line's name and labels: value}."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        assert response.status == 200
        text = response.read().decode()
    finally:
        conn.close()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def _healthz_count(samples: dict[str, float]) -> float:
    return sum(v for k, v in samples.items()
               if k.startswith("arena_http_requests_total{") and 'route="/healthz"' in k)


def test_metrics_count_every_workers_requests_whichever_worker_answers(db_url, tmp_path) -> None:  # noqa: F811
    api, port, log = _two_workers(db_url, tmp_path)
    try:
        _wait_listening(api, port, log, "two API workers listening")
        workers = _children(api.pid)
        clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(20)]
        for client in clients:
            for _ in range(3):
                client.request("GET", "/healthz")
                assert client.getresponse().read()
        held = {pid: _connections_held(pid, port) for pid in workers}
        assert all(held.values()), held  # both workers answered some of the 60
        for client in clients:
            client.close()
        # Twenty scrapes on new connections land on both workers; each counts all 60 requests.
        counts = [_healthz_count(_scrape(port)) for _ in range(20)]
        assert counts == [60.0] * 20, counts
        scrape = _scrape(port)
        assert scrape['arena_http_request_duration_seconds_count{method="GET",route="/healthz"}'] == 60.0
        assert not any(k.startswith("process_") for k in scrape)  # one process's: left out

        os.kill(workers[0], signal.SIGKILL)  # its counts stay in the sums
        _wait_listening(api, port, log, "a replacement worker", gone=workers[0])
        assert [_healthz_count(_scrape(port)) for _ in range(10)] == [60.0] * 10
        api.send_signal(signal.SIGTERM)
        assert api.wait(60) == 0
    finally:
        stop_process(api)
