"""Celery tasks (layer 5): validate a versioned payload, play the block, store each game, return.

`arena.play_block` plays a block of scheduled games concurrently in one process, so each
network's evaluator batches across them (`play_games`). Each game is written the moment it
ends, through the `GameSink` the worker process was configured with (the arena's database, see
`arena.worker`): the task layer knows the storage contract, not the storage.

Crash safety, end to end:
- a block first claims its games (search_workers.leases): it plays only those stored by
  nobody, failed by nobody and held by no other worker, and a heartbeat thread extends their
  leases while it plays. A worker killed in the middle of a block stops extending them; the
  scheduler reclaims the expired leases and sends the unstored games again (the broker does not
  requeue it: `reject_on_worker_lost=False`, see arena.worker), so finished games are never
  replayed or counted twice and a block that kills its workers ends failed, not redelivered forever;
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

import contextlib
import dataclasses
import logging
import math
import multiprocessing
import os
import re
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

from models.triton_serving import checkpoint_model_name, load_models, publish_checkpoint
from search_workers.engines import BlockGame, EngineSeat, GameOutcome, MctsPlayer, Settlement, play_games
from search_workers.engines import EnginePool, EnginePoolExhausted, settle
from search_workers.go import GameRecord, write_sgf
from search_workers.search import EvaluatorUnavailableError, SearchConfig

from . import metrics
from .schemas import BlockPayload, BlockResult, CheckpointPlayer, FinishedGameRecord
from .leases import DEFAULT_STALL_S, WorkerState, keeper_for, release_blocks
from .storing import BlockStore, SinkUnavailableError, StoreGaveUpError, retry_unavailable

log = logging.getLogger(__name__)

TASK_NAME = "arena.play_block"
SOFTWARE_VERSION = "go-arena 0.1.0"
MAX_CACHED_EVALUATORS = 8


class GameSink(Protocol):
    """Where finished games go (the arena's database in a worker)."""

    def finished_ids(self, scheduled_game_ids: Sequence[int]) -> set[int]: ...

    def record(self, game: FinishedGameRecord) -> bool: ...  # True: stored now, False: already there

    def tournament_status(self, tournament_id: int) -> str | None: ...  # "running", "cancelled"...; None: unknown

    # Leases (search_workers.leases; optional: a sink without them plays every game it is sent).
    def claim(self, game_ids: Sequence[int], worker: str, lease_s: float) -> list[int]: ...  # ids to play

    def extend(self, game_ids: Sequence[int], worker: str, lease_s: float) -> set[int]: ...  # ids still held

    def give_back(self, game_ids: Sequence[int], worker: str) -> None: ...  # unplayed, attempt not counted

    def heartbeat(self, state: WorkerState) -> None: ...  # this worker's row: alive, what it holds


class BlockTooLargeError(ValueError):
    """A block whose search memory exceeds this worker's budget: refused, never retried."""


@dataclass
class WorkerContext:
    """What a worker process plays with; set once per process by `configure`."""

    sink: GameSink
    checkpoint_root: Path  # the content-addressed checkpoint store (layout: models.store_layout)
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
    # Groups of games in flight per searching player through Triton (ARENA_TRITON_PIPELINE_GROUPS).
    triton_pipeline_groups: int = 2
    # Search memory one block may take (ARENA_WORKER_MEMORY_MB); None: no limit.
    memory_bytes: int | None = None
    # Seconds between two looks at the tournament's status during a block: a cheap query, but
    # games can end many times a second.
    cancel_check_s: float = 1.0
    # Seconds a claim on a block's games lasts (ARENA_LEASE_S); the heartbeat extends it every quarter.
    lease_s: float = 30.0
    # Seconds a block may play no move before its games are given up to another worker
    # (ARENA_BLOCK_STALL_S; search_workers.leases): a stuck block's heartbeat would hold them for ever.
    block_stall_s: float = DEFAULT_STALL_S
    # After giving a stuck block up, exit this process (a prefork pool's child: the pool starts a
    # fresh one; a solo worker: its supervisor does). The stuck thread could never be stopped
    # otherwise, and the capacity would be lost for good.
    exit_when_stuck: bool = False
    # Seconds a finished game is kept and its store retried through a database outage
    # (ARENA_STORE_RETRY_S); beyond it the block gives its games back and fails.
    store_retry_s: float = 600.0
    # Seconds an evaluation waits for an unavailable Triton server (ARENA_TRITON_WAIT_S) before
    # the block gives its unplayed games back (no attempt counted) and fails.
    triton_wait_s: float = 120.0
    # The engine pool (ARENA_ENGINE_IDLE_S, ARENA_MAX_ENGINE_PROCESSES): idle engine processes are
    # stopped after engine_idle_s; at most max_engine_processes run at once in this process.
    engine_idle_s: float = 300.0
    max_engine_processes: int = 16


_context: WorkerContext | None = None
_evaluators: OrderedDict[str, Any] = OrderedDict()
_pool = None
_lock = threading.Lock()
# Set on SIGTERM (Celery's warm shutdown, see arena.worker): the block in hand stops at its next
# finished game and gives the rest back; a block arriving now is given back whole. A process-shared
# event, made at import in the worker's main process: prefork children are forked after it, so
# the main process's shutdown signal reaches the blocks they play (Celery signals only the main).
_stop = multiprocessing.get_context("fork").Event()


def request_stop() -> None:
    """Ask this process's blocks to stop at their next finished game (a graceful shutdown)."""
    _stop.set()


def stopping() -> bool:
    return _stop.is_set()


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
    with _lock:
        if _pool is None:
            ctx = context()
            _pool = EnginePool(ctx.engines, idle_s=ctx.engine_idle_s, max_processes=ctx.max_engine_processes)
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
        # Deferred: torch, heavy and not needed by a worker that evaluates on Triton or plays engines only.
        from search_workers.evaluators.stored import stored_torch_evaluator

        evaluator = metrics.InstrumentedEvaluator(
            stored_torch_evaluator(sha256, board_size=board_size, root=ctx.checkpoint_root, device=ctx.device),
            name="torch")
    with _lock:
        _evaluators[key] = evaluator
        while len(_evaluators) > MAX_CACHED_EVALUATORS:
            _evaluators.popitem(last=False)  # not closed: a block in play may still hold it
    return evaluator


def _triton_evaluator(ctx: WorkerContext, sha256: str, board_size: int):
    """A TritonEvaluator for the checkpoint's model; when the model is not ready (registration
    could not publish it, or the server restarted), export it (if this worker may write the
    repository) and load it, then try once more. A failure then is the block's failure. The
    evaluator waits out an unavailable server for `triton_wait_s` and, should the model go
    missing later (a restart without it), loads it again the same way."""
    # Deferred: tritonclient, heavy and needed only by workers that evaluate on Triton.
    from search_workers.evaluators.triton import TritonEvaluator, TritonModelError

    name = (ctx.triton_model_name or checkpoint_model_name)(sha256, board_size)

    def publish() -> None:
        if ctx.triton_repository is not None:
            # Deferred: torch (see evaluator_for).
            from search_workers.evaluators.stored import load_stored

            loaded = load_stored(sha256, root=ctx.checkpoint_root, device=ctx.device, board_size=board_size)
            published = publish_checkpoint(loaded.module, sha256, [board_size], ctx.triton_repository,
                                           ctx.triton_url, flavour=ctx.triton_flavour)
        else:
            published = load_models(ctx.triton_url, [name])
        if published.error:
            raise TritonModelError(f"publishing {name} from worker {ctx.worker_name} failed: {published.error}")

    def evaluator() -> TritonEvaluator:
        return TritonEvaluator(ctx.triton_url, model_name=name, board_size=board_size, wait_s=ctx.triton_wait_s,
                               reload=publish)

    try:
        return evaluator()
    except TritonModelError as first:
        log.warning("Triton model %s is not ready (%s); publishing it from worker %s", name, first, ctx.worker_name)
        try:
            publish()
        except TritonModelError as again:
            raise TritonModelError(f"{first}; {again}") from first
    return evaluator()


def _seats(payload: BlockPayload) -> dict[str, Any]:
    seats: dict[str, Any] = {}
    for player in payload.players:
        if isinstance(player, CheckpointPlayer):
            config = SearchConfig(**player.search.model_dump())
            # A remote evaluator's round trip overlaps the other half of the games' tree work.
            seats[player.name] = MctsPlayer(player.name, evaluator_for(player.sha256, payload.board_size), config,
                                            pipeline_groups=context().triton_pipeline_groups if context().triton_url
                                            else 1)
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
    pool, name = engine_pool(), payload.referee

    def referee(state) -> Settlement:
        with pool.lease(name) as engine:
            engine.new_game(state)
            return settle(state, engine)

    return referee


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL, lone surrogates: PostgreSQL's text and jsonb refuse both


def storable(value: Any) -> Any:
    """`value` (a string, or lists and dicts of them) without NUL and lone surrogates. Engines
    write what they like to stderr and in their `version` answer, and those texts go into the
    record; one NUL made the game impossible to store, and the block fail with it."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value) if _UNSTORABLE.search(value) else value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    return value


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
        move_count=len(searched), duration_s=round(outcome.seconds, 6), sgf=storable(write_sgf(record)),
        move_stats=[s.as_json() for s in searched], worker=worker, software_version=SOFTWARE_VERSION,
        provenance=storable(provenance), score_tromp_taylor=outcome.score_tromp_taylor,
        scoring_disagrees=outcome.scoring_disagrees)


def play_block(raw: Mapping[str, Any]) -> BlockResult:
    """Validate and play one block payload with this process's context; see the module docstring."""
    started = time.perf_counter()
    with metrics.TASKS_IN_FLIGHT.track_inprogress():
        try:
            return _play_block(raw, started)
        finally:
            release_blocks()  # however it ended: its leases are no longer extended


class _Cancelled(Exception):
    """Raised out of `play_games` to stop a block whose tournament was cancelled."""


class _Abandoned(Exception):
    """Raised out of `play_games` when every game left in the block was reclaimed (lost leases)."""


class _Stopping(Exception):
    """Raised out of `play_games` to stop a block because its worker is shutting down."""


def _give_back(ctx: WorkerContext, game_ids: list[int], *, why: str) -> None:
    """Release this worker's leases on `game_ids` so the scheduler sends them again at once.
    Best effort: if the database is away too, the leases simply expire."""
    if not game_ids:
        return
    give_back = getattr(ctx.sink, "give_back", None)  # sinks without leases (tests) have nothing to release
    if give_back is None:
        return
    log.info("giving back %d games (%s): %s", len(game_ids), why, game_ids[:10])
    try:
        retry_unavailable(lambda: give_back(game_ids, ctx.worker_name), what="giving games back",
                          retry_s=min(30.0, ctx.store_retry_s))
    except SinkUnavailableError as exc:
        log.warning("could not give back %d games (%s); their leases will expire instead", len(game_ids), exc)


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
        try:
            return self.sink.tournament_status(self.tournament_id) == "cancelled"
        except SinkUnavailableError as exc:  # a database outage must not stop a block: look again later
            log.warning("could not read the status of tournament %s: %s", self.tournament_id, exc)
            return False


def games_at_once(payload: BlockPayload, ctx: WorkerContext) -> int | None:
    """Games of the block in play at once: the worker's `concurrency`, and no more than its engine
    processes can seat. A game holds its engine seats until it ends, and the referee's engine too
    while scoring; games that each held one engine and waited for a second would hold the whole
    pool between them and wait until EnginePoolExhausted (measured: 16 games, 16 processes)."""
    seats = min(sum(not isinstance(p, CheckpointPlayer) for p in payload.players), 2)
    if seats == 0:  # networks only: a game takes the referee alone, at its end, and holds nothing meanwhile
        return ctx.concurrency
    per_game = seats + (payload.referee is not None)
    if per_game > ctx.max_engine_processes:
        raise BlockTooLargeError(f"block of tournament {payload.tournament_id}: a game needs {per_game} engine "
                                 f"processes at once, more than this worker's {ctx.max_engine_processes} "
                                 f"(ARENA_MAX_ENGINE_PROCESSES)")
    seated = ctx.max_engine_processes // per_game
    return min(ctx.concurrency or seated, seated)


def check_memory(payload: BlockPayload, ctx: WorkerContext, at_once: int | None) -> None:
    """Raise BlockTooLargeError if the search trees of `at_once` games of the block in play at once
    (`games_at_once`; None: all) would exceed the worker's budget. Counted with the games the
    block really plays at once: engine seats can hold it below the worker's concurrency, and a
    block that fits that way was refused by a count of games that never ran together."""
    need = payload.search_bytes_at_once(at_once)
    if ctx.memory_bytes is not None and need > ctx.memory_bytes:
        raise BlockTooLargeError(
            f"block of tournament {payload.tournament_id} ({len(payload.games)} games) needs "
            f"{need // 2**20} MiB of search memory, more than this worker's {ctx.memory_bytes // 2**20} MiB "
            f"(ARENA_WORKER_MEMORY_MB)")


STUCK_EXIT_STATUS = 75  # EX_TEMPFAIL: the process gave up a stuck block; start another


def exit_stuck_process() -> None:
    """The heartbeat gave up a block stuck in this process: exit at once (the stuck thread cannot
    be stopped, and a clean shutdown would wait for it); the prefork pool starts a fresh child, and
    a solo worker's supervisor (a container's restart policy, or `arena demo`'s and
    `--local-workers`' LocalWorkers.keep_alive) starts the worker again."""
    log.error("worker process %d exits: a block stuck in it was given up (its pool or supervisor starts "
              "another)", os.getpid())
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(STUCK_EXIT_STATUS)


def _play_block(raw: Mapping[str, Any], started: float) -> BlockResult:
    payload = BlockPayload.model_validate(raw)
    ctx = context()
    at_once = games_at_once(payload, ctx)  # both checks before any claim: a refusal holds nothing
    check_memory(payload, ctx, at_once)
    watch = _StatusWatch(ctx.sink, payload.tournament_id, ctx.cancel_check_s)
    if watch.cancelled():
        log.info("tournament %s is cancelled: not playing its block of %d games", payload.tournament_id,
                 len(payload.games))
        return BlockResult(tournament_id=payload.tournament_id, played=0, skipped=0, forfeits=0,
                           worker=ctx.worker_name, seconds=round(time.perf_counter() - started, 3),
                           cancelled=len(payload.games))
    done = retry_unavailable(lambda: ctx.sink.finished_ids([g.scheduled_game_id for g in payload.games]),
                             what="reading the block's stored games", retry_s=ctx.store_retry_s)
    todo = [g for g in payload.games if g.scheduled_game_id not in done]
    # Only the games this worker claims are its to play: another delivery may hold the others.
    keeper = keeper_for(ctx.sink, ctx.worker_name, ctx.lease_s, ctx.block_stall_s,
                        exit_stuck_process if ctx.exit_when_stuck else None)
    held = retry_unavailable(lambda: keeper.claim([g.scheduled_game_id for g in todo]),
                             what="claiming the block's games", retry_s=ctx.store_retry_s) if todo else None
    if held is not None and len(held.held) < len(todo):
        log.info("block of tournament %s: %d of its %d games to play are held elsewhere, failed or done",
                 payload.tournament_id, len(todo) - len(held.held), len(todo))
        done |= {g.scheduled_game_id for g in todo if g.scheduled_game_id not in held.held}
        todo = [g for g in todo if g.scheduled_game_id in held.held]
    forfeits = played = 0
    if todo and stopping():
        _give_back(ctx, [g.scheduled_game_id for g in todo], why="this worker is stopping")
        todo = []
    if todo:
        # Writes ride out a database outage: games are kept and retried while the block plays on.
        writer = BlockStore(ctx.sink.record, retry_s=ctx.store_retry_s,
                            on_stored=lambda game, _: keeper.finished(held, game.scheduled_game_id))

        def store(outcome: GameOutcome) -> None:
            nonlocal forfeits, played
            forfeits += outcome.scoring == "forfeit"
            played += 1
            writer.put(finished_record(outcome, payload, worker=ctx.worker_name))  # StoreGaveUpError: stop
            metrics.record_outcome(outcome, tournament=payload.tournament_id)
            if played < len(todo) and stopping():
                raise _Stopping
            if played < len(todo) and watch.cancelled():
                raise _Cancelled
            if played < len(todo) and held.all_lost():
                raise _Abandoned

        shortage: Exception | None = None
        try:
            seats = _seats(payload)
            games = [BlockGame(black=seats[g.black], white=seats[g.white], opening=tuple(g.opening),
                               key=g.scheduled_game_id, seed=g.seed) for g in todo]
            play_games(games, board_size=payload.board_size, rules=payload.game_rules(),
                       move_limit=payload.move_limit, concurrency=at_once,
                       referee=_referee(payload), on_finished=store, on_move=held.progressed)
        except (EvaluatorUnavailableError, EnginePoolExhausted) as exc:
            # What this worker needs is away (Triton past ARENA_TRITON_WAIT_S) or busy: not the
            # games' fault. Left to their leases, each would count an attempt and, an outage of a
            # few minutes later, be marked failed for good; given back, they wait for a worker.
            shortage = exc
        except _Cancelled:
            log.info("tournament %s was cancelled: %d games of its block left unplayed", payload.tournament_id,
                     len(todo) - played)
        except _Stopping:
            log.info("worker %s is stopping: giving back %d games of its block", ctx.worker_name, len(todo) - played)
        except _Abandoned:
            log.warning("worker %s lost the leases of the %d games left in its block (reclaimed by the "
                        "scheduler): abandoning them", ctx.worker_name, len(todo) - played)
        except StoreGaveUpError:
            pass  # reported below, with every game the block could not store
        except Exception:
            # Anything else (a broken model, a bug): the games already played are still stored
            # before the block fails; the unplayed ones come back through their leases, each
            # counting an attempt, as a poison block's must.
            with contextlib.suppress(Exception):
                writer.finish()
            raise
        unstored = writer.finish()
        stored = set(writer.stored_ids)
        unfinished = [g.scheduled_game_id for g in todo if g.scheduled_game_id not in stored]
        if unstored:
            # Never acknowledged as played: give them back (their leases expire if the database
            # is still away) and fail the task rather than report a block that was not stored.
            _give_back(ctx, unfinished, why="the database could not store them")
            raise StoreGaveUpError(unstored, ctx.store_retry_s)
        if shortage is not None:
            log.warning("block of tournament %s stops after %d of its %d games: %s", payload.tournament_id,
                        played, len(todo), shortage)
            _give_back(ctx, unfinished, why=type(shortage).__name__)
            raise shortage
        if stopping() and unfinished:
            _give_back(ctx, unfinished, why="this worker is stopping")
    return BlockResult(tournament_id=payload.tournament_id, played=played, skipped=len(done), forfeits=forfeits,
                       worker=ctx.worker_name, seconds=round(time.perf_counter() - started, 3),
                       cancelled=len(todo) - played)


# reject_on_worker_lost=False: a block whose worker died is not requeued by the broker (a poison
# block would be redelivered forever); its games come back through their leases (arena.worker).
@shared_task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=False, ignore_result=True)
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
