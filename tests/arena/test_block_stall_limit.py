"""ARENA_BLOCK_STALL_S must not give up blocks that are only slow: checked before a worker starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from arena.settings import Settings
from arena.worker import stall_limit_problem
from search_workers.engines.config import parse_engine_config

ENGINES = parse_engine_config({"engine": [
    {"name": "slow", "command": ["/bin/true"], "startup_timeout": 300, "move_timeout": 600},
    {"name": "quick", "command": ["/bin/true"]},
]}, source="test")


def test_the_limit_must_exceed_every_engines_longest_pause_and_the_triton_wait() -> None:
    assert stall_limit_problem(Settings(block_stall_s=901), ENGINES) is None
    problem = stall_limit_problem(Settings(block_stall_s=900), ENGINES)
    assert problem == ("ARENA_BLOCK_STALL_S (900 s) must be longer than the longest pause a block may rightly "
                       "make between two moves: engine 'slow' startup_timeout + move_timeout is 900 s")
    with_triton = Settings(block_stall_s=100, triton_url="127.0.0.1:8001", triton_wait_s=120)
    assert "ARENA_TRITON_WAIT_S is 120 s" in stall_limit_problem(with_triton, {})
    assert stall_limit_problem(Settings(block_stall_s=10), {}) is None  # nothing pauses a block for long


def test_arena_worker_refuses_to_start_with_a_limit_too_short(tmp_path) -> None:
    engines = tmp_path / "engines.toml"
    engines.write_text('[[engine]]\nname = "slow"\ncommand = ["/bin/true"]\nmove_timeout = 600\n')
    env = {**os.environ, "ARENA_BLOCK_STALL_S": "300", "ARENA_ENGINES_FILE": str(engines),
           "ARENA_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "arena.cli", "worker"], capture_output=True, text=True,
                          timeout=120, env=env, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 2
    assert ("arena worker: ARENA_BLOCK_STALL_S (300 s) must be longer than the longest pause a block may rightly "
            "make between two moves: engine 'slow' startup_timeout + move_timeout is 720 s") in proc.stderr
    assert "Traceback" not in proc.stderr
