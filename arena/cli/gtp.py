"""`arena gtp`: one of our checkpoints as a GTP engine on stdin/stdout.

    arena gtp --checkpoint demo-9x9-s002000 --visits 64

Sabaki, GoGui, gogui-twogtp or another arena run it as an engine command line. Nothing but
GTP goes to stdout: the GTP stream gets its own copy of the stdout file descriptor, and fd 1
itself (with `sys.stdout`) is pointed at stderr before torch is imported, so logs, warnings
and any stray print or native-library output land on stderr instead of corrupting the protocol.
"""

from __future__ import annotations

import io
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from arena import __version__

if TYPE_CHECKING:  # imported when the command runs: `arena --help` stays quick
    from search_workers.engines.gtp_server import GtpServer
    from search_workers.go import Rules

DEMO_ALIAS = "demo"  # the newest demo checkpoint


class CheckpointNotFoundError(LookupError):
    """No checkpoint answers to a name; the message lists every place that was tried."""


def resolve_checkpoint(name: str) -> Path:
    """The manifest (or weights file) path that `--checkpoint NAME` means.

    Tried in order: a path to a manifest or weights file; a directory (its newest
    checkpoint by training step); the name of a committed demo checkpoint, or `demo` for the
    newest; last, a checkpoint registered in the database (name, sha256 or unique sha256
    prefix), loaded from the checkpoint store. The database is opened only for that last try.
    """
    from models.demo import DEMO_DIR, demo_manifests

    tried = []
    path = Path(name).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        manifests = demo_manifests(path)  # any directory of manifests, sorted by training step
        if manifests:
            return manifests[-1]
        tried.append(f"directory {path}: holds no checkpoint manifest")
    else:
        tried.append(f"path {path}: no such file or directory")
    demos = demo_manifests()
    if name == DEMO_ALIAS and demos:
        return demos[-1]
    for manifest in demos:
        if name in (manifest.stem, manifest.name):
            return manifest
    names = ", ".join(m.stem for m in demos) or "none"
    tried.append(f"demo checkpoints in {DEMO_DIR}: {names} (or {DEMO_ALIAS!r} for the newest)")
    from .checkpoint import registered_manifest
    from .session import CliError

    try:
        return registered_manifest(name)
    except CliError as err:
        tried.append(f"registered checkpoints: {err}")
    raise CheckpointNotFoundError(f"no checkpoint {name!r}; tried:\n  " + "\n  ".join(tried))


def gtp(
    checkpoint: Annotated[str, typer.Option("--checkpoint", help="Manifest/weights path, a directory of "
                                            "checkpoints (the newest), a demo checkpoint name ('demo': "
                                            "the newest), or a registered checkpoint's name or sha256.")],
    visits: Annotated[int, typer.Option(help="Playouts per move: the engine's strength.", min=1,
                                        max=1_000_000)] = 64,
    seed: Annotated[int, typer.Option(help="Seeds the search's random choices.", min=0)] = 0,
    threads: Annotated[int | None, typer.Option(help="Torch CPU threads (default: torch's choice).",
                                                min=1)] = None,
    rules: Annotated[str, typer.Option(help="Rules until the controller sets others (chinese, "
                                       "tromp-taylor, japanese, ...); scoring is always by area.")] = "chinese",
    komi: Annotated[float, typer.Option(help="Komi until the controller sends `komi`.")] = 7.5,
    device: Annotated[str | None, typer.Option(help="Torch device (default: CUDA if present, else CPU).")] = None,
) -> None:
    """Speak GTP on stdin/stdout as the checkpoint searching VISITS playouts a move."""
    gtp_out = _claim_stdout()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="arena gtp: %(message)s")
    from search_workers.go import Rules, RulesError

    try:
        path = resolve_checkpoint(checkpoint)
        game_rules = Rules.from_sgf(rules, komi=komi)
    except CheckpointNotFoundError as err:
        raise typer.BadParameter(str(err), param_hint="--checkpoint") from None
    except RulesError as err:
        raise typer.BadParameter(str(err), param_hint="--rules/--komi") from None
    server = _build_server(path, visits=visits, seed=seed, threads=threads, rules=game_rules, device=device)
    try:
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        server.serve(stdin, gtp_out)
    finally:
        server.close()
        gtp_out.flush()


def _build_server(path: Path, *, visits: int, seed: int, threads: int | None, rules: Rules,
                  device: str | None) -> GtpServer:
    """Load the checkpoint and wrap it in a GtpServer (one evaluator per board size it plays)."""
    import torch

    from models.checkpoint import CheckpointError, load_checkpoint
    from search_workers.engines.gtp_server import GtpServer
    from search_workers.evaluators import TorchEvaluator
    from search_workers.search import SearchConfig

    if threads is not None:
        torch.set_num_threads(threads)
    try:
        loaded = load_checkpoint(path, allow_executable=True)  # the operator's own file
    except (CheckpointError, OSError) as err:
        raise typer.BadParameter(str(err), param_hint="--checkpoint") from None
    name = loaded.manifest.name
    evaluators = {n: TorchEvaluator(loaded.module, board_size=n, device=device, name=name)
                  for n in loaded.board_sizes}
    logging.getLogger(__name__).info("%s (sha256 %s) on %s, board sizes %s, %d visits a move", name,
                                     loaded.sha256[:12], next(iter(evaluators.values())).device,
                                     list(loaded.board_sizes), visits)
    return GtpServer(evaluators, SearchConfig(visits=visits, seed=seed), name="Go Arena",
                     version=f"{__version__} {name} sha256:{loaded.sha256[:12]} visits:{visits}", rules=rules)


def _claim_stdout() -> TextIO:
    """A text stream on a private copy of stdout for GTP; fd 1 and sys.stdout then go to stderr.

    When stdout is not a real file descriptor (typer's test runner) it is used as it is.
    """
    try:
        sys.stdout.flush()
        if sys.stdout.fileno() != 1:
            return sys.stdout
    except (AttributeError, OSError, io.UnsupportedOperation):
        return sys.stdout
    gtp_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return io.TextIOWrapper(os.fdopen(gtp_fd, "wb"), encoding="utf-8", newline="\n")
