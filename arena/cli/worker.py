"""`arena worker` and `arena scheduler`: the two long-running processes of a deployment."""

from __future__ import annotations

from typing import Annotated

import typer


def worker(
    pool: Annotated[str, typer.Option(help="Celery pool: solo (one block at a time in this process) or "
                                           "prefork (--processes blocks at once).")] = "solo",
    processes: Annotated[int, typer.Option(help="Worker processes for the prefork pool.", min=1, max=256)] = 1,
    torch_threads: Annotated[int, typer.Option("--torch-threads", help="torch threads per worker process.",
                                               min=1, max=256)] = 1,
    games_at_once: Annotated[int | None, typer.Option("--games-at-once", help="Games of a block in play at once "
                                                      "(default: the whole block).", min=1)] = None,
    name: Annotated[str | None, typer.Option(help="Worker node name (Celery -n).")] = None,
    loglevel: Annotated[str, typer.Option(help="Log level.")] = "INFO",
) -> None:
    """Play blocks of games from the queue (Redis with ARENA_BROKER_URL, else the filesystem broker)."""
    import torch

    from arena import worker as arena_worker
    from arena.server_engines import server_engines
    from arena.settings import get_settings

    if pool not in ("solo", "prefork", "threads"):
        raise typer.BadParameter("one of solo, prefork, threads", param_hint="--pool")
    settings = get_settings()
    problem = arena_worker.stall_limit_problem(settings, server_engines(settings))
    if problem:
        typer.echo(f"arena worker: {problem}", err=True)
        raise typer.Exit(2)
    torch.set_num_threads(torch_threads)
    app = arena_worker.make_celery()
    arena_worker.games_at_once = games_at_once
    arena_worker.solo_exits_when_stuck = pool == "solo"
    argv = ["worker", "--pool", pool, "--loglevel", loglevel, "-Q", arena_worker.QUEUE,
            "--without-gossip", "--without-mingle"]
    if pool != "solo":
        argv += ["--concurrency", str(processes)]
    if name:
        argv += ["-n", name]
    app.worker_main(argv)


def scheduler(
    poll: Annotated[float, typer.Option(help="Seconds between two passes.", min=0.1)] = 2.0,
    block_size: Annotated[int, typer.Option(help="Games per block sent to a worker.", min=1, max=1024)] = 32,
) -> None:
    """Advance and dispatch every running tournament, forever (stateless: restart it at will).

    Games a dead worker held come back once their lease expires (ARENA_LEASE_S), games queued and
    claimed by nobody after ARENA_QUEUE_TIMEOUT_S; a game that used ARENA_MAX_BLOCK_ATTEMPTS is
    marked failed (docs/operations.md, "Leases and failed games")."""
    from arena.cli.session import cli_context
    from arena.scheduler import run_scheduler

    def show(report) -> None:
        for p in report.values():
            failed = f" ({p.failed} failed)" if p.failed else ""
            typer.echo(f"tournament {p.tournament_id} {p.name}: {p.finished}/{p.scheduled}{failed} {p.status}", err=True)

    run_scheduler(None, context=cli_context(), poll_s=poll, block_size=block_size, on_progress=show,
                  until_done=False)
