"""One database transaction for a CLI command, and errors a person can act on.

The database is `ARENA_DATABASE_URL`, else the embedded server, started for the command and
released after it (it keeps running while another process holds it). A `CliError` ends the
command with its message on stderr and exit status 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from arena.context import ArenaContext

# The ClickException class typer catches and prints as an error panel (exit status 1): click's
# own, or the copy newer typers vendor; typer.BadParameter derives from it either way.
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class CliError(_ClickException):
    """A failure a command reports as its message (no traceback), exit status 1."""


class DatabaseUnavailableError(CliError):
    """The database cannot be reached, or has no arena schema yet."""


@contextmanager
def cli_session() -> Iterator[Session]:
    """A session in one transaction (committed if the block succeeds) on the configured database."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from arena.db import embedded
    from arena.db.connection import database_url, make_engine, session_scope
    from arena.settings import get_settings

    settings = get_settings()
    embedded_db = not settings.database_url
    engine = None
    try:
        try:
            engine = make_engine(database_url(settings))
        except embedded.EmbeddedPostgresError as err:
            raise DatabaseUnavailableError(str(err)) from None
        try:
            with session_scope(engine) as session:
                yield session
        except OperationalError as err:
            reason = " ".join(str(err.orig or err).split())  # psycopg's message spans lines
            raise DatabaseUnavailableError(f"cannot reach the database: {reason}") from None
        except ProgrammingError as err:
            if "does not exist" not in str(err.orig):
                raise
            raise DatabaseUnavailableError(f"the database has no arena schema yet ({str(err.orig).strip()}); "
                                           f"run `arena db upgrade`") from None
    finally:
        if engine is not None:
            engine.dispose()
        if embedded_db:
            embedded.stop(settings.data_dir)


_context: ArenaContext | None = None


def cli_context() -> ArenaContext:
    """The arena's context (arena.context) for this command: made once per settings object of
    this process (`get_settings()`; a new one, as tests make, gets a new context)."""
    global _context
    # Deferred: the context imports torch (the evaluator factory), which commands that never use
    # it (`--help`, `arena token list`) should not pay for.
    from arena.context import ArenaContext
    from arena.settings import get_settings

    settings = get_settings()
    if _context is None or _context.settings is not settings:
        _context = ArenaContext.from_settings(settings)
    return _context
