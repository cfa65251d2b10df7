"""The batch a CPU forward pass runs fastest at, measured once; larger batches run in pieces of it.

On a CPU a convolution's cost per row is flat, or falls, only while a batch's activations stay
in the core's cache; past that it jumps. Measured on a 2-core EPYC with 1 MB of L2 a core, one
torch thread, CPU microseconds a row (docs/benchmarks.md):

    demo 9x9 network (4 blocks, 32 channels)   78-86 up to 96 rows, 141 at 128
    9x9, 6 blocks of 32 channels               118 up to 80 rows,   209 at 88
    9x9, 6 blocks of 64 channels               374-391 up to 56,    659 at 64
    19x19, 6 blocks of 32 channels             504 up to 18 rows,   749 at 20, 1,143 at 32

Where the edge lies depends on the network, the board and the CPU's caches (the 64-channel
network's is not where its activations' bytes put it), so it is measured, not predicted: a few
passes at each candidate size, smallest first, stopping past the edge or when the time budget is
spent. A Triton server merging four workers' requests ran about a third of its rows in batches
of 97-256 (`arena bench triton --workers 4`), past the demo network's edge on this CPU; an
in-process worker's batch is its block of games (19x19 blocks of 64 are past the edge).
Splitting such a batch into equal pieces no larger than the measured size gives the same outputs
(the search rounds them, `round_outputs`) for less CPU.

This file imports only torch and the standard library, and must not start with
`from __future__ import ...`: the Triton Python-backend model (models/triton_export.py) carries
a copy of its source in the middle of its own, since a model process cannot import the project.
"""

import math
import time

import torch

# Sizes tried, in order (and the largest batch allowed, when it falls between two of them).
CANDIDATE_ROWS = (8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
PROBE_BUDGET_S = 0.5  # wall time of the measuring; the demo network needs about 0.15 s
TIMED_PASSES = 3  # per size, after one untimed pass; the fastest counts (a preempted pass reads slow)
PAST_THE_EDGE = 1.5  # a size this much dearer a row than the best so far: larger only get worse


def fastest_rows(forward, row_shape, *, max_rows: int, dtype=torch.float32,
                 budget_s: float = PROBE_BUDGET_S) -> int:
    """The batch size, among the candidates below `max_rows` and `max_rows` itself (at most the
    last candidate), whose forward pass costs least a row by wall time; that largest size when
    the time ran out before a second size was measured (no evidence for splitting).

    `forward(batch)` is the network; `row_shape` one row's shape (planes, N, N). The batch is the
    on-board plane alone, as for an empty board: a dense network's cost does not depend on the
    values. The budget is checked after every pass: a network too slow for it stops the
    measuring at the fastest size found so far."""
    top = max(1, min(int(max_rows), CANDIDATE_ROWS[-1]))
    sizes = [rows for rows in CANDIDATE_ROWS if rows < top] + [top]
    best_rows, best_cost, measured = top, math.inf, 0
    deadline = time.perf_counter() + budget_s
    with torch.inference_mode():
        for rows in sizes:
            batch = torch.zeros((rows, *row_shape), dtype=dtype)
            batch[:, 0] = 1.0
            forward(batch)  # allocations and the kernels' first choice for this shape
            cost = math.inf
            for _ in range(TIMED_PASSES):
                start = time.perf_counter()
                forward(batch)
                now = time.perf_counter()
                cost = min(cost, (now - start) / rows)
                if now > deadline:
                    break
            measured += 1
            if cost < best_cost:
                best_rows, best_cost = rows, cost
            elif cost > PAST_THE_EDGE * best_cost:
                break
            if time.perf_counter() > deadline:
                break
    return best_rows if measured > 1 else top


def forward_in_pieces(forward, batch: torch.Tensor, rows: int):
    """forward(batch) for a network returning a tuple of per-row tensors, run in equal pieces of
    at most `rows` rows (a batch of 100 at 64 a piece runs as 50 and 50, not 64 and 36)."""
    if batch.shape[0] <= rows:
        return forward(batch)
    outputs = [forward(piece) for piece in torch.tensor_split(batch, -(-batch.shape[0] // rows))]
    return tuple(torch.cat(parts) for parts in zip(*outputs))
