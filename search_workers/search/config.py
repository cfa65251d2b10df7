"""Search settings: one frozen value, every field documented, validated where it is built."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

# The most playouts per move any player may ask for: the tree is allocated up front for this
# many (see mcts.search_bytes_per_game), so the bound is part of the game contract
# (search_workers.schemas) and servers lower it further (ARENA_MAX_VISITS).
MAX_VISITS = 1_000_000


@dataclass(frozen=True)
class SearchConfig:
    """How one player searches. Two players with different settings are different players.

    One leaf per game per step, no virtual loss: at a fixed number of visits that is the
    strongest search, and batching comes from searching many games together instead.
    """

    visits: int = 64  # playouts per move (tree reuse counts the visits a subtree already has)
    c_puct: float = 1.5  # exploration constant of PUCT (AlphaGo Zero's c_puct)
    fpu_reduction: float = 0.25  # unvisited children: parent's value - this * sqrt(visited prior mass)
    reuse_tree: bool = True  # keep the subtree of the moves played between searches
    temperature: float = 1.0  # for the first `temperature_moves` moves, sample moves ∝ visits^(1/T)
    temperature_moves: int = 0  # 0: always the most visited move (the strongest play)
    resign_threshold: float = -0.95  # resign when the root value stays below this ...
    resign_consecutive: int = 3  # ... for this many consecutive own moves
    resign_disabled_fraction: float = 0.1  # share of games that never resign (keeps the threshold honest)
    seed: int = 0  # temperature sampling and resign draws of games not given their own seed (BatchedMcts.forget)

    def __post_init__(self) -> None:
        def integer(name: str, low: int, high: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"search {name} must be an integer in [{low}, {high}], got {value!r}")

        def real(name: str, low: float, high: float) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not low <= value <= high:
                raise ValueError(f"search {name} must be a number in [{low}, {high}], got {value!r}")

        integer("visits", 1, MAX_VISITS)
        real("c_puct", 0.0, 100.0)
        real("fpu_reduction", 0.0, 2.0)
        real("temperature", 1e-3, 100.0)
        integer("temperature_moves", 0, 10_000)
        real("resign_threshold", -1.0, 1.0)
        integer("resign_consecutive", 1, 1000)
        real("resign_disabled_fraction", 0.0, 1.0)
        integer("seed", 0, 2**63 - 1)
        if not isinstance(self.reuse_tree, bool):
            raise ValueError(f"search reuse_tree must be a bool, got {self.reuse_tree!r}")

    def to_dict(self) -> dict:
        return asdict(self)
