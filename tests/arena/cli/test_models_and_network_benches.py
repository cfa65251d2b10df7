"""`arena models export` and the network benchmarks, run as a user runs them (tiny sizes).

They check the JSON contract of each benchmark's last line, never its speed.
"""

from __future__ import annotations

import json

import pytest

from models.demo import newest_demo_manifest
from models.triton_export import TritonModelSpec, render_config
from tests.arena.cli.test_bench_and_demo import run_arena
from tests.support.triton import require_triton


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_bench_search_prints_the_documented_json_last() -> None:
    proc = run_arena("bench", "search", "--board-size", "9", "--visits", "16", "--games", "8", "--moves", "2",
                     "--rounds", "1")
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc.stdout)
    assert result["bench"] == "search" and result["playouts_per_s"] > 0 and result["us_per_playout"] > 0
    assert result["playouts"] > 0 and result["mean_batch"] == 8


def test_bench_pipeline_prints_the_documented_json_last() -> None:
    proc = run_arena("bench", "pipeline", "--board-size", "9", "--visits", "8", "--games", "8", "--moves", "2")
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc.stdout)
    assert result["bench"] == "pipeline"
    for key in ("evals_per_s", "bare_evals_per_s", "efficiency", "mean_batch"):
        assert result[key] > 0, key


def test_bench_pipeline_names_a_missing_checkpoint() -> None:
    proc = run_arena("bench", "pipeline", "--checkpoint", "no-such-checkpoint.json")
    assert proc.returncode != 0 and "no-such-checkpoint" in proc.stderr


def test_bench_triton_prints_the_documented_json_last() -> None:
    require_triton()
    proc = run_arena("bench", "triton", "--board-size", "9", "--visits", "8", "--games", "16", "--moves", "2")
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc.stdout)
    assert result["bench"] == "triton"
    assert result["evals_per_s"] > 0 and result["inprocess_evals_per_s"] > 0 and result["ratio"] > 0
    assert result["server_mean_batch"] >= 1
    # Three paired rounds by default; the printed figures are the round with the median ratio.
    assert result["rounds"] == len(result["ratio_rounds"]) == 3
    assert result["ratio"] == sorted(result["ratio_rounds"])[1]
    assert result["ratio"] == pytest.approx(result["evals_per_s"] / result["inprocess_evals_per_s"], rel=1e-2)


def test_models_export_writes_both_flavours(tmp_path) -> None:
    manifest = newest_demo_manifest()
    proc = run_arena("models", "export", str(manifest), "--repository", str(tmp_path), "--name", "demo9")
    assert proc.returncode == 0, proc.stderr
    gpu, cpu = (tmp_path / "demo9" / "config.pbtxt").read_text(), (tmp_path / "demo9_cpu" / "config.pbtxt").read_text()
    assert 'platform: "pytorch_libtorch"' in gpu and "dynamic_batching" in gpu
    assert 'backend: "python"' in cpu
    assert (tmp_path / "demo9" / "1" / "model.pt").is_file() and (tmp_path / "demo9_cpu" / "1" / "model.py").is_file()
    assert 'key: "CPU_PASS_ROWS" value: { string_value: "0" }' in cpu  # measured when the model loads
    # The batcher's policy is registration's (TritonModelSpec's defaults), not one of its own.
    spec = TritonModelSpec(name="demo9", board_size=9)
    assert render_config(spec, "gpu") == gpu and render_config(spec, "cpu") == cpu
    again = run_arena("models", "export", str(manifest), "--repository", str(tmp_path), "--name", "demo9")
    assert again.returncode != 0 and "exist" in again.stderr.lower()
    pinned = run_arena("models", "export", str(manifest), "--repository", str(tmp_path / "pinned"), "--name",
                       "demo9", "--flavour", "cpu", "--cpu-pass-rows", "48")
    assert pinned.returncode == 0, pinned.stderr
    assert 'string_value: "48"' in (tmp_path / "pinned" / "demo9_cpu" / "config.pbtxt").read_text()


def test_models_export_refuses_a_board_size_the_network_does_not_play(tmp_path) -> None:
    proc = run_arena("models", "export", str(newest_demo_manifest()), "--repository", str(tmp_path),
                     "--board-size", "19")
    assert proc.returncode != 0 and "19" in proc.stderr
