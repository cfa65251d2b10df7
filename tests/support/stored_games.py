"""Finished games stored the way workers store them (`arena.db.repository.record_finished_game`),
for tests that read games back: a tournament between two checkpoint players, its games
scheduled in one COPY, then recorded one by one, optionally some left unfinished."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa

from arena.db import repository as repo
from arena.db.connection import session_scope

STATS = {"visits": 8, "root_value": 0.25, "policy_entropy": 1.5, "time_s": 0.02}  # each move's


@dataclass(frozen=True)
class StoredTournament:
    id: int
    name: str
    finished: list[int]  # ids of the games stored as finished, ascending
    unfinished: list[int]  # scheduled, never finished


def game_result(index: int) -> tuple[str, float | None]:
    """The result and score of the `index`th stored game: a mix of scores and resignations."""
    return ("B+3.5", 3.5) if index % 3 == 0 else ("W+R", None) if index % 3 == 1 else ("W+0.5", -0.5)


def game_sgf(index: int) -> str:
    result, _ = game_result(index)
    return f"(;GM[1]FF[4]SZ[9]KM[7.5]RE[{result}];B[ee];W[cc])"


def store_tournament(engine: sa.Engine, name: str, *, finished: int, unfinished: int = 0) -> StoredTournament:
    """A tournament `name` with `finished` games stored (two moves each, per-move statistics,
    opening "B[ee]" on even games) and `unfinished` more scheduled only."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    with session_scope(engine) as session:
        players = []
        for colour in ("a", "b"):
            checkpoint = repo.get_or_create_checkpoint(session, sha256=hashlib.sha256(f"{digest}{colour}".encode())
                                                       .hexdigest(), name=f"{name}-{colour}")
            players.append(repo.get_or_create_player(session, name=f"{name}-{colour}@8v", checkpoint_id=checkpoint.id,
                                                     search_settings={"visits": 8}))
        tournament = repo.create_tournament(session, name=name, format="round-robin", configuration={"board_size": 9})
        specs = [repo.GameSpec(pairing="a-b", game_index=i, black_player_id=players[i % 2].id,
                               white_player_id=players[1 - i % 2].id, seed=1000 + i,
                               opening="B[ee]" if i % 2 == 0 else None)
                 for i in range(finished + unfinished)]
        ids = repo.schedule_games(session, tournament_id=tournament.id, games=specs)
        for i, game_id in enumerate(ids[:finished]):
            result, score = game_result(i)
            repo.record_finished_game(session, scheduled_game_id=game_id, result=result, score=score, move_count=2,
                                      duration_s=1.0 + i / 1000, sgf=game_sgf(i), move_stats=[STATS, STATS],
                                      worker="test", software_version="test")
        return StoredTournament(id=tournament.id, name=name, finished=ids[:finished], unfinished=ids[finished:])
