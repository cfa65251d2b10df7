"""`arena grpc`: serve the gRPC API (proto/arena/v1/arena.proto) until interrupted."""

from __future__ import annotations

from typing import Annotated

import typer


def grpc_server(
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=1, max=65535)] = 50051,
    host: Annotated[str, typer.Option(help="Address to listen on ([::] is every interface).")] = "[::]",
    poll_s: Annotated[float, typer.Option("--poll-s", help="How often open streams look for new games.",
                                          min=0.05)] = 0.5,
    open_writes: Annotated[bool, typer.Option("--open-writes", help="Accept writes without a bearer token "
                                              "(only behind your own authentication).")] = False,
) -> None:
    """Serve the gRPC API: register checkpoints, schedule tournaments, leaderboards, WatchGames/WatchRatings."""
    from arena.db.engine import database_url, make_engine
    from arena.grpc.server import allow_all, bearer_tokens, serve
    from arena.settings import get_settings

    settings = get_settings()
    authorize = allow_all if open_writes else bearer_tokens(make_engine(database_url(settings)))
    server = serve(settings, port, host=host, poll_s=poll_s, authorize=authorize)
    typer.echo(f"arena gRPC API on {host}:{server.port}", err=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        server.stop(grace=2.0).wait()
