"""Who may call the gRPC API, and how many streams they may hold: the HTTP API's rules.

    authorize = bearer_tokens(engine, public_reads=settings.api_public_reads)
    token_id = authorize(metadata, "submit")   # Unauthenticated / Forbidden to refuse

    streams = StreamLimiter(total=16, per_peer=4)
    release = streams.acquire("ipv4:127.0.0.1:50312")   # None: a limit is reached

Reads need a token of any scope only when public reads are off; writes need a `submit` token,
unless the server was started with its writes open (`arena grpc --open-writes`, which must be
asked for). Each open stream holds a server thread until it ends, so streams are bounded on the
whole server and per client address, below the server's thread count.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from arena.db.connection import session_scope
from arena.tokens import Scope, ScopeError, TokenError, require_scope, verify_token

__all__ = ["Authorize", "Forbidden", "Metadata", "StreamLimiter", "Unauthenticated", "allow_all", "bearer_tokens",
           "peer_address"]

Metadata = Sequence[tuple[str, str | bytes]]
# (the call's metadata, the scope it needs) -> the id of the token that made it (None: no token
# needed); raises Unauthenticated or Forbidden to refuse.
Authorize = Callable[[Metadata, Scope], int | None]


class Unauthenticated(Exception):
    """No live token where one is needed (UNAUTHENTICATED, with this message)."""


class Forbidden(Exception):
    """A live token without the scope needed (PERMISSION_DENIED, with this message naming it)."""


def allow_all(metadata: Metadata, scope: Scope) -> None:  # noqa: ARG001 -- the signature of Authorize
    """Every call is accepted (tests; a server behind its own authentication)."""


def bearer_tokens(engine: Any, *, public_reads: bool = True, open_writes: bool = False) -> Authorize:
    """Calls need `authorization: Bearer <token>` metadata naming a live token with the scope
    needed (`arena token create --scope ...`); reads only when not `public_reads`, writes only
    when not `open_writes`."""

    def authorize(metadata: Metadata, scope: Scope) -> int | None:
        if (public_reads if scope == "read" else open_writes):
            return None
        value = next((value for key, value in metadata if key.lower() == "authorization"), "")
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if not text.startswith("Bearer "):
            raise Unauthenticated("authorization: this call needs `Bearer <token>` metadata (arena token create)")
        try:
            with session_scope(engine) as session:
                token = verify_token(session, text.removeprefix("Bearer ").strip())
                require_scope(token, scope, action="this call")
                return token.id
        except TokenError as exc:
            raise Unauthenticated(f"authorization: {exc}") from None
        except ScopeError as exc:
            raise Forbidden(f"authorization: {exc}") from None

    return authorize


def peer_address(peer: str) -> str:
    """The client's address without its port (`ipv4:10.0.0.5:50312` -> `ipv4:10.0.0.5`): one
    client opens a connection, and a port, per channel."""
    address, sep, port = peer.rpartition(":")
    return address if sep and port.isdigit() and address not in ("ipv4", "ipv6") else peer


class StreamLimiter:
    """Counts open streams, on the whole server and per client address (see the module doc)."""

    def __init__(self, *, total: int, per_peer: int) -> None:
        self.total, self.per_peer = total, per_peer
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}

    def acquire(self, peer: str) -> Callable[[], None] | None:
        """A slot for a stream from `peer` (a gRPC peer string): the function that frees it
        (calling it again does nothing), or None when a bound is reached."""
        address = peer_address(peer)
        with self._lock:
            if sum(self._open.values()) >= self.total or self._open.get(address, 0) >= self.per_peer:
                return None
            self._open[address] = self._open.get(address, 0) + 1
        freed = threading.Event()

        def release() -> None:
            with self._lock:
                if freed.is_set():
                    return
                freed.set()
                left = self._open[address] - 1
                if left:
                    self._open[address] = left
                else:
                    del self._open[address]

        return release

    def refusal(self, peer: str) -> str:
        """Which bound `peer` ran into, naming its setting."""
        with self._lock:
            if self._open.get(peer_address(peer), 0) >= self.per_peer:
                return (f"too many open streams from this address (ARENA_GRPC_MAX_STREAMS_PER_PEER="
                        f"{self.per_peer}); close one first")
        return f"too many open streams on this server (ARENA_GRPC_MAX_STREAMS={self.total}); try again later"
