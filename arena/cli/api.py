"""`arena api`: serve the HTTP API (uvicorn; OpenAPI at /docs).

    arena api --host 0.0.0.0 --port 8000 --workers 4

Each worker is a process with its own database pools; request counts and latency by route are
on /metrics, so the per-request access log is off unless asked for (`--access-log`): at a
thousand requests a second it costs the server a tenth of its time.
"""

from __future__ import annotations

from typing import Annotated

import typer


def api(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.", min=1)] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request (uvicorn's access log).")] = False,
) -> None:
    """Serve the HTTP API (writes need a token from `arena token create`)."""
    import uvicorn

    # A factory by name: with several workers each process makes (and freezes) its own app.
    uvicorn.run("arena.api.app:serving_app", factory=True, host=host, port=port, workers=workers,
                access_log=access_log)
