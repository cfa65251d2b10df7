"""Export a network to a Triton model repository, in both flavours, from one `TritonModelSpec`.

    repository/NAME/config.pbtxt             GPU flavour: platform pytorch_libtorch, KIND_GPU
    repository/NAME/VERSION/model.pt         TorchScript of the network
    repository/NAME_cpu/config.pbtxt         CPU flavour: Python backend, KIND_CPU
    repository/NAME_cpu/VERSION/model.pt     the same TorchScript
    repository/NAME_cpu/VERSION/model.py     TritonPythonModel running it under torch on CPU

Both flavours share tensor names, shapes and dynamic batching, all taken from
`search_workers.evaluators.triton` (the wire format): one TritonEvaluator talks to either.

Naming for the libtorch backend: the input is called "features", which is the argument name of
`PolicyValueNet.forward`, so the backend binds it by name (its FORWARD_ARGUMENT convention);
the outputs have no "__<index>" suffix, so the backend binds them by their order in the config
(STRICT_CONFIG_ORDERING): policy_logits, value, as the network returns them. This keeps the
descriptive names on the wire instead of INPUT__0/OUTPUT__0, and `export_to_repository` checks
that the scripted forward really takes one argument named "features" and returns two tensors.

Writes are atomic per version: a version is built in a staging directory inside the model
directory (Triton ignores version directories whose names are not numbers) and renamed into
place; a new model directory is built whole beside it and renamed into the repository, so a
server polling the repository never sees a model without its config or a half-written file.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import string
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from search_workers.evaluators import cpu_batches, process_memory
from search_workers.evaluators.triton import (
    CONFIG_DTYPE,
    INPUT_FEATURES,
    OUTPUT_POLICY_LOGITS,
    OUTPUT_VALUE,
    wire_tensors,
)
from search_workers.go.features import NUM_FEATURE_PLANES
from search_workers.go.rules import MAX_BOARD_SIZE, MIN_BOARD_SIZE

from .files import write_atomically

FLAVOURS = ("gpu", "cpu")
CPU_SUFFIX = "_cpu"
MODEL_FILE = "model.pt"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


@dataclass(frozen=True)
class TritonModelSpec:
    """Everything that goes into a model's Triton configuration, for both flavours."""

    name: str  # GPU flavour's model name; the CPU flavour is name + "_cpu"
    board_size: int
    input_planes: int = NUM_FEATURE_PLANES
    max_batch_size: int = 256  # rows per execution; the evaluator never sends larger requests
    # The batcher's policy, chosen with `arena bench triton --workers 4` (several worker processes
    # through one server; docs/benchmarks.md): no preferred sizes, because with requests of a
    # worker's half-block each, a preferred size either is a sum the queue happens to hold (and
    # changes nothing) or is not, and then holds back rows the instance could run now; without
    # them the batcher takes everything queued when the instance frees, up to max_batch_size.
    preferred_batch_sizes: tuple[int, ...] = ()
    # Short next to one execution: while the instance is busy, the workers' requests queue and
    # merge anyway; the delay only lets a request arriving just after an idle instance started
    # join it. Longer delays merged one worker's two pipeline groups (losing the overlap they
    # exist for): 2,000 us halved evals/s with 4 workers, 10,000 us cut them to a third.
    max_queue_delay_microseconds: int = 200
    # One instance per GPU: a second instance splits the queue into two smaller batches (CPU:
    # batch 17.5 at 1,640 evals/s against 19.6 at 2,968 with one); on a GPU it only helps a
    # network too small to fill it, which the bench on that GPU shows.
    instance_count: int = 1
    version: int = 1
    cpu_threads: int = 0  # torch threads per CPU instance; 0: half the usable cores / instance_count
    # Rows per forward pass of a CPU instance: a merged batch larger than this runs in equal
    # pieces. 0: measured when the instance loads (search_workers/evaluators/cpu_batches.py; the
    # demo network on a 2-core EPYC picks 64, where a 128-row pass cost 141 us a row against 78).
    cpu_pass_rows: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(f"model name must match {_NAME.pattern}, got {self.name!r}")
        for field_name, low, high in (("board_size", MIN_BOARD_SIZE, MAX_BOARD_SIZE), ("input_planes", 1, 64),
                                      ("max_batch_size", 1, 1 << 16), ("instance_count", 1, 64),
                                      ("max_queue_delay_microseconds", 0, 10_000_000), ("version", 1, 1 << 40),
                                      ("cpu_threads", 0, 1024), ("cpu_pass_rows", 0, 1 << 16)):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"triton {field_name} must be an integer in [{low}, {high}], got {value!r}")
        sizes = tuple(self.preferred_batch_sizes)
        object.__setattr__(self, "preferred_batch_sizes", sizes)
        if any(isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= self.max_batch_size for s in sizes) \
                or list(sizes) != sorted(set(sizes)):
            raise ValueError(f"preferred_batch_sizes must be increasing integers in [1, {self.max_batch_size}] "
                             f"(max_batch_size), got {sizes!r}")

    def model_name(self, flavour: str) -> str:
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {FLAVOURS}, got {flavour!r}")
        return self.name if flavour == "gpu" else self.name + CPU_SUFFIX


def _dims(dims: tuple[int, ...]) -> str:
    return "[ " + ", ".join(str(d) for d in dims) + (" ]" if dims else "]")


def _tensor_block(kind: str, specs) -> str:
    entries = []
    for spec in specs:
        lines = [f'    name: "{spec.name}"', f"    data_type: {CONFIG_DTYPE}", f"    dims: {_dims(spec.dims)}"]
        if spec.reshape is not None:
            lines.append(f"    reshape: {{ shape: {_dims(spec.reshape)} }}")
        entries.append("  {\n" + "\n".join(lines) + "\n  }")
    return f"{kind} [\n" + ",\n".join(entries) + "\n]"


def render_config(spec: TritonModelSpec, flavour: str) -> str:
    """The config.pbtxt text of one flavour."""
    inputs, outputs = wire_tensors(spec.board_size, spec.input_planes)
    if flavour == "gpu":
        head = 'platform: "pytorch_libtorch"'
        kind = "KIND_GPU"
        # InferenceMode skips autograd bookkeeping; the network never needs gradients here.
        parameters = 'parameters: { key: "INFERENCE_MODE" value: { string_value: "true" } }'
    else:
        head = 'backend: "python"'
        kind = "KIND_CPU"
        parameters = "\n".join(f'parameters: {{ key: "{key}" value: {{ string_value: "{value}" }} }}'
                               for key, value in (("TORCH_NUM_THREADS", spec.cpu_threads),
                                                  ("CPU_PASS_ROWS", spec.cpu_pass_rows)))
    model_name = spec.model_name(flavour)
    preferred = ", ".join(str(s) for s in spec.preferred_batch_sizes)
    return "\n".join([
        "# Rendered by models/triton_export.py from TritonModelSpec; edit the spec, not this file.",
        f'name: "{model_name}"',
        head,
        f"max_batch_size: {spec.max_batch_size}",
        _tensor_block("input", inputs),
        _tensor_block("output", outputs),
        "dynamic_batching {",
        *([f"  preferred_batch_size: [ {preferred} ]"] if preferred else []),
        f"  max_queue_delay_microseconds: {spec.max_queue_delay_microseconds}",
        "}",
        f"instance_group [ {{ kind: {kind} count: {spec.instance_count} }} ]",
        parameters,
        "",
    ])


_PYTHON_MODEL = string.Template('''"""Triton Python-backend model: TorchScript policy-value network on CPU.

Rendered by models/triton_export.py; tensor names from search_workers/evaluators/triton.py.
Requests the dynamic batcher hands over together run as one batch: one forward pass, or equal
pieces of the CPU's fastest batch when they are more rows than that (cpu_batches below).
"""

import ctypes
import ctypes.util
import json
import os

import numpy as np
import torch
import triton_python_backend_utils as pb_utils

INPUT = "$input_name"
POLICY = "$policy_name"
VALUE = "$value_name"


# ---- search_workers/evaluators/cpu_batches.py, copied in by the export ----
$cpu_batches
# ---- end of search_workers/evaluators/cpu_batches.py ----


# glibc mallopt parameters: allocations above the mmap threshold get pages of their own, and
# freed memory above the trim threshold goes back to the kernel.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory():
    """Keep freed heap memory for the next forward pass instead of returning it to the kernel,
    as search_workers/evaluators/process_memory.py does for workers (this file cannot import it).

    A batch's activations are hundreds of KB each (9x9, 32 channels, 64 rows: 660 KB), past
    glibc's mmap and trim thresholds, so by default every forward pass maps fresh pages and
    takes a page fault on each: the same 9x9 forward pass of 64 rows cost 170 us a row on one
    thread, 87 us with these settings. No-op where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallopt(M_MMAP_THRESHOLD, $mmap_threshold)
        libc.mallopt(M_TRIM_THRESHOLD, $trim_threshold)
    except (OSError, AttributeError):
        pass


class TritonPythonModel:
    def initialize(self, args):
        keep_freed_memory()
        config = json.loads(args["model_config"])
        threads = int(config.get("parameters", {}).get("TORCH_NUM_THREADS", {}).get("string_value", "0") or 0)
        if threads <= 0:
            # Instances are separate processes; together they take half the cores this process
            # may use, leaving the rest to the clients (search workers) that usually share the
            # machine. Oversubscribed OpenMP threads spin and stall: with 2 threads on a 2-core
            # box beside its client, a 9x9 batch of 64 took 250 ms instead of 5 ms.
            instances = sum(group.get("count", 1) for group in config.get("instance_group", [])) or 1
            threads = max(1, len(os.sched_getaffinity(0)) // (2 * instances))
        torch.set_num_threads(threads)
        path = os.path.join(args["model_repository"], args["model_version"], "$model_file")
        self.module = torch.jit.load(path, map_location="cpu").eval()
        rows = int(config.get("parameters", {}).get("CPU_PASS_ROWS", {}).get("string_value", "0") or 0)
        if rows <= 0:  # measured here, on the CPU this instance runs on
            row_shape = [int(d) for d in config["input"][0]["dims"]]
            rows = fastest_rows(self.module, row_shape, max_rows=int(config["max_batch_size"]))
        self.pass_rows = rows

    def execute(self, requests):
        try:
            arrays = [pb_utils.get_input_tensor_by_name(r, INPUT).as_numpy() for r in requests]
            with torch.inference_mode():
                # Requests merged past the CPU's fastest batch run in pieces of it.
                logits, value = forward_in_pieces(self.module, torch.from_numpy(np.concatenate(arrays)),
                                                  self.pass_rows)
            logits = logits.to(torch.float32).numpy()
            value = value.to(torch.float32).numpy()
        except Exception as error:  # one broken batch must fail its requests, not the instance
            message = f"{type(error).__name__}: {error}"
            return [pb_utils.InferenceResponse(error=pb_utils.TritonError(message)) for _ in requests]
        responses, start = [], 0
        for array in arrays:
            end = start + array.shape[0]
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor(POLICY, np.ascontiguousarray(logits[start:end])),
                # [rows], as the network returns it; the config's reshape { shape: [ ] } makes
                # Triton send it as [rows, 1], exactly as for the libtorch flavour.
                pb_utils.Tensor(VALUE, np.ascontiguousarray(value[start:end])),
            ]))
            start = end
        return responses
''')


def render_python_model(spec: TritonModelSpec) -> str:
    """The model.py of the CPU flavour."""
    return _PYTHON_MODEL.substitute(input_name=INPUT_FEATURES, policy_name=OUTPUT_POLICY_LOGITS,
                                    value_name=OUTPUT_VALUE, model_file=MODEL_FILE,
                                    cpu_batches=inspect.getsource(cpu_batches),
                                    mmap_threshold=process_memory.MMAP_THRESHOLD,
                                    trim_threshold=process_memory.TRIM_THRESHOLD)


@contextmanager
def _torchscript_ok():
    """torch 2.13 deprecates torch.jit; TorchScript is still what the libtorch backend loads."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit\.")
        yield


def script_network(module_or_scripted: nn.Module, spec: TritonModelSpec) -> torch.jit.ScriptModule:
    """TorchScript of the network in eval mode on CPU, checked against the spec's wire format.

    Not frozen: freezing inlines weights as constants, which the libtorch backend's move to the
    GPU would leave behind on the CPU.
    """
    if isinstance(module_or_scripted, torch.jit.ScriptModule):
        scripted = module_or_scripted
    else:
        try:
            with _torchscript_ok():
                scripted = torch.jit.script(module_or_scripted.cpu().eval())
        except Exception as error:  # e.g. an ONNX checkpoint's wrapper: nothing TorchScript can compile
            raise ValueError(f"{type(module_or_scripted).__name__} cannot be compiled to TorchScript, which both "
                             f"flavours load: {str(error).splitlines()[0]}") from error
    scripted = scripted.eval()
    arguments = [a.name for a in scripted.forward.schema.arguments[1:]]  # [0] is self
    if arguments != [INPUT_FEATURES]:
        raise ValueError(f"the network's forward takes {arguments}; the libtorch backend binds the input by "
                         f"name, so it must take exactly one argument named '{INPUT_FEATURES}'")
    n = spec.board_size
    probe = torch.zeros(2, spec.input_planes, n, n)
    probe[:, 0] = 1.0  # on-board plane
    try:
        with torch.inference_mode():
            out = scripted(probe)
    except RuntimeError as error:
        raise ValueError(f"the network fails on a [2, {spec.input_planes}, {n}, {n}] batch (does the spec's "
                         f"input_planes match the network?): {error}") from error
    if not (isinstance(out, tuple) and len(out) == 2 and tuple(out[0].shape) == (2, n * n + 1)
            and tuple(out[1].shape) == (2,)):
        shapes = [tuple(t.shape) for t in out] if isinstance(out, tuple) else type(out).__name__
        raise ValueError(f"the network returns {shapes} for a [2, {spec.input_planes}, {n}, {n}] batch; expected "
                         f"(policy_logits [2, {n * n + 1}], value [2])")
    return scripted


def export_to_repository(module_or_scripted: nn.Module, spec: TritonModelSpec, repository: Path,
                         flavours: tuple[str, ...] = FLAVOURS, *, overwrite: bool = False) -> list[Path]:
    """Write the requested flavours of `spec` into `repository`; return their model directories.

    Refuses (FileExistsError, before writing anything) when a flavour's version already exists,
    unless overwrite=True. Other versions of the model are kept; config.pbtxt is replaced.
    """
    flavours = tuple(dict.fromkeys(flavours))
    if not flavours or any(f not in FLAVOURS for f in flavours):
        raise ValueError(f"flavours must be a non-empty subset of {FLAVOURS}, got {flavours!r}")
    repository = Path(repository)
    repository.mkdir(parents=True, exist_ok=True)
    existing = [repository / spec.model_name(f) / str(spec.version) for f in flavours
                if (repository / spec.model_name(f) / str(spec.version)).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"version {spec.version} already exists in {', '.join(map(str, existing))}; "
                              "pass overwrite=True to replace it")
    scripted = script_network(module_or_scripted, spec)
    written = []
    for flavour in flavours:
        model_dir = repository / spec.model_name(flavour)
        files = {MODEL_FILE: None}
        if flavour == "cpu":
            files["model.py"] = render_python_model(spec)
        written.append(_install(model_dir, spec.version, scripted, files, render_config(spec, flavour)))
    return written


def _install(model_dir: Path, version: int, scripted: torch.jit.ScriptModule, files: dict[str, str | None],
             config: str) -> Path:
    def fill(version_dir: Path) -> None:
        version_dir.mkdir()
        for name, text in files.items():
            if text is None:
                with _torchscript_ok():
                    torch.jit.save(scripted, str(version_dir / name))
            else:
                (version_dir / name).write_text(text)

    if not model_dir.exists():
        # A whole new model: build it beside its final place and rename it in one step, so the
        # model appears with its config and every file. (A server in poll mode that lists the
        # repository in that instant may try the hidden staging directory as a model of its own
        # and log a failure; the real model is never affected.)
        staging = Path(tempfile.mkdtemp(prefix=f".{model_dir.name}.staging-", dir=model_dir.parent))
        try:
            os.chmod(staging, 0o755)  # it becomes the model directory; mkdtemp makes 0700
            fill(staging / str(version))
            (staging / "config.pbtxt").write_text(config)
            os.rename(staging, model_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return model_dir
    # A new version of an existing model: stage inside the model directory, under a name that is
    # not a number (Triton ignores such directories), then rename it to the version number.
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=model_dir))
    target, retired = model_dir / str(version), None
    try:
        fill(staging / "v")
        if target.exists():  # overwrite=True: move the old version aside, then swap in the new
            retired = Path(tempfile.mkdtemp(prefix=".retired-", dir=model_dir))
            os.rename(target, retired / "v")
            try:
                os.rename(staging / "v", target)
            except BaseException:
                os.rename(retired / "v", target)  # put the old version back rather than lose it
                raise
        else:
            os.rename(staging / "v", target)
        write_atomically(model_dir / "config.pbtxt", lambda temp: Path(temp).write_text(config))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
    return model_dir
