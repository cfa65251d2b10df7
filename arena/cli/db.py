"""`arena db ...`: the arena's PostgreSQL database (schema migrations)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Database: migrate the schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    url: Annotated[str | None, typer.Option(help="Database URL; default: ARENA_DATABASE_URL, else the embedded server.")] = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Migrate the database to the newest schema (a no-op when it is already there)."""
    from arena.db import embedded, migrate
    from arena.db.connection import database_url
    from arena.settings import get_settings

    settings = get_settings()
    started = url is None and not settings.database_url
    try:
        target = url or database_url(settings)
        before = migrate.current_revision(target)
        after = migrate.upgrade(target, revision)
    finally:
        if started:
            # Started only for this command: stop it again (unless another process holds it).
            embedded.stop(settings.data_dir)
    typer.echo(f"database at revision {after}" + (" (unchanged)" if before == after else f" (was {before})"))
