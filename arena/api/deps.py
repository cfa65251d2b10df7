"""What the API's routes are handed (FastAPI `Annotated` dependencies): settings, a database
session, the asynchronous read pool, the arena's context (arena.context: the server's engines,
the sender of games to the workers, the evaluator factory, the checkpoint store), and the access
checks.

Writes need a bearer token (`arena token create`) with scope `submit` (WriteAccess) or `admin`
(AdminAccess); reads need a token of any scope, and only when `Settings.api_public_reads` is
false. A missing, unknown, expired or revoked token is a 401 whose message says which; a live
token without the scope needed is a 403 naming that scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from arena.context import ArenaContext
from arena.db.models import ApiToken
from arena.settings import Settings
from arena.tokens import Scope, ScopeError, TokenError, require_scope, verify_token

from .reads import ReadPool

__all__ = ["AdminAccess", "ContextDep", "EnginesDep", "ReadAccess", "ReadsDep", "SendDep", "SessionDep", "SettingsDep",
           "WriteAccess", "check_read", "forbidden", "in_session", "unprocessable", "with_session"]

T = TypeVar("T")

_bearer = HTTPBearer(auto_error=False, description="A token from `arena token create`.")


# Plain lookups are coroutines: FastAPI runs a `def` dependency in its thread pool, a hop that
# the asynchronous read path (arena.api.reads) exists to avoid.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_reads(request: Request) -> ReadPool:
    """The app's asynchronous read pool (arena.api.reads)."""
    return request.app.state.reads


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; routes that write commit before answering, anything else rolls back."""
    with request.app.state.sessions() as session:
        try:
            yield session
        finally:
            session.rollback()


async def get_context(request: Request) -> ArenaContext:
    """The arena's context, made once per app (arena.api.app)."""
    return request.app.state.context


async def get_engines(request: Request) -> dict[str, Any]:
    """The engines this server may run (names from server configuration only)."""
    return dict(request.app.state.context.engines)


async def get_send(request: Request) -> Callable[[dict], None]:
    """Sends one block payload to the workers (Celery)."""
    return request.app.state.context.send


SettingsDep = Annotated[Settings, Depends(get_settings)]
ReadsDep = Annotated[ReadPool, Depends(get_reads)]
SessionDep = Annotated[Session, Depends(get_session)]
ContextDep = Annotated[ArenaContext, Depends(get_context)]
EnginesDep = Annotated[dict[str, Any], Depends(get_engines)]
SendDep = Annotated[Callable[[dict], None], Depends(get_send)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": "Bearer"})


def require_token(credentials: Credentials, session: SessionDep) -> ApiToken:
    if credentials is None:
        raise _unauthorized("this request needs a bearer token (Authorization: Bearer TOKEN; "
                            "`arena token create --name NAME` makes one)")
    try:
        return verify_token(session, credentials.credentials)
    except TokenError as exc:
        raise _unauthorized(str(exc)) from None


def forbidden(exc: ScopeError) -> HTTPException:
    """The 403 for a live token without the scope needed (the message names it)."""
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc))


def _scoped(needed: Scope) -> Callable[..., ApiToken]:
    def require(credentials: Credentials, session: SessionDep) -> ApiToken:
        token = require_token(credentials, session)
        try:
            require_scope(token, needed)
        except ScopeError as exc:
            raise forbidden(exc) from None
        return token

    require.__name__ = f"require_{needed}"
    return require


async def require_read(request: Request, settings: SettingsDep, credentials: Credentials) -> ApiToken | None:
    """Nothing when reads are public (no session, no thread); else a live token, checked in a
    thread with a session of its own."""
    if settings.api_public_reads:
        return None
    return await _token_in_thread(request, credentials)


async def check_read(request: Request) -> None:
    """`require_read` for a lean route (arena.api.lean), which takes no dependencies."""
    if not request.app.state.settings.api_public_reads:
        await _token_in_thread(request, await _bearer(request))


async def _token_in_thread(request: Request, credentials: HTTPAuthorizationCredentials | None) -> ApiToken:
    return await in_session(request, lambda session: require_token(credentials, session))


def with_session(request: Request, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(session, *args, **kwargs)` on a session of its own, rolled back after (as
    `get_session`'s). Blocking: call it in a thread (`in_session`)."""
    with request.app.state.sessions() as session:
        try:
            return function(session, *args, **kwargs)
        finally:
            session.rollback()


async def in_session(request: Request, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`with_session` in a thread: how an asynchronous route does a rare synchronous read."""
    return await run_in_threadpool(with_session, request, function, *args, **kwargs)


WriteAccess = Annotated[ApiToken, Depends(_scoped("submit"))]  # register, create, cancel its own
AdminAccess = Annotated[ApiToken, Depends(_scoped("admin"))]  # cancel any, manage tokens
ReadAccess = Depends(require_read)  # a router-level dependency: `APIRouter(dependencies=[ReadAccess])`


def unprocessable(loc: tuple[str | int, ...], message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming the field at `loc`."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         detail=[{"loc": list(loc), "msg": message, "type": "value_error"}])
