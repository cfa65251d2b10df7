"""`/workers`: the worker processes the arena has heard from, and whether each is alive.

A worker writes its row at every heartbeat (every ARENA_LEASE_S / 4 seconds while it runs,
search_workers.leases); it is alive while its last heartbeat is within one lease and it has not
said it stopped. A worker that died keeps its row (alive: false) until an operator clears it.
"""

from __future__ import annotations

from fastapi import APIRouter

from arena import leases

from ..deps import ReadAccess, SessionDep, SettingsDep

router = APIRouter(prefix="/workers", tags=["workers"], dependencies=[ReadAccess])


@router.get("", summary="Worker processes: last heartbeat, blocks and games in hand, games stored, alive")
def list_workers(session: SessionDep, settings: SettingsDep) -> list[leases.WorkerInfo]:
    return leases.list_workers(session, lease_s=settings.lease_s)
