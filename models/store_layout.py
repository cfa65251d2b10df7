"""Where a registered checkpoint lies in the store: the layout both the arena and the workers read.

    <root>/<weights sha256>/<NAME>.json     the validated manifest (exactly one per folder)
    <root>/<weights sha256>/<weights_file>  the weights it names, beside it

The arena writes this layout (arena.checkpoint_store), workers read it (search_workers.tasks,
search_workers.evaluators.stored); this module is the one place that knows it. It imports no
torch: paths only.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["CheckpointNotStoredError", "check_sha256", "checkpoint_folder", "stored_manifest"]

_SHA256 = re.compile(r"[0-9a-f]{64}")


class CheckpointNotStoredError(FileNotFoundError, LookupError):
    """No checkpoint with this sha256 in the store; the message names the store. (A missing file to
    a worker, a failed lookup to the arena.)"""


def check_sha256(sha256: str) -> str:
    """`sha256` in lower case; ValueError unless it is 64 hexadecimal digits."""
    # The sha256 becomes a path component: refuse anything else ("../x", a prefix).
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256.lower()):
        raise ValueError(f"a checkpoint sha256 is 64 hexadecimal digits, got {sha256!r}")
    return sha256.lower()


def checkpoint_folder(sha256: str, *, root: str | Path) -> Path:
    """The folder of checkpoint `sha256` in the store at `root` (whether or not it exists)."""
    return Path(root) / check_sha256(sha256)


def stored_manifest(sha256: str, *, root: str | Path) -> Path:
    """The manifest path of the stored checkpoint `sha256`; CheckpointNotStoredError if absent."""
    folder = checkpoint_folder(sha256, root=root)
    manifests = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if len(manifests) != 1:
        state = "holds no manifest" if folder.is_dir() else "does not exist"
        if len(manifests) > 1:
            state = f"holds {len(manifests)} manifests"
        raise CheckpointNotStoredError(f"checkpoint {folder.name} is not in the store {root} ({folder} {state}); "
                                       f"register it with `arena checkpoint register PATH`")
    return manifests[0]
