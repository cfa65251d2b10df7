"""The HTTP API's application factory.

    app = create_app(settings)                        # every router in ROUTERS
    app = create_app(settings, extra_routers=[r])     # e.g. the metrics router, mounted at /metrics

The routers are a list so that other parts (metrics, the dashboard) mount theirs the same way.
The database engine (sessions for writes and rare reads), the asynchronous read pool (the hot
GET endpoints, `arena.api.reads`) and the arena's context (`arena.context.ArenaContext`: engines,
the Celery sender, the evaluator factory, the checkpoint store) are made once per app and kept on
`app.state`. Around the routes: `arena.api.guard.InputGuard` (unstorable strings, body size) and
`arena.api.errors` (no internals in any error); /metrics needs read access like any GET.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import ArgumentError

from arena import __version__
from arena.context import ArenaContext
from arena.db.embedded import EmbeddedPostgresError
from arena.db.connection import database_url, make_engine, session_factory
from arena.db.lookup import LookupFailedError
from arena.metrics import instrument_app
from arena.reference_ladder import ReferenceLadderError
from arena.settings import Settings, get_settings

from .deps import check_read
from .errors import ErrorGuard, add_database_handlers, unavailable_app
from .guard import InputGuard
from .lean import dispatch_first
from .names import NameBook
from .reads import ReadPool
from .routers import checkpoints, engines, export, games, health, ratings, stats, tournaments, web, workers

__all__ = ["ROUTERS", "create_app", "serving_app"]

# Every resource's router, in the order /docs lists them.
TITLE = "Go Arena"
ROUTERS: list[APIRouter] = [checkpoints.router, engines.router, tournaments.router, export.router, ratings.router,
                            games.router, stats.router, workers.router, health.router, web.router]


def create_app(settings: Settings | None = None, *, extra_routers: Sequence[APIRouter] = (),
               send: Callable[[dict], None] | None = None, context: ArenaContext | None = None) -> FastAPI:
    """The API for `settings` (default: this process's, or the context's). `extra_routers` are
    included after ROUTERS; `send` replaces the Celery producer (tests); `context`: the arena's
    wiring (default: made from `settings`)."""
    settings = context.settings if context is not None else settings or get_settings()
    try:
        context = context or ArenaContext.from_settings(settings, send=send)
        url = database_url(settings)
        engine = make_engine(url)
        reads = ReadPool(url, max_size=settings.api_read_connections)
    except ReferenceLadderError:
        raise  # a bad ARENA_REFERENCE_LADDER stops the start: it is no database address problem
    except (ArgumentError, ValueError, ImportError, EmbeddedPostgresError, OSError) as exc:
        return unavailable_app(exc, title=TITLE, version=__version__)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Iterator[None]:
        await reads.open()
        try:
            yield
        finally:
            await reads.close()
            engine.dispose()

    app = FastAPI(title=TITLE, version=__version__, lifespan=lifespan,
                  description="Rates Go-playing network checkpoints: register checkpoints, schedule "
                              "tournaments, read Elo with 95% intervals, browse games. Writes need a "
                              "bearer token (`arena token create`).")
    app.state.settings = settings
    app.state.sessions = session_factory(engine)
    app.state.reads = reads
    app.state.names = NameBook(reads)
    app.state.context = context
    ratings.attach_state(app.state, settings, context.leaderboards)
    for router in [*ROUTERS, *extra_routers]:
        app.include_router(router)
    dispatch_first(app, [*ROUTERS, *extra_routers])  # the hot GETs, before FastAPI's routing (arena.api.lean)
    # Inside the metrics middleware, so that refusals are counted too.
    app.add_middleware(InputGuard, max_body_bytes=settings.api_max_json_bytes, routes=app.router.routes,
                       upload_paths=frozenset({checkpoints.router.prefix}))  # POST /checkpoints streams its own
    # Request counts and latency by route, GET /metrics (read access as any GET), pending games
    # and Elo from the database.
    instrument_app(app, sessions=app.state.sessions, check=check_read, leaderboards=context.leaderboards)
    app.add_middleware(ErrorGuard)  # outermost of ours: whatever fails inside is an opaque 500

    @app.exception_handler(LookupFailedError)
    async def not_found(_: Request, exc: LookupFailedError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)

    add_database_handlers(app)
    return app


# Container objects allocated (net of those freed) between two young collections; Python's
# default is 700.
GC_YOUNG_THRESHOLD = 20_000


def serving_app() -> FastAPI:
    """The app as `arena api` serves it (uvicorn's factory, in each server process): this
    process's settings, and the garbage collector tuned for a server.

    - Every object alive after start-up is frozen out of the cyclic collector. The API imports
      torch (checkpoint validation) and more: about 300,000 objects, which a full collection
      walks in 50-150 ms, stalling every request in flight. Frozen, a collection walks only what
      came after.
    - Young collections start after GC_YOUNG_THRESHOLD net allocations instead of 700. Requests'
      objects are freed by reference counting; with 50 requests in flight, 700 is reached by
      the requests' live objects alone, about 50 times a second (measured at 1,000 requests a
      second: 1,400 young collections in 30 s, 0.5 s of the loop's time, and a full collection
      every 2-3 s as in-flight objects were promoted). At 20,000 it was 2 collections in 30 s;
      cyclic garbage still gets collected, a little later."""
    app = create_app()
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
    return app
