"""`/healthz`: the API answers and its database does (on the read path: no thread, one round trip)."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import literal, select

from ..deps import ReadsDep
from ..errors import DATABASE_DOWN
from ..reads import DatabaseUnavailable

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

_PING = select(literal(1))


@router.get("/healthz", summary="Liveness and database check")
async def healthz(reads: ReadsDep) -> JSONResponse:
    try:
        await reads.fetch(_PING, {})
    except DatabaseUnavailable as exc:
        log.warning("/healthz: %s", exc)  # names the database's address: for the operator only
        return JSONResponse({"status": "unavailable", "database": DATABASE_DOWN}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
