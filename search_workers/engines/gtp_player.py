"""A GTP engine as an arena player: one process, one game at a time, kept in step with our board.

Our `GameState` is the truth. Before every request the player brings the engine's board up to
it (only the moves the engine has not seen yet, or the whole game after a restart), so the
engine never has to be trusted about the position. An engine that crashes, hangs or breaks the
protocol is restarted, the game is replayed into it and the request retried; after
`max_failures` such failures in one game the player gives up with `EngineFailure`. A `?` to a
command we rely on (a refused `play`, say) is not retried: the same request would be refused
again. An illegal move is a move, not a failure: `genmove` returns it and the caller decides
(the block runner forfeits the game for it), as a tournament director would.

`EnginePool` keeps started engines between the games (and the Celery tasks) of one worker process.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, TypeVar

from search_workers.go import Color, GameState, Rules

from .config import EngineSpec
from .gtp import RESIGN, STDERR_LIMIT, BoundedLog, GtpClient, GtpEngineError, GtpFailure

T = TypeVar("T")


class EngineFailure(RuntimeError):
    """The engine could not go on with this game; `reason` says why (stored with the game)."""

    def __init__(self, engine: str, reason: str):
        self.engine = engine
        self.reason = reason
        super().__init__(f"engine {engine!r} failed: {reason}")


@dataclass
class _EngineBoard:
    """What the engine's board holds, as far as we told it (and it told us)."""

    board_size: int
    rules: Rules
    setup: tuple[tuple[int, ...], tuple[int, ...]]
    moves: list[tuple[Color, int]] = field(default_factory=list)

    def holds_prefix_of(self, state: GameState) -> bool:
        """Can the engine reach `state` by being told more moves?"""
        if (self.board_size, self.rules, self.setup) != (state.board_size, state.rules, state.setup_stones):
            return False
        return state.moves[:len(self.moves)] == self.moves


class GtpPlayer:
    """One engine process playing one game at a time; see the module docstring.

    Different players may be used from different threads; one player by one thread at a time
    (a lock makes a second caller wait rather than interleave commands).
    """

    def __init__(self, spec: EngineSpec, *, max_failures: int | None = None):
        self.spec = spec
        self.name = spec.name
        self.version = ""  # the engine's `version` answer, once started
        self.engine_name = ""  # the engine's `name` answer, once started
        self.max_failures = spec.max_failures if max_failures is None else max_failures
        if self.max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, got {self.max_failures}")
        self.failures = 0  # crashes, hangs and protocol errors in the current game
        self._client: GtpClient | None = None
        self._argv: list[str] | None = None
        self._board: _EngineBoard | None = None
        self._log = BoundedLog(STDERR_LIMIT)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ the arena's interface

    def start(self, rules: Rules | None = None) -> None:
        """Start the engine for games under `rules` (default: Tromp-Taylor) unless it is running so.

        Raises GtpEngineError if it cannot be started; `new_game` does this itself, with retries.
        """
        with self._lock:
            self._ensure_process(Rules() if rules is None else rules)

    def new_game(self, state: GameState) -> None:
        """Set the engine up for a game from `state`: size, komi, rules, setup stones and moves.

        Raises UnsupportedGame if the engine does not play this board size, EngineFailure if it
        cannot be set up within `max_failures` attempts.
        """
        self.spec.check_board_size(state.board_size)
        with self._lock:
            self.failures = 0
            self._log.take()  # the log is per game: drop the previous game's
            if self._client is not None:
                self._client.take_stderr()
            self._board = None  # clear_board even if the engine already holds this position
            self._retrying("setting up the game", lambda: self._sync(state))

    def genmove(self, state: GameState) -> int:
        """The engine's move for the side to move in `state`: a flat index (pass = N*N), -1 to resign.

        The engine is first told the moves of `state` it has not seen. A crash, hang or protocol
        error restarts it, replays the game and retries; raises EngineFailure after
        `max_failures` failures in this game. An illegal move is returned as the engine chose it.
        """
        with self._lock:
            return self._retrying(f"genmove at move {state.move_number + 1}", lambda: self._genmove(state))

    def final_status_dead(self, state: GameState) -> list[int]:
        """Flat points of the stones the engine considers dead in `state` (synced to it first)."""
        with self._lock:
            return self._retrying("final_status_list dead", lambda: self._final_status_dead(state))

    def ask(self, state: GameState, command: str) -> str:
        """The engine's answer to `command` about `state` (synced to it first), e.g. `final_score`.

        Given the move timeout: a scoring command may search the position as genmove does.
        """
        with self._lock:
            return self._retrying(command, lambda: self._sync(state).command(
                command, timeout=self.spec.move_timeout))

    def stderr_log(self) -> str:
        """What the engine wrote to stderr during this game, restarts included; the last 64 KiB."""
        with self._lock:
            current = self._client.stderr_tail() if self._client is not None else ""
            text = self._log.text() + current
            return text[-STDERR_LIMIT:]

    def close(self) -> None:
        """Stop the engine process; the player starts a new one if used again."""
        with self._lock:
            self._stop()

    @property
    def running(self) -> bool:
        return self._client is not None and self._client.usable

    def __enter__(self) -> GtpPlayer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GtpPlayer({self.name!r}, version={self.version!r}, running={self.running})"

    # ------------------------------------------------------------------ requests

    def _genmove(self, state: GameState) -> int:
        client = self._sync(state)
        color = state.to_move
        move = client.genmove(color)
        if move == RESIGN:
            return RESIGN
        if state.is_legal(move, color):
            assert self._board is not None
            self._board.moves.append((color, move))
        else:
            self._board = None  # its board holds a move ours never will: set it up afresh next time
        return move

    def _final_status_dead(self, state: GameState) -> list[int]:
        return self._sync(state).final_status_list("dead")

    def _retrying(self, what: str, attempt: Callable[[], T]) -> T:
        while True:
            try:
                return attempt()
            except GtpEngineError as exc:
                self.failures += 1
                reason = f"{what}: {exc.summary}"  # its stderr is in the log already
                self._stop()  # it is unusable; the next attempt starts a new process
                self._note(f"failure {self.failures}/{self.max_failures}, {reason}")
                if self.failures >= self.max_failures:
                    raise EngineFailure(self.name, f"{self.failures} failure(s) in this game; last: {reason}") from exc
            except GtpFailure as exc:
                self._board = None
                raise EngineFailure(self.name, f"{what}: engine refused {exc.command!r}: {exc.text}") from exc

    # ------------------------------------------------------------------ keeping in step

    def _sync(self, state: GameState) -> GtpClient:
        """Bring the engine's board to `state`; return the client to ask it things."""
        client = self._ensure_process(state.rules)
        if self._board is None or not self._board.holds_prefix_of(state):
            self._board = None
            n = state.board_size
            client.boardsize(n)
            commands = [f"komi {state.rules.komi:g}", "clear_board", *self.spec.setup_commands(state.rules)]
            # Setup stones go in as moves, Black's then White's: setup never captures, so neither
            # does this, and any engine understands `play` (not every one `set_position`).
            black, white = state.setup_stones
            commands += [client.play_command(Color.BLACK, p) for p in black]
            commands += [client.play_command(Color.WHITE, p) for p in white]
            client.commands(commands)
            self._board = _EngineBoard(n, state.rules, state.setup_stones)
        missing = state.moves[len(self._board.moves):]
        if missing:
            board, self._board = self._board, None  # unknown until every `play` is accepted
            client.commands([client.play_command(color, move) for color, move in missing])
            board.moves += missing
            self._board = board
        return client

    def _ensure_process(self, rules: Rules) -> GtpClient:
        argv = self.spec.argv(rules)
        if self._client is not None and self._client.usable and argv == self._argv:
            return self._client
        self._stop()
        spec = self.spec
        client = GtpClient(argv, cwd=spec.working_directory, timeout=spec.command_timeout,
                           genmove_timeout=spec.move_timeout, startup_timeout=spec.startup_timeout)
        self._client, self._argv, self._board = client, argv, None
        self.engine_name, self.version = client.commands(["name", "version"])
        return client

    def _stop(self) -> None:
        client, self._client, self._board = self._client, None, None
        if client is not None:
            client.close()
            self._log.append(client.take_stderr())

    def _note(self, text: str) -> None:
        """A line of our own in the engine's log, so a stored log shows where it was restarted."""
        self._log.append(f"\n[arena] {text}\n".encode())


class UnknownEngine(KeyError):
    """An engine name that the server's configuration does not define."""


class EnginePoolExhausted(RuntimeError):
    """Every engine process the pool may run is busy, and none came free in time."""


class EnginePool:
    """Started engines of one worker process, by engine name, reused between games and tasks.

    `acquire` hands out an idle player (or a new one, started by its first `new_game`);
    `release` gives it back. Bounded (ARENA_MAX_ENGINE_PROCESSES, ARENA_ENGINE_IDLE_S):
    - at most `max_processes` players exist at once; at the cap, an idle player of another
      engine is stopped to make room, else `acquire` waits up to `acquire_timeout_s` for a release
      (then EnginePoolExhausted: the block stops and gives its games back, nothing forfeited);
    - a player idle for `idle_s` is stopped by a reaper thread, so a worker that has gone quiet
      does not keep GNU Go processes (and their memory) around for hours.
    Every engine is closed by `close`, or when the process exits.
    """

    def __init__(self, specs: Mapping[str, EngineSpec], *, idle_s: float | None = None,
                 max_processes: int | None = None, acquire_timeout_s: float = 600.0):
        if max_processes is not None and max_processes < 1:
            raise ValueError(f"max_processes must be at least 1, got {max_processes}")
        self._specs = dict(specs)
        self.idle_s, self.max_processes, self.acquire_timeout_s = idle_s, max_processes, acquire_timeout_s
        self._idle: dict[str, list[GtpPlayer]] = {}
        self._idle_since: dict[GtpPlayer, float] = {}
        self._players: list[GtpPlayer] = []
        self._lock = threading.Condition()
        self._closed = False
        self._reaper: threading.Thread | None = None
        self._owner = {"pid": os.getpid()}  # mutable: a forked child adopts the pool
        # Not atexit.register(self.close): that would keep every pool alive until exit.
        weakref.finalize(self, _close_players, self._players, self._owner)

    def acquire(self, name: str) -> GtpPlayer:
        """A player for engine `name`, used by one caller until `release`."""
        spec = self._specs.get(name)
        if spec is None:
            known = ", ".join(sorted(self._specs)) or "none"
            raise UnknownEngine(f"no engine named {name!r} is configured (known: {known})")
        deadline = time.monotonic() + self.acquire_timeout_s
        with self._lock:
            while True:
                self._forget_inherited()
                idle = self._idle.setdefault(name, [])
                if idle:
                    player = idle.pop()
                    self._idle_since.pop(player, None)
                    return player
                if self.max_processes is None or len(self._players) < self.max_processes:
                    player = GtpPlayer(spec)
                    self._players.append(player)
                    return player
                victim = self._oldest_idle()
                if victim is not None:  # at the cap: stop an idle engine of another kind
                    self._drop(victim)
                    victim.close()
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    raise EnginePoolExhausted(f"all {self.max_processes} engine processes of this worker are busy "
                                              f"(ARENA_MAX_ENGINE_PROCESSES); none came free in "
                                              f"{self.acquire_timeout_s:.0f} s for {name!r}")
                self._lock.wait(left)

    def release(self, player: GtpPlayer) -> None:
        """Give `player` back for the next game."""
        with self._lock:
            if player in self._players and not self._closed:
                self._idle.setdefault(player.name, []).append(player)
                self._idle_since[player] = time.monotonic()
                self._start_reaper()
                self._lock.notify()
                return
        player.close()  # from before a fork, or after close: not ours to keep

    @contextmanager
    def lease(self, name: str) -> Iterator[GtpPlayer]:
        """`acquire` and, whatever happens, `release`."""
        player = self.acquire(name)
        try:
            yield player
        finally:
            self.release(player)

    @property
    def size(self) -> int:
        """Players in the pool, busy and idle (each holds at most one engine process)."""
        with self._lock:
            return len(self._players)

    def running(self) -> int:
        """Engine processes running now."""
        with self._lock:
            return sum(p.running for p in self._players)

    def stop_idle(self, older_than_s: float | None = None) -> int:
        """Stop the idle players released more than `older_than_s` (default `idle_s`) ago; how many."""
        limit = self.idle_s if older_than_s is None else older_than_s
        if limit is None:
            return 0
        now = time.monotonic()
        with self._lock:
            self._forget_inherited()
            stale = [p for p, since in self._idle_since.items() if now - since >= limit]
            for player in stale:
                self._drop(player)
            if stale:
                self._lock.notify_all()
        for player in stale:
            player.close()
        return len(stale)

    def close(self) -> None:
        """Close every engine this pool started."""
        with self._lock:
            self._closed = True
            self._forget_inherited()
            _close_players(self._players, self._owner)
            self._idle.clear()
            self._idle_since.clear()
            self._lock.notify_all()

    def __enter__(self) -> EnginePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _oldest_idle(self) -> GtpPlayer | None:
        return min(self._idle_since, key=self._idle_since.__getitem__, default=None)

    def _drop(self, player: GtpPlayer) -> None:
        # With the lock held: forget an idle player (the caller closes it).
        self._idle_since.pop(player, None)
        self._idle.get(player.name, []).remove(player)
        self._players.remove(player)

    def _start_reaper(self) -> None:
        # With the lock held. One daemon thread per pool and process, holding only a weak
        # reference, so a pool nobody uses any more is still collected (and its engines closed).
        if self.idle_s is None or self._reaper is not None:
            return
        period = max(0.05, min(self.idle_s / 4, 5.0))
        self._reaper = threading.Thread(target=_reap, args=(weakref.ref(self), period), name="engine-reaper",
                                        daemon=True)
        self._reaper.start()

    def _forget_inherited(self) -> None:
        # A forked child (Celery prefork) inherits the parent's player objects, whose pipes and
        # processes belong to the parent: drop them without touching them.
        if os.getpid() != self._owner["pid"]:
            self._owner["pid"] = os.getpid()
            self._players.clear()
            self._idle.clear()
            self._idle_since.clear()
            self._reaper = None  # threads do not survive a fork


def _reap(pool_ref: weakref.ref, period: float) -> None:
    while True:
        time.sleep(period)
        pool = pool_ref()
        if pool is None or pool._closed:
            return
        pool.stop_idle()
        with pool._lock:
            if not pool._idle_since:  # nothing left to watch: the next release starts a new reaper
                pool._reaper = None
                return
        del pool


def _close_players(players: list[GtpPlayer], owner: dict[str, int]) -> None:
    if os.getpid() != owner["pid"]:
        return  # a forked child exiting: the engines are its parent's
    while players:
        players.pop().close()
