"""Hostile case: tokens had no scopes (any token registered checkpoints, created tournaments and
cancelled anyone's). Now a read token cannot write, a submit token cancels only its own
tournaments, an admin any; each refusal is a 403 naming the scope needed, and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from arena.db.connection import session_scope
from arena.db.models import ApiToken, Checkpoint, Tournament
from arena.tokens import TokenError, create_token, token_sha256
from tests.security.arena_app import (  # noqa: F401 -- fixtures
    admin_url, client, db_url, engine, headers, settings, tokens, tournament_config)
from tests.support.arena_cli import arena_settings
from tests.support.arena_cli import invoke_arena as arena


def _count(engine, model) -> int:  # noqa: F811
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def _status(engine, name: str) -> str:  # noqa: F811
    with session_scope(engine) as session:
        return session.scalar(select(Tournament.status).where(Tournament.name == name))


def _created(client, headers, name: str) -> dict:  # noqa: F811
    response = client.post("/tournaments", json=tournament_config(name), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["tournament"]


def test_read_token_cannot_create_a_tournament(client, headers, engine) -> None:  # noqa: F811
    before = _count(engine, Tournament)
    response = client.post("/tournaments", json=tournament_config("by-reader"), headers=headers["read"])
    assert response.status_code == 403, response.text
    assert "scope 'submit'" in response.json()["detail"] and "security-read" in response.json()["detail"]
    assert _count(engine, Tournament) == before


def test_read_token_cannot_register_a_checkpoint(client, headers, engine) -> None:  # noqa: F811
    response = client.post("/checkpoints", json={"path": "/etc/passwd"}, headers=headers["read"])
    assert response.status_code == 403 and "scope 'submit'" in response.json()["detail"], response.text
    assert "root:" not in response.text  # refused before the path is looked at
    assert _count(engine, Checkpoint) == 0


def test_read_token_reads(client, headers) -> None:  # noqa: F811
    assert client.get("/tournaments", headers=headers["read"]).status_code == 200


def test_submit_token_cannot_cancel_another_tokens_tournament(client, headers, engine) -> None:  # noqa: F811
    with session_scope(engine) as session:
        other = create_token(session, name="someone-else", scope="submit").token
    _created(client, {"Authorization": f"Bearer {other}"}, "theirs")
    response = client.post("/tournaments/theirs/cancel", headers=headers["submit"])
    assert response.status_code == 403, response.text
    assert "scope 'admin'" in response.json()["detail"]
    assert _status(engine, "theirs") == "running"


def test_submit_token_cancels_its_own_and_records_itself_as_owner(client, headers, engine) -> None:  # noqa: F811
    _created(client, headers["submit"], "mine")
    with session_scope(engine) as session:
        owner = session.scalar(select(ApiToken.name).join(Tournament, Tournament.created_by_token_id == ApiToken.id)
                               .where(Tournament.name == "mine"))
    assert owner == "security-submit"
    response = client.post("/tournaments/mine/cancel", headers=headers["submit"])
    assert response.status_code == 200 and response.json()["progress"]["status"] == "cancelled"


def test_cli_made_tournaments_need_an_admin_to_cancel(client, headers, engine) -> None:  # noqa: F811
    _created(client, headers["admin"], "orphan")
    with session_scope(engine) as session:  # as if made by the CLI, or by a token since deleted
        session.execute(Tournament.__table__.update().where(Tournament.name == "orphan")
                        .values(created_by_token_id=None))
    assert client.post("/tournaments/orphan/cancel", headers=headers["submit"]).status_code == 403
    assert _status(engine, "orphan") == "running"


def test_admin_token_cancels_any_tournament(client, headers, engine) -> None:  # noqa: F811
    _created(client, headers["submit"], "anyones")
    response = client.post("/tournaments/anyones/cancel", headers=headers["admin"])
    assert response.status_code == 200 and _status(engine, "anyones") == "cancelled"


def test_unknown_scope_is_refused(engine) -> None:  # noqa: F811
    with session_scope(engine) as session, pytest.raises(TokenError, match="scope: must be one of"):
        create_token(session, name="root", scope="root")


def test_token_cli_creates_with_a_scope_and_lists_without_secrets(db_url, engine, tmp_path,  # noqa: F811
                                                                 monkeypatch) -> None:
    with arena_settings(monkeypatch, database_url=db_url, data_dir=tmp_path / "data"):
        created = arena("token", "create", "--name", "dash", "--scope", "read")
        assert created.exit_code == 0 and "scope read" in created.output, created.output
        secret = created.stdout.strip().splitlines()[-1]
        bad = arena("token", "create", "--name", "x", "--scope", "superuser")
        assert bad.exit_code == 1 and "scope: must be one of read, submit, admin" in bad.output
        default = arena("token", "create", "--name", "plain")
        assert default.exit_code == 0 and "scope submit" in default.output
        listed = arena("token", "list")
        assert listed.exit_code == 0, listed.output
        assert "dash" in listed.output and "read" in listed.output and "plain" in listed.output
        assert secret not in listed.output and token_sha256(secret) not in listed.output
        assert "arena_" not in listed.output  # no token, nor the start of one
    with session_scope(engine) as session:
        assert session.scalar(select(ApiToken.scope).where(ApiToken.name == "dash")) == "read"
        assert session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.name == "x")) == 0
