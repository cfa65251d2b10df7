"""Where the database is and how to talk to it: URL resolution, SQLAlchemy engines (database
connections, not the GTP engines of search_workers.engines), transactional sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from arena.settings import Settings, get_settings

from . import embedded


def normalize_url(url: str) -> str:
    """Give a bare `postgresql://` (or `postgres://`) URL the psycopg 3 driver SQLAlchemy needs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def database_url(settings: Settings | None = None) -> str:
    """The configured database's URL, or the embedded server's (started if needed)."""
    settings = settings or get_settings()
    if settings.database_url:
        return normalize_url(settings.database_url)
    return embedded.start(settings.data_dir)


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """An engine for `url` (default: `database_url()`); `pool_pre_ping` survives server restarts."""
    return create_engine(normalize_url(url) if url else database_url(), pool_pre_ping=True, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: returned objects stay readable after the transaction ends.
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine_or_factory: Engine | sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commits if the block succeeds, rolls everything back if it raises."""
    factory = engine_or_factory if isinstance(engine_or_factory, sessionmaker) else session_factory(engine_or_factory)
    with factory() as session, session.begin():
        yield session
