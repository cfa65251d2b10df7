"""The web dashboard's static files (`static/`), served by `arena.api.routers.web`."""
