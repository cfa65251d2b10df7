"""Registered checkpoints, content-addressed: `<root>/<weights sha256>/<NAME>.json` beside its weights.

The identity of a checkpoint is the sha256 of its weights file: what the manifest pins in
`weights_sha256`, what `LoadedCheckpoint.sha256` reports and what `arena.db` stores in
`Checkpoint.sha256` (64 lowercase hex digits). Workers load registered checkpoints from here, so
in production `root` is shared storage (`Settings.checkpoint_root()`).

A checkpoint is stored only after `models.checkpoint.load_checkpoint` accepted it (manifest
validated, weights hashed, tensors checked, a test forward run; nothing unpickled) under the
`Admission` of the face it came through: network clients (`Admission.network`) get data formats
only, the configured architecture limits, a timed test forward and refusals that name no server
path; the operator's CLI (`Admission.operator`) may also register TorchScript/ONNX exports.
A path a network client names must lie under `ARENA_IMPORT_DIRS` (`roots`, arena.import_roots).

The checkpoint is loaded, hashed and tried once per registration: the store writes the very
bytes `load_checkpoint` hashed (`LoadedCheckpoint.weights`), and the `LoadedCheckpoint` travels on
in `StoredCheckpoint.loaded` (the Triton export uses it). Its folder appears whole or not at all:
the copy is assembled in a temporary folder beside it and renamed into place. Storing the same
weights again is a no-op once the stored copy is found equal to the verified bytes; the first
stored manifest is kept (the database keeps the first registration the same way). The layout
itself (`<root>/<sha256>/<NAME>.json`) is models.store_layout's, shared with the workers.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from arena.import_roots import NotImportableError, importable
from arena.settings import Settings
from models.checkpoint import (
    CheckpointError,
    CheckpointManifest,
    LimitExceededError,
    LoadedCheckpoint,
    NetworkLimits,
    load_checkpoint,
    locate_checkpoint,
    sha256_file,
)
from models.files import write_atomically
from models.manifest import manifest_json, read_manifest
from models.store_layout import CheckpointNotStoredError, stored_manifest

__all__ = ["LIMIT_SETTINGS", "Admission", "CheckpointNotStoredError", "CheckpointStore", "StoredCheckpoint",
           "admit_checkpoint", "importable_checkpoint", "store_checkpoint", "store_loaded", "stored_checkpoint",
           "stored_manifest"]

# The setting behind each limit a refusal names (LimitExceededError.limit).
LIMIT_SETTINGS = {
    "blocks": "ARENA_MAX_NETWORK_BLOCKS",
    "channels": "ARENA_MAX_NETWORK_CHANNELS",
    "parameters": "ARENA_MAX_NETWORK_PARAMETERS",
    "forward_seconds": "ARENA_CHECKPOINT_FORWARD_TIMEOUT_S",
}


@dataclass(frozen=True)
class Admission:
    """What a registration accepts, by where it comes from (see the module docstring)."""

    allow_executable: bool = False  # TorchScript/ONNX run code when loaded: an operator's own files only
    limits: NetworkLimits | None = None  # the largest architecture; None: any NetworkConfig allows
    forward_timeout_s: float | None = None  # the test forward's time limit; None: unbounded
    show_paths: bool = True  # False: refusals name files by name only (a client's view)

    @classmethod
    def network(cls, settings: Settings) -> Admission:
        """HTTP and gRPC clients: data formats only, within the server's limits."""
        return cls(allow_executable=False, limits=network_limits(settings),
                   forward_timeout_s=settings.checkpoint_forward_timeout_s, show_paths=False)

    @classmethod
    def operator(cls, settings: Settings) -> Admission:
        """The CLI on the server: the operator's files, executable exports included."""
        return cls(allow_executable=True, limits=network_limits(settings),
                   forward_timeout_s=settings.checkpoint_forward_timeout_s, show_paths=True)


def network_limits(settings: Settings) -> NetworkLimits:
    return NetworkLimits(blocks=settings.max_network_blocks, channels=settings.max_network_channels,
                         parameters=settings.max_network_parameters)


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint in the store: identity, its manifest's path in the store, and the manifest."""

    sha256: str  # of the weights file (= manifest.weights_sha256)
    name: str  # the manifest's name
    manifest_path: Path  # <root>/<sha256>/<NAME>.json; the weights lie beside it
    manifest: CheckpointManifest
    # The network as this registration loaded it (None: read back from the store, not loaded).
    # Its `path` is where it was loaded from, which may be gone (an upload's temporary folder).
    loaded: LoadedCheckpoint | None = field(default=None, compare=False, repr=False)


def stored_checkpoint(sha256: str, *, root: str | Path, verified: bytes | None = None) -> StoredCheckpoint:
    """The stored checkpoint `sha256`, its weights checked (a CheckpointError if damaged): hashed,
    or, given the `verified` bytes of these weights (hashed already), compared with them."""
    path = stored_manifest(sha256, root=root)
    manifest = read_manifest(path, source=f"stored checkpoint {path.parent.name}")
    weights = path.parent / manifest.weights_file
    if not weights.is_file():
        digest = None
    elif verified is not None:
        digest = path.parent.name if weights.read_bytes() == verified else "other than the weights registered"
    else:
        digest = sha256_file(weights)
    if manifest.weights_sha256 != path.parent.name or digest != path.parent.name:
        found = "is missing" if digest is None else f"has sha256 {digest}"
        # Named by its folder in the store (the sha256), not by a path: API clients read this too.
        raise CheckpointError(f"stored checkpoint {path.parent.name}: the stored copy is damaged (its weights file "
                              f"{manifest.weights_file} {found}, its manifest pins {manifest.weights_sha256}); "
                              f"remove its folder from the store and register the checkpoint again")
    return StoredCheckpoint(sha256=path.parent.name, name=manifest.name, manifest_path=path, manifest=manifest)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def importable_checkpoint(path: str | Path, roots: Sequence[str | Path] | None) -> Path:
    """`path` (a manifest or weights file) resolved, when it, its manifest and the weights file the
    manifest names all resolve under `roots`; else NotImportableError (one text for every case).

    roots None: a trusted caller, `path` as given. A manifest under a root that is refused as a
    manifest is a CheckpointError naming the file by its name only.
    """
    if roots is None:
        return Path(path)
    named = importable(path, roots)
    try:
        manifest_path, _ = locate_checkpoint(named, show_paths=False)
    except CheckpointError:
        raise NotImportableError() from None
    manifest_path = importable(manifest_path, roots)
    manifest = read_manifest(manifest_path, source=manifest_path.name)
    importable(manifest_path.parent / manifest.weights_file, roots)  # a symlinked weights file stays inside too
    return named


def admit_checkpoint(path: str | Path, *, admission: Admission = Admission(),
                     roots: Sequence[str | Path] | None = None) -> LoadedCheckpoint:
    """Load and verify the checkpoint at `path` (manifest or weights file) under `admission`;
    nothing is written. roots: the folders a client's `path` must resolve under
    (NotImportableError otherwise); None for a trusted caller or a path the server chose (an
    upload's temporary folder). Refusals are CheckpointErrors (ExecutableFormatError,
    LimitExceededError naming the setting, ...)."""
    path = importable_checkpoint(path, roots)
    try:
        return load_checkpoint(path, allow_executable=admission.allow_executable, limits=admission.limits,
                               forward_timeout_s=admission.forward_timeout_s, show_paths=admission.show_paths,
                               keep_weights=True)  # the store writes the bytes hashed here
    except LimitExceededError as exc:
        setting = LIMIT_SETTINGS.get(exc.limit)
        raise LimitExceededError(f"{exc} (setting {setting})" if setting else str(exc), limit=exc.limit) from None


def store_checkpoint(path: str | Path, *, root: str | Path, admission: Admission = Admission(),
                     roots: Sequence[str | Path] | None = None) -> StoredCheckpoint:
    """`admit_checkpoint` then `store_loaded`: verify the checkpoint at `path` and copy it into the store."""
    return store_loaded(admit_checkpoint(path, admission=admission, roots=roots), root=root)


def store_loaded(loaded: LoadedCheckpoint, *, root: str | Path) -> StoredCheckpoint:
    """Copy an admitted checkpoint into the store; the result carries it (`loaded`).

    With the verified bytes on `loaded` (admit_checkpoint keeps them) those are written, nothing is
    read or hashed again; else the file is copied and the copy hashed, and CheckpointError (nothing
    stored) when the weights changed since they were verified. Idempotent: weights already stored
    are only checked.
    """
    sha256 = loaded.sha256
    root = Path(root)
    try:
        return dataclasses.replace(stored_checkpoint(sha256, root=root, verified=loaded.weights), loaded=loaded)
    except CheckpointNotStoredError:
        pass
    root.mkdir(parents=True, exist_ok=True)
    # The manifest keeps its file name (`NAME.json`, a valid file name by construction, distinct
    # from the weights file that lay beside it); its content is the validated manifest.
    manifest_name = loaded.path.name
    temp = Path(tempfile.mkdtemp(dir=root, prefix=f".{sha256[:16]}.", suffix=".tmp"))
    try:
        weights = temp / loaded.manifest.weights_file
        if loaded.weights is not None:
            write_atomically(weights, lambda target: Path(target).write_bytes(loaded.weights), digest=False)
            digest = sha256  # the bytes load_checkpoint hashed
        else:
            digest = write_atomically(weights, lambda target: shutil.copyfile(loaded.weights_path, target))
        if digest != sha256:
            raise CheckpointError(f"{loaded.manifest.weights_file}: the weights changed while being stored "
                                  f"(sha256 {digest}, verified {sha256}); nothing was stored")
        text = manifest_json(loaded.manifest)
        write_atomically(temp / manifest_name, lambda target: Path(target).write_text(text, encoding="utf-8"),
                         digest=False)
        os.chmod(temp, 0o755)  # mkdtemp makes 0700; workers may run as another user
        _fsync_dir(temp)
        try:
            os.rename(temp, root / sha256)
        except OSError:
            if not (root / sha256).is_dir():
                raise
            # Another process stored the same weights first: keep its copy (checked below).
            return dataclasses.replace(stored_checkpoint(sha256, root=root, verified=loaded.weights), loaded=loaded)
        _fsync_dir(root)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return StoredCheckpoint(sha256=sha256, name=loaded.manifest.name, manifest_path=root / sha256 / manifest_name,
                            manifest=loaded.manifest, loaded=loaded)


@dataclass(frozen=True)
class CheckpointStore:
    """The server's checkpoint store (`Settings.checkpoint_root()`), as the arena's context hands it out."""

    root: Path

    def store(self, loaded: LoadedCheckpoint) -> StoredCheckpoint:
        """`store_loaded` into this store."""
        return store_loaded(loaded, root=self.root)

    def manifest(self, sha256: str) -> Path:
        """`stored_manifest` of this store (CheckpointNotStoredError if absent)."""
        return stored_manifest(sha256, root=self.root)
