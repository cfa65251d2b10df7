"""Input the API refuses before any route sees it (a pure ASGI middleware, `InputGuard`).

PostgreSQL's text cannot hold a NUL character, and a string that is not UTF-8 (or that holds a
lone surrogate, which `\\ud800` in JSON makes) cannot be encoded for it: sent to the database,
either failed the request with a 500 or reset the connection. Such strings are refused here with
a 422 naming the field, shaped like FastAPI's validation errors:

    GET /tournaments/%00      -> 422 {"detail": [{"loc": ["path", "ref"], "msg": "...NUL..."}]}
    GET /games?player=%ff     -> 422 loc ["query", "player"]
    POST /tournaments {"name": "a\\u0000"}  -> 422 loc ["body", "name"]

Request bodies are read here up to `max_body_bytes` as they arrive, chunked or not: beyond it, a
413 before the rest is read. The one exception is a multipart body sent to an upload route
(`upload_paths`: the checkpoint route, which bounds its own as it streams it to disk); a
multipart body sent anywhere else is bounded like any other (FastAPI would have buffered it whole
before the route's token check). A body the guard parses (one with a `\\u` escape or a NUL, which
is when JSON can hold an unstorable string) and finds nested deeper than MAX_JSON_DEPTH is a 422;
other deep bodies get FastAPI's own 4xx when it parses them.

The common case costs one `in` test per string: a path or query string without `%` is plain
ASCII that h11/httptools already checked.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.routing import BaseRoute, Match

from arena.db.storable import NUL_MESSAGE as _NUL_MESSAGE
from arena.db.storable import json_string_problem, string_problem  # shared with gRPC; re-exported
from models.manifest import json_too_deep

__all__ = ["InputGuard", "string_problem"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_UTF8_MESSAGE = "is not valid UTF-8"
MAX_JSON_DEPTH = 64  # arrays and objects within each other; no request of ours needs more than a few


def _bytes_problem(raw: bytes) -> str | None:
    """Why percent-decoded `raw` is not a storable string; None if it is."""
    if b"\x00" in raw:
        return _NUL_MESSAGE
    try:
        raw.decode("utf-8")  # strict: refuses encoded surrogates (ED A0 80) as well
    except UnicodeDecodeError:
        return _UTF8_MESSAGE
    return None


def _needs_decoding(raw: bytes) -> bool:
    return b"%" in raw or not raw.isascii() or b"\x00" in raw


class _Refused(Exception):
    def __init__(self, status: int, detail: Any):
        super().__init__(detail)
        self.status, self.detail = status, detail


def _invalid(loc: Sequence[str | int], message: str) -> _Refused:
    return _Refused(422, [{"loc": list(loc), "msg": message, "type": "string_type"}])


class InputGuard:
    """Refuses unstorable strings in the path, the query string and JSON bodies (422 naming the
    field), and bodies over `max_body_bytes` (413); see the module docstring.

    `routes` (the app's, read at each refusal) name the path parameter a bad path segment fills."""

    def __init__(self, app: Callable, *, max_body_bytes: int, routes: Sequence[BaseRoute] = (),
                 upload_paths: frozenset[str] = frozenset()):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.routes = routes
        self.upload_paths = upload_paths  # route paths (templates) that take a multipart upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_path(scope)
            self._check_query(scope["query_string"])
            if scope["method"] in _BODY_METHODS:
                multipart = _is_multipart(scope)
                if not (multipart and self._is_upload(scope)):
                    receive = await self._checked_body(scope, receive, json=not multipart)
        except _Refused as refused:
            await _send_json(send, refused.status, {"detail": refused.detail})
            return
        await self.app(scope, receive, send)

    # ------------------------------------------------------------------ path and query

    def _check_path(self, scope: Scope) -> None:
        raw = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogatepass")
        if not _needs_decoding(raw) or (problem := _bytes_problem(unquote_to_bytes(raw))) is None:
            return
        raise _invalid(["path", *self._path_parameter(scope)], problem)

    def _path_parameter(self, scope: Scope) -> list[str]:
        """The name of the path parameter that holds the bad text, when a route matches."""
        route, child = self._route(scope)
        for name, value in child.get("path_params", {}).items():
            # A decoder gives U+FFFD for bytes that are not UTF-8.
            if isinstance(value, str) and (string_problem(value) or "\ufffd" in value):
                return [name]
        return []

    def _is_upload(self, scope: Scope) -> bool:
        route, _ = self._route(scope)
        return getattr(route, "path", None) in self.upload_paths

    def _route(self, scope: Scope) -> tuple[BaseRoute | None, dict]:
        """The route that fully matches `scope` (path and method) and what it matched; (None, {})."""
        for route in _flat(self.routes):
            match, child = route.matches(scope)
            if match is Match.FULL:
                return route, child
        return None, {}

    @staticmethod
    def _check_query(query: bytes) -> None:
        if not query or not _needs_decoding(query):
            return
        for pair in query.split(b"&"):
            name, _, value = pair.partition(b"=")
            name, value = unquote_to_bytes(name.replace(b"+", b" ")), unquote_to_bytes(value.replace(b"+", b" "))
            if (problem := _bytes_problem(name)) is not None:
                raise _invalid(["query"], f"a parameter name {problem}")
            if (problem := _bytes_problem(value)) is not None:
                raise _invalid(["query", name.decode()], problem)

    # ------------------------------------------------------------------ body

    async def _checked_body(self, scope: Scope, receive: Receive, *, json: bool = True) -> Receive:
        """Read the whole body (at most max_body_bytes), check it (as JSON if `json`), and hand
        the app a `receive` that replays it."""
        limit = self.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: let the app see it
                return _replay(b"".join(chunks), message, receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if json:
            _check_json(body)
        return _replay(body, None, receive)


def _flat(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes themselves: FastAPI wraps an included router's routes (which carry their
    prefix) in one object that matches without naming the parameters."""
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from _flat(included.routes) if included is not None else (route,)


def _check_json(body: bytes) -> None:
    """422 for a body that is not UTF-8, or whose JSON holds an unstorable string (naming where)."""
    if not body:
        return
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(["body"], f"{_UTF8_MESSAGE} (at byte {exc.start})") from None
    if "\\u" not in text and "\x00" not in text:
        return  # JSON can hold NUL or a surrogate only escaped (a raw NUL is not JSON at all)
    try:
        document = json.loads(text)
    except RecursionError:
        raise _too_deep() from None
    except ValueError:
        return  # not JSON: the route's own parsing answers 422 saying so
    if json_too_deep(document, MAX_JSON_DEPTH) is not None:
        raise _too_deep()
    if (found := json_string_problem(document)) is not None:
        raise _invalid(["body", *found[0]], found[1])


def _too_deep() -> _Refused:
    return _invalid(["body"], f"JSON nested deeper than {MAX_JSON_DEPTH} levels")


def _too_large(limit: int) -> _Refused:
    return _Refused(413, f"request body: larger than {limit} bytes (ARENA_API_MAX_JSON_BYTES)")


def _replay(body: bytes, last: Message | None, receive: Receive) -> Receive:
    """A `receive` that gives the buffered body once (then `last`, if any), then the real one's messages."""
    pending = [{"type": "http.request", "body": body, "more_body": False}, *([last] if last else [])]

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


def _is_multipart(scope: Scope) -> bool:
    return (_header(scope, b"content-type") or "").lower().startswith("multipart/")


async def _send_json(send: Send, status: int, content: Any) -> None:
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
