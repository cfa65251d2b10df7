"""GNU Go 9x9 self-play over GTP: the training data of the demo checkpoints.

Each game starts with 2-4 uniformly random legal moves (ours, not GNU Go's) so that a
deterministic engine still yields hundreds of different games, then GNU Go plays both sides
until two passes, a resignation or 150 moves. The result is GNU Go's `final_score` (Chinese
area scoring with its dead-stone judgement).

Two choices make the data fit the arena, which ends a game at two passes and scores the board
as it stands (Tromp-Taylor):

* GNU Go runs with `--capture-all-dead`, so it removes dead stones before it passes and the
  final board scores the same under Tromp-Taylor as under GNU Go's judgement. Without it a
  network learns to pass with dead stones still inside its area, which Tromp-Taylor counts
  against it.
* Half of the games get one random pass in the middle game (not GNU Go's choice). Otherwise
  every pass in the data ends a finished game, so a network learns "the opponent passed: pass
  back" and lets a weak opponent end an unfinished game on a lucky board.

Games are cached as JSON lines of GTP vertices (a few hundred bytes a game), so training can
be rerun without GNU Go. Every game is replayed through our `GameState` under the Chinese
preset (situational superko, no suicide), and GNU Go runs with the same ko and suicide rules:
a move our referee rejects raises `IllegalMoveError`, because it means the two rule sets
disagree and the data must not be trusted silently.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Self

import numpy as np

from search_workers.go import GameState, Rules, coords

BOARD_SIZE = 9
KOMI = 7.5
MAX_MOVES = 150
DATA_VERSION = 2  # in the cache's file name: v1 games (no capture-all-dead, no random passes) differ
RANDOM_PASS_GAMES = 0.5  # fraction of games that get one random middle-game pass
RANDOM_PASS_WINDOW = (8, 50)  # the move number of that pass, drawn uniformly (if the game lasts)
# Debian installs games outside root's PATH; the same convention as tests/support/engines.py.
DEBIAN_GAMES_DIR = "/usr/games"


def find_gnugo() -> str:
    """The GNU Go binary on PATH or in the Debian games directory; raise if there is none."""
    found = shutil.which("gnugo") or shutil.which("gnugo", path=DEBIAN_GAMES_DIR)
    if found is None:
        raise FileNotFoundError("GNU Go is not installed (apt-get install gnugo)")
    return found


def demo_rules() -> Rules:
    return Rules.preset("chinese", komi=KOMI)


class Gtp:
    """A minimal GTP client: one engine process, one command at a time, every reply with a deadline."""

    def __init__(self, argv: list[str], *, timeout: float = 30.0):
        self.timeout = timeout
        # stderr is discarded: GNU Go writes nothing useful there in GTP mode, and an unread
        # pipe could fill and block it.
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self._buffer = b""

    def command(self, text: str) -> str:
        """Send `text` and return the reply's text; raise RuntimeError on `?` or a dead engine."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + self.timeout
        fd = self.proc.stdout.fileno()
        while b"\n\n" not in self._buffer:  # a GTP reply ends with an empty line
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise RuntimeError(f"GTP engine gave no reply to {text!r} within {self.timeout}s")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise RuntimeError(f"GTP engine exited while answering {text!r}")
            self._buffer += chunk
        reply, self._buffer = self._buffer.split(b"\n\n", 1)
        reply_text = reply.decode().replace("\r", "").strip()
        if reply_text.startswith("?"):
            raise RuntimeError(f"GTP command {text!r} failed: {reply_text}")
        return reply_text.lstrip("=").strip()

    def close(self) -> None:
        try:
            self.command("quit")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_gnugo(level: int, seed: int) -> Gtp:
    """GNU Go in GTP mode under the rules our `demo_rules()` referee applies."""
    argv = [find_gnugo(), "--mode", "gtp", "--level", str(level), "--chinese-rules",
            "--situational-superko", "--forbid-suicide", "--capture-all-dead", "--seed", str(seed)]
    engine = Gtp(argv)
    engine.command(f"boardsize {BOARD_SIZE}")
    engine.command(f"komi {KOMI}")
    return engine


@dataclass
class GameRecord:
    """One self-play game as cached: GTP vertices, the first `random_moves` and the moves at
    indices `random_passes` ours, the rest GNU Go's."""

    index: int
    seed: int
    level: int
    random_moves: int
    moves: list[str]
    result: str  # GNU Go's final_score ("B+3.5", "W+12.5", "0"), or "B+R"/"W+R" after a resignation
    end: str  # "passes", "resign" or "limit"
    random_passes: list[int] = field(default_factory=list)

    def is_gnugo_move(self, i: int) -> bool:
        """Whether moves[i] was GNU Go's choice (a policy target) rather than a random one."""
        return i >= self.random_moves and i not in self.random_passes

    def value_for_black(self) -> float:
        """+1 if Black won, -1 if White won, 0 for jigo."""
        if self.result.startswith("B+"):
            return 1.0
        if self.result.startswith("W+"):
            return -1.0
        if self.result in ("0", "Jigo"):
            return 0.0
        raise ValueError(f"game {self.index}: unknown result {self.result!r}")


def play_selfplay_game(engine: Gtp, index: int, seed: int, level: int) -> GameRecord:
    """One game: 2-4 random opening moves, then GNU Go for both sides, perhaps one random pass.

    A pure function of (seed, index).
    """
    rng = np.random.default_rng([seed, index])
    engine.command("clear_board")
    # Reseed per game so each game does not depend on how many games the process played before.
    engine.command(f"set_random_seed {int(rng.integers(1, 2**31 - 1))}")
    state = GameState.new(BOARD_SIZE, demo_rules())
    random_moves = int(rng.integers(2, 5))
    moves: list[str] = []
    for _ in range(random_moves):
        legal = np.flatnonzero(state.legal_moves()[:-1])  # never a random pass
        vertex = coords.to_gtp(int(rng.choice(legal)), BOARD_SIZE)
        engine.command(f"play {state.to_move.letter} {vertex}")
        state = state.play(vertex)
        moves.append(vertex)
    low, high = RANDOM_PASS_WINDOW
    pass_at = int(rng.integers(low, high + 1)) if rng.random() < RANDOM_PASS_GAMES else -1
    random_passes = []
    end = "limit"
    while len(moves) < MAX_MOVES:
        if len(moves) == pass_at and state.consecutive_passes == 0:  # never the game-ending pass
            engine.command(f"play {state.to_move.letter} pass")
            state = state.pass_turn()
            random_passes.append(len(moves))
            moves.append("PASS")
            continue
        vertex = engine.command(f"genmove {state.to_move.letter}").upper()
        if vertex == "RESIGN":
            end = "resign"
            break
        state = state.play(vertex)  # IllegalMoveError here: GNU Go and our rules disagree
        moves.append(vertex)
        if state.consecutive_passes >= 2:
            end = "passes"
            break
    if end == "resign":
        result = f"{state.to_move.opponent.letter}+R"
    else:
        result = engine.command("final_score")
    return GameRecord(index, seed, level, random_moves, moves, result, end, random_passes)


def generate_games(path: Path, games: int, *, level: int = 1, seed: int = 0, log=print) -> list[GameRecord]:
    """Play (or read back from `path`) `games` self-play games; the cache is extended, never redone.

    The cache is trusted only if its games were made with the same seed and level; a mismatch
    starts it afresh.
    """
    records = [r for r in read_games(path) if r.seed == seed and r.level == level] if path.exists() else []
    records = records[:games]
    if len(records) < games:
        path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        done_before = len(records)
        with start_gnugo(level, seed) as engine, open(path, "w") as out:
            out.writelines(json.dumps(asdict(record)) + "\n" for record in records)
            for index in range(len(records), games):
                record = play_selfplay_game(engine, index, seed, level)
                records.append(record)
                out.write(json.dumps(asdict(record)) + "\n")
                out.flush()
                if (index + 1) % 100 == 0:
                    log(f"  {index + 1}/{games} games, {time.perf_counter() - t0:.0f} s")
        elapsed = time.perf_counter() - t0
        log(f"generated {games - done_before} GNU Go level-{level} games in {elapsed:.1f} s "
            f"({elapsed / max(games - done_before, 1):.2f} s/game)")
        # Kept beside the cache so a later run from the cache can still report what it cost.
        timing = read_timing(path)
        timing = {"games": timing["games"] + games - done_before, "seconds": round(timing["seconds"] + elapsed, 1)}
        timing_path(path).write_text(json.dumps(timing) + "\n")
    return records


def timing_path(path: Path) -> Path:
    return path.with_suffix(".timing.json")


def read_timing(path: Path) -> dict:
    """{"games", "seconds"}: how long generating the cached games took (zeros if unknown)."""
    try:
        return json.loads(timing_path(path).read_text())
    except (OSError, ValueError):
        return {"games": 0, "seconds": 0.0}


def read_games(path: Path) -> list[GameRecord]:
    with open(path) as f:
        return [GameRecord(**json.loads(line)) for line in f if line.strip()]


def replay(record: GameRecord) -> list[GameState]:
    """Every position of the game, the start included, replayed under `demo_rules()`.

    Raises IllegalMoveError (with the game index in the message) on a move our rules forbid.
    """
    state = GameState.new(BOARD_SIZE, demo_rules())
    states = [state]
    for number, vertex in enumerate(record.moves):
        try:
            state = state.play(vertex)
        except ValueError as error:  # IllegalMoveError or CoordinateError
            error.add_note(f"replaying cached game {record.index}, move {number + 1}")
            raise
        states.append(state)
    return states


def play_against_gnugo(choose: Callable[[GameState], int], games: int, *, level: int, seed: int,
                       max_moves: int = MAX_MOVES) -> int:
    """`choose` (a player: state -> flat move) against GNU Go, colours alternating; returns its wins.

    A GNU Go resignation is a GNU Go loss; otherwise the game ends at two passes or `max_moves`
    and is scored by Tromp-Taylor area (`GameState.score()`), as the arena scores its games, so
    GNU Go's dead-stone judgement does not referee games GNU Go plays in.
    """
    wins = 0
    with start_gnugo(level, seed) as engine:
        for g in range(games):
            player = "B" if g % 2 == 0 else "W"
            engine.command("clear_board")
            engine.command(f"set_random_seed {seed * 1000 + g + 1}")
            state, resigned = GameState.new(BOARD_SIZE, demo_rules()), False
            while state.consecutive_passes < 2 and state.move_number < max_moves:
                colour = state.to_move.letter
                if colour == player:
                    vertex = coords.to_gtp(choose(state), BOARD_SIZE)
                    engine.command(f"play {colour} {vertex}")
                else:
                    vertex = engine.command(f"genmove {colour}").upper()
                    if vertex == "RESIGN":
                        resigned = True
                        break
                state = state.play(vertex)
            wins += resigned or (state.score() > 0) == (player == "B")
    return wins
