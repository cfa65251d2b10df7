"""The one leaderboard service of a process: every leaderboard the server shows, fitted under one
`RatingPolicy` and kept in one `LeaderboardCache`.

The HTTP API (`/ratings/...`, `/checkpoints/{ref}`), gRPC `GetLeaderboard`/`WatchRatings` and the
Prometheus collector (`arena.metrics`) all ask this object, so a fit made for one of them answers
the others until a game is stored (a new `LeaderboardKey`). Build it once where the process's
servers are built and hand it to each:

    leaderboards = LeaderboardService(RatingPolicy.from_settings(settings))
    entry = leaderboards.get(session, tournament_id=3)          # synchronous callers
    entry = leaderboards.lookup(key, condition) or leaderboards.fill(key, condition, fit)  # the API's read path
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from arena.db.condition_queries import choose_condition
from arena.db.lookup import LookupFailedError
from arena.settings import Settings

from .board import Leaderboard, pool_leaderboard
from .cache import CachedLeaderboard, LeaderboardCache
from .keys import LeaderboardKey, read_key
from .policy import RatingPolicy

__all__ = ["LeaderboardService"]


class LeaderboardService:
    """Leaderboards under `policy`, cached by game set (see the module docstring). Thread-safe."""

    def __init__(self, policy: RatingPolicy, *, maxsize: int = 64) -> None:
        self.policy = policy
        self._cache = LeaderboardCache(maxsize)

    @classmethod
    def from_settings(cls, settings: Settings) -> LeaderboardService:
        return cls(RatingPolicy.from_settings(settings))

    @property
    def fits(self) -> int:
        """Leaderboards fitted so far by this service (a cached answer fits none)."""
        return self._cache.fits

    def fit(self, session: Session, key: LeaderboardKey, condition: str | None) -> Leaderboard:
        """The leaderboard of `condition` (chosen from `key.conditions`; None: no pool), fitted now
        on `session`, which reads after the key was read."""
        return pool_leaderboard(session, self.policy, tournament_id=key.tournament_id, condition=condition,
                                conditions=key.conditions)

    def lookup(self, key: LeaderboardKey, condition: str | None) -> CachedLeaderboard | None:
        """The cached leaderboard of `condition` under `key`, if it is fitted (no database read)."""
        return self._cache.lookup(key.cache_key(condition))

    def fill(self, key: LeaderboardKey, condition: str | None,
             fit: Callable[[], Leaderboard]) -> CachedLeaderboard:
        """The cached leaderboard of `condition` under `key`, fitted by `fit()` (which reads after
        `key` was read, e.g. `self.fit` on a session of its own) if it is not. Blocking."""
        return self._cache.fill(key.cache_key(condition), fit)

    def get(self, session: Session, *, tournament_id: int | None = None, condition: str | None = None,
            board_size: int | None = None) -> CachedLeaderboard:
        """The current leaderboard of one pool (`choose_condition`: `condition`, or the one with the
        most games, on `board_size` if given), of tournament `tournament_id` or of every game: one
        key read on `session`, and a fit only if a game was stored since the last one.
        LookupFailedError for an unknown tournament or a condition it is not played under."""
        key = read_key(session, tournament_id)
        if tournament_id is not None and key.tournament_id is None:
            raise LookupFailedError(f"no tournament with id {tournament_id}")
        chosen = choose_condition(key.conditions, condition, board_size=board_size)
        return self.fill(key, chosen, lambda: self.fit(session, key, chosen))
