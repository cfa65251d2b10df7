"""The arena's composition root: what every face (HTTP, gRPC, CLI, scheduler, enrolment) is handed.

    context = ArenaContext.from_settings(settings)      # once per process (or per app)
    context.engines                                      # the GTP engines this server may run
    context.send(payload)                                # a block to the workers (Celery)
    context.evaluator_for(checkpoint_row, board_size)    # policy openings: a stored network
    context.store.manifest(sha256)                       # the checkpoint store
    context.leaderboards.get(session, tournament_id=3)   # leaderboards: one cache for HTTP, gRPC, metrics

Built once from Settings and passed down, so no service function builds its own wiring (reads
settings, makes a Celery app, loads a network) and the faces cannot drift apart. Tests replace a
part with `ArenaContext.from_settings(settings, send=sent.append, engines={...})`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from arena.checkpoint_store import CheckpointStore
from arena.db.models import Checkpoint
from arena.leaderboards import LeaderboardService
from arena.server_engines import server_engines
from arena.settings import Settings, get_settings
from arena.worker import BlockQueue
from search_workers.evaluators.stored import StoredEvaluators

__all__ = ["ArenaContext"]


@dataclass(frozen=True)
class ArenaContext:
    """Settings and the long-lived parts made from them; frozen: one wiring per process."""

    settings: Settings
    engines: Mapping[str, Any]  # name -> EngineSpec, from server configuration only (arena.server_engines)
    send: Callable[[dict], None]  # sends one block payload to the workers
    evaluators: StoredEvaluators  # the one evaluator factory: stored checkpoint -> TorchEvaluator, cached
    store: CheckpointStore  # where registered checkpoints lie (Settings.checkpoint_root())
    # Every leaderboard the server shows, under the one RatingPolicy of Settings, fitted once per game set.
    leaderboards: LeaderboardService = field(compare=False)
    queue: BlockQueue | None = field(default=None, compare=False)  # the Celery sender, when `send` is it

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, engines: Mapping[str, Any] | None = None,
                      send: Callable[[dict], None] | None = None) -> ArenaContext:
        """The context of `settings` (default: this process's). `engines` and `send` replace the
        configured engines and the Celery sender (tests, a server embedding the arena)."""
        settings = settings or get_settings()
        queue = None if send is not None else BlockQueue(settings)
        root = settings.checkpoint_root()
        return cls(settings=settings, engines=server_engines(settings) if engines is None else engines,
                   send=send if send is not None else queue.send, evaluators=StoredEvaluators(root),
                   store=CheckpointStore(root), leaderboards=LeaderboardService.from_settings(settings), queue=queue)

    def evaluator_for(self, checkpoint: Checkpoint, board_size: int) -> Any:
        """The network of a registered checkpoint on `board_size` boards (policy openings)."""
        return self.evaluators.get(checkpoint.sha256, board_size, name=checkpoint.name)
