"""Several worker processes searching through one Triton server: `arena bench triton --workers N`.

Production runs many Celery workers, each searching its own block of games, against one Triton
server; whether the server's dynamic batcher merges the workers' requests into larger batches
is what decides if serving pays. This measures it with real processes (multiprocessing spawn,
one interpreter each, as separate workers are): every worker searches `games` games
(`play_searched_moves`; through Triton `pipeline_groups` groups in flight, 2 by default, as a
worker keeps by ARENA_TRITON_PIPELINE_GROUPS)

- through ONE local tritonserver, first 1 worker alone (for its batch size), then N at once;
- and N with in-process torch (TorchEvaluator), the network's torch threads split so the N
  processes share the cores fairly (cores // N each).

The N-worker sides take turns in `rounds` paired rounds (server then in-process, then the other
way round), each side's processes kept warm between their turns and alive until every round
is over (an exiting process's teardown would land in the other side's turn); the figures printed are the
round with the median ratio, and every round's are printed beside them. One pass of each side
after the other measured the machine's drift as much as serving: on this 2-core VM, four such
runs in a row gave ratios 0.81, 0.78, 0.70 and 1.04.

Both sides run the same TorchScript file the export wrote, so they compare serving, not two
compilations of the network. The server's mean batch is Triton's own statistics (rows per
model execution), read before and after each timed phase; workers are warmed up (kernels,
channels, the scripted network's profiling runs) and start their timed run together.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from arena.serving.local_triton import TritonServer
from models.triton_export import MODEL_FILE, TritonModelSpec, export_to_repository
from search_workers.evaluators.process_memory import keep_freed_memory
from search_workers.evaluators.torch_evaluator import TorchEvaluator
from search_workers.evaluators.triton import TritonEvaluator
from search_workers.search import SearchConfig
from search_workers.search.benchmark import play_searched_moves

from .paired_rounds import MAX_ROUNDS, median_round, turns

MAX_SERVER_BATCH = 4096  # rows per execution: well past where larger batches still pay, on CPU or GPU
PHASE_TIMEOUT_S = 1800.0  # a worker that neither reports nor dies within this is stuck, not slow


def multi_worker_spec(*, board_size: int, games: int, workers: int, server_threads: int,
                      instances: int = 1) -> TritonModelSpec:
    """The production model configuration (`TritonModelSpec`'s defaults: its batcher policy was
    chosen with this bench, and its comments give the figures), sized for `workers` processes of
    `games` games each: every row they can have in flight at once fits one execution (up to
    MAX_SERVER_BATCH), so merging is never capped below what the workers offer. `instances`:
    model instances, each with `server_threads` torch threads. On this 2-core CPU, two instances
    of one thread each ran more evaluations a second than one of two threads (small
    convolutions split across threads poorly), at a smaller batch per execution; on a GPU the
    production default of one instance stands (see `TritonModelSpec`)."""
    return TritonModelSpec(name="arena_bench_workers", board_size=board_size,
                           max_batch_size=min(max(workers * games, 16), MAX_SERVER_BATCH), cpu_threads=server_threads,
                           instance_count=instances)


@dataclass(frozen=True)
class WorkerJob:
    """What one spawned worker plays and through which evaluator (picklable: crosses spawn)."""

    index: int
    board_size: int
    visits: int
    games: int
    moves: int
    torch_threads: int
    network_file: str  # TorchScript of the network, for the in-process side
    grpc_url: str = ""  # "" : in-process torch; else the server's gRPC address
    model_name: str = ""
    pipeline_groups: int = 2  # through the server: groups in flight, as ARENA_TRITON_PIPELINE_GROUPS for a worker

    def evaluator(self):
        if self.grpc_url:
            return TritonEvaluator(self.grpc_url, model_name=self.model_name, board_size=self.board_size)
        return TorchEvaluator(torch.jit.load(self.network_file, map_location="cpu"), board_size=self.board_size,
                              device="cpu")


def run_worker(job: WorkerJob, rounds: int, barrier, results) -> None:
    """One worker process: warm up, then play the timed block once per round, each time when
    the parent lifts the barrier, and report (round, evaluations, started, finished)."""
    try:
        play_timed_rounds(job, rounds, barrier, results)
    except BaseException:
        barrier.abort()  # the parent and the other workers stop waiting for this one
        raise


def play_timed_rounds(job: WorkerJob, rounds: int, barrier, results) -> None:
    keep_freed_memory()  # as a worker process does (arena.worker), on both sides
    torch.set_num_threads(job.torch_threads)
    config = SearchConfig(visits=job.visits, seed=job.index)  # each worker its own openings
    evaluator = job.evaluator()
    try:
        # Two groups overlap one group's request with the other's descent; a synchronous
        # in-process network has nothing to overlap, and halving its batches would only slow it.
        groups = min(job.pipeline_groups, job.games) if job.grpc_url else 1
        # Warm-up: kernels, the gRPC channel, the scripted network's profiling runs.
        play_searched_moves(evaluator, config, board_size=job.board_size, games=job.games, moves=1,
                            pipeline_groups=groups)
        barrier.wait()  # all warm
        for round_index in range(rounds):
            barrier.wait()  # go: the parent has read the server's counters
            started = time.monotonic()  # CLOCK_MONOTONIC: one clock for all processes of the machine
            mcts = play_searched_moves(evaluator, config, board_size=job.board_size, games=job.games,
                                       moves=job.moves, pipeline_groups=groups)
            results.put((round_index, mcts.evaluations, started, time.monotonic()))
        # Stay, evaluator open, until the parent has timed every round: a process that exits
        # tears down torch and its gRPC channel for a second or two of CPU, which the other
        # team's next turn paid (its in-process rate read 10-15% low after the server team's
        # last round, so the last round's ratio read high).
        barrier.wait()
    finally:
        evaluator.close()


@dataclass(frozen=True)
class Phase:
    evaluations: int
    seconds: float  # first worker's start to last worker's end

    @property
    def evals_per_s(self) -> float:
        return self.evaluations / self.seconds


class Team:
    """One spawned process per job (one interpreter each, as separate workers are), warmed up
    once, then playing `rounds` timed blocks together, each when `play()` is called. Between
    rounds they wait on a barrier and use no CPU, so two teams can take turns on the same cores."""

    def __init__(self, jobs: list[WorkerJob], rounds: int):
        context = multiprocessing.get_context("spawn")
        self.rounds, self.played = rounds, 0
        self.barrier = context.Barrier(len(jobs) + 1)
        self.results = context.Queue()
        self.processes = [context.Process(target=run_worker, args=(job, rounds, self.barrier, self.results),
                                          daemon=True) for job in jobs]

    def __enter__(self) -> "Team":
        for process in self.processes:
            process.start()
        try:
            self._wait()  # all warm
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                self._wait()  # release the processes: they wait after their last round
                for process in self.processes:
                    process.join(PHASE_TIMEOUT_S)
                    _check_exit(process)
        finally:
            self._stop()

    def play(self, between=None) -> tuple[Phase, object, object]:
        """One timed round of every process at once; `between()` is called just before and just
        after it (the server's counters): (phase, before, after)."""
        if self.played >= self.rounds:
            raise RuntimeError(f"this team plays {self.rounds} rounds")
        before = between() if between else None
        self._wait()  # go
        self.played += 1
        reports = collect_reports(self.results, self.processes)
        after = between() if between else None
        seconds = max(r[3] for r in reports) - min(r[2] for r in reports)
        return Phase(evaluations=sum(r[1] for r in reports), seconds=seconds), before, after

    def _wait(self) -> None:
        try:
            self.barrier.wait(PHASE_TIMEOUT_S)
        except threading.BrokenBarrierError:
            raise RuntimeError("a bench worker failed (its traceback is on stderr above)") from None

    def _stop(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.kill()
                process.join()


def _check_exit(process) -> None:
    if process.exitcode not in (None, 0):
        raise RuntimeError(f"bench worker {process.name} exited with status {process.exitcode} (its traceback is "
                           f"on stderr above)")


def collect_reports(results, processes) -> list[tuple]:
    """One report per process; a process that died without reporting fails the round at once."""
    reports: list[tuple] = []
    deadline = time.monotonic() + PHASE_TIMEOUT_S
    while len(reports) < len(processes):
        try:
            reports.append(results.get(timeout=1.0))
        except queue.Empty:
            for process in processes:
                _check_exit(process)
            if time.monotonic() > deadline:
                raise TimeoutError(f"bench workers did not report within {PHASE_TIMEOUT_S:.0f}s") from None
    return reports


def server_mean_batch(before, after) -> float:
    """Rows per model execution between two ServerStatistics readings."""
    executions = after.execution_count - before.execution_count
    return (after.inference_count - before.inference_count) / max(executions, 1)


def benchmark_triton_workers(module: torch.nn.Module, *, workers: int = 4, board_size: int = 9, visits: int = 64,
                             games: int = 64, moves: int = 8, server_threads: int | None = None,
                             instances: int = 2, pipeline_groups: int = 2, rounds: int = 3) -> dict:
    """`workers` processes of `games` games each through one tritonserver vs in-process torch,
    in `rounds` paired rounds; the figures are the median round's (see `median_round`)."""
    if not 1 <= rounds <= MAX_ROUNDS:
        raise ValueError(f"rounds must be in [1, {MAX_ROUNDS}], got {rounds}")
    cores = len(os.sched_getaffinity(0))
    # Half the cores to the network, as `arena bench triton` does: the clients' tree search
    # needs the rest, and in-process workers split all the cores between search and network.
    server_threads = server_threads or max(1, cores // 2)
    worker_threads = max(1, cores // workers)  # in-process: N processes' networks share the cores
    spec = multi_worker_spec(board_size=board_size, games=games, workers=workers, server_threads=server_threads,
                             instances=instances)
    model = spec.model_name("cpu")
    with tempfile.TemporaryDirectory(prefix="arena-triton-workers-") as tmp:
        repository = Path(tmp)
        export_to_repository(module, spec, repository, flavours=("cpu",))
        network_file = str(repository / model / str(spec.version) / MODEL_FILE)

        def jobs(count: int, url: str = "") -> list[WorkerJob]:
            # Clients only descend trees and pack requests: one torch thread each is plenty.
            return [WorkerJob(index=i, board_size=board_size, visits=visits, games=games, moves=moves,
                              torch_threads=1 if url else worker_threads, network_file=network_file,
                              grpc_url=url, model_name=model if url else "", pipeline_groups=pipeline_groups)
                    for i in range(count)]

        # The server stays up through the in-process rounds: idle, it used 0.2% of a core.
        with TritonServer(repository, [model]) as server:
            with TritonEvaluator(server.grpc_url, model_name=model, board_size=board_size) as reader:
                with Team(jobs(1, server.grpc_url), rounds=1) as alone:
                    one, one_before, one_after = alone.play(reader.server_statistics)
                served, local, batches = [], [], []
                with Team(jobs(workers, server.grpc_url), rounds) as through_server, Team(jobs(workers), rounds) as own:
                    # Neither a drifting machine nor playing twice in a row favours one side
                    # (this 2-core VM's in-process rate varied 3,800-5,000/s within minutes).
                    for side in turns(rounds, "server", "local"):
                        if side == "server":
                            phase, before, after = through_server.play(reader.server_statistics)
                            served.append(phase)
                            batches.append((before, after))
                        else:
                            local.append(own.play()[0])
            startup_s = server.startup_s
    ratios = [s.evals_per_s / l.evals_per_s for s, l in zip(served, local)]
    middle = median_round(ratios)
    before, after = batches[0][0], batches[-1][1]
    batch, one_batch = server_mean_batch(before, after), server_mean_batch(one_before, one_after)
    return {"bench": "triton-workers", "workers": workers, "evals_per_s": round(served[middle].evals_per_s, 1),
            "inprocess_evals_per_s": round(local[middle].evals_per_s, 1),
            "ratio": round(ratios[middle], 4),
            "server_mean_batch": round(batch, 2), "one_worker_server_mean_batch": round(one_batch, 2),
            "batch_growth": round(batch / max(one_batch, 1e-9), 4),
            "rounds": rounds, "ratio_rounds": [round(r, 4) for r in ratios],
            "evals_per_s_rounds": [round(p.evals_per_s, 1) for p in served],
            "inprocess_evals_per_s_rounds": [round(p.evals_per_s, 1) for p in local],
            "one_worker_evals_per_s": round(one.evals_per_s, 1), "board_size": board_size, "visits": visits,
            "games": games, "moves": moves, "server_threads": server_threads, "server_instances": instances,
            "pipeline_groups": pipeline_groups,
            "worker_threads": worker_threads,
            "server_startup_s": round(startup_s or 0.0, 2)}

