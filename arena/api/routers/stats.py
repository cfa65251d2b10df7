"""`/stats`: live throughput for the dashboard, from the database (`arena.db.throughput`) and,
where this process itself ran network evaluations (an embedded setup), from its own metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query

from arena.db.throughput import Throughput, throughput
from search_workers.metrics import REGISTRY

from ..deps import ReadAccess, SessionDep

router = APIRouter(prefix="/stats", tags=["stats"], dependencies=[ReadAccess])


@dataclass(frozen=True)
class ProcessEvaluations:
    """What this process's evaluators did since it started (None: it evaluated nothing; the
    workers export theirs on their own /metrics as arena_evaluations_total and
    arena_evaluator_batch_size)."""

    evaluations: int
    batches: int
    mean_batch: float


@dataclass(frozen=True)
class ThroughputReport:
    database: Throughput
    this_process: ProcessEvaluations | None


def process_evaluator() -> ProcessEvaluations | None:
    """Totals of `search_workers.metrics`' batch-size histogram over every evaluator label."""
    total = count = 0.0
    for family in REGISTRY.collect():
        if family.name == "arena_evaluator_batch_size":
            for sample in family.samples:
                if sample.name.endswith("_sum"):
                    total += sample.value
                elif sample.name.endswith("_count"):
                    count += sample.value
    if count == 0:
        return None
    return ProcessEvaluations(evaluations=int(total), batches=int(count), mean_batch=total / count)


@router.get("/throughput", summary="Games and moves per minute, playouts per second over a recent window")
def get_throughput(session: SessionDep,
                   minutes: Annotated[float, Query(gt=0, le=1440, description="The window, in minutes.")] = 10
                   ) -> ThroughputReport:
    return ThroughputReport(database=throughput(session, window_s=minutes * 60), this_process=process_evaluator())
