"""The arena's tables (SQLAlchemy 2 declarative, typed). Alembic migrations create them.

Constraints live in the database, not only in Python, so that no writer (another service, a
hand-run script) can store what the arena would refuse: unique checkpoints by content hash,
a scheduled game's identity fixed before play, one result per scheduled game, well-formed
result strings, non-negative counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import BIT, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from search_workers.go.results import RESULT_PATTERN

# Deterministic constraint names: migrations can refer to (and later drop) them by name.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# B+3.5 / W+R (resign) / B+T (time) / B+F (forfeit) / 0 (draw, jigo) / Void (no result): the
# stored form that search_workers.go.results defines and parses (RESULT_PATTERN is re-exported here).


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar = {dict[str, Any]: JSONB, list[Any]: JSONB}


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Checkpoint(Base):
    """A network checkpoint, identified by the sha256 of its weights; lineage within a training run."""

    __tablename__ = "checkpoints"
    __table_args__ = (
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        CheckConstraint("training_step IS NULL OR training_step >= 0", name="step_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # One sha256 per name for good: re-registering a name under other weights is refused.
    name: Mapped[str] = mapped_column(String(200), unique=True)
    manifest: Mapped[dict[str, Any]] = mapped_column(default=dict)
    run_name: Mapped[str | None] = mapped_column(String(200))
    training_step: Mapped[int | None] = mapped_column(BigInteger)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoints.id", ondelete="RESTRICT"))
    # The API token that registered it (None: the CLI, or a token since deleted).
    created_by_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()

    parent: Mapped[Checkpoint | None] = relationship(remote_side=[id])


class EngineRecord(Base):
    """An external engine (GNU Go, KataGo...): name from server configuration, version it reports."""

    __tablename__ = "engines"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_engines_name_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _created()


class Player(Base):
    """A checkpoint or an engine plus its search settings: 16 and 256 visits are two players."""

    __tablename__ = "players"
    __table_args__ = (
        # Exactly one of checkpoint / engine.
        CheckConstraint("(checkpoint_id IS NULL) <> (engine_id IS NULL)", name="checkpoint_xor_engine"),
        UniqueConstraint(
            "checkpoint_id", "engine_id", "search_settings",
            name="uq_players_identity", postgresql_nulls_not_distinct=True,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The name ratings are reported under (e.g. "run7-120k@256v"); unique so results map back.
    name: Mapped[str] = mapped_column(String(200), unique=True)
    checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoints.id", ondelete="RESTRICT"))
    engine_id: Mapped[int | None] = mapped_column(ForeignKey("engines.id", ondelete="RESTRICT"))
    search_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _created()

    checkpoint: Mapped[Checkpoint | None] = relationship()
    engine: Mapped[EngineRecord | None] = relationship()


class Tournament(Base):
    """A set of games played under one format and configuration; status and progress for monitoring."""

    __tablename__ = "tournaments"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'running', 'finished', 'cancelled')", name="status_known"),
        CheckConstraint("games_scheduled >= 0 AND games_finished >= 0", name="progress_non_negative"),
        CheckConstraint("games_finished <= games_scheduled", name="progress_bounded"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    format: Mapped[str] = mapped_column(String(50))
    configuration: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what the user asked for (TournamentConfig)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    games_scheduled: Mapped[int] = mapped_column(Integer, default=0)
    games_finished: Mapped[int] = mapped_column(Integer, default=0)
    # What its progress reports of its stored games, kept by each one in its transaction
    # (arena.db.repository.record_finished_game) instead of counted over all of them (0010):
    # the first and last finish times, forfeits (a result ending "+F"), games ended by passes
    # (scored by strict Tromp-Taylor), those a referee scored too, and where the two disagreed.
    first_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    games_forfeited: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    games_pass_ended: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    games_refereed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    games_disagreed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The API token that created it (None: the CLI, or a token since deleted); it may cancel it.
    created_by_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="SET NULL"))
    # Why the scheduler last failed to advance it, in words fit for clients (details: its log).
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The rating pool its games belong to (arena.scheduling.conditions.condition_key: board size,
    # rules, komi): games under different conditions are never rated together.
    condition: Mapped[str] = mapped_column(String(100), server_default="", index=True)
    # Its state, written by the service as it runs (`configuration` is only what the user asked
    # for, see migration 0008): the openings its games are planned from, each in
    # arena.scheduling.format_opening's text (None: every game from the empty board) ...
    opening_book: Mapped[list[Any] | None] = mapped_column(JSONB(none_as_null=True))
    # ... the engine that settles dead stones after passes (None: strict Tromp-Taylor) ...
    referee: Mapped[str | None] = mapped_column(String(200))
    # ... and an SPRT's result once it finished (verdict, llr, lower, upper, pairs).
    verdict: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class ScheduledGame(Base):
    """A game whose identity (tournament, pairing, index, colours, opening, seed) is fixed before play."""

    __tablename__ = "scheduled_games"
    __table_args__ = (
        UniqueConstraint("tournament_id", "pairing", "game_index", name="uq_scheduled_games_identity"),
        CheckConstraint("game_index >= 0", name="index_non_negative"),
        CheckConstraint("black_player_id <> white_player_id", name="distinct_players"),
        # Game lists by id under a player pair or a tournament (migration 0004).
        Index("ix_scheduled_games_black_white", "black_player_id", "white_player_id", "id"),
        Index("ix_scheduled_games_white_black", "white_player_id", "black_player_id", "id"),
        Index("ix_scheduled_games_tournament_id_id", "tournament_id", "id"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        # The scheduler's reclaim pass reads leases by expiry; only games in play have one (0006).
        Index("ix_scheduled_games_lease_expires_at", "lease_expires_at",
              postgresql_where=text("lease_expires_at IS NOT NULL")),
        # Failed games per tournament (its progress and completion): few rows, a small index (0006).
        Index("ix_scheduled_games_failed", "tournament_id", postgresql_where=text("failed_at IS NOT NULL")),
        # The games still to play (neither stored nor failed) of a tournament, in id order: what
        # the scheduler's reclaim and dispatch passes read every second, however many games the
        # tournament has stored (0010).
        Index("ix_scheduled_games_open", "tournament_id", "id",
              postgresql_where=text("stored_at IS NULL AND failed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tournament_id: Mapped[int] = mapped_column(ForeignKey("tournaments.id", ondelete="RESTRICT"))
    pairing: Mapped[str] = mapped_column(String(200))
    game_index: Mapped[int] = mapped_column(Integer)
    black_player_id: Mapped[int] = mapped_column(ForeignKey("players.id", ondelete="RESTRICT"))
    white_player_id: Mapped[int] = mapped_column(ForeignKey("players.id", ondelete="RESTRICT"))
    opening: Mapped[str | None] = mapped_column(Text)
    seed: Mapped[int] = mapped_column(BigInteger)
    # When the scheduler last sent the game to the workers (None: never).
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # The worker ("host:pid") that claimed the game and until when; None: not claimed (queued or
    # never sent). A worker extends its leases while it plays; an expired one is reclaimed
    # (arena.leases).
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Deliveries that claimed it (a hand-back does not count): at ARENA_MAX_BLOCK_ATTEMPTS it fails.
    attempts: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    # Given up on (every attempt's worker died or lost it), and why, in words fit for clients.
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_reason: Mapped[str | None] = mapped_column(Text)
    # When its finished_games row was written (None: not stored), in the same transaction
    # (record_finished_game): "still to play" without looking at finished_games (0010).
    stored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()

    black: Mapped[Player] = relationship(foreign_keys=[black_player_id])
    white: Mapped[Player] = relationship(foreign_keys=[white_player_id])
    finished: Mapped[FinishedGame | None] = relationship(back_populates="scheduled")


class FinishedGame(Base):
    """A played game: one per scheduled game (its primary key is the scheduled game's id)."""

    __tablename__ = "finished_games"
    __table_args__ = (
        CheckConstraint(f"result ~ '{RESULT_PATTERN}'", name="result_format"),
        CheckConstraint("move_count >= 0", name="move_count_non_negative"),
        CheckConstraint("duration_s >= 0", name="duration_non_negative"),
        # As scheduled: game lists read a player's games as black and as white, never the same game.
        CheckConstraint("black_player_id <> white_player_id", name="distinct_players"),
        # Game lists page by descending id under filters; each filter reads its own entries in id
        # order from one of these instead of joining scheduled_games and walking the id range.
        Index("ix_finished_games_result", "result", "scheduled_game_id"),
        Index("ix_finished_games_tournament", "tournament_id", "scheduled_game_id"),
        Index("ix_finished_games_tournament_result", "tournament_id", "result", "scheduled_game_id"),
        Index("ix_finished_games_black", "black_player_id", "scheduled_game_id"),
        Index("ix_finished_games_white", "white_player_id", "scheduled_game_id"),
        Index("ix_finished_games_pair", "black_player_id", "white_player_id", "scheduled_game_id"),
        # A range of finish times in order: the gRPC game stream, throughput windows, since/until
        # pages (0010).
        Index("ix_finished_games_finished_at", "finished_at", "scheduled_game_id"),
        # Games whose per-move statistics are still kept, by age: what retention (arena.retention) clears.
        Index("ix_finished_games_move_stats_kept", "finished_at", postgresql_where=text("move_stats <> '[]'::jsonb")),
    )

    scheduled_game_id: Mapped[int] = mapped_column(
        ForeignKey("scheduled_games.id", ondelete="RESTRICT"), primary_key=True
    )
    # Copies of the scheduled game's (never rewritten) identity, so that game lists filter and
    # order on this table alone (migration 0009).
    tournament_id: Mapped[int] = mapped_column(ForeignKey("tournaments.id", ondelete="RESTRICT"))
    black_player_id: Mapped[int] = mapped_column(ForeignKey("players.id", ondelete="RESTRICT"))
    white_player_id: Mapped[int] = mapped_column(ForeignKey("players.id", ondelete="RESTRICT"))
    result: Mapped[str] = mapped_column(String(20))
    # Black's margin in points (negative: white won on the board); None for R/T/F/Void.
    score: Mapped[float | None] = mapped_column(Float)
    # Games ended by passes: strict Tromp-Taylor's score (every stone alive) beside `score` (the
    # referee's settled one), and whether the two name different winners (None: no second opinion).
    score_tromp_taylor: Mapped[float | None] = mapped_column(Float)
    scoring_disagrees: Mapped[bool | None] = mapped_column(Boolean)
    move_count: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    sgf: Mapped[str] = mapped_column(Text)
    # One entry per move: {"visits", "root_value", "policy_entropy", "time_s"}.
    move_stats: Mapped[list[Any]] = mapped_column(default=list)
    worker: Mapped[str] = mapped_column(String(200))
    software_version: Mapped[str] = mapped_column(String(100))
    model_versions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    finished_at: Mapped[datetime] = _created()

    scheduled: Mapped[ScheduledGame] = relationship(back_populates="finished")


class RatingPair(Base):
    """The rated games of one ordered (black, white) pair in one tournament, counted as they are
    stored (`arena.db.rating_inputs`): what a fit reads instead of the games.

    `digest` is the XOR of every counted game's sha256 over "<id>\t<black id>\t<white id>\t<result>",
    so with the counts it names the exact games: an order-free fingerprint that a new game updates
    in place, in the transaction that stores it."""

    __tablename__ = "rating_pairs"
    __table_args__ = (
        CheckConstraint("wins_black >= 0 AND wins_white >= 0 AND draws >= 0", name="counts_non_negative"),
    )

    tournament_id: Mapped[int] = mapped_column(ForeignKey("tournaments.id", ondelete="RESTRICT"), primary_key=True)
    black_player_id: Mapped[int] = mapped_column(ForeignKey("players.id", ondelete="RESTRICT"), primary_key=True)
    white_player_id: Mapped[int] = mapped_column(ForeignKey("players.id", ondelete="RESTRICT"), primary_key=True)
    wins_black: Mapped[int] = mapped_column(Integer)
    wins_white: Mapped[int] = mapped_column(Integer)
    draws: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(BIT(256))


class PairPentanomial(Base):
    """The complete colour-swapped pairs of one pairing in one tournament (both games stored and
    rated), counted by the total score of the pairing's first player (Black in the pair's even
    game): what an SPRT reads (`arena.scheduling.finished`), kept as games are stored
    (`arena.db.rating_inputs.count_pentanomial`) instead of pairing the games up every batch."""

    __tablename__ = "pair_pentanomials"
    __table_args__ = (
        CheckConstraint("scored_0 >= 0 AND scored_half >= 0 AND scored_1 >= 0 AND scored_1_half >= 0 "
                        "AND scored_2 >= 0", name="counts_non_negative"),
    )

    tournament_id: Mapped[int] = mapped_column(ForeignKey("tournaments.id", ondelete="RESTRICT"), primary_key=True)
    pairing: Mapped[str] = mapped_column(String(200), primary_key=True)
    first_player_id: Mapped[int] = mapped_column(ForeignKey("players.id", ondelete="RESTRICT"))
    scored_0: Mapped[int] = mapped_column(Integer)
    scored_half: Mapped[int] = mapped_column(Integer)
    scored_1: Mapped[int] = mapped_column(Integer)
    scored_1_half: Mapped[int] = mapped_column(Integer)
    scored_2: Mapped[int] = mapped_column(Integer)


PENTANOMIAL_COLUMNS = ("scored_0", "scored_half", "scored_1", "scored_1_half", "scored_2")


class LeaderboardFit(Base):
    """A rating fit shared by every process that serves leaderboards (`arena.leaderboards.shared`):
    the fitted ratings of one game set under one policy, JSON, keyed by a hash of both."""

    __tablename__ = "leaderboard_fits"
    __table_args__ = (Index("ix_leaderboard_fits_created_at", "created_at"),)  # old fits are deleted

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    ratings: Mapped[dict[str, Any]] = mapped_column(JSONB)
    fit_s: Mapped[float] = mapped_column(Float)  # how long the fit took
    created_at: Mapped[datetime] = _created()


class RatingSnapshot(Base):
    """Ratings computed by one method with its parameters over an exactly identified set of games."""

    __tablename__ = "rating_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    method: Mapped[str] = mapped_column(String(50))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # sha256 over the sorted scheduled-game ids and results the fit used: reproducibility.
    game_set_hash: Mapped[str] = mapped_column(String(64))
    game_count: Mapped[int] = mapped_column(Integer, CheckConstraint("game_count >= 0", name="game_count_non_negative"))
    created_at: Mapped[datetime] = _created()

    entries: Mapped[list[RatingEntry]] = relationship(back_populates="snapshot", cascade="all, delete-orphan")


class RatingEntry(Base):
    """One player's rating and standard error in a snapshot."""

    __tablename__ = "rating_entries"

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("rating_snapshots.id", ondelete="CASCADE"), primary_key=True)
    player_id: Mapped[int] = mapped_column(ForeignKey("players.id", ondelete="RESTRICT"), primary_key=True)
    rating: Mapped[float] = mapped_column(Float)
    stderr: Mapped[float | None] = mapped_column(Float)

    snapshot: Mapped[RatingSnapshot] = relationship(back_populates="entries")


class ApiToken(Base):
    """A bearer token for the HTTP API's writes. Only its sha256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("token_sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        CheckConstraint("scope IN ('read', 'submit', 'admin')", name="scope_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # read: GET routes only; submit: also register checkpoints, create tournaments and cancel its
    # own; admin: also cancel any tournament and manage tokens.
    scope: Mapped[str] = mapped_column(String(20), server_default="submit")
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # None: never
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Worker(Base):
    """A worker process ("host:pid") as its heartbeats last described it: liveness for /workers."""

    __tablename__ = "workers"
    __table_args__ = (
        CheckConstraint("blocks_in_hand >= 0 AND games_in_hand >= 0 AND games_stored >= 0 AND games_lost >= 0",
                        name="counts_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)  # "host:pid", the leases' owner
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    blocks_in_hand: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    games_in_hand: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    games_stored: Mapped[int] = mapped_column(BigInteger, server_default="0", default=0)
    # Games whose lease expired in its hands (it died, hung or lost the database): Fishtest's
    # crash count, per worker, so a bad host shows up.
    games_lost: Mapped[int] = mapped_column(BigInteger, server_default="0", default=0)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # None: running or died
