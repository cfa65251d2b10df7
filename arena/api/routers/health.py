"""`/healthz`: the API answers and its database does (on the read path: no thread, one round trip)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import literal, select

from ..deps import ReadsDep
from ..reads import DatabaseUnavailable

router = APIRouter(tags=["health"])

_PING = select(literal(1))


@router.get("/healthz", summary="Liveness and database check")
async def healthz(reads: ReadsDep) -> JSONResponse:
    try:
        await reads.fetch(_PING, {})
    except DatabaseUnavailable as exc:
        return JSONResponse({"status": "unavailable", "database": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
