"""The operations the arena performs on storage. Keyword-only; each runs in the caller's session.

Callers own the transaction (`connection.session_scope`): everything a block writes commits together
or not at all. `record_finished_game` is safe to retry (a worker that lost its acknowledgement
sends the game again) and to race (two workers finishing the same scheduled game).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Select, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from arena.ratings import GameResult, Ratings
from arena.scheduling.conditions import configuration_condition
from search_workers.go import Color
from search_workers.go.results import ResultError, parse_result, winner_of

from .models import (
    Checkpoint,
    FinishedGame,
    Player,
    RatingEntry,
    RatingSnapshot,
    ScheduledGame,
    Tournament,
)
from .rating_inputs import RatedGameSet, count_pentanomial, count_rated_game


class StorageError(ValueError):
    """Input the store refuses; nothing was written."""


class ConflictingResultError(StorageError):
    """A finished game was written again with different content; the stored one is kept."""


_SGF_RESULT = re.compile(r"RE\[([^\]]*)\]")


def get_or_create_checkpoint(
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
    """A new tournament, status `pending`; its rating pool from the configuration's board size,
    rules and komi (GameSettings' defaults where it has none)."""
    configuration = configuration or {}
    tournament = Tournament(name=name, format=format, configuration=configuration,
                            condition=configuration_condition(configuration),
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


# The columns `schedule_games` writes, in COPY order (the others have server defaults).
_SCHEDULED_COLUMNS = ("id", "tournament_id", "pairing", "game_index", "black_player_id", "white_player_id",
                      "seed", "opening")


def schedule_games(session: Session, *, tournament_id: int, games: Iterable[GameSpec]) -> list[int]:
    """Add scheduled games to a tournament; the ids of the new rows, in the order given (an
    identity already scheduled raises IntegrityError).

    Rows go in with one COPY on the session's connection, in its transaction: 100,000 games in
    about a second, where one ORM object per row took 13 s (and its memory). Their ids are drawn
    from the table's sequence first, so they come back in order without reading the rows again.
    """
    specs = list(games)
    wanted = {p for spec in specs for p in (spec.black_player_id, spec.white_player_id)}
    known = set(session.scalars(select(Player.id).where(Player.id.in_(wanted))))
    if wanted - known:
        raise StorageError(f"unknown player id(s) {sorted(wanted - known)}: register players before scheduling")
    if session.get(Tournament, tournament_id) is None:
        raise StorageError(f"tournament {tournament_id} does not exist")
    if not specs:
        return []
    session.flush()  # the tournament and players this transaction added come before its games
    ids = list(session.scalars(
        text("SELECT nextval(pg_get_serial_sequence('scheduled_games', 'id')) FROM generate_series(1, :n)"),
        {"n": len(specs)}))
    connection = session.connection().connection.driver_connection
    statement = f"COPY scheduled_games ({', '.join(_SCHEDULED_COLUMNS)}) FROM STDIN"
    try:
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            for game_id, spec in zip(ids, specs):
                copy.write_row((game_id, tournament_id, spec.pairing, spec.game_index, spec.black_player_id,
                                spec.white_player_id, spec.seed, spec.opening))
    except psycopg.errors.IntegrityError as exc:  # as SQLAlchemy reports it for any other statement
        raise IntegrityError(statement, None, exc) from None
    session.execute(
        update(Tournament).where(Tournament.id == tournament_id)
        .values(games_scheduled=Tournament.games_scheduled + len(specs))
    )
    return ids


def _check_result(result: str, score: float | None, sgf: str, move_count: int,
                  move_stats: Sequence[dict[str, Any]], duration_s: float) -> None:
    """Refuse a result that is malformed or contradicts the game's other fields."""
    try:
        parsed = parse_result(result)
    except ResultError as exc:
        raise StorageError(str(exc)) from None
    if parsed.kind == "score":
        expected = parsed.black_margin
        if score is not None and not math.isclose(score, expected):
            raise StorageError(f"score {score} contradicts result {result} (score is black's margin: {expected})")
    elif parsed.kind == "draw" and score not in (None, 0):
        raise StorageError(f"score {score} contradicts a draw")
    elif parsed.kind in ("resign", "time", "forfeit") and score is not None:
        raise StorageError(f"result {result} has no score, got {score}")
    found = _SGF_RESULT.search(sgf)
    if found and found.group(1) != result:
        raise StorageError(f"the SGF says RE[{found.group(1)}] but the result is {result}")
    if move_count < 0 or duration_s < 0 or not math.isfinite(duration_s):
        raise StorageError(f"move count {move_count} and duration {duration_s} must be non-negative")
    if move_stats and len(move_stats) != move_count:
        raise StorageError(f"{len(move_stats)} per-move statistics for {move_count} moves")


def _check_scoring(score: float | None, score_tromp_taylor: float | None, disagrees: bool | None) -> None:
    """Refuse a second opinion that contradicts the stored score: the flag must follow from the two."""
    if score_tromp_taylor is None:
        if disagrees is not None:
            raise StorageError("scoring_disagrees needs score_tromp_taylor")
        return
    if score is None or not math.isfinite(score_tromp_taylor):
        raise StorageError(f"score_tromp_taylor {score_tromp_taylor} needs a finite score on the board")
    differ = (score > 0) - (score < 0) != (score_tromp_taylor > 0) - (score_tromp_taylor < 0)
    if disagrees is not None and disagrees != differ:
        raise StorageError(f"scoring_disagrees={disagrees} contradicts scores {score} and {score_tromp_taylor}")


def recount_progress(connection) -> None:
    """Set every tournament's progress counters (`_bump_progress`) from its stored games: for games
    written in bulk, bypassing `record_finished_game` (the API benchmark's loader)."""
    connection.execute(text("""
        UPDATE tournaments t SET games_finished = g.finished, first_finished_at = g.first, last_finished_at = g.last,
               games_forfeited = g.forfeited, games_pass_ended = g.pass_ended, games_refereed = g.refereed,
               games_disagreed = g.disagreed
        FROM (SELECT tournament_id, count(*) AS finished, min(finished_at) AS first, max(finished_at) AS last,
                     count(*) FILTER (WHERE result LIKE '%+F') AS forfeited,
                     count(score_tromp_taylor) AS pass_ended, count(scoring_disagrees) AS refereed,
                     count(*) FILTER (WHERE scoring_disagrees) AS disagreed
              FROM finished_games GROUP BY tournament_id) g
        WHERE g.tournament_id = t.id
    """))


def _bump_progress(session: Session, tournament_id: int, *, result: str, score_tromp_taylor: float | None,
                   scoring_disagrees: bool | None) -> None:
    """Count one stored game into its tournament's progress (`arena.tournaments.progress`). Its
    finish time is this transaction's now(); a concurrent writer may commit an earlier one later,
    hence least/greatest."""
    now = func.now()
    session.execute(
        update(Tournament).where(Tournament.id == tournament_id)
        .values(games_finished=Tournament.games_finished + 1,
                first_finished_at=func.least(func.coalesce(Tournament.first_finished_at, now), now),
                last_finished_at=func.greatest(func.coalesce(Tournament.last_finished_at, now), now),
                games_forfeited=Tournament.games_forfeited + int(result.endswith("+F")),
                games_pass_ended=Tournament.games_pass_ended + int(score_tromp_taylor is not None),
                games_refereed=Tournament.games_refereed + int(scoring_disagrees is not None),
                games_disagreed=Tournament.games_disagreed + int(scoring_disagrees is True))
    )


def record_finished_game(
    session: Session, *, scheduled_game_id: int, result: str, move_count: int, duration_s: float, sgf: str,
    score: float | None = None, move_stats: Sequence[dict[str, Any]] = (), worker: str = "",
    software_version: str = "", model_versions: dict[str, Any] | None = None,
    score_tromp_taylor: float | None = None, scoring_disagrees: bool | None = None,
) -> bool:
    """Store a finished game; True if written now, False if the identical game was already there.

    `score_tromp_taylor`, `scoring_disagrees`: for a game ended by passes, strict Tromp-Taylor's
    score beside `score` (the referee's) and whether they name different winners.
    Raises `StorageError` for an invalid result or an unknown scheduled game or player, and
    `ConflictingResultError` if the game is already stored with different content (kept as is).
    """
    _check_result(result, score, sgf, move_count, move_stats, duration_s)
    _check_scoring(score, score_tromp_taylor, scoring_disagrees)
    game = session.get(ScheduledGame, scheduled_game_id)
    if game is None:
        raise StorageError(f"scheduled game {scheduled_game_id} does not exist")
    for player_id in (game.black_player_id, game.white_player_id):
        if session.get(Player, player_id) is None:
            raise StorageError(f"player {player_id} of scheduled game {scheduled_game_id} does not exist")
    values = {"scheduled_game_id": scheduled_game_id, "tournament_id": game.tournament_id,
              "black_player_id": game.black_player_id, "white_player_id": game.white_player_id, "result": result, "score": score, "move_count": move_count,
                  "duration_s": duration_s, "sgf": sgf, "move_stats": list(move_stats), "worker": worker,
                  "software_version": software_version, "model_versions": model_versions or {},
                  "score_tromp_taylor": score_tromp_taylor, "scoring_disagrees": scoring_disagrees}
    # A savepoint: a failure here rolls back only this write, the caller's transaction survives.
    with session.begin_nested():
        # ON CONFLICT DO NOTHING: a concurrent writer of the same game waits for the other's commit
        # and then inserts nothing, instead of failing on the primary key.
        inserted = session.execute(
            insert(FinishedGame).values(**values).on_conflict_do_nothing(index_elements=["scheduled_game_id"])
            .returning(FinishedGame.scheduled_game_id)
        ).first()
        if inserted is not None:
            _bump_progress(session, game.tournament_id, result=result, score_tromp_taylor=score_tromp_taylor,
                           scoring_disagrees=scoring_disagrees)
            count_rated_game(session, game_id=scheduled_game_id, tournament_id=game.tournament_id,
                             black_id=game.black_player_id, white_id=game.white_player_id, result=result)
            count_pentanomial(session, game, result)  # after the tournament's row: see its doc
            # Marked stored (the same transaction's now(): its finished_at) after the tournament's
            # row, in the order the scheduler's advance locks them (tournament, then its games),
            # so that the two never wait for each other in a cycle.
            session.execute(update(ScheduledGame).where(ScheduledGame.id == scheduled_game_id)
                            .values(stored_at=func.now()).execution_options(synchronize_session=False))
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


def _rated_games(tournament_id: int | None) -> Select:
    """(scheduled game id, black player id, white player id, result) of the games a fit uses:
    finished, not Void; one tournament's only. (Fits read `rating_inputs.rated_game_set`'s counts;
    this lists the games themselves.)"""
    query = (
        select(FinishedGame.scheduled_game_id.label("id"), FinishedGame.black_player_id.label("black"),
               FinishedGame.white_player_id.label("white"), FinishedGame.result.label("result"))
        .where(FinishedGame.result != "Void")
    )
    if tournament_id is not None:
        query = query.where(FinishedGame.tournament_id == tournament_id)
    return query


def _winner(black: str, white: str, result: str) -> str | None:
    winner = winner_of(result)
    return None if winner is None else black if winner is Color.BLACK else white


def games_for_rating(session: Session, tournament_id: int | None = None) -> list[GameResult]:
    """Finished games as `arena.ratings.GameResult` (player names), one per game in scheduled-game
    order; Void games are left out."""
    games = _rated_games(tournament_id).subquery()
    black, white = aliased(Player), aliased(Player)
    query = (select(black.name, white.name, games.c.result).join(black, black.id == games.c.black)
             .join(white, white.id == games.c.white).order_by(games.c.id))
    return [GameResult(black=b, white=w, winner=_winner(b, w, result)) for b, w, result in session.execute(query)]


def save_rating_snapshot(session: Session, *, game_set: RatedGameSet, ratings: Ratings, method: str,
                         parameters: dict[str, Any]) -> RatingSnapshot:
    """Store `ratings` (fitted on `game_set`) with the method, its parameters and the game-set hash."""
    if ratings.games != game_set.games:
        raise StorageError(f"the ratings were fitted on {ratings.games} games, the game set has "
                           f"{game_set.games}")
    names = sorted(ratings.elo)
    ids = dict(session.execute(select(Player.name, Player.id).where(Player.name.in_(names))).all())
    unknown = [name for name in names if name not in ids]
    if unknown:
        raise StorageError(f"ratings name players the store does not know: {unknown}")
    snapshot = RatingSnapshot(method=method, parameters=parameters, game_set_hash=game_set.sha256,
                              game_count=game_set.games)
    snapshot.entries = [RatingEntry(player_id=ids[name], rating=float(ratings.elo[name]),
                                    stderr=float(ratings.stderr[name])) for name in names]
    session.add(snapshot)
    session.flush()
    return snapshot
