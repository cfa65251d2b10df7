"""The CLI commands the README promises, run as a user runs them (through the console script)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from search_workers.go import read_sgf

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


def test_demo_plays_a_game_and_prints_valid_sgf() -> None:
    proc = run_arena("demo", "--bench-seconds", "0.2", "--match-games", "2", "--visits", "8")
    assert proc.returncode == 0, proc.stderr
    sgf_text = re.search(r"\(;.*?\)\s*$", proc.stdout, re.S | re.M)
    assert sgf_text, proc.stdout
    record = read_sgf(sgf_text.group(0))
    final = record.replay()
    assert final.is_over and record.result == final.result
    bench_lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"bench"')]
    assert [(b["bench"], b["board_size"]) for b in bench_lines] == [("rules", 9), ("rules", 19), ("search", 9)]
    match = re.search(r"(demo-\S+) won (\d+) of (\d+)", proc.stdout)
    assert match and int(match.group(3)) == 2, proc.stdout
