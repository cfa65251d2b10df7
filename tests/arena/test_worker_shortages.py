"""What a worker lacks is not the games' fault: no game is failed or forfeited for it.

Each test plays a real block (`search_workers.tasks.play_block`) through the real `DatabaseSink`
on a fresh PostgreSQL database:
- Triton stays away past ARENA_TRITON_WAIT_S: the block used to fail with the claimed games'
  leases left to expire, each counting an attempt, so an outage of a few minutes marked them
  failed for good. Now they are given back (no attempt counted) and the task fails.
- every engine process of the worker busy: games that each held one engine and waited for a
  second held the whole pool between them, and EnginePoolExhausted then forfeited them into
  the ratings. Now a block plays no more games at once than the pool can seat.
- an engine that writes a NUL character (stderr, its version answer): PostgreSQL refused the
  record, and the block failed with every game in it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select

from arena.db.connection import session_scope
from arena.db.models import FinishedGame, ScheduledGame
from arena.ports import free_port
from arena.scheduling import RoundRobinConfig
from arena.tournaments import create_tournament, dispatch
from arena.worker import DatabaseSink
from search_workers import tasks
from search_workers.evaluators.triton import TritonUnavailableError
from tests.arena.db.conftest import admin_url, db_url, engine  # noqa: F401 -- a fresh database per module
from tests.support.demo_checkpoints import register_demo_checkpoints
from tests.support.fake_engines import fake_spec


def _block(engine, participants: list[dict], *, games: int, engines: dict, name: str) -> dict:  # noqa: F811
    config = RoundRobinConfig(name=name, format="round-robin", board_size=9, rules="chinese", komi=7.5,
                              games_per_pairing=games, participants=participants,
                              openings={"source": "random", "plies": 2, "count": 2, "seed": 5})
    payloads: list[dict] = []
    with session_scope(engine) as session:
        tid = create_tournament(session, config, engines=engines).id
    with session_scope(engine) as session:
        dispatch(session, tid, send=payloads.append, block_size=games)
    assert len(payloads) == 1 and len(payloads[0]["games"]) == games
    return payloads[0]


def _play(db_url: str, payload: dict, tmp_path: Path, *, pool=None, **context):  # noqa: F811
    """The block's result, or the error it raised; `pool`: the worker's engine pool (else its own)."""
    sink = DatabaseSink(db_url)
    tasks.configure(tasks.WorkerContext(sink=sink, checkpoint_root=tmp_path, worker_name="shortage-test",
                                        **context))
    tasks._pool = pool
    try:
        return tasks.play_block(payload), sink
    except Exception as error:  # noqa: BLE001 -- the test asserts on it
        return error, sink
    finally:
        tasks.configure(tasks.WorkerContext(sink=sink, checkpoint_root=tmp_path, engines={}))
        sink.close()


def _rows(engine, payload: dict, key) -> list:  # noqa: F811
    """The rows whose `key` column is one of the block's scheduled game ids, detached."""
    ids = [g["scheduled_game_id"] for g in payload["games"]]
    with session_scope(engine) as session:
        rows = list(session.scalars(select(key.class_).where(key.in_(ids))))
        session.expunge_all()
        return rows


def _games(engine, payload: dict) -> list[ScheduledGame]:  # noqa: F811
    return _rows(engine, payload, ScheduledGame.id)


def _stored(engine, payload: dict) -> list[FinishedGame]:  # noqa: F811
    return _rows(engine, payload, FinishedGame.scheduled_game_id)


def test_triton_away_past_its_wait_gives_the_games_back(engine, db_url, tmp_path) -> None:  # noqa: F811
    with session_scope(engine) as session:
        names = register_demo_checkpoints(session, store=tmp_path)
    players = [{"name": n, "kind": "checkpoint", "ref": n, "visits": 8} for n in names]
    payload = _block(engine, players, games=2, engines={}, name="triton-away")
    outcome, _ = _play(db_url, payload, tmp_path, engines={}, triton_url=f"127.0.0.1:{free_port()}",
                       triton_wait_s=1.0)
    assert isinstance(outcome, TritonUnavailableError), outcome  # the task fails: nothing pretends it played
    games = _games(engine, payload)
    assert [(g.lease_owner, g.attempts, g.dispatched_at, g.failed_at) for g in games] == [(None, 0, None, None)] * 2
    assert _stored(engine, payload) == []


def test_a_block_plays_no_more_games_at_once_than_its_engines_can_seat(engine, db_url, tmp_path) -> None:  # noqa: F811
    engines = {name: fake_spec(name=name) for name in ("ea", "eb")}
    participants = [{"name": n, "kind": "engine", "ref": n} for n in engines]
    payload = _block(engine, participants, games=8, engines=engines, name="busy-pool")
    # Before: 4 games took one engine each, and waited for a second until the pool gave up.
    context = tasks.WorkerContext(sink=None, checkpoint_root=tmp_path, engines=engines, max_engine_processes=4)
    assert tasks.games_at_once(tasks.BlockPayload.model_validate(payload), context) == 2
    pool = tasks.EnginePool(engines, max_processes=4, acquire_timeout_s=5.0)  # short: a wait fails the test
    try:
        outcome, _ = _play(db_url, payload, tmp_path, pool=pool, engines=engines, max_engine_processes=4)
    finally:
        pool.close()
    assert not isinstance(outcome, Exception), outcome
    stored = _stored(engine, payload)
    reasons = [g.model_versions.get("reason") or "" for g in stored]
    assert len(stored) == 8 and not [r for r in reasons if "busy" in r or "start" in r], reasons


def test_games_at_once_counts_only_what_a_game_holds(engine, tmp_path) -> None:  # noqa: F811
    engines = {name: fake_spec(name=name) for name in ("ga", "gb")}
    raw = _block(engine, [{"name": n, "kind": "engine", "ref": n} for n in engines], games=4, engines=engines,
                 name="at-once")
    context = tasks.WorkerContext(sink=None, checkpoint_root=tmp_path, engines=engines, max_engine_processes=6,
                                  concurrency=32)
    refereed = tasks.BlockPayload.model_validate({**raw, "referee": "ga"})
    assert tasks.games_at_once(refereed, context) == 2  # two engines and the referee a game
    checkpoints = [{"name": p["name"], "kind": "checkpoint", "sha256": "0" * 64, "search": {"visits": 8}}
                   for p in raw["players"]]
    networks = tasks.BlockPayload.model_validate({**raw, "referee": "ga", "players": checkpoints})
    assert tasks.games_at_once(networks, context) == 32  # the referee alone, at a game's end: no cap
    with pytest.raises(tasks.BlockTooLargeError, match="needs 3 engine processes"):
        tasks.games_at_once(refereed, dataclasses.replace(context, max_engine_processes=2))


def test_an_exhausted_pool_gives_the_games_back_unforfeited(engine, db_url, tmp_path) -> None:  # noqa: F811
    engines = {name: fake_spec(name=name) for name in ("xa", "xb")}
    participants = [{"name": n, "kind": "engine", "ref": n} for n in engines]
    payload = _block(engine, participants, games=2, engines=engines, name="no-engine")
    pool = tasks.EnginePool(engines, max_processes=2, acquire_timeout_s=0.5)
    held = [pool.acquire("xa"), pool.acquire("xa")]  # another block in the same process holds them all
    try:
        outcome, _ = _play(db_url, payload, tmp_path, pool=pool, engines=engines, max_engine_processes=2)
    finally:
        for player in held:
            pool.release(player)
        pool.close()
    assert isinstance(outcome, tasks.EnginePoolExhausted), outcome
    assert _stored(engine, payload) == []
    assert [(g.lease_owner, g.attempts, g.failed_at) for g in _games(engine, payload)] == [(None, 0, None)] * 2


def test_an_engine_writing_nul_characters_has_its_games_stored(engine, db_url, tmp_path) -> None:  # noqa: F811
    engines = {"nul-a": fake_spec("--nul", name="nul-a"), "nul-b": fake_spec(name="nul-b")}
    participants = [{"name": n, "kind": "engine", "ref": n} for n in engines]
    payload = _block(engine, participants, games=2, engines=engines, name="nul")
    outcome, _ = _play(db_url, payload, tmp_path, engines=engines)
    assert not isinstance(outcome, Exception), outcome
    stored = _stored(engine, payload)
    assert len(stored) == 2
    for game in stored:
        assert game.model_versions["engine_versions"]["nul-a"] == "1.0\ufffd"
        assert "\ufffd" in game.model_versions["engine_stderr"]["nul-a"]


@pytest.mark.parametrize("value", ["a\x00b", "\ud800", {"k\x00": ["x\udfff"]}])
def test_storable_replaces_what_postgresql_refuses(value) -> None:
    assert "\x00" not in repr(tasks.storable(value)) and "\\ud" not in repr(tasks.storable(value))
