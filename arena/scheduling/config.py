"""What a tournament is, as the user asks for it: validated before anything is scheduled.

Pydantic v2 models with `extra="forbid"`, so a misspelt option is an error rather than a
silent default; every check that needs no database lives here (player count, unique names,
visit counts, board size, rules, even games per pairing, candidates among the participants,
format parameters given to the format that uses them). Whether a checkpoint or an engine
exists, and which board sizes it plays, is the service's check (`check_references` takes
what it found). Errors are pydantic `ValidationError`s whose locations name the field.

`TournamentConfig.model_dump(mode="json")` is what `Tournament.configuration` stores, and
`TournamentConfig.model_validate` of that dump gives back an equal configuration: format
defaults are filled in once, at validation, so the stored form is explicit.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from search_workers.schemas import MAX_VISITS, PLAYER_NAME_PATTERN, GameSettings, PlayerName, Visits

from .errors import SchedulingError

__all__ = [
    "MAX_VISITS",
    "Format",
    "OpeningsSpec",
    "ParticipantSpec",
    "ResignSpec",
    "TournamentConfig",
    "check_references",
    "expand_visits_ladder",
    "ladder_name",
]

MAX_SEED = 2**63 - 1  # seeds are stored in a signed BigInteger column

Format = Literal["round-robin", "gauntlet", "visits-ladder", "adaptive", "sprt"]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class ParticipantSpec(BaseModel):
    """One player: a checkpoint searched with a fixed number of visits, or a reference engine."""

    model_config = _STRICT

    name: PlayerName  # the name ratings are reported under, e.g. "s002000@64v"
    kind: Literal["checkpoint", "engine"]  # a registered checkpoint, or an engine from server config
    ref: Annotated[str, Field(min_length=1, max_length=200)]  # checkpoint or engine name; resolved by the service
    visits: Visits | None = None  # playouts per move: checkpoints only (engines carry their own strength)

    @model_validator(mode="after")
    def _visits_match_kind(self) -> ParticipantSpec:
        if self.kind == "checkpoint" and self.visits is None:
            raise ValueError("visits: a checkpoint player needs a visit count (two counts are two players)")
        if self.kind == "engine" and self.visits is not None:
            raise ValueError("visits: an engine carries its own strength settings; give no visits")
        return self


class OpeningsSpec(BaseModel):
    """Where the openings of the colour-swapped pairs come from (see arena.scheduling.openings)."""

    model_config = _STRICT

    source: Literal["none", "random", "sgf", "policy"] = "none"  # none: every game starts on the empty board
    plies: Annotated[int, Field(ge=0, le=400)] = 0  # moves in each opening (0 exactly when source is none)
    count: Annotated[int, Field(ge=1, le=100_000)] = 64  # distinct openings wanted (random, policy)
    directory: str | None = None  # sgf: folder of .sgf files whose first `plies` moves are the openings
    checkpoint: str | None = None  # policy: the checkpoint whose policy the moves are sampled from
    max_abs_value: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2  # policy: keep a position only if |value| <= this
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0  # random, policy: the sampling seed

    @model_validator(mode="after")
    def _fields_match_source(self) -> OpeningsSpec:
        if (self.source == "none") != (self.plies == 0):
            raise ValueError("plies: must be 0 with source 'none' and at least 1 otherwise")
        if (self.source == "sgf") != (self.directory is not None):
            raise ValueError("directory: required with source 'sgf', and only there")
        if (self.source == "policy") != (self.checkpoint is not None):
            raise ValueError("checkpoint: required with source 'policy', and only there")
        return self


class ResignSpec(BaseModel):
    """When a searching player resigns; mirrors SearchConfig's resign_* fields and their ranges."""

    model_config = _STRICT

    threshold: Annotated[float, Field(ge=-1.0, le=1.0)] = -0.95  # resign when the root value stays below this ...
    consecutive: Annotated[int, Field(ge=1, le=1000)] = 3  # ... for this many consecutive own moves
    disabled_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1  # share of games that never resign

    def search_fields(self) -> dict[str, float | int]:
        """These settings as SearchConfig keyword arguments."""
        return {"resign_threshold": self.threshold, "resign_consecutive": self.consecutive,
                "resign_disabled_fraction": self.disabled_fraction}


# Format parameters and the formats they belong to: a parameter given to another format is an
# error (it would do nothing), and the format's defaults are filled in when it is left out.
_FORMAT_FIELDS: dict[str, tuple[tuple[Format, ...], object]] = {
    "games_per_pairing": (("round-robin", "gauntlet", "visits-ladder"), 2),
    "candidates": (("gauntlet", "sprt"), None),
    "target_ci": (("adaptive",), None),
    "game_budget": (("adaptive",), None),
    "batch_pairs": (("adaptive", "sprt"), 8),
    "elo0": (("sprt",), 0.0),
    "elo1": (("sprt",), 10.0),
    "alpha": (("sprt",), 0.05),
    "beta": (("sprt",), 0.05),
    "max_games": (("sprt",), 2000),
    "checkpoint": (("visits-ladder",), None),
    "visits": (("visits-ladder",), None),
}


class TournamentConfig(GameSettings):
    """A tournament as stored in Tournament.configuration; see the module docstring.

    The game's settings (board_size, rules, komi, move_limit) and their bounds are
    `search_workers.schemas.GameSettings`, the contract the workers' block payload shares.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=200)]  # unique tournament name
    format: Format  # how games are paired, see arena.scheduling.formats
    participants: list[ParticipantSpec] = []  # the players (visits-ladder: extra players besides the rungs)
    resign: ResignSpec = ResignSpec()  # resignation policy of searching players
    openings: OpeningsSpec = OpeningsSpec()  # openings shared by the two games of each pair
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0  # every game seed derives from this
    # Static formats (round-robin, gauntlet, visits-ladder).
    games_per_pairing: Annotated[int, Field(ge=2, le=100_000)] | None = None  # even: colour-swapped pairs; default 2
    # Gauntlet and SPRT.
    candidates: list[str] | None = None  # gauntlet: names that play every other player; sprt: the one candidate
    # Adaptive (at least one of target_ci and game_budget).
    target_ci: Annotated[float, Field(gt=0.0, le=10_000.0)] | None = None  # stop when all 95% half-widths (Elo) <= this
    game_budget: Annotated[int, Field(ge=2, le=10_000_000)] | None = None  # stop scheduling at this many games (even)
    batch_pairs: Annotated[int, Field(ge=1, le=100_000)] | None = None  # adaptive, sprt: pairs per batch; default 8
    # SPRT (candidate against baseline; Fishtest's GSPRT on pentanomial pair counts).
    elo0: float | None = None  # H0: the candidate is not better than this (Elo); default 0
    elo1: float | None = None  # H1: the candidate is at least this much better; default 10
    alpha: Annotated[float, Field(gt=0.0, lt=0.5)] | None = None  # false-accept rate; default 0.05
    beta: Annotated[float, Field(gt=0.0, lt=0.5)] | None = None  # false-reject rate; default 0.05
    max_games: Annotated[int, Field(ge=2, le=10_000_000)] | None = None  # stop undecided after this many; default 2000
    # Visits ladder: one checkpoint at several visit counts (players "<checkpoint>@<visits>v").
    # The checkpoint that climbs the ladder; short enough, and of the player name's characters,
    # that "<checkpoint>@<visits>v" is a player name.
    checkpoint: Annotated[str, Field(max_length=88, pattern=PLAYER_NAME_PATTERN)] | None = None
    visits: list[Visits] | None = None  # the rungs, at least two distinct counts

    @model_validator(mode="before")
    @classmethod
    def _format_fields(cls, data: object) -> object:
        """Refuse parameters of another format; fill in the defaults of this one."""
        if not isinstance(data, Mapping) or not isinstance(data.get("format"), str):
            return data  # the field validators report it
        data = dict(data)
        for field, (formats, default) in _FORMAT_FIELDS.items():
            if data["format"] in formats:
                if data.get(field) is None and default is not None:
                    data[field] = default
            elif data.get(field) is not None:
                raise ValueError(f"{field}: not a parameter of format {data['format']!r} "
                                 f"(only of {', '.join(formats)})")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> TournamentConfig:
        check = {"round-robin": _no_check, "gauntlet": _check_gauntlet, "visits-ladder": _check_ladder,
                 "adaptive": _check_adaptive, "sprt": _check_sprt}[self.format]
        check(self)
        roster = self.players()
        if len(roster) < 2:
            raise ValueError(f"participants: a tournament needs at least two players, got {len(roster)}")
        seen: set[str] = set()
        for player in roster:
            if player.name in seen:
                raise ValueError(f"participants: player name {player.name!r} appears twice")
            seen.add(player.name)
        if self.games_per_pairing is not None and self.games_per_pairing % 2:
            raise ValueError(f"games_per_pairing: must be even (colour-swapped pairs), got {self.games_per_pairing}")
        limit = self.effective_move_limit
        if self.openings.plies >= limit:
            raise ValueError(f"openings.plies: {self.openings.plies} opening moves leave no game "
                             f"within move_limit {limit}")
        if self.openings.plies >= self.board_size ** 2:
            raise ValueError(f"openings.plies: {self.openings.plies} moves do not fit a "
                             f"{self.board_size}x{self.board_size} board")
        return self

    # -------------------------------------------------------------------- derived values

    def players(self) -> list[ParticipantSpec]:
        """Every player of the tournament: the participants, and for a ladder its rungs too."""
        if self.format == "visits-ladder":
            return expand_visits_ladder(self)
        return list(self.participants)

    @property
    def baseline(self) -> str:
        """SPRT: the participant that is not the candidate."""
        if self.format != "sprt":
            raise ValueError(f"only an sprt tournament has a baseline, not {self.format!r}")
        assert self.candidates is not None
        return next(p.name for p in self.participants if p.name != self.candidates[0])


def _no_check(config: TournamentConfig) -> None:
    """Round-robin needs nothing beyond the common checks."""


def _check_candidates(config: TournamentConfig) -> None:
    names = {p.name for p in config.participants}
    if not config.candidates:
        raise ValueError("candidates: name at least one participant as candidate")
    for i, name in enumerate(config.candidates):
        if name not in names:
            raise ValueError(f"candidates[{i}]: {name!r} is not a participant")
    if len(set(config.candidates)) != len(config.candidates):
        raise ValueError("candidates: a name appears twice")


def _check_gauntlet(config: TournamentConfig) -> None:
    _check_candidates(config)
    assert config.candidates is not None
    if len(set(config.candidates)) == len(config.participants):
        raise ValueError("candidates: a gauntlet needs at least one participant that is not a candidate")


def _check_sprt(config: TournamentConfig) -> None:
    if len(config.participants) != 2:
        raise ValueError(f"participants: sprt gates one candidate against one baseline, got "
                         f"{len(config.participants)} participants")
    _check_candidates(config)
    assert config.candidates is not None and config.elo0 is not None and config.elo1 is not None
    if len(config.candidates) != 1:
        raise ValueError(f"candidates: sprt takes exactly one candidate, got {len(config.candidates)}")
    if not config.elo1 > config.elo0:
        raise ValueError(f"elo1: must be greater than elo0, got elo0={config.elo0}, elo1={config.elo1}")
    for field in ("elo0", "elo1"):
        if not math.isfinite(getattr(config, field)):
            raise ValueError(f"{field}: must be finite")
    assert config.max_games is not None
    if config.max_games % 2:
        raise ValueError(f"max_games: must be even (colour-swapped pairs), got {config.max_games}")


def _check_adaptive(config: TournamentConfig) -> None:
    if config.target_ci is None and config.game_budget is None:
        raise ValueError("target_ci: adaptive needs a target half-width, a game_budget, or both")
    if config.game_budget is not None and config.game_budget % 2:
        raise ValueError(f"game_budget: must be even (colour-swapped pairs), got {config.game_budget}")


def _check_ladder(config: TournamentConfig) -> None:
    if config.checkpoint is None:
        raise ValueError("checkpoint: a visits ladder needs the checkpoint to climb it")
    if config.visits is None or len(set(config.visits)) < 2:
        raise ValueError("visits: a visits ladder needs at least two distinct visit counts")
    if len(set(config.visits)) != len(config.visits):
        raise ValueError("visits: a visit count appears twice")


def ladder_name(checkpoint: str, visits: int) -> str:
    """The player name of one rung, e.g. "s002000@64v"."""
    return f"{checkpoint}@{visits}v"


def expand_visits_ladder(config: TournamentConfig) -> list[ParticipantSpec]:
    """A ladder's players: one checkpoint player per visit count (ascending), then the participants.

    The service registers these as players; the rungs are ordered by visits so that the
    ladder's pairing (adjacent rungs, see formats) follows strength.
    """
    if config.format != "visits-ladder" or config.checkpoint is None or config.visits is None:
        raise ValueError(f"only a visits-ladder tournament has rungs, not {config.format!r}")
    rungs = [ParticipantSpec(name=ladder_name(config.checkpoint, v), kind="checkpoint", ref=config.checkpoint,
                             visits=v) for v in sorted(config.visits)]
    return rungs + list(config.participants)


def check_references(
    config: TournamentConfig,
    *,
    checkpoint_sizes: Mapping[str, Collection[int]],
    engine_sizes: Mapping[str, Collection[int]],
) -> None:
    """Raise SchedulingError naming the player unless every reference exists and plays the board size.

    checkpoint_sizes / engine_sizes: for each checkpoint and engine the service knows, the
    board sizes it can play (what its network was trained for; what the engine supports).
    The opening checkpoint of policy openings is checked too.
    """
    wanted: list[tuple[str, str, str]] = [(f"player {p.name!r}", p.kind, p.ref) for p in config.players()]
    if config.openings.checkpoint is not None:
        wanted.append(("openings.checkpoint", "checkpoint", config.openings.checkpoint))
    for what, kind, ref in wanted:
        known = checkpoint_sizes if kind == "checkpoint" else engine_sizes
        if ref not in known:
            raise SchedulingError(f"{what}: unknown {kind} {ref!r}")
        if config.board_size not in known[ref]:
            sizes = ", ".join(str(s) for s in sorted(known[ref])) or "none"
            raise SchedulingError(f"{what}: {kind} {ref!r} cannot play board size {config.board_size} "
                             f"(it plays: {sizes})")
