"""Bearer tokens: writes need a live one (missing, invalid, expired, revoked: 401 with a message);
reads are public unless ARENA_API_PUBLIC_READS=false; `arena token create/revoke`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from arena.api import create_app
from arena.db.connection import session_scope
from arena.db.models import ApiToken
from arena.tokens import create_token, revoke_token, token_sha256
from tests.support.arena_cli import arena_settings
from tests.support.arena_cli import invoke_arena as arena

WRITES = [("post", "/checkpoints", {"json": {"path": "/x.json"}}),
          ("post", "/tournaments", {"json": {"name": "t", "format": "round-robin"}}),
          ("post", "/tournaments/1/cancel", {})]


def _token(engine, name: str, **kwargs) -> str:
    with session_scope(engine) as session:
        return create_token(session, name=name, **kwargs).token


@pytest.mark.parametrize("method, path, kwargs", WRITES)
def test_writes_without_a_token_are_401(client, method, path, kwargs) -> None:
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == 401 and "bearer token" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_invalid_expired_and_revoked_tokens_are_401_saying_why(client, engine) -> None:
    expired = _token(engine, "old", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    revoked = _token(engine, "gone")
    with session_scope(engine) as session:
        revoke_token(session, "gone")
    for token, message in (("arena_nonsense", "invalid token"), (expired, "token 'old' expired"),
                           (revoked, "token 'gone' was revoked")):
        response = client.post("/tournaments/1/cancel", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and message in response.json()["detail"], response.text
    live = _token(engine, "live", expires_at=datetime.now(UTC) + timedelta(days=1))
    assert client.post("/tournaments/1/cancel", headers={"Authorization": f"Bearer {live}"}).status_code == 404


def test_reads_are_public_by_default_and_private_when_configured(client, settings, auth) -> None:
    assert client.get("/checkpoints").status_code == 200
    private = settings.model_copy(update={"api_public_reads": False})
    with TestClient(create_app(private)) as closed:
        for path in ("/checkpoints", "/engines", "/tournaments", "/games", "/ratings/leaderboard"):
            assert closed.get(path).status_code == 401, path
            assert closed.get(path, headers=auth).status_code == 200, path
        assert closed.get("/healthz").status_code == 200  # probes need no token


def test_token_cli_prints_once_stores_only_the_hash_and_revokes(db_url, engine, client, tmp_path,
                                                                monkeypatch) -> None:
    with arena_settings(monkeypatch, database_url=db_url, data_dir=tmp_path / "data"):
        created = arena("token", "create", "--name", "cli", "--expires-in-days", "1")
        assert created.exit_code == 0, created.output
        token = created.stdout.strip().splitlines()[-1]
        duplicate = arena("token", "create", "--name", "cli")
        assert duplicate.exit_code == 1 and "already exists" in duplicate.output
        with session_scope(engine) as session:
            row = session.scalar(select(ApiToken).where(ApiToken.name == "cli"))
            assert row.token_sha256 == token_sha256(token) and row.expires_at is not None
        headers = {"Authorization": f"Bearer {token}"}
        assert client.post("/tournaments/1/cancel", headers=headers).status_code == 404  # authorised
        assert arena("token", "revoke", "cli").exit_code == 0
        assert client.post("/tournaments/1/cancel", headers=headers).status_code == 401
        missing = arena("token", "revoke", "nobody")
        assert missing.exit_code == 1 and "no token named 'nobody'" in missing.output


def test_openapi_documents_every_resource(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/checkpoints", "/checkpoints/{ref}", "/engines", "/tournaments", "/tournaments/{ref}",
                 "/tournaments/{ref}/cancel", "/ratings/leaderboard", "/ratings/head-to-head",
                 "/ratings/elo-vs-visits", "/ratings/runs/{run}/elo-vs-step", "/games", "/games/{game_id}",
                 "/games/{game_id}.sgf", "/healthz"):
        assert path in paths, path
    assert "multipart/form-data" in paths["/checkpoints"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200


def test_metrics_count_requests_by_route_template(client) -> None:
    client.get("/healthz")
    client.get("/games/999999")
    text = client.get("/metrics").text
    assert 'arena_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="/games/{game_id}"' in text  # the template, never the raw id
    assert "arena_http_request_duration_seconds_bucket" in text
