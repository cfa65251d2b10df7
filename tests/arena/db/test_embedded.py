"""The embedded PostgreSQL path, always exercised: start, migrate, write, stop, restart, data kept."""

from __future__ import annotations

import os
import signal
import time

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


def test_a_killed_embedded_server_is_started_again_with_its_data(data_dir, monkeypatch):
    """The postmaster killed outright (SIGKILL, as the OOM killer does) under a process holding it:
    the process's watcher starts it again on the same data, committed rows survive (crash
    recovery), and a pre-pinging engine carries on; a deliberate stop is not undone."""
    monkeypatch.setattr(embedded, "WATCH_INTERVAL_S", 0.2)
    try:
        url = database_url(Settings(database_url=None, data_dir=data_dir))
    except embedded.EmbeddedPostgresError as exc:
        unavailable(f"embedded PostgreSQL did not start: {exc}")
    engine = None
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        with session_scope(engine) as s:
            repo.get_or_create_checkpoint(s, sha256=SHA, name="before the kill", manifest={})
        pid_file = data_dir / "postgres" / "postmaster.pid"
        killed = int(pid_file.read_text().split()[0])
        os.kill(killed, signal.SIGKILL)
        deadline, names = time.monotonic() + 60, None
        while names is None:  # what a service sees: a short outage, then the same data
            try:
                with session_scope(engine) as s:
                    names = s.scalars(sa.select(Checkpoint.name)).all()
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise AssertionError("the embedded PostgreSQL was not started again within 60 s") from None
                time.sleep(0.2)
        assert names == ["before the kill"]
        assert embedded.is_running(data_dir) and int(pid_file.read_text().split()[0]) != killed
        assert embedded.start(data_dir) == url  # same socket, same URL
    finally:
        if engine is not None:
            engine.dispose()
        embedded.stop(data_dir)
    time.sleep(1.0)  # five watch intervals: a watcher still running would have started it again
    assert not embedded.is_running(data_dir)
