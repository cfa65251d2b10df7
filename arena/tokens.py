"""Bearer tokens for the APIs: created once, stored as their sha256, revocable, each with a scope.

    token = create_token(session, name="ci", scope="submit")    # the only time it is seen
    row = verify_token(session, token)                          # the ApiToken, or TokenError
    require_scope(row, "admin")                                 # ScopeError unless admin
    revoke_token(session, "ci")

Scopes are ordered, each allowing what the ones before it do: `read` (GET routes, the gRPC
reads), `submit` (register checkpoints, create tournaments, cancel its own) and `admin` (cancel
any tournament, manage tokens).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db.models import ApiToken

__all__ = ["SCOPES", "CreatedToken", "Scope", "ScopeError", "TokenError", "TokenInfo", "create_token", "has_scope",
           "list_tokens", "require_owner", "require_scope", "revoke_token", "token_sha256", "verify_token"]

_PREFIX = "arena_"  # makes a leaked token recognisable (secret scanners, logs)

Scope = Literal["read", "submit", "admin"]
SCOPES: tuple[Scope, ...] = get_args(Scope)  # in order: each allows what the ones before it do
DEFAULT_SCOPE: Scope = "submit"  # what every token could do before scopes (migration 0005)


class TokenError(ValueError):
    """A token that is missing, unknown, expired or revoked, or a name or scope refused."""


class ScopeError(PermissionError):
    """A live token whose scope does not allow the request (the message names the scope needed)."""


@dataclass(frozen=True)
class CreatedToken:
    id: int
    name: str
    token: str  # shown once; the database keeps only its sha256
    expires_at: datetime | None
    scope: Scope = DEFAULT_SCOPE


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: never the token itself (nor its hash)."""

    name: str
    scope: Scope
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, name: str, expires_at: datetime | None = None,
                 scope: Scope = DEFAULT_SCOPE) -> CreatedToken:
    """A new random token named `name` (unique) with `scope` (one of SCOPES). Its plain text is
    returned once, never stored."""
    if not name.strip():
        raise TokenError("name: must not be empty")
    if scope not in SCOPES:
        raise TokenError(f"scope: must be one of {', '.join(SCOPES)}, not {scope!r}")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise TokenError(f"a token named {name!r} already exists (revoke it, or choose another name)")
    token = _PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_sha256=token_sha256(token), expires_at=expires_at, scope=scope)
    session.add(row)
    session.flush()
    return CreatedToken(id=row.id, name=name, token=token, expires_at=expires_at, scope=scope)


def list_tokens(session: Session) -> list[TokenInfo]:
    """Every token, oldest first, without its secret."""
    rows = session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id))
    return [TokenInfo(name=row.name, scope=row.scope, created_at=row.created_at, expires_at=row.expires_at,
                      revoked_at=row.revoked_at) for row in rows]


def has_scope(token: ApiToken, needed: Scope) -> bool:
    """Whether `token`'s scope allows what `needed` does (scopes are ordered, see SCOPES)."""
    held = token.scope if token.scope in SCOPES else "read"  # an unknown scope allows the least
    return SCOPES.index(held) >= SCOPES.index(needed)


def require_scope(token: ApiToken, needed: Scope, *, action: str = "this request") -> None:
    """ScopeError naming the scope `needed` for `action` unless `token` has it."""
    if not has_scope(token, needed):
        raise ScopeError(f"{action} needs a token with scope {needed!r} (token {token.name!r} has "
                         f"{token.scope!r}; `arena token create --scope {needed}` makes one)")


def revoke_token(session: Session, name: str) -> None:
    """Revoke the token `name` at once; TokenError if there is none (revoking twice is a no-op)."""
    row = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if row is None:
        raise TokenError(f"no token named {name!r}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)


def verify_token(session: Session, token: str) -> ApiToken:
    """The live token whose sha256 matches `token`; TokenError saying why not otherwise."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_sha256(token)))
    if row is None:
        raise TokenError("invalid token")
    if row.revoked_at is not None:
        raise TokenError(f"token {row.name!r} was revoked")
    if row.expires_at is not None and row.expires_at <= datetime.now(UTC):
        raise TokenError(f"token {row.name!r} expired at {row.expires_at.isoformat()}")
    return row


def require_owner(token: ApiToken, owner_id: int | None, *, action: str) -> None:
    """ScopeError unless `token` created the row owned by `owner_id` (and may still submit) or is
    an admin: a submit token acts on its own rows only. Rows made by the CLI (owner None) are
    the admins'."""
    require_scope(token, "submit", action=action)
    if owner_id != token.id:
        require_scope(token, "admin", action=f"{action} (created by another token or the CLI)")
