"""`/engines`: the external engines this server may run, by name (never a command from a client)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from ..deps import EnginesDep, ReadAccess

router = APIRouter(prefix="/engines", tags=["engines"], dependencies=[ReadAccess])


@dataclass(frozen=True)
class EngineInfo:
    name: str
    kind: str  # a preset (gnugo, katago, leela-zero) or "command"
    board_sizes: list[int]


@router.get("", summary="Engines configured on this server")
def list_engines(engines: EnginesDep) -> list[EngineInfo]:
    return [EngineInfo(name=name, kind=getattr(spec, "preset", None) or "command",
                       board_sizes=sorted(spec.playable_sizes)) for name, spec in sorted(engines.items())]
