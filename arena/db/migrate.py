"""Schema migrations: Alembic configured programmatically, its scripts bundled in the package.

No repository-root `alembic.ini`: an installed arena migrates its database with `arena db upgrade`.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from .connection import make_engine, normalize_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x6172656E61_6462  # "arenadb": the advisory lock one upgrade at a time holds


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
    engine = make_engine(url)  # the network timeouts: a silent server fails the command, not hangs it
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> str | None:
    """Migrate the database at `url` to `revision` (a no-op when already there); the new revision.

    All steps run in one transaction (PostgreSQL DDL is transactional): a failed migration
    leaves the schema as it was. Upgrades of one database run one at a time (MIGRATION_LOCK).
    """
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            # Every container or pod that starts may run this (an init container per API
            # replica): two at once on the same database failed the second on the tables the
            # first had just created. The second now waits here, then finds the schema at head.
            conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
            config = alembic_config(url)
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        engine.dispose()
    return current_revision(url)
