"""`arena bench triton --workers N` with the real tritonserver and real worker processes, tiny size.

Checks the JSON contract and what Triton's own counters must show, never speed: with one row
per request (2 games in 2 pipeline groups), a server mean batch above 1 can only come from the
dynamic batcher merging requests, and 2 workers searching at once give it requests to merge.
"""

from __future__ import annotations

import json

import pytest

from tests.arena.cli.test_bench_and_demo import run_arena
from tests.support.triton import require_triton

KEYS = ("bench", "workers", "evals_per_s", "inprocess_evals_per_s", "ratio", "server_mean_batch",
        "one_worker_server_mean_batch", "batch_growth")


def test_bench_triton_workers_prints_the_documented_json_last() -> None:
    require_triton()
    workers, games = 2, 2
    proc = run_arena("bench", "triton", "--workers", str(workers), "--board-size", "9", "--visits", "8",
                     "--games", str(games), "--moves", "3", "--rounds", "3")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert list(result)[:len(KEYS)] == list(KEYS)
    assert result["bench"] == "triton-workers" and result["workers"] == workers
    assert result["evals_per_s"] > 0 and result["inprocess_evals_per_s"] > 0
    # The figures are printed rounded: the ratios agree with them to rounding.
    assert result["ratio"] == pytest.approx(result["evals_per_s"] / result["inprocess_evals_per_s"], rel=1e-2)
    # Three paired rounds; the printed figures are those of the round with the median ratio.
    ratios = result["ratio_rounds"]
    assert result["rounds"] == len(ratios) == 3
    assert result["ratio"] == sorted(ratios)[1]
    middle = ratios.index(result["ratio"])
    assert result["evals_per_s"] == result["evals_per_s_rounds"][middle]
    assert result["inprocess_evals_per_s"] == result["inprocess_evals_per_s_rounds"][middle]
    # Rows per execution: at least one request's row, at most every row the workers hold.
    assert 1 <= result["one_worker_server_mean_batch"] <= games
    assert 1 < result["server_mean_batch"] <= workers * games
    assert result["batch_growth"] == pytest.approx(
        result["server_mean_batch"] / result["one_worker_server_mean_batch"], rel=1e-2)


def test_a_team_stays_alive_after_its_last_round_until_it_is_released(tmp_path) -> None:
    # A process that exits tears down torch (a second or two of CPU on this machine); had the team
    # exited after its last round, the other team's next turn would have paid for it.
    import torch

    from arena.benchmarks.triton_workers import Team, WorkerJob
    from models.network import NetworkConfig, PolicyValueNet

    network = tmp_path / "net.pt"
    torch.jit.save(torch.jit.script(PolicyValueNet(NetworkConfig(blocks=1, channels=8, value_hidden=8)).eval()),
                   str(network))
    jobs = [WorkerJob(index=i, board_size=9, visits=2, games=2, moves=1, torch_threads=1, network_file=str(network))
            for i in range(2)]
    with Team(jobs, rounds=2) as team:
        for _ in range(2):
            phase, _, _ = team.play()
            assert phase.evaluations > 0
        team.processes[0].join(5.0)  # unreleased, it must not end (one that did took well under 5 s)
        assert all(process.is_alive() for process in team.processes)
    assert [process.exitcode for process in team.processes] == [0, 0]
