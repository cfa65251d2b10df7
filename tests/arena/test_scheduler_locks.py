"""A tournament whose row another session keeps locked (a psql session left open inside a
transaction) pauses that tournament alone: a real `arena scheduler` process goes on dispatching
the others, and the locked one once the lock is gone."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from arena.db.outage import is_database_outage
from tests.arena.db.conftest import admin_url, db_url  # noqa: F401 -- a fresh database per module
from tests.support.processes import start_arena, stop_process, wait_for
from tests.support.scheduled import all_dispatched, fake_round_robin


def test_a_locked_tournament_pauses_alone(db_url, tmp_path: Path) -> None:  # noqa: F811
    locked = fake_round_robin(db_url, "locked-by-an-open-psql")
    # An operator's session, which none of the arena's timeouts govern: the row stays locked.
    holder = psycopg.connect(make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False))
    holder.execute("SELECT id FROM tournaments WHERE id = %s FOR UPDATE", (locked,))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(ARENA_DATABASE_URL=db_url, ARENA_DATA_DIR=str(tmp_path / "data"))
    log = tmp_path / "scheduler.log"
    scheduler = start_arena(["scheduler", "--poll", "0.3"], env, log)
    try:
        free = fake_round_robin(db_url, "free")
        wait_for(lambda: all_dispatched(db_url, free), 60, "the free tournament dispatched", [log])
        assert not all_dispatched(db_url, locked)
        assert f"tournament {locked}: advance failed" in log.read_text()
        holder.rollback()  # the operator's session ends its transaction
        wait_for(lambda: all_dispatched(db_url, locked), 60, "the locked tournament dispatched once free", [log])
        assert scheduler.poll() is None
    finally:
        holder.close()
        stop_process(scheduler)


def test_a_lock_timeout_is_not_an_outage() -> None:
    assert not is_database_outage(psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"))
