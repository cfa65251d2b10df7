"""Bearer tokens for the HTTP API's writes: created once, stored as their sha256, revocable.

    token = create_token(session, name="ci", expires_at=None)   # the only time it is seen
    verify_token(session, token)                                # the ApiToken, or TokenError
    revoke_token(session, "ci")
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db.models import ApiToken

__all__ = ["TokenError", "CreatedToken", "create_token", "revoke_token", "token_sha256", "verify_token"]

_PREFIX = "arena_"  # makes a leaked token recognisable (secret scanners, logs)


class TokenError(ValueError):
    """A token that is missing, unknown, expired or revoked, or a name already taken."""


@dataclass(frozen=True)
class CreatedToken:
    id: int
    name: str
    token: str  # shown once; the database keeps only its sha256
    expires_at: datetime | None


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, name: str, expires_at: datetime | None = None) -> CreatedToken:
    """A new random token named `name` (unique). Its plain text is returned once, never stored."""
    if not name.strip():
        raise TokenError("name: must not be empty")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise TokenError(f"a token named {name!r} already exists (revoke it, or choose another name)")
    token = _PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_sha256=token_sha256(token), expires_at=expires_at)
    session.add(row)
    session.flush()
    return CreatedToken(id=row.id, name=name, token=token, expires_at=expires_at)


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
