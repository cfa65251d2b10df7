"""The operations the arena performs on storage. Keyword-only; each runs in the caller's session.

Callers own the transaction (`engine.session_scope`): everything a block writes commits together
or not at all. `record_finished_game` is safe to retry (a worker that lost its acknowledgement
sends the game again) and to race (two workers finishing the same scheduled game).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, aliased

from arena.ratings import GameResult, Ratings

from .models import (
    RESULT_PATTERN,
    Checkpoint,
    FinishedGame,
    Player,
    RatingEntry,
    RatingSnapshot,
    ScheduledGame,
    Tournament,
)


class StorageError(ValueError):
    """Input the store refuses; nothing was written."""


class ConflictingResultError(StorageError):
    """A finished game was written again with different content; the stored one is kept."""


_RESULT = re.compile(RESULT_PATTERN)
_SGF_RESULT = re.compile(r"RE\[([^\]]*)\]")


def register_checkpoint(
    session: Session, *, sha256: str, name: str, manifest: dict[str, Any] | None = None,
    run_name: str | None = None, training_step: int | None = None, parent_sha256: str | None = None,
) -> Checkpoint:
    """The checkpoint with this sha256, created if new (idempotent: an existing row is returned)."""
    sha256 = sha256.lower()
    parent_id = None
    if parent_sha256 is not None:
        parent = session.scalar(select(Checkpoint).where(Checkpoint.sha256 == parent_sha256.lower()))
        if parent is None:
            raise StorageError(f"parent checkpoint {parent_sha256} is not registered")
        parent_id = parent.id
    session.execute(
        insert(Checkpoint)
        .values(sha256=sha256, name=name, manifest=manifest or {}, run_name=run_name,
                training_step=training_step, parent_id=parent_id)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    return session.scalars(select(Checkpoint).where(Checkpoint.sha256 == sha256)).one()


def get_or_create_player(
    session: Session, *, name: str, checkpoint_id: int | None = None, engine_id: int | None = None,
    search_settings: dict[str, Any] | None = None,
) -> Player:
    """The player `name`; created if new. An existing name must have the same identity."""
    if (checkpoint_id is None) == (engine_id is None):
        raise StorageError("a player is exactly one of a checkpoint or an engine")
    settings = search_settings or {}
    session.execute(
        insert(Player)
        .values(name=name, checkpoint_id=checkpoint_id, engine_id=engine_id, search_settings=settings)
        .on_conflict_do_nothing()
    )
    player = session.scalars(select(Player).where(Player.name == name)).one_or_none()
    if player is None or (player.checkpoint_id, player.engine_id, player.search_settings) != (
        checkpoint_id, engine_id, settings
    ):
        # Either the name is taken by another identity, or this identity has another name.
        raise StorageError(f"player {name!r} conflicts with an existing player of a different name or identity")
    return player


def create_tournament(
    session: Session, *, name: str, format: str, configuration: dict[str, Any] | None = None
) -> Tournament:
    """A new tournament, status `pending`."""
    tournament = Tournament(name=name, format=format, configuration=configuration or {},
                            status="pending", games_scheduled=0, games_finished=0)
    session.add(tournament)
    session.flush()
    return tournament


@dataclass(frozen=True)
class GameSpec:
    """A game to schedule: its identity, fixed before play."""

    pairing: str
    game_index: int
    black_player_id: int
    white_player_id: int
    seed: int
    opening: str | None = None


def schedule_games(session: Session, *, tournament_id: int, games: Iterable[GameSpec]) -> list[ScheduledGame]:
    """Add scheduled games to a tournament (an identity already scheduled raises IntegrityError)."""
    specs = list(games)
    wanted = {p for spec in specs for p in (spec.black_player_id, spec.white_player_id)}
    known = set(session.scalars(select(Player.id).where(Player.id.in_(wanted))))
    if wanted - known:
        raise StorageError(f"unknown player id(s) {sorted(wanted - known)}: register players before scheduling")
    if session.get(Tournament, tournament_id) is None:
        raise StorageError(f"tournament {tournament_id} does not exist")
    rows = [ScheduledGame(tournament_id=tournament_id, **vars(spec)) for spec in specs]
    session.add_all(rows)
    session.flush()
    session.execute(
        update(Tournament).where(Tournament.id == tournament_id)
        .values(games_scheduled=Tournament.games_scheduled + len(rows))
    )
    return rows


def _check_result(result: str, score: float | None, sgf: str, move_count: int,
                  move_stats: Sequence[dict[str, Any]], duration_s: float) -> None:
    """Refuse a result that is malformed or contradicts the game's other fields."""
    if not _RESULT.match(result):
        raise StorageError(f"result {result!r} is not one of B+<points>, W+<points>, [BW]+R/T/F, 0, Void")
    if result[:2] in ("B+", "W+") and result[2:] not in ("R", "T", "F"):
        margin = float(result[2:])
        expected = margin if result[0] == "B" else -margin
        if score is not None and not math.isclose(score, expected):
            raise StorageError(f"score {score} contradicts result {result} (score is black's margin: {expected})")
    elif result == "0" and score not in (None, 0):
        raise StorageError(f"score {score} contradicts a draw")
    elif result[2:] in ("R", "T", "F") and score is not None:
        raise StorageError(f"result {result} has no score, got {score}")
    found = _SGF_RESULT.search(sgf)
    if found and found.group(1) != result:
        raise StorageError(f"the SGF says RE[{found.group(1)}] but the result is {result}")
    if move_count < 0 or duration_s < 0 or not math.isfinite(duration_s):
        raise StorageError(f"move count {move_count} and duration {duration_s} must be non-negative")
    if move_stats and len(move_stats) != move_count:
        raise StorageError(f"{len(move_stats)} per-move statistics for {move_count} moves")


def _bump_progress(session: Session, tournament_id: int) -> None:
    session.execute(
        update(Tournament).where(Tournament.id == tournament_id)
        .values(games_finished=Tournament.games_finished + 1)
    )


def record_finished_game(
    session: Session, *, scheduled_game_id: int, result: str, move_count: int, duration_s: float, sgf: str,
    score: float | None = None, move_stats: Sequence[dict[str, Any]] = (), worker: str = "",
    software_version: str = "", model_versions: dict[str, Any] | None = None,
) -> bool:
    """Store a finished game; True if written now, False if the identical game was already there.

    Raises `StorageError` for an invalid result or an unknown scheduled game or player, and
    `ConflictingResultError` if the game is already stored with different content (kept as is).
    """
    _check_result(result, score, sgf, move_count, move_stats, duration_s)
    game = session.get(ScheduledGame, scheduled_game_id)
    if game is None:
        raise StorageError(f"scheduled game {scheduled_game_id} does not exist")
    for player_id in (game.black_player_id, game.white_player_id):
        if session.get(Player, player_id) is None:
            raise StorageError(f"player {player_id} of scheduled game {scheduled_game_id} does not exist")
    values = {"scheduled_game_id": scheduled_game_id, "result": result, "score": score, "move_count": move_count,
                  "duration_s": duration_s, "sgf": sgf, "move_stats": list(move_stats), "worker": worker,
                  "software_version": software_version, "model_versions": model_versions or {}}
    # A savepoint: a failure here rolls back only this write, the caller's transaction survives.
    with session.begin_nested():
        # ON CONFLICT DO NOTHING: a concurrent writer of the same game waits for the other's commit
        # and then inserts nothing, instead of failing on the primary key.
        inserted = session.execute(
            insert(FinishedGame).values(**values).on_conflict_do_nothing(index_elements=["scheduled_game_id"])
            .returning(FinishedGame.scheduled_game_id)
        ).first()
        if inserted is not None:
            _bump_progress(session, game.tournament_id)
            return True
    stored = session.execute(select(FinishedGame).where(FinishedGame.scheduled_game_id == scheduled_game_id)
                             .execution_options(populate_existing=True)).scalar_one()
    differing = [key for key, value in values.items() if getattr(stored, key) != value]
    if differing:
        raise ConflictingResultError(
            f"scheduled game {scheduled_game_id} is already finished ({stored.result}); "
            f"refusing a different {', '.join(differing)} (new result {result})"
        )
    return False


@dataclass(frozen=True)
class RatedGameSet:
    """The exact games a rating fit uses, and a hash that names them.

    results are in scheduled-game order; sha256 covers each game's id, players and result, so
    two snapshots with the same hash were fitted on the very same games.
    """

    results: tuple[GameResult, ...]
    game_ids: tuple[int, ...]
    sha256: str


def rated_game_set(session: Session, tournament_id: int | None = None, *,
                   board_size: int | None = None) -> RatedGameSet:
    """Finished games as `arena.ratings.GameResult` (player names); Void games are left out.
    Only one tournament's, and/or only games of tournaments played on `board_size`."""
    black, white = aliased(Player), aliased(Player)
    query = (
        select(FinishedGame.scheduled_game_id, black.name, white.name, FinishedGame.result)
        .join(ScheduledGame, ScheduledGame.id == FinishedGame.scheduled_game_id)
        .join(black, black.id == ScheduledGame.black_player_id)
        .join(white, white.id == ScheduledGame.white_player_id)
        .where(FinishedGame.result != "Void")
        .order_by(FinishedGame.scheduled_game_id)
    )
    if tournament_id is not None:
        query = query.where(ScheduledGame.tournament_id == tournament_id)
    if board_size is not None:
        query = query.join(Tournament, Tournament.id == ScheduledGame.tournament_id).where(
            Tournament.configuration["board_size"].as_integer() == board_size)
    games, ids = [], []
    digest = hashlib.sha256()
    for game_id, black_name, white_name, result in session.execute(query):
        winner = black_name if result.startswith("B+") else white_name if result.startswith("W+") else None
        games.append(GameResult(black=black_name, white=white_name, winner=winner))
        ids.append(game_id)
        digest.update(f"{game_id}\t{black_name}\t{white_name}\t{result}\n".encode())
    return RatedGameSet(results=tuple(games), game_ids=tuple(ids), sha256=digest.hexdigest())


def games_for_rating(session: Session, tournament_id: int | None = None) -> list[GameResult]:
    """Finished games as `arena.ratings.GameResult` (player names); Void games are left out."""
    return list(rated_game_set(session, tournament_id).results)


def save_rating_snapshot(session: Session, *, game_set: RatedGameSet, ratings: Ratings, method: str,
                         parameters: dict[str, Any]) -> RatingSnapshot:
    """Store `ratings` (fitted on `game_set`) with the method, its parameters and the game-set hash."""
    if ratings.games != len(game_set.results):
        raise StorageError(f"the ratings were fitted on {ratings.games} games, the game set has "
                           f"{len(game_set.results)}")
    names = sorted(ratings.elo)
    ids = dict(session.execute(select(Player.name, Player.id).where(Player.name.in_(names))).all())
    unknown = [name for name in names if name not in ids]
    if unknown:
        raise StorageError(f"ratings name players the store does not know: {unknown}")
    snapshot = RatingSnapshot(method=method, parameters=parameters, game_set_hash=game_set.sha256,
                              game_count=len(game_set.game_ids))
    snapshot.entries = [RatingEntry(player_id=ids[name], rating=float(ratings.elo[name]),
                                    stderr=float(ratings.stderr[name])) for name in names]
    session.add(snapshot)
    session.flush()
    return snapshot
