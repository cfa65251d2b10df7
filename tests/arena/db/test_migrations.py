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


def test_0005_keeps_every_checkpoint_when_names_become_unique(admin_url):
    # Checkpoints that shared a name before 0005 are all kept: the oldest keeps the name, the others
    # are renamed name~<sha256[:12]>; tokens made before scopes keep what they could do (submit).
    import uuid

    from sqlalchemy.engine import make_url

    name = f"arena_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    eng = sa.create_engine(url)
    try:
        migrate.upgrade(url, "0004")
        shas = [c * 64 for c in "abc"]
        with eng.begin() as conn:
            for i, sha in enumerate(shas):
                conn.execute(sa.text("INSERT INTO checkpoints (sha256, name, manifest, created_at) "
                                     "VALUES (:sha, 'net', '{}', now() + make_interval(secs => :i))"),
                             {"sha": sha, "i": i})
            conn.execute(sa.text("INSERT INTO api_tokens (name, token_sha256) VALUES ('old', :sha)"),
                         {"sha": "d" * 64})
        assert migrate.upgrade(url) == migrate.head_revision()
        with eng.connect() as conn:
            names = dict(conn.execute(sa.text("SELECT sha256, name FROM checkpoints")).all())
            scope = conn.execute(sa.text("SELECT scope FROM api_tokens WHERE name = 'old'")).scalar_one()
        assert names == {shas[0]: "net", shas[1]: f"net~{'b' * 12}", shas[2]: f"net~{'c' * 12}"}
        assert scope == "submit"
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
