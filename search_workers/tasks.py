"""Celery tasks (layer 5): validate a versioned payload, play the block, store each game, return.

`arena.play_block` plays a block of scheduled games concurrently in one process, so each
network's evaluator batches across them (`play_games`). Each game is written the moment it
ends, through the `GameSink` the worker process was configured with (the arena's database, see
`arena.worker`): the task layer knows the storage contract, not the storage.

Crash safety, end to end:
- the task is acknowledged late (`acks_late`, `reject_on_worker_lost`): a worker killed in the
  middle of a block leaves its message unacknowledged and the broker delivers it again;
- a redelivered block first asks the sink which of its games are already stored and plays only
  the others, so finished games are never replayed or counted twice;
- the sink's write is idempotent (an identical rewrite is a no-op, a different one is refused
  and the stored game kept), which covers two deliveries racing on two workers.

Bounded and stoppable:
- a block whose search trees (allocated up front, see BlockPayload.search_bytes_at_once) would
  exceed the worker's memory budget is refused before anything is loaded or allocated
  (`BlockTooLargeError`) and never requeued: it would only kill worker after worker;
- a block of a tournament cancelled meanwhile is not played, and one cancelled during play stops
  at the next finished game (the sink is asked for the status at most once per
  `cancel_check_s`); games in play then are abandoned, stored games stay.

Evaluators (one per checkpoint sha256) and engine processes (an `EnginePool`) are cached per
worker process between tasks. Configuration comes from `configure`, called once per worker
process: never from the environment inside a task.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

from celery import shared_task
from celery.exceptions import Reject
from pydantic import ValidationError

from search_workers.engines import BlockGame, EngineSeat, GameOutcome, MctsPlayer, Settlement, play_games
from search_workers.go import GameRecord, write_sgf
from search_workers.search import SearchConfig

from . import metrics
from .schemas import BlockPayload, BlockResult, CheckpointPlayer, FinishedGameRecord

log = logging.getLogger(__name__)

TASK_NAME = "arena.play_block"
SOFTWARE_VERSION = "go-arena 0.1.0"
MAX_CACHED_EVALUATORS = 8


class GameSink(Protocol):
    """Where finished games go (the arena's database in a worker)."""

    def finished_ids(self, scheduled_game_ids: Sequence[int]) -> set[int]: ...

    def record(self, game: FinishedGameRecord) -> bool: ...  # True: stored now, False: already there

    def tournament_status(self, tournament_id: int) -> str | None: ...  # "running", "cancelled"...; None: unknown


class BlockTooLargeError(ValueError):
    """A block whose search memory exceeds this worker's budget: refused, never retried."""


@dataclass
class WorkerContext:
    """What a worker process plays with; set once per process by `configure`."""

    sink: GameSink
    checkpoint_root: Path  # the content-addressed checkpoint store (<root>/<sha256>/<name>.json)
    engines: Mapping[str, Any]  # engine name -> EngineSpec (server-side configuration)
    worker_name: str = dataclasses.field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    device: str = "cpu"
    concurrency: int | None = None  # games in play at once within a block (None: the whole block)
    # Triton (gRPC host:port): set, checkpoints are evaluated by TritonEvaluator instead of torch.
    triton_url: str | None = None
    # (sha256, board_size) -> the served model's name; None: models.triton_serving's GPU-flavour name.
    triton_model_name: Callable[[str, int], str] | None = None
    # The repository the server reads, when this worker can write it: a model found not ready is
    # exported there (from the checkpoint store) before the load is retried. None: load only.
    triton_repository: Path | None = None
    triton_flavour: str = "gpu"
    # Search memory one block may take (ARENA_WORKER_MEMORY_MB); None: no limit.
    memory_bytes: int | None = None
    # Seconds between two looks at the tournament's status during a block: a cheap query, but
    # games can end many times a second.
    cancel_check_s: float = 1.0


_context: WorkerContext | None = None
_evaluators: OrderedDict[str, Any] = OrderedDict()
_pool = None
_lock = threading.Lock()


def configure(context: WorkerContext) -> None:
    """Set this process's worker context (call in each worker process, after any fork)."""
    global _context, _pool
    with _lock:
        if _pool is not None:
            _pool.close()
        _context, _pool = context, None
        _evaluators.clear()


def context() -> WorkerContext:
    if _context is None:
        raise RuntimeError("this worker process was not configured (search_workers.tasks.configure)")
    return _context


def engine_pool():
    """The engine processes of this worker process, kept between tasks."""
    global _pool
    from search_workers.engines.gtp_player import EnginePool

    with _lock:
        if _pool is None:
            _pool = EnginePool(context().engines)
        return _pool


def evaluator_for(sha256: str, board_size: int):
    """The evaluator of the stored checkpoint `sha256`, built once per process and board size.

    With `triton_url` in the context: a TritonEvaluator of the checkpoint's served model (a model
    not ready is published by this worker first, see `_triton_evaluator`); otherwise a
    TorchEvaluator of the verified weights. Either is wrapped for metrics ("triton" / "torch").
    """
    ctx = context()
    key = f"{sha256}/{board_size}"
    with _lock:
        cached = _evaluators.get(key)
        if cached is not None:
            _evaluators.move_to_end(key)
            return cached
    if ctx.triton_url:
        evaluator = metrics.InstrumentedEvaluator(_triton_evaluator(ctx, sha256, board_size), name="triton")
    else:
        loaded = _load_stored(ctx, sha256, board_size)
        from search_workers.evaluators import TorchEvaluator

        evaluator = metrics.InstrumentedEvaluator(
            TorchEvaluator(loaded.module, board_size=board_size, device=ctx.device, name=loaded.manifest.name),
            name="torch")
    with _lock:
        _evaluators[key] = evaluator
        while len(_evaluators) > MAX_CACHED_EVALUATORS:
            _evaluators.popitem(last=False)  # not closed: a block in play may still hold it
    return evaluator


def _load_stored(ctx: WorkerContext, sha256: str, board_size: int):
    """The verified checkpoint `sha256` from the store, on the context's device."""
    from models.checkpoint import load_checkpoint

    directory = ctx.checkpoint_root / sha256
    manifests = sorted(directory.glob("*.json"))
    if len(manifests) != 1:
        raise FileNotFoundError(f"checkpoint {sha256} is not in the store {ctx.checkpoint_root} "
                                f"({len(manifests)} manifests in {directory})")
    # The store holds only what a registration admitted (executable exports: by the operator's CLI).
    loaded = load_checkpoint(manifests[0], device=ctx.device, allow_executable=True)
    if loaded.sha256 != sha256:
        raise ValueError(f"the stored checkpoint {manifests[0]} has weights {loaded.sha256}, not {sha256}")
    if board_size not in loaded.board_sizes:
        raise ValueError(f"{loaded.manifest.name} plays {list(loaded.board_sizes)}, not {board_size}x{board_size}")
    return loaded


def _triton_evaluator(ctx: WorkerContext, sha256: str, board_size: int):
    """A TritonEvaluator for the checkpoint's model; when the model is not ready (registration
    could not publish it, or the server restarted), export it (if this worker may write the
    repository) and load it, then try once more. A failure then is the block's failure."""
    from models.triton_serving import checkpoint_model_name, load_models, publish_checkpoint
    from search_workers.evaluators.triton import TritonEvaluator, TritonModelError

    name = (ctx.triton_model_name or checkpoint_model_name)(sha256, board_size)
    try:
        return TritonEvaluator(ctx.triton_url, model_name=name, board_size=board_size)
    except TritonModelError as first:
        log.warning("Triton model %s is not ready (%s); publishing it from worker %s", name, first, ctx.worker_name)
        if ctx.triton_repository is not None:
            loaded = _load_stored(ctx, sha256, board_size)
            published = publish_checkpoint(loaded.module, sha256, [board_size], ctx.triton_repository,
                                           ctx.triton_url, flavour=ctx.triton_flavour)
        else:
            published = load_models(ctx.triton_url, [name])
        if published.error:
            raise TritonModelError(f"{first}; publishing it from this worker failed too: {published.error}") \
                from first
    return TritonEvaluator(ctx.triton_url, model_name=name, board_size=board_size)


def _seats(payload: BlockPayload) -> dict[str, Any]:
    seats: dict[str, Any] = {}
    for player in payload.players:
        if isinstance(player, CheckpointPlayer):
            config = SearchConfig(**player.search.model_dump())
            # A remote evaluator's round trip overlaps the other half of the games' tree work.
            seats[player.name] = MctsPlayer(player.name, evaluator_for(player.sha256, payload.board_size), config,
                                            pipeline_groups=2 if context().triton_url else 1)
        else:
            if player.engine not in context().engines:
                raise ValueError(f"player {player.name}: no engine named {player.engine!r} is configured "
                                 f"on worker {context().worker_name}")
            pool = engine_pool()
            seats[player.name] = EngineSeat(player.name, checkout=lambda e=player.engine: pool.acquire(e),
                                            checkin=pool.release)
    return seats


def _referee(payload: BlockPayload) -> Callable | None:
    if payload.referee is None:
        return None
    from search_workers.engines.referee import settle

    pool, name = engine_pool(), payload.referee

    def referee(state) -> Settlement:
        with pool.lease(name) as engine:
            engine.new_game(state)
            return settle(state, engine)

    return referee


def finished_record(outcome: GameOutcome, payload: BlockPayload, *, worker: str) -> FinishedGameRecord:
    """The stored form of one finished game: SGF, statistics and provenance."""
    state = outcome.final
    record = GameRecord.from_state(state, black=outcome.black, white=outcome.white, game_name=f"tournament "
                                   f"{payload.tournament_id} game {outcome.key}")
    comment = f"scoring: {outcome.scoring}" + (f"; {outcome.reason}" if outcome.reason else "")
    record = dataclasses.replace(record, result=outcome.result, comments={0: comment},
                                 application=SOFTWARE_VERSION.replace(" ", ":"))
    players = {p.name: p.model_dump() for p in payload.players}
    provenance = {
        "players": players, "scoring": outcome.scoring, "reason": outcome.reason,
        "engine_versions": outcome.engine_versions,
        # Bounded: the GTP layer keeps the last 64 KiB; the record keeps the last 8 KiB of each.
        "engine_stderr": {name: text[-8192:] for name, text in outcome.engine_logs.items() if text},
        "opening_moves": outcome.opening_moves, "rules": payload.rules, "komi": payload.komi,
    }
    searched = outcome.stats
    return FinishedGameRecord(
        scheduled_game_id=int(outcome.key), result=outcome.result, score=outcome.score,
        move_count=len(searched), duration_s=round(outcome.seconds, 6), sgf=write_sgf(record),
        move_stats=[s.as_json() for s in searched], worker=worker, software_version=SOFTWARE_VERSION,
        provenance=provenance)


def play_block(raw: Mapping[str, Any]) -> BlockResult:
    """Validate and play one block payload with this process's context; see the module docstring."""
    started = time.perf_counter()
    with metrics.TASKS_IN_FLIGHT.track_inprogress():
        return _play_block(raw, started)


class _Cancelled(Exception):
    """Raised out of `play_games` to stop a block whose tournament was cancelled."""


class _StatusWatch:
    """Whether the block's tournament is still running, asked of the sink at most every `interval` s."""

    def __init__(self, sink: GameSink, tournament_id: int, interval: float):
        self.sink, self.tournament_id, self.interval = sink, tournament_id, interval
        self.checked_at = -math.inf

    def cancelled(self) -> bool:
        now = time.monotonic()
        if now - self.checked_at < self.interval:
            return False
        self.checked_at = now
        return self.sink.tournament_status(self.tournament_id) == "cancelled"


def check_memory(payload: BlockPayload, ctx: WorkerContext) -> None:
    """Raise BlockTooLargeError if the block's search trees would exceed the worker's budget."""
    need = payload.search_bytes_at_once(ctx.concurrency)
    if ctx.memory_bytes is not None and need > ctx.memory_bytes:
        raise BlockTooLargeError(
            f"block of tournament {payload.tournament_id} ({len(payload.games)} games) needs "
            f"{need // 2**20} MiB of search memory, more than this worker's {ctx.memory_bytes // 2**20} MiB "
            f"(ARENA_WORKER_MEMORY_MB)")


def _play_block(raw: Mapping[str, Any], started: float) -> BlockResult:
    payload = BlockPayload.model_validate(raw)
    ctx = context()
    check_memory(payload, ctx)
    watch = _StatusWatch(ctx.sink, payload.tournament_id, ctx.cancel_check_s)
    if watch.cancelled():
        log.info("tournament %s is cancelled: not playing its block of %d games", payload.tournament_id,
                 len(payload.games))
        return BlockResult(tournament_id=payload.tournament_id, played=0, skipped=0, forfeits=0,
                           worker=ctx.worker_name, seconds=round(time.perf_counter() - started, 3),
                           cancelled=len(payload.games))
    done = ctx.sink.finished_ids([g.scheduled_game_id for g in payload.games])
    todo = [g for g in payload.games if g.scheduled_game_id not in done]
    forfeits = played = 0
    if todo:
        seats = _seats(payload)
        games = [BlockGame(black=seats[g.black], white=seats[g.white], opening=tuple(g.opening),
                           key=g.scheduled_game_id) for g in todo]

        def store(outcome: GameOutcome) -> None:
            nonlocal forfeits, played
            forfeits += outcome.scoring == "forfeit"
            played += 1
            ctx.sink.record(finished_record(outcome, payload, worker=ctx.worker_name))
            metrics.record_outcome(outcome, tournament=payload.tournament_id)
            if played < len(todo) and watch.cancelled():
                raise _Cancelled

        try:
            play_games(games, board_size=payload.board_size, rules=payload.game_rules(),
                       move_limit=payload.move_limit, concurrency=ctx.concurrency, referee=_referee(payload),
                       on_finished=store)
        except _Cancelled:
            log.info("tournament %s was cancelled: %d games of its block left unplayed", payload.tournament_id,
                     len(todo) - played)
    return BlockResult(tournament_id=payload.tournament_id, played=played, skipped=len(done), forfeits=forfeits,
                       worker=ctx.worker_name, seconds=round(time.perf_counter() - started, 3),
                       cancelled=len(todo) - played)


@shared_task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def play_block_task(raw: dict) -> dict:
    """The Celery entry point. A payload that fails validation, or needs more memory than this
    worker has, is rejected, never retried."""
    try:
        return play_block(raw).model_dump()
    except ValidationError as exc:
        log.error("rejecting an invalid block payload: %s", exc)
        raise Reject(f"invalid block payload: {exc}", requeue=False) from None
    except BlockTooLargeError as exc:
        log.error("rejecting a block: %s", exc)
        raise Reject(str(exc), requeue=False) from None
