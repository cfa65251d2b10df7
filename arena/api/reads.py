"""The API's asynchronous read path: the hot GET endpoints (game pages, cached leaderboards,
`/healthz`) answer from the event loop with one round trip to PostgreSQL (a game page a second
while the process learns player names, `arena.api.names`) and no thread hop.

A request through the synchronous path (FastAPI's thread pool, an ORM session, a pool
checkout with its ping, BEGIN ... ROLLBACK) costs about four round trips and a thread switch
under the GIL: about 1,000 requests a second for `SELECT 1` on two cores, against about
3,500 this way. The statements come from where the synchronous path's do:
`arena.db.game_queries` (`game_ids_statement`: `games_statement` without the names, see
`arena.api.names`) and `arena.leaderboards` (`leaderboard_key_statement`). They are compiled
once per shape for psycopg and run in autocommit on a psycopg `AsyncConnectionPool`, where the
server prepares them once per connection.

    reads = ReadPool(url)                   # on app.state; opened by the app's lifespan
    rows = await reads.fetch(statement, params)

A pool belongs to the event loop that opened it. Uvicorn serves from one loop; test clients that
start the app's lifespan on a loop of their own get their own pool, and a request on a loop with
no pool (a client that never ran the lifespan) gets a connection of its own. A connection found
broken (the server restarted) makes the pool check its idle connections and drop the dead ones,
and the read is tried once more: reads are idempotent, so a restart costs no request an error.
`DatabaseUnavailable` (a 503) when the second try fails too, or no connection is free within
`timeout_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import Compiled

from arena.db.connection import network_timeouts

__all__ = ["DatabaseUnavailable", "ReadPool", "compiled_sql"]

log = logging.getLogger(__name__)
_DIALECT = PGDialect_psycopg()


class DatabaseUnavailable(RuntimeError):
    """The database did not answer a read (the message says why); the API answers 503."""


@functools.lru_cache(maxsize=512)
def _compile(statement: ClauseElement) -> Compiled:
    # Statements come from lru-cached builders, so one shape is one object: identity is the key.
    return statement.compile(dialect=_DIALECT)


def compiled_sql(statement: ClauseElement, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """psycopg's SQL text of `statement` and the full parameter dict (`params` plus the values
    SQLAlchemy bound itself, such as literals in the statement)."""
    compiled = _compile(statement)
    return compiled.string, compiled.construct_params(dict(params))


def connect_kwargs(url: str) -> dict[str, Any]:
    """psycopg.connect keyword arguments for a SQLAlchemy PostgreSQL URL (host, port, a socket
    directory in the query string, ...), as SQLAlchemy's own dialect reads it."""
    _, kwargs = _DIALECT.create_connect_args(make_url(url))
    # Named so that an operator (and a test) can tell these connections apart in pg_stat_activity;
    # times read in UTC whatever the server's TimeZone, as the API writes them (`...Z`).
    options = f"{kwargs.pop('options', '')} -c TimeZone=UTC".strip()
    return {"application_name": "arena-api-reads", **network_timeouts(url), **kwargs, "options": options,
            "autocommit": True}


class ReadPool:
    """Autocommit connections for reads, one psycopg pool per event loop (see the module doc)."""

    def __init__(self, url: str, *, max_size: int = 8, timeout_s: float = 10.0) -> None:
        self._kwargs = connect_kwargs(url)
        self.max_size = max_size
        self.timeout_s = timeout_s
        self._pools: dict[asyncio.AbstractEventLoop, AsyncConnectionPool] = {}

    async def open(self) -> None:
        """Open this loop's pool (the lifespan's startup). Connections are made in the background:
        a database that is down now does not stop the API from starting. All `max_size` of them
        are kept open: a pool that grows under load connects one at a time (a new backend each,
        tens of ms on a busy host) while the requests of the first burst queue for the few
        connections it has."""
        loop = asyncio.get_running_loop()
        if loop not in self._pools:
            pool = AsyncConnectionPool("", kwargs=self._kwargs, min_size=self.max_size,
                                       max_size=self.max_size, timeout=self.timeout_s, open=False,
                                       name="arena-api-reads")
            await pool.open(wait=False)
            self._pools[loop] = pool

    async def close(self) -> None:
        """Close this loop's pool (the lifespan's shutdown)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        pool = self._pools.get(asyncio.get_running_loop())
        if pool is not None:
            async with pool.connection() as conn:
                yield conn
            return
        conn = await psycopg.AsyncConnection.connect(**{**self._kwargs, "connect_timeout": max(1, int(self.timeout_s))})
        try:
            yield conn
        finally:
            await conn.close()

    async def fetch(self, statement: ClauseElement, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of `statement` with `params`: one round trip. A broken connection (the
        server restarted) makes the pool check every idle one, dropping the dead, and the read is
        tried once more."""
        sql, values = compiled_sql(statement, params)
        for attempt in (1, 2):
            try:
                async with self.connection() as conn:
                    # Binary results: timestamps and numbers arrive as bytes to copy, not text to parse.
                    cursor = conn.cursor(binary=True)
                    await cursor.execute(sql, values)
                    return await cursor.fetchall()
            except PoolTimeout as exc:
                raise DatabaseUnavailable(f"no database connection free within {self.timeout_s:g} s") from exc
            except psycopg.OperationalError as exc:
                if attempt == 2:
                    reason = " ".join(str(exc).split()) or type(exc).__name__
                    raise DatabaseUnavailable(f"the database did not answer: {reason}") from exc
                log.info("read failed on a broken connection (%s); checking the pool", exc)
                pool = self._pools.get(asyncio.get_running_loop())
                if pool is not None:
                    await pool.check()
        raise AssertionError("unreachable")
