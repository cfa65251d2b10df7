"""The web dashboard: static pages (plain HTML, vanilla JS, CSS, SVG charts drawn in the page) that
read the JSON API with fetch. Nothing is built and nothing is fetched from outside the server.

    /               -> /web/
    /web/           leaderboard with 95% intervals, head-to-head heatmap, live throughput
    /web/runs       Elo vs training step per run, Elo vs visits curves
    /web/tournaments  progress of every tournament, live throughput
    /web/games      recent games;  /web/games/{id}  the board viewer stepping through the SGF

The pages are public (they hold no data); what they show needs read access like any client: when
reads need a token, a page asks for one and keeps it in the browser's local storage.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse, RedirectResponse

router = APIRouter(include_in_schema=False)

STATIC = Path(str(resources.files("arena.web") / "static"))
PAGES = {"": "leaderboard.html", "runs": "runs.html", "tournaments": "tournaments.html", "games": "games.html"}
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


def _file(name: str) -> FileResponse:
    path = (STATIC / name).resolve()
    if path.parent != STATIC.resolve() or not path.is_file() or path.suffix not in _TYPES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no dashboard file {name!r}")
    return FileResponse(path, media_type=_TYPES[path.suffix], headers={"Cache-Control": "no-cache"})


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/web/")


@router.get("/web/")
def leaderboard() -> FileResponse:
    return _file(PAGES[""])


@router.get("/web/static/{name}")
def static_file(name: str) -> FileResponse:
    return _file(name)


@router.get("/web/games/{game_id}")
def viewer(game_id: int) -> FileResponse:  # noqa: ARG001 -- the page reads the id from its URL
    return _file("viewer.html")


@router.get("/web/{page}")
def page(page: str) -> FileResponse:
    if page not in PAGES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no dashboard page {page!r}")
    return _file(PAGES[page])


@router.get("/web")
def web_root() -> RedirectResponse:
    return RedirectResponse("/web/")
