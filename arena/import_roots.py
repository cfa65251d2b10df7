"""Which server paths a network client may name: only those under the operator's import roots.

    path = importable(request_path, settings.import_dirs)                  # or NotImportableError
    folder = importable(directory, settings.import_dirs, kind="directory")

A path is resolved (symlinks followed, `..` collapsed) before it is compared with the roots
(`ARENA_IMPORT_DIRS`, themselves resolved), so a symlink in a root cannot lead out of it. Every
refusal, for a path outside the roots, one that does not exist or is not the kind asked for, is
the same `REFUSAL` text: a client learns neither whether a file exists nor where the server keeps
anything. Trusted callers (the CLI, enrolment) pass `roots=None`, which checks nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

__all__ = ["REFUSAL", "NotImportableError", "importable"]

log = logging.getLogger(__name__)

REFUSAL = "not an importable path: register by upload, or ask the operator to add its folder to ARENA_IMPORT_DIRS"


class NotImportableError(ValueError):
    """A path a network client may not name; the message is always `REFUSAL`."""

    def __init__(self) -> None:
        super().__init__(REFUSAL)


def importable(path: str | Path, roots: Sequence[str | Path] | None, *,
               kind: Literal["file", "directory"] = "file") -> Path:
    """`path` resolved, if it is an existing `kind` under one of `roots`; else NotImportableError.

    roots None: a trusted caller, `path` is returned as given. An empty list admits nothing.
    """
    if roots is None:
        return Path(path)
    try:
        resolved = Path(path).resolve(strict=True)
        exists = resolved.is_file() if kind == "file" else resolved.is_dir()
    except (OSError, RuntimeError, ValueError) as exc:  # missing, a symlink loop, a NUL byte
        log.info("refused import of a path that cannot be resolved: %s", type(exc).__name__)
        raise NotImportableError() from None
    if not exists or not any(resolved.is_relative_to(root) for root in _resolved_roots(roots)):
        log.info("refused import of %s: not a %s under ARENA_IMPORT_DIRS", resolved, kind)
        raise NotImportableError()
    return resolved


def _resolved_roots(roots: Sequence[str | Path]) -> list[Path]:
    resolved = []
    for root in roots:
        try:
            resolved.append(Path(root).resolve(strict=True))
        except (OSError, RuntimeError):
            log.warning("ARENA_IMPORT_DIRS names %s, which does not exist", root)
    return resolved
