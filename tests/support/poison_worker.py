"""`python -m tests.support.poison_worker POISON_ID arena-cli-args...`: a real `arena worker` whose
networks are uniform fakes, and whose fake evaluator calls os.abort() at its first evaluation in
any block that holds scheduled game POISON_ID (a segfault or an out-of-memory kill, as the worker
meets them), or with POISON_WORKER_MODE=hang blocks there for ever (a deadlock: the process and
its heartbeat thread live on). POISON_ID -1: no poison. POISON_WORKER_EVAL_S (environment): seconds each evaluation takes, so
that a test can kill the worker in the middle of a block.

Fakes only where the network would be: the Celery worker, its pool, the broker, the database
sink, leases and heartbeats are the real ones.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np

from search_workers import tasks
from search_workers.evaluators import UniformEvaluator

POISON = int(sys.argv.pop(1))
EVAL_S = float(os.environ.get("POISON_WORKER_EVAL_S", "0"))
HANG = os.environ.get("POISON_WORKER_MODE", "abort") == "hang"
_block: set[int] = set()  # the game ids of the block this process is playing


class PoisonEvaluator(UniformEvaluator):
    def evaluate(self, features: np.ndarray, legal: np.ndarray):
        if POISON in _block and HANG:
            os.write(2, f"poison game {POISON} in this block: hanging worker {os.getpid()}\n".encode())
            threading.Event().wait()
        if POISON in _block:
            os.write(2, f"poison game {POISON} in this block: aborting worker {os.getpid()}\n".encode())
            os.abort()
        time.sleep(EVAL_S)
        return super().evaluate(features, legal)


def _evaluator_for(sha256: str, board_size: int) -> PoisonEvaluator:
    return PoisonEvaluator(board_size)


_play_games = tasks.play_games


def _noting_play_games(games, **options):
    _block.clear()
    _block.update(int(g.key) for g in games)
    return _play_games(games, **options)


tasks.evaluator_for = _evaluator_for
tasks.play_games = _noting_play_games

if __name__ == "__main__":
    from arena.cli import app

    app()
