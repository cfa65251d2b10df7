"""What the API's routes are handed (FastAPI `Annotated` dependencies): settings, a database
session, the server's engines, a way to send games to the workers, and the access checks.

Writes need a bearer token (`arena token create`); reads need one only when
`Settings.api_public_reads` is false. A missing, unknown, expired or revoked token is a 401
whose message says which.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from arena.db.models import ApiToken
from arena.settings import Settings
from arena.tokens import TokenError, verify_token

__all__ = ["EnginesDep", "ReadAccess", "SendDep", "SessionDep", "SettingsDep", "WriteAccess", "unprocessable"]

_bearer = HTTPBearer(auto_error=False, description="A token from `arena token create`.")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; routes that write commit before answering, anything else rolls back."""
    with request.app.state.sessions() as session:
        try:
            yield session
        finally:
            session.rollback()


def get_engines(request: Request) -> dict[str, Any]:
    """The engines this server may run (names from server configuration only)."""
    return request.app.state.engines()


def get_send(request: Request) -> Callable[[dict], None]:
    """Sends one block payload to the workers (Celery)."""
    return request.app.state.send


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
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


def require_read(settings: SettingsDep, credentials: Credentials, session: SessionDep) -> ApiToken | None:
    if settings.api_public_reads:
        return None
    return require_token(credentials, session)


WriteAccess = Annotated[ApiToken, Depends(require_token)]
ReadAccess = Depends(require_read)  # a router-level dependency: `APIRouter(dependencies=[ReadAccess])`


def unprocessable(loc: tuple[str | int, ...], message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming the field at `loc`."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         detail=[{"loc": list(loc), "msg": message, "type": "value_error"}])
