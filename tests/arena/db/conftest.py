"""A fresh, migrated database per test module.

Server choice: `ARENA_TEST_DATABASE_URL` (an admin URL) if set, else PostgreSQL at 127.0.0.1:5432
if it answers, else the embedded server (`ARENA_TEST_EMBEDDED=1` forces the embedded one, so CI
can run both paths). Under `CI=true` a missing server fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from arena.db import embedded, migrate
from arena.db.connection import make_engine, normalize_url
from tests.support.ci import unavailable

LOCAL_CANDIDATES = ("postgresql+psycopg://postgres@127.0.0.1:5432/test", "postgresql+psycopg://root@127.0.0.1:5432/test")


def _reachable(url: str) -> bool:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL with the right to create databases."""
    if configured := os.environ.get("ARENA_TEST_DATABASE_URL"):
        url = normalize_url(configured)
        if not _reachable(url):
            unavailable(f"ARENA_TEST_DATABASE_URL {configured} does not answer")
        yield url
        return
    if os.environ.get("ARENA_TEST_EMBEDDED") != "1":
        for url in LOCAL_CANDIDATES:
            if _reachable(url):
                yield url
                return
    data_dir = tmp_path_factory.mktemp("arena-embedded")
    try:
        url = embedded.start(data_dir)
    except embedded.EmbeddedPostgresError as exc:
        unavailable(f"no server at 127.0.0.1:5432 and the embedded one failed: {exc}")
    yield url
    embedded.stop(data_dir)


@pytest.fixture(scope="module")
def db_url(admin_url: str) -> Iterator[str]:
    """A uniquely named, migrated database, dropped after the module."""
    name = f"arena_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "arena-data"
