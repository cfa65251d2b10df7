"""Checkpoints: safetensors weights + a JSON manifest, loaded without unpickling anything.

On disk a checkpoint is `NAME.json` (the manifest, `models.manifest`) beside its weights file.
Four weight formats load into a module obeying the Evaluator contract of ARCHITECTURE.md,
`module(features float32 [B, 17, N, N]) -> (policy_logits [B, N*N+1], value [B] in [-1, 1])`:

| format       | weights file            | read with                                             |
|--------------|-------------------------|-------------------------------------------------------|
| safetensors  | `NAME.safetensors`      | `safetensors.torch.load` (a JSON header + raw bytes)  |
| state_dict   | `torch.save` of tensors | `torch.load(weights_only=True)` (tensors only)        |
| torchscript  | `torch.jit.save` export | `torch.jit.load` (TorchScript, not a Python pickle)   |
| onnx         | ONNX export             | onnxruntime, if installed                             |

Nothing is ever unpickled as an arbitrary Python object. The weights are read once, hashed and
loaded from those same bytes, so the file checked against `weights_sha256` is the one loaded.
Native checkpoints (safetensors, state_dict) are data: their architecture is measured on torch's
meta device (against the caller's `NetworkLimits`) and their tensors checked against it
(`models.weights`; a safetensors file from its header alone, a state dict's zip entries before
torch.load, which would inflate compressed ones in full) before a network is built. Every
checkpoint then plays a test forward on positions of each of its board sizes (`verify=True`, in a
worker thread with a time limit when asked), which catches NaN/inf outputs and contract violations.

TorchScript and ONNX files are programs: loading one runs what its author wrote (TorchScript can
read and write files). `load_checkpoint` refuses them (`ExecutableFormatError`) unless the caller
passes `allow_executable=True`, which only an operator's own tools do (the CLI, the demo, workers
loading what the operator stored).
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import pickle
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from torch import nn

from search_workers.go import FEATURE_SET_VERSION, NUM_FEATURE_PLANES, GameState, random_game, stack_features

from .files import sha256_file, write_atomically
from .manifest import (
    NATIVE_FORMATS,
    CheckpointError,
    CheckpointManifest,
    ExecutableFormatError,
    LimitExceededError,
    WeightsFormat,
    check_format_allowed,
    manifest_json,
    read_manifest,
    validate_manifest,
)
from .network import NetworkConfig, NetworkLimits, PolicyValueNet, meta_network
from .weights import (
    NOT_A_STATE_DICT,
    ZIP_SIGNATURE,
    check_tensors,
    describe_tensors,
    max_weights_bytes,
    safetensors_header,
    stored_archive,
)

__all__ = ["CheckpointError", "CheckpointManifest", "ExecutableFormatError", "LimitExceededError", "LoadedCheckpoint",
           "NetworkLimits", "OnnxModule", "load_checkpoint", "locate_checkpoint", "register_checkpoint",
           "sample_positions", "save_checkpoint", "sha256_file", "verify_module", "verify_within"]

log = logging.getLogger(__name__)

VALUE_TOLERANCE = 1e-4  # tanh in float32 never leaves [-1, 1]; other exports may round a little
TEST_POSITIONS_PER_SIZE = 3
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


@dataclass(frozen=True, eq=False)
class LoadedCheckpoint:
    """A checkpoint ready to evaluate. `module` is in eval mode on the requested device."""

    manifest: CheckpointManifest
    sha256: str  # of the weights file: the checkpoint's identity in ratings
    module: nn.Module  # module(features [B, 17, N, N]) -> (policy_logits [B, N*N+1], value [B])
    board_sizes: tuple[int, ...]
    path: Path  # the manifest
    weights_path: Path
    config: NetworkConfig | None  # the PolicyValueNet config; None for torchscript/onnx exports
    # The weights' bytes as hashed (load_checkpoint(keep_weights=True)): a store writes these, not
    # the file again, so the bytes stored are the bytes verified, hashed once. None: not kept.
    weights: bytes | None = field(default=None, repr=False)


# ---------------------------------------------------------------------------------- writing

_SEQUENCES = (list, tuple, range, np.ndarray)


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, np.integer) else value


def _manifest_data(*, name: str, fmt: str, weights_file: str, architecture: dict, board_sizes,
                   training_step: int, run_name: str, parent: str | None, metadata: dict | None) -> dict:
    return {
        "name": name, "format": fmt, "weights_file": weights_file, "weights_sha256": "0" * 64,
        "feature_set_version": architecture.get("feature_set_version"), "architecture": architecture,
        # numpy integers are integers here; the manifest itself stays strict JSON types.
        "board_sizes": [_plain(n) for n in board_sizes] if isinstance(board_sizes, _SEQUENCES) else board_sizes,
        "training_step": _plain(training_step), "run_name": run_name,
        "parent": parent, "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "metadata": {} if metadata is None else metadata,
    }


def save_checkpoint(net: PolicyValueNet, directory: str | Path, name: str, *, board_sizes, training_step: int,
                    run_name: str, parent: str | None = None, metadata: dict | None = None) -> Path:
    """Write `directory/NAME.safetensors` and `directory/NAME.json`; return the manifest's path.

    The manifest is validated before anything is written. Weights go first, the manifest
    last, each through a temporary file and `os.replace`: a crash leaves either the old
    checkpoint, or new weights that the old manifest's sha256 refuses, never a torn file.
    """
    config = getattr(net, "config", None)
    if not isinstance(config, NetworkConfig):
        raise CheckpointError(f"save_checkpoint needs a PolicyValueNet (with a NetworkConfig), "
                              f"got {type(net).__name__}")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise CheckpointError(f"checkpoint name must be 1-128 of [A-Za-z0-9._+-] not starting with "
                              f"a punctuation mark, got {name!r}")
    directory = Path(directory)
    data = _manifest_data(name=name, fmt="safetensors", weights_file=f"{name}.safetensors",
                          architecture=config.to_dict(), board_sizes=board_sizes, training_step=training_step,
                          run_name=run_name, parent=parent, metadata=metadata)
    manifest = validate_manifest(data, f"checkpoint {name}")
    directory.mkdir(parents=True, exist_ok=True)
    # safetensors wants contiguous CPU tensors that share no storage.
    tensors = {key: value.detach().to("cpu").contiguous().clone() for key, value in net.state_dict().items()}
    digest = write_atomically(directory / manifest.weights_file,
                           lambda temp: safetensors.torch.save_file(tensors, temp, metadata={"format": "pt"}))
    manifest = manifest.model_copy(update={"weights_sha256": digest})
    manifest_path = directory / f"{name}.json"
    write_atomically(manifest_path, lambda temp: Path(temp).write_text(manifest_json(manifest), encoding="utf-8"))
    return manifest_path


def register_checkpoint(weights_path: str | Path, *, format: WeightsFormat, board_sizes, training_step: int,
                        run_name: str, architecture: NetworkConfig | dict | None = None, name: str | None = None,
                        parent: str | None = None, metadata: dict | None = None, verify: bool = True,
                        allow_executable: bool = False) -> Path:
    """Write the manifest beside an existing weights file (`foo.pt` -> `foo.json`); return its path.

    For user exports (torchscript/onnx) `architecture` describes the export and defaults to
    `{"input_planes": 17, "feature_set_version": 1}` (the current feature set); for
    state_dict/safetensors it is the PolicyValueNet config and is required. With `verify` the
    checkpoint is loaded once (test forward included) and the manifest removed if refused; an
    export is loaded (its code run) only with `allow_executable`, for files the caller trusts.
    """
    weights_path = Path(weights_path)
    if weights_path.suffix == ".json" or not weights_path.is_file():
        raise CheckpointError(f"{weights_path}: not a weights file")
    if isinstance(architecture, NetworkConfig):
        architecture = architecture.to_dict()
    if architecture is not None and not isinstance(architecture, Mapping):
        raise CheckpointError(f"{weights_path}: architecture must be a NetworkConfig or a dict")
    if architecture is None:
        if format in NATIVE_FORMATS:
            raise CheckpointError(f"{weights_path}: a {format} checkpoint needs its architecture (a NetworkConfig)")
        architecture = {"input_planes": NUM_FEATURE_PLANES, "feature_set_version": FEATURE_SET_VERSION}
    manifest_path = weights_path.with_suffix(".json")
    data = _manifest_data(name=name or weights_path.stem, fmt=format, weights_file=weights_path.name,
                          architecture=dict(architecture), board_sizes=board_sizes, training_step=training_step,
                          run_name=run_name, parent=parent, metadata=metadata)
    data["weights_sha256"] = sha256_file(weights_path)
    manifest = validate_manifest(data, str(manifest_path))
    write_atomically(manifest_path, lambda temp: Path(temp).write_text(manifest_json(manifest), encoding="utf-8"))
    if verify:
        try:
            load_checkpoint(manifest_path, allow_executable=allow_executable)
        except CheckpointError:
            manifest_path.unlink(missing_ok=True)
            raise
    return manifest_path


# ---------------------------------------------------------------------------------- loading

def _label(show_paths: bool):
    """How refusals name files: by path (the operator's own files), or by name only (a server's
    client must not learn where the server keeps things)."""
    return str if show_paths else (lambda path: Path(path).name)


def locate_checkpoint(path: str | Path, *, show_paths: bool = True) -> tuple[Path, Path | None]:
    """(the manifest's path, the weights path if `path` named the weights file, else None)."""
    path = Path(path)
    if path.suffix == ".json":
        return path, None
    manifest = path.with_suffix(".json")
    if not manifest.is_file():
        raise CheckpointError(f"{_label(show_paths)(path)}: no manifest {manifest.name} beside it; a checkpoint is "
                              f"NAME.json beside its weights file")
    return manifest, path


def _architecture_tensors(config: NetworkConfig, limits: NetworkLimits | None, source: str) -> dict[str, torch.Tensor]:
    """The architecture's tensors on the meta device, after `limits` (nothing allocated either way)."""
    excess = limits.excess(config) if limits is not None else None
    if excess is not None:
        what, value, limit = excess
        raise LimitExceededError(f"{source}: manifest field architecture: a network of {value} {what} is over this "
                                 f"server's limit of {limit} {what}", limit=what)
    return dict(meta_network(config).state_dict())


def _native_module(tensors: Mapping[str, Any], config: NetworkConfig, expected: Mapping[str, torch.Tensor],
                   source: str) -> nn.Module:
    check_tensors(describe_tensors(tensors), expected, source)
    net = PolicyValueNet(config)  # only now is memory allocated: every tensor was checked
    # float16/bfloat16/float64 weights become float32: the CPU path runs float32.
    net.load_state_dict({key: tensors[key].to(expected[key].dtype) for key in expected}, strict=True)
    return net


def _read_safetensors(data: bytes, source: str) -> Mapping[str, torch.Tensor]:
    try:
        return safetensors.torch.load(data)
    except Exception as exc:  # noqa: BLE001 -- SafetensorError, or a dtype this torch lacks
        # The library's text is for the server's log, not for whoever sent the file.
        log.info("%s: safetensors refused the weights: %s: %s", source, type(exc).__name__, exc)
        raise CheckpointError(f"{source}: not a valid safetensors file: its tensors cannot be read as its header "
                              f"describes them") from None


def _read_state_dict(data: bytes, expected: Mapping[str, torch.Tensor], source: str) -> Mapping[str, Any]:
    # torch.load reads a file starting with a zip signature with its zip reader, which inflates
    # compressed entries in full: it gets a checked copy (nothing compressed, nothing over the
    # bound). Anything else is torch's legacy format, which has no compression.
    archive = stored_archive(data, expected, source) if data.startswith(ZIP_SIGNATURE) else io.BytesIO(data)
    try:
        obj = torch.load(archive, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's own message advises retrying with weights_only=False: never repeat that.
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f" (it refers to {found.group(1)})" if found else ""
        raise CheckpointError(f"{source}: the file contains objects other than tensors{what} and was not "
                              f"loaded; nothing in it was executed") from None
    except Exception as exc:  # noqa: BLE001 -- any failure of a foreign file is a refusal
        log.info("%s: torch.load refused the state dict: %s: %s", source, type(exc).__name__, exc)
        raise CheckpointError(f"{source}: {NOT_A_STATE_DICT}") from None
    if isinstance(obj, Mapping) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in ("state_dict", "model"):  # training scripts often save {"model": ..., "step": ...}
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{source}: holds a {type(obj).__name__}, not a mapping of tensor names to tensors")
    for key, value in obj.items():
        if not isinstance(key, str):
            raise CheckpointError(f"{source}: key {key!r} is not a tensor name (a string)")
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{source}: entry {key} is a {type(value).__name__}, not a tensor")
    return obj


def _read_torchscript(data: bytes, device: torch.device, source: str) -> nn.Module:
    try:
        return torch.jit.load(io.BytesIO(data), map_location=device)
    except Exception as exc:  # noqa: BLE001 -- any failure of a foreign file is a refusal
        raise CheckpointError(f"{source}: not a loadable TorchScript archive: {str(exc)[:300]}") from None


class OnnxModule(nn.Module):
    """An onnxruntime session behind the Evaluator contract: input "features", outputs
    "policy_logits" and "value". Runs on onnxruntime's device; tensors go through numpy."""

    INPUT = "features"
    OUTPUTS = ("policy_logits", "value")

    def __init__(self, session: Any):
        super().__init__()
        self.session = session

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        array = features.detach().to("cpu", torch.float32).contiguous().numpy()
        policy, value = self.session.run(list(self.OUTPUTS), {self.INPUT: array})
        return (torch.from_numpy(np.asarray(policy)).to(features.device),
                torch.from_numpy(np.asarray(value)).to(features.device))


def _read_onnx(data: bytes, device: torch.device, source: str) -> nn.Module:
    try:
        import onnxruntime  # lazy: an optional dependency, only ONNX exports need it
    except ImportError:
        raise CheckpointError(f"{source}: loading an ONNX checkpoint needs the onnxruntime package, "
                              f"which is not installed") from None
    providers = ["CPUExecutionProvider"]
    if device.type == "cuda":
        providers.insert(0, "CUDAExecutionProvider")
    try:
        session = onnxruntime.InferenceSession(data, providers=providers)
    except Exception as exc:  # noqa: BLE001 -- any failure of a foreign file is a refusal
        raise CheckpointError(f"{source}: not a loadable ONNX model: {str(exc)[:300]}") from None
    inputs = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    if inputs != [OnnxModule.INPUT] or not set(OnnxModule.OUTPUTS) <= set(outputs):
        raise CheckpointError(f"{source}: an ONNX export must take one input 'features' and produce "
                              f"'policy_logits' and 'value'; it has inputs {inputs} and outputs {outputs}")
    return OnnxModule(session)


@functools.lru_cache(maxsize=32)
def _cached_positions(board_size: int, count: int, seed: int) -> np.ndarray:
    game = random_game(board_size, seed=seed)
    moves = game.moves
    picks = {k * len(moves) // count for k in range(count)}  # opening, middle game, late game
    state = GameState.new(board_size, game.rules)
    states = [state] if 0 in picks else []
    for index, (color, move) in enumerate(moves, start=1):
        state = state.play(move, color)
        if index in picks:
            states.append(state)
    while len(states) < count:  # a very short game (2x2) repeats its last position
        states.append(states[-1])
    features = stack_features(states)
    features.setflags(write=False)
    return features


def sample_positions(board_size: int, count: int = TEST_POSITIONS_PER_SIZE, seed: int = 0) -> np.ndarray:
    """float32 [count, 17, N, N]: positions along one random game (deterministic in seed)."""
    return _cached_positions(board_size, count, seed).copy()


def _shape(tensor: torch.Tensor) -> str:
    return "[" + ", ".join(str(d) for d in tensor.shape) + "]"


def verify_module(module: Any, board_sizes, *, device: str | torch.device = "cpu", source: str = "network") -> None:
    """Run `module` on a few positions of each board size and refuse (CheckpointError naming
    the output) anything off the contract: wrong shapes, NaN/inf, value outside [-1, 1]."""
    device = torch.device(device)
    for n in board_sizes:
        features = torch.from_numpy(sample_positions(n)).to(device)
        batch, where = features.shape[0], f"{n}x{n} test positions"
        try:
            with torch.inference_mode():
                out = module(features)
        except Exception as exc:  # noqa: BLE001 -- any failure of a foreign file is a refusal
            raise CheckpointError(f"{source}: the test forward on {where} failed: {type(exc).__name__}: "
                                  f"{str(exc)[:300]}") from None
        if not (isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)):
            raise CheckpointError(f"{source}: the network must return (policy_logits, value), got {type(out).__name__}")
        for name, tensor, shape in (("policy_logits", out[0], (batch, n * n + 1)), ("value", out[1], (batch,))):
            if tuple(tensor.shape) != shape:
                raise CheckpointError(f"{source}: output {name} has shape {_shape(tensor)} on {where}, "
                                      f"expected [{', '.join(map(str, shape))}]")
            if not tensor.is_floating_point():
                raise CheckpointError(f"{source}: output {name} has dtype {tensor.dtype}, expected floating point")
            finite = torch.isfinite(tensor)
            if not bool(finite.all()):
                nans = int(torch.isnan(tensor).sum())
                raise CheckpointError(f"{source}: output {name} is not finite on {where} "
                                      f"({nans} NaN and {int((~finite).sum()) - nans} infinite values)")
        worst = float(out[1].abs().max()) if batch else 0.0
        if worst > 1.0 + VALUE_TOLERANCE:
            raise CheckpointError(f"{source}: output value leaves [-1, 1] on {where} (|value| up to {worst:.6g})")


def verify_within(timeout_s: float | None, module: Any, board_sizes, *, device: str | torch.device = "cpu",
                  source: str = "network") -> None:
    """`verify_module` in a worker thread, refused (LimitExceededError, limit "forward_seconds")
    when it takes longer than `timeout_s`; None: in this thread, unbounded.

    A thread cannot be killed: one past its time runs on as a daemon, its result dropped. The
    caller is free at once (an API request answers, the network is not stored)."""
    if timeout_s is None:
        verify_module(module, board_sizes, device=device, source=source)
        return
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            verify_module(module, board_sizes, device=device, source=source)
        except BaseException as exc:  # noqa: BLE001 -- handed to the waiting thread
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=run, name="checkpoint-test-forward", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not outcome:
        raise LimitExceededError(f"{source}: the test forward took longer than {timeout_s:g} s", limit="forward_seconds")
    if outcome[0] is not None:
        raise outcome[0]


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu", verify: bool = True,
                    allow_executable: bool = False, limits: NetworkLimits | None = None,
                    forward_timeout_s: float | None = None, show_paths: bool = True,
                    keep_weights: bool = False) -> LoadedCheckpoint:
    """Load the checkpoint whose manifest (`NAME.json`) or weights file (manifest beside it) is `path`.

    Always: the manifest is validated, its feature set must be this code's, and the weights'
    sha256 must match `weights_sha256`. A native checkpoint's architecture is measured and its
    tensors (a safetensors file: its header) checked on the meta device before a network is
    built. With `verify`, a test forward on positions of every board size in the manifest. Any
    refusal is a CheckpointError naming the field or tensor.

    allow_executable: TorchScript and ONNX files are programs, run when loaded; they are refused
        (ExecutableFormatError) unless this is True. Pass it only for files an operator trusts.
    limits: refuse (LimitExceededError) a native architecture beyond them, before reading weights.
    forward_timeout_s: the test forward runs in a worker thread and is refused after this long.
    show_paths: False names files by their names only in refusals (for a server's clients).
    keep_weights: keep the weights' bytes on the result (`weights`), for a store to write.
    """
    label = _label(show_paths)
    manifest_path, named_weights = locate_checkpoint(path, show_paths=show_paths)
    source = label(manifest_path)
    manifest = read_manifest(manifest_path, source=source)
    check_format_allowed(manifest, allow_executable=allow_executable, source=source)
    if manifest.feature_set_version != FEATURE_SET_VERSION:
        raise CheckpointError(f"{source}: manifest field feature_set_version: the checkpoint reads feature set "
                              f"{manifest.feature_set_version} but this code computes feature set "
                              f"{FEATURE_SET_VERSION}")
    if manifest.architecture["input_planes"] != NUM_FEATURE_PLANES:
        raise CheckpointError(f"{source}: manifest field architecture.input_planes: the checkpoint reads "
                              f"{manifest.architecture['input_planes']} planes but feature set "
                              f"{FEATURE_SET_VERSION} has {NUM_FEATURE_PLANES}")
    weights_path = manifest_path.parent / manifest.weights_file
    if named_weights is not None and named_weights.name != manifest.weights_file:
        raise CheckpointError(f"{source}: manifest field weights_file: names {manifest.weights_file}, "
                              f"not {named_weights.name}")
    config = manifest.network_config
    expected = _architecture_tensors(config, limits, source) if config is not None else None
    data = _read_weights(weights_path, manifest, expected, source)
    digest = hashlib.sha256(data).hexdigest()
    if digest != manifest.weights_sha256:
        raise CheckpointError(f"{source}: manifest field weights_sha256: the manifest says {manifest.weights_sha256} "
                              f"but {manifest.weights_file} has sha256 {digest}; the weights were changed or "
                              f"replaced")
    device = torch.device(device)
    weights_source = label(weights_path)
    if manifest.format == "safetensors":
        check_tensors(safetensors_header(data, weights_source), expected, weights_source)
        module = _native_module(_read_safetensors(data, weights_source), config, expected, weights_source)
    elif manifest.format == "state_dict":
        module = _native_module(_read_state_dict(data, expected, weights_source), config, expected, weights_source)
    elif manifest.format == "torchscript":
        module = _read_torchscript(data, device, weights_source)
    else:
        module = _read_onnx(data, device, weights_source)
    if not isinstance(module, OnnxModule):
        module = module.to(device)
    module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    if verify:
        verify_within(forward_timeout_s, module, manifest.board_sizes, device=device, source=weights_source)
    return LoadedCheckpoint(manifest=manifest, sha256=digest, module=module, board_sizes=tuple(manifest.board_sizes),
                            path=manifest_path, weights_path=weights_path, config=config,
                            weights=data if keep_weights else None)


def _read_weights(path: Path, manifest: CheckpointManifest, expected: Mapping[str, torch.Tensor] | None,
                  source: str) -> bytes:
    """The weights file's bytes, read once (the bytes hashed are the bytes loaded). A native
    checkpoint's file is refused unread when it is larger than its architecture could fill."""
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            bound = max_weights_bytes(expected, manifest.format) if expected is not None else None
            if bound is not None and size > bound:
                raise CheckpointError(f"{source}: manifest field weights_file: {manifest.weights_file} is {size} "
                                      f"bytes, more than the declared architecture's tensors can fill "
                                      f"(at most {bound})")
            return handle.read()
    except OSError as exc:
        raise CheckpointError(f"{source}: manifest field weights_file: cannot read {manifest.weights_file}: "
                              f"{exc.strerror or type(exc).__name__}") from None
