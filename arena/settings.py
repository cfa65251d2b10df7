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

    # Leases (arena.leases): a worker claims a block's games for this many seconds and extends the
    # claim every quarter of it while it plays; the scheduler reclaims a lease expired (a dead
    # worker's games go back out about this long after it died) and sends its games again.
    lease_s: float = Field(default=30.0, ge=1, le=3600)
    # Seconds a block may play no move at all before the worker gives its games up (their leases
    # expire and the scheduler sends them again; search_workers.leases). Keep it above the longest
    # legitimate pause between two moves of a block: an engine's startup or move timeout, and
    # ARENA_TRITON_WAIT_S (an evaluation waiting out a Triton restart).
    block_stall_s: float = Field(default=900.0, ge=1, le=7 * 86_400)
    # Games sent to the workers but claimed by none for this long are sent again (a block lost
    # with a broker that does not redeliver, or one waiting behind a worker that died).
    queue_timeout_s: float = Field(default=300.0, ge=1, le=86400)
    # Deliveries a game may take before it is marked failed (each one whose worker died or lost
    # its lease counts); the blocks of a game's later attempts are halved, and single games on
    # the last, so one game that kills its worker takes none of its block's others down with it.
    max_block_attempts: int = Field(default=3, ge=1, le=20)
    # Blocks of one tournament sent and not yet claimed, at most: a backlog stays in the database,
    # not in the queue, so a queue timeout never sends a huge one again. 0: no bound.
    max_queued_blocks: int = Field(default=64, ge=0, le=100_000)

    # Server-side engine definitions (TOML; see engines.example.toml). None: built-in presets
    # only (GNU Go when installed). Clients refer to engines by name and never send commands.
    engines_file: Path | None = None

    # HTTP API: GET endpoints answer without a token when true (writes always need one).
    api_public_reads: bool = True

    # HTTP API: database connections per API process for the asynchronous read path (game pages,
    # leaderboards, /healthz). Requests beyond it wait for one; more rarely helps, since the
    # database does the work.
    api_read_connections: int = Field(default=8, ge=1, le=100)

    # HTTP API (`arena api`, its one default worker or --workers N): a worker whose event loop has
    # not run for this many seconds is hung (it still gets its share of new connections, and they
    # wait forever): the supervisor kills and replaces it. Well above the longest a request may
    # hold the loop.
    api_worker_hang_s: float = Field(default=30.0, ge=2, le=3600)

    # HTTP API: how old (seconds) the check "has a game been added?" behind a cached leaderboard
    # may be. A game is in the leaderboards at most this long after it is stored; 0: checked on
    # every request (one query each).
    api_leaderboard_max_age_s: float = Field(default=2.0, ge=0, le=60)

    # HTTP API: the largest request body other than a checkpoint upload (JSON: a tournament's
    # configuration is a few kB), in bytes; larger is a 413 before the rest is read.
    api_max_json_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)

    # HTTP API: the largest checkpoint upload accepted (manifest and weights together), in bytes.
    api_max_upload_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    # HTTP API: the largest manifest part of an upload, in bytes. A manifest is a few kB; the cap
    # keeps a hostile one from being buffered whole before it is validated.
    api_max_manifest_bytes: int = Field(default=1024 * 1024, ge=1024, le=4 * 1024 * 1024)

    # Folders whose files `{"path": ...}` registrations (HTTP, gRPC) and `openings.directory` of
    # tournaments created over the network may name (a JSON list in the environment). Paths are
    # resolved, symlinks included, before the check. Empty: none (register by upload instead).
    import_dirs: list[Path] = Field(default_factory=list)

    # The largest network architecture a checkpoint may declare, refused before anything is
    # allocated: every worker will hold it in memory and search with it.
    max_network_blocks: int = Field(default=40, ge=1, le=64)
    max_network_channels: int = Field(default=384, ge=8, le=512)
    max_network_parameters: int = Field(default=64_000_000, ge=1_000, le=1_000_000_000)
    # Seconds the test forward of a registration may take (it runs in a worker thread); a network
    # slower than this on a few positions would not play games at a useful speed either.
    checkpoint_forward_timeout_s: float = Field(default=60.0, gt=0, le=3600)

    # gRPC API: certificate and key files (PEM) of the server; both set: TLS, neither: clear text
    # (keep it on loopback, the default bind, or behind a TLS proxy).
    grpc_tls_cert: Path | None = None
    grpc_tls_key: Path | None = None
    # gRPC API: open streams (WatchGames, WatchRatings) at once, on the whole server and from one
    # client address; each holds a server thread, and beyond these a stream is RESOURCE_EXHAUSTED.
    # The server has more threads than this, so unary calls (GetLeaderboard) always find one.
    grpc_max_streams: int = Field(default=16, ge=1, le=1000)
    grpc_max_streams_per_peer: int = Field(default=4, ge=1, le=1000)

    # Tournaments this server runs (arena.scheduling.limits), each refused at creation with a 422
    # naming the setting. Games a tournament may ever schedule: planning and storing 100,000
    # games takes seconds and their rows stay; an adaptive tournament without a game_budget gets
    # this one.
    max_games_per_tournament: int = Field(default=100_000, ge=2, le=10_000_000)
    # Players of one tournament (visits-ladder rungs included): a round-robin's pairings grow
    # with the square of it.
    max_players_per_tournament: int = Field(default=64, ge=2, le=1000)
    # Playouts per move of a searching player: the search tree is allocated up front for them
    # (about 6.7 KB per visit per game on 9x9, 29 KB on 19x19).
    max_visits: int = Field(default=16_384, ge=1, le=1_000_000)
    # Memory (MiB) the search trees of one block may take in a worker process, network and
    # engines aside. Blocks are cut to fit it, a game that cannot fit alone is refused at
    # creation, and a worker refuses (without retrying) a block beyond its own value.
    worker_memory_mb: int = Field(default=4096, ge=16, le=1_048_576)

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
    # Groups of a block's games a worker keeps in flight through Triton (search_workers' BatchedMcts):
    # 2 overlaps one group's request with the other's tree work, which pays when a worker has the
    # server to itself; with several workers per server their requests overlap anyway, and 1 sends
    # half the requests, each twice the rows (the client's CPU is per request: docs/capacity.md).
    # At most search_workers.schemas.MAX_PIPELINE_GROUPS, which the memory limits assume.
    triton_pipeline_groups: int = Field(default=2, ge=1, le=2)

    # Faults (docs/operations.md, "Outages"). Seconds a worker keeps a finished game it could not
    # store (database down) and retries it with backoff (1 s doubling to 30 s); then the block gives
    # its games back and fails. At least 10 minutes so a database restart or failover never costs a game.
    store_retry_s: float = Field(default=600.0, ge=1, le=86_400)
    # Seconds an evaluation waits, retrying with backoff, for an unavailable Triton server (or a
    # model being loaded again) before the game in play fails.
    triton_wait_s: float = Field(default=120.0, ge=0, le=3600)
    # Seconds an engine process (GNU Go...) may sit idle in a worker's pool before it is stopped.
    engine_idle_s: float = Field(default=300.0, gt=0, le=86_400)
    # Engine processes one worker process keeps at most (busy and idle together); a game that
    # needs one more waits for one to be released, and idle ones of other engines are stopped first.
    max_engine_processes: int = Field(default=16, ge=2, le=1024)

    # A gauntlet template (TOML/JSON, see arena/enrolment.py): every newly registered checkpoint
    # is enrolled in `<checkpoint>-gauntlet` against its pool. None: no automatic enrolment.
    auto_gauntlet: Path | None = None

    # A reference ladder (TOML/JSON, see arena/reference_ladder.py): engines of the engines file at
    # fixed strengths (GNU Go levels, KataGo visits), played once per condition by `arena reference
    # play` and kept; leaderboards then give each player's Elo relative to `reference_point` and
    # its equivalent strength on the ladder. None: no reference scale.
    reference_ladder: Path | None = None
    # The player at Elo 0 of the relative scale (e.g. "gnugo-l1", "katago-b6c96@1v"); None: the
    # ladder file's `reference_point`, else its lowest rung.
    reference_point: str | None = Field(default=None, min_length=1, max_length=100)

    # Days a finished game keeps its per-move statistics (most of its stored bytes); past them the
    # scheduler empties them in batches (arena.retention), keeping result, score and SGF. 0: forever.
    move_stats_retention_days: float = Field(default=0, ge=0, le=36_500)

    def checkpoint_root(self) -> Path:
        return self.checkpoint_dir or self.data_dir / "checkpoints"

    def broker_dir(self) -> Path:
        return self.data_dir / "broker"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once (call `get_settings.cache_clear()` to re-read)."""
    return Settings()
