"""`/checkpoints`: register (upload, or a path under ARENA_IMPORT_DIRS), list, get one with its ratings.

An upload is the manifest (`NAME.json`) and the weights file it names, as multipart fields
`manifest` and `weights`. It is received as it arrives (arena.api.uploads: counted, a 413 as
soon as it passes ARENA_API_MAX_UPLOAD_BYTES, the manifest part capped by
ARENA_API_MAX_MANIFEST_BYTES) into a temporary folder. A `{"path": ...}` registration names a
file under ARENA_IMPORT_DIRS; anything else gets one generic refusal (arena.import_roots).

Both then go through `arena.checkpoints.register_checkpoint_file` under `Admission.network`, in a
worker thread so the event loop keeps answering while the checkpoint is hashed, loaded and tried:
safetensors or state-dict weights of a server-known architecture within the configured limits
only (TorchScript/ONNX are 415: they run code when loaded, only an operator registers them with
the CLI). A refused checkpoint leaves nothing in the store or the database, and refusals name
files by their names only. The InputGuard does not read multipart bodies, so the manifest's
strings (keys too) and the `name` field get its storability check here, with a bound on nesting,
before anything is loaded or stored.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from arena.checkpoint_store import Admission
from arena.checkpoints import CheckpointNameTaken, register_checkpoint_file
from arena.db import checkpoint_queries, condition_queries
from arena.db.models import Checkpoint
from arena.db.storable import json_string_problem, string_problem
from arena.import_roots import NotImportableError
from models.checkpoint import CheckpointError, ExecutableFormatError
from models.manifest import MAX_JSON_DEPTH, json_too_deep

from ..deps import ContextDep, ReadAccess, SessionDep, SettingsDep, WriteAccess, unprocessable
from ..uploads import Field as UploadField
from ..uploads import FormError, UploadTooLarge, receive_form

log = logging.getLogger(__name__)
router = APIRouter(prefix="/checkpoints", tags=["checkpoints"])

_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_NAME_BYTES = 1024  # the `name` field: a checkpoint name is at most 200 characters


class RegisterPath(BaseModel):
    """Register a checkpoint from a folder the operator opened to imports (ARENA_IMPORT_DIRS)."""

    path: str = Field(min_length=1, description="The manifest (NAME.json) or weights file, on the server, under "
                                                "one of ARENA_IMPORT_DIRS.")
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
    condition: str | None  # the rating pool (board size, rules, komi); None: no rated game yet
    elo: float | None  # over the pool's finished games; None: no rated game yet
    ci95: list[float] | None
    games: int
    # The reference scale (ARENA_REFERENCE_LADDER) in this pool: Elo relative to the reference
    # point and equivalent strength on the ladder; None without a ladder or when the pool cannot place it.
    relative_elo: dict[str, Any] | None = None
    equivalent: dict[str, Any] | None = None
    # As the leaderboard's: "unbeaten", "winless", "disconnected"... when the fit's prior, not the
    # games, sets the number (an 8-0 record's upper end is invented); None: rated by the games.
    flag: str | None = None


@dataclass(frozen=True)
class CheckpointDetail:
    checkpoint: checkpoint_queries.CheckpointSummary
    manifest: dict[str, Any]
    players: list[PlayerRating]


def _too_large(message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status.HTTP_413_CONTENT_TOO_LARGE)


def _upload_fields(settings) -> dict[str, UploadField]:
    return {"manifest": UploadField(file=True, max_bytes=settings.api_max_manifest_bytes,
                                    setting="ARENA_API_MAX_MANIFEST_BYTES"),
            "weights": UploadField(file=True),
            "name": UploadField(file=False, max_bytes=_NAME_BYTES, setting="a checkpoint name's length")}


def _arrange_upload(folder: Path, parts: dict[str, Path | bytes]) -> tuple[Path, str | None]:
    """The received parts as a checkpoint on disk: NAME.json beside the weights file it names.
    Returns the manifest's path and the requested name (422 naming the field if malformed)."""
    for field in ("manifest", "weights"):
        if not isinstance(parts.get(field), Path):
            raise unprocessable(("body", field), "a file is required")
    name = parts.get("name")
    if name is not None:
        try:
            name = name.decode("utf-8")
        except UnicodeDecodeError:
            raise unprocessable(("body", "name"), "must be UTF-8 text") from None
        if not name.strip():
            raise unprocessable(("body", "name"), "must be a non-empty string")
        if (problem := string_problem(name)) is not None:
            raise unprocessable(("body", "name"), problem)
    try:
        data = json.loads(parts["manifest"].read_bytes())
        weights_file = data["weights_file"]
    except RecursionError:
        raise unprocessable(("body", "manifest"), f"nests arrays and objects too deeply (more than {MAX_JSON_DEPTH} "
                                                  f"levels are refused)") from None
    except (ValueError, KeyError, TypeError):
        raise unprocessable(("body", "manifest"), "not a checkpoint manifest (JSON with weights_file)") from None
    # The InputGuard does not read multipart bodies: the manifest's strings are checked here, before
    # anything is stored (PostgreSQL's jsonb refuses NUL and lone surrogates).
    if (deep := json_too_deep(data)) is not None:
        raise unprocessable(("body", "manifest", *deep[:1]), f"nests arrays and objects more than {MAX_JSON_DEPTH} "
                                                            f"levels deep")
    if (found := json_string_problem(data)) is not None:
        raise unprocessable(("body", "manifest", *found[0]), found[1])
    if not isinstance(weights_file, str) or not _FILE_NAME.fullmatch(weights_file) or weights_file.endswith(".json"):
        raise unprocessable(("body", "manifest", "weights_file"), "must be a plain file name")
    stem = data.get("name") if isinstance(data.get("name"), str) and _FILE_NAME.fullmatch(data["name"]) else "upload"
    manifest_path = folder / f"{stem}.json"
    if manifest_path.name == weights_file:
        manifest_path = folder / "upload.json"
    parts["manifest"].rename(manifest_path)
    parts["weights"].rename(folder / weights_file)
    return manifest_path, name


def _register(session, context, token_id: int, path: Path | str, name: str | None, *, field: str,
              roots) -> JSONResponse:
    """Admit, store and record (blocking: the callers run it in a worker thread)."""
    try:
        registration = register_checkpoint_file(session, path, context=context,
                                                admission=Admission.network(context.settings), roots=roots,
                                                name=name, token_id=token_id)
    except NotImportableError as exc:
        raise unprocessable(("body", "path"), str(exc)) from None
    except ExecutableFormatError as exc:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail=str(exc)) from None
    except CheckpointError as exc:
        raise unprocessable(("body", field), f"checkpoint refused, nothing stored or registered: {exc}") from None
    except CheckpointNameTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except ValueError as exc:
        raise unprocessable(("body", "name"), str(exc)) from None
    except OSError:  # the store's disk, not the client's input; the path stays in the log
        log.exception("registering a checkpoint failed on the server's side")
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            detail="the server could not store the checkpoint; try again later") from None
    session.commit()
    summary = checkpoint_queries.checkpoint_summary(session, registration.checkpoint.id)
    body = {"checkpoint": summary, "created": registration.created, "dropped_parent": registration.dropped_parent,
            # null: Triton not configured; else its models, and an error that did not undo the registration
            "triton": registration.triton.as_json() if registration.triton is not None else None,
            # ARENA_AUTO_GAUNTLET: the tournament a new checkpoint was enrolled in, or why not
            "gauntlet": {"tournament_id": registration.gauntlet_id, "error": registration.gauntlet_error}}
    return JSONResponse(jsonable_encoder(body),
                        status_code=status.HTTP_201_CREATED if registration.created else status.HTTP_200_OK)


@router.post("", summary="Register a checkpoint (upload, or a path under ARENA_IMPORT_DIRS)",
             openapi_extra=_UPLOAD_SCHEMA, status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "already registered (same weights)"},
                        409: {"description": "the name is registered with other weights"},
                        413: {"description": "upload over ARENA_API_MAX_UPLOAD_BYTES (or its manifest over "
                                             "ARENA_API_MAX_MANIFEST_BYTES)"},
                        415: {"description": "TorchScript/ONNX: executable, registered by an operator only"},
                        422: {"description": "refused: the message names the field or the check"}})
async def register_checkpoint(request: Request, session: SessionDep, settings: SettingsDep, context: ContextDep,
                              token: WriteAccess) -> JSONResponse:
    limit = settings.api_max_upload_bytes
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        raw = await request.body()  # small: the JSON route reads no file from the client
        try:
            body = RegisterPath.model_validate_json(raw)
        except ValidationError as exc:
            raise unprocessable(("body", *exc.errors()[0]["loc"]), exc.errors()[0]["msg"]) from None
        return await run_in_threadpool(_register, session, context, token.id, body.path, body.name, field="path",
                                       roots=settings.import_dirs)
    if not content_type.startswith("multipart/form-data"):
        raise unprocessable(("body",), "send multipart/form-data (manifest, weights) or application/json "
                                       "({\"path\": ...})")
    declared = request.headers.get("content-length")
    too_large = f"upload too large: the limit is {limit} bytes (ARENA_API_MAX_UPLOAD_BYTES)"
    if declared is not None and declared.isdigit() and int(declared) > limit + 64 * 1024:
        return _too_large(too_large)  # before reading a byte; multipart framing gets 64 KiB of slack
    folder = Path(tempfile.mkdtemp(prefix="arena-upload-"))
    try:
        try:
            parts = await receive_form(request, folder, _upload_fields(settings), max_bytes=limit,
                                       setting="ARENA_API_MAX_UPLOAD_BYTES")
        except UploadTooLarge as exc:
            return _too_large(str(exc))
        except FormError as exc:
            raise unprocessable(("body", exc.field) if exc.field else ("body",), str(exc)) from None
        manifest_path, name = _arrange_upload(folder, parts)
        return await run_in_threadpool(_register, session, context, token.id, manifest_path, name, field="weights",
                                       roots=None)  # a folder the server chose
    finally:
        await run_in_threadpool(shutil.rmtree, folder, True)


@router.get("", summary="Registered checkpoints, oldest first", dependencies=[ReadAccess])
def list_checkpoints(session: SessionDep, run: str | None = Query(default=None, description="Only this training "
                                                                                             "run's.")
                     ) -> list[checkpoint_queries.CheckpointSummary]:
    return checkpoint_queries.list_checkpoints(session, run=run)


@router.get("/{ref}", summary="One checkpoint (id, name, sha256 or prefix) with its players' ratings per condition",
            dependencies=[ReadAccess], responses={404: {"description": "no such checkpoint"}})
def get_checkpoint(ref: str, session: SessionDep, request: Request) -> CheckpointDetail:
    row = session.get(Checkpoint, int(ref)) if ref.isascii() and ref.isdigit() and len(ref) < 10 else None
    if row is None:
        row = checkpoint_queries.find_checkpoint(session, ref)
    players = checkpoint_queries.checkpoint_players(session, row.id)
    # A rating per pool the player has games in: a 9x9 rating says nothing about 19x19.
    ratings, rated = [], set()
    for condition in condition_queries.player_conditions(session, players) if players else ():
        # Every game's leaderboard of the pool: the app's one service, fitted only if a game was added.
        board = request.app.state.leaderboards.get(session, condition=condition).board
        standings = {s.name: s for s in board.standings}
        for p in players:
            if p in standings:
                s = standings[p]
                ratings.append(PlayerRating(name=p, condition=condition, elo=s.elo, ci95=[s.lo, s.hi], games=s.games,
                                            flag=s.flag, **board.reference_of(p)))
                rated.add(p)
    ratings += [PlayerRating(name=p, condition=None, elo=None, ci95=None, games=0) for p in players if p not in rated]
    return CheckpointDetail(checkpoint=checkpoint_queries.checkpoint_summary(session, row.id),
                            manifest=dict(row.manifest), players=ratings)
