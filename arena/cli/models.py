"""`arena models ...`: what the arena does with a checkpoint file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Checkpoints: inspect and export to Triton.", no_args_is_help=True)


@app.command("export")
def export(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint manifest (.json) or weights file.")],
    repository: Annotated[Path, typer.Option("--repository", help="Triton model repository directory.")],
    name: Annotated[str | None, typer.Option(help="Model name; default: the checkpoint's name.")] = None,
    board_size: Annotated[int | None, typer.Option("--board-size", help="Default: the checkpoint's first.")] = None,
    flavour: Annotated[str, typer.Option(help="gpu (libtorch), cpu (Python backend) or both.")] = "both",
    max_batch_size: Annotated[int, typer.Option(min=1, max=65536)] = 256,
    instances: Annotated[int, typer.Option(help="Model instances (per GPU for the gpu flavour).", min=1)] = 1,
    queue_delay_us: Annotated[int | None, typer.Option(
        help="Dynamic batcher's max queue delay; default: registration's (TritonModelSpec).", min=0)] = None,
    cpu_pass_rows: Annotated[int, typer.Option(
        help="cpu flavour: rows per forward pass, larger merged batches run in pieces; 0 measures the "
             "fastest when the model loads.", min=0, max=65536)] = 0,
    version: Annotated[int, typer.Option(min=1)] = 1,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing version.")] = False,
) -> None:
    """Write a Triton model repository entry (config.pbtxt + TorchScript) for a checkpoint."""
    from models.checkpoint import CheckpointError, load_checkpoint
    from models.triton_export import TritonModelSpec, export_to_repository

    flavours = {"both": ("gpu", "cpu"), "gpu": ("gpu",), "cpu": ("cpu",)}.get(flavour)
    if flavours is None:
        raise typer.BadParameter("must be gpu, cpu or both", param_hint="--flavour")
    try:
        loaded = load_checkpoint(checkpoint, allow_executable=True)  # the operator's own file
    except (CheckpointError, FileNotFoundError) as err:
        raise typer.BadParameter(str(err), param_hint="CHECKPOINT") from None
    size = board_size or loaded.board_sizes[0]
    if size not in loaded.board_sizes:
        raise typer.BadParameter(f"{loaded.manifest.name} plays {list(loaded.board_sizes)}, not {size}",
                                 param_hint="--board-size")
    # The batcher's policy is registration's own (TritonModelSpec's defaults, chosen with
    # `arena bench triton --workers 4`; models/triton_export.py says why): no preferred sizes.
    batcher = {} if queue_delay_us is None else {"max_queue_delay_microseconds": queue_delay_us}
    try:
        spec = TritonModelSpec(name=name or loaded.manifest.name.replace(".", "_"), board_size=size,
                               max_batch_size=max_batch_size, instance_count=instances,
                               cpu_pass_rows=cpu_pass_rows, version=version, **batcher)
        written = export_to_repository(loaded.module, spec, repository, flavours=flavours, overwrite=overwrite)
    except (ValueError, FileExistsError) as err:
        raise typer.BadParameter(str(err)) from None
    for path in written:
        typer.echo(f"wrote {path} (checkpoint sha256 {loaded.sha256[:12]})")
