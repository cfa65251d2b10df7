"""Schema migrations: Alembic configured programmatically, its scripts bundled in the package.

No repository-root `alembic.ini`: an installed arena migrates its database with `arena db upgrade`.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from .connection import normalize_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic `Config` pointing at the bundled scripts (and at `url` if given)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        # '%' must be doubled: Config values go through ConfigParser interpolation.
        config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision the bundled scripts define."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migration scripts bundled"
    return head


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at (None: never migrated)."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> str | None:
    """Migrate the database at `url` to `revision` (a no-op when already there); the new revision.

    All steps run in one transaction (PostgreSQL DDL is transactional): a failed migration
    leaves the schema as it was.
    """
    engine = create_engine(normalize_url(url))
    try:
        with engine.begin() as conn:
            config = alembic_config(url)
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        engine.dispose()
    return current_revision(url)
