"""Registering a checkpoint: verify and store its files, then record it in the database.

    registration = register_checkpoint_file(session, path, context=context,
                                            admission=Admission.network(settings), roots=settings.import_dirs,
                                            name=None, token_id=token.id)

which is: admit (load, hash and test-forward once, nothing written), check the name, store the
very bytes verified (nothing hashed again), record the row (idempotent by sha256). A refusal at
any step before the last leaves nothing in the store or the database. The CLI (`arena checkpoint
register`, `Admission.operator`), the HTTP API (`POST /checkpoints`) and gRPC
(`RegisterCheckpoint`, both `Admission.network`) all go through here with the arena's context
(arena.context); `record_checkpoint` alone records a checkpoint already in the store.

The walk of one HTTP upload, every step downwards: the router receives the form
(arena.api.uploads) -> `register_checkpoint_file` -> `arena.checkpoint_store.admit_checkpoint` ->
`models.checkpoint.load_checkpoint` -> `CheckpointStore.store` -> `arena.db.repository`
(the row), then, when configured, Triton (models.triton_serving) and the gauntlet
(arena.enrolment, with the same context).

A name maps to one sha256 for good: recording other weights under a registered name raises
`CheckpointNameTaken` (the API's 409, gRPC's ALREADY_EXISTS), also when two registrations race
for it (the database's unique constraint decides). The same weights under the same name again
change nothing.

With Triton configured (`ARENA_TRITON_URL`, `ARENA_TRITON_REPOSITORY`), `record_checkpoint(...,
context=context)` also exports the checkpoint into the model repository and loads it into the
server (models.triton_serving; names `ckpt_<sha256[:16]>_b<N>[_cpu]`). A Triton failure does not
undo the registration: the checkpoint is valid data and the rating must not depend on a server
being up at that instant. The failure is logged and returned in `Registration.triton` (the API
shows it), and the worker retries: a worker that finds the model not ready exports and loads it
itself before it plays (search_workers.tasks.evaluator_for).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arena.checkpoint_store import Admission, StoredCheckpoint, admit_checkpoint
from arena.context import ArenaContext
from arena.db import repository
from arena.db.storable import json_string_problem
from arena.db.models import Checkpoint
from arena.enrolment import EnrolmentError, enrol, load_template
from arena.settings import Settings
from models.checkpoint import CheckpointError, load_checkpoint
from models.triton_serving import Publication, publish_checkpoint

log = logging.getLogger(__name__)

__all__ = ["CheckpointNameTaken", "Registration", "check_name", "publish_to_triton", "record_checkpoint",
           "register_checkpoint_file"]

_NAME_CONSTRAINT = "uq_checkpoints_name"


class CheckpointNameTaken(Exception):
    """The name is registered with other weights; the message names the name and those weights."""

    def __init__(self, name: str, sha256: str | None):
        other = f" (sha256 {sha256[:12]}...)" if sha256 else ""
        super().__init__(f"name: a checkpoint named {name!r} is already registered with other weights{other}; a "
                         f"name keeps its weights for good, register these under another name")
        self.name = name


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


def register_checkpoint_file(session: Session, path: str | Path, *, context: ArenaContext, admission: Admission,
                             roots: Sequence[str | Path] | None = None, name: str | None = None,
                             token_id: int | None = None) -> Registration:
    """Admit the checkpoint at `path` (arena.checkpoint_store), check its name, store it in the
    context's store and record it in the caller's transaction. Refusals (CheckpointError,
    NotImportableError, CheckpointNameTaken, ValueError for a blank name) come before anything is
    stored or written."""
    if name is not None and not name.strip():
        raise ValueError("name: must not be empty")
    loaded = admit_checkpoint(path, admission=admission, roots=roots)
    check_name(session, name or loaded.manifest.name, loaded.sha256)
    # Before anything is stored: PostgreSQL's jsonb refuses NUL and lone surrogates, and a manifest
    # read from an import root (the CLI, gRPC) has passed no HTTP check.
    if (found := json_string_problem(loaded.manifest.model_dump(mode="json"))) is not None:
        raise CheckpointError(f"manifest {'.'.join(map(str, found[0])) or 'key'}: {found[1]}")
    return _record(session, context.store.store(loaded), name=name, context=context, token_id=token_id)


def check_name(session: Session, name: str, sha256: str) -> None:
    """CheckpointNameTaken if `name` is registered with weights other than `sha256`'s, unless those
    weights are registered already (recording them again changes nothing)."""
    if session.scalar(select(Checkpoint.id).where(Checkpoint.sha256 == sha256)) is not None:
        return
    taken = session.scalar(select(Checkpoint.sha256).where(Checkpoint.name == name))
    if taken is not None and taken != sha256:
        raise CheckpointNameTaken(name, taken)


def record_checkpoint(session: Session, stored: StoredCheckpoint, *, name: str | None = None,
                      context: ArenaContext | None = None, token_id: int | None = None) -> Registration:
    """Record the stored checkpoint under `name` (default: its manifest's) in the caller's transaction.

    With the `context`'s settings naming a Triton server or repository, the checkpoint is also
    published to Triton (every time, also when already registered: export and load are
    idempotent, so a registration repeated after a Triton failure repairs it); with
    ARENA_AUTO_GAUNTLET, a new checkpoint is enrolled. See the module docstring.

    A parent the database does not know is dropped (reported in `dropped_parent`) rather than
    refused: lineage is optional, the rating is not. `token_id`: the API token registering it
    (recorded on a new row; None for the CLI). Raises ValueError for an empty name and
    CheckpointNameTaken for a name registered with other weights (nothing written).
    """
    if name is not None and not name.strip():
        raise ValueError("name: must not be empty")
    check_name(session, name or stored.manifest.name, stored.sha256)
    return _record(session, stored, name=name, context=context, token_id=token_id)


def _record(session: Session, stored: StoredCheckpoint, *, name: str | None, context: ArenaContext | None,
            token_id: int | None) -> Registration:
    """`record_checkpoint` once the name is checked."""
    manifest = stored.manifest
    name = name or manifest.name
    existing = session.scalar(select(Checkpoint.id).where(Checkpoint.sha256 == stored.sha256))
    parent, dropped = manifest.parent, None
    if parent is not None and session.scalar(select(Checkpoint.id).where(Checkpoint.sha256 == parent)) is None:
        parent, dropped = None, parent
    try:
        with session.begin_nested():  # a lost race for the name rolls back this insert only
            row = repository.get_or_create_checkpoint(
                session, sha256=stored.sha256, name=name, manifest=manifest.model_dump(mode="json"),
                run_name=manifest.run_name, training_step=manifest.training_step, parent_sha256=parent)
    except IntegrityError as exc:
        if getattr(getattr(exc.orig, "diag", None), "constraint_name", None) != _NAME_CONSTRAINT:
            raise
        raise CheckpointNameTaken(name, None) from None
    if existing is None and token_id is not None:
        row.created_by_token_id = token_id
        session.flush()
    triton = publish_to_triton(stored, context.settings) if context is not None else None
    gauntlet_id = gauntlet_error = None
    if existing is None and context is not None and context.settings.auto_gauntlet is not None:
        gauntlet_id, gauntlet_error = _enrol(session, row, context)
    return Registration(checkpoint=row, stored=stored, created=existing is None, dropped_parent=dropped,
                        triton=triton, gauntlet_id=gauntlet_id, gauntlet_error=gauntlet_error)


def _enrol(session: Session, row: Checkpoint, context: ArenaContext) -> tuple[int | None, str | None]:
    """Enrol a new checkpoint in the configured gauntlet; (tournament id, None) or (None, why not)."""
    try:
        tournament = enrol(session, row, load_template(context.settings.auto_gauntlet), context)
    except EnrolmentError as exc:
        log.warning("checkpoint %s registered, not enrolled: %s", row.name, exc)
        return None, str(exc)
    return tournament.id, None


def publish_to_triton(stored: StoredCheckpoint, settings: Settings) -> Publication | None:
    """Export `stored` into the Triton repository and load it; None when Triton is not configured."""
    if settings.triton_url is None and settings.triton_repository is None:
        return None
    try:
        # The registration's own load when there was one; else the store's copy, admitted when stored.
        loaded = stored.loaded or load_checkpoint(stored.manifest_path, allow_executable=True)
    except (CheckpointError, OSError) as exc:  # verified when stored; only a damaged store gets here
        log.warning("checkpoint %s: cannot read the stored copy for Triton: %s", stored.sha256[:12], exc)
        publication = Publication(error="cannot read the stored checkpoint (see the server's log)")
    else:
        publication = publish_checkpoint(loaded.module, stored.sha256, loaded.board_sizes,
                                         settings.triton_repository, settings.triton_url,
                                         flavour=settings.triton_flavour)
    if publication.error:
        log.warning("checkpoint %s registered, but not served by Triton (workers will retry): %s",
                    stored.sha256[:12], publication.error)
    return publication
