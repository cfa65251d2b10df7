"""The numba cache is keyed by every kernel source, so no kernel can run stale code."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numba
import pytest

from search_workers.go import _jit


def test_cache_dir_is_named_after_the_kernel_sources() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        pytest.skip("NUMBA_CACHE_DIR set by the user takes precedence")
    assert Path(numba.config.CACHE_DIR).name == _jit.kernel_digest()


def test_kernel_sources_cover_every_compiled_module() -> None:
    names = {p.name for p in _jit.kernel_sources()}
    assert {"_board.py", "_features.py", "_playout.py", "_layout.py"} <= names


def test_changing_any_kernel_changes_the_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "search_workers"
    shutil.copytree(_jit.PACKAGE_ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(_jit, "PACKAGE_ROOT", copy)
    before = _jit.kernel_digest()
    board = copy / "go" / "_board.py"
    board.write_text(board.read_text() + "\n# a change in a callee only\n")
    assert _jit.kernel_digest() != before
