"""The HTTP API (FastAPI; OpenAPI at /docs): one router per resource under `routers/`, the
dependencies they share in `deps.py`, the application factory in `app.py`."""

from .app import ROUTERS, create_app

__all__ = ["ROUTERS", "create_app"]
