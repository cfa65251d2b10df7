"""Checkpoint lookups for the CLI and the APIs: plain dataclasses out, nothing written.

* `find_checkpoint`: a registered checkpoint by name, sha256 or unique sha256 prefix (near
  matches named when none answers);
* `list_checkpoints`, `checkpoint_summary`, `checkpoint_players`: rows as the tables show them.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from .lookup import LookupFailedError
from .models import Checkpoint, Player

__all__ = ["MIN_SHA256_PREFIX", "CheckpointSummary", "checkpoint_players", "checkpoint_summary", "find_checkpoint",
           "list_checkpoints"]

MIN_SHA256_PREFIX = 8  # shorter hex prefixes are too likely to be a name, or ambiguous
_HEX = re.compile(r"[0-9a-fA-F]+")


@dataclass(frozen=True)
class CheckpointSummary:
    id: int
    name: str
    sha256: str
    run_name: str | None
    training_step: int | None
    board_sizes: tuple[int, ...]
    parent_sha256: str | None
    created_at: datetime


def _board_sizes(manifest: dict[str, Any]) -> tuple[int, ...]:
    sizes = manifest.get("board_sizes") or ()
    return tuple(n for n in sizes if isinstance(n, int))


def _checkpoint_rows(session: Session, *conditions: Any) -> list[CheckpointSummary]:
    parent = aliased(Checkpoint)
    rows = session.execute(select(Checkpoint, parent.sha256).outerjoin(parent, parent.id == Checkpoint.parent_id)
                           .where(*conditions).order_by(Checkpoint.created_at, Checkpoint.id))
    return [CheckpointSummary(id=c.id, name=c.name, sha256=c.sha256, run_name=c.run_name,
                              training_step=c.training_step, board_sizes=_board_sizes(c.manifest),
                              parent_sha256=parent_sha, created_at=c.created_at) for c, parent_sha in rows]


def list_checkpoints(session: Session, *, run: str | None = None) -> list[CheckpointSummary]:
    """Every registered checkpoint (only training run `run`'s), oldest registration first."""
    return _checkpoint_rows(session, *([] if run is None else [Checkpoint.run_name == run]))


def checkpoint_summary(session: Session, checkpoint_id: int) -> CheckpointSummary:
    """The checkpoint with this id; LookupFailedError if there is none."""
    rows = _checkpoint_rows(session, Checkpoint.id == checkpoint_id)
    if not rows:
        raise LookupFailedError(f"no checkpoint with id {checkpoint_id}")
    return rows[0]


def checkpoint_players(session: Session, checkpoint_id: int) -> list[str]:
    """The names of the players (search settings) this checkpoint plays as, oldest first."""
    return list(session.scalars(select(Player.name).where(Player.checkpoint_id == checkpoint_id)
                                .order_by(Player.id)))


def find_checkpoint(session: Session, ref: str) -> Checkpoint:
    """The registered checkpoint `ref` names: a name (the newest registration if several share
    it), a full sha256, or a sha256 prefix of at least MIN_SHA256_PREFIX hex digits that only
    one checkpoint has. LookupFailedError lists near matches otherwise."""
    ref = ref.strip()
    named = session.scalars(select(Checkpoint).where(Checkpoint.name == ref)
                            .order_by(Checkpoint.created_at.desc(), Checkpoint.id.desc())).first()
    if named is not None:
        return named
    if len(ref) >= MIN_SHA256_PREFIX and _HEX.fullmatch(ref):
        matches = list(session.scalars(select(Checkpoint).where(Checkpoint.sha256.startswith(ref.lower()))
                                       .order_by(Checkpoint.id).limit(10)))
        if len(matches) == 1:
            return matches[0]
        if matches:
            listed = ", ".join(f"{c.name} ({c.sha256[:16]})" for c in matches)
            raise LookupFailedError(f"checkpoint sha256 prefix {ref!r} is ambiguous: {listed}; give more digits")
    names = list(session.scalars(select(Checkpoint.name).distinct()))
    near = difflib.get_close_matches(ref, names, n=5, cutoff=0.6)
    near += [n for n in names if ref and ref.lower() in n.lower() and n not in near][: 5 - len(near)]
    hint = f"; did you mean {', '.join(near)}?" if near else (
        "; no checkpoint is registered yet" if not names else f"; {len(names)} checkpoints are registered "
        f"(`arena checkpoint list`)")
    short = (f" (a sha256 prefix needs at least {MIN_SHA256_PREFIX} hex digits)"
             if _HEX.fullmatch(ref) and len(ref) < MIN_SHA256_PREFIX else "")
    raise LookupFailedError(f"no registered checkpoint named {ref!r} or with that sha256{short}{hint}")
