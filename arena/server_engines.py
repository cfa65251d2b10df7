"""The GTP engines this server may run, from server-side configuration only (ARCHITECTURE.md).

`ARENA_ENGINES_FILE` when set, else the built-in GNU Go presets when GNU Go is installed. The
arena's context (arena.context) reads them once per process; workers (arena.worker) too.
"""

from __future__ import annotations

from search_workers.engines.config import EngineSpec, find_binary, load_engine_config, parse_engine_config

from arena.settings import Settings

__all__ = ["server_engines"]


def server_engines(settings: Settings) -> dict[str, EngineSpec]:
    """The engines this server may run: `ARENA_ENGINES_FILE`, else the built-in GNU Go presets
    (`gnugo` at level 10, also the dead-stone referee, and `gnugo-l1`) when GNU Go is installed."""
    if settings.engines_file:
        return load_engine_config(settings.engines_file)
    if "/" not in find_binary("gnugo"):
        return {}
    return parse_engine_config({"engine": [
        {"name": "gnugo", "preset": "gnugo", "level": 10},
        {"name": "gnugo-l1", "preset": "gnugo", "level": 1},
    ]}, source="built-in engines")
