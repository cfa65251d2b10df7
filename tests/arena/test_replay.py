"""`arena replay`: a stored game played again from its record alone, and `arena bench replay`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from arena.db.connection import session_scope
from arena.db.models import FinishedGame, ScheduledGame
from arena.replay import ReplayError, replay_game
from arena.scheduling import RoundRobinConfig
from arena.tournaments import create_tournament, dispatch
from arena.worker import DatabaseSink
from search_workers import tasks
from search_workers.go import read_sgf, write_sgf
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module
from tests.support.arena_cli import arena_settings, invoke_arena
from tests.support.demo_checkpoints import register_demo_checkpoints


@pytest.fixture(scope="module")
def played(engine, db_url, tmp_path_factory) -> tuple[Path, list[int]]:  # noqa: F811
    """A checkpoint store of the two newest demo networks and the ids of a played tournament's games."""
    root = tmp_path_factory.mktemp("store")
    with session_scope(engine) as session:
        names = register_demo_checkpoints(session, store=root)
    config = RoundRobinConfig(
        name="replayed", format="round-robin", board_size=9, rules="chinese", games_per_pairing=2,
        openings={"source": "random", "plies": 2, "count": 1},
        participants=[{"name": f"{n}@4v", "kind": "checkpoint", "ref": n, "visits": 4} for n in names])
    with session_scope(engine) as session:
        tid = create_tournament(session, config, engines={}).id
    sent: list[dict] = []
    with session_scope(engine) as session:
        dispatch(session, tid, send=sent.append)
    tasks.configure(tasks.WorkerContext(sink=DatabaseSink(db_url), checkpoint_root=root, engines={}))
    for payload in sent:
        tasks.play_block(payload)
    with session_scope(engine) as session:
        ids = list(session.scalars(select(FinishedGame.scheduled_game_id).join(ScheduledGame)
                                   .where(ScheduledGame.tournament_id == tid)))
    assert len(ids) == 2
    return root, ids


def test_a_stored_game_replays_move_for_move(engine, played) -> None:  # noqa: F811
    root, ids = played
    for game_id in ids:
        with session_scope(engine) as session:
            report = replay_game(session, game_id, checkpoint_root=root)
        assert report.identical and report.first_difference is None
        assert len(report.stored) > 2 and report.stored == report.replayed


def test_the_first_move_that_differs_is_reported(engine, db_url, played, tmp_path, monkeypatch) -> None:  # noqa: F811
    root, ids = played
    with session_scope(engine) as session:
        stored = session.get(FinishedGame, ids[0])
        record = read_sgf(stored.sgf)
        moves = list(record.moves)
        color, move = moves[3]
        moves[3] = (color, record.board_size ** 2 if move != record.board_size ** 2 else 0)
        original, stored.sgf = stored.sgf, write_sgf(dataclasses.replace(record, moves=tuple(moves)))
    try:
        with session_scope(engine) as session:
            assert replay_game(session, ids[0], checkpoint_root=root).first_difference == 3
        with arena_settings(monkeypatch, database_url=db_url, data_dir=tmp_path, checkpoint_dir=root):
            result = invoke_arena("replay", str(ids[0]))
            assert result.exit_code == 1 and "differs at move 4" in result.output
            result = invoke_arena("replay", str(ids[1]))
            assert result.exit_code == 0 and "identical" in result.output
            result = invoke_arena("replay", "999999")
            assert result.exit_code == 1 and "no game 999999" in result.output
    finally:
        with session_scope(engine) as session:
            session.get(FinishedGame, ids[0]).sgf = original


def test_an_unknown_game_is_refused(engine, played) -> None:  # noqa: F811
    with pytest.raises(ReplayError, match="no game"), session_scope(engine) as session:
        replay_game(session, 10**9, checkpoint_root=played[0])


def test_bench_replay_prints_its_json_last() -> None:
    result = invoke_arena("bench", "replay", "--games", "2", "--visits", "2")
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert (line["bench"], line["games"], line["identical"], line["identical_fraction"]) == ("replay", 2, 2, 1.0)
