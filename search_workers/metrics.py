"""Prometheus metrics of a match worker process (layer 5): every worker-side metric is defined here.

Search and engines stay uninstrumented (they import no prometheus): the task layer measures
them from outside. `InstrumentedEvaluator` wraps each evaluator (batch size, latency,
evaluations) and `record_outcome` counts a finished game from its `GameOutcome` (result kind,
moves, playouts as the sum of visits per searched move, time per move, forfeits by reason kind).

The metrics live in their own `REGISTRY`, served by `serve(port)` from the process that plays
the tasks. Celery's prefork pool runs tasks in child processes, so each process serves its own
registry on the first free port from `port` up (the parent takes `port`, children the next
ones; list that range in Prometheus). The production stack runs one solo-pool worker process
per container and scales by replicas, so there each container serves exactly `port`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from search_workers.go.results import parse_result

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

GAMES_FINISHED = Counter(
    "arena_games_finished", "Games finished and handed to the store, by result kind.",
    ["tournament", "result"], registry=REGISTRY)
MOVES = Counter("arena_moves", "Moves played (searched or asked of an engine).", ["tournament"], registry=REGISTRY)
PLAYOUTS = Counter("arena_playouts", "MCTS playouts: the visits of every searched move.", ["tournament"],
                   registry=REGISTRY)
EVALUATIONS = Counter("arena_evaluations", "Positions evaluated by a network.", ["evaluator"], registry=REGISTRY)
EVALUATOR_BATCH_SIZE = Histogram(
    "arena_evaluator_batch_size", "Positions per evaluate call.", ["evaluator"], registry=REGISTRY,
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
EVALUATION_SECONDS = Histogram(
    "arena_evaluation_seconds", "Wall time of one evaluate call (one batch).", ["evaluator"], registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
MOVE_SECONDS = Histogram(
    "arena_move_seconds", "Wall time from the request of a move to its answer.", ["tournament"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
ENGINE_FAILURES = Counter(
    "arena_engine_failures", "Games forfeited by an engine, by reason kind.", ["reason"], registry=REGISTRY)
TASKS_IN_FLIGHT = Gauge("arena_tasks_in_flight", "Blocks being played by this process.", registry=REGISTRY)

# Forfeit reasons come as text from search_workers.engines.match; label them by kind, never by text.
_REASON_KINDS = (("illegal_move", re.compile(r"illegal move")), ("start_failure", re.compile(r"failed to start")),
                 ("timeout", re.compile(r"timed? ?out|timeout", re.I)), ("engine_failure", re.compile(r"failed")))


for _kind in (*(k for k, _ in _REASON_KINDS), "other"):  # every kind exported from the start, at 0
    ENGINE_FAILURES.labels(reason=_kind)


def forfeit_kind(reason: str | None) -> str:
    """A bounded label for a forfeit reason: illegal_move, start_failure, timeout, engine_failure, other."""
    for kind, pattern in _REASON_KINDS:
        if reason and pattern.search(reason):
            return kind
    return "other"


def result_kind(result: str, scoring: str) -> str:
    """black_win / white_win / draw / void, plus how it ended (resignation, forfeit, scored, move-limit)."""
    parsed = parse_result(result)
    winner = f"{parsed.winner.name.lower()}_win" if parsed.winner is not None else parsed.kind  # draw, void
    how = scoring.split(":", 1)[0] or "unknown"  # referee:<engine> -> referee
    return f"{winner}_{how}".replace("-", "_")


# A long-lived worker plays for tournament after tournament (a training loop creates them without
# end): each kept 20-odd series of this process's /metrics for ever. Only the tournaments most
# recently played here keep theirs; an older one's series are removed (Prometheus keeps what it
# scraped, and the database's per-tournament gauges in the API are the lasting figures).
MAX_TOURNAMENT_SERIES = 64
_tournaments: OrderedDict[str, set[str]] = OrderedDict()  # label -> result labels used, oldest first
_tournaments_lock = threading.Lock()


def _tournament_label(tournament: int | str, result: str) -> str:
    label = str(tournament)
    with _tournaments_lock:
        results = _tournaments.pop(label, set())
        results.add(result)
        _tournaments[label] = results
        while len(_tournaments) > MAX_TOURNAMENT_SERIES:
            old, old_results = _tournaments.popitem(last=False)
            for metric, labels in [(GAMES_FINISHED, (old, r)) for r in old_results] + [
                    (MOVES, (old,)), (PLAYOUTS, (old,)), (MOVE_SECONDS, (old,))]:
                with contextlib.suppress(KeyError):
                    metric.remove(*labels)
    return label


def record_outcome(outcome: Any, *, tournament: int | str) -> None:
    """Count one finished game (a `search_workers.engines.GameOutcome`)."""
    result = result_kind(outcome.result, outcome.scoring)
    label = _tournament_label(tournament, result)
    GAMES_FINISHED.labels(tournament=label, result=result).inc()
    if outcome.scoring == "forfeit":
        ENGINE_FAILURES.labels(reason=forfeit_kind(outcome.reason)).inc()
    MOVES.labels(tournament=label).inc(len(outcome.stats))
    playouts = sum(s.visits or 0 for s in outcome.stats)
    PLAYOUTS.labels(tournament=label).inc(playouts)
    moves = MOVE_SECONDS.labels(tournament=label)
    for s in outcome.stats:
        moves.observe(s.seconds)


class InstrumentedEvaluator:
    """An `Evaluator` that times and counts the calls of the one it wraps; otherwise identical."""

    def __init__(self, inner: Any, *, name: str | None = None):
        self.inner = inner
        self.board_size = inner.board_size
        self.label = name or type(inner).__name__
        self._batch = EVALUATOR_BATCH_SIZE.labels(evaluator=self.label)
        self._seconds = EVALUATION_SECONDS.labels(evaluator=self.label)
        self._count = EVALUATIONS.labels(evaluator=self.label)

    def evaluate(self, features: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        started = time.perf_counter()
        out = self.inner.evaluate(features, legal)
        self._seconds.observe(time.perf_counter() - started)
        batch = int(features.shape[0])
        self._batch.observe(batch)
        self._count.inc(batch)
        return out

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:  # anything else an evaluator offers (name, device, ...)
        return getattr(self.inner, name)


_served: tuple[int, int] | None = None  # (pid, port): a forked child serves its own


def serve(port: int, *, addr: str = "0.0.0.0", tries: int = 64) -> int | None:
    """Serve REGISTRY over HTTP on the first free port from `port` (see the module docstring).

    Returns the port, or None when `port` is 0 (disabled) or no port in the range is free; a
    worker without metrics still plays. Idempotent within a process.
    """
    global _served
    if port == 0:
        return None
    if _served is not None and _served[0] == os.getpid():
        return _served[1]
    for candidate in range(port, port + tries):
        try:
            start_http_server(candidate, addr=addr, registry=REGISTRY)
        except OSError:
            continue
        _served = (os.getpid(), candidate)
        log.info("worker metrics at http://%s:%d/metrics", addr, candidate)
        return candidate
    log.warning("no free port in %d-%d: this worker process serves no metrics", port, port + tries - 1)
    return None
