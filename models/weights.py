"""Checking a weights file against its declared architecture before anything is built from it.

The architecture's tensors come from `models.network.meta_network` (shapes and dtypes on torch's
meta device, no memory). A safetensors file is checked from its header alone, the 8-byte
little-endian length and the JSON that follows, so a file whose header disagrees with the
architecture is refused before its tensors are read, let alone a network built:

    expected = meta_network(config).state_dict()                   # name -> meta tensor
    check_tensors(safetensors_header(data, source), expected, source)

Loaded state dicts are described the same way (`describe_tensors`) and go through the same
comparison, so both formats give the same refusals, naming each offending tensor.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .manifest import CheckpointError

__all__ = ["TensorSpec", "check_tensors", "describe_tensors", "max_weights_bytes", "safetensors_header"]

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
    try:
        header = json.loads(data[8:8 + length].decode("utf-8"))
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
