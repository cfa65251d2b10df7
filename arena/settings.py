"""Process-wide configuration, read from the environment (prefix `ARENA_`) and an optional `.env`.

One `Settings` object so every entry point (CLI, services, tests) resolves the database and the
data directory the same way.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    # The per-user data directory (e.g. ~/.local/share/go-arena): survives reinstalls and is
    # writable without privileges, which the embedded PostgreSQL's data needs.
    return Path(platformdirs.user_data_dir("go-arena"))


class Settings(BaseSettings):
    """Go Arena's settings; each field is overridable by `ARENA_<FIELD>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="ARENA_", env_file=".env", extra="ignore")

    # SQLAlchemy URL of the PostgreSQL database (`postgresql+psycopg://user@host:port/db`; a plain
    # `postgresql://` URL is accepted and given the psycopg 3 driver). None: start the embedded
    # PostgreSQL server under `data_dir/postgres` instead.
    database_url: str | None = None

    # Where the arena keeps its own files (the embedded server's data among them).
    data_dir: Path = Field(default_factory=_default_data_dir)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once (call `get_settings.cache_clear()` to re-read)."""
    return Settings()
