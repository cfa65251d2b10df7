"""The client's errors: one class per gRPC status code the arena answers with, under `ArenaError`.

    try:
        client.register_checkpoint(path)
    except AlreadyExists as exc:        # the name is registered with other weights
        print(exc.field, exc.message)   # "name", "a checkpoint named 'run7-s100k' is already ..."

The server's details name the field first ("config_json.games_per_pairing: must be even"); `field`
is that prefix (None when the message names none), `message` the whole text as the server sent it.
"""

from __future__ import annotations

import re

import grpc

__all__ = ["AlreadyExists", "ArenaError", "DeadlineExceeded", "InvalidArgument", "NotFound", "PermissionDenied",
           "ResourceExhausted", "Unauthenticated", "Unavailable", "from_rpc_error"]

# "config_json.participants.0.visits: ..." or "candidates[0]: ..." -- a dotted name, then ": ".
_FIELD = re.compile(r"^([A-Za-z_][\w.\[\]]*): ")


class ArenaError(Exception):
    """A call the arena refused or could not answer; `code` is the gRPC status code's name."""

    code = "UNKNOWN"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    @property
    def field(self) -> str | None:
        """The request field the server's message names first, e.g. "config_json.name"."""
        match = _FIELD.match(self.message)
        return match.group(1) if match else None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class Unauthenticated(ArenaError):
    """No valid bearer token where the call needs one."""

    code = "UNAUTHENTICATED"


class PermissionDenied(ArenaError):
    """A valid token without the scope the call needs (e.g. a `read` token writing)."""

    code = "PERMISSION_DENIED"


class InvalidArgument(ArenaError):
    """A bad request field; `field` names it."""

    code = "INVALID_ARGUMENT"


class NotFound(ArenaError):
    """An unknown tournament, player, game or rating condition."""

    code = "NOT_FOUND"


class AlreadyExists(ArenaError):
    """A tournament name taken, or a checkpoint name registered with other weights."""

    code = "ALREADY_EXISTS"


class Unavailable(ArenaError):
    """The server cannot be reached, or could not do the work on its side; retrying may help."""

    code = "UNAVAILABLE"


class ResourceExhausted(ArenaError):
    """Too many open streams (on the server, or from this address); close one or retry later."""

    code = "RESOURCE_EXHAUSTED"


class DeadlineExceeded(ArenaError):
    """The call's timeout passed. From `wait_for_rating`, `last` is the last leaderboard received
    (an `arena.client.Leaderboard`; None when none arrived)."""

    code = "DEADLINE_EXCEEDED"

    def __init__(self, message: str, *, code: str | None = None, last: object | None = None) -> None:
        super().__init__(message, code=code)
        self.last = last


_BY_CODE: dict[grpc.StatusCode, type[ArenaError]] = {
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
}


def from_rpc_error(error: grpc.RpcError) -> ArenaError:
    """The typed error for a failed call: its class by status code (ArenaError for the others),
    carrying the server's details."""
    status = error.code() if callable(getattr(error, "code", None)) else grpc.StatusCode.UNKNOWN
    details = (error.details() if callable(getattr(error, "details", None)) else None) or str(error)
    return _BY_CODE.get(status, ArenaError)(details, code=status.name)
