"""How a leaderboard is fitted: one frozen `RatingPolicy`, built once per process from Settings.

Every leaderboard the server shows (HTTP API, gRPC, the checkpoint page, the Prometheus gauges)
is fitted under the same policy, so that one cached fit answers all of them. The CLI builds its
own for one fit (`arena leaderboard --anchor ... --bootstrap ...`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arena.ratings.reference import Ladder
from arena.reference_ladder import configured_ladder
from arena.settings import Settings

__all__ = ["RatingPolicy"]


@dataclass(frozen=True)
class RatingPolicy:
    """The arguments of `arena.ratings.compute_ratings` and the scale a leaderboard reports on.

    The 95% intervals are Hessian intervals (and bootstrap percentiles with `bootstrap` > 0).
    """

    anchor: str | None = None  # the player held at anchor_elo; None: the pool's mean is 0
    anchor_elo: float = 0.0
    bootstrap: int = 0  # bootstrap refits for percentile intervals (0: none)
    seed: int = 0  # of the bootstrap resampling
    colour_advantage: bool = True  # fit a first-player (black) advantage term
    prior_games: float = 2.0  # virtual draws against the pool mean: finite Elo for unbeaten players
    bias_reduction: bool = True  # Firth's correction of the maximum-likelihood bias
    draw_model: str = "half"  # a draw counts as half a win for each side
    # The reference scale (ARENA_REFERENCE_LADDER): Elo relative to its reference point and
    # equivalent strength on its rungs, per player; None without a ladder.
    reference: Ladder | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RatingPolicy:
        """The server's policy: default fit parameters, and the configured reference ladder (a bad
        ladder file raises, stopping the start)."""
        ladder = configured_ladder(settings)
        return cls(reference=None if ladder is None else ladder.ladder)

    def fit_arguments(self) -> dict[str, Any]:
        """`compute_ratings`' keyword arguments; also what a leaderboard reports as its `parameters`."""
        return {"anchor": self.anchor, "anchor_elo": self.anchor_elo, "bootstrap": self.bootstrap, "seed": self.seed,
                "colour_advantage": self.colour_advantage, "prior_games": self.prior_games,
                "bias_reduction": self.bias_reduction, "draw_model": self.draw_model}
