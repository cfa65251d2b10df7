"""A finished game survives a PostgreSQL restart in the middle of its block (issue 13, item 1).

The block runs through the real task (`search_workers.tasks.play_block`) with the real
`DatabaseSink`, against a PostgreSQL server of the test's own (`OwnPostgres`, on a free port: the
machine's shared server is never restarted). The players are the scripted fake GTP engine, slowed
down so the block is still playing when the server goes away.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arena.benchmarks.own_services import OwnPostgres, ServiceError
from arena.db import migrate
from arena.db.connection import make_engine, session_scope
from arena.db.models import FinishedGame, ScheduledGame, Tournament
from arena.scheduling import RoundRobinConfig
from arena.tournaments import create_tournament, dispatch
from arena.worker import DatabaseSink
from search_workers import tasks
from tests.support.ci import unavailable
from tests.support.fake_engines import fake_spec

GAMES = 8


@pytest.fixture
def postgres():
    # Not under pytest's tmp_path: as root the server runs as another user, who must be able to
    # reach its folder (pytest's is private to root).
    folder = Path(tempfile.mkdtemp(prefix="arena-outage-"))
    folder.chmod(0o711)
    try:
        server = OwnPostgres(folder / "pg")
        server.__enter__()
    except ServiceError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        unavailable(f"no PostgreSQL of our own: {exc}")
    try:
        url = server.create_database("arena")
        migrate.upgrade(url)
        yield server, url
    finally:
        server.__exit__(None, None, None)
        shutil.rmtree(folder, ignore_errors=True)


def _block(url: str, engines: dict) -> tuple[int, dict]:
    """A tournament of fake engines, all its games in one block payload."""
    config = RoundRobinConfig(
        name="outage", format="round-robin", board_size=9, rules="chinese", komi=7.5,
        games_per_pairing=GAMES,
        participants=[{"name": "slow-a", "kind": "engine", "ref": "slow-a"},
                      {"name": "slow-b", "kind": "engine", "ref": "slow-b"}],
        openings={"source": "random", "plies": 2, "count": 4, "seed": 3})
    payloads: list[dict] = []
    sql = make_engine(url)
    try:
        with session_scope(sql) as session:
            tid = create_tournament(session, config, engines=engines).id
        with session_scope(sql) as session:
            dispatch(session, tid, send=payloads.append, block_size=GAMES)
    finally:
        sql.dispose()
    assert len(payloads) == 1 and len(payloads[0]["games"]) == GAMES
    return tid, payloads[0]


def _stored(url: str, tid: int) -> tuple[list[int], int]:
    """(scheduled game ids of the stored games, with repeats; the tournament's finished counter)."""
    sql = make_engine(url)
    try:
        with session_scope(sql) as session:
            ids = list(session.scalars(select(FinishedGame.scheduled_game_id).join(ScheduledGame)
                                       .where(ScheduledGame.tournament_id == tid)))
            return ids, session.get(Tournament, tid).games_finished
    finally:
        sql.dispose()


def _start_block(url: str, tid: int, payload: dict, engines: dict, tmp_path: Path, *, store_retry_s: float):
    """The block playing in a thread through the real DatabaseSink, once its first game is stored:
    (thread, outcome dict: "result" or "error" when it ends, sink)."""
    sink = DatabaseSink(url)
    tasks.configure(tasks.WorkerContext(sink=sink, checkpoint_root=tmp_path, engines=engines, concurrency=1,
                                        store_retry_s=store_retry_s, cancel_check_s=0.2))
    outcome: dict = {}

    def play() -> None:
        try:
            outcome["result"] = tasks.play_block(payload)
        except BaseException as exc:  # noqa: BLE001 -- reported by the test's assertions
            outcome["error"] = exc

    player = threading.Thread(target=play)
    player.start()
    deadline = time.monotonic() + 60
    while not _stored(url, tid)[0]:
        assert time.monotonic() < deadline and player.is_alive(), f"no game stored: {outcome}"
        time.sleep(0.05)
    return player, outcome, sink


def _unconfigure(sink: DatabaseSink, tmp_path: Path) -> None:
    tasks.configure(tasks.WorkerContext(sink=sink, checkpoint_root=tmp_path, engines={}))
    sink.close()


def test_a_postgres_restart_mid_block_loses_no_game_and_stores_none_twice(postgres, tmp_path: Path) -> None:
    server, url = postgres
    # ~40 moves a game at 10 ms each: a game takes about half a second, the block several seconds.
    engines = {name: fake_spec("--think", "0.01", name=name) for name in ("slow-a", "slow-b")}
    tid, payload = _block(url, engines)
    player, outcome, sink = _start_block(url, tid, payload, engines, tmp_path, store_retry_s=120)
    try:
        before = len(_stored(url, tid)[0])
        server.restart(down_s=3.0)  # games finish meanwhile: kept in memory and retried
        player.join(120)
        assert not player.is_alive()
    finally:
        player.join(5)
        _unconfigure(sink, tmp_path)
    assert "error" not in outcome, outcome
    result = outcome["result"]
    ids, counted = _stored(url, tid)
    expected = {g["scheduled_game_id"] for g in payload["games"]}
    assert before < GAMES, "the block ended before the restart: nothing was tested"
    assert sorted(ids) == sorted(expected), "every game of the block stored exactly once"
    assert counted == GAMES and result.played == GAMES and result.cancelled == 0


def test_a_block_that_cannot_store_gives_its_games_back_and_fails(postgres, tmp_path: Path) -> None:
    """The database stays away past the retry bound: the task fails (no pretended success), and
    nothing it could not store is recorded as done."""
    server, url = postgres
    engines = {name: fake_spec("--think", "0.01", name=name) for name in ("slow-a", "slow-b")}
    tid, payload = _block(url, engines)
    player, outcome, sink = _start_block(url, tid, payload, engines, tmp_path, store_retry_s=2)
    try:
        server.stop()
        player.join(60)
        assert not player.is_alive()
        server.start()
    finally:
        player.join(5)
        _unconfigure(sink, tmp_path)
    assert isinstance(outcome.get("error"), tasks.StoreGaveUpError), outcome
    ids, counted = _stored(url, tid)
    assert len(ids) == len(set(ids)) == counted < GAMES
    assert not set(ids) & set(outcome["error"].game_ids)
