"""The whole stack on loopback, without containers (issue 6, item 7).

PostgreSQL (a fresh database), Redis (a private, flushed database number), a real `tritonserver`
(pip nvidia-pytriton, CPU flavour, explicit model control, an empty repository at the start),
a Celery worker process playing through TritonEvaluator (ARENA_TRITON_URL), the API process and
the gRPC server process, each started as a deployment starts them (`python -m arena.cli ...`).

Over HTTP: register two demo checkpoints (which exports them into the repository and loads
them into Triton), schedule a round-robin with GNU Go (the API dispatches every game at once).
Over gRPC: WatchGames until every game has arrived. Then: the leaderboard, the game list, an
SGF, the API's and the worker's metrics (evaluations counted under evaluator="triton") and
Triton's own statistics (inferences on both checkpoints' models).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
import tritonclient.grpc as grpcclient

from arena.db.connection import session_scope
from arena.grpc.generated import arena_pb2, arena_pb2_grpc
from arena.ports import free_port
from arena.tokens import create_token
from arena.tournaments import advance
from models.demo import DEMO_DIR, demo_manifests
from models.triton_serving import checkpoint_model_name
from search_workers.go import read_sgf
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module
from tests.support.engines import require_gnugo
from tests.support.processes import private_redis_url, start_arena, stop_process, wait_for
from tests.support.triton import require_triton, triton_server

HOST = "127.0.0.1"
GAMES_PER_PAIRING = 2
GAMES = 3 * GAMES_PER_PAIRING  # three players, one pairing each way counted once
DEADLINE_S = 75.0  # for the games, after the services are up


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("triton") / "repository"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def triton(repository: Path):
    require_triton()
    require_gnugo()
    yield from triton_server(repository)  # no model at startup: registration loads them


def _get(url: str, *, token: str | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return reply.status, reply.read()


def _post(url: str, body: dict, token: str, timeout: float = 120.0) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_register_schedule_watch_and_read_back_through_every_service(
        db_url: str, engine, triton, repository: Path, tmp_path: Path) -> None:  # noqa: F811
    started = time.monotonic()
    api_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(ARENA_DATABASE_URL=db_url, ARENA_DATA_DIR=str(tmp_path / "data"), ARENA_BROKER_URL=private_redis_url(),
               ARENA_TRITON_URL=triton.grpc_url, ARENA_TRITON_REPOSITORY=str(repository),
               ARENA_TRITON_FLAVOUR="cpu", ARENA_WORKER_METRICS_PORT=str(metrics_port),
               ARENA_IMPORT_DIRS=json.dumps([str(DEMO_DIR)]))  # the checkpoints registered by path below
    with session_scope(engine) as session:
        token = create_token(session, name="full-stack").token
    logs = {name: tmp_path / f"{name}.log" for name in ("api", "grpc", "worker")}
    processes = [
        start_arena(["api", "--port", str(api_port)], env, logs["api"]),
        start_arena(["grpc", "--port", str(grpc_port), "--host", HOST], env, logs["grpc"]),
        start_arena(["worker", "--games-at-once", str(GAMES), "--loglevel", "INFO"], env, logs["worker"]),
    ]
    api = f"http://{HOST}:{api_port}"
    channel = grpc.insecure_channel(f"{HOST}:{grpc_port}")
    try:
        wait_for(lambda: _get(f"{api}/healthz")[0] == 200, 30, "the API", list(logs.values()))
        grpc.channel_ready_future(channel).result(timeout=30)

        # Register two checkpoints over HTTP: each is exported and loaded into Triton.
        newest, previous = demo_manifests()[-1], demo_manifests()[-2]
        registered = []
        for manifest in (newest, previous):
            status, body = _post(f"{api}/checkpoints", {"path": str(manifest)}, token)
            assert status == 201, body
            sha = body["checkpoint"]["sha256"]
            model = checkpoint_model_name(sha, 9, "cpu")
            assert body["triton"] == {"models": [model], "exported": [model], "loaded": [model], "error": None}
            assert (repository / model / "1" / "model.pt").is_file()
            registered.append((body["checkpoint"]["name"], model))
        triton_client = grpcclient.InferenceServerClient(triton.grpc_url)
        assert all(triton_client.is_model_ready(model) for _, model in registered)

        # Schedule a round-robin with GNU Go; the API sends every game to the worker at once.
        config = {"name": "full-stack", "format": "round-robin", "board_size": 9, "komi": 7.5,
                  "games_per_pairing": GAMES_PER_PAIRING, "openings": {"source": "random", "plies": 2, "count": 4},
                  "participants": [{"name": f"{name}@4v", "kind": "checkpoint", "ref": name, "visits": 4}
                                   for name, _ in registered] + [{"name": "gnugo-l1", "kind": "engine",
                                                                  "ref": "gnugo-l1"}]}
        status, body = _post(f"{api}/tournaments", config, token)
        assert status == 201, body
        assert body["dispatched"] == body["tournament"]["progress"]["scheduled"] == GAMES, body
        tid = body["tournament"]["progress"]["tournament_id"]

        # Wait through gRPC WatchGames until every game has arrived.
        stub = arena_pb2_grpc.ArenaStub(channel)
        stream = stub.WatchGames(arena_pb2.WatchGamesRequest(tournament_id=tid, include_sgf=True),
                                 timeout=DEADLINE_S)
        watched = []
        try:
            for game in stream:
                watched.append(game)
                if len(watched) == GAMES:
                    break
        except grpc.RpcError as error:
            tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs.values())
            pytest.fail(f"WatchGames ended after {len(watched)}/{GAMES} games: {error.code()}\n{tails}")
        finally:
            stream.cancel()
        assert len({g.id for g in watched}) == GAMES
        assert all(g.tournament == "full-stack" and read_sgf(g.sgf).result == g.result for g in watched)
        with session_scope(engine) as session:
            assert advance(session, tid) == "finished"

        # Read everything back over HTTP.
        board = json.loads(_get(f"{api}/ratings/leaderboard?tournament=full-stack")[1])
        standings = {p["name"]: p for p in board["players"]}
        assert set(standings) == {f"{n}@4v" for n, _ in registered} | {"gnugo-l1"}, board
        assert board["game_set"]["games"] == GAMES
        assert sum(p["games"] for p in standings.values()) == 2 * GAMES
        games = json.loads(_get(f"{api}/games?tournament=full-stack&limit=50")[1])["games"]
        assert sorted(g["id"] for g in games) == sorted(g.id for g in watched)
        status, sgf = _get(f"{api}/games/{games[0]['id']}.sgf")
        assert status == 200 and read_sgf(sgf.decode()).result == games[0]["result"]
        api_metrics = _get(f"{api}/metrics")[1].decode()
        assert 'arena_http_requests_total{' in api_metrics and 'route="/checkpoints"' in api_metrics, api_metrics[:2000]
        worker_metrics = _get(f"http://{HOST}:{metrics_port}/metrics")[1].decode()
        triton_evaluations = [line for line in worker_metrics.splitlines()
                              if line.startswith("arena_evaluations_total{") and 'evaluator="triton"' in line]
        assert triton_evaluations and float(triton_evaluations[0].split()[-1]) > 0, worker_metrics[:3000]
        assert 'evaluator="torch"' not in worker_metrics

        # Triton's own statistics: both checkpoints' models ran inferences.
        for _, model in registered:
            stats = triton_client.get_inference_statistics(model, as_json=True)["model_stats"][0]
            assert int(stats.get("inference_count", 0)) > 0, stats
        triton_client.close()
    finally:
        channel.close()
        for process in processes:
            stop_process(process)
    elapsed = time.monotonic() - started
    print(f"full stack: {GAMES} games in {elapsed:.1f} s (tritonserver started in {triton.startup_s:.1f} s)")
