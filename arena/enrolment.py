"""Automatic enrolment: every newly registered checkpoint plays a configured gauntlet.

A training pipeline registers each checkpoint as it is saved; with `ARENA_AUTO_GAUNTLET` naming a
template, the registration also creates the tournament `<checkpoint>-gauntlet`: the new checkpoint
(at `candidate_visits`) against the template's pool, under the template's settings. It is created
in the registration's transaction (inside a savepoint: a template that cannot be scheduled is
reported and leaves the registration intact); the scheduler (`arena scheduler`) sends its games.

The template is TOML (or JSON): `candidate_visits = 64` and a `[tournament]` table with the fields
of `arena.scheduling.TournamentConfig` except `name`, `format` and `candidates`, e.g.

    candidate_visits = 64
    [tournament]
    board_size = 9
    rules = "chinese"
    games_per_pairing = 20
    participants = [
      { name = "gnugo-l10", kind = "engine", ref = "gnugo" },
      { name = "run7-100k@64v", kind = "checkpoint", ref = "run7-100k", visits = 64 },
    ]
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session

from arena.context import ArenaContext
from arena.db.models import Checkpoint, Tournament
from arena.scheduling import TournamentConfig, ladder_name, parse_config
from arena.tournament_creation import create_in_transaction
from arena.tournaments import TournamentError


class EnrolmentError(ValueError):
    """A gauntlet template that cannot be read or used; the message names the file and field."""


class GauntletTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    candidate_visits: Annotated[int, Field(ge=1, le=1_000_000)]  # visits of the new checkpoint
    tournament: dict[str, Any]  # TournamentConfig fields but name, format and candidates: the pool and settings

    @field_validator("tournament")
    @classmethod
    def _no_identity(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in ("name", "format", "candidates"):
            if key in value:
                raise ValueError(f"{key}: set by the enrolment, not by the template")
        return value


def load_template(path: str | Path) -> GauntletTemplate:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        return GauntletTemplate.model_validate(data)
    except (OSError, ValueError) as exc:  # tomllib, json and pydantic errors are ValueErrors
        if isinstance(exc, ValidationError):
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise EnrolmentError(f"{path}: {detail}") from None
        raise EnrolmentError(f"{path}: {exc}") from None


def gauntlet_config(checkpoint: Checkpoint, template: GauntletTemplate) -> TournamentConfig:
    """The gauntlet of `checkpoint` against the template's pool."""
    candidate = ladder_name(checkpoint.name, template.candidate_visits)
    pool = list(template.tournament.get("participants", []))
    data = {**template.tournament, "name": f"{checkpoint.name}-gauntlet", "format": "gauntlet",
            "candidates": [candidate],
            "participants": [{"name": candidate, "kind": "checkpoint", "ref": checkpoint.sha256,
                              "visits": template.candidate_visits}, *pool]}
    try:
        return parse_config(data)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise EnrolmentError(f"gauntlet template: {detail}") from None


def enrol(session: Session, checkpoint: Checkpoint, template: GauntletTemplate, context: ArenaContext) -> Tournament:
    """Create the gauntlet tournament of `checkpoint` (in a savepoint of the caller's transaction),
    as every face creates one (arena.tournament_creation: the context's engines, limits and
    evaluator factory, so policy openings work here too); the scheduler sends its games.

    Raises EnrolmentError (nothing of the tournament kept) if the template cannot be scheduled.
    """
    config = gauntlet_config(checkpoint, template)
    try:
        with session.begin_nested():
            return create_in_transaction(session, config, context)
    except TournamentError as exc:
        raise EnrolmentError(f"gauntlet {config.name}: {exc}") from None
