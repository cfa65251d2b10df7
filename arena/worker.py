"""The Celery application and the worker process's wiring to the arena's database.

One app for both ways of running (ARCHITECTURE.md): with `ARENA_BROKER_URL` set, Redis (or
RabbitMQ) in production; without it, the `filesystem://` broker under the data directory,
for a laptop or CI, where the arena starts its own workers.

Delivery guarantees are configured here once: tasks are acknowledged late and rejected (so
requeued) if their worker process is lost; a worker takes one message at a time, so a killed
worker strands at most the block it was playing; Redis redelivers that block after
`broker_visibility_timeout_s`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from celery import Celery, signals
from sqlalchemy import select

from arena.db.engine import make_engine, session_factory, session_scope
from arena.db.models import FinishedGame, Tournament
from arena.db.repository import ConflictingResultError, record_finished_game
from arena.settings import Settings, get_settings
from search_workers import tasks
from search_workers.schemas import FinishedGameRecord

log = logging.getLogger(__name__)

QUEUE = "arena.blocks"
games_at_once: int | None = None  # set by `arena worker --games-at-once`: games of a block in play at once


def broker_url(settings: Settings) -> str:
    return settings.broker_url or "filesystem://"


def broker_options(settings: Settings) -> dict:
    if settings.broker_url:
        return {"visibility_timeout": settings.broker_visibility_timeout_s}
    folder = settings.broker_dir()
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    # In and out are one folder: producers write messages where consumers read them. The
    # control folder (exchange bindings) too, else kombu writes it into the working directory.
    return {"data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"), "store_processed": False,
            "control_folder": str(folder / "control")}


def make_celery(settings: Settings | None = None) -> Celery:
    """The arena's Celery app for `settings` (default: this process's)."""
    settings = settings or get_settings()
    app = Celery("arena", broker=broker_url(settings), include=["search_workers.tasks"])
    app.conf.update(
        broker_transport_options=broker_options(settings),
        broker_connection_retry_on_startup=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        worker_hijack_root_logger=False,
        # A block is long; the broker must not think a healthy worker has vanished.
        broker_heartbeat=0,
    )
    return app


class DatabaseSink:
    """`tasks.GameSink` over the arena's database: idempotent writes, one transaction per game."""

    def __init__(self, url: str | None = None):
        self.engine = make_engine(url)
        self.sessions = session_factory(self.engine)

    def finished_ids(self, scheduled_game_ids: Sequence[int]) -> set[int]:
        with session_scope(self.sessions) as session:
            rows = session.scalars(select(FinishedGame.scheduled_game_id)
                                   .where(FinishedGame.scheduled_game_id.in_(list(scheduled_game_ids))))
            return set(rows)

    def tournament_status(self, tournament_id: int) -> str | None:
        """The tournament's status (one indexed lookup): the task stops a cancelled one's block."""
        with session_scope(self.sessions) as session:
            return session.scalar(select(Tournament.status).where(Tournament.id == tournament_id))

    def record(self, game: FinishedGameRecord) -> bool:
        try:
            with session_scope(self.sessions) as session:
                return record_finished_game(
                    session, scheduled_game_id=game.scheduled_game_id, result=game.result, score=game.score,
                    move_count=game.move_count, duration_s=game.duration_s, sgf=game.sgf,
                    move_stats=game.move_stats, worker=game.worker, software_version=game.software_version,
                    model_versions=game.provenance)
        except ConflictingResultError as exc:
            # Another delivery of the block stored this game first: the stored one stands.
            log.warning("%s", exc)
            return False

    def close(self) -> None:
        self.engine.dispose()


def configure_worker_process(settings: Settings | None = None, *, concurrency: int | None = None) -> None:
    """Give this process its task context: database sink, checkpoint store, engines."""
    settings = settings or get_settings()
    tasks.configure(tasks.WorkerContext(sink=DatabaseSink(), checkpoint_root=Path(settings.checkpoint_root()),
                                        engines=server_engines(settings),
                                        concurrency=concurrency or games_at_once,
                                        memory_bytes=settings.worker_memory_mb * 2**20,
                                        **triton_context(settings)))


def triton_context(settings: Settings) -> dict:
    """The worker context's Triton fields: the server, the model naming policy (the same
    `ckpt_<sha256[:16]>_b<N>[_cpu]` names registration exports), the repository and flavour.
    Empty without `triton_url`: workers then evaluate in-process with torch."""
    if not settings.triton_url:
        return {}
    from functools import partial

    from models.triton_serving import checkpoint_model_name

    return {"triton_url": settings.triton_url, "triton_flavour": settings.triton_flavour,
            "triton_model_name": partial(checkpoint_model_name, flavour=settings.triton_flavour),
            "triton_repository": settings.triton_repository}


def server_engines(settings: Settings | None = None) -> dict:
    """The engines this server may run: `ARENA_ENGINES_FILE`, else the built-in GNU Go presets
    (`gnugo` at level 10, also the dead-stone referee, and `gnugo-l1`) when GNU Go is installed."""
    from search_workers.engines.config import find_binary, load_engine_config, parse_engine_config

    settings = settings or get_settings()
    if settings.engines_file:
        return load_engine_config(settings.engines_file)
    if "/" not in find_binary("gnugo"):
        return {}
    return parse_engine_config({"engine": [
        {"name": "gnugo", "preset": "gnugo", "level": 10},
        {"name": "gnugo-l1", "preset": "gnugo", "level": 1},
    ]}, source="built-in engines")


def serve_worker_metrics(settings: Settings | None = None) -> int | None:
    """Serve this process's worker metrics (search_workers.metrics) on `worker_metrics_port` or the
    next free port; the port, or None when disabled or none is free."""
    from search_workers import metrics

    return metrics.serve((settings or get_settings()).worker_metrics_port)


@signals.worker_init.connect
def _init_worker(**_: object) -> None:
    # The solo and threads pools run tasks in the main process.
    configure_worker_process()
    serve_worker_metrics()


@signals.worker_process_init.connect
def _init_forked_child(**_: object) -> None:
    # Prefork children: each gets its own database connections and engine processes, and serves
    # its own metrics on the next free port.
    configure_worker_process()
    serve_worker_metrics()


def enqueue(app: Celery, payload: dict) -> None:
    """Send one block to the workers."""
    app.send_task(tasks.TASK_NAME, args=[payload], queue=QUEUE)
