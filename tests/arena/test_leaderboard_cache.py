"""The API's leaderboard cache: one fit per key at a time, and nothing kept of a fit that failed."""

from __future__ import annotations

import pytest

from arena.leaderboards.cache import LeaderboardCache


def test_a_fit_that_raises_leaves_no_lock_behind() -> None:
    cache = LeaderboardCache()

    def broken():
        raise RuntimeError("the database went away")

    for key in range(100):
        with pytest.raises(RuntimeError):
            cache.fill(("tournament", key), broken)
    assert cache._fitting == {} and cache.lookup(("tournament", 0)) is None and cache.fits == 0
