"""A lean HTTP/1.1 load client: keep-alive connections on asyncio (uvloop when installed), one
request in flight per connection, GET only, bodies framed by Content-Length.

A load generator shares the machine with the server it measures, so its own cost is part of
every latency it reports: httpx spends several hundred microseconds of Python per request, which
at a thousand requests a second is most of a core taken from the server. This client parses
only the status line and Content-Length (tens of microseconds), like wrk, so that what
`arena bench api` reports is the server's latency.

    async with HttpLoadClient("127.0.0.1", 8000) as conn:
        status, body = await conn.get("/games", {"player": "x"})
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

__all__ = ["HttpLoadClient", "HttpLoadError", "run"]


class HttpLoadError(ConnectionError):
    """The connection failed or the server's answer could not be framed (the message says how)."""


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(HttpLoadError(f"the server closed the connection ({exc or 'EOF'})"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).split(b"\r\n")
        try:
            status = int(head[0].split(b" ", 2)[1])
            length = next(int(line.split(b":", 1)[1]) for line in head[1:]
                          if line[:15].lower() == b"content-length:")
        except (IndexError, ValueError, StopIteration):
            self.waiter.set_exception(HttpLoadError(f"unframed answer: {bytes(head[0])[:80]!r}"))
            return
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4:end + 4 + length])
        del self.buffer[:end + 4 + length]
        self.waiter.set_result((status, body))


class HttpLoadClient:
    """One keep-alive connection to `host:port`; `get` sends one request and reads its answer."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._protocol: _Protocol | None = None

    async def __aenter__(self) -> HttpLoadClient:
        _, self._protocol = await asyncio.get_running_loop().create_connection(_Protocol, self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()

    async def get(self, path: str, params: dict[str, object] | None = None) -> tuple[int, bytes]:
        """(status, body) of GET path?params."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            raise HttpLoadError("the connection is closed")
        target = f"{path}?{urlencode(params)}" if params else path
        protocol.waiter = asyncio.get_running_loop().create_future()
        protocol.transport.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode())
        try:
            return await protocol.waiter
        finally:
            protocol.waiter = None


def run(coroutine):
    """asyncio.run on uvloop when it is installed (as the server uses it), else the default loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)
