"""The one interface between search and networks (ARCHITECTURE.md, "contracts").

    evaluate(features [B, C, N, N] float32, legal [B, N*N+1] bool)
        -> (policy [B, N*N+1] float32, value [B] float32)

`policy` is a probability distribution over the legal moves of each position (0 on illegal
moves, rows summing to 1, pass last); `value` is the expected outcome for the side to move,
in [-1, 1]. Implementations live in `search_workers.evaluators` (uniform, in-process torch,
Triton over gRPC); search only ever sees this protocol, so it never imports torch or grpc.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ._evaluation import clearly_sound


# Search rounds the network's outputs (priors and values) to multiples of this before using them.
# A network's float results for one position change in their last bits with the batch around it
# (kernels sum in another order for another batch size); rounded to 2^-12, a position's outputs
# are the same in any batch unless a result lies within those bits of a rounding boundary, so a
# game replays alone as it was played in its block (`arena bench replay`). 2^-12 is far below what
# changes a search: a prior of 1/4096 is visited about as rarely as one of 0.
OUTPUT_STEP = 2.0 ** -12


def round_outputs(policy: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """policy [B, M] and value [B] rounded to multiples of OUTPUT_STEP (new arrays, same dtypes)."""
    scale = 1.0 / OUTPUT_STEP
    return (np.round(policy * scale) * OUTPUT_STEP).astype(policy.dtype, copy=False), \
        (np.round(value * scale) * OUTPUT_STEP).astype(value.dtype, copy=False)


class EvaluationError(RuntimeError):
    """An evaluator produced something search must not use (NaN, wrong shape, out of range)."""


class EvaluatorUnavailableError(RuntimeError):
    """The service an evaluator needs (a Triton server) stayed away past the evaluator's own wait.
    Not the games' fault: a worker gives them back to be played later, without counting an attempt."""


@runtime_checkable
class Evaluator(Protocol):
    board_size: int  # the N of the [B, C, N, N] inputs it accepts

    def evaluate(self, features: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """policy [B, N*N+1], value [B] for features [B, C, N, N] and legal [B, N*N+1]."""
        ...

    def close(self) -> None:
        """Release connections, threads or devices; evaluate must not be called afterwards."""
        ...


def check_evaluation(policy: np.ndarray, value: np.ndarray, legal: np.ndarray, *, source: str) -> None:
    """Raise EvaluationError unless (policy, value) obey the contract for these legal moves.

    Cheap next to any forward pass (a few vector ops over [B, N*N+1]); search calls it on every
    batch so that a broken network is reported, never searched on.
    """
    batch, moves = legal.shape
    if policy.shape != (batch, moves) or value.shape != (batch,):
        raise EvaluationError(f"{source} returned policy {policy.shape} and value {value.shape}; "
                              f"expected ({batch}, {moves}) and ({batch},)")
    # The usual case in one compiled pass (search checks every batch); anything it cannot vouch
    # for, with a margin against rounding, gets the exact checks below and their messages.
    if (policy.dtype.kind == "f" and value.dtype.kind == "f" and legal.dtype == np.bool_
            and clearly_sound(policy, value, legal, 1.0 + 0.5e-4, 0.5e-5)):
        return
    # A few reductions, no temporaries the size of the batch: this runs on every batch of
    # every search. A row sum is finite only if every entry is (inf - inf is NaN).
    totals = policy.sum(axis=1, dtype=np.float64)
    if not np.isfinite(value).all():
        rows = np.flatnonzero(~np.isfinite(value))[:5].tolist()
        raise EvaluationError(f"{source} returned a non-finite value for positions {rows}")
    if not np.isfinite(totals).all():
        rows = np.flatnonzero(~np.isfinite(totals))[:5].tolist()
        raise EvaluationError(f"{source} returned a non-finite policy for positions {rows}")
    if batch and np.abs(value).max() > 1.0 + 1e-4:
        raise EvaluationError(f"{source} returned a value outside [-1, 1]: {float(np.abs(value).max()):.4g}")
    legal_mass = np.einsum("ij,ij->i", policy, legal, dtype=np.float64)
    if batch and (totals - legal_mass).max() > 1e-5:
        raise EvaluationError(f"{source} put probability on an illegal move")
