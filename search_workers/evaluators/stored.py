"""Evaluators of stored checkpoints: the one place a TorchEvaluator is built from the checkpoint store.

    loaded = load_stored(sha256, root=root, device="cpu", board_size=9)   # verified, on the device
    evaluator = stored_torch_evaluator(sha256, board_size=9, root=root)
    evaluators = StoredEvaluators(root)                                   # cached per (sha256, size)
    evaluators.get(sha256, 9)

Workers (search_workers.tasks) and the arena (policy openings, arena.context) both come here;
the layout of the store is models.store_layout's. Imports torch (through models.checkpoint and
the torch evaluator): import this module only where a network is evaluated.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from models.checkpoint import LoadedCheckpoint, load_checkpoint
from models.store_layout import stored_manifest

from .torch_evaluator import TorchEvaluator

__all__ = ["StoredEvaluators", "load_stored", "stored_torch_evaluator"]


def load_stored(sha256: str, *, root: str | Path, device: str = "cpu", board_size: int | None = None
                ) -> LoadedCheckpoint:
    """The stored checkpoint `sha256`, verified (hash and test forward) and on `device`.

    Raises CheckpointNotStoredError (absent), CheckpointError (damaged), ValueError (other weights
    than its folder's name, or it does not play `board_size`)."""
    manifest = stored_manifest(sha256, root=root)
    # The store holds only what a registration admitted (executable exports: by the operator's CLI).
    loaded = load_checkpoint(manifest, device=device, allow_executable=True)
    if loaded.sha256 != manifest.parent.name:
        raise ValueError(f"the stored checkpoint {manifest} has weights {loaded.sha256}, not {manifest.parent.name}")
    if board_size is not None and board_size not in loaded.board_sizes:
        raise ValueError(f"{loaded.manifest.name} plays {list(loaded.board_sizes)}, not {board_size}x{board_size}")
    return loaded


def stored_torch_evaluator(sha256: str, *, board_size: int, root: str | Path, device: str = "cpu",
                           name: str | None = None) -> TorchEvaluator:
    """A TorchEvaluator of the stored checkpoint `sha256` for `board_size` (named `name`, default
    its manifest's)."""
    loaded = load_stored(sha256, root=root, device=device, board_size=board_size)
    return TorchEvaluator(loaded.module, board_size=board_size, device=device, name=name or loaded.manifest.name)


class StoredEvaluators:
    """Evaluators of stored checkpoints, built once per (sha256, board size) and kept (the newest
    `max_cached`): a checkpoint's network is loaded and verified once per process, not per use."""

    def __init__(self, root: str | Path, *, device: str = "cpu", max_cached: int = 8):
        self.root, self.device, self.max_cached = Path(root), device, max_cached
        self._cache: OrderedDict[tuple[str, int], TorchEvaluator] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha256: str, board_size: int, *, name: str | None = None) -> TorchEvaluator:
        """The evaluator of stored checkpoint `sha256` on `board_size` boards (see load_stored's errors)."""
        key = (sha256, board_size)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        evaluator = stored_torch_evaluator(sha256, board_size=board_size, root=self.root, device=self.device,
                                           name=name)
        with self._lock:
            self._cache[key] = evaluator
            while len(self._cache) > self.max_cached:
                self._cache.popitem(last=False)  # not closed: a caller may still hold it
        return evaluator
