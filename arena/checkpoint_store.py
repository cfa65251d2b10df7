"""Registered checkpoints, content-addressed: `<root>/<weights sha256>/<NAME>.json` beside its weights.

The identity of a checkpoint is the sha256 of its weights file: what the manifest pins in
`weights_sha256`, what `LoadedCheckpoint.sha256` reports and what `arena.db` stores in
`Checkpoint.sha256` (64 lowercase hex digits). Workers load registered checkpoints from here, so
in production `root` is shared storage (`Settings.checkpoint_root()`).

A checkpoint is stored only after `models.checkpoint.load_checkpoint` accepted it (manifest
validated, weights hashed, tensors checked, a test forward run; nothing unpickled). Its folder
appears whole or not at all: the copy is assembled in a temporary folder beside it and renamed
into place. Storing the same weights again is a no-op once the stored copy's hash is checked;
the first stored manifest is kept (the database keeps the first registration the same way).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from models.checkpoint import CheckpointError, CheckpointManifest, load_checkpoint, sha256_file
from models.files import write_atomically
from models.manifest import manifest_json, read_manifest

__all__ = ["CheckpointNotStoredError", "StoredCheckpoint", "stored_checkpoint", "stored_manifest", "store_checkpoint"]

_SHA256 = re.compile(r"[0-9a-f]{64}")


class CheckpointNotStoredError(LookupError):
    """No checkpoint with this sha256 in the store; the message names the store."""


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint in the store: identity, its manifest's path in the store, and the manifest."""

    sha256: str  # of the weights file (= manifest.weights_sha256)
    name: str  # the manifest's name
    manifest_path: Path  # <root>/<sha256>/<NAME>.json; the weights lie beside it
    manifest: CheckpointManifest


def _check_sha256(sha256: str) -> str:
    # The sha256 becomes a path component: refuse anything else ("../x", a prefix).
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256.lower()):
        raise ValueError(f"a checkpoint sha256 is 64 hexadecimal digits, got {sha256!r}")
    return sha256.lower()


def stored_manifest(sha256: str, *, root: str | Path) -> Path:
    """The manifest path of the stored checkpoint `sha256`; CheckpointNotStoredError if absent."""
    sha256 = _check_sha256(sha256)
    folder = Path(root) / sha256
    manifests = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if len(manifests) != 1:
        state = "holds no manifest" if folder.is_dir() else "does not exist"
        if len(manifests) > 1:
            state = f"holds {len(manifests)} manifests"
        raise CheckpointNotStoredError(f"checkpoint {sha256} is not in the store {root} ({folder} {state}); "
                                       f"register it with `arena checkpoint register PATH`")
    return manifests[0]


def stored_checkpoint(sha256: str, *, root: str | Path) -> StoredCheckpoint:
    """The stored checkpoint `sha256`, its weights' hash checked (a CheckpointError if damaged)."""
    path = stored_manifest(sha256, root=root)
    manifest = read_manifest(path)
    weights = path.parent / manifest.weights_file
    digest = sha256_file(weights) if weights.is_file() else None
    if manifest.weights_sha256 != path.parent.name or digest != path.parent.name:
        found = "is missing" if digest is None else f"has sha256 {digest}"
        raise CheckpointError(f"{path.parent}: the stored checkpoint is damaged (its weights file "
                              f"{manifest.weights_file} {found}, its manifest pins {manifest.weights_sha256}); "
                              f"remove the folder and register the checkpoint again")
    return StoredCheckpoint(sha256=path.parent.name, name=manifest.name, manifest_path=path, manifest=manifest)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store_checkpoint(path: str | Path, *, root: str | Path) -> StoredCheckpoint:
    """Verify the checkpoint at `path` (manifest or weights file) and copy it into the store.

    Raises CheckpointError (nothing stored) when `load_checkpoint` refuses it or the weights
    change while being copied. Idempotent: weights already stored are only checked.
    """
    loaded = load_checkpoint(path)  # CheckpointError names the file and the field
    sha256 = loaded.sha256
    root = Path(root)
    try:
        return stored_checkpoint(sha256, root=root)
    except CheckpointNotStoredError:
        pass
    root.mkdir(parents=True, exist_ok=True)
    # The manifest keeps its file name (`NAME.json`, a valid file name by construction, distinct
    # from the weights file that lay beside it); its content is the validated manifest.
    manifest_name = loaded.path.name
    temp = Path(tempfile.mkdtemp(dir=root, prefix=f".{sha256[:16]}.", suffix=".tmp"))
    try:
        weights = temp / loaded.manifest.weights_file
        digest = write_atomically(weights, lambda target: shutil.copyfile(loaded.weights_path, target))
        if digest != sha256:
            raise CheckpointError(f"{loaded.weights_path}: the weights changed while being stored "
                                  f"(sha256 {digest}, verified {sha256}); nothing was stored")
        text = manifest_json(loaded.manifest)
        write_atomically(temp / manifest_name, lambda target: Path(target).write_text(text, encoding="utf-8"))
        os.chmod(temp, 0o755)  # mkdtemp makes 0700; workers may run as another user
        _fsync_dir(temp)
        try:
            os.rename(temp, root / sha256)
        except OSError:
            if not (root / sha256).is_dir():
                raise
            # Another process stored the same weights first: keep its copy.
        else:
            _fsync_dir(root)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return stored_checkpoint(sha256, root=root)
