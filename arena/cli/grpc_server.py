"""`arena grpc`: serve the gRPC API (proto/arena/v1/arena.proto) until interrupted.

    arena grpc                          # 127.0.0.1:50051; writes need a submit token
    arena grpc --host 0.0.0.0           # every interface: set ARENA_GRPC_TLS_CERT/KEY too
    arena grpc --open-writes            # writes without a token: only behind your own authentication

Reads follow the HTTP API's rule (a token when ARENA_API_PUBLIC_READS=false); open streams are
bounded by ARENA_GRPC_MAX_STREAMS and ARENA_GRPC_MAX_STREAMS_PER_PEER.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from .session import CliError

log = logging.getLogger(__name__)


def grpc_server(
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=1, max=65535)] = 50051,
    host: Annotated[str, typer.Option(help="Address to listen on ([::] or 0.0.0.0: every interface).")
                    ] = "127.0.0.1",
    poll_s: Annotated[float, typer.Option("--poll-s", help="How often open streams look for new games.",
                                          min=0.05)] = 0.5,
    open_writes: Annotated[bool, typer.Option("--open-writes", help="Accept writes without a bearer token "
                                              "(only behind your own authentication).")] = False,
) -> None:
    """Serve the gRPC API: register checkpoints, schedule tournaments, leaderboards, WatchGames/WatchRatings."""
    from arena.grpc.server import serve
    from arena.settings import get_settings

    settings = get_settings()
    if open_writes:
        # Loud on purpose: anyone who reaches the port may register checkpoints and create tournaments.
        message = (f"WARNING: gRPC writes are OPEN on {host}: RegisterCheckpoint and ScheduleTournament need no "
                   f"token (--open-writes)")
        log.warning(message)
        typer.secho(message, err=True, fg=typer.colors.RED, bold=True)
    try:
        server = serve(settings, port, host=host, poll_s=poll_s, open_writes=open_writes)
    except (ValueError, OSError) as exc:  # TLS settings, or an address one cannot listen on
        raise CliError(str(exc)) from None
    security = "TLS" if settings.grpc_tls_cert else "clear text"
    typer.echo(f"arena gRPC API on {host}:{server.port} ({security})", err=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        server.stop(grace=2.0).wait()
