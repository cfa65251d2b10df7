"""`arena api`: serve the HTTP API (uvicorn; OpenAPI at /docs).

    arena api --host 0.0.0.0 --port 8000
"""

from __future__ import annotations

from typing import Annotated

import typer


def api(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.", min=1)] = 1,
) -> None:
    """Serve the HTTP API (writes need a token from `arena token create`)."""
    import uvicorn

    if workers == 1:
        from arena.api import create_app

        uvicorn.run(create_app(), host=host, port=port)
    else:  # several processes import the app by name, each making its own
        uvicorn.run("arena.api.app:create_app", factory=True, host=host, port=port, workers=workers)
