"""The messages between the scheduler and the match workers: versioned, validated schemas.

A block payload carries everything a worker needs to play its games and nothing it must
trust blindly: players are checkpoints (by sha256, loaded from the worker's own checkpoint
store and verified) or engines (by name, from the worker's own engine configuration). No
command line, path outside the store or code ever travels in a payload.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from search_workers.go import MAX_BOARD_SIZE, MIN_BOARD_SIZE, Rules, RulesError

SCHEMA_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+\-]{0,99}$")


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _player_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"player name {value!r} must be 1-100 letters, digits or _.@+- (no spaces)")
    return value


class SearchSettings(_Schema):
    """The SearchConfig fields a tournament may set (search_workers.search.SearchConfig checks ranges)."""

    visits: int = Field(ge=1, le=1_000_000)
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
    name: str  # the player name results are stored under
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]  # weights hash: the store's key
    search: SearchSettings

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _player_name(value)


class EnginePlayer(_Schema):
    kind: Literal["engine"] = "engine"
    name: str
    engine: str  # an engine defined in the worker's server-side configuration

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _player_name(value)


PlayerSpec = Annotated[CheckpointPlayer | EnginePlayer, Field(discriminator="kind")]


class GameOrder(_Schema):
    """One scheduled game: its identity was fixed (and stored) before play."""

    scheduled_game_id: int = Field(ge=1)
    black: str
    white: str
    opening: list[int] = Field(default_factory=list, max_length=400)  # flat moves
    seed: int = Field(ge=0, lt=2**63)


class BlockPayload(_Schema):
    """A block of games for one worker to play concurrently (`arena.play_block`, version 1)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    tournament_id: int = Field(ge=1)
    board_size: int = Field(ge=MIN_BOARD_SIZE, le=MAX_BOARD_SIZE)
    rules: str  # a Rules preset name (tromp-taylor, chinese, japanese, ...)
    komi: float = Field(ge=-150, le=150)
    move_limit: int | None = Field(default=None, ge=1, le=10_000)
    referee: str | None = None  # engine that settles dead stones after passes; None: Tromp-Taylor
    players: list[PlayerSpec] = Field(min_length=2, max_length=64)
    games: list[GameOrder] = Field(min_length=1, max_length=1024)

    @field_validator("komi")
    @classmethod
    def _half_points(cls, komi: float) -> float:
        if komi * 2 != int(komi * 2):
            raise ValueError(f"komi must be a multiple of 0.5, got {komi}")
        return komi

    @model_validator(mode="after")
    def _consistent(self) -> BlockPayload:
        try:
            Rules.preset(self.rules, komi=self.komi)
        except RulesError as exc:
            raise ValueError(f"rules: {exc}") from None
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

    def game_rules(self) -> Rules:
        return Rules.preset(self.rules, komi=self.komi)


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


class BlockResult(_Schema):
    """What the task returns: counts only; the games themselves are already stored."""

    schema_version: Literal[1] = SCHEMA_VERSION
    tournament_id: int
    played: int  # games played and stored now
    skipped: int  # games already stored before this delivery (a redelivered block)
    forfeits: int
    worker: str
    seconds: float
