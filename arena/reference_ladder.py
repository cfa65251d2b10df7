"""The reference ladder: engines at fixed strengths, played once per condition and kept, so that
every leaderboard of that condition can say "plays like gnugo at level 7.3 [6.1, 8.4]".

The operator names a ladder file in `ARENA_REFERENCE_LADDER` (TOML or JSON); its rungs are engines
of the server's engines file (`ARENA_ENGINES_FILE`), each at one strength, e.g.

    name = "gnugo"                # "plays like gnugo at level ..."
    parameter = "level"           # or "visits" (interpolated on log2 visits)
    reference_point = "gnugo-l1"  # Elo 0 of the relative scale; default: the lowest rung
    games_per_pairing = 10        # round robin between the rungs (even: colour-swapped pairs)
    conditions = [{ board_size = 9, rules = "chinese", komi = 7.5 }]
    [[rung]]
    engine = "gnugo-l1"
    value = 1
    [[rung]]
    engine = "gnugo-l2"
    value = 2

`play_reference_ladder` creates, for each condition without one, the round-robin tournament
`reference <name> <condition>` between the rungs (`arena reference play`); the scheduler plays it
like any other and its games stay. A rating pool is one condition, so only the ladder's games under
a leaderboard's condition place its rungs; the scale itself (`arena.ratings.reference`) is a
function of the fit, recomputed with every leaderboard.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db.models import Tournament
from arena.ratings.reference import Ladder, Rung
from arena.scheduling import TournamentConfig, parse_config
from arena.scheduling.conditions import condition_key
from arena.settings import Settings
from arena.tournaments import TournamentError, create_tournament

__all__ = ["LadderTournament", "ReferenceLadder", "ReferenceLadderError", "configured_ladder",
           "load_reference_ladder", "play_reference_ladder"]


class ReferenceLadderError(ValueError):
    """A ladder file that cannot be read or used; the message names the file and the field."""


_STRICT = ConfigDict(extra="forbid", frozen=True)


class RungSpec(BaseModel):
    model_config = _STRICT

    engine: Annotated[str, Field(min_length=1, max_length=200)]  # a name of the server's engines file
    value: Annotated[float, Field(gt=-1e6, lt=1e9)]  # its level, or its visits (> 0)
    player: Annotated[str | None, Field(min_length=1, max_length=100)] = None  # rating name; default: engine


class ConditionSpec(BaseModel):
    """One rating pool the ladder is played in (the GameSettings of arena.scheduling)."""

    model_config = _STRICT

    board_size: int = 9
    rules: str = "chinese"
    komi: float = 7.5
    move_limit: int | None = None


class LadderFile(BaseModel):
    model_config = _STRICT

    name: Annotated[str, Field(min_length=1, max_length=60)]
    parameter: Literal["level", "visits"]
    reference_point: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    games_per_pairing: Annotated[int, Field(ge=2, le=10_000)] = 10
    # GNU Go and KataGo at fixed settings are near-deterministic: random openings make the games differ.
    openings: dict[str, Any] = Field(default_factory=lambda: {"source": "random", "plies": 4, "count": 64})
    conditions: Annotated[list[ConditionSpec], Field(min_length=1, max_length=20)] = \
        Field(default_factory=lambda: [ConditionSpec()])
    rung: Annotated[list[RungSpec], Field(min_length=2, max_length=64)]

    @model_validator(mode="after")
    def _distinct(self) -> LadderFile:
        players = [r.player or r.engine for r in self.rung]
        if len(set(players)) != len(players):
            raise ValueError("rung: a player name appears twice")
        values = [r.value for r in self.rung]
        if len(set(values)) != len(values):
            raise ValueError("rung: two rungs have the same value")
        if self.parameter == "visits" and min(values) <= 0:
            raise ValueError("rung: visits must be positive")
        return self


@dataclass(frozen=True)
class ReferenceLadder:
    spec: LadderFile
    ladder: Ladder  # what the rating functions see

    def tournament_name(self, condition: str) -> str:
        return f"reference {self.spec.name} {condition}"

    def tournament_configs(self) -> list[tuple[str, TournamentConfig]]:
        """(condition key, the round robin between the rungs under it), per configured condition."""
        out = []
        participants = [{"name": r.player or r.engine, "kind": "engine", "ref": r.engine} for r in self.spec.rung]
        for cond in self.spec.conditions:
            key = condition_key(board_size=cond.board_size, rules=cond.rules, komi=cond.komi)
            data = {**cond.model_dump(exclude_none=True), "name": self.tournament_name(key), "format": "round-robin",
                    "games_per_pairing": self.spec.games_per_pairing, "openings": self.spec.openings,
                    "participants": participants}
            try:
                out.append((key, parse_config(data)))
            except ValidationError as exc:
                raise ReferenceLadderError(f"reference ladder, condition {key}: {_problems(exc)}") from None
        return out


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'ladder'}: {e['msg']}" for e in exc.errors())


def load_reference_ladder(path: str | Path, *, reference_point: str | None = None) -> ReferenceLadder:
    """The ladder of a TOML (or .json) file; `reference_point` (ARENA_REFERENCE_POINT) overrides the
    file's, and the lowest rung is the default."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        spec = LadderFile.model_validate(json.loads(text) if path.suffix == ".json" else tomllib.loads(text))
    except ValidationError as exc:
        raise ReferenceLadderError(f"{path}: {_problems(exc)}") from None
    except (OSError, ValueError) as exc:  # tomllib and json errors are ValueErrors
        raise ReferenceLadderError(f"{path}: {exc}") from None
    rungs = tuple(sorted((Rung(r.player or r.engine, r.value) for r in spec.rung), key=lambda r: r.value))
    point = reference_point or spec.reference_point or rungs[0].player
    ladder = Ladder(name=spec.name, parameter=spec.parameter, rungs=rungs, reference_point=point)
    loaded = ReferenceLadder(spec, ladder)
    loaded.tournament_configs()  # refused now, not at `arena reference play`: each condition's tournament
    return loaded


def configured_ladder(settings: Settings) -> ReferenceLadder | None:
    """The server's ladder (ARENA_REFERENCE_LADDER), or None when none is configured."""
    if settings.reference_ladder is None:
        return None
    return load_reference_ladder(settings.reference_ladder, reference_point=settings.reference_point)


@dataclass(frozen=True)
class LadderTournament:
    condition: str
    tournament_id: int
    name: str
    created: bool  # False: it already existed (played once, kept)


def play_reference_ladder(session: Session, ladder: ReferenceLadder, *,
                          engines: Mapping[str, Any]) -> list[LadderTournament]:
    """Create the ladder's tournament for every condition that has none yet; existing ones (and
    their games) are kept as they are. `engines`: the server's engine configuration. Raises
    `ReferenceLadderError` naming a rung the engines file lacks, or what else cannot be scheduled."""
    missing = sorted({r.engine for r in ladder.spec.rung} - set(engines))
    if missing:
        raise ReferenceLadderError(f"reference ladder: no engine named {', '.join(map(repr, missing))} is "
                                   f"configured (ARENA_ENGINES_FILE)")
    out = []
    for condition, config in ladder.tournament_configs():
        existing = session.scalar(select(Tournament.id).where(Tournament.name == config.name))
        if existing is not None:
            out.append(LadderTournament(condition, existing, config.name, False))
            continue
        try:
            tournament = create_tournament(session, config, engines=engines)
        except TournamentError as exc:
            raise ReferenceLadderError(f"reference ladder, condition {condition}: {exc}") from None
        out.append(LadderTournament(condition, tournament.id, config.name, True))
    return out
