"""What a client is told when something fails on the server: never the internals.

- An unexpected exception is a 500 with an opaque error id; the log has the id and the traceback
  (`ErrorGuard`, a pure ASGI middleware, outermost of the app's own).
- A database that does not answer (`DatabaseUnavailable` on the read path, SQLAlchemy's
  `OperationalError` on sessions) is a 503 with Retry-After: the reason, which names the
  database's host and port, goes to the log.
- An API started without a usable database address answers every request 503 saying so
  (`unavailable_app`), instead of failing to start with a traceback.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from .reads import DatabaseUnavailable

__all__ = ["DATABASE_DOWN", "ErrorGuard", "add_database_handlers", "unavailable_app"]

log = logging.getLogger(__name__)

DATABASE_DOWN = "the database did not answer; try again shortly"


class ErrorGuard:
    """A 500 `{"detail": ..., "error_id": ...}` for any exception that reached it before a response
    began; the traceback is logged under the same id, which a client can quote to the operator."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def noting_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        except Exception:
            error_id = uuid.uuid4().hex[:16]
            log.exception("error %s answering %s %s", error_id, scope.get("method"), scope.get("path"))
            if started:
                raise  # half a response went out: only the server can end it
            response = JSONResponse({"detail": f"internal error {error_id} (the server's log has the details)",
                                     "error_id": error_id}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)
            await response(scope, receive, send)


def _unavailable(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": "1"})


def add_database_handlers(app: FastAPI) -> None:
    """503 for a database that does not answer, the reason logged."""

    @app.exception_handler(DatabaseUnavailable)
    async def read_unavailable(request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return _unavailable(DATABASE_DOWN)

    @app.exception_handler(OperationalError)
    async def session_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("%s %s: database error: %s", request.method, request.url.path, exc)
        return _unavailable(DATABASE_DOWN)


def unavailable_app(reason: Any, **app_options: Any) -> FastAPI:
    """An app that answers every request 503: the API has no usable database address. `reason`
    (which may quote the address and its credentials) is logged, never sent."""
    log.error("the API has no usable database address (ARENA_DATABASE_URL): %s", reason)
    app = FastAPI(**app_options)

    @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                   include_in_schema=False)
    async def unavailable(path: str) -> JSONResponse:  # noqa: ARG001 -- every path answers the same
        return _unavailable("the API has no usable database address (ARENA_DATABASE_URL); "
                            "the server's log says why")

    return app
