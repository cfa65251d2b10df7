"""The worker's side of leases (layer 5, used by `tasks`): claim, heartbeat, hand back.

A block's games are claimed from the sink before play (`LeaseKeeper.claim`: only the ids it
holds are played, so a duplicate delivery plays nothing another worker holds or has stored).
One heartbeat thread per worker process then extends the leases of every game in hand every
lease/4 seconds and writes the process's `WorkerState` (its row in the arena's `workers` table).
Games whose lease could not be extended were reclaimed by the scheduler and belong to someone
else now: they are reported as lost, and a block whose every unfinished game is lost stops.

The heartbeat is a thread of its own, so it would go on beating for a block whose play is stuck
(a deadlock, a call that never returns): its games would be held for ever and the tournament
would never end. A block therefore notes each move played (`HeldBlock.progressed`), and one that
has played none for `stall_s` is given up: its leases are no longer extended, they expire, and
the scheduler sends the games again, counting the attempt as for a worker that died. The stuck
thread itself cannot be stopped from outside; `on_stall` (a solo worker or a prefork pool's
child: exit, and its supervisor or pool starts a fresh process) frees the worker for other blocks.

A sink without leases (an in-memory sink in tests) lets every game be played, as before.
The storage side, and why the broker's redelivery is not relied on: arena.leases, arena.worker.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerState:
    """What a heartbeat tells the arena about one worker process."""

    name: str  # "host:pid": the owner written on its leases
    hostname: str
    pid: int
    started_at: datetime
    blocks_in_hand: int
    games_in_hand: int  # leased and not stored yet
    games_stored: int  # since the process started
    stopped: bool = False  # its last heartbeat: exiting cleanly


DEFAULT_STALL_S = 900.0  # ARENA_BLOCK_STALL_S


class HeldBlock:
    """One block's games in this worker's hands (see `LeaseKeeper.claim`)."""

    def __init__(self, game_ids: Sequence[int]):
        self.held = set(game_ids)
        self.lost: set[int] = set()
        self.last_move = time.monotonic()  # claimed, or the last move played

    def progressed(self) -> None:
        """A move was played in one of the block's games (called by the play loop: cheap)."""
        self.last_move = time.monotonic()

    def all_lost(self) -> bool:
        """True once every game still to play was reclaimed by the scheduler: stop the block."""
        return bool(self.lost) and not self.held


class LeaseKeeper:
    """The leases and heartbeat of one worker process (one per sink and worker name)."""

    def __init__(self, sink: Any, worker: str, lease_s: float, stall_s: float = DEFAULT_STALL_S,
                 on_stall: Callable[[], None] | None = None):
        self.sink, self.worker, self.lease_s, self.stall_s = sink, worker, lease_s, stall_s
        self.on_stall = on_stall  # called by the heartbeat after it gave up a stuck block
        self.leases = all(hasattr(sink, m) for m in ("claim", "extend", "give_back"))
        self.started_at = datetime.now(UTC)
        self.stored = 0
        self._blocks: list[HeldBlock] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    # ---- a block's side -----------------------------------------------------------------

    def claim(self, game_ids: Sequence[int]) -> HeldBlock:
        """Lease the games to this worker; the block holds the ids it may play (all of them with a
        sink without leases). Starts the heartbeat thread on first use."""
        ids = list(self.sink.claim(list(game_ids), self.worker, self.lease_s)) if self.leases else list(game_ids)
        block = HeldBlock(ids)
        with self._lock:
            self._blocks.append(block)
        _thread_blocks.__dict__.setdefault("held", []).append((self, block))
        self.start()
        return block

    def finished(self, block: HeldBlock, game_id: int) -> None:
        """A game of the block was stored: its lease needs no extending any more."""
        with self._lock:
            block.held.discard(game_id)
            self.stored += 1

    def release(self, block: HeldBlock) -> None:
        """The block is over (played, stopped or failed): stop extending its leases. Games it did not
        store and did not give back (tasks._give_back) return when their leases expire."""
        with self._lock:
            if block in self._blocks:
                self._blocks.remove(block)
            block.held.clear()

    # ---- the heartbeat ------------------------------------------------------------------

    def state(self, *, stopped: bool = False) -> WorkerState:
        with self._lock:
            games = sum(len(b.held) for b in self._blocks)
            blocks = len(self._blocks)
        host, _, pid = self.worker.rpartition(":")
        return WorkerState(name=self.worker, hostname=host or socket.gethostname(),
                           pid=int(pid) if pid.isdigit() else os.getpid(), started_at=self.started_at,
                           blocks_in_hand=blocks, games_in_hand=games, games_stored=self.stored, stopped=stopped)

    def beat(self) -> None:
        """Extend every lease in hand, note the lost ones, and write this worker's state; give up
        the leases of a block that has played no move for `stall_s`."""
        now = time.monotonic()
        stalled = False
        with self._lock:
            for block in self._blocks:
                if block.held and now - block.last_move > self.stall_s:
                    stalled = True
                    log.error("worker %s: a block has played no move for %.0f s (ARENA_BLOCK_STALL_S); letting "
                              "the leases of its games %s expire so that another worker plays them",
                              self.worker, now - block.last_move, sorted(block.held)[:10])
                    block.lost |= block.held
                    block.held = set()
            held = sorted({g for b in self._blocks for g in b.held})
        if held and self.leases:
            still = set(self.sink.extend(held, self.worker, self.lease_s))
            with self._lock:
                for block in self._blocks:
                    lost = block.held - still
                    if lost:
                        log.warning("worker %s lost the lease of games %s: reclaimed, abandoning them",
                                    self.worker, sorted(lost)[:10])
                        block.held -= lost
                        block.lost |= lost
        if hasattr(self.sink, "heartbeat"):
            self.sink.heartbeat(self.state())
        if stalled and self.on_stall is not None:
            self.on_stall()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._run, name=f"lease-keeper-{self.worker}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            try:
                self.beat()
            except Exception as exc:  # noqa: BLE001 -- a database away: the next beat tries again
                log.warning("heartbeat of worker %s failed: %s", self.worker, exc)
            self._wake.wait(self.lease_s / 4)

    def close(self) -> None:
        """Stop the heartbeat; a last one marks the worker stopped (best effort)."""
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if hasattr(self.sink, "heartbeat"):
            try:
                self.sink.heartbeat(self.state(stopped=True))
            except Exception as exc:  # noqa: BLE001
                log.warning("last heartbeat of worker %s failed: %s", self.worker, exc)


# The blocks each task thread claimed, released when its task ends however it ends (release_blocks).
_thread_blocks = threading.local()


def release_blocks() -> None:
    """Stop extending the leases of every block this thread claimed (call when a task ends)."""
    for keeper, block in _thread_blocks.__dict__.pop("held", []):
        keeper.release(block)


_keepers: dict[tuple[int, str], LeaseKeeper] = {}
_keepers_lock = threading.Lock()


def keeper_for(sink: Any, worker: str, lease_s: float, stall_s: float = DEFAULT_STALL_S,
               on_stall: Callable[[], None] | None = None) -> LeaseKeeper:
    """The process's keeper for this sink and worker name (a new context gets a new one)."""
    key = (id(sink), worker)
    with _keepers_lock:
        keeper = _keepers.get(key)
        if keeper is None or (keeper.lease_s, keeper.stall_s, keeper.on_stall) != (lease_s, stall_s, on_stall) \
                or keeper.sink is not sink:
            for old in _keepers.values():
                old.close()
            _keepers.clear()
            keeper = _keepers[key] = LeaseKeeper(sink, worker, lease_s, stall_s, on_stall)
        return keeper


def close_keepers() -> None:
    """Stop this process's heartbeat (a worker exiting cleanly)."""
    with _keepers_lock:
        for keeper in _keepers.values():
            keeper.close()
        _keepers.clear()
