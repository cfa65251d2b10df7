"""The Grafana dashboards against the metrics the code defines, and against a real Prometheus.

The second test plays a real block of games into a real database, serves the worker registry and
the API registry (HTTP metrics from requests to an instrumented FastAPI app, Elo and pending
games from the database), scrapes both with the real `prometheus` binary, and asks Prometheus'
HTTP API for every metric a dashboard query uses.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from arena import metrics as api_metrics
from arena.ports import free_port
from search_workers import metrics as worker_metrics
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module
from tests.support.ci import unavailable

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "dashboards" / "grafana").glob("*.json"))
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

METRIC = re.compile(r"\b(arena_[a-z0-9_]+)\b")


def dashboard_exprs() -> list[str]:
    exprs = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            exprs += [t["expr"] for t in panel.get("targets", [])]
        for var in board.get("templating", {}).get("list", []):
            exprs.append(var["definition"])
    return exprs


def used_metrics() -> set[str]:
    return {name for expr in dashboard_exprs() for name in METRIC.findall(expr)}


def defined_metrics() -> set[str]:
    """Series names the two registries expose (counters as _total, histograms as _bucket/_sum/_count)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    names = set(api_metrics.DATABASE_METRICS)
    for registry in (api_metrics.REGISTRY, worker_metrics.REGISTRY):
        for family in registry.collect():
            names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return names


def test_dashboards_and_provisioning_parse() -> None:
    assert {p.stem for p in DASHBOARDS} == {"elo", "throughput"}
    uids = {json.loads(p.read_text())["uid"] for p in DASHBOARDS}
    assert len(uids) == len(DASHBOARDS)
    datasource = yaml.safe_load((ROOT / "dashboards/provisioning/datasources/prometheus.yml").read_text())
    provider = yaml.safe_load((ROOT / "dashboards/provisioning/dashboards/arena.yml").read_text())
    assert datasource["datasources"][0]["uid"] == "prometheus"
    assert provider["providers"][0]["options"]["path"]
    config = yaml.safe_load((ROOT / "dashboards/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"arena-api", "arena-workers", "triton"}
    assert jobs["triton"]["static_configs"][0]["targets"] == ["triton:8002"]


def test_every_dashboard_query_names_a_metric_the_code_defines() -> None:
    used = used_metrics()
    assert len(used) >= 15, used
    assert used <= defined_metrics(), sorted(used - defined_metrics())


def test_promtool_accepts_the_prometheus_config() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        unavailable("promtool is not installed (apt-get install -y prometheus)")
    run = subprocess.run([promtool, "check", "config", "--syntax-only", str(ROOT / "dashboards/prometheus.yml")],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr


# ---------------------------------------------------------------------------- the real Prometheus

def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def activity(engine, db_url, tmp_path: Path):  # noqa: F811
    """A running tournament of two demo checkpoints with its block played through the real task."""
    from arena.db.connection import session_factory, session_scope
    from arena.db.repository import get_or_create_checkpoint
    from arena.scheduling import RoundRobinConfig
    from arena.tournaments import create_tournament, dispatch
    from arena.worker import DatabaseSink
    from models.demo import demo_manifests
    from models.manifest import read_manifest
    from search_workers import tasks

    names = []
    for path in demo_manifests()[-2:]:
        manifest = read_manifest(path)
        folder = tmp_path / "store" / manifest.weights_sha256
        folder.mkdir(parents=True)
        shutil.copy(path, folder / path.name)
        shutil.copy(path.parent / manifest.weights_file, folder / manifest.weights_file)
        with session_scope(engine) as session:
            get_or_create_checkpoint(session, sha256=manifest.weights_sha256, name=manifest.name,
                                manifest=manifest.model_dump(mode="json"))
        names.append(manifest.name)
    config = RoundRobinConfig(name="metrics-rr", format="round-robin", board_size=9, rules="chinese",
                              move_limit=40, games_per_pairing=2,
                              participants=[{"name": f"n{i}", "kind": "checkpoint", "ref": n, "visits": 4}
                                            for i, n in enumerate(names)])
    payloads: list[dict] = []
    with session_scope(engine) as session:
        tournament = create_tournament(session, config, engines={})
        tid = tournament.id
    with session_scope(engine) as session:
        dispatch(session, tid, send=payloads.append)
    sink = DatabaseSink(db_url)
    tasks.configure(tasks.WorkerContext(sink=sink, checkpoint_root=tmp_path / "store", engines={}))
    try:
        for payload in payloads:
            tasks.play_block(payload)
    finally:
        sink.close()
    yield session_factory(engine)


def test_prometheus_scrapes_every_metric_the_dashboards_use(activity, tmp_path: Path) -> None:
    if not Path(PROMETHEUS).exists():
        unavailable("prometheus is not installed (apt-get install -y prometheus)")
    FastAPI = pytest.importorskip("fastapi").FastAPI  # the API's dependency (arena/api)
    TestClient = pytest.importorskip("fastapi.testclient").TestClient
    from prometheus_client import CollectorRegistry, start_http_server

    # The API side: an instrumented app answering requests, its registry with the database gauges.
    registry = CollectorRegistry()
    for collector in (api_metrics.HTTP_REQUESTS, api_metrics.HTTP_REQUEST_SECONDS):
        registry.register(collector)
    app = FastAPI()

    @app.get("/games/{game_id}")
    def game(game_id: int) -> dict:
        return {"id": game_id}

    api_metrics.instrument_app(app, sessions=activity, registry=registry)
    client = TestClient(app)
    assert client.get("/games/7").status_code == 200
    assert client.get("/games/x").status_code == 422
    exposition = client.get("/metrics").text
    assert 'method="GET",route="/games/{game_id}",status="422"' in exposition, exposition
    # The Elo gauges carry the pool's condition: 9x9 and 19x19 Elo never share a series.
    assert 'arena_player_elo{condition="9x9 chinese komi 7.5",player="n0",pool="metrics-rr"}' in exposition, exposition

    api_port, worker_port, prom_port = free_port(), free_port(), free_port()
    api_server, _ = start_http_server(api_port, addr="127.0.0.1", registry=registry)
    worker_server, _ = start_http_server(worker_port, addr="127.0.0.1", registry=worker_metrics.REGISTRY)
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{"job_name": "api", "static_configs": [{"targets": [f"127.0.0.1:{api_port}"]}]},
                           {"job_name": "worker", "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}]}]}))
    prometheus = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "w"))
    base = f"http://127.0.0.1:{prom_port}/api/v1"
    try:
        wanted, missing = used_metrics(), set()
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                found = _get(f"{base}/label/__name__/values")["data"]
            except OSError:
                continue
            missing = wanted - set(found)
            if not missing:
                break
        log = (tmp_path / "prometheus.log").read_text()[-2000:]
        assert not missing, f"not scraped: {sorted(missing)}\n{log}"
        targets = _get(f"{base}/targets")["data"]["activeTargets"]
        assert {t["health"] for t in targets} == {"up"}, targets
        query = urllib.parse.quote('arena_player_elo{pool="metrics-rr"}')
        result = _get(f"{base}/query?query={query}")["data"]["result"]
        assert {r["metric"]["player"] for r in result} == {"n0", "n1"}, result
        assert {r["metric"]["condition"] for r in result} == {"9x9 chinese komi 7.5"}, result
        games = _get(f"{base}/query?query=" + urllib.parse.quote("sum(arena_games_finished_total)"))["data"]["result"]
        assert float(games[0]["value"][1]) >= 2
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=10)
        api_server.shutdown()
        worker_server.shutdown()
