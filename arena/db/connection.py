"""Where the database is and how to talk to it: URL resolution, SQLAlchemy engines (database
connections, not the GTP engines of search_workers.engines), transactional sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from arena.settings import Settings, get_settings

from . import embedded


# libpq connection settings that bound how long an unreachable or silently dead server (a host
# that crashed, a network partition: no reset ever arrives) can block a process. Without them a
# connection attempt waits out TCP's retries and a query in flight waits for the kernel's
# keepalive, two hours by default, holding a worker's heartbeat or the scheduler's pass. A URL
# that sets one of them (`?connect_timeout=30`) keeps its own value.
#
# And the other way round, how long one of our processes that stops in the middle of a
# transaction (stopped, paused, its host gone: the server's keepalive takes two hours to notice)
# can hold its locks: the server ends a session idle inside a transaction for a minute. A worker
# storing a game locks its tournament's row; frozen there, it held every other worker's store and
# the scheduler's whole pass (`advance` locks the row too) until it woke. No transaction of ours
# waits on its client that long between statements; a leaderboard fit, the longest, is shared
# through one and falls back to fitting alone when the session is ended (arena.leaderboards.shared).
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000
NETWORK_TIMEOUTS = {
    "connect_timeout": "10",  # seconds for the whole connection start-up, TCP to authentication
    "keepalives": "1",
    "keepalives_idle": "30",  # seconds idle before the first probe ...
    "keepalives_interval": "10",  # ... then one every 10 s; 3 unanswered: the connection is dead
    "keepalives_count": "3",
    "tcp_user_timeout": "60000",  # ms data sent may stay unacknowledged: a query to a dead host
    # Server settings for the session (a URL's own `options` replaces them):
    "options": f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}",
}


def network_timeouts(url: str) -> dict[str, str]:
    """NETWORK_TIMEOUTS less those `url`'s query string sets (libpq ignores them on Unix sockets)."""
    given = make_url(url).query
    return {key: value for key, value in NETWORK_TIMEOUTS.items() if key not in given}


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


def make_engine(url: str | None = None, *, lock_timeout_ms: int | None = None, **kwargs) -> Engine:
    """An engine for `url` (default: `database_url()`); `pool_pre_ping` survives server restarts,
    NETWORK_TIMEOUTS a server that vanished without a word. `lock_timeout_ms`: a statement waiting
    longer than this for a lock another session holds fails (LockNotAvailable, not an outage)."""
    url = normalize_url(url) if url else database_url()
    connect_args = {**network_timeouts(url), **kwargs.pop("connect_args", {})}
    if lock_timeout_ms is not None:  # added to the session settings, the URL's own or ours
        given = connect_args.get("options") or make_url(url).query.get("options", "")
        connect_args["options"] = f"{given} -c lock_timeout={int(lock_timeout_ms)}".strip()
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: returned objects stay readable after the transaction ends.
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine_or_factory: Engine | sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commits if the block succeeds, rolls everything back if it raises."""
    factory = engine_or_factory if isinstance(engine_or_factory, sessionmaker) else session_factory(engine_or_factory)
    with factory() as session, session.begin():
        yield session
