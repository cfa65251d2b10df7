"""Retention of per-move statistics (ARENA_MOVE_STATS_RETENTION_DAYS, arena.retention) on a real
PostgreSQL: games finished before the cutoff lose their statistics a bounded batch at a time,
recent ones keep them, nothing else of a game changes, the scheduler's pass and loop do it, and
GET /games/{id} shows a game without statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select, text

from arena.db.connection import session_factory, session_scope
from arena.db.models import FinishedGame, Tournament
import arena.retention as retention_module
from arena.retention import MoveStatsRetention, clear_old_move_stats
from arena.scheduler import run_scheduler, scheduler_pass
from arena.settings import Settings
from arena.worker import BlockQueue
from tests.support.stored_games import STATS, store_tournament

OLD, RECENT = 25, 5  # games finished 40 days ago, and 1 day ago


@pytest.fixture
def aged(engine, request):  # noqa: F811 -- the API conftest's fresh database
    """A tournament of OLD games finished 40 days ago and RECENT finished yesterday; the stored
    columns of each game, to compare after. Earlier tests' games are emptied first, so that what
    a pass empties is this test's."""
    _empty_all(engine, older_than_days=1e-6)
    stored = store_tournament(engine, f"retention-{request.node.name[:40]}", finished=OLD + RECENT)
    with session_scope(engine) as session:
        session.execute(text("UPDATE finished_games SET finished_at = now() - make_interval(days => "
                             "CASE WHEN scheduled_game_id = ANY(:old) THEN 40 ELSE 1 END) "
                             "WHERE scheduled_game_id = ANY(:all)"),
                        {"old": stored.finished[:OLD], "all": stored.finished})
    return stored, _columns(engine, stored.finished)


def _columns(engine, ids: list[int]) -> dict[int, tuple]:  # noqa: F811
    with session_scope(engine) as session:
        rows = session.execute(select(FinishedGame.scheduled_game_id, FinishedGame.result, FinishedGame.score,
                                      FinishedGame.sgf, FinishedGame.move_count, FinishedGame.duration_s,
                                      FinishedGame.finished_at, FinishedGame.model_versions)
                               .where(FinishedGame.scheduled_game_id.in_(ids)))
        return {row[0]: tuple(row[1:]) for row in rows}


def _with_stats(engine, ids: list[int]) -> list[int]:  # noqa: F811
    with session_scope(engine) as session:
        return list(session.scalars(select(FinishedGame.scheduled_game_id).where(
            FinishedGame.scheduled_game_id.in_(ids), FinishedGame.move_stats == [STATS, STATS])
            .order_by(FinishedGame.scheduled_game_id)))


def _empty_all(engine, *, older_than_days: float) -> None:  # noqa: F811
    with session_scope(engine) as session:
        while clear_old_move_stats(session, older_than_days=older_than_days):
            pass


def test_old_games_lose_their_stats_a_bounded_batch_at_a_time(engine, aged) -> None:  # noqa: F811
    stored, before = aged
    old, recent = stored.finished[:OLD], stored.finished[OLD:]
    counts = []
    for _ in range(4):
        with session_scope(engine) as session:
            counts.append(clear_old_move_stats(session, older_than_days=30, batch_size=10))
    assert counts == [10, 10, 5, 0]
    assert _with_stats(engine, stored.finished) == recent  # every old game emptied, every recent one kept
    with session_scope(engine) as session:
        emptied = session.scalars(select(FinishedGame.move_stats).where(FinishedGame.scheduled_game_id.in_(old)))
        assert all(stats == [] for stats in emptied)
    assert _columns(engine, stored.finished) == before  # result, score, SGF... untouched


def test_the_cutoff_is_the_retention_period(engine, aged) -> None:  # noqa: F811
    stored, _ = aged
    _empty_all(engine, older_than_days=30)  # what is left is yesterday's
    with session_scope(engine) as session:
        assert clear_old_move_stats(session, older_than_days=0.5) == RECENT  # yesterday's are older than 12 h
    assert _with_stats(engine, stored.finished) == []
    with pytest.raises(ValueError, match="older_than_days"):
        with session_scope(engine) as session:
            clear_old_move_stats(session, older_than_days=0)


def test_the_cutoff_follows_the_database_clock_not_the_hosts(engine, aged, monkeypatch) -> None:  # noqa: F811
    """A scheduler host whose clock ran 100 days ahead emptied every recent game's statistics."""
    stored, _ = aged
    ahead = datetime.now(UTC) + timedelta(days=100)

    class AheadClock(datetime):
        @classmethod
        def now(cls, tz=None):
            return ahead if tz is not None else ahead.replace(tzinfo=None)

    monkeypatch.setattr(retention_module, "datetime", AheadClock)
    _empty_all(engine, older_than_days=30)
    assert _with_stats(engine, stored.finished) == stored.finished[OLD:]


def test_the_scheduler_pass_empties_a_batch_when_due(engine, aged, settings) -> None:  # noqa: F811
    stored, before = aged
    sessions = session_factory(engine)
    app = BlockQueue(settings).app
    retention = MoveStatsRetention(days=30, batch_size=20)
    scheduler_pass(sessions, app, [], retention=retention)  # a full batch: the next pass goes on
    assert len(_with_stats(engine, stored.finished)) == OLD + RECENT - 20
    scheduler_pass(sessions, app, [], retention=retention)  # the rest: done until interval_s from now
    assert _with_stats(engine, stored.finished) == stored.finished[OLD:]
    with session_scope(engine) as session:
        session.execute(text("UPDATE finished_games SET finished_at = now() - interval '40 days' "
                             "WHERE scheduled_game_id = :id"), {"id": stored.finished[-1]})
    scheduler_pass(sessions, app, [], retention=retention)  # not due yet: nothing scanned
    assert stored.finished[-1] in _with_stats(engine, stored.finished)
    assert _columns(engine, stored.finished[:-1]) == {k: v for k, v in before.items() if k != stored.finished[-1]}


def test_the_scheduler_loop_applies_the_setting(engine, aged, settings) -> None:  # noqa: F811
    stored, _ = aged
    with session_scope(engine) as session:
        session.get(Tournament, stored.id).status = "finished"
    run_scheduler([stored.id], settings=settings.model_copy(update={"move_stats_retention_days": 30}), poll_s=0)
    assert _with_stats(engine, stored.finished) == stored.finished[OLD:]


def test_the_setting_is_read_from_the_environment(monkeypatch) -> None:
    assert Settings().move_stats_retention_days == 0  # kept forever unless set
    monkeypatch.setenv("ARENA_MOVE_STATS_RETENTION_DAYS", "90")
    assert Settings().move_stats_retention_days == 90
    monkeypatch.setenv("ARENA_MOVE_STATS_RETENTION_DAYS", "-1")
    with pytest.raises(ValidationError, match="move_stats_retention_days"):
        Settings()


def test_a_game_without_stats_is_shown_without_them(client, engine, aged) -> None:  # noqa: F811
    stored, _ = aged
    with session_scope(engine) as session:
        clear_old_move_stats(session, older_than_days=30, batch_size=100_000)
    game_id = stored.finished[0]
    detail = client.get(f"/games/{game_id}")
    assert detail.status_code == 200, detail.text
    assert detail.json()["move_stats"] == [] and detail.json()["summary"]["result"] == "B+3.5"
    assert client.get(f"/games/{game_id}.sgf").text.startswith("(;GM[1]")
    kept = client.get(f"/games/{stored.finished[-1]}").json()
    assert kept["move_stats"] == [STATS, STATS]
    # The viewer page reads that JSON and shows a move's statistics only where there are some.
    assert client.get(f"/web/games/{game_id}").status_code == 200
