"""Hostile case: internals reached clients: raw exception text in `dispatch_error`, engine stderr
and the worker's host:pid on public game pages, tracebacks of unexpected errors and of a missing
database, and /metrics answered without a token while reads needed one. Now clients get fixed,
client-safe messages (an error id to quote) and the details go to the log."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import select

from arena.api import create_app
from arena.db.connection import session_scope
from arena.db.models import FinishedGame, ScheduledGame, Tournament
from arena.db.repository import record_finished_game
from arena.grpc.generated import arena_pb2
from tests.security.arena_app import (  # noqa: F401 -- fixtures
    admin_url, app_with, client, db_url, engine, headers, settings, tokens, tournament_config)

SECRET = "hunter2@broker.internal:6379 /srv/arena/secret.key"
WORKER = "gpu-node-17.internal:40123"
STDERR = "Traceback: /home/operator/engines/katago/config.cfg line 3"


def test_game_detail_shows_neither_worker_nor_engine_stderr(client, headers, engine) -> None:  # noqa: F811
    assert client.post("/tournaments", json=tournament_config("leaky"), headers=headers["submit"]).status_code == 201
    with session_scope(engine) as session:
        game = session.scalars(select(ScheduledGame).join(Tournament).where(Tournament.name == "leaky")).first()
        record_finished_game(session, scheduled_game_id=game.id, result="B+R", move_count=1, duration_s=1.0,
                             sgf="(;GM[1]FF[4]SZ[9]RE[B+R];B[ee])", worker=WORKER, software_version="test",
                             model_versions={"scoring": "resign", "engine_stderr": {"e1": STDERR},
                                             "engine_versions": {"e1": "true 1.0"}})
        game_id = game.id
    response = client.get(f"/games/{game_id}")
    assert response.status_code == 200, response.text
    assert WORKER not in response.text and STDERR not in response.text and "engine_stderr" not in response.text
    assert response.json()["model_versions"] == {"scoring": "resign", "engine_versions": {"e1": "true 1.0"}}
    with session_scope(engine) as session:  # the operators' copy stays in the database
        stored = session.get(FinishedGame, game_id)
        assert stored.worker == WORKER and stored.model_versions["engine_stderr"] == {"e1": STDERR}


def test_grpc_games_carry_neither_worker_nor_provenance() -> None:
    fields = set(arena_pb2.Game.DESCRIPTOR.fields_by_name)
    assert not fields & {"worker", "model_versions", "provenance", "engine_stderr"}


def test_dispatch_error_has_no_exception_text(settings, headers, engine, caplog) -> None:  # noqa: F811
    def broken_broker(payload: dict) -> None:
        raise ConnectionError(f"cannot reach redis://:{SECRET}")

    with TestClient(create_app(settings, send=broken_broker)) as client:
        response = client.post("/tournaments", json=tournament_config("undispatched"), headers=headers["submit"])
    assert response.status_code == 201, response.text  # the tournament stands: the scheduler sends it later
    body = response.json()
    assert body["dispatched"] == 0 and body["dispatch_error"] and "ConnectionError" not in body["dispatch_error"]
    assert SECRET not in response.text and "redis" not in response.text
    assert SECRET in caplog.text  # the operator still learns why


def test_unexpected_error_is_an_opaque_500_with_an_id(settings, caplog) -> None:  # noqa: F811
    crashing = APIRouter()

    @crashing.get("/crash")
    def crash() -> None:
        raise RuntimeError(f"failed opening {SECRET}")

    with TestClient(create_app(settings, extra_routers=[crashing]), raise_server_exceptions=False) as client:
        with caplog.at_level(logging.ERROR):
            response = client.get("/crash")
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"detail", "error_id"} and body["error_id"] in body["detail"]
    assert SECRET not in response.text and "RuntimeError" not in response.text and "Traceback" not in response.text
    assert body["error_id"] in caplog.text and SECRET in caplog.text  # logged with its traceback


def test_unusable_database_address_is_a_clean_503(settings, caplog) -> None:  # noqa: F811
    for url in ("not a database url", "postgresql+psycopg://arena:pw@db.internal:notaport/arena"):
        with app_with(settings, database_url=url) as client:
            for path in ("/healthz", "/tournaments", "/games?player=x"):
                response = client.get(path)
                assert response.status_code == 503, (url, path, response.text)
                assert "ARENA_DATABASE_URL" in response.json()["detail"]
                assert "db.internal" not in response.text and "Traceback" not in response.text


def test_database_that_does_not_answer_is_a_503_without_its_address(settings) -> None:  # noqa: F811
    down = "postgresql+psycopg://arena@127.0.0.1:1/arena"  # nothing listens on port 1
    with app_with(settings, database_url=down) as client:
        for path in ("/games", "/tournaments"):  # the read pool (10 s to give up), and a session
            response = client.get(path)
            assert response.status_code == 503, (path, response.text)
            assert "127.0.0.1" not in response.text and ":1" not in response.text, response.text


def test_metrics_need_a_token_when_reads_do(settings, headers) -> None:  # noqa: F811
    with app_with(settings, api_public_reads=False) as private:
        refused = private.get("/metrics")
        assert refused.status_code == 401 and "arena_http_requests" not in refused.text
        assert private.get("/metrics", headers=headers["read"]).status_code == 200
    with app_with(settings) as public:
        assert public.get("/metrics").status_code == 200


def test_metrics_do_not_name_the_interpreter_version(settings) -> None:  # noqa: F811
    with app_with(settings) as public:
        text = public.get("/metrics").text
    assert "process_cpu_seconds_total" in text and "python_info" not in text
