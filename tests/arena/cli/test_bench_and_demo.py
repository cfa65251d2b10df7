"""The CLI commands the README promises, run as a user runs them (through the console script)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from search_workers.go import read_sgf
from tests.arena.db.conftest import admin_url, db_url  # noqa: F401 -- a fresh database per module
from tests.support.engines import find_gnugo

ARENA = Path(sys.executable).with_name("arena")


def run_arena(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ARENA), *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("board_size", [9, 19])
def test_bench_rules_prints_the_documented_json_last(board_size: int) -> None:
    proc = run_arena("bench", "rules", "--board-size", str(board_size), "--seconds", "0.5", "--rounds", "3")
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["bench"] == "rules"
    assert last["board_size"] == board_size
    assert last["games"] >= 3 and last["moves"] > last["games"]
    assert last["moves_per_s"] > 0


def test_bench_rules_rejects_a_bad_board_size_by_name() -> None:
    proc = run_arena("bench", "rules", "--board-size", "30")
    assert proc.returncode != 0
    assert "board size" in proc.stderr and "30" in proc.stderr


def test_demo_runs_a_tournament_and_leaves_valid_sgfs(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    """`arena demo`, reduced: local workers on the filesystem broker, the leaderboard, SGFs on disk.
    (`make test` also runs it on the embedded PostgreSQL.)"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(ARENA_DATABASE_URL=db_url, ARENA_DATA_DIR=str(tmp_path / "data"))
    out = tmp_path / "sgf"
    proc = subprocess.run([str(ARENA), "demo", "--games-per-pairing", "2", "--visits", "4", "--ladder", "1,16",
                           "--workers", "1", "--sgf-dir", str(out)], capture_output=True, text=True, timeout=600,
                          env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    players = 7 if find_gnugo() else 6
    games = players * (players - 1)
    assert f"{games} games written as SGF" in proc.stdout
    files = sorted(out.glob("*.sgf"))
    assert len(files) == games
    for path in files:
        record = read_sgf(path.read_text())
        final = record.replay()
        assert record.result and final.move_number > 0
        if record.result[2:] not in ("R", "F") and "referee" not in path.read_text():
            assert record.result == final.result
    assert "Elo vs visits" in proc.stdout and "Head to head" in proc.stdout
