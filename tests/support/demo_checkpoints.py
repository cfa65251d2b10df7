"""The newest demo networks as registered checkpoints, for tests that need real ones on the DB."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy.orm import Session

from arena.db.repository import get_or_create_checkpoint
from models.demo import demo_manifests
from models.manifest import read_manifest


def register_demo_checkpoints(session: Session, count: int = 2, *, store: Path | None = None) -> list[str]:
    """Record the `count` newest demo checkpoints (9x9) in the database; with `store`, also copy
    each manifest and weights file into `store/<sha256>/` as the checkpoint store lays them out.
    Their names, oldest first."""
    names = []
    for path in demo_manifests()[-count:]:
        manifest = read_manifest(path)
        get_or_create_checkpoint(session, sha256=manifest.weights_sha256, name=manifest.name,
                            manifest=manifest.model_dump(mode="json"))
        if store is not None:
            folder = store / manifest.weights_sha256
            folder.mkdir()
            shutil.copy(path, folder / path.name)
            shutil.copy(path.parent / manifest.weights_file, folder / manifest.weights_file)
        names.append(manifest.name)
    return names
