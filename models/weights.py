"""Checking a weights file against its declared architecture before anything is built from it.

The architecture's tensors come from `models.network.meta_network` (shapes and dtypes on torch's
meta device, no memory). A safetensors file is checked from its header alone, the 8-byte
little-endian length and the JSON that follows, so a file whose header disagrees with the
architecture is refused before its tensors are read, let alone a network built:

    expected = meta_network(config).state_dict()                   # name -> meta tensor
    check_tensors(safetensors_header(data, source), expected, source)

Loaded state dicts are described the same way (`describe_tensors`) and go through the same
comparison, so both formats give the same refusals, naming each offending tensor.

Before torch.load sees a state dict that is a zip (torch.save's format), `stored_archive` checks
its entries: torch.load inflates a compressed entry in full before anything can be checked, so
only stored (uncompressed) entries within the architecture's bound pass.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .manifest import CheckpointError

__all__ = ["NOT_A_STATE_DICT", "ZIP_SIGNATURE", "TensorSpec", "check_tensors", "describe_tensors",
           "max_archive_entries", "max_weights_bytes", "safetensors_header", "stored_archive"]

log = logging.getLogger(__name__)

# safetensors dtype codes -> how they load (torch's names, as refusals of loaded tensors print them).
_SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
_MAX_DIMS = 8
_MAX_NAME = 80  # tensor names in refusals are cut here
_BYTES_PER_ELEMENT = 8  # float64, the widest dtype a native checkpoint may store its weights in
_FRAMING_BYTES = 1 << 20  # headers, zip entries, a pickle's structure: generous for ~100 tensors
# A state dict may be a training script's {"model": ..., "optimizer": ...}: room for optimizer state.
_STATE_DICT_FACTOR = 4
# torch.save writes data.pkl, version, byteorder, .format_version, .storage_alignment and
# .data/serialization_id beside one entry per storage.
_SPARE_ENTRIES = 64
ZIP_SIGNATURE = b"PK\x03\x04"  # what torch.load looks for at the start to read a file as a zip
_CENTRAL_RECORD = b"PK\x01\x02"  # the signature that starts every zip central directory record
# safetensors' own reader refuses headers over 100 MB; json.loads builds up to ~20x a header's bytes
# in objects, and a real header takes ~100 bytes a tensor.
_MAX_HEADER_BYTES = 4 << 20
NOT_A_STATE_DICT = "the weights file is not a readable torch state_dict archive (a torch.save file)"


@dataclass(frozen=True)
class TensorSpec:
    """What a weights file says one tensor is. `kind`: "float", "int" or "other" (bool, complex,
    sparse, quantized, or not a tensor); `shape` is None when there is none to compare."""

    shape: tuple[int, ...] | None
    kind: str
    dtype: str  # as printed in refusals, e.g. "torch.float16"


def _kind(dtype: torch.dtype) -> str:
    if dtype.is_floating_point:
        return "float"
    if dtype.is_complex or dtype == torch.bool:
        return "other"
    return "int"


def describe_tensors(tensors: Mapping[str, Any]) -> dict[str, TensorSpec]:
    """TensorSpecs of loaded values (anything that is not a plain dense tensor is "other")."""
    specs = {}
    for key, value in tensors.items():
        if not isinstance(value, torch.Tensor):
            specs[key] = TensorSpec(None, "other", type(value).__name__)
        elif value.layout != torch.strided or value.is_quantized:
            specs[key] = TensorSpec(tuple(value.shape), "other", str(value.dtype))
        else:
            specs[key] = TensorSpec(tuple(value.shape), _kind(value.dtype), str(value.dtype))
    return specs


def _header_spec(info: Any) -> TensorSpec:
    if not isinstance(info, dict):
        return TensorSpec(None, "other", "not a tensor description")
    shape, code = info.get("shape"), info.get("dtype")
    if not (isinstance(shape, list) and len(shape) <= _MAX_DIMS
            and all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**40 for d in shape)):
        shape = None
    dtype = _SAFETENSORS_DTYPES.get(code) if isinstance(code, str) else None
    if dtype is None:
        return TensorSpec(None if shape is None else tuple(shape), "other", f"safetensors {str(code)[:16]}")
    return TensorSpec(None if shape is None else tuple(shape), _kind(dtype), str(dtype))


def safetensors_header(data: bytes, source: str) -> dict[str, TensorSpec]:
    """The tensors a safetensors file declares, read from its header only (CheckpointError if
    the header is not there or not JSON)."""
    if len(data) < 8:
        raise CheckpointError(f"{source}: not a valid safetensors file: {len(data)} bytes, shorter than the "
                              f"8-byte header length")
    length = int.from_bytes(data[:8], "little")
    if length > len(data) - 8:
        raise CheckpointError(f"{source}: not a valid safetensors file: its header length ({length} bytes) runs "
                              f"past the end of the {len(data)}-byte file")
    if length > _MAX_HEADER_BYTES:
        raise CheckpointError(f"{source}: not accepted: its safetensors header is {length} bytes, over the limit "
                              f"of {_MAX_HEADER_BYTES}")
    try:
        header = json.loads(data[8:8 + length].decode("utf-8"))
    except RecursionError:
        raise CheckpointError(f"{source}: not a valid safetensors file: its header is nested too deeply") from None
    except (UnicodeDecodeError, ValueError):
        raise CheckpointError(f"{source}: not a valid safetensors file: its header is not UTF-8 JSON") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{source}: not a valid safetensors file: its header is not a JSON object")
    return {key: _header_spec(info) for key, info in header.items() if key != "__metadata__"}


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def check_tensors(found: Mapping[str, TensorSpec], expected: Mapping[str, torch.Tensor], source: str) -> None:
    """Refuse, naming each offending tensor, anything load_state_dict would choke on or silently
    convert: missing/unexpected names, other shapes, non-float parameters, float counters."""
    problems = []
    for key, want in expected.items():
        if key not in found:
            problems.append(f"tensor {key} is missing (the architecture needs shape {_shape(tuple(want.shape))})")
    for key, got in found.items():
        if key not in expected:
            shape = f" (shape {_shape(got.shape)})" if got.shape is not None else ""
            problems.append(f"unexpected tensor {key[:_MAX_NAME]}{shape}, not part of the architecture")
    for key, want in expected.items():
        got = found.get(key)
        if got is None:
            continue
        if got.kind == "other" or got.shape is None:
            problems.append(f"tensor {key} is not a plain dense tensor ({got.dtype})")
        elif got.shape != tuple(want.shape):
            problems.append(f"tensor {key} has shape {_shape(got.shape)} in the checkpoint but the architecture "
                            f"needs {_shape(tuple(want.shape))}")
        elif _kind(want.dtype) != got.kind:
            # Integer buffers (BatchNorm's num_batches_tracked) stay integers.
            need = "floating point" if _kind(want.dtype) == "float" else "an integer"
            problems.append(f"tensor {key} has dtype {got.dtype} but must be {need}")
    if problems:
        more = f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise CheckpointError(f"{source}: " + "; ".join(problems[:20]) + more)


def max_weights_bytes(expected: Mapping[str, torch.Tensor], fmt: str) -> int:
    """The largest weights file of format `fmt` that could hold `expected`: a bound on what is
    read into memory before the file's own structure is checked."""
    elements = sum(t.numel() for t in expected.values())
    factor = _STATE_DICT_FACTOR if fmt == "state_dict" else 1
    return factor * (_BYTES_PER_ELEMENT * elements + _FRAMING_BYTES)


def max_archive_entries(expected: Mapping[str, torch.Tensor]) -> int:
    """The most zip entries a state dict archive of `expected` may have (room for optimizer state)."""
    return _STATE_DICT_FACTOR * len(expected) + _SPARE_ENTRIES


def stored_archive(data: bytes, expected: Mapping[str, torch.Tensor], source: str) -> io.BytesIO:
    """The torch.save archive `data`, rewritten entry by entry for torch.load to read; CheckpointError
    unless every entry is stored uncompressed and together they fit the architecture's bound.

    torch.load inflates a compressed entry in full before anything is checked: a small upload could
    fill gigabytes. torch.load reads the rewritten copy, so it sees exactly the entries checked
    here, whatever its own zip reader would have made of a crafted original.
    """
    bound = max_weights_bytes(expected, "state_dict")
    most = max_archive_entries(expected)
    # zipfile builds an object for each central directory record (~10x its bytes) before its list
    # can be counted; each starts with the signature, so counting those bounds what it parses.
    if data.count(_CENTRAL_RECORD) > most:
        raise CheckpointError(f"{source}: the weights archive has more entries than a state dict of the declared "
                              f"architecture needs (at most {most})")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except Exception as exc:  # noqa: BLE001 -- BadZipFile, struct.error, ...: all a refusal
        log.info("%s: zipfile refused the state dict: %s: %s", source, type(exc).__name__, exc)
        raise CheckpointError(f"{source}: {NOT_A_STATE_DICT}") from None
    names, total = set(), 0
    for entry in entries:
        if entry.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(f"{source}: the weights archive's entry {ascii(entry.filename[:_MAX_NAME])} is "
                                  f"compressed; torch.save stores entries uncompressed, and compressed ones are "
                                  f"not accepted (they would be inflated before they could be checked)")
        if entry.flag_bits & 0x1 or entry.compress_size != entry.file_size or entry.filename in names:
            raise CheckpointError(f"{source}: {NOT_A_STATE_DICT}")  # encrypted, inconsistent, or a duplicate
        names.add(entry.filename)
        total += entry.file_size
    if total > bound:
        raise CheckpointError(f"{source}: the weights archive's entries hold {total} bytes, more than the declared "
                              f"architecture's tensors can fill (at most {bound})")
    copy = io.BytesIO()
    try:
        with zipfile.ZipFile(copy, "w", zipfile.ZIP_STORED) as target:
            for entry in entries:
                target.writestr(zipfile.ZipInfo(entry.filename), archive.read(entry))  # the CRC is checked
    except Exception as exc:  # noqa: BLE001 -- a bad CRC or local header
        log.info("%s: zipfile could not read the state dict's entries: %s: %s", source, type(exc).__name__, exc)
        raise CheckpointError(f"{source}: {NOT_A_STATE_DICT}") from None
    copy.seek(0)
    return copy
