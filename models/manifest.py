"""The JSON manifest that sits beside every checkpoint's weights file, and its validation.

A checkpoint on disk is `NAME.json` (this manifest) beside its weights file (`NAME.safetensors`
for checkpoints written by `models.checkpoint.save_checkpoint`). The manifest says how to read
the weights (`format`), what they are (`architecture`, `feature_set_version`), where they come
from (`run_name`, `training_step`, `parent`) and pins the weights' bytes (`weights_sha256`).

Validation is strict (no "9" for 9, no true for 1, no unknown fields) because a manifest is
written by programs and read by an evaluator that must not guess; every refusal is a
`CheckpointError` whose message names the field, e.g. `manifest field training_step: ...`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, ValidationInfo, field_validator

from search_workers.go.rules import MAX_BOARD_SIZE, MIN_BOARD_SIZE

from .network import NetworkConfig

FORMAT_VERSION = 1
WeightsFormat = Literal["safetensors", "state_dict", "torchscript", "onnx"]
# Formats whose architecture is a PolicyValueNet config; the others are registered exports.
NATIVE_FORMATS = ("safetensors", "state_dict")
# Formats whose weights file is a program (TorchScript code, an ONNX graph with its operators):
# loading one runs what its author wrote. Only an operator registers them, from files they trust.
EXECUTABLE_FORMATS = frozenset({"torchscript", "onnx"})
# A manifest is a few kB; the cap keeps a hostile file from eating memory before validation.
MAX_MANIFEST_BYTES = 4 << 20
# Arrays and objects within each other, the manifest's own object counting 1: metadata needs a few
# levels, and deeper ones exhaust recursive readers (json, pydantic, PostgreSQL's jsonb).
MAX_JSON_DEPTH = 32

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

BoardSize = Annotated[int, Field(ge=MIN_BOARD_SIZE, le=MAX_BOARD_SIZE)]


class CheckpointError(ValueError):
    """A checkpoint or manifest that is refused; the message names the file and the field or tensor."""


class ExecutableFormatError(CheckpointError):
    """A TorchScript or ONNX checkpoint offered where only data formats are accepted."""


class LimitExceededError(CheckpointError):
    """A checkpoint beyond a configured bound; `limit` says which (a key of the caller's limits:
    "blocks", "channels", "parameters" or "forward_seconds")."""

    def __init__(self, message: str, *, limit: str):
        super().__init__(message)
        self.limit = limit


def check_format_allowed(manifest: CheckpointManifest, *, allow_executable: bool, source: str) -> None:
    """Refuse (ExecutableFormatError) a manifest of an executable format unless it is allowed."""
    if manifest.format in EXECUTABLE_FORMATS and not allow_executable:
        raise ExecutableFormatError(
            f"{source}: manifest field format: {manifest.format} checkpoints contain code that runs when they are "
            f"loaded and are not accepted here; send safetensors weights of a server-known architecture, or ask "
            f"an operator to register it on the server with the CLI (`arena checkpoint register`)")


def _kind(value: Any) -> str:
    """How a refusal describes a value it was given: integers as themselves, anything else by its
    type only, so that a refusal never quotes text from the file it refuses."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**12:
        return repr(value)
    return f"a {type(value).__name__}"


def _check_sha256(value: str | None) -> str | None:
    if value is not None and not _SHA256.fullmatch(value):
        raise ValueError("must be 64 lowercase hexadecimal digits (a sha256 of a weights file)")
    return value


class CheckpointManifest(BaseModel):
    """Everything known about one checkpoint except its weights. Field order matters: the
    `architecture` validator reads the already validated `format` and `feature_set_version`."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    format_version: int = FORMAT_VERSION
    name: str = Field(min_length=1, max_length=200)
    format: WeightsFormat
    weights_file: str = Field(min_length=1, max_length=255)  # relative to the manifest's folder
    weights_sha256: str
    feature_set_version: int = Field(ge=1, le=1000)
    # safetensors/state_dict: a complete NetworkConfig dict. torchscript/onnx: a description
    # of the export with at least input_planes and feature_set_version.
    architecture: dict[str, JsonValue]
    board_sizes: list[BoardSize] = Field(min_length=1)
    training_step: int = Field(ge=0)
    run_name: str = Field(min_length=1, max_length=200)
    parent: str | None = None  # sha256 of the parent checkpoint's weights file
    created: str  # ISO 8601 time
    metadata: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("format_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != FORMAT_VERSION:
            raise ValueError(f"this code reads manifest format version {FORMAT_VERSION}, got {_kind(value)}")
        return value

    @field_validator("name", "run_name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("weights_file")
    @classmethod
    def _plain_file_name(cls, value: str) -> str:
        # The weights must lie beside the manifest: a path could point a shared manifest at
        # any file the evaluator can read.
        if "/" in value or "\\" in value or value in (".", "..") or _CONTROL.search(value):
            raise ValueError("must be a plain file name beside the manifest")
        return value

    @field_validator("weights_sha256", "parent")
    @classmethod
    def _sha256(cls, value: str | None) -> str | None:
        return _check_sha256(value)

    @field_validator("created")
    @classmethod
    def _iso_time(cls, value: str) -> str:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 time") from None
        return value

    @field_validator("board_sizes")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a board size")
        return value

    @field_validator("metadata")
    @classmethod
    def _standard_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Python's json writes NaN/Infinity, which other JSON readers reject.
        try:
            json.dumps(value, allow_nan=False)
        except ValueError:
            raise ValueError("must be standard JSON: NaN and Infinity have no JSON spelling") from None
        return value

    @field_validator("architecture")
    @classmethod
    def _architecture(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        fmt = info.data.get("format")
        if fmt is None:  # format itself was refused; its own error says so
            return value
        if fmt in NATIVE_FORMATS:
            # Every field spelled out: a manifest that leaned on today's defaults would change
            # meaning when a default changes.
            missing = sorted(set(NetworkConfig.__dataclass_fields__) - set(value))
            if missing:
                raise ValueError(f"a {fmt} checkpoint needs a complete network config; missing {missing}")
            try:
                NetworkConfig.from_dict(value)
            except (TypeError, ValueError) as exc:
                raise ValueError(str(exc)) from None
        else:
            for key, low, high in (("input_planes", 1, 64), ("feature_set_version", 1, 1000)):
                item = value.get(key)
                if isinstance(item, bool) or not isinstance(item, int) or not low <= item <= high:
                    raise ValueError(f"a {fmt} export must describe its {key} as an integer in "
                                     f"[{low}, {high}], got {_kind(item)}")
        expected = info.data.get("feature_set_version")
        if expected is not None and value["feature_set_version"] != expected:
            raise ValueError(f"architecture feature_set_version {value['feature_set_version']} differs "
                             f"from the manifest's feature_set_version {expected}")
        return value

    @property
    def network_config(self) -> NetworkConfig | None:
        """The PolicyValueNet config of a safetensors/state_dict checkpoint, else None."""
        return NetworkConfig.from_dict(self.architecture) if self.format in NATIVE_FORMATS else None


def _location(loc: tuple[int | str, ...]) -> str:
    """("architecture", "channels") -> "architecture.channels"; ("board_sizes", 0) -> "board_sizes[0]"."""
    text = ""
    for part in loc:
        part = part if isinstance(part, int) else str(part)[:40]  # a key of the file: named, not quoted whole
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(manifest)"


def describe_validation_error(error: ValidationError, source: str) -> CheckpointError:
    """A CheckpointError listing every refused field by its pydantic location."""
    parts = []
    for item in error.errors(include_url=False):
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] not in ("missing", "extra_forbidden") and "got" not in message:
            message += f" (got {_kind(item['input'])})"
        parts.append(f"manifest field {_location(item['loc'])}: {message}")
    return CheckpointError(f"{source}: " + "; ".join(parts))


def json_too_deep(value: Any, max_depth: int = MAX_JSON_DEPTH) -> tuple[str | int, ...] | None:
    """Where parsed JSON `value` first nests arrays and objects more than `max_depth` deep (`value`
    itself is level 1), else None. Iterative, so a deep value cannot exhaust the stack here."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        loc, item = stack.pop()
        if isinstance(item, dict):
            children = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        if len(loc) >= max_depth:
            return loc
        stack.extend(((*loc, key), child) for key, child in children)
    return None


def validate_manifest(data: Any, source: str = "manifest") -> CheckpointManifest:
    """A CheckpointManifest from a JSON-shaped dict, or a CheckpointError naming the fields."""
    if not isinstance(data, dict):
        raise CheckpointError(f"{source}: a manifest must be a JSON object, got {type(data).__name__}")
    deep = json_too_deep(data)
    if deep is not None:
        raise CheckpointError(f"{source}: manifest field {_location(deep[:1])}: nests arrays and objects more than "
                              f"{MAX_JSON_DEPTH} levels deep")
    try:
        return CheckpointManifest.model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(exc, source) from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads silently keeps the last of repeated keys; two readers could then disagree.
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise CheckpointError(f"manifest field {key}: appears more than once")
        seen[key] = value
    return seen


def _no_constants(name: str) -> None:
    raise CheckpointError(f"{name} is not standard JSON")


def read_manifest(path: str | Path, *, source: str | None = None) -> CheckpointManifest:
    """Parse and validate the manifest at `path`; a CheckpointError names the file (as `source`,
    default the path) and the field, never quoting the file's text."""
    path = Path(path)
    source = str(path) if source is None else source
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise CheckpointError(f"{source}: cannot read the manifest: {exc.strerror or type(exc).__name__}") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise CheckpointError(f"{source}: manifest larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys,
                          parse_constant=_no_constants)
    except CheckpointError as exc:
        raise CheckpointError(f"{source}: {exc}") from None
    except RecursionError:
        raise CheckpointError(f"{source}: manifest nests arrays and objects too deeply to read (more than "
                              f"{MAX_JSON_DEPTH} levels are refused)") from None
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{source}: manifest is not valid UTF-8 (at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{source}: manifest is not valid JSON: {exc.msg} at line {exc.lineno} "
                              f"column {exc.colno}") from None
    return validate_manifest(data, source)


def manifest_json(manifest: CheckpointManifest) -> str:
    """The manifest as the JSON text written to disk (stable field order, trailing newline)."""
    return json.dumps(manifest.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
