"""JSON for the hot read endpoints: orjson, byte for byte what FastAPI's own encoding gives for
the same values (UTC times end in `Z`, as pydantic writes them), at a small fraction of the cost.
Endpoints that return `json_response(...)` keep their declared `response_model` for /docs."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response

__all__ = ["encode", "json_response"]

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_SERIALIZE_NUMPY


def encode(value: Any) -> bytes:
    """`value` (dicts, lists, dataclasses, datetimes, numpy scalars) as compact JSON."""
    return orjson.dumps(value, option=_OPTIONS)


def json_response(body: bytes | Any, status_code: int = 200) -> Response:
    """A JSON response of `body`: already encoded bytes, or a value to encode."""
    return Response(body if isinstance(body, bytes) else encode(body), status_code=status_code,
                    media_type="application/json")
