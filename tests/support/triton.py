"""The local Triton server for tests: skipped where nvidia-pytriton is missing, failed under CI.

The launcher itself is product code (`arena.serving.local_triton`): benchmarks use it too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.serving.local_triton import (  # noqa: F401  (re-exported for tests)
    TritonInstall,
    TritonServer,
    TritonServerError,
    find_triton,
)

from .ci import unavailable


def require_triton() -> TritonInstall:
    """The install, or skip (fail under CI) with the reason."""
    found = find_triton()
    if isinstance(found, str):
        unavailable(found)
    return found


def triton_server(repository: Path, models: list[str] | tuple[str, ...] = ()):
    """Generator for a pytest fixture: `yield from triton_server(repo, ["m"])`; fails with the log."""
    server = TritonServer(repository, models, install=require_triton())
    try:
        server.start()
    except TritonServerError as error:
        pytest.fail(str(error))
    try:
        yield server
    finally:
        server.stop()
