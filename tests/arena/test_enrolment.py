"""Automatic gauntlet enrolment of newly registered checkpoints (ARENA_AUTO_GAUNTLET), on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from arena.checkpoint_store import store_checkpoint
from arena.checkpoints import record_checkpoint
from arena.context import ArenaContext
from arena.db.connection import session_scope
from arena.db.models import Checkpoint, ScheduledGame, Tournament
from arena.settings import Settings
from models.demo import demo_manifests
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module

TEMPLATE = """
candidate_visits = 16
[tournament]
board_size = 9
rules = "chinese"
games_per_pairing = 4
openings = { source = "random", plies = 2, count = 4 }
participants = [ { name = "pool-s50@16v", kind = "checkpoint", ref = "demo-9x9-s000050", visits = 16 },
                 { name = "pool-s250@16v", kind = "checkpoint", ref = "demo-9x9-s000250", visits = 16 } ]
"""


def _register(engine, path: Path, settings: Settings):  # noqa: F811
    stored = store_checkpoint(path, root=settings.checkpoint_root())
    with session_scope(engine) as session:
        return record_checkpoint(session, stored, context=ArenaContext.from_settings(settings))


def test_a_new_checkpoint_is_enrolled_once_and_a_bad_template_keeps_the_registration(
        engine, db_url: str, tmp_path: Path) -> None:  # noqa: F811
    manifests = demo_manifests()
    plain = Settings(database_url=db_url, data_dir=tmp_path, engines_file=None)
    for path in manifests[:2]:  # the pool, registered before enrolment is configured
        assert _register(engine, path, plain).gauntlet_id is None
    template = tmp_path / "gauntlet.toml"
    template.write_text(TEMPLATE)
    enrolling = Settings(database_url=db_url, data_dir=tmp_path, engines_file=None, auto_gauntlet=template)

    registration = _register(engine, manifests[-1], enrolling)
    assert registration.created and registration.gauntlet_error is None
    with session_scope(engine) as session:
        tournament = session.get(Tournament, registration.gauntlet_id)
        assert (tournament.name, tournament.format, tournament.status) == (
            "demo-9x9-s002000-gauntlet", "gauntlet", "running")
        games = session.scalars(select(ScheduledGame).where(ScheduledGame.tournament_id == tournament.id)).all()
        names = {(g.black.name, g.white.name) for g in games}
    assert len(games) == 8  # the candidate against each of the two pool players, 4 games each
    assert all("demo-9x9-s002000@16v" in pair for pair in names)

    again = _register(engine, manifests[-1], enrolling)  # already registered: no second gauntlet
    assert not again.created and again.gauntlet_id is None

    template.write_text(TEMPLATE.replace('ref = "demo-9x9-s000250"', 'ref = "not-registered"'))
    refused = _register(engine, manifests[2], enrolling)
    assert refused.created and refused.gauntlet_id is None
    assert "not-registered" in refused.gauntlet_error
    with session_scope(engine) as session:
        assert session.scalar(select(Tournament).where(Tournament.name == f"{manifests[2].stem}-gauntlet")) is None
        assert session.scalar(select(Checkpoint.name).where(Checkpoint.sha256 == refused.stored.sha256)) == \
            manifests[2].stem  # the registration stands
