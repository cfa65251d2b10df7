"""Shared fixtures of the security suite: the API on a fresh PostgreSQL database with given
settings, and a live token of each scope.

    from tests.security.arena_app import (  # noqa: F401 -- fixtures
        admin_url, db_url, engine, settings, client, tokens, headers)

`client` answers 500s instead of raising them (a hostile case must see what a client sees);
`app_with(settings, **changes)` makes another app on the same database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from arena.api import create_app
from sqlalchemy import func, select

from arena.db.connection import session_scope
from arena.db.models import Checkpoint
from arena.settings import Settings
from arena.tokens import SCOPES, create_token
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module

__all__ = ["ENGINE_PAIR", "admin_url", "app_with", "client", "db_url", "engine", "headers", "settings",
           "stored_checkpoints", "tokens",
           "tournament_config"]

# Two engines that the workers would run (nothing runs them here: blocks go to a list).
ENGINES_TOML = """
[[engine]]
name = "e1"
command = ["/bin/true"]
board_sizes = [9]

[[engine]]
name = "e2"
command = ["/bin/true"]
board_sizes = [9]
"""
ENGINE_PAIR = ("e1", "e2")


def tournament_config(name: str, **changes) -> dict:
    """A small valid round robin between the two engines."""
    return {"name": name, "format": "round-robin", "board_size": 9, "games_per_pairing": 2,
            "openings": {"source": "none", "plies": 0},
            "participants": [{"name": ref, "kind": "engine", "ref": ref} for ref in ENGINE_PAIR],  # players are global
            **changes}


@pytest.fixture(scope="module")
def settings(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:  # noqa: F811
    root: Path = tmp_path_factory.mktemp("security")
    engines = root / "engines.toml"
    engines.write_text(ENGINES_TOML)
    return Settings(database_url=db_url, data_dir=root / "data", checkpoint_dir=root / "checkpoints",
                    engines_file=engines)


def app_with(settings: Settings, sent: list[dict] | None = None, **changes) -> TestClient:
    """A client of a new app on `settings` with `changes`; the blocks it sends go to `sent`."""
    app = create_app(settings.model_copy(update=changes), send=(sent if sent is not None else []).append)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with app_with(settings) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(engine) -> dict[str, str]:  # noqa: F811
    """A live token of each scope, by scope."""
    with session_scope(engine) as session:
        return {scope: create_token(session, name=f"security-{scope}", scope=scope).token for scope in SCOPES}


@pytest.fixture(scope="module")
def headers(tokens: dict[str, str]) -> dict[str, dict[str, str]]:
    """The Authorization header of each scope's token, by scope."""
    return {scope: {"Authorization": f"Bearer {token}"} for scope, token in tokens.items()}


def stored_checkpoints(engine, settings: Settings) -> tuple[int, list[str]]:  # noqa: F811
    """(checkpoint rows, folders in the checkpoint store): what a refused upload must leave as it was."""
    with session_scope(engine) as session:
        count = session.scalar(select(func.count()).select_from(Checkpoint))
    root = settings.checkpoint_root()
    return count, sorted(p.name for p in root.iterdir()) if root.is_dir() else []
