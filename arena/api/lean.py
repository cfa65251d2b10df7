"""Lean routes: the hot GET endpoints (game pages, leaderboards) without FastAPI's per-request
dependency solving and routing.

FastAPI resolves an endpoint's parameters and dependencies on every request by walking their
type annotations again: for GET /games (eight query parameters, the read-access check, the
read pool) that was 0.3 ms of the 0.6 ms a page cost the API process, more than the database
query. A lean route takes only the `Request`; its query parameters are one pydantic model,
validated in one call by `parse_query` (the same 422 body, naming the field, as FastAPI's),
and documented in OpenAPI by `openapi_extra(model)` as FastAPI would list them; the
read-access rule of `arena.api.deps.require_read` is applied by `arena.api.deps.check_read`.

FastAPI's routing costs as much again: it tries each included router's routes in turn (twice
for the one that matches), and handles the request through its dependency and telemetry
layers even for an endpoint with none. `dispatch_first` puts a plain Starlette route for each
lean endpoint before all the app's routes: the same endpoint, the app's exception handlers, and
the FastAPI route beside it for /docs. A leaderboard from the cache then cost the API process
0.07-0.10 ms of CPU instead of 0.16-0.17 (0.22-0.28 before game pages were also named in the
process), a game page 0.53-0.56 ms instead of 0.74-0.81 (docs/benchmarks.md, "2026-12-07, day").

    @router.get("", response_model=Page, openapi_extra=openapi_extra(PageQuery))
    @lean
    async def page(request: Request) -> Response:
        await check_read(request)
        query = parse_query(PageQuery, request)

    dispatch_first(app, routers)   # after app.include_router(router) for each
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.routing import Match, Route
from starlette.types import Scope

__all__ = ["DispatchRoute", "dispatch_first", "lean", "openapi_extra", "parse_query"]

M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=Callable[..., Any])
_LEAN = "__arena_lean_route__"


def lean(endpoint: E) -> E:
    """Mark `endpoint` (one that takes only the Request) for `dispatch_first`; under @router.get."""
    setattr(endpoint, _LEAN, True)
    return endpoint


class DispatchRoute(Route):
    """A plain Starlette route for a lean GET endpoint. It names itself as the scope's route, as
    FastAPI's do, so that request metrics are labelled with its path template, and answers GET
    only, as its FastAPI route did (Starlette would add HEAD: a 200 and a database read for a
    body thrown away, and a 405's Allow header in set order)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *, name: str | None = None) -> None:
        super().__init__(path, endpoint, methods=["GET"], name=name)
        self.methods = {"GET"}

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self
        return match, child


def dispatch_first(app: FastAPI, routers: Iterable[APIRouter]) -> list[DispatchRoute]:
    """Put a `DispatchRoute` before `app`'s routes for every `lean` endpoint of `routers`
    (already included in `app`, whose FastAPI routes stay for OpenAPI); the routes put."""
    routes = []
    for router in routers:
        for route in router.routes:
            if not (isinstance(route, APIRoute) and getattr(route.endpoint, _LEAN, False)):
                continue
            # The dispatch route runs the endpoint alone: a dependency (the read-access check of a
            # router's `dependencies=[ReadAccess]`) would be skipped, so a lean route has none.
            if route.dependencies or route.methods != {"GET"}:
                raise ValueError(f"lean route {route.path}: GET only, without dependencies "
                                 f"(it checks access itself with check_read)")
            routes.append(DispatchRoute(route.path, route.endpoint, name=route.name))
    app.router.routes[0:0] = routes
    return routes


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
