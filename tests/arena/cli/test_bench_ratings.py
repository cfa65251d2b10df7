"""`arena bench ratings` through the console script: the documented JSON keys, last line."""

from __future__ import annotations

import json

from tests.arena.cli.test_bench_and_demo import run_arena

KEYS = {"bench", "uniform_games", "adaptive_games", "saving", "ci_coverage", "fit_s_100k_games"}


def test_bench_ratings_prints_the_documented_json_last() -> None:
    proc = run_arena("bench", "ratings", "--players", "4", "--target-ci", "80", "--trials", "3")
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert KEYS <= set(last)
    assert last["bench"] == "ratings"
    assert last["uniform_games"] > 0 and last["adaptive_games"] > 0
    assert last["saving"] == round(1 - last["adaptive_games"] / last["uniform_games"], 4)
    assert 0.0 <= last["ci_coverage"] <= 1.0
    assert "adaptive" in proc.stderr
