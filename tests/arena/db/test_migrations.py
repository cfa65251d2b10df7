"""Alembic migrations create the whole schema; upgrading again changes nothing; `arena db upgrade`."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from arena.cli import app
from arena.db import migrate
from arena.db.models import Base


def test_upgrade_creates_every_table_and_is_a_noop_the_second_time(db_url, engine):
    # db_url is already migrated by the fixture.
    tables = set(sa.inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert migrate.current_revision(db_url) == migrate.head_revision()
    assert migrate.upgrade(db_url) == migrate.head_revision()
    assert set(sa.inspect(engine).get_table_names()) == tables


def test_migrated_schema_matches_the_models(db_url):
    # Autogenerate's diff between the models and the migrated database must be empty.
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    eng = sa.create_engine(db_url)
    try:
        with eng.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    finally:
        eng.dispose()
    assert diff == []


def test_cli_db_upgrade(db_url):
    result = CliRunner().invoke(app, ["db", "upgrade", "--url", db_url])
    assert result.exit_code == 0, result.output
    assert f"revision {migrate.head_revision()} (unchanged)" in result.output
