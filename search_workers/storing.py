"""Storing a block's finished games through a database outage (layer 5, used by `tasks`).

A finished game is the result of minutes of play; a database that restarts for ten seconds
must not throw it away. `BlockStore.put` stores each game as it ends, in the caller's thread,
exactly as before while the sink answers. When the sink reports an outage
(`SinkUnavailableError`: the sink decides what a connection-type failure is), the game is kept
in memory and a retry thread stores it, and every later game of the block, in order, with
exponential backoff (`first_delay_s` doubling to `max_delay_s`), for at most `retry_s` seconds
from the first failure. The block keeps playing meanwhile: `put` never waits on the database
while games are pending.

`finish()` waits for the pending games (within the same bound) and returns the ids that could
not be stored: the task then leaves them unacknowledged (their leases expire, or they are given
back) and fails, so they are played again elsewhere rather than counted lost.

Games are not spooled to disk: see docs/operations.md ("Outages") for why memory plus leases is enough.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable, TypeVar

from .schemas import FinishedGameRecord

log = logging.getLogger(__name__)
T = TypeVar("T")


class SinkUnavailableError(ConnectionError):
    """The sink cannot be reached right now (database down or restarting): worth retrying."""


class StoreGaveUpError(RuntimeError):
    """Games could not be stored within the retry bound; the block stops and gives them back."""

    def __init__(self, game_ids: list[int], seconds: float):
        self.game_ids = game_ids
        super().__init__(f"{len(game_ids)} finished game(s) could not be stored within {seconds:.0f} s "
                         f"(database unavailable): {game_ids[:10]}")


class BlockStore:
    """Writes one block's finished games through `record`, riding out sink outages; see the module.

    `record(game) -> bool` is the sink's write (True: stored now, False: already there).
    `on_stored(game, stored_now)` runs after each successful write (in whichever thread wrote it).
    """

    def __init__(self, record: Callable[[FinishedGameRecord], bool], *, retry_s: float = 600.0,
                 first_delay_s: float = 1.0, max_delay_s: float = 30.0,
                 on_stored: Callable[[FinishedGameRecord, bool], None] | None = None):
        self._record, self._on_stored = record, on_stored
        self.retry_s, self.first_delay_s, self.max_delay_s = retry_s, first_delay_s, max_delay_s
        self._pending: deque[FinishedGameRecord] = deque()
        self._failing_since: float | None = None  # monotonic time of the first failure of this outage
        self._error: BaseException | None = None  # a non-outage failure of the retry thread
        self._gave_up = False
        self._cond = threading.Condition()
        self._retrying = False  # a retry thread owns the pending games (set and cleared under the lock)
        self.stored_ids: list[int] = []

    # ---- the game loop's side ------------------------------------------------------------

    def put(self, game: FinishedGameRecord) -> None:
        """Store `game` now, or queue it behind an outage. Raises StoreGaveUpError once the retry
        bound has passed (the block should stop), or the retry thread's own non-outage error."""
        with self._cond:
            self._raise_if_failed()
            if self._pending:
                self._pending.append(game)  # keep the order; the retry thread owns the database now
                return
        try:
            self._write(game)
        except SinkUnavailableError as exc:
            with self._cond:
                self._pending.append(game)
                self._begin_outage(exc)

    def finish(self) -> list[int]:
        """Wait until the pending games are stored or the bound passes; the ids left unstored.

        Raises the retry thread's non-outage error, if it had one (the game it was writing is
        then among the unstored, as far as the caller can tell: it was not acknowledged)."""
        with self._cond:
            while self._pending and not self._gave_up and self._error is None:
                self._cond.wait(1.0)
            left = [g.scheduled_game_id for g in self._pending]
            self._gave_up = True  # a thread still sleeping stops at its next look
            self._cond.notify_all()
            if self._error is not None:
                raise self._error
            return left

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    # ---- internals -------------------------------------------------------------------------

    def _write(self, game: FinishedGameRecord) -> None:
        stored_now = self._record(game)
        self.stored_ids.append(game.scheduled_game_id)
        if self._on_stored is not None:
            self._on_stored(game, stored_now)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
        if self._gave_up:
            raise StoreGaveUpError([g.scheduled_game_id for g in self._pending], self.retry_s)

    def _begin_outage(self, exc: BaseException) -> None:
        # Called with the lock held.
        if self._failing_since is None:
            self._failing_since = time.monotonic()
        log.warning("storing game %s failed (%s); keeping %d finished game(s) and retrying for up to %.0f s",
                    self._pending[0].scheduled_game_id, exc, len(self._pending), self.retry_s)
        if not self._retrying:
            self._retrying = True
            threading.Thread(target=self._retry_loop, name="store-retry", daemon=True).start()

    def _retry_loop(self) -> None:
        try:
            self._retry()
        finally:
            with self._cond:
                self._retrying = False
                self._cond.notify_all()

    def _retry(self) -> None:
        delay = self.first_delay_s
        while True:
            with self._cond:
                assert self._failing_since is not None
                deadline = self._failing_since + self.retry_s
                self._cond.wait_for(lambda: self._gave_up, timeout=max(0.0, min(delay, deadline - time.monotonic())))
                if self._gave_up or not self._pending:
                    return
                game = self._pending[0]
            try:
                self._write(game)
            except SinkUnavailableError as exc:
                with self._cond:
                    if time.monotonic() >= deadline:
                        self._gave_up = True
                        log.error("giving up storing %d finished game(s) after %.0f s: %s", len(self._pending),
                                  self.retry_s, exc)
                        self._cond.notify_all()
                        return
                log.warning("storing game %s failed again (%s); next try in %.1f s", game.scheduled_game_id, exc,
                            min(delay * 2, self.max_delay_s))
                delay = min(delay * 2, self.max_delay_s)
                continue
            except BaseException as exc:  # noqa: BLE001 -- handed to the game loop's thread
                log.exception("storing game %s failed", game.scheduled_game_id)
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                return
            with self._cond:
                self._pending.popleft()
                delay = 0.0 if self._pending else self.first_delay_s  # drain the backlog at once
                if not self._pending:
                    log.info("the database answers again: stored game %s and every game kept meanwhile",
                             game.scheduled_game_id)
                    self._failing_since = None
                    self._cond.notify_all()
                    return


def retry_unavailable(call: Callable[[], T], *, what: str, retry_s: float, first_delay_s: float = 1.0,
                      max_delay_s: float = 30.0) -> T:
    """call(), retried with exponential backoff while the sink is unavailable, for at most `retry_s`
    seconds; then the last SinkUnavailableError. For the block's own bookkeeping (claiming its games,
    reading what is stored), which nothing can be played without."""
    deadline, delay = time.monotonic() + retry_s, first_delay_s
    while True:
        try:
            return call()
        except SinkUnavailableError as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("%s failed (%s); retrying in %.1f s", what, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, max_delay_s)
