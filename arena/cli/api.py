"""`arena api`: serve the HTTP API (uvicorn; OpenAPI at /docs).

    arena api --host 0.0.0.0 --port 8000 --workers 4

Each worker is a process with its own database pools and its own listening socket on the shared
port (SO_REUSEPORT: the kernel spreads connections evenly, see arena.api.serve); request counts
and latency by route are on /metrics, so the per-request access log is off unless asked for
(`--access-log`): at a thousand requests a second it costs the server a tenth of its time.
"""

from __future__ import annotations

from typing import Annotated

import typer


def api(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.", min=1, max=64)] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request (uvicorn's access log).")] = False,
) -> None:
    """Serve the HTTP API (writes need a token from `arena token create`)."""
    from arena.api.serve import ListenError, serve

    # Several workers: each process listens on its own socket, the kernel spreading connections
    # evenly between them (arena.api.serve).
    try:
        serve(host=host, port=port, workers=workers, access_log=access_log)
    except ListenError as exc:
        typer.echo(f"arena api: {exc}", err=True)
        raise typer.Exit(1) from None
