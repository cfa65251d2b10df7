"""The messages between the scheduler and the match workers: versioned, validated schemas.

A block payload carries everything a worker needs to play its games and nothing it must
trust blindly: players are checkpoints (by sha256, loaded from the worker's own checkpoint
store and verified) or engines (by name, from the worker's own engine configuration). No
command line, path outside the store or code ever travels in a payload.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from search_workers.go import MIN_BOARD_SIZE, GameState, Rules, RulesError
from search_workers.go.rules import MAX_KOMI, check_komi
from search_workers.search import MAX_VISITS, search_bytes_per_game

SCHEMA_VERSION = 1

# The game contract: every bound below is checked the same way where a tournament is accepted
# (arena.scheduling.TournamentConfig inherits GameSettings) and where its games are played
# (BlockPayload inherits it too), so whatever a server accepts, its workers can play.
MAX_BOARD_SIZE = 19  # what the networks and reference engines here play
# 19x19's default limit is 4 * 361 + 20 = 1464: room above it, and a bound on the per-game
# path and history buffers the search allocates (mcts.search_bytes_per_game).
MAX_MOVE_LIMIT = 2000
MAX_BLOCK_PLAYERS = 64  # players of one block payload
MAX_BLOCK_GAMES = 1024  # games of one block payload
# Remote evaluators search in two pipeline groups (tasks._seats); memory estimates assume it.
MAX_PIPELINE_GROUPS = 2

# A player name: ASCII letters, digits and _.@+- (no white space, so "A vs B" reads back
# unambiguously); at most 98 characters, so a pairing fits ScheduledGame.pairing (200).
PLAYER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+\-]{0,97}$"


def _player_name(value: str) -> str:
    if not re.fullmatch(PLAYER_NAME_PATTERN, value):
        raise ValueError(f"player name {value!r} must be 1-98 letters, digits or _.@+- (no spaces), "
                         f"beginning with a letter or a digit")
    return value


# Checked by _player_name (a message that says what a name may be); the schema documents it too.
PlayerName = Annotated[str, AfterValidator(_player_name), Field(json_schema_extra={"pattern": PLAYER_NAME_PATTERN})]
Visits = Annotated[int, Field(ge=1, le=MAX_VISITS)]  # playouts per move of a searching player


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GameSettings(_Schema):
    """How every game of a tournament is played: the one definition of the game's settings and
    their bounds, shared by the tournament configuration and the block payload."""

    board_size: int = Field(default=9, ge=MIN_BOARD_SIZE, le=MAX_BOARD_SIZE)  # N of the N x N board
    rules: str = "tromp-taylor"  # a rules preset name (search_workers.go.rules.PRESETS)
    komi: float = Field(default=7.5, ge=-MAX_KOMI, le=MAX_KOMI)  # added to White's area score; a multiple of 0.5
    move_limit: int | None = Field(default=None, ge=1, le=MAX_MOVE_LIMIT)  # None: the rules' default for the size

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, value: str) -> str:
        try:
            Rules.preset(value)
        except RulesError as exc:
            raise ValueError(str(exc)) from None
        return value.strip().lower()

    @field_validator("komi")
    @classmethod
    def _komi(cls, komi: float) -> float:
        check_komi(komi)  # the rules' one komi rule (a RulesError is a ValueError)
        return komi

    def game_settings(self) -> dict[str, Any]:
        """The GameSettings fields of this model, to build the other side of the contract with."""
        return {field: getattr(self, field) for field in GameSettings.model_fields}

    def game_rules(self) -> Rules:
        """The rules every game is played under."""
        return Rules.preset(self.rules, komi=self.komi)

    @property
    def effective_move_limit(self) -> int:
        """move_limit, or the rules layer's default for this board size."""
        return self.move_limit if self.move_limit is not None else GameState.new(self.board_size).move_limit

    def search_bytes(self, visits: Iterable[int], games: int) -> int:
        """Search memory of `games` games played at once by searching players of these visit
        counts (each keeps one tree per game, see search_workers.search.search_bytes_per_game)."""
        per_game = sum(search_bytes_per_game(self.board_size, v, move_limit=self.effective_move_limit,
                                             pipeline_groups=MAX_PIPELINE_GROUPS) for v in visits)
        return games * per_game


class SearchSettings(_Schema):
    """The SearchConfig fields a tournament may set (search_workers.search.SearchConfig checks ranges)."""

    visits: Visits
    c_puct: float = 1.5
    fpu_reduction: float = 0.25
    reuse_tree: bool = True
    temperature: float = 1.0
    temperature_moves: int = 0
    resign_threshold: float = -0.95
    resign_consecutive: int = 3
    resign_disabled_fraction: float = 0.1


class CheckpointPlayer(_Schema):
    kind: Literal["checkpoint"] = "checkpoint"
    name: PlayerName  # the player name results are stored under
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]  # weights hash: the store's key
    search: SearchSettings


class EnginePlayer(_Schema):
    kind: Literal["engine"] = "engine"
    name: PlayerName
    engine: str  # an engine defined in the worker's server-side configuration


PlayerSpec = Annotated[CheckpointPlayer | EnginePlayer, Field(discriminator="kind")]


class GameOrder(_Schema):
    """One scheduled game: its identity was fixed (and stored) before play."""

    scheduled_game_id: int = Field(ge=1)
    black: str
    white: str
    opening: list[int] = Field(default_factory=list, max_length=400)  # flat moves
    seed: int = Field(ge=0, lt=2**63)


class BlockPayload(GameSettings):
    """A block of games for one worker to play concurrently (`arena.play_block`, version 1).

    The game's settings (board size, rules, komi, move limit) are GameSettings' fields.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    tournament_id: int = Field(ge=1)
    referee: str | None = None  # engine that settles dead stones after passes; None: Tromp-Taylor
    players: list[PlayerSpec] = Field(min_length=2, max_length=MAX_BLOCK_PLAYERS)
    games: list[GameOrder] = Field(min_length=1, max_length=MAX_BLOCK_GAMES)

    @model_validator(mode="after")
    def _consistent(self) -> BlockPayload:
        names = [p.name for p in self.players]
        if len(set(names)) != len(names):
            raise ValueError(f"players: duplicate names in {names}")
        ids = [g.scheduled_game_id for g in self.games]
        if len(set(ids)) != len(ids):
            raise ValueError("games: a scheduled game appears twice")
        nn = self.board_size ** 2
        for g in self.games:
            for role in ("black", "white"):
                if getattr(g, role) not in names:
                    raise ValueError(f"game {g.scheduled_game_id}: {role} {getattr(g, role)!r} is not among the players")
            if g.black == g.white:
                raise ValueError(f"game {g.scheduled_game_id}: a player cannot play itself")
            if any(not 0 <= m <= nn for m in g.opening):
                raise ValueError(f"game {g.scheduled_game_id}: opening moves must be flat points in [0, {nn}]")
        return self

    def search_bytes_at_once(self, games_at_once: int | None = None) -> int:
        """Search memory of playing this block `games_at_once` games at a time (None: all)."""
        slots = len(self.games) if games_at_once is None else min(games_at_once, len(self.games))
        return self.search_bytes([p.search.visits for p in self.players if isinstance(p, CheckpointPlayer)], slots)


class FinishedGameRecord(_Schema):
    """What a worker stores for one finished game (arena.db.repository.record_finished_game)."""

    scheduled_game_id: int
    result: str
    score: float | None
    move_count: int
    duration_s: float
    sgf: str
    move_stats: list[dict[str, Any]]
    worker: str
    software_version: str
    provenance: dict[str, Any]  # checkpoints' sha256, engine versions, search settings, scoring, forfeits
    # Ended by passes: strict Tromp-Taylor's score beside `score` (the referee's), and whether
    # they name different winners (None: no referee's answer). Defaults keep older workers' records valid.
    score_tromp_taylor: float | None = None
    scoring_disagrees: bool | None = None


class BlockResult(_Schema):
    """What the task returns: counts only; the games themselves are already stored."""

    schema_version: Literal[1] = SCHEMA_VERSION
    tournament_id: int
    played: int  # games played and stored now
    skipped: int  # games already stored before this delivery (a redelivered block)
    forfeits: int
    worker: str
    seconds: float
    cancelled: int = 0  # games left unplayed because their tournament was cancelled meanwhile
