"""Hostile case: a cancelled tournament kept its workers busy.

Before: cancelling only stopped scheduling; blocks already sent were played to their end (a
100,000-game tournament cancelled by its owner still held every worker). Now the task asks the
database for the tournament's status at block start and between games, and stops: the games
stored stay, the rest are not played. Real PostgreSQL, the real database sink, the task function.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from arena.checkpoint_store import store_checkpoint
from arena.db.connection import session_scope
from arena.db.models import FinishedGame, ScheduledGame, Tournament
from arena.db.repository import get_or_create_checkpoint
from arena.scheduling import RoundRobinConfig
from arena.tournaments import cancel, create_tournament, dispatch
from arena.worker import DatabaseSink
from models.demo import demo_manifests
from search_workers import tasks
from search_workers.schemas import FinishedGameRecord
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module

GAMES = 6


@pytest.fixture(scope="module")
def store(engine, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:  # noqa: F811
    """A checkpoint store with the two newest demo checkpoints, registered; their names."""
    root = tmp_path_factory.mktemp("store")
    names = []
    with session_scope(engine) as session:
        for path in demo_manifests()[-2:]:
            stored = store_checkpoint(path, root=root)
            get_or_create_checkpoint(session, sha256=stored.sha256, name=stored.name,
                                manifest=stored.manifest.model_dump(mode="json"))
            names.append(stored.name)
    return root, names


def _block(engine, names: list[str], tournament: str) -> tuple[int, dict]:  # noqa: F811
    """A tournament of GAMES games between the two checkpoints, sent as one block: (id, payload)."""
    config = RoundRobinConfig(name=tournament, format="round-robin", board_size=9, rules="chinese",
                              move_limit=60, games_per_pairing=GAMES, participants=[
                                  {"name": f"{n}@2v", "kind": "checkpoint", "ref": n, "visits": 2} for n in names])
    sent: list[dict] = []
    with session_scope(engine) as session:
        tid = create_tournament(session, config, engines={}).id
    with session_scope(engine) as session:
        dispatch(session, tid, send=sent.append, block_size=GAMES)
    (payload,) = sent
    return tid, payload


class _CancelledAfterFirstGame(DatabaseSink):
    """The database sink; the tournament's owner cancels it as soon as its first game is stored."""

    def __init__(self, url: str, engine):  # noqa: F811
        super().__init__(url)
        self.owner = engine

    def record(self, game: FinishedGameRecord) -> bool:
        stored = super().record(game)
        with session_scope(self.owner) as session:
            tournament_id = session.scalar(select(ScheduledGame.tournament_id)
                                           .where(ScheduledGame.id == game.scheduled_game_id))
            cancel(session, tournament_id)
        return stored


def _stored(engine, tournament_id: int) -> tuple[int, str, int]:  # noqa: F811
    """(finished rows, status, games_finished) of the tournament."""
    with session_scope(engine) as session:
        rows = session.scalar(select(func.count()).select_from(FinishedGame).join(ScheduledGame)
                              .where(ScheduledGame.tournament_id == tournament_id))
        tournament = session.get(Tournament, tournament_id)
        return rows, tournament.status, tournament.games_finished


def test_a_tournament_cancelled_between_games_stops_its_block(db_url, engine, store) -> None:  # noqa: F811
    root, names = store
    tid, payload = _block(engine, names, "cancelled-mid-block")
    sink = _CancelledAfterFirstGame(db_url, engine)
    tasks.configure(tasks.WorkerContext(sink=sink, checkpoint_root=root, engines={}, concurrency=1,
                                        cancel_check_s=0.0))
    try:
        result = tasks.play_block(payload)
    finally:
        sink.close()
    assert (result.played, result.cancelled, result.skipped) == (1, GAMES - 1, 0)
    assert _stored(engine, tid) == (1, "cancelled", 1)


def test_a_block_of_a_cancelled_tournament_is_not_played(db_url, engine, store, monkeypatch) -> None:  # noqa: F811
    root, names = store
    tid, payload = _block(engine, names, "cancelled-before-delivery")
    with session_scope(engine) as session:
        cancel(session, tid)

    def no(*args, **kwargs):
        raise AssertionError("a network was loaded for a cancelled tournament")

    monkeypatch.setattr(tasks, "evaluator_for", no)
    sink = DatabaseSink(db_url)
    tasks.configure(tasks.WorkerContext(sink=sink, checkpoint_root=root, engines={}))
    try:
        result = tasks.play_block(payload)
    finally:
        sink.close()
    assert (result.played, result.cancelled) == (0, GAMES)
    assert _stored(engine, tid) == (0, "cancelled", 0)


def test_status_is_asked_at_most_once_per_interval(db_url, engine, store) -> None:  # noqa: F811
    """A running tournament's block plays to its end, asking for the status once (at its start)
    when games end faster than the interval."""
    root, names = store
    tid, payload = _block(engine, names, "running-throughout")
    asked: list[int] = []

    class Counting(DatabaseSink):
        def tournament_status(self, tournament_id: int) -> str | None:
            asked.append(tournament_id)
            return super().tournament_status(tournament_id)

    sink = Counting(db_url)
    tasks.configure(tasks.WorkerContext(sink=sink, checkpoint_root=root, engines={}, cancel_check_s=3600.0))
    try:
        result = tasks.play_block(payload)
    finally:
        sink.close()
    assert (result.played, result.cancelled) == (GAMES, 0)
    assert asked == [tid]
    assert _stored(engine, tid) == (GAMES, "running", GAMES)  # finished by the scheduler's next advance
