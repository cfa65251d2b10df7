"""The evaluator with no network: uniform policy over legal moves, value 0.

Search tests and the search benchmark use it to measure everything but the network.
"""

from __future__ import annotations

import numpy as np


class UniformEvaluator:
    """policy = 1/#legal on every legal move, value = 0."""

    def __init__(self, board_size: int):
        self.board_size = board_size

    def evaluate(self, features: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        policy = legal.astype(np.float32)
        policy /= policy.sum(axis=1, keepdims=True)
        return policy, np.zeros(legal.shape[0], dtype=np.float32)

    def close(self) -> None:
        pass
