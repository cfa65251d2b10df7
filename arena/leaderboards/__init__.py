"""Leaderboards: ratings of one rating pool's finished games, fitted by the pure functions of
`arena.ratings` under one `RatingPolicy`, and kept by one `LeaderboardService` per process.

- `policy`: `RatingPolicy`, the fit's parameters and reference scale, built once from Settings;
- `board`: `Leaderboard` and its rows, `build_leaderboard` (pure), `leaderboard` (read and fit
  now), `elo_vs_step`;
- `keys`: `LeaderboardKey`, what names a game set without reading the games;
- `cache`: `LeaderboardCache`, fits kept while their key is unchanged;
- `service`: `LeaderboardService`, the cache shared by the HTTP API, gRPC and the metrics.
"""

from .board import (Leaderboard, PlayerStanding, StepPoint, build_leaderboard, elo_vs_step, leaderboard,
                    parse_ladder_name)
from .cache import CachedLeaderboard, LeaderboardCache
from .keys import LeaderboardKey, leaderboard_key_params, leaderboard_key_statement, read_key
from .policy import RatingPolicy
from .service import LeaderboardService

__all__ = ["CachedLeaderboard", "Leaderboard", "LeaderboardCache", "LeaderboardKey", "LeaderboardService",
           "PlayerStanding", "RatingPolicy", "StepPoint", "build_leaderboard", "elo_vs_step", "leaderboard",
           "leaderboard_key_params", "leaderboard_key_statement", "parse_ladder_name", "read_key"]
