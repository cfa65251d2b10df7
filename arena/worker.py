"""The Celery application and the worker process's wiring to the arena's database.

One app for both ways of running (ARCHITECTURE.md): with `ARENA_BROKER_URL` set, Redis (or
RabbitMQ) in production; without it, the `filesystem://` broker under the data directory,
for a laptop or CI, where the arena starts its own workers.

Delivery guarantees are configured here once, and the database's leases carry them, not the
broker (arena.leases): a worker claims a block's games before playing them and extends its
leases while it plays; the scheduler sends again what a dead worker held once its lease expires,
whatever the broker (the filesystem broker never redelivers). A worker takes one message at a
time, acknowledged once the block has run; a message whose worker died is not requeued (see
`make_celery`).
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Sequence

from amqp.exceptions import ChannelError
from celery import Celery, signals
from sqlalchemy import select

from arena import leases
from arena.db.connection import make_engine, session_factory, session_scope
from arena.db.models import FinishedGame, Tournament
from arena.db.outage import is_broker_outage, is_database_outage
from arena.db.repository import ConflictingResultError, record_finished_game
from arena.server_engines import server_engines
from arena.settings import Settings, get_settings
from models.triton_serving import checkpoint_model_name
from search_workers import metrics, tasks
from search_workers.evaluators.process_memory import keep_freed_memory
from search_workers.schemas import FinishedGameRecord

log = logging.getLogger(__name__)

QUEUE = "arena.blocks"
games_at_once: int | None = None  # set by `arena worker --games-at-once`: games of a block in play at once
# Set by `arena worker --pool solo`: a worker whose one block got stuck exits once the block's games
# are given up, and its supervisor (docker compose's restart policy, systemd, the embedded way's
# arena.scheduler.LocalWorkers) starts it again. A
# threads-pool worker stays: other blocks play in it.
solo_exits_when_stuck = False


def broker_url(settings: Settings) -> str:
    return settings.broker_url or "filesystem://"


# A Redis broker that vanished without a reset (its host crashed, a partition) blocked whatever
# waited on it for ever: a scheduler pass counting the queue or sending a block, measured still
# waiting after 40 s. With these, such a call fails (the pass backs off and retries) and a worker's
# consumer reconnects. The read timeout stays well above kombu's 1 s BRPOP poll.
REDIS_NETWORK_TIMEOUTS = {"socket_connect_timeout": 10, "socket_timeout": 30, "socket_keepalive": True}


def broker_options(settings: Settings) -> dict:
    if settings.broker_url:
        options = {"visibility_timeout": settings.broker_visibility_timeout_s}
        if settings.broker_url.startswith(("redis://", "rediss://")):
            options.update(REDIS_NETWORK_TIMEOUTS)
        return options
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
        # Acknowledged after the block, so that with a prefetch of 1 a busy worker holds no second
        # block unclaimed behind the one it plays.
        task_acks_late=True,
        # Not requeued when the worker process dies under it: a block that kills its worker
        # (a segfault, out of memory) would otherwise come back to worker after worker forever.
        # The leases take over: its games return through the scheduler's reclaim, counted as
        # attempts, halved into smaller blocks, and failed at ARENA_MAX_BLOCK_ATTEMPTS. (A
        # Redis message of a solo worker killed outright may still come back after the visibility
        # timeout; its claim then gets only what no live lease holds and nothing failed.)
        task_reject_on_worker_lost=False,
        # A broker connection lost while a block plays (a RabbitMQ restart) does not cancel the
        # block: its games are stored as they end, and the message whose acknowledgement was lost
        # comes back to a claim that finds them played (Celery 6 would cancel it by default).
        worker_cancel_long_running_tasks_on_connection_loss=False,
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


@contextmanager
def database_outage_as_unavailable():
    """Turn a connection-type database failure into `tasks.SinkUnavailableError`, which the task
    rides out (a finished game is kept and stored again later) instead of failing the block."""
    try:
        yield
    except Exception as exc:
        if is_database_outage(exc):
            raise tasks.SinkUnavailableError(f"database unavailable: {type(exc).__name__}: "
                                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
        raise


class DatabaseSink:
    """`tasks.GameSink` over the arena's database: idempotent writes, one transaction per game.

    Connection-type failures surface as `tasks.SinkUnavailableError` (see
    `database_outage_as_unavailable`); the engine's `pool_pre_ping` reconnects once the server is back.
    """

    def __init__(self, url: str | None = None):
        self.db_engine = make_engine(url)
        self.sessions = session_factory(self.db_engine)

    def finished_ids(self, scheduled_game_ids: Sequence[int]) -> set[int]:
        with database_outage_as_unavailable(), session_scope(self.sessions) as session:
            rows = session.scalars(select(FinishedGame.scheduled_game_id)
                                   .where(FinishedGame.scheduled_game_id.in_(list(scheduled_game_ids))))
            return set(rows)

    def tournament_status(self, tournament_id: int) -> str | None:
        """The tournament's status (one indexed lookup): the task stops a cancelled one's block."""
        with database_outage_as_unavailable(), session_scope(self.sessions) as session:
            return session.scalar(select(Tournament.status).where(Tournament.id == tournament_id))

    def record(self, game: FinishedGameRecord) -> bool:
        try:
            with database_outage_as_unavailable(), session_scope(self.sessions) as session:
                return record_finished_game(
                    session, scheduled_game_id=game.scheduled_game_id, result=game.result, score=game.score,
                    move_count=game.move_count, duration_s=game.duration_s, sgf=game.sgf,
                    move_stats=game.move_stats, worker=game.worker, software_version=game.software_version,
                    model_versions=game.provenance, score_tromp_taylor=game.score_tromp_taylor,
                    scoring_disagrees=game.scoring_disagrees)
        except ConflictingResultError as exc:
            # Another delivery of the block stored this game first: the stored one stands.
            log.warning("%s", exc)
            return False

    def claim(self, game_ids: Sequence[int], worker: str, lease_s: float) -> list[int]:
        """Lease the games to `worker` (arena.leases.claim): the ids it may play."""
        with database_outage_as_unavailable(), session_scope(self.sessions) as session:
            return leases.claim(session, game_ids=game_ids, worker=worker, lease_s=lease_s)

    def extend(self, game_ids: Sequence[int], worker: str, lease_s: float) -> set[int]:
        """Extend `worker`'s leases (arena.leases.extend): the ids it still holds."""
        with database_outage_as_unavailable(), session_scope(self.sessions) as session:
            return leases.extend(session, game_ids=game_ids, worker=worker, lease_s=lease_s)

    def give_back(self, game_ids: Sequence[int], worker: str) -> None:
        """Release `worker`'s leases without counting the attempt (arena.leases.give_back)."""
        with database_outage_as_unavailable(), session_scope(self.sessions) as session:
            leases.give_back(session, game_ids=game_ids, worker=worker)

    def heartbeat(self, state: tasks.WorkerState) -> None:
        """The worker's `workers` row: alive now, what it holds and has stored."""
        with database_outage_as_unavailable(), session_scope(self.sessions) as session:
            leases.heartbeat(session, name=state.name, hostname=state.hostname, pid=state.pid,
                             started_at=state.started_at, blocks_in_hand=state.blocks_in_hand,
                             games_in_hand=state.games_in_hand, games_stored=state.games_stored,
                             stopped=state.stopped)

    def close(self) -> None:
        self.db_engine.dispose()


def stall_limit_problem(settings: Settings, engines: dict) -> str | None:
    """Why ARENA_BLOCK_STALL_S would give up blocks that are only slow, or None. A block may rightly
    play no move for an engine's startup and move timeouts together (a first genmove) or while
    an evaluation waits out a Triton restart (ARENA_TRITON_WAIT_S)."""
    pauses = {"ARENA_TRITON_WAIT_S": settings.triton_wait_s} if settings.triton_url else {}
    for name, spec in engines.items():
        pauses[f"engine {name!r} startup_timeout + move_timeout"] = spec.startup_timeout + spec.move_timeout
    if not pauses:
        return None
    what, longest = max(pauses.items(), key=lambda item: item[1])
    if settings.block_stall_s > longest:
        return None
    return (f"ARENA_BLOCK_STALL_S ({settings.block_stall_s:g} s) must be longer than the longest pause a block "
            f"may rightly make between two moves: {what} is {longest:g} s")


def configure_worker_process(settings: Settings | None = None, *, concurrency: int | None = None,
                             pool_child: bool = False) -> None:
    """Give this process its task context: database sink, checkpoint store, engines; and keep
    freed memory for the next batch (search_workers.evaluators.process_memory)."""
    settings = settings or get_settings()
    keep_freed_memory()
    tasks.configure(tasks.WorkerContext(sink=DatabaseSink(), checkpoint_root=Path(settings.checkpoint_root()),
                                        engines=server_engines(settings),
                                        concurrency=concurrency or games_at_once,
                                        memory_bytes=settings.worker_memory_mb * 2**20,
                                        lease_s=settings.lease_s,
                                        block_stall_s=settings.block_stall_s,
                                        exit_when_stuck=pool_child or solo_exits_when_stuck,
                                        store_retry_s=settings.store_retry_s,
                                        triton_wait_s=settings.triton_wait_s,
                                        engine_idle_s=settings.engine_idle_s,
                                        max_engine_processes=settings.max_engine_processes,
                                        **triton_context(settings)))


def triton_context(settings: Settings) -> dict:
    """The worker context's Triton fields: the server, the model naming policy (the same
    `ckpt_<sha256[:16]>_b<N>[_cpu]` names registration exports), the repository and flavour.
    Empty without `triton_url`: workers then evaluate in-process with torch."""
    if not settings.triton_url:
        return {}
    return {"triton_url": settings.triton_url, "triton_flavour": settings.triton_flavour,
            "triton_model_name": partial(checkpoint_model_name, flavour=settings.triton_flavour),
            "triton_repository": settings.triton_repository, "triton_pipeline_groups": settings.triton_pipeline_groups}


def serve_worker_metrics(settings: Settings | None = None) -> int | None:
    """Serve this process's worker metrics (search_workers.metrics) on `worker_metrics_port` or the
    next free port; the port, or None when disabled or none is free."""
    return metrics.serve((settings or get_settings()).worker_metrics_port)


@signals.worker_init.connect
def _init_worker(**_: object) -> None:
    # The solo and threads pools run tasks in the main process.
    configure_worker_process()
    serve_worker_metrics()


@signals.worker_shutting_down.connect
def _stop_gracefully(**_: object) -> None:
    # SIGTERM/SIGINT (Celery's warm shutdown), in the main process: Celery takes no new block, and
    # the block in hand (in this process, or in a prefork child: the stop event is shared across
    # the fork) stops at its next finished game and gives the rest back, so the worker exits in
    # seconds, not after the block.
    tasks.request_stop()


@signals.worker_process_init.connect
def _init_forked_child(**_: object) -> None:
    # Prefork children: each gets its own database connections and engine processes, and serves
    # its own metrics on the next free port. A child whose block gets stuck exits once the block's
    # games are given up, and the pool starts another (search_workers.leases).
    configure_worker_process(pool_child=True)
    serve_worker_metrics()


def queued_blocks(app: Celery) -> int | None:
    """Blocks waiting in the broker's queue, taken by no worker yet (one round trip); 0 for a
    queue the broker does not know (a Redis restarted without persistence lost it, messages and
    all); None when the broker cannot say. A broker outage raises (the scheduler backs off)."""
    try:
        with app.connection_for_write() as connection:
            # One try: a broker that is down must fail this pass at once (the scheduler backs
            # off and logs it), not hold it in kombu's long reconnect loop.
            connection.ensure_connection(max_retries=1)
            return connection.default_channel.queue_declare(queue=QUEUE, passive=True).message_count
    except ChannelError as exc:
        if str(getattr(exc, "reply_code", "")) == "404":  # NOT_FOUND (kombu's Redis gives it as text)
            return 0
        log.warning("the broker cannot count its queued blocks (%s); lost blocks wait for the queue timeout", exc)
        return None
    except Exception as exc:  # noqa: BLE001 -- a transport that cannot count is not an outage
        if is_broker_outage(exc):
            raise
        log.warning("the broker cannot count its queued blocks (%s); lost blocks wait for the queue timeout",
                    type(exc).__name__)
        return None


def enqueue(app: Celery, payload: dict) -> None:
    """Send one block to the workers."""
    app.send_task(tasks.TASK_NAME, args=[payload], queue=QUEUE)


class BlockQueue:
    """The task sender: block payloads to the workers through this server's Celery app, made on
    first use (an API that only reads never touches the broker)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._app: Celery | None = None
        self._lock = threading.Lock()

    @property
    def app(self) -> Celery:
        with self._lock:
            if self._app is None:
                self._app = make_celery(self.settings)
            return self._app

    def send(self, payload: dict) -> None:
        """Send one block to the workers (`enqueue`)."""
        enqueue(self.app, payload)
