"""Lean routes: the hot GET endpoints (game pages, leaderboards) without FastAPI's per-request
dependency solving.

FastAPI resolves an endpoint's parameters and dependencies on every request by walking their
type annotations again: for GET /games (eight query parameters, the read-access check, the
read pool) that was 0.3 ms of the 0.6 ms a page cost the API process, more than the database
query. A lean route takes only the `Request`; its query parameters are one pydantic model,
validated in one call by `parse_query` (the same 422 body, naming the field, as FastAPI's),
and documented in OpenAPI by `openapi_extra(model)` as FastAPI would list them; the
read-access rule of `arena.api.deps.require_read` is applied by `arena.api.deps.check_read`.

    @router.get("", response_model=Page, openapi_extra=openapi_extra(PageQuery))
    async def page(request: Request) -> Response:
        await check_read(request)
        query = parse_query(PageQuery, request)
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

__all__ = ["openapi_extra", "parse_query"]

M = TypeVar("M", bound=BaseModel)


def parse_query(model: type[M], request: Request) -> M:
    """`request`'s query string as `model`; a 422 naming the field otherwise. A repeated
    parameter counts once (its last value), as FastAPI reads a single-valued one."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError([{**error, "loc": ("query", *error["loc"])}
                                      for error in exc.errors(include_url=False)]) from None


def openapi_extra(model: type[BaseModel], *, secured: bool = True) -> dict[str, Any]:
    """OpenAPI for a lean route: `model`'s fields as query parameters, and (`secured`) the bearer
    token that reads may need."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    parameters = []
    for name, field in schema["properties"].items():
        field = dict(field)
        description = field.pop("description", None)
        field.pop("title", None)
        parameter = {"name": name, "in": "query", "required": name in required, "schema": field}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    extra: dict[str, Any] = {"parameters": parameters}
    if secured:
        extra["security"] = [{"HTTPBearer": []}]
    return extra
