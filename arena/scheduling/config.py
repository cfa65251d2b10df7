"""What a tournament is, as the user asks for it: validated before anything is scheduled.

One pydantic model per format (`RoundRobinConfig`, `GauntletConfig`, `VisitsLadderConfig`,
`AdaptiveConfig`, `SprtConfig`) on a shared base of what every format has (players, the game's
settings, resignation, openings, seed); `TournamentConfig` is their union keyed by `format`, and
`parse_config` builds one. Each model has only the parameters its format uses, with
`extra="forbid"`: a misspelt option, or another format's parameter, is an error naming it
rather than a silent default. Every check that needs no database lives here (player count, unique names,
visit counts, board size, rules, even games per pairing, candidates among the participants,
format parameters given to the format that uses them). Whether a checkpoint or an engine
exists, and which board sizes it plays, is the service's check (`check_references` takes
what it found). Errors are pydantic `ValidationError`s whose locations name the field.

`config.model_dump(mode="json")` is what `Tournament.configuration` stores (what the user asked
for; the tournament's state, such as its opening book, has columns of its own), and
`parse_config` of that dump gives back an equal configuration: format defaults are filled in
once, at validation, so the stored form is explicit.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    TypeAdapter,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from arena.ratings.sprt import MAX_ABS_ELO
from search_workers.schemas import MAX_VISITS, PLAYER_NAME_PATTERN, GameSettings, PlayerName, Visits

from .errors import SchedulingError

__all__ = [
    "FORMAT_MODELS",
    "MAX_VISITS",
    "AdaptiveConfig",
    "Format",
    "GauntletConfig",
    "OpeningsSpec",
    "ParticipantSpec",
    "ResignSpec",
    "RoundRobinConfig",
    "SprtConfig",
    "TournamentConfig",
    "VisitsLadderConfig",
    "check_references",
    "expand_visits_ladder",
    "ladder_name",
    "parse_config",
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


class _TournamentBase(GameSettings):
    """What every format shares: the name, the players, the game's settings, resignation,
    openings and the seed. The game's settings (board_size, rules, komi, move_limit) and their
    bounds are `search_workers.schemas.GameSettings`, the contract the workers' payload shares.
    """

    model_config = _STRICT

    name: Annotated[str, Field(min_length=1, max_length=200)]  # unique tournament name
    format: Format  # narrowed to one value by each format's model
    participants: list[ParticipantSpec] = []  # the players (visits-ladder: extra players besides the rungs)
    resign: ResignSpec = ResignSpec()  # resignation policy of searching players
    openings: OpeningsSpec = OpeningsSpec()  # openings shared by the two games of each pair
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0  # every game seed derives from this

    @model_validator(mode="before")
    @classmethod
    def _no_other_format_parameters(cls, data: object) -> object:
        """Name a parameter of another format (it would do nothing) instead of a bare "extra input".

        A parameter given as null is dropped: configurations stored before the formats had models
        of their own carry every format's parameters, null where they did not apply.
        """
        if not isinstance(data, Mapping):
            return data
        foreign = {key for key in data if key in _PARAMETER_FORMATS and key not in cls.model_fields}
        for key in sorted(foreign):
            if data[key] is not None:
                fmt = data.get("format")
                raise ValueError(f"{key}: not a parameter of format {fmt!r} "
                                 f"(only of {', '.join(_PARAMETER_FORMATS[key])})")
        return {k: v for k, v in data.items() if k not in foreign}

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        self._check_format()
        roster = self.players()
        if len(roster) < 2:
            raise ValueError(f"participants: a tournament needs at least two players, got {len(roster)}")
        seen: set[str] = set()
        for player in roster:
            if player.name in seen:
                raise ValueError(f"participants: player name {player.name!r} appears twice")
            seen.add(player.name)
        limit = self.effective_move_limit
        if self.openings.plies >= limit:
            raise ValueError(f"openings.plies: {self.openings.plies} opening moves leave no game "
                             f"within move_limit {limit}")
        if self.openings.plies >= self.board_size ** 2:
            raise ValueError(f"openings.plies: {self.openings.plies} moves do not fit a "
                             f"{self.board_size}x{self.board_size} board")
        return self

    def _check_format(self) -> None:
        """The format's own rules (raise ValueError naming the field); none by default."""

    def players(self) -> list[ParticipantSpec]:
        """Every player of the tournament (a ladder adds its rungs to the participants)."""
        return list(self.participants)


# SPRT hypotheses in Elo: finite and within what arena.ratings.sprt computes without overflow or NaN.
SprtElo = Annotated[float, Field(ge=-MAX_ABS_ELO, le=MAX_ABS_ELO, allow_inf_nan=False)]
GamesPerPairing = Annotated[int, Field(ge=2, le=100_000)]  # even: colour-swapped pairs
BatchPairs = Annotated[int, Field(ge=1, le=100_000)]  # pairs scheduled per batch


def _check_even(field: str, value: int | None) -> None:
    if value is not None and value % 2:
        raise ValueError(f"{field}: must be even (colour-swapped pairs), got {value}")


def _check_candidates(candidates: list[str], participants: list[ParticipantSpec]) -> None:
    names = {p.name for p in participants}
    if not candidates:
        raise ValueError("candidates: name at least one participant as candidate")
    for i, name in enumerate(candidates):
        if name not in names:
            raise ValueError(f"candidates[{i}]: {name!r} is not a participant")
    if len(set(candidates)) != len(candidates):
        raise ValueError("candidates: a name appears twice")


class RoundRobinConfig(_TournamentBase):
    """Every pair of players meets `games_per_pairing` times."""

    format: Literal["round-robin"] = "round-robin"
    games_per_pairing: GamesPerPairing = 2

    def _check_format(self) -> None:
        _check_even("games_per_pairing", self.games_per_pairing)


class GauntletConfig(_TournamentBase):
    """Every candidate meets every participant that is not a candidate."""

    format: Literal["gauntlet"] = "gauntlet"
    candidates: list[str]  # names of participants that play every other player
    games_per_pairing: GamesPerPairing = 2

    def _check_format(self) -> None:
        _check_candidates(self.candidates, self.participants)
        if len(set(self.candidates)) == len(self.participants):
            raise ValueError("candidates: a gauntlet needs at least one participant that is not a candidate")
        _check_even("games_per_pairing", self.games_per_pairing)


class VisitsLadderConfig(_TournamentBase):
    """One checkpoint at several visit counts (players "<checkpoint>@<visits>v"), for Elo vs visits."""

    format: Literal["visits-ladder"] = "visits-ladder"
    # The checkpoint that climbs the ladder; short enough, and of the player name's characters,
    # that "<checkpoint>@<visits>v" is a player name.
    checkpoint: Annotated[str, Field(max_length=88, pattern=PLAYER_NAME_PATTERN)]
    visits: list[Visits]  # the rungs, at least two distinct counts
    games_per_pairing: GamesPerPairing = 2

    def _check_format(self) -> None:
        if len(set(self.visits)) < 2:
            raise ValueError("visits: a visits ladder needs at least two distinct visit counts")
        if len(set(self.visits)) != len(self.visits):
            raise ValueError("visits: a visit count appears twice")
        _check_even("games_per_pairing", self.games_per_pairing)

    def players(self) -> list[ParticipantSpec]:
        return expand_visits_ladder(self)


class AdaptiveConfig(_TournamentBase):
    """Batches of the pairs that shrink the widest intervals, until `target_ci` or `game_budget`."""

    format: Literal["adaptive"] = "adaptive"
    target_ci: Annotated[float, Field(gt=0.0, le=10_000.0)] | None = None  # stop when all 95% half-widths (Elo) <= this
    game_budget: Annotated[int, Field(ge=2, le=10_000_000)] | None = None  # stop scheduling at this many games (even)
    batch_pairs: BatchPairs = 8

    def _check_format(self) -> None:
        if self.target_ci is None and self.game_budget is None:
            raise ValueError("target_ci: adaptive needs a target half-width, a game_budget, or both")
        _check_even("game_budget", self.game_budget)


class SprtConfig(_TournamentBase):
    """One candidate against one baseline until Fishtest's GSPRT on pentanomial pair counts decides."""

    format: Literal["sprt"] = "sprt"
    candidates: list[str]  # exactly one: the candidate; the other participant is the baseline
    batch_pairs: BatchPairs = 8
    elo0: SprtElo = 0.0  # H0: the candidate is not better than this (Elo)
    elo1: SprtElo = 10.0  # H1: the candidate is at least this much better
    alpha: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.05  # false-accept rate
    beta: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.05  # false-reject rate
    max_games: Annotated[int, Field(ge=2, le=10_000_000)] = 2000  # stop undecided after this many

    def _check_format(self) -> None:
        if len(self.participants) != 2:
            raise ValueError(f"participants: sprt gates one candidate against one baseline, got "
                             f"{len(self.participants)} participants")
        _check_candidates(self.candidates, self.participants)
        if len(self.candidates) != 1:
            raise ValueError(f"candidates: sprt takes exactly one candidate, got {len(self.candidates)}")
        if not self.elo1 > self.elo0:
            raise ValueError(f"elo1: must be greater than elo0, got elo0={self.elo0}, elo1={self.elo1}")
        _check_even("max_games", self.max_games)

    @property
    def baseline(self) -> str:
        """The participant that is not the candidate."""
        return next(p.name for p in self.participants if p.name != self.candidates[0])


FORMAT_MODELS: dict[str, type[_TournamentBase]] = {
    "round-robin": RoundRobinConfig, "gauntlet": GauntletConfig, "visits-ladder": VisitsLadderConfig,
    "adaptive": AdaptiveConfig, "sprt": SprtConfig,
}

# Each format's own parameters and the formats that have them (for the error that names them).
_PARAMETER_FORMATS: dict[str, tuple[str, ...]] = {}
for _fmt, _model in FORMAT_MODELS.items():
    for _field in _model.model_fields.keys() - _TournamentBase.model_fields.keys():
        _PARAMETER_FORMATS[_field] = (*_PARAMETER_FORMATS.get(_field, ()), _fmt)


def _by_format(data: object, handler: ValidatorFunctionWrapHandler) -> object:
    """Validate with the model of `data["format"]` directly, so that errors name the field
    (`participants.0.visits`) rather than the union's branch first (`sprt.participants.0.visits`);
    a missing or unknown format is left to the union, whose error names `format`."""
    if isinstance(data, Mapping) and isinstance(data.get("format"), str) and data["format"] in FORMAT_MODELS:
        return FORMAT_MODELS[data["format"]].model_validate(data)
    return handler(data)


# A tournament as the user asks for it and as Tournament.configuration stores it: one model per
# format (see the module docstring). A type, not a class: build one with `parse_config`, or with
# the format's own model (`RoundRobinConfig(name=..., participants=...)`).
TournamentConfig = Annotated[
    RoundRobinConfig | GauntletConfig | VisitsLadderConfig | AdaptiveConfig | SprtConfig,
    # A Discriminator rather than Field(discriminator=...): FastAPI keeps it inside this type
    # (a Field's discriminator it applies outside the wrap validator, adding the branch to errors).
    Discriminator("format"),
    WrapValidator(_by_format),
]
_CONFIG_ADAPTER: TypeAdapter[TournamentConfig] = TypeAdapter(TournamentConfig)


def parse_config(data: object) -> TournamentConfig:
    """The configuration `data` describes (a mapping, e.g. JSON or a stored configuration);
    pydantic's ValidationError, naming the field, if it is not one."""
    return _CONFIG_ADAPTER.validate_python(data)


def ladder_name(checkpoint: str, visits: int) -> str:
    """The player name of one rung, e.g. "s002000@64v"."""
    return f"{checkpoint}@{visits}v"


def expand_visits_ladder(config: VisitsLadderConfig) -> list[ParticipantSpec]:
    """A ladder's players: one checkpoint player per visit count (ascending), then the participants.

    The service registers these as players; the rungs are ordered by visits so that the
    ladder's pairing (adjacent rungs, see formats) follows strength.
    """
    if not isinstance(config, VisitsLadderConfig):
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
