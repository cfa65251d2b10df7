"""Registering a checkpoint: verify and store its files, then record it in the database.

    stored = store_checkpoint(path, root=settings.checkpoint_root())   # refusals touch nothing
    registration = record_checkpoint(session, stored, name=None)      # idempotent by sha256

The two steps are separate so that a refused checkpoint never needs the database. The CLI
(`arena checkpoint register`) and the HTTP API (`POST /checkpoints`) both go through here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.checkpoint_store import StoredCheckpoint
from arena.db import repository
from arena.db.models import Checkpoint

__all__ = ["Registration", "record_checkpoint"]


@dataclass(frozen=True)
class Registration:
    """The outcome of recording a stored checkpoint."""

    checkpoint: Checkpoint  # the row (the existing one if the weights were registered before)
    stored: StoredCheckpoint
    created: bool  # False: the same weights were already registered (nothing changed)
    dropped_parent: str | None  # the manifest's parent sha256, left out because it is not registered


def record_checkpoint(session: Session, stored: StoredCheckpoint, *, name: str | None = None) -> Registration:
    """Record the stored checkpoint under `name` (default: its manifest's) in the caller's transaction.

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
    return Registration(checkpoint=row, stored=stored, created=existing is None, dropped_parent=dropped)
