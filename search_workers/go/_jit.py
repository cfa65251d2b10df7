"""Where numba caches the project's compiled kernels, and why it is not numba's default.

numba re-compiles a cached kernel only when the kernel's own source file changes, not when a
kernel it calls from another file does (`_features.write_features` inlines `_board.move_status`).
A stale cache would silently referee games by old rules. So every cache lives in a directory
named after a hash of all kernel sources (the `_*.py` modules under `search_workers/`): change
any of them and every kernel is compiled afresh.

Set NUMBA_CACHE_DIR yourself to take over (and with it this responsibility).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # search_workers/


def kernel_sources() -> list[Path]:
    return sorted(p for p in PACKAGE_ROOT.rglob("_*.py") if p.name != "__init__.py")


def kernel_digest() -> str:
    digest = hashlib.sha256()
    for path in kernel_sources():
        digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def configure_cache() -> None:
    """Point numba's cache at a directory keyed by the kernel sources; call before any @njit."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    numba.config.CACHE_DIR = str(base / "go-arena" / "numba" / kernel_digest())
