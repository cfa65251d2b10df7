"""`/checkpoints`: register (upload, or a path the server can read), list, get one with its ratings.

An upload is the manifest (`NAME.json`) and the weights file it names, as multipart fields
`manifest` and `weights`. It is written to a temporary folder, verified and stored by
`arena.checkpoint_store.store_checkpoint` (nothing unpickled) and recorded by
`arena.checkpoints.record_checkpoint`, the same path `arena checkpoint register` takes. A
refused checkpoint leaves nothing in the store or the database.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from arena.checkpoint_store import StoredCheckpoint, store_checkpoint
from arena.checkpoints import record_checkpoint
from arena.db import queries
from arena.db.models import Checkpoint
from models.checkpoint import CheckpointError

from ..deps import ReadAccess, SessionDep, SettingsDep, WriteAccess, unprocessable

router = APIRouter(prefix="/checkpoints", tags=["checkpoints"])

_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_CHUNK = 1 << 20


class RegisterPath(BaseModel):
    """Register a checkpoint the server can read (shared storage)."""

    path: str = Field(min_length=1, description="The manifest (NAME.json) or weights file, on the server.")
    name: str | None = Field(default=None, min_length=1, description="Register under this name; default: the "
                                                                      "manifest's.")


_UPLOAD_SCHEMA = {
    "requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["manifest", "weights"], "properties": {
            "manifest": {"type": "string", "format": "binary", "description": "NAME.json"},
            "weights": {"type": "string", "format": "binary", "description": "the weights file it names"},
            "name": {"type": "string", "description": "register under this name"}}}},
        "application/json": {"schema": RegisterPath.model_json_schema()},
    }},
}


@dataclass(frozen=True)
class PlayerRating:
    name: str
    elo: float | None  # over every finished game; None: no rated game yet
    ci95: list[float] | None
    games: int


@dataclass(frozen=True)
class CheckpointDetail:
    checkpoint: queries.CheckpointSummary
    manifest: dict[str, Any]
    players: list[PlayerRating]


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"upload too large: the limit is {limit} bytes (ARENA_API_MAX_UPLOAD_BYTES)"},
                        status_code=status.HTTP_413_CONTENT_TOO_LARGE)


class _TooLarge(Exception):
    pass


async def _save(upload: UploadFile, target: Path, budget: list[int]) -> None:
    with target.open("wb") as out:
        while chunk := await upload.read(_CHUNK):
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise _TooLarge
            out.write(chunk)


async def _receive_upload(request: Request, folder: Path, limit: int) -> tuple[Path, str | None]:
    """The uploaded manifest, saved beside its weights in `folder`; and the requested name."""
    form = await request.form(max_files=2, max_fields=3)
    manifest, weights, name = form.get("manifest"), form.get("weights"), form.get("name")
    for field, value in (("manifest", manifest), ("weights", weights)):
        if not isinstance(value, UploadFile):
            raise unprocessable(("body", field), "a file is required")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise unprocessable(("body", "name"), "must be a non-empty string")
    budget = [limit]
    text = await manifest.read(limit + 1)
    budget[0] -= len(text)
    if budget[0] < 0:
        raise _TooLarge
    try:
        data = json.loads(text)
        weights_file = data["weights_file"]
    except (ValueError, KeyError, TypeError):
        raise unprocessable(("body", "manifest"), "not a checkpoint manifest (JSON with weights_file)") from None
    if not isinstance(weights_file, str) or not _FILE_NAME.fullmatch(weights_file) or weights_file.endswith(".json"):
        raise unprocessable(("body", "manifest", "weights_file"), "must be a plain file name")
    stem = data.get("name") if isinstance(data.get("name"), str) and _FILE_NAME.fullmatch(data["name"]) else "upload"
    manifest_path = folder / f"{stem}.json"
    if manifest_path.name == weights_file:
        manifest_path = folder / "manifest.json"
    manifest_path.write_bytes(text)
    await _save(weights, folder / weights_file, budget)
    return manifest_path, name


def _registered(session, stored: StoredCheckpoint, name: str | None, settings) -> JSONResponse:
    # Sync (run in a thread by the callers): with Triton configured, export and load take seconds.
    try:
        registration = record_checkpoint(session, stored, name=name, settings=settings)
    except ValueError as exc:
        raise unprocessable(("body", "name"), str(exc)) from None
    session.commit()
    summary = queries.checkpoint_summary(session, registration.checkpoint.id)
    body = {"checkpoint": summary, "created": registration.created, "dropped_parent": registration.dropped_parent,
            # null: Triton not configured; else its models, and an error that did not undo the registration
            "triton": registration.triton.as_json() if registration.triton is not None else None,
            # ARENA_AUTO_GAUNTLET: the tournament a new checkpoint was enrolled in, or why not
            "gauntlet": {"tournament_id": registration.gauntlet_id, "error": registration.gauntlet_error}}
    return JSONResponse(jsonable_encoder(body),
                        status_code=status.HTTP_201_CREATED if registration.created else status.HTTP_200_OK)


@router.post("", summary="Register a checkpoint (upload, or a path on the server)", openapi_extra=_UPLOAD_SCHEMA,
             status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "already registered (same weights)"},
                        413: {"description": "upload over ARENA_API_MAX_UPLOAD_BYTES"},
                        422: {"description": "refused: the message names the field or the check"}})
async def register_checkpoint(request: Request, session: SessionDep, settings: SettingsDep,
                              _: WriteAccess) -> JSONResponse:
    limit = settings.api_max_upload_bytes
    content_type = request.headers.get("content-type", "")
    root = settings.checkpoint_root()
    if content_type.startswith("application/json"):
        try:
            body = RegisterPath.model_validate_json(await request.body())
        except ValidationError as exc:
            raise unprocessable(("body", *exc.errors()[0]["loc"]), exc.errors()[0]["msg"]) from None
        try:
            stored = store_checkpoint(body.path, root=root)
        except (CheckpointError, OSError) as exc:
            raise unprocessable(("body", "path"), f"checkpoint refused, nothing stored or registered: {exc}") from None
        return await run_in_threadpool(_registered, session, stored, body.name, settings)
    if not content_type.startswith("multipart/form-data"):
        raise unprocessable(("body",), "send multipart/form-data (manifest, weights) or application/json "
                                       "({\"path\": ...})")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + 64 * 1024:
        return _too_large(limit)  # before reading a byte; multipart framing gets 64 KiB of slack
    with tempfile.TemporaryDirectory(prefix="arena-upload-") as folder:
        try:
            manifest_path, name = await _receive_upload(request, Path(folder), limit)
        except _TooLarge:
            return _too_large(limit)
        try:
            stored = store_checkpoint(manifest_path, root=root)
        except (CheckpointError, OSError) as exc:
            message = str(exc).replace(folder + "/", "")  # the temporary folder means nothing to a client
            raise unprocessable(("body", "weights"), f"checkpoint refused, nothing stored or registered: "
                                                     f"{message}") from None
    return await run_in_threadpool(_registered, session, stored, name, settings)


@router.get("", summary="Registered checkpoints, oldest first", dependencies=[ReadAccess])
def list_checkpoints(session: SessionDep, run: str | None = Query(default=None, description="Only this training "
                                                                                             "run's.")
                     ) -> list[queries.CheckpointSummary]:
    return queries.list_checkpoints(session, run=run)


@router.get("/{ref}", summary="One checkpoint (id, name, sha256 or prefix) with its players' ratings",
            dependencies=[ReadAccess], responses={404: {"description": "no such checkpoint"}})
def get_checkpoint(ref: str, session: SessionDep) -> CheckpointDetail:
    row = session.get(Checkpoint, int(ref)) if ref.isascii() and ref.isdigit() and len(ref) < 10 else None
    if row is None:
        row = queries.find_checkpoint(session, ref)
    players = queries.checkpoint_players(session, row.id)
    standings = {}
    if players:
        standings = {s.name: s for s in queries.leaderboard(session).standings}
    ratings = [PlayerRating(name=p, elo=standings[p].elo if p in standings else None,
                            ci95=[standings[p].lo, standings[p].hi] if p in standings else None,
                            games=standings[p].games if p in standings else 0) for p in players]
    return CheckpointDetail(checkpoint=queries.checkpoint_summary(session, row.id), manifest=dict(row.manifest),
                            players=ratings)
