"""Serving a registered checkpoint from Triton: its model names, export and explicit loading.

A checkpoint's Triton models are named from its weights alone, so every process (the API that
registers it, the worker that plays it) finds the same name without asking anyone:

    checkpoint_model_name(sha256, board_size=9, flavour="gpu")  ->  "ckpt_<sha256[:16]>_b9"
    checkpoint_model_name(sha256, board_size=9, flavour="cpu")  ->  "ckpt_<sha256[:16]>_b9_cpu"

One model per board size (a Triton model has fixed input dims). 16 hex digits of the sha256
keep names short and collisions out of reach for any realistic number of checkpoints.

`publish_checkpoint` exports the network into the model repository (models.triton_export;
content-addressed, so an existing version is the same weights and is kept) and asks the server
to load it (`load_model`: the server runs with `--model-control-mode=explicit`). It never
raises for a server problem: it returns what it did and the error, so that callers decide
whether a failure matters (registration reports it; the worker raises).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

log = logging.getLogger(__name__)

MODEL_PREFIX = "ckpt_"
SHA_DIGITS = 16
LOAD_TIMEOUT_S = 120.0  # a Python-backend model imports torch in a fresh stub: seconds, more on a busy host
_SHA256 = re.compile(r"[0-9a-f]{64}")


def checkpoint_model_name(sha256: str, board_size: int, flavour: str = "gpu") -> str:
    """The Triton model name serving checkpoint `sha256` at `board_size` in `flavour` (gpu | cpu)."""
    from .triton_export import CPU_SUFFIX, FLAVOURS

    sha256 = sha256.lower()
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"a checkpoint sha256 is 64 hexadecimal digits, got {sha256!r}")
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}, got {flavour!r}")
    base = f"{MODEL_PREFIX}{sha256[:SHA_DIGITS]}_b{int(board_size)}"
    return base + (CPU_SUFFIX if flavour == "cpu" else "")


@dataclass
class Publication:
    """What `publish_checkpoint` did: the models it names, which were exported now, which loaded."""

    models: list[str] = field(default_factory=list)
    exported: list[str] = field(default_factory=list)  # written now (the others were already there)
    loaded: list[str] = field(default_factory=list)
    error: str | None = None  # the first failure, in words; None: every model is exported and loaded

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_json(self) -> dict:
        return {"models": self.models, "exported": self.exported, "loaded": self.loaded, "error": self.error}


def export_checkpoint(module, sha256: str, board_sizes: Sequence[int], repository: Path, flavour: str,
                      publication: Publication | None = None) -> Publication:
    """Export the network for each board size into `repository` (only the versions not yet there)."""
    from .triton_export import TritonModelSpec, export_to_repository

    publication = publication or Publication()
    for size in board_sizes:
        name = checkpoint_model_name(sha256, size, flavour)
        publication.models.append(name)
        # The GPU flavour's name is the spec's name; the CPU flavour appends "_cpu" itself.
        spec = TritonModelSpec(name=checkpoint_model_name(sha256, size, "gpu"), board_size=size)
        if (Path(repository) / name / str(spec.version)).exists():
            continue  # content-addressed: the same weights are there already
        export_to_repository(module, spec, Path(repository), flavours=(flavour,))
        publication.exported.append(name)
    return publication


def load_models(url: str, names: Sequence[str], *, timeout_s: float = LOAD_TIMEOUT_S,
                publication: Publication | None = None) -> Publication:
    """Ask the Triton server at `url` (gRPC host:port) to load each model; errors go in the result."""
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    publication = publication or Publication(models=list(names))
    client = grpcclient.InferenceServerClient(url=url)
    try:
        for name in names:
            try:
                client.load_model(name, client_timeout=timeout_s)
            except InferenceServerException as exc:
                publication.error = f"Triton at {url} did not load {name}: {exc.message()}"
                return publication
            publication.loaded.append(name)
    finally:
        client.close()
    return publication


def publish_checkpoint(module, sha256: str, board_sizes: Sequence[int], repository: Path | None, url: str | None,
                       *, flavour: str = "gpu", timeout_s: float = LOAD_TIMEOUT_S) -> Publication:
    """Export (when `repository` is given) and load (when `url` is given) a checkpoint's models.

    Never raises for an export or server failure: `Publication.error` says what went wrong.
    """
    publication = Publication()
    try:
        if repository is not None:
            export_checkpoint(module, sha256, board_sizes, repository, flavour, publication)
        else:
            publication.models = [checkpoint_model_name(sha256, s, flavour) for s in board_sizes]
    except (OSError, ValueError, RuntimeError) as exc:
        publication.error = f"export to {repository} failed: {exc}"
        return publication
    if url is not None:
        load_models(url, publication.models, timeout_s=timeout_s, publication=publication)
    if publication.error:
        log.warning("checkpoint %s: %s", sha256[:12], publication.error)
    return publication
