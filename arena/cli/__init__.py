"""The `arena` command line. One module per command group; this file only assembles them.

Command modules import their heavy dependencies (torch, SQLAlchemy, Celery, the API) inside the
command that needs them, so that `arena --help` and light commands start in a fraction of a
second; the wiring itself is built in one place, `arena.context` (`cli_context` in `session.py`).
"""

from __future__ import annotations

import typer

from arena import __version__

from . import bench, checkpoint, db, demo, gtp, grpc_server, models, results, tournament, worker
from . import api, reference, replay, token

app = typer.Typer(
    name="arena",
    help="Go Arena: rate Go-playing network checkpoints with MCTS matches and honest Elo.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(bench.app, name="bench")
app.add_typer(models.app, name="models")
app.add_typer(db.app, name="db")
app.command("demo")(demo.demo)
app.command("gtp")(gtp.gtp)
app.add_typer(checkpoint.app, name="checkpoint")
app.command("leaderboard")(results.leaderboard)
app.command("games")(results.games)
app.command("sgf")(results.sgf)
app.command("export")(results.export)
app.command("replay")(replay.replay)
app.add_typer(tournament.app, name="tournament")
app.add_typer(tournament.engine_app, name="engine")
app.command("worker")(worker.worker)
app.command("scheduler")(worker.scheduler)
app.command("api")(api.api)
app.add_typer(token.app, name="token")
app.add_typer(reference.app, name="reference")
app.command("grpc")(grpc_server.grpc_server)


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(__version__)
