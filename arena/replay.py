"""Replay a stored game from its record alone: `arena replay GAME_ID`.

The record is what the arena stored before and after play: the scheduled game (players, colours,
opening, seed), its tournament's rules and the players' checkpoints (by sha256) with their search
settings. From them `block_payloads` builds the very payload a worker was sent, for this one game,
and the worker's own `play_block` plays it in-process into memory. A game's randomness comes from
its seed and search rounds network outputs (search_workers.search.evaluator.OUTPUT_STEP), so the
replay plays the stored moves unless the network's float results differ on this machine (another
device or precision than the worker's). A referee only scores a finished game, so the replay plays
without one and compares moves and how the game ended, not the settled score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from arena.db.models import FinishedGame, ScheduledGame, Tournament
from arena.tournaments import block_payloads
from search_workers import tasks
from search_workers.go import read_sgf
from search_workers.schemas import FinishedGameRecord


class ReplayError(ValueError):
    """The game cannot be replayed (unknown, unfinished, or played by an external engine)."""


@dataclass(frozen=True)
class ReplayReport:
    """A stored game beside its replay; moves are flat indices (pass = N*N), the opening included."""

    game_id: int
    board_size: int
    stored: tuple[int, ...]
    replayed: tuple[int, ...]
    stored_result: str
    replayed_result: str

    @property
    def first_difference(self) -> int | None:
        """Index (0-based, in `stored`) of the first move that differs; len of the shorter game if
        one game is a prefix of the other; None if the games are identical."""
        for i, (a, b) in enumerate(zip(self.stored, self.replayed)):
            if a != b:
                return i
        if len(self.stored) != len(self.replayed) or self.stored_result != self.replayed_result:
            return min(len(self.stored), len(self.replayed))
        return None

    @property
    def identical(self) -> bool:
        return self.first_difference is None


class _MemorySink:
    """A `tasks.GameSink` that keeps the replayed game and stores nothing."""

    def __init__(self) -> None:
        self.games: list[FinishedGameRecord] = []

    def finished_ids(self, ids):
        return set()

    def record(self, game: FinishedGameRecord) -> bool:
        self.games.append(game)
        return True

    def tournament_status(self, tournament_id: int) -> str:
        return "running"


def replay_payload(session: Session, game_id: int) -> dict:
    """The block payload that plays scheduled game `game_id` alone, referee left out."""
    game = session.get(ScheduledGame, game_id)
    if game is None:
        raise ReplayError(f"no game {game_id}")
    if session.get(FinishedGame, game_id) is None:
        raise ReplayError(f"game {game_id} has not finished; there is nothing to replay")
    engines = [p.name for p in (game.black, game.white) if p.checkpoint_id is None]
    if engines:
        raise ReplayError(f"game {game_id} was played by the external engine {engines[0]}, "
                          f"whose moves cannot be replayed")
    tournament = session.get(Tournament, game.tournament_id)
    payload = block_payloads(session, tournament, [game], block_size=1)[0]
    return {**payload, "referee": None}


def replay_game(session: Session, game_id: int, *, checkpoint_root: Path, device: str = "cpu") -> ReplayReport:
    """Replay game `game_id` in this process (see the module docstring)."""
    payload = replay_payload(session, game_id)
    stored_game = session.get(FinishedGame, game_id)
    stored = read_sgf(stored_game.sgf)
    sink = _MemorySink()
    tasks.configure(tasks.WorkerContext(sink=sink, checkpoint_root=checkpoint_root, engines={}, device=device,
                                        worker_name="replay"))
    tasks.play_block(payload)
    if len(sink.games) != 1:
        raise ReplayError(f"the replay of game {game_id} produced {len(sink.games)} games")
    replayed = read_sgf(sink.games[0].sgf)
    return ReplayReport(game_id=game_id, board_size=stored.board_size,
                        stored=tuple(m for _, m in stored.moves), replayed=tuple(m for _, m in replayed.moves),
                        stored_result=stored_game.result, replayed_result=sink.games[0].result)
