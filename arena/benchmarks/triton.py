"""Search through a real local Triton server vs in-process torch: `arena bench triton`.

Exports the checkpoint's CPU flavour to a temporary repository, starts the pip-installed
tritonserver on loopback, and plays the same searched moves through `TritonEvaluator` and
through `TorchEvaluator` in one run. Both sides give their network the same number of torch threads, by default half
the cores: the serving path needs CPU of its own (gRPC, the Python backend's IPC, and the
client descending its trees while the server computes), and on a small machine a network
given every core would measure contention for cores, not the cost of serving.
Through Triton the search keeps two groups of games in flight (BatchedMcts pipeline_groups),
as a worker does in production: one group's request is served while the other descends.
The server-side mean batch comes from Triton's own statistics.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import torch

from arena.serving.local_triton import TritonServer
from models.triton_export import TritonModelSpec, export_to_repository
from search_workers.evaluators.process_memory import keep_freed_memory
from search_workers.evaluators.torch_evaluator import TorchEvaluator
from search_workers.evaluators.triton import TritonEvaluator
from search_workers.search import SearchConfig
from search_workers.search.benchmark import play_searched_moves


def benchmark_triton(module: torch.nn.Module, *, board_size: int = 9, visits: int = 64, games: int = 64,
                     moves: int = 8, threads: int | None = None, pipeline_groups: int = 2) -> dict:
    keep_freed_memory()  # this process is the client and the in-process side, as a worker would be
    threads = threads or max(1, (os.cpu_count() or 2) // 2)
    groups = max(1, min(pipeline_groups, games))
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
                play_searched_moves(remote, config, board_size=board_size, games=games, moves=1,
                                    pipeline_groups=groups)  # warm up
                before = remote.server_statistics()
                started = time.perf_counter()
                mcts = play_searched_moves(remote, config, board_size=board_size, games=games, moves=moves,
                                           pipeline_groups=groups)
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
            "threads": threads, "pipeline_groups": groups, "server_startup_s": round(startup_s or 0.0, 2)}
