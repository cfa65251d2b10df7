"""Fitted leaderboards kept while their game set is unchanged: `LeaderboardCache`.

Entries are keyed by `LeaderboardKey.cache_key` (the pool and the counters that change with every
stored game), so a new game makes a new key and the next request refits. Thread-safe: concurrent
requests for one key wait for one fit instead of fitting in parallel.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .board import Leaderboard

__all__ = ["CachedLeaderboard", "LeaderboardCache"]


@dataclass
class CachedLeaderboard:
    """A fitted leaderboard, its JSON-ready form, and that encoded once for whoever serves bytes."""

    board: Leaderboard
    data: dict[str, Any]  # board.as_dict()
    _encoded: bytes | None = field(default=None, repr=False)

    def encoded(self, encode: Callable[[dict[str, Any]], bytes]) -> bytes:
        """`data` encoded by `encode` (the HTTP API's JSON), on the first call only. A process has
        one encoder for leaderboards; two threads racing here compute the same bytes."""
        if self._encoded is None:
            self._encoded = encode(self.data)
        return self._encoded


class LeaderboardCache:
    """The newest `maxsize` leaderboards by cache key; `fits` counts the fits made (tests, metrics)."""

    def __init__(self, maxsize: int = 64) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[Any, ...], CachedLeaderboard] = OrderedDict()
        self._lock = threading.Lock()
        self._fitting: dict[tuple[Any, ...], threading.Lock] = {}
        self.fits = 0

    def lookup(self, key: tuple[Any, ...]) -> CachedLeaderboard | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def fill(self, key: tuple[Any, ...], fit: Callable[[], Leaderboard]) -> CachedLeaderboard:
        """The entry for `key`, made with `fit()` unless cached or being made by another thread.
        `fit` must read the game set after the key was read: a game stored in between makes the
        entry newer than its key, and the next key refits it. Never older."""
        entry = self.lookup(key)
        if entry is not None:
            return entry
        with self._lock:
            fitting = self._fitting.setdefault(key, threading.Lock())
        with fitting:
            try:
                entry = self.lookup(key)
                if entry is None:
                    board = fit()
                    entry = CachedLeaderboard(board, board.as_dict())
                    with self._lock:
                        self.fits += 1
                        self._entries[key] = entry
                        while len(self._entries) > self.maxsize:
                            self._entries.popitem(last=False)
            finally:  # a fit that raised too: a key of every failed fit was kept for good
                with self._lock:
                    self._fitting.pop(key, None)
        return entry
