"""Registering a checkpoint: verify and store its files, then record it in the database.

    stored = store_checkpoint(path, root=settings.checkpoint_root())   # refusals touch nothing
    registration = record_checkpoint(session, stored, name=None)      # idempotent by sha256

The two steps are separate so that a refused checkpoint never needs the database. The CLI
(`arena checkpoint register`) and the HTTP API (`POST /checkpoints`) both go through here.

With Triton configured (`ARENA_TRITON_URL`, `ARENA_TRITON_REPOSITORY`), `record_checkpoint(...,
settings=settings)` also exports the checkpoint into the model repository and loads it into the
server (models.triton_serving; names `ckpt_<sha256[:16]>_b<N>[_cpu]`). A Triton failure does not
undo the registration: the checkpoint is valid data and the rating must not depend on a server
being up at that instant. The failure is logged and returned in `Registration.triton` (the API
shows it), and the worker retries: a worker that finds the model not ready exports and loads it
itself before it plays (search_workers.tasks.evaluator_for).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.checkpoint_store import StoredCheckpoint
from arena.db import repository
from arena.db.models import Checkpoint
from arena.settings import Settings
from models.triton_serving import Publication

log = logging.getLogger(__name__)

__all__ = ["Registration", "publish_to_triton", "record_checkpoint"]


@dataclass(frozen=True)
class Registration:
    """The outcome of recording a stored checkpoint."""

    checkpoint: Checkpoint  # the row (the existing one if the weights were registered before)
    stored: StoredCheckpoint
    created: bool  # False: the same weights were already registered (nothing changed)
    dropped_parent: str | None  # the manifest's parent sha256, left out because it is not registered
    triton: Publication | None = None  # None: Triton is not configured; else what was exported and loaded
    gauntlet_id: int | None = None  # the tournament a new checkpoint was enrolled in (ARENA_AUTO_GAUNTLET)
    gauntlet_error: str | None = None  # why enrolment failed (the registration stands)


def record_checkpoint(session: Session, stored: StoredCheckpoint, *, name: str | None = None,
                      settings: Settings | None = None) -> Registration:
    """Record the stored checkpoint under `name` (default: its manifest's) in the caller's transaction.

    With `settings` naming a Triton server or repository, the checkpoint is also published to
    Triton (every time, also when already registered: export and load are idempotent, so a
    registration repeated after a Triton failure repairs it); see the module docstring.

    A parent the database does not know is dropped (reported in `dropped_parent`) rather than
    refused: lineage is optional, the rating is not. Raises ValueError for an empty name.
    """
    if name is not None and not name.strip():
        raise ValueError("name: must not be empty")
    manifest = stored.manifest
    existing = session.scalar(select(Checkpoint.id).where(Checkpoint.sha256 == stored.sha256))
    parent, dropped = manifest.parent, None
    if parent is not None and session.scalar(select(Checkpoint.id).where(Checkpoint.sha256 == parent)) is None:
        parent, dropped = None, parent
    row = repository.register_checkpoint(
        session, sha256=stored.sha256, name=name or manifest.name, manifest=manifest.model_dump(mode="json"),
        run_name=manifest.run_name, training_step=manifest.training_step, parent_sha256=parent)
    triton = publish_to_triton(stored, settings) if settings is not None else None
    gauntlet_id = gauntlet_error = None
    if existing is None and settings is not None and settings.auto_gauntlet is not None:
        gauntlet_id, gauntlet_error = _enrol(session, row, settings)
    return Registration(checkpoint=row, stored=stored, created=existing is None, dropped_parent=dropped,
                        triton=triton, gauntlet_id=gauntlet_id, gauntlet_error=gauntlet_error)


def _enrol(session: Session, row: Checkpoint, settings: Settings) -> tuple[int | None, str | None]:
    """Enrol a new checkpoint in the configured gauntlet; (tournament id, None) or (None, why not)."""
    from arena.enrolment import EnrolmentError, enrol, load_template
    from arena.worker import server_engines

    try:
        tournament = enrol(session, row, load_template(settings.auto_gauntlet), server_engines(settings))
    except EnrolmentError as exc:
        log.warning("checkpoint %s registered, not enrolled: %s", row.name, exc)
        return None, str(exc)
    return tournament.id, None


def publish_to_triton(stored: StoredCheckpoint, settings: Settings) -> Publication | None:
    """Export `stored` into the Triton repository and load it; None when Triton is not configured."""
    if settings.triton_url is None and settings.triton_repository is None:
        return None
    from models.checkpoint import CheckpointError, load_checkpoint
    from models.triton_serving import publish_checkpoint

    try:
        loaded = load_checkpoint(stored.manifest_path)
    except (CheckpointError, OSError) as exc:  # verified when stored; only a damaged store gets here
        publication = Publication(error=f"cannot read the stored checkpoint: {exc}")
    else:
        publication = publish_checkpoint(loaded.module, stored.sha256, loaded.board_sizes,
                                         settings.triton_repository, settings.triton_url,
                                         flavour=settings.triton_flavour)
    if publication.error:
        log.warning("checkpoint %s registered, but not served by Triton (workers will retry): %s",
                    stored.sha256[:12], publication.error)
    return publication
