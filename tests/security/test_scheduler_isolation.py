"""Hostile case: one tournament stopped the scheduler for all.

Before: a tournament whose dispatch failed (stored with a komi the workers refuse, or a broker
refusing its blocks) raised out of `scheduler_pass`, so `arena scheduler` exited on every pass
and no other tournament advanced. Now each tournament's failure is logged, recorded on it as a
fixed client-safe sentence (`last_error`, shown as the progress's `error`), and the pass goes on.
"""

from __future__ import annotations

import logging

import pytest
from kombu.exceptions import EncodeError
from sqlalchemy import func, select, update

from arena.db.connection import session_factory, session_scope
from arena import scheduler
from arena.db.models import ScheduledGame, Tournament
from arena.scheduler import FAILED, scheduler_pass
from search_workers.schemas import BlockPayload
from tests.security.arena_app import (  # noqa: F401 -- fixtures
    admin_url, client, db_url, engine, headers, settings, tokens, tournament_config)

SECRET = "redis://arena:hunter2@10.0.0.7:6379/0 refused"


class _Broker:
    """A Celery app whose broker refuses the blocks of the tournaments in `refused` (a refusal of
    those blocks alone, not an outage: an outage ends the pass and the scheduler backs off, see
    tests/arena/test_scheduler_outages.py)."""

    def __init__(self, refused: set[int]):
        self.refused, self.sent = refused, []

    def send_task(self, name, args, queue):
        payload = args[0]
        if payload["tournament_id"] in self.refused:
            raise EncodeError(SECRET)
        self.sent.append(payload)


def _create(client, headers, name: str) -> int:  # noqa: F811
    # No broker behind this client: its first dispatch fails too, leaving the games to the scheduler.
    response = client.post("/tournaments", json=tournament_config(name, games_per_pairing=4),
                           headers=headers["submit"])
    assert response.status_code == 201, response.text
    return response.json()["tournament"]["progress"]["tournament_id"]


def _undispatched(engine, tournament_id: int) -> int:  # noqa: F811
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(ScheduledGame).where(
            ScheduledGame.tournament_id == tournament_id, ScheduledGame.dispatched_at.is_(None)))


def _reset_dispatch(engine, *ids: int) -> None:  # noqa: F811
    with session_scope(engine) as session:
        session.execute(update(ScheduledGame).where(ScheduledGame.tournament_id.in_(ids)).values(dispatched_at=None))


def _error(client, headers, tournament_id: int) -> dict:  # noqa: F811
    response = client.get(f"/tournaments/{tournament_id}", headers=headers["read"])
    assert response.status_code == 200, response.text
    return response.json()["progress"]


def test_a_tournament_whose_dispatch_fails_does_not_stop_the_others(client, headers, engine,  # noqa: F811
                                                                     caplog) -> None:
    failing, fine = _create(client, headers, "refused-by-broker"), _create(client, headers, "fine")
    _reset_dispatch(engine, failing, fine)
    broker = _Broker(refused={failing})
    with caplog.at_level(logging.ERROR, logger="arena.scheduler"):
        report = scheduler_pass(session_factory(engine), broker, [failing, fine])
    assert set(report) == {failing, fine}
    assert _undispatched(engine, fine) == 0 and sum(len(p["games"]) for p in broker.sent) == 4
    assert all(BlockPayload.model_validate(p).tournament_id == fine for p in broker.sent)
    assert _undispatched(engine, failing) == 4  # its marks rolled back with the failed send
    progress = _error(client, headers, failing)
    assert progress["error"] == FAILED["dispatch"] and progress["error_at"] is not None
    assert report[failing].error == FAILED["dispatch"]
    for leak in ("hunter2", "10.0.0.7", "EncodeError", "redis"):
        assert leak not in str(progress)
    assert _error(client, headers, fine)["error"] is None
    assert SECRET in caplog.text  # the operator's log has the details


def test_a_stored_configuration_the_server_no_longer_accepts_is_isolated(client, headers, engine) -> None:  # noqa: F811
    """A tournament stored before the game contract (komi 1000): its blocks cannot be built (its
    games are unfinished, so advancing has nothing to do), and only it fails."""
    stale, fine = _create(client, headers, "stale-komi"), _create(client, headers, "fine-too")
    _reset_dispatch(engine, stale, fine)
    with session_scope(engine) as session:
        tournament = session.get(Tournament, stale)
        tournament.configuration = {**tournament.configuration, "komi": 1000}
    broker = _Broker(refused=set())
    report = scheduler_pass(session_factory(engine), broker, [stale, fine])
    assert report[stale].error == FAILED["dispatch"] and "1000" not in report[stale].error
    assert report[stale].status == "running"
    assert _undispatched(engine, fine) == 0 and _undispatched(engine, stale) == 4


@pytest.mark.parametrize("stage", ["advance", "dispatch"])
def test_a_failure_recording_its_error_still_ends_the_pass(client, headers, engine,  # noqa: F811
                                                           monkeypatch, stage) -> None:
    """Even when the database refuses the error note, the pass returns (the log has both)."""
    tid = _create(client, headers, f"unrecordable-{stage}")

    def broken(*args, **kwargs):
        raise RuntimeError("no database")

    monkeypatch.setattr(scheduler, stage, broken)
    monkeypatch.setattr(scheduler, "record_error", broken)
    report = scheduler_pass(session_factory(engine), _Broker(refused=set()), [tid])
    assert report[tid].status == "running" and report[tid].error is None
