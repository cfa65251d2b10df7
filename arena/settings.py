"""Process-wide configuration, read from the environment (prefix `ARENA_`) and an optional `.env`.

One `Settings` object so every entry point (CLI, services, tests) resolves the database and the
data directory the same way.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

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

    # Registered checkpoints, content-addressed: `<checkpoint_dir>/<sha256>/<name>.json` plus
    # weights. Workers load from here, so in production it is shared storage. None: data_dir/checkpoints.
    checkpoint_dir: Path | None = None

    # Celery broker: `redis://host:6379/0` (production) or `amqp://...` (RabbitMQ). None: the
    # filesystem broker under data_dir/broker, with workers started by the app (embedded).
    broker_url: str | None = None

    # Redis/SQS redeliver a task whose worker died without acknowledging it after this long;
    # keep it above the longest block (a live worker's task is redelivered too once it passes).
    broker_visibility_timeout_s: float = Field(default=3600.0, gt=0)

    # Server-side engine definitions (TOML; see engines.example.toml). None: built-in presets
    # only (GNU Go when installed). Clients refer to engines by name and never send commands.
    engines_file: Path | None = None

    # HTTP API: GET endpoints answer without a token when true (writes always need one).
    api_public_reads: bool = True

    # HTTP API: database connections per API process for the asynchronous read path (game pages,
    # leaderboards, /healthz). Requests beyond it wait for one; more rarely helps, since the
    # database does the work.
    api_read_connections: int = Field(default=8, ge=1, le=100)

    # HTTP API: how old (seconds) the check "has a game been added?" behind a cached leaderboard
    # may be. A game is in the leaderboards at most this long after it is stored; 0: checked on
    # every request (one query each).
    api_leaderboard_max_age_s: float = Field(default=2.0, ge=0, le=60)

    # HTTP API: the largest checkpoint upload accepted (manifest and weights together), in bytes.
    api_max_upload_bytes: int = Field(default=512 * 1024 * 1024, gt=0)

    # Port each match worker process serves its Prometheus metrics on (0: none). Prefork children
    # take the next free ports up from it (see search_workers.metrics).
    worker_metrics_port: int = Field(default=9101, ge=0, le=65535)

    # Triton Inference Server (production inference). None: workers evaluate in-process with torch.
    # Set: registering a checkpoint exports it into `triton_repository` (when set; the directory
    # the server reads) and loads it (the server runs with explicit model control), and workers
    # play checkpoints through TritonEvaluator at this gRPC address (host:port).
    triton_url: str | None = None
    triton_repository: Path | None = None
    # Which exported flavour is served: "gpu" (libtorch, KIND_GPU) or "cpu" (Python backend).
    triton_flavour: Literal["gpu", "cpu"] = "gpu"

    # A gauntlet template (TOML/JSON, see arena/enrolment.py): every newly registered checkpoint
    # is enrolled in `<checkpoint>-gauntlet` against its pool. None: no automatic enrolment.
    auto_gauntlet: Path | None = None

    def checkpoint_root(self) -> Path:
        return self.checkpoint_dir or self.data_dir / "checkpoints"

    def broker_dir(self) -> Path:
        return self.data_dir / "broker"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once (call `get_settings.cache_clear()` to re-read)."""
    return Settings()
