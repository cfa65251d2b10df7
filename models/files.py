"""Writing and hashing files that other processes read: checkpoints and Triton repositories."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomically(target: Path, write: Callable[[str], object], *, digest: bool = True) -> str | None:
    """Call write(temp_path) then rename over target, so readers never see half a file.

    The file is synced before the rename and made world-readable (mkstemp makes 0600, and
    Triton or workers often run as another user). Returns the sha256 of what was written
    (None with `digest=False`: the caller wrote bytes it has hashed already).
    """
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(temp)
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        written = sha256_file(temp) if digest else None
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return written
