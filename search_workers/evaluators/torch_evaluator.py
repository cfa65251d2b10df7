"""In-process inference with PyTorch: the embedded default and the reference for Triton.

CUDA with half precision when a GPU is present, the CPU in float32 otherwise. An optional
cache answers repeated positions (transpositions, the same opening in many games) without a
forward pass; it is keyed by a 128-bit hash of the exact network input, so a hit is always
the very same input, never a position that merely looks alike.

On the CPU a batch larger than the network's fastest batch (measured once per network shape in
the process, `cpu_batches`) runs in equal pieces: a 19x19 block of 64 games past the cache's
edge cost twice the CPU a row.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np
import torch

from search_workers.go.features import NUM_FEATURE_PLANES
from search_workers.search.evaluator import EvaluationError

from .cpu_batches import CANDIDATE_ROWS, fastest_rows, forward_in_pieces

# Rows per CPU forward pass, by network shape (its type and parameter shapes), input shape and
# torch threads: measured once per process for each, however many evaluators (checkpoints) share
# it. A module without parameters (an ONNX session's wrapper) has no shape to go by: its own.
_PASS_ROWS: dict[tuple, int] = {}
_PASS_ROWS_LOCK = threading.Lock()  # one measuring at a time: two at once would time each other


def pick_device(device: str | None = None) -> torch.device:
    """`device` if given, else CUDA when available, else the CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(device: torch.device, precision: str) -> torch.dtype:
    """float32, or on CUDA "auto" -> bfloat16 where supported, else float16."""
    table = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if precision in table:
        if device.type == "cpu" and precision != "float32":
            raise ValueError(f"precision {precision} is for GPUs; the CPU evaluates in float32")
        return table[precision]
    if precision != "auto":
        raise ValueError(f"precision must be auto, float32, float16 or bfloat16, got {precision!r}")
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def masked_softmax(logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """Softmax over legal moves only (float32); illegal moves get exactly 0."""
    logits = logits.float().masked_fill(~legal, float("-inf"))
    return torch.softmax(logits, dim=1)


class TorchEvaluator:
    """Evaluator over a torch module obeying the contract `module(features) -> (logits, value)`."""

    def __init__(self, module: torch.nn.Module, *, board_size: int, device: str | None = None,
                 precision: str = "auto", cache_size: int = 0, name: str = "torch"):
        self.board_size = board_size
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, precision)
        self.name = name
        self.module = module.to(self.device).eval()
        if self.dtype != torch.float32:
            self.module = self.module.to(self.dtype)
        self.cache_size = cache_size
        self._cache: OrderedDict[bytes, tuple[np.ndarray, float]] = OrderedDict()
        self.cache_hits = 0
        self.forward_positions = 0  # positions that went through the network
        self.pass_rows: int | None = None  # CPU: set at the first batch larger than the smallest candidate

    def evaluate(self, features: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if features.ndim != 4 or features.shape[2:] != (self.board_size, self.board_size):
            raise ValueError(f"{self.name}: features of shape {features.shape} for a "
                             f"{self.board_size}x{self.board_size} evaluator")
        if not self.cache_size:
            return self._forward(features, legal)
        keys = [hashlib.blake2b(f.tobytes() + m.tobytes(), digest_size=16).digest()
                for f, m in zip(features, legal)]
        policy = np.empty(legal.shape, dtype=np.float32)
        value = np.empty(legal.shape[0], dtype=np.float32)
        missing = []
        for i, key in enumerate(keys):
            hit = self._cache.get(key)
            if hit is None:
                missing.append(i)
            else:
                self._cache.move_to_end(key)
                policy[i], value[i] = hit
                self.cache_hits += 1
        if missing:
            p, v = self._forward(features[missing], legal[missing])
            policy[missing], value[missing] = p, v
            for row, i in enumerate(missing):
                self._cache[keys[i]] = (p[row], float(v[row]))
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return policy, value

    def _forward(self, features: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(features)).to(self.device, self.dtype, non_blocking=True)
            mask = torch.from_numpy(np.ascontiguousarray(legal)).to(self.device, non_blocking=True)
            if self.device.type == "cpu" and x.shape[0] > CANDIDATE_ROWS[0]:
                logits, value = forward_in_pieces(self.module, x, self._pass_rows(x.shape[1:]))
            else:
                logits, value = self.module(x)
            if not torch.isfinite(logits).all() or not torch.isfinite(value).all():
                raise EvaluationError(f"{self.name}: the network returned NaN or infinity")
            policy = masked_softmax(logits, mask)
            self.forward_positions += features.shape[0]
            return policy.cpu().numpy(), value.float().clamp(-1.0, 1.0).cpu().numpy()

    def prepare(self, input_planes: int = NUM_FEATURE_PLANES) -> None:
        """Measure the CPU's fastest batch now rather than at the first large one (benchmarks
        call this before timing). Nothing on a GPU."""
        if self.device.type == "cpu":
            self._pass_rows((input_planes, self.board_size, self.board_size))

    def _pass_rows(self, row_shape) -> int:
        if self.pass_rows is None:
            shapes = tuple(tuple(p.shape) for p in self.module.parameters())
            key = (type(self.module).__qualname__, shapes or id(self.module), tuple(row_shape),
                   torch.get_num_threads())
            with _PASS_ROWS_LOCK:
                if key not in _PASS_ROWS:
                    _PASS_ROWS[key] = fastest_rows(self.module, tuple(row_shape), max_rows=CANDIDATE_ROWS[-1])
                self.pass_rows = _PASS_ROWS[key]
        return self.pass_rows

    def close(self) -> None:
        self._cache.clear()
