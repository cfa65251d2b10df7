"""Search through a real local Triton server vs in-process torch: `arena bench triton`.

Exports the checkpoint's CPU flavour to a temporary repository, starts the pip-installed
tritonserver on loopback, and plays the same searched moves through `TritonEvaluator` and
through `TorchEvaluator` in one run, the two taking turns in paired rounds (`paired_rounds`).
Both sides give their network the same number of torch threads, by default half the cores: the
serving path needs CPU of its own (gRPC, the Python backend's IPC, and the client descending its
trees while the server computes), and on a small machine a network given every core would
measure contention for cores, not the cost of serving.
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

from .paired_rounds import MAX_ROUNDS, median_round, turns


def benchmark_triton(module: torch.nn.Module, *, board_size: int = 9, visits: int = 64, games: int = 64,
                     moves: int = 8, threads: int | None = None, pipeline_groups: int = 2, rounds: int = 3) -> dict:
    """The two sides take turns in `rounds` paired rounds (server then in-process, then the other
    way round, as `arena bench triton --workers` does); the figures are the median round's."""
    if not 1 <= rounds <= MAX_ROUNDS:
        raise ValueError(f"rounds must be in [1, {MAX_ROUNDS}], got {rounds}")
    keep_freed_memory()  # this process is the client and the in-process side, as a worker would be
    threads = threads or max(1, (os.cpu_count() or 2) // 2)
    groups = max(1, min(pipeline_groups, games))
    config = SearchConfig(visits=visits)
    spec = TritonModelSpec(name="arena_bench", board_size=board_size, max_batch_size=max(games, 16),
                           preferred_batch_sizes=(max(games, 16),), max_queue_delay_microseconds=500,
                           cpu_threads=threads)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)  # the in-process side's network; the client itself runs no torch
    try:
        with tempfile.TemporaryDirectory(prefix="arena-triton-bench-") as tmp:
            repository = Path(tmp)
            export_to_repository(module, spec, repository, flavours=("cpu",))
            model = spec.model_name("cpu")
            with TritonServer(repository, [model]) as server:
                with TritonEvaluator(server.grpc_url, model_name=model, board_size=board_size) as remote:
                    local = TorchEvaluator(module, board_size=board_size, device="cpu")
                    sides = {"server": (remote, groups), "local": (local, 1)}

                    def play(side: str, timed_moves: int):
                        evaluator, side_groups = sides[side]
                        started = time.perf_counter()
                        mcts = play_searched_moves(evaluator, config, board_size=board_size, games=games,
                                                   moves=timed_moves, pipeline_groups=side_groups)
                        return mcts, time.perf_counter() - started

                    play("server", 1)  # warm up both sides
                    play("local", 1)
                    before = remote.server_statistics()
                    runs: dict[str, list] = {"server": [], "local": []}
                    for side in turns(rounds, "server", "local"):
                        runs[side].append(play(side, moves))
                    after = remote.server_statistics()
                startup_s = server.startup_s
    finally:
        torch.set_num_threads(previous)
    remote_rates = [mcts.evaluations / seconds for mcts, seconds in runs["server"]]
    local_rates = [mcts.evaluations / seconds for mcts, seconds in runs["local"]]
    ratios = [r / l for r, l in zip(remote_rates, local_rates)]
    middle = median_round(ratios)
    served = [mcts for mcts, _ in runs["server"]]
    executions = after.execution_count - before.execution_count
    inferences = after.inference_count - before.inference_count
    return {"bench": "triton", "board_size": board_size, "visits": visits, "games": games,
            "evals_per_s": round(remote_rates[middle], 1), "inprocess_evals_per_s": round(local_rates[middle], 1),
            "ratio": round(ratios[middle], 4),
            "server_mean_batch": round(inferences / max(executions, 1), 2),
            "client_mean_batch": round(sum(m.evaluations for m in served)
                                       / max(sum(m.evaluate_calls for m in served), 1), 2),
            "rounds": rounds, "ratio_rounds": [round(r, 4) for r in ratios],
            "threads": threads, "pipeline_groups": groups, "server_startup_s": round(startup_s or 0.0, 2)}
