"""Running `arena` commands in-process against a test database, with settings from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from arena.cli import app
from arena.settings import get_settings

_runner = CliRunner()


@contextmanager
def arena_settings(monkeypatch: pytest.MonkeyPatch, *, database_url: str, data_dir: Path,
                   checkpoint_dir: Path | None = None) -> Iterator[None]:
    """ARENA_* pointed at the test database and temporary folders; settings re-read inside and after."""
    monkeypatch.setenv("ARENA_DATABASE_URL", database_url)
    monkeypatch.setenv("ARENA_DATA_DIR", str(data_dir))
    if checkpoint_dir is not None:
        monkeypatch.setenv("ARENA_CHECKPOINT_DIR", str(checkpoint_dir))
    monkeypatch.setenv("COLUMNS", "250")  # rich tables at full width
    get_settings.cache_clear()
    try:
        yield
    finally:
        get_settings.cache_clear()


def invoke_arena(*args: str) -> Result:
    """Run `arena ARGS...`; an unexpected exception (not an exit) is raised, not hidden in the result."""
    result = _runner.invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result
