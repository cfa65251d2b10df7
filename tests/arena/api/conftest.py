"""The HTTP API over FastAPI's TestClient on a real PostgreSQL: a fresh migrated database, a
temporary checkpoint store and data directory (the filesystem broker writes there) per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from arena.api import create_app
from arena.db.connection import session_scope
from arena.settings import Settings
from arena.tokens import create_token
from models.demo import DEMO_DIR
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module

ENGINES_TOML = """
[[engine]]
name = "gnugo-l1"
preset = "gnugo"
level = 1

[[engine]]
name = "big-only"
command = ["/bin/true"]
board_sizes = [19]
"""


@pytest.fixture(scope="module")
def api_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api")


@pytest.fixture(scope="module")
def settings(db_url: str, api_dir: Path) -> Settings:  # noqa: F811
    engines = api_dir / "engines.toml"
    engines.write_text(ENGINES_TOML)
    # The demo checkpoints' folder is open to `{"path": ...}` registrations (ARENA_IMPORT_DIRS).
    return Settings(database_url=db_url, data_dir=api_dir / "data", checkpoint_dir=api_dir / "checkpoints",
                    engines_file=engines, import_dirs=[DEMO_DIR])


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def token(engine) -> str:  # noqa: F811
    with session_scope(engine) as session:
        return create_token(session, name="tests").token


@pytest.fixture(scope="module")
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
