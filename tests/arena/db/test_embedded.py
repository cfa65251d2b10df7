"""The embedded PostgreSQL path, always exercised: start, migrate, write, stop, restart, data kept."""

from __future__ import annotations

import os

import sqlalchemy as sa

from arena.db import embedded, migrate
from arena.db import repository as repo
from arena.db.connection import database_url, make_engine, session_scope
from arena.db.models import Checkpoint
from arena.settings import Settings

from .conftest import unavailable

SHA = "ab" * 32


def test_embedded_server_survives_restart_with_its_data(data_dir):
    try:
        url = database_url(Settings(database_url=None, data_dir=data_dir))
    except embedded.EmbeddedPostgresError as exc:
        unavailable(f"embedded PostgreSQL did not start: {exc}")
    try:
        assert embedded.is_running(data_dir)
        assert (data_dir / "postgres" / "PG_VERSION").exists()
        assert embedded.start(data_dir) == url  # idempotent
        migrate.upgrade(url)
        engine = make_engine(url)
        with session_scope(engine) as s:
            repo.get_or_create_checkpoint(s, sha256=SHA, name="kept", manifest={"k": 1})
        engine.dispose()
    finally:
        embedded.stop(data_dir)
    assert not embedded.is_running(data_dir)

    url = embedded.start(data_dir)
    try:
        assert migrate.current_revision(url) == migrate.head_revision()
        engine = make_engine(url)
        with session_scope(engine) as s:
            stored = s.scalars(sa.select(Checkpoint)).one()
            assert (stored.sha256, stored.name, stored.manifest) == (SHA, "kept", {"k": 1})
        engine.dispose()
    finally:
        embedded.stop(data_dir)
    assert not embedded.is_running(data_dir)


def test_settings_read_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ARENA_DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.data_dir == tmp_path and settings.database_url is None
    monkeypatch.setenv("ARENA_DATABASE_URL", "postgresql://u@h:1/d")
    assert database_url(Settings()) == "postgresql+psycopg://u@h:1/d"


def test_default_data_dir_is_the_user_data_dir(monkeypatch):
    monkeypatch.delenv("ARENA_DATA_DIR", raising=False)
    assert "go-arena" in str(Settings().data_dir)
    assert os.path.isabs(Settings().data_dir)
