"""The network input feature set, versioned.

A checkpoint's manifest names the feature-set version it was trained on; the evaluator refuses
to feed a network features of another version. Change a plane and you must bump the version.

Feature set 1: float32 [17, N, N], all from the point of view of the side to move.

| plane | meaning                                                                    |
|-------|----------------------------------------------------------------------------|
| 0     | 1 on every point of the board (lets one network serve several sizes)       |
| 1     | stones of the side to move                                                 |
| 2     | stones of the opponent                                                     |
| 3-5   | side to move's stones in chains with 1, 2, >= 3 liberties                  |
| 6-8   | opponent's stones in chains with 1, 2, >= 3 liberties                      |
| 9     | legal moves of the side to move (ko and superko applied)                   |
| 10-14 | the point of each of the last 5 moves, most recent first (a pass: empty)   |
| 15    | 1 everywhere if Black is to move                                           |
| 16    | komi from the side to move's view (komi if White, -komi if Black) / 15     |

Liberty and move-history planes follow KataGo's input set; they let small networks learn
quickly, which matters for the arena's tiny demo networks.
"""

from __future__ import annotations

import numpy as np

from ._features import NUM_PLANES
from .state import GameState

FEATURE_SET_VERSION = 1
NUM_FEATURE_PLANES = NUM_PLANES

PLANE_NAMES = (
    "on_board",
    "own_stones",
    "opponent_stones",
    "own_1_liberty",
    "own_2_liberties",
    "own_3plus_liberties",
    "opponent_1_liberty",
    "opponent_2_liberties",
    "opponent_3plus_liberties",
    "legal_moves",
    "last_move_1",
    "last_move_2",
    "last_move_3",
    "last_move_4",
    "last_move_5",
    "black_to_move",
    "komi",
)
assert len(PLANE_NAMES) == NUM_FEATURE_PLANES


def compute_features(state: GameState) -> np.ndarray:
    """float32 [NUM_FEATURE_PLANES, N, N] for the side to move of `state`."""
    return state.features()


def stack_features(states: list[GameState]) -> np.ndarray:
    """float32 [B, NUM_FEATURE_PLANES, N, N] for states of one board size."""
    sizes = {s.board_size for s in states}
    if len(sizes) > 1:
        raise ValueError(f"states of several board sizes cannot share one batch: {sorted(sizes)}")
    return np.stack([s.features() for s in states]) if states else np.zeros((0, NUM_FEATURE_PLANES, 0, 0), np.float32)
