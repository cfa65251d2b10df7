"""Search through a real local Triton server vs in-process torch: `arena bench triton`.

Exports the checkpoint's CPU flavour to a temporary repository, starts the pip-installed
tritonserver on loopback, and plays the same searched moves through `TritonEvaluator` and
through `TorchEvaluator` in one run. Both sides get the same number of torch threads so the
ratio measures the serving path (gRPC, batching, the Python backend), not thread counts.
The server-side mean batch comes from Triton's own statistics.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from arena.serving.local_triton import TritonServer
from models.triton_export import TritonModelSpec, export_to_repository
from search_workers.evaluators.torch_evaluator import TorchEvaluator
from search_workers.evaluators.triton import TritonEvaluator
from search_workers.search import SearchConfig
from search_workers.search.benchmark import play_searched_moves


def benchmark_triton(module: torch.nn.Module, *, board_size: int = 9, visits: int = 64, games: int = 64,
                     moves: int = 8, threads: int | None = None) -> dict:
    threads = threads or torch.get_num_threads()
    config = SearchConfig(visits=visits)
    spec = TritonModelSpec(name="arena_bench", board_size=board_size, max_batch_size=max(games, 16),
                           preferred_batch_sizes=(max(games, 16),), max_queue_delay_microseconds=500,
                           cpu_threads=threads)
    with tempfile.TemporaryDirectory(prefix="arena-triton-bench-") as tmp:
        repository = Path(tmp)
        export_to_repository(module, spec, repository, flavours=("cpu",))
        model = spec.model_name("cpu")
        with TritonServer(repository, [model]) as server:
            with TritonEvaluator(server.grpc_url, model_name=model, board_size=board_size) as remote:
                play_searched_moves(remote, config, board_size=board_size, games=games, moves=1)  # warm up
                before = remote.server_statistics()
                started = time.perf_counter()
                mcts = play_searched_moves(remote, config, board_size=board_size, games=games, moves=moves)
                remote_s = time.perf_counter() - started
                after = remote.server_statistics()
            startup_s = server.startup_s
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        local = TorchEvaluator(module, board_size=board_size, device="cpu")
        play_searched_moves(local, config, board_size=board_size, games=games, moves=1)
        started = time.perf_counter()
        local_mcts = play_searched_moves(local, config, board_size=board_size, games=games, moves=moves)
        local_s = time.perf_counter() - started
    finally:
        torch.set_num_threads(previous)
    executions = after.execution_count - before.execution_count
    inferences = after.inference_count - before.inference_count
    remote_rate = mcts.evaluations / remote_s
    local_rate = local_mcts.evaluations / local_s
    return {"bench": "triton", "board_size": board_size, "visits": visits, "games": games,
            "evals_per_s": round(remote_rate, 1), "inprocess_evals_per_s": round(local_rate, 1),
            "ratio": round(remote_rate / local_rate, 4),
            "server_mean_batch": round(inferences / max(executions, 1), 2),
            "client_mean_batch": round(mcts.evaluations / max(mcts.evaluate_calls, 1), 2),
            "threads": threads, "server_startup_s": round(startup_s or 0.0, 2)}
