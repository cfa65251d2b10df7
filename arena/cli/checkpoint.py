"""`arena checkpoint ...`: register checkpoints (store + database) and list them.

    arena checkpoint register models/demo_checkpoints/demo-9x9-s002000.json
    arena checkpoint list

A registered checkpoint is copied, verified, into the content-addressed store
(`arena.checkpoint_store`, under `Settings.checkpoint_root()`) and recorded in the database with
its manifest, run, training step and parent. Elsewhere it is named by its name (a name keeps
the weights it was first registered with), its sha256, or a unique sha256 prefix of 8 digits or
more. TorchScript and ONNX exports may be registered here, by the operator, from files they
trust: unlike safetensors they run code when loaded, so the HTTP and gRPC APIs refuse them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .console import NAME_COLUMN, cli_console
from .session import CliError, cli_context, cli_session

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from arena.db.models import Checkpoint

app = typer.Typer(help="Checkpoints: register (verify, store, record) and list.", no_args_is_help=True)


class CheckpointRefError(CliError, LookupError):
    """A checkpoint reference that names no registered checkpoint (or several)."""


def find_checkpoint(session: Session, ref: str) -> Checkpoint:
    """The registered checkpoint `ref` names (name, sha256 or unique prefix); see arena.db.checkpoint_queries."""
    from arena.db import checkpoint_queries, lookup

    try:
        return checkpoint_queries.find_checkpoint(session, ref)
    except lookup.LookupFailedError as err:
        raise CheckpointRefError(str(err)) from None


def registered_manifest(ref: str) -> Path:
    """The stored manifest of the registered checkpoint `ref`; CheckpointRefError if none.

    Opens the database only when the store exists (nothing can be registered otherwise), and
    never creates an embedded server just to look a name up.
    """
    from arena.checkpoint_store import CheckpointNotStoredError, stored_manifest
    from arena.db.embedded import pgdata_path
    from arena.settings import get_settings

    settings = get_settings()
    root = settings.checkpoint_root()
    if not root.is_dir():
        raise CheckpointRefError(f"no checkpoint store at {root}: nothing is registered")
    if not settings.database_url and not pgdata_path(settings.data_dir).is_dir():
        raise CheckpointRefError(f"no database configured (ARENA_DATABASE_URL) and no embedded one in "
                                 f"{settings.data_dir}: nothing is registered")
    with cli_session() as session:
        sha256 = find_checkpoint(session, ref).sha256
    try:
        return stored_manifest(sha256, root=root)
    except CheckpointNotStoredError as err:
        raise CheckpointRefError(str(err)) from None


@app.command("register")
def register(
    path: Annotated[Path, typer.Argument(help="The checkpoint's manifest (NAME.json) or weights file.")],
    name: Annotated[str | None, typer.Option(help="Name to register it under; default: the manifest's.")] = None,
) -> None:
    """Verify a checkpoint, copy it into the store and record it (a no-op if already registered).

    The operator's own files: TorchScript and ONNX exports are accepted here (and only here), and
    they run code when loaded, so register only files you trust."""
    from arena.checkpoint_store import Admission
    from arena.checkpoints import CheckpointNameTaken, register_checkpoint_file
    from models.checkpoint import CheckpointError

    if name is not None and not name.strip():
        raise typer.BadParameter("must not be empty", param_hint="--name")
    context = cli_context()
    settings = context.settings
    with cli_session() as session:
        try:  # a refusal stores and records nothing
            registration = register_checkpoint_file(session, path, context=context,
                                                    admission=Admission.operator(settings), name=name)
        except (CheckpointError, OSError) as err:
            raise CliError(f"checkpoint refused, nothing stored or registered: {err}") from None
        except CheckpointNameTaken as err:
            raise CliError(f"checkpoint refused, nothing stored or registered: {err}") from None
        row = registration.checkpoint
        summary = f"{row.name} (id {row.id}, sha256 {row.sha256[:12]}, {registration.stored.manifest_path})"
    if registration.dropped_parent is not None:
        typer.echo(f"note: parent {registration.dropped_parent[:12]} is not registered; registering without a "
                   f"parent", err=True)
    if not registration.created:
        typer.echo(f"already registered: {summary}")
    else:
        typer.echo(f"registered {summary}")
    if registration.triton is not None:
        if registration.triton.ok:
            typer.echo(f"Triton: {', '.join(registration.triton.models)} exported and loaded")
        else:
            typer.echo(f"warning: registered, but Triton does not serve it yet (workers will retry): "
                       f"{registration.triton.error}", err=True)
    if registration.gauntlet_id is not None:
        typer.echo(f"enrolled in gauntlet tournament {registration.gauntlet_id} (`arena scheduler` sends its games)")
    elif registration.gauntlet_error is not None:
        typer.echo(f"warning: registered, but not enrolled: {registration.gauntlet_error}", err=True)


@app.command("list")
def list_() -> None:
    """Registered checkpoints, oldest first."""
    from rich.table import Table

    from arena.db import checkpoint_queries, lookup

    with cli_session() as session:
        rows = checkpoint_queries.list_checkpoints(session)
    if not rows:
        typer.echo("no checkpoints registered (`arena checkpoint register PATH`)")
        return
    table = Table(title=f"{len(rows)} registered checkpoint{'s' if len(rows) != 1 else ''}")
    for column, justify in (("id", "right"), ("name", "left"), ("run", "left"), ("step", "right"),
                            ("sha256", "left"), ("board sizes", "left"), ("created", "left")):
        table.add_column(column, **(NAME_COLUMN if column in ("name", "run") else {"justify": justify}))
    for c in rows:
        table.add_row(str(c.id), c.name, c.run_name or "", "" if c.training_step is None else str(c.training_step),
                      c.sha256[:12], ", ".join(map(str, c.board_sizes)),
                      c.created_at.strftime("%Y-%m-%d %H:%M:%S"))
    cli_console().print(table)
